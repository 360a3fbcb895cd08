# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The registry: every family of an account's configuration, registered once (the contract is in _family).

Its order is the order of the policy's sections, of each account's results and of the report. The baseline, the
report and the drift gate loop over it and name no family; the documentation generator (scripts/generate.py)
writes each family's options into its module, the baseline and the role from it.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.module_utils import (
    _api_keys, _enforced_tls, _event_webhooks, _ip_access, _mail_settings, _subusers, _teammates, _tracking_settings,
    _whitelabel,
)

REGISTRY = [
    _enforced_tls.FAMILY,
    _tracking_settings.FAMILY,
    _mail_settings.FAMILY,
    _event_webhooks.FAMILY,
    _ip_access.FAMILY,
    _api_keys.FAMILY,
    _teammates.FAMILY,
    _subusers.FAMILY,
    _whitelabel.DOMAIN_FAMILY,
    _whitelabel.LINK_FAMILY,
]
BY_NAME = {family.name: family for family in REGISTRY}
# The families that are sections of the baseline's policy (and variables of the role baseline), in order.
POLICY = [family for family in REGISTRY if family.in_policy]
# What the audits flag, in words, for messages and reports: "a flagged event webhook, API key or teammate".
FLAGS = [family.flags for family in REGISTRY if family.flags]
A_FLAGGED = "a flagged " + " or ".join([", ".join(FLAGS[:-1])] + FLAGS[-1:] if len(FLAGS) > 1 else FLAGS)


def family_of(key: str):
    """The family a result key belongs to: tracking for tracking.click, ip_access for ip_access."""
    return BY_NAME[key.split(".", 1)[0]]
