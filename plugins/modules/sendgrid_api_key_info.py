#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_api_key_info
short_description: Audit the API keys of a SendGrid account and the scopes each one holds
version_added: 1.1.0
description:
  - Lists the API keys of a SendGrid account, or of a subuser or customer account with O(on_behalf_of), each with its
    name, id and scopes, and flags the keys that go beyond a policy. Never changes anything.
  - A key is flagged when it holds account-control scopes (C(api_keys.*), C(teammates.*), C(access_settings.*),
    with which whoever holds the key can create keys, invite teammates or change who may reach the account) and its name is not in
    O(allowed_control_keys), or when O(allowed_scopes) is given and one of its other scopes matches none of those
    patterns.
  - Key secrets are never returned or shown; SendGrid gives a key's secret only once, when the key is created.
  - Requests, at least and at most, 1 + the number of keys. One C(GET /v3/api_keys) with C(limit=100), the most keys
    SendGrid lets an account hold (the list has no other paging), for the names and ids. Then one
    C(GET /v3/api_keys/{api_key_id}) per key, for its scopes. The single-key answer is read whether SendGrid wraps
    it in C(result) or not; a key deleted between the two reads (its GET answers 404) is left out.
  - The API key needs the scope C(api_keys.read), which is itself an account-control scope, so the key running this
    module is flagged unless O(allowed_control_keys) names it.
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family api_keys audit_options
  allowed_scopes:
    description:
      - The scopes a key may hold, as shell-style patterns matched case-sensitively against the whole scope, such as
        V(mail.send) or V(user.settings.*). A scope that matches none of them is flagged as an excess scope.
      - SendGrid lists markers such as C(2fa_required) and C(sender_verification_eligible) among a key's scopes;
        allow them here too if your keys carry them.
      - Account-control scopes are judged by O(allowed_control_keys) alone, whatever this says.
      - V(null) does not check scopes against a list; account-control scopes are flagged all the same. V([]) allows
        no scope at all, so every key that holds one is flagged.
      - Each pattern must be non-empty text without spaces; another value fails before any request.
    type: list
    elements: str
  allowed_control_keys:
    description:
      - The keys that may hold account-control scopes (the automation's own key, an administration key), each by its
        C(api_key_id) or its name. Such a key is not flagged for them, and they are not judged by O(allowed_scopes)
        either; its other scopes still are.
      - Compared whole and case-sensitively, not as patterns. Key names need not be unique in SendGrid, so a name
        allows a key only when no other key of the account has it; keys sharing an allowed name are all flagged
        (C(name_shared)), and their ids tell them apart. An empty entry fails before any request.
    type: list
    elements: str
    default: []
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_ip_access_info
  - name: API Keys API reference
    description: SendGrid's list of API keys and the scopes of one key.
    link: https://www.twilio.com/docs/sendgrid/api-reference/api-keys/retrieve-all-api-keys-belonging-to-the-authenticated-user
"""

EXAMPLES = r"""
- name: Read the parent account's API keys with their scopes
  mailops.sendgrid.sendgrid_api_key_info:
    api_key: "{{ vault_sendgrid_api_key }}"
  register: parent_keys

- name: Show the keys that can manage keys, teammates or the IP allow list
  ansible.builtin.debug:
    msg: "{{ parent_keys.flagged | map(attribute='name') | list }}"

- name: Fail when a subuser's key may do more than send mail, or controls the account
  mailops.sendgrid.sendgrid_api_key_info:
    on_behalf_of: marketing
    allowed_scopes:
      - mail.send
      - mail.batch.*
      - 2fa_required
      - sender_verification_*
    allowed_control_keys:
      - marketing-admin
  register: marketing_keys
  failed_when: marketing_keys.flagged | length > 0
"""

RETURN = r"""
api_keys:
  description: Every key of the account, sorted by name, then id. Never a secret.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The key's name (names need not be unique).
      type: str
    api_key_id:
      description: The key's id, which SendGrid's web app and API use to update or delete it.
      type: str
    scopes:
      description: The key's scopes, sorted.
      type: list
      elements: str
  sample: [{"name": "ci-deploy", "api_key_id": "qfTQ6KG0QBiwWdJ0-pCLCA", "scopes": ["api_keys.create", "mail.send"]},
           {"name": "newsletter", "api_key_id": "GJp2b8s1T9uKzBvQ0aF1xw", "scopes": ["mail.send"]}]
flagged:
  description: The keys of RV(api_keys) that go beyond the policy, in the same order; V([]) when none does.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The key's name.
      type: str
    api_key_id:
      description: The key's id.
      type: str
    excess_scopes:
      description: Its scopes that match no pattern of O(allowed_scopes) (never account-control ones), sorted; V([])
        when O(allowed_scopes) is null.
      type: list
      elements: str
    control_scopes:
      description: Its account-control scopes (C(api_keys.*), C(teammates.*), C(access_settings.*)), sorted; V([])
        when O(allowed_control_keys) allows the key.
      type: list
      elements: str
    name_shared:
      description: Whether its control scopes are flagged because O(allowed_control_keys) names it by a name other
        keys of the account share (give its C(api_key_id) to allow it alone).
      type: bool
      version_added: 1.1.0
  sample: [{"name": "ci-deploy", "api_key_id": "qfTQ6KG0QBiwWdJ0-pCLCA", "excess_scopes": [],
            "control_scopes": ["api_keys.create"], "name_shared": false}]
msg:
  description:
    - The audit's verdict in words, naming each flagged key, its id and why it is flagged, so that a C(failed_when)
      on RV(flagged) fails with a message that says which keys and why.
  returned: success
  type: str
  sample: "1 of 2 API keys beyond the policy: ci-deploy (id qfTQ6KG0QBiwWdJ0-pCLCA) holds account-control scopes
    api_keys.create (allowed_control_keys does not name it)."
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._api_keys import FAMILY


def main():
    FAMILY.run_info_module()


if __name__ == "__main__":
    main()
