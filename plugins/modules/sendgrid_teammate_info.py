#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_teammate_info
short_description: List the teammates and pending invites of a SendGrid account, with their scopes and types
version_added: 1.1.0
description:
  - Reads every teammate of a SendGrid account (or of a subuser or customer account with O(on_behalf_of)), every page,
    each with its scopes, and every pending invite. Never changes anything.
  - 'Requests: one C(GET /v3/teammates) per page of 500, one C(GET /v3/teammates/USERNAME) per teammate who is no
    admin, one C(GET /v3/teammates/pending).'
  - An invite's token, which lets anyone accept it, is never returned.
  - The API key needs the scope C(teammates.read).
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
  - module: mailops.sendgrid.sendgrid_teammate
"""

EXAMPLES = r"""
- name: Who can reach the parent account
  mailops.sendgrid.sendgrid_teammate_info:
    api_key: "{{ vault_sendgrid_api_key }}"
  register: team

- name: Fail when anyone but the owner and the ops team is an admin
  ansible.builtin.assert:
    that: >-
      team.teammates | selectattr('user_type', 'equalto', 'admin')
      | rejectattr('email', 'search', '@ops.example.com$') | list | length == 0
"""

RETURN = r"""
teammates:
  description: Every teammate, sorted by e-mail.
  returned: success
  type: list
  elements: dict
  contains:
    username:
      description: The teammate's username.
      type: str
    email:
      description: The teammate's e-mail address.
      type: str
    user_type:
      description: V(owner), V(admin) or V(teammate).
      type: str
    is_admin:
      description: Whether the teammate holds every scope (the owner and admins do).
      type: bool
    scopes:
      description: The teammate's scopes, sorted; V([]) for the owner and admins, who hold every scope.
      type: list
      elements: str
  sample: [{"username": "dev1", "email": "dev@example.com", "user_type": "teammate", "is_admin": false,
            "scopes": ["mail.send"]}]
pending:
  description: Every pending invite, sorted by e-mail, without its token.
  returned: success
  type: list
  elements: dict
  contains:
    email:
      description: The address invited.
      type: str
    is_admin:
      description: Whether the invite makes an admin.
      type: bool
    scopes:
      description: The scopes the invite gives, sorted.
      type: list
      elements: str
    expiration_date:
      description: When the invite expires, in epoch seconds.
      type: int
    expiration_date_iso:
      description: The same in UTC ISO 8601, V(null) when unknown.
      type: str
  sample: [{"email": "new@example.com", "is_admin": false, "scopes": ["stats.read"], "expiration_date": 1796000000,
            "expiration_date_iso": "2026-11-30T00:53:20Z"}]
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._teammates import run_info_module


def main():
    run_info_module()


if __name__ == "__main__":
    main()
