#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_subuser_info
short_description: List the subusers of a SendGrid parent account, with their regions
version_added: 1.0.0
description:
  - Lists every subuser of the parent account with C(GET /v3/subusers), following C(limit)/C(offset) paging to the
    end, and asks for each subuser's region so that EU regional subusers can be managed on the EU host.
  - Filters by username pattern, by exclusion patterns and by whether the subuser is disabled.
  - Subusers created next month are found next month, so a policy applied to what it finds covers every account the parent owns.
  - The API key needs the scope C(subusers.read).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
options:
  names:
    description:
      - Shell-style patterns (C(*), C(?), C([abc])); a subuser is listed when its username matches one of them.
    type: list
    elements: str
    default: ["*"]
  exclude:
    description:
      - Shell-style patterns of usernames to leave out, even when they match O(names).
    type: list
    elements: str
    default: []
  disabled:
    description:
      - V(false) lists only enabled subusers, V(true) only disabled ones. Left out, both.
    type: bool
  subuser_region:
    description:
      - List only the subusers of this region (the API's C(region) filter).
    type: str
    choices: [all, global, eu]
    default: all
  page_size:
    description:
      - How many subusers to ask for per request (the API's C(limit)), from 1 to 500.
    type: int
    default: 500
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_enforced_tls_accounts
  - name: Subusers API reference
    description: SendGrid's list of subusers, with paging and regions.
    link: https://www.twilio.com/docs/sendgrid/api-reference/subusers-api/list-all-subusers
"""

EXAMPLES = r"""
- name: List every enabled subuser except the test ones
  mailops.sendgrid.sendgrid_subuser_info:
    api_key: "{{ vault_sendgrid_api_key }}"
    disabled: false
    exclude: ["test-*"]
  register: found

- name: Show the EU regional subusers, which are managed through the EU host
  ansible.builtin.debug:
    msg: "{{ found.subusers | selectattr('region', 'equalto', 'eu') | map(attribute='username') | list }}"

# The role mailops.sendgrid.enforced_tls applies a policy to every discovered subuser for you.
"""

RETURN = r"""
subusers:
  description: The subusers that matched, in the API's order.
  returned: success
  type: list
  elements: dict
  contains:
    username:
      description: The subuser's username, usable as O(mailops.sendgrid.sendgrid_enforced_tls#module:on_behalf_of).
      type: str
      returned: success
      sample: marketing
    id:
      description: The subuser's numeric ID.
      type: int
      returned: success
      sample: 1234
    disabled:
      description: Whether the subuser is disabled.
      type: bool
      returned: success
      sample: false
    region:
      description: The region the subuser is pinned to, V(global) or V(eu).
      type: str
      returned: success
      sample: eu
total:
  description: How many subusers the parent has in O(subuser_region), before the name and disabled filters.
  returned: success
  type: int
  sample: 312
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    SendGridError, client_from_module, connection_argument_spec, sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._subusers import list_subusers, select

MAX_PAGE_SIZE = 500


def main():
    module = sendgrid_module(
        argument_spec=dict(
            connection_argument_spec(on_behalf_of=False),
            names=dict(type="list", elements="str", default=["*"]),
            exclude=dict(type="list", elements="str", default=[]),
            disabled=dict(type="bool"),
            subuser_region=dict(type="str", default="all", choices=["all", "global", "eu"]),
            page_size=dict(type="int", default=MAX_PAGE_SIZE),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not 1 <= params["page_size"] <= MAX_PAGE_SIZE:
        module.fail_json(msg="page_size must be from 1 to %d, got %d." % (MAX_PAGE_SIZE, params["page_size"]))
    client = client_from_module(module)
    try:
        subusers = list_subusers(client, params["page_size"], params["subuser_region"])
    except SendGridError as exc:
        module.fail_json(msg=str(exc), status=exc.status)
    module.exit_json(changed=False, total=len(subusers),
                     subusers=select(subusers, params["names"], params["exclude"], params["disabled"]))


if __name__ == "__main__":
    main()
