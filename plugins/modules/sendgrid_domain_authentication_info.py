#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_domain_authentication_info
short_description: List the authenticated domains of a SendGrid account, with their DNS records and validity
version_added: 1.2.0
description:
  - Reads every authenticated domain of a SendGrid account (or of a subuser or customer account with
    O(on_behalf_of)), each with the DNS records SendGrid asks for and whether they are valid. Never changes anything.
  - 'Requests: one C(GET /v3/whitelabel/domains?exclude_subusers=true) per page of 500 (C(limit) and C(offset)), until
    an empty page. The parent''s list leaves out the domains its subusers own: list those with O(on_behalf_of).'
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
  - module: mailops.sendgrid.sendgrid_domain_authentication
"""

EXAMPLES = r"""
- name: Read the parent's authenticated domains
  mailops.sendgrid.sendgrid_domain_authentication_info:
    api_key: "{{ vault_sendgrid_api_key }}"
  register: authenticated

- name: Name the domains SendGrid does not hold valid
  ansible.builtin.debug:
    msg: "{{ authenticated.domains | rejectattr('valid') | map(attribute='domain') | list }}"
"""

RETURN = r"""
domains:
  description: Every authenticated domain of the account, by id, as M(mailops.sendgrid.sendgrid_domain_authentication)
    returns one, each with its C(dns_records).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The domain's id.
      type: int
    domain:
      description: The domain.
      type: str
    subdomain:
      description: The subdomain (the return path).
      type: str
    username:
      description: The account that owns it.
      type: str
    automatic_security:
      description: Whether SendGrid manages its SPF and DKIM records.
      type: bool
    custom_spf:
      description: Whether its SPF record is custom.
      type: bool
    custom_dkim_selector:
      description: Its DKIM selector, from its DKIM records' names (V(s1) is SendGrid's own).
      type: str
    default:
      description: Whether it is the account's default.
      type: bool
    ips:
      description: The IPs of its custom SPF record, sorted.
      type: list
      elements: str
    valid:
      description: Whether SendGrid holds it valid.
      type: bool
    subusers:
      description: The subusers it is associated with, sorted.
      type: list
      elements: str
    dns_records:
      description: Its records, each C(name), C(type), C(host), C(data) and C(valid), as
        M(mailops.sendgrid.sendgrid_domain_authentication) returns them.
      type: list
      elements: dict
  sample: [{"id": 12, "domain": "example.com", "subdomain": "em", "username": "parent", "automatic_security": true,
            "custom_spf": false, "custom_dkim_selector": "s1", "default": true, "ips": [], "valid": true,
            "subusers": [], "dns_records": [{"name": "mail_cname", "type": "CNAME", "host": "em.example.com.",
                                             "data": "u10000.wl.sendgrid.net.", "valid": true}]}]
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._whitelabel import DOMAIN_FAMILY


def main():
    DOMAIN_FAMILY.run_info_module()


if __name__ == "__main__":
    main()
