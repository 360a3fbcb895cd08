#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_settings_info
short_description: Read the Enforced TLS, tracking and mail settings of a SendGrid account or subuser
version_added: 1.1.0
description:
  - Reads the settings of a SendGrid account, or of a subuser or customer account with O(on_behalf_of), for audits
    and for registering before a change. Never changes anything.
  - One C(GET) per setting read, each setting whole (every field SendGrid returns). All of them take 11 requests.
  - The API key needs the C(.read) scope of each setting read, such as C(user.settings.enforced_tls.read),
    C(tracking_settings.click.read) or C(mail_settings.footer.read).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  settings:
    description:
      - The settings to read. A family name (V(enforced_tls), V(tracking_settings), V(mail_settings)) reads all of
        its settings; V(tracking_settings.click) and the like read one.
      - The single settings are V(tracking_settings.click), V(tracking_settings.open), V(tracking_settings.subscription),
        V(tracking_settings.google_analytics), V(mail_settings.bounce_purge), V(mail_settings.forward_spam),
        V(mail_settings.forward_bounce), V(mail_settings.footer), V(mail_settings.template) and
        V(mail_settings.address_whitelist). Another name fails before any request.
      - Left out or V(null), every setting is read.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_enforced_tls
  - module: mailops.sendgrid.sendgrid_tracking_settings
  - module: mailops.sendgrid.sendgrid_mail_settings
"""

EXAMPLES = r"""
- name: Read every setting of the parent account
  mailops.sendgrid.sendgrid_settings_info:
    api_key: "{{ vault_sendgrid_api_key }}"
  register: parent_settings

- name: Fail when a subuser forwards spam reports or lets addresses bypass its suppressions
  mailops.sendgrid.sendgrid_settings_info:
    api_key: "{{ vault_sendgrid_api_key }}"
    on_behalf_of: marketing
    settings:
      - mail_settings.forward_spam
      - mail_settings.address_whitelist
  register: marketing_settings
  failed_when: >-
    marketing_settings.mail_settings.forward_spam.enabled
    or marketing_settings.mail_settings.address_whitelist.enabled
"""

RETURN = r"""
enforced_tls:
  description: The Enforced TLS settings, as M(mailops.sendgrid.sendgrid_enforced_tls) returns them.
  returned: when read
  type: dict
  sample: {"require_tls": true, "require_valid_cert": false, "min_tls_version": "1.2"}
tracking_settings:
  description: The tracking settings read, one key per setting, as M(mailops.sendgrid.sendgrid_tracking_settings) names them.
  returned: when one of them is read
  type: dict
  sample: {"click": {"enabled": true, "enable_text": false}, "open": {"enabled": true}}
mail_settings:
  description: The mail settings read, one key per setting, as M(mailops.sendgrid.sendgrid_mail_settings) names them.
  returned: when one of them is read
  type: dict
  sample: {"bounce_purge": {"enabled": true, "soft_bounces": 30, "hard_bounces": 0}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._families import REGISTRY
from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import run_info_module


def main():
    # every settings family of the registry, in its order
    run_info_module([family for family in REGISTRY if family.kind == "settings"], option="settings")


if __name__ == "__main__":
    main()
