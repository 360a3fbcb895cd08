# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Enforced TLS setting, described for the settings engine.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import Field, Setting, choices

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
        Field("require_tls", dict(type="bool")),
        Field("require_valid_cert", dict(type="bool")),
        # The API calls the minimum TLS version "version", a JSON number; the option is text, so 1.2 stays "1.2".
        # No argument-spec choices: AnsibleModule would refuse an explicit null, which means "not managed" here.
        Field("min_tls_version", dict(type="str"), api="version", check=choices(TLS_VERSIONS),
              to_api=float, from_api=version_text),
    ],
)
