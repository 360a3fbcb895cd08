# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Enforced TLS family: one setting, described (and documented) once for the settings engine.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import (
    Field, Setting, SettingsFamily, choices,
)

TLS_VERSIONS = ["1.1", "1.2", "1.3"]


def version_text(value) -> str | None:
    """The API's JSON number (1.2) as the option's text ("1.2"); None when the API has none."""
    if value is None:
        return None
    try:
        return "%.1f" % float(value)
    except (TypeError, ValueError):
        return str(value)


ENFORCED_TLS = Setting(
    "enforced_tls", "the Enforced TLS settings", "/v3/user/settings/enforced_tls", "user.settings.enforced_tls",
    [
        Field("require_tls", "bool", [
            "Whether recipients' mail servers must support TLS. When V(true), SendGrid drops mail to servers without TLS "
            "and sends a block event C(TLS required but not supported).",
            "Left out or V(null), it is neither compared nor sent (likewise O(@require_valid_cert) and "
            "O(@min_tls_version))."]),
        Field("require_valid_cert", "bool", ["Whether recipients' mail servers must present a valid certificate."]),
        # The API calls the minimum TLS version "version", a JSON number; the option is text, so 1.2 stays "1.2".
        # No argument-spec choices: AnsibleModule would refuse an explicit null, which means "not managed" here.
        Field("min_tls_version", "str", [
            "The minimum TLS version recipients' mail servers must support (the API field C(version), a JSON number), "
            "V(\"1.1\"), V(\"1.2\") or V(\"1.3\"). Another value fails before any request.",
            "Quote it in YAML (V(\"1.2\")) so that it stays text.",
            "V(null), like leaving it out, means not managed."],
            api="version", check=choices(TLS_VERSIONS), to_api=float, from_api=version_text),
    ],
)

FAMILY = SettingsFamily(
    "enforced_tls", "Enforced TLS",
    "The Enforced TLS settings, as M(mailops.sendgrid.sendgrid_enforced_tls) manages them: whether recipients' mail "
    "servers must support TLS, present a valid certificate, and which minimum TLS version.",
    [ENFORCED_TLS], result="enforced_tls", module="sendgrid_enforced_tls", single=True)
