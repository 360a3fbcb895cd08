#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_subuser
short_description: Create, enable, disable or delete one subuser of a SendGrid parent account
version_added: 1.1.0
description:
  - Makes a subuser of the parent account exist, enabled or disabled, or deletes it when the deletion is confirmed.
  - 'Requests: one C(GET /v3/subusers?username=USERNAME&include_region=true); then C(POST /v3/subusers) to create
    (with C(include_region: true), so that the answer gives the region),
    C(PATCH /v3/subusers/{username}) to enable or disable, C(DELETE /v3/subusers/{username}) to delete.'
  - The password is write-only, sent when the subuser is created and never read back, compared, returned or shown. A
    task run again with another password changes nothing.
  - A subuser created here is one the baseline's discovery finds when the baseline runs after this task, in the same
    play (M(mailops.sendgrid.sendgrid_baseline) with O(mailops.sendgrid.sendgrid_baseline#module:discover_subusers)).
  - 'The API key needs the scopes C(subusers.read), and C(subusers.create), C(subusers.update) or C(subusers.delete)
    for the write it makes. A parent''s key: a subuser has no subusers.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
options:
  # BEGIN GENERATED family subusers
  username:
    description: The subuser's username, which identifies it.
    type: str
    required: true
  state:
    description:
      - V(present) creates the subuser when there is none of that username, and enables or disables it as
        O(disabled) says.
      - 'V(absent) deletes the subuser, with everything it holds (its settings, keys, teammates, statistics): only
        when O(confirm_delete) repeats its username. Nothing can bring it back.'
    type: str
    choices: [present, absent]
    default: present
  email:
    description:
      - 'The subuser''s e-mail address, needed to create it. SendGrid has no API to change it: when the subuser''s
        differs, the task warns and leaves it.'
    type: str
  password:
    description:
      - The password the subuser signs in with, needed to create it; give it from a vaulted variable.
      - 'Write-only: sent when the subuser is created, and never read back, compared or shown (SendGrid gives no
        password back). Changing it here changes nothing for an existing subuser.'
    type: str
  ips:
    description:
      - 'The parent''s sending IP addresses (IPv4) to assign to the subuser, needed to create it (V([]) assigns
        none). Used when creating only: the subuser list does not give them back to compare.'
    type: list
    elements: str
  subuser_region:
    description:
      - 'The region that holds the subuser''s data, used when creating it (SendGrid''s default, V(global), when left
        out). A subuser''s region cannot change: an existing subuser in another region fails the task.'
      - Not O(region), which chooses the API host the parent's requests go to.
    type: str
    choices: [global, eu]
  disabled:
    description:
      - 'Whether the subuser is disabled (cannot send or sign in). Changed with one C(PATCH
        /v3/subusers/{username}). Left out: V(false) when creating, unchanged otherwise.'
    type: bool
  confirm_delete:
    description:
      - 'The subuser''s username again, to confirm O(state=absent): deleting a subuser loses its data. Without it,
        or with another value, the task fails before any request.'
    type: str
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Looks the subuser up and reports what would change; sends no write.
  diff_mode:
    support: full
    details: The subuser before and after; never its password.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_subuser_info
  - module: mailops.sendgrid.sendgrid_baseline
  - name: Subusers API reference
    description: SendGrid's description of the subuser endpoints.
    link: https://www.twilio.com/docs/sendgrid/api-reference/subusers-api
"""

EXAMPLES = r"""
- name: A subuser for transactional mail, on the parent's sending IP
  mailops.sendgrid.sendgrid_subuser:
    api_key: "{{ vault_sendgrid_api_key }}"
    username: transactional
    email: transactional@example.com
    password: "{{ vault_transactional_password }}"
    ips:
      - 192.0.2.10

- name: Stop the legacy relay from sending, keeping its data
  mailops.sendgrid.sendgrid_subuser:
    username: legacy-relay
    disabled: true

- name: Delete the sandbox, its data with it
  mailops.sendgrid.sendgrid_subuser:
    username: sandbox-trial
    state: absent
    confirm_delete: sandbox-trial
"""

RETURN = r"""
subuser:
  description:
    - The subuser after the task (in check mode, as it would be), V(null) when absent. Never its password.
    - C(id) is V(null) for a subuser check mode would create.
  returned: success
  type: dict
  sample: {"username": "marketing", "id": 1234, "email": "marketing@example.com", "disabled": false, "region": "global"}
changes:
  description: What was written (in check mode, would be) (C(created), C(disabled), C(enabled), C(deleted)), each with
    the username.
  returned: always
  type: dict
  sample: {"created": "marketing"}
diff:
  description: The subuser before and after, in diff mode.
  returned: diff mode
  type: dict
  sample: {"before": {"subuser": null}, "after": {"subuser": {"username": "marketing", "disabled": false}}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._subusers import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
