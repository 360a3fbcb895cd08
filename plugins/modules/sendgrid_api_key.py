#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_api_key
short_description: Manage one API key of a SendGrid account by name, returning a new key's secret once
version_added: 1.1.0
description:
  - Makes an API key of a SendGrid account (or of a subuser or customer account with O(on_behalf_of)), known by
    name, hold the scopes asked for, or deletes it.
  - 'A key created here returns its secret once, in RV(secret): SendGrid never gives it again. The task''s output is
    then hidden from the screen, C(-vvvv) and every callback, as C(no_log: true) hides it (the action plugin marks
    the result so); register the result and store the secret at once, in a task with C(no_log: true).'
  - 'Requests: one C(GET /v3/api_keys?limit=100) and one C(GET /v3/api_keys/{api_key_id}) per key of that name (the list
    holds no scopes); then at most one write: C(POST /v3/api_keys) to create, C(PUT /v3/api_keys/{api_key_id}) with
    the name and the scopes when they differ, C(PATCH) with the name alone to rename, C(DELETE) to delete. When a
    delete or a cut of C(api_keys.*) scopes is asked and the calling key is not of the form
    C(SG.<api_key_id>.<secret>), one C(GET /v3/scopes) for the guard.'
  - 'Guard, before any write (O(protect_calling_key)): the key this task authenticates with is never deleted and
    never loses an C(api_keys.*) scope by accident.'
  - 'The API key needs the scopes C(api_keys.read), and C(api_keys.create), C(api_keys.update) or
    C(api_keys.delete) for the write it makes.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family api_keys
  name:
    description:
      - 'The key''s name, which identifies it. Key names are not unique in SendGrid: when two keys have this name,
        the task fails naming their ids, unless O(api_key_id) chooses one.'
    type: str
    required: true
  state:
    description:
      - V(present) creates the key with O(scopes) when there is none of that name, and updates the scopes (and,
        given O(api_key_id), the name) of the one there is when they differ.
      - V(absent) deletes the key.
    type: str
    choices: [present, absent]
    default: present
  scopes:
    description:
      - 'The scopes the key holds, compared as a set, such as V(mail.send). Required with O(state=present): a key
        created without scopes would have full access.'
      - Each is a scope, not a pattern. Markers SendGrid sets on keys (C(2fa_required),
        C(sender_verification_eligible)) are left out of the comparison.
    type: list
    elements: str
  api_key_id:
    description:
      - 'The id of the key, to choose it among keys that share its name, or to rename it to O(name). A key with this
        id must exist: no key is created with an id asked for.'
    type: str
  protect_calling_key:
    description:
      - 'Refuse to delete the key this task authenticates with (O(api_key)), or to take an C(api_keys.*) scope from
        it. SendGrid does not say which key is calling: a key of the form C(SG.<api_key_id>.<secret>) (every key
        SendGrid creates) names its own id, and for another form a key holding exactly the calling key''s scopes
        (C(GET /v3/scopes)) is taken for it.'
      - 'It cannot see another automation''s or person''s key: that one is deleted when asked. With O(on_behalf_of),
        the keys are the subuser''s and the calling key the parent''s, so none is guarded.'
      - V(false) to rotate or cut the calling key on purpose, once another key does the work.
    type: bool
    default: true
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Reads the keys and reports what would change; sends no write and returns no secret.
  diff_mode:
    support: full
    details: The key's name, id and scopes before and after; never its secret.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_api_key_info
  - module: mailops.sendgrid.sendgrid_baseline
  - name: API Keys API reference
    description: SendGrid's description of the API key endpoints.
    link: https://www.twilio.com/docs/sendgrid/api-reference/api-keys
"""

EXAMPLES = r"""
- name: A key for the web shop, which only sends mail
  mailops.sendgrid.sendgrid_api_key:
    api_key: "{{ vault_sendgrid_api_key }}"
    name: webshop-send
    scopes:
      - mail.send
  register: webshop_key

- name: Keep its secret in a file only its owner reads (the secret is there only when the key was created)
  ansible.builtin.copy:
    content: "{{ webshop_key.secret }}"
    dest: "{{ playbook_dir }}/webshop.sendgrid-key"
    mode: "0600"
  no_log: true
  when: webshop_key.secret is defined

- name: The marketing subuser's reporting key reads statistics only
  mailops.sendgrid.sendgrid_api_key:
    on_behalf_of: marketing
    name: reporting
    scopes:
      - stats.read

- name: Retire a key that leaked
  mailops.sendgrid.sendgrid_api_key:
    name: old-integration
    state: absent
"""

RETURN = r"""
key:
  description:
    - The key after the task (in check mode, as it would be), V(null) when absent. Never holds its secret.
    - C(api_key_id) is V(null) for a key check mode would create.
  returned: success
  type: dict
  sample: {"name": "webshop-send", "api_key_id": "qfTQ6KG0QBiwWdJ0-pCLCA", "scopes": ["mail.send"]}
secret:
  description:
    - The secret of the key this task created, given once (SendGrid never gives it again); the output of the task
      is hidden when it is here.
    - 'Store it at once, in a task with C(no_log: true).'
  returned: when the task created a key (not in check mode)
  type: str
  sample: "SG.qfTQ6KG0QBiwWdJ0-pCLCA.********"
diff:
  description: The key before and after, in diff mode; never a secret.
  returned: diff mode
  type: dict
  sample: {"before": {"key": null}, "after": {"key": {"name": "webshop-send", "api_key_id": null, "scopes": ["mail.send"]}}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._api_keys import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
