#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_link_branding_info
short_description: List the branded links of a SendGrid account, with their DNS records and validity
version_added: 1.2.0
description:
  - Reads every branded link of a SendGrid account (or of a subuser or customer account with O(on_behalf_of)), each
    with the DNS records SendGrid asks for and whether they are valid. Never changes anything.
  - 'Requests: one C(GET /v3/whitelabel/links?limit=3000): the list takes a C(limit) and no C(offset), and an account
    holds at most 3000 branded links.'
  - The API key needs the scope C(whitelabel.read).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_link_branding
"""

EXAMPLES = r"""
- name: Read a subuser's branded links
  mailops.sendgrid.sendgrid_link_branding_info:
    api_key: "{{ vault_sendgrid_api_key }}"
    on_behalf_of: marketing
  register: branded

- name: Show each link and whether SendGrid holds it valid
  ansible.builtin.debug:
    msg: "{{ branded.links | map(attribute='subdomain') | list }}"
"""

RETURN = r"""
links:
  description: Every branded link of the account, by id, as M(mailops.sendgrid.sendgrid_link_branding) returns one,
    each with its C(dns_records).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The link's id.
      type: int
    domain:
      description: The root domain.
      type: str
    subdomain:
      description: The subdomain the links go through.
      type: str
    username:
      description: The account that owns it.
      type: str
    default:
      description: Whether it is the account's default.
      type: bool
    valid:
      description: Whether SendGrid holds it valid.
      type: bool
    legacy:
      description: Whether it is a legacy branded link.
      type: bool
    dns_records:
      description: Its two CNAME records, each C(name), C(type), C(host), C(data) and C(valid), as
        M(mailops.sendgrid.sendgrid_link_branding) returns them.
      type: list
      elements: dict
  sample: [{"id": 7, "domain": "example.com", "subdomain": "links", "username": "parent", "default": true,
            "valid": false, "legacy": false, "dns_records": [{"name": "domain_cname", "type": "CNAME",
                                                              "host": "links.example.com.", "data": "sendgrid.net.",
                                                              "valid": false}]}]
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._whitelabel import LINK_FAMILY


def main():
    LINK_FAMILY.run_info_module()


if __name__ == "__main__":
    main()
