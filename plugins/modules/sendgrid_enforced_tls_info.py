#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_enforced_tls_info
short_description: Read the Enforced TLS settings of a SendGrid account or subuser
version_added: 1.0.0
description:
  - Reads the Enforced TLS settings of a SendGrid account, or of a subuser or customer account with
    O(on_behalf_of), with one C(GET /v3/user/settings/enforced_tls). Never changes anything.
  - The API key needs the scope C(user.settings.enforced_tls.read).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
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
  - name: Enforced TLS API reference
    description: SendGrid's description of the Enforced TLS settings.
    link: https://www.twilio.com/docs/sendgrid/api-reference/settings-enforced-tls
"""

EXAMPLES = r"""
- name: Read the parent account's Enforced TLS settings
  mailops.sendgrid.sendgrid_enforced_tls_info:
    api_key: "{{ vault_sendgrid_api_key }}"
  register: parent_tls

- name: Fail when a subuser does not require TLS
  mailops.sendgrid.sendgrid_enforced_tls_info:
    api_key: "{{ vault_sendgrid_api_key }}"
    on_behalf_of: marketing
  register: marketing_tls
  failed_when: not marketing_tls.enforced_tls.require_tls
"""

RETURN = r"""
enforced_tls:
  description:
    - The current Enforced TLS settings.
    - RV(enforced_tls.min_tls_version) is V(null) when the API reports no version.
  returned: success
  type: dict
  contains:
    require_tls:
      description: Whether recipients must support TLS.
      type: bool
      returned: success
      sample: true
    require_valid_cert:
      description: Whether recipients must present a valid certificate.
      type: bool
      returned: success
      sample: false
    min_tls_version:
      description: The minimum TLS version, as text.
      type: str
      returned: success
      sample: "1.2"
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._enforced_tls import FAMILY
from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import run_info_module


def main():
    run_info_module([FAMILY])


if __name__ == "__main__":
    main()
