#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_ip_access_info
short_description: Read the IP access allow list and the recent access activity of a SendGrid account
version_added: 1.1.0
description:
  - Reads the IP Access Management allow list of a SendGrid account, or of a subuser or customer account with
    O(on_behalf_of), as canonical networks, and the recent access attempts (who was refused, from where). Never
    changes anything.
  - Two requests, C(GET /v3/access_settings/whitelist) and C(GET /v3/access_settings/activity); one with
    O(activity=false).
  - The API key needs the scopes C(access_settings.whitelist.read) and C(access_settings.activity.read).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  activity:
    description:
      - Whether to read the recent access activity too.
    type: bool
    default: true
  activity_limit:
    description:
      - How many recent access records to read, from 1 to 1000 (SendGrid's default is 20).
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_ip_access
"""

EXAMPLES = r"""
- name: Read the parent account's allow list and who was refused lately
  mailops.sendgrid.sendgrid_ip_access_info:
    api_key: "{{ vault_sendgrid_api_key }}"
  register: access

- name: Show the refused addresses
  ansible.builtin.debug:
    msg: "{{ access.refused | map(attribute='ip') | list }}"

- name: Fail when anyone was refused access to a subuser lately
  mailops.sendgrid.sendgrid_ip_access_info:
    on_behalf_of: marketing
    activity_limit: 100
  register: marketing_access
  failed_when: marketing_access.refused | length > 0
"""

RETURN = r"""
enabled:
  description: Whether IP Access Management is on, that is the allow list is not empty.
  returned: success
  type: bool
  sample: true
entries:
  description: The allow list as canonical networks, sorted.
  returned: success
  type: list
  elements: str
  sample: ["127.0.0.1/32", "203.0.113.0/24"]
rules:
  description:
    - The allow list as SendGrid keeps it, with each rule's id and timestamps.
    - Each epoch timestamp has a sibling C(<field>_iso) with the same time as UTC ISO 8601 text.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The rule's id.
      type: int
      returned: success
      sample: 1
    ip:
      description: The rule's network, canonical.
      type: str
      returned: success
      sample: 203.0.113.0/24
    created_at:
      description: When the rule was created, in epoch seconds.
      type: int
      returned: success
      sample: 1764547200
    created_at_iso:
      description: RV(rules[].created_at) as UTC ISO 8601 text; null when RV(rules[].created_at) is null.
      type: str
      returned: success
      sample: "2025-12-01T00:00:00Z"
    updated_at:
      description: When the rule was last changed, in epoch seconds.
      type: int
      returned: success
      sample: 1764547200
    updated_at_iso:
      description: RV(rules[].updated_at) as UTC ISO 8601 text; null when RV(rules[].updated_at) is null.
      type: str
      returned: success
      sample: "2025-12-01T00:00:00Z"
  sample: [{"id": 1, "ip": "203.0.113.0/24", "created_at": 1764547200, "created_at_iso": "2025-12-01T00:00:00Z",
            "updated_at": 1764547200, "updated_at_iso": "2025-12-01T00:00:00Z"}]
activity:
  description:
    - The recent access attempts, newest first, as SendGrid reports them; V([]) with O(activity=false).
    - Each epoch timestamp has a sibling C(<field>_iso) with the same time as UTC ISO 8601 text.
  returned: success
  type: list
  elements: dict
  contains:
    allowed:
      description: Whether the attempt was let in.
      type: bool
      returned: success
      sample: false
    auth_method:
      description: How the attempt authenticated.
      type: str
      returned: success
      sample: API Key
    ip:
      description: The address the attempt came from.
      type: str
      returned: success
      sample: 192.0.2.7
    location:
      description: Where SendGrid places that address.
      type: str
      returned: success
      sample: ""
    first_at:
      description: The first such attempt, in epoch seconds.
      type: int
      returned: success
      sample: 1764547200
    first_at_iso:
      description: RV(activity[].first_at) as UTC ISO 8601 text; null when RV(activity[].first_at) is null.
      type: str
      returned: success
      sample: "2025-12-01T00:00:00Z"
    last_at:
      description: The last such attempt, in epoch seconds.
      type: int
      returned: success
      sample: 1764547260
    last_at_iso:
      description: RV(activity[].last_at) as UTC ISO 8601 text; null when RV(activity[].last_at) is null.
      type: str
      returned: success
      sample: "2025-12-01T00:01:00Z"
  sample: [{"allowed": false, "auth_method": "API Key", "first_at": 1764547200, "first_at_iso": "2025-12-01T00:00:00Z",
            "ip": "192.0.2.7", "last_at": 1764547260, "last_at_iso": "2025-12-01T00:01:00Z", "location": ""}]
refused:
  description: The attempts of RV(activity) that were refused, with the same fields.
  returned: success
  type: list
  elements: dict
  sample: [{"allowed": false, "auth_method": "API Key", "first_at": 1764547200, "first_at_iso": "2025-12-01T00:00:00Z",
            "ip": "192.0.2.7", "last_at": 1764547260, "last_at_iso": "2025-12-01T00:01:00Z", "location": ""}]
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._ip_access import FAMILY


def main():
    FAMILY.run_info_module()


if __name__ == "__main__":
    main()
