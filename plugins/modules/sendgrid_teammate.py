#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_teammate
short_description: Manage one teammate of a SendGrid account, with guards for its owner and its last admin
version_added: 1.1.0
description:
  - Makes one person, known by e-mail, a teammate of a SendGrid account (or of a subuser or customer account with
    O(on_behalf_of)) with the access asked for, or removes them.
  - 'Requests: one C(GET /v3/teammates) per page of 500, one C(GET /v3/teammates/USERNAME) per teammate who is no
    admin (the list holds no scopes), one C(GET /v3/teammates/pending); then at most one write: C(POST /v3/teammates)
    to invite, C(PATCH /v3/teammates/USERNAME) to change access, C(DELETE /v3/teammates/pending/TOKEN) and a
    C(POST) to replace an invite whose access differs (with a warning), C(DELETE) to remove.'
  - 'Guards, before any write: the account''s owner (user type C(owner)) is never changed or removed; the last admin
    (user type C(admin)) is never removed or demoted; an admin''s scopes are never sent (SendGrid wants them empty with
    C(is_admin: true)). Such a change fails with nothing written.'
  - An invite is a pending invite until the person accepts it; the module sees it as such, and its token (which lets
    anyone accept the invite) is never returned.
  - 'The API key needs the scopes C(teammates.read), and C(teammates.create), C(teammates.update) or
    C(teammates.delete) for the write it makes.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family teammates
  email:
    description: The teammate's e-mail address, which identifies them (compared ignoring case).
    type: str
    required: true
  state:
    description:
      - V(present) invites the teammate when they are neither a teammate nor invited, updates their access when it
        differs, and replaces a pending invite whose access differs (deleting it and inviting again).
      - V(absent) removes the teammate, or cancels their pending invite.
    type: str
    choices: [present, absent]
    default: present
  is_admin:
    description:
      - Whether the teammate is an admin, who holds every scope. O(scopes) must then be left out.
      - 'Left out: V(false) when inviting; unchanged for a teammate.'
    type: bool
  scopes:
    description:
      - The scopes the teammate may use, compared as a set (such as V(mail.send)). Needed to invite a teammate who
        is no admin.
    type: list
    elements: str
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Reads the team and reports what would change; sends no write.
  diff_mode:
    support: full
    details: The teammate's access before and after.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_teammate_info
  - module: mailops.sendgrid.sendgrid_baseline
  - name: Teammates API reference
    description: SendGrid's description of the teammates endpoints.
    link: https://www.twilio.com/docs/sendgrid/api-reference/teammates
"""

EXAMPLES = r"""
- name: An admin for the operations team
  mailops.sendgrid.sendgrid_teammate:
    api_key: "{{ vault_sendgrid_api_key }}"
    email: ops-lead@example.com
    is_admin: true

- name: A developer of the marketing subuser who may send mail and read statistics
  mailops.sendgrid.sendgrid_teammate:
    on_behalf_of: marketing
    email: dev@example.com
    scopes:
      - mail.send
      - stats.read

- name: Someone who left
  mailops.sendgrid.sendgrid_teammate:
    email: former@example.com
    state: absent
"""

RETURN = r"""
teammate:
  description:
    - The teammate after the task (in check mode, as it would be), V(null) when absent.
    - C(access) is V(owner), V(admin) or the sorted scopes; C(invited) is V(true) for a pending invite.
  returned: success
  type: dict
  sample: {"access": ["mail.send", "stats.read"], "invited": true}
changes:
  description: What was written (in check mode, would be), by action (C(invited), C(updated), C(replaced), C(removed),
    C(cancelled)), each with the e-mail addresses.
  returned: always
  type: dict
  sample: {"invited": ["dev@example.com"]}
diff:
  description: The teammate before and after, in diff mode.
  returned: diff mode
  type: dict
  sample: {"before": {"teammate": null}, "after": {"teammate": {"access": "admin", "invited": true}}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._teammates import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
