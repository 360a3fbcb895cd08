#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_ip_access
short_description: Manage the IP access allow list of a SendGrid account, with a guard against locking yourself out
version_added: 1.1.0
description:
  - Manages SendGrid's IP Access Management allow list of an account, or of a subuser or customer account with
    O(on_behalf_of). When the list holds entries, only the addresses they cover may reach the account (web app, API
    and SMTP relay). An empty list switches the protection off.
  - Entries are compared as networks, the way SendGrid stores them, never as text. V(192.168.1.1) is V(192.168.1.1/32),
    and the wildcard V(192.168.*.*) is V(192.168.0.0/16).
  - 'Requests: one C(GET /v3/access_settings/whitelist); then, only when something differs, at most one C(POST) with
    every missing entry and at most one C(DELETE) with the id of every entry to remove, the C(POST) first, so that the
    entries meant to stay are never missing. The lockout guard may add one C(GET /v3/access_settings/activity) (see
    O(client_addresses)).'
  - B(Lockout guard.) A change that would leave a non-empty list without an entry covering the address this machine
    reaches SendGrid from is refused, with nothing written, unless O(allow_lockout=true). The address comes from
    O(client_addresses); when that is not set, from SendGrid's recent access activity, which records the address of
    this task's own request. When the activity cannot tell (no access recorded, or accesses from several addresses within
    a minute), the task fails and asks for O(client_addresses).
  - B(Entry guards.) Before any request, the task refuses a network of every address (V(0.0.0.0/0), V(::/0)) to be
    added, unless O(allow_any_address=true), and an entry with host bits set (V(10.1.2.3/8), which SendGrid would store
    as V(10.0.0.0/8)), saying whether the address or the network was meant. It warns about each entry to be added that
    is wider than an IPv4 V(/16) or an IPv6 V(/48) (see O(entries)), and, with O(state=absent), about each entry that a
    wider entry staying on the list still covers, naming that entry (also when nothing changed, and in check mode).
  - 'The API key needs the scopes C(access_settings.whitelist.read), C(access_settings.whitelist.create) (to add) and
    C(access_settings.whitelist.delete) (to remove); and C(access_settings.activity.read) when the guard reads the
    activity.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family ip_access
  entries:
    description:
      - IPv4 or IPv6 addresses, CIDR networks, or SendGrid wildcards (V(203.0.113.*), V(203.*.*.*)), compared as
        networks. An invalid entry fails before any request.
      - A network must be written as its first address (V(10.0.0.0/8)); one with host bits set (V(10.1.2.3/8)) fails
        before any request.
      - A network of every address (V(0.0.0.0/0), V(::/0)) fails before any request with O(state=present), unless
        O(allow_any_address=true).
      - 'Wide entries warn: with O(state=present), each entry wider than V(/16) (IPv4, more than 65536 addresses) or
        V(/48) (IPv6) gives a warning naming it; V(10.*.*.*) is V(10.0.0.0/8) and warns too.'
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) adds the O(entries) the list lacks (with O(purge=true), also removes every other entry).
      - V(absent) removes the O(entries) the list holds (entries equal to them as networks; an entry that only
        covers one, such as a wider network, stays, and the task warns that the entry keeps access through it).
      - 'V(disabled) empties the list, which switches IP Access Management off for the account; the result then
        carries a warning. O(entries) must be empty. This is the only way to empty the list: a V(present) with
        O(purge=true) or an V(absent) that would remove the last entry fails instead.'
    type: str
    choices: [present, absent, disabled]
    default: present
  purge:
    description: With O(state=present), make the list exactly O(entries).
    type: bool
    default: false
  allow_lockout:
    description:
      - Let a change through even though no resulting entry covers this machine's address. The task's next request
        to the account will then be refused by SendGrid.
    type: bool
    default: false
  allow_any_address:
    description:
      - Let O(entries) hold a network of every IPv4 or IPv6 address (V(0.0.0.0/0), V(::/0)), which lets any address
        reach the account and so undoes the allow list. The task still warns about it.
    type: bool
    default: false
    version_added: 1.1.0
  client_addresses:
    description:
      - The address or addresses this machine reaches SendGrid from, as SendGrid sees them (behind NAT or a proxy,
        the public egress addresses). The lockout guard requires an entry covering each of them.
      - Left out, the guard reads SendGrid's recent access activity instead.
    type: list
    elements: str
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Reads the list (and, for the guard, the activity), reports what would change and refuses what the guard
      refuses; sends no C(POST) or C(DELETE).
  diff_mode:
    support: full
    details: The allow list before and after, as canonical networks.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_ip_access_info
  - name: IP Access Management API reference
    description: SendGrid's description of the allow list and the access activity.
    link: https://www.twilio.com/docs/sendgrid/api-reference/ip-access-management
"""

EXAMPLES = r"""
- name: Allow the office network and the CI runners; this machine is one of the runners
  mailops.sendgrid.sendgrid_ip_access:
    api_key: "{{ vault_sendgrid_api_key }}"
    entries:
      - 127.0.0.1
      - 203.0.113.0/24
      - 198.51.100.*

- name: Make a subuser's list exactly these entries, naming this machine's address for the guard
  mailops.sendgrid.sendgrid_ip_access:
    on_behalf_of: marketing
    entries:
      - 127.0.0.0/8
      - 2001:db8::/32
    purge: true
    client_addresses:
      - 127.0.0.1

- name: Remove a network that is no longer ours
  mailops.sendgrid.sendgrid_ip_access:
    entries:
      - 192.0.2.0/24
    state: absent

- name: Switch IP Access Management off for a subuser (empties its list)
  mailops.sendgrid.sendgrid_ip_access:
    on_behalf_of: billing
    state: disabled
"""

RETURN = r"""
entries:
  description: The allow list after the task (in check mode, the list the task would leave), as canonical networks.
  returned: success
  type: list
  elements: str
  sample: ["127.0.0.1/32", "198.51.100.0/24", "203.0.113.0/24"]
added:
  description: The entries added (in check mode, that would be added), as canonical networks.
  returned: success
  type: list
  elements: str
  sample: ["203.0.113.0/24"]
removed:
  description: The entries removed (in check mode, that would be removed), as SendGrid listed them.
  returned: success
  type: list
  elements: str
  sample: ["192.0.2.0/24"]
client_addresses:
  description: The addresses the lockout guard checked, V(null) when it did not have to (nothing to change, the list
    emptied, or O(allow_lockout=true)).
  returned: success
  type: list
  elements: str
  sample: ["127.0.0.1"]
diff:
  description: The allow list before and after, in diff mode.
  returned: success and diff mode
  type: dict
  contains:
    before:
      description: The entries before the task, under C(entries).
      type: dict
      returned: diff mode
      sample: {"entries": ["192.0.2.0/24"]}
    after:
      description: The entries after the task, under C(entries).
      type: dict
      returned: diff mode
      sample: {"entries": ["127.0.0.1/32", "203.0.113.0/24"]}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._ip_access import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
