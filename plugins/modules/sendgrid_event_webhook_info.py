#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_event_webhook_info
short_description: Audit the event webhooks of a SendGrid account, with their signing and public keys
version_added: 1.2.0
description:
  - Lists every event webhook of a SendGrid account, or of a subuser or customer account with O(on_behalf_of), with
    its events, signing and public key, and flags those that are not https, not signed, or post to a host
    O(allowed_hosts) does not match. Never changes anything.
  - 'Requests: one C(GET /v3/user/webhooks/event/settings/all), which holds every webhook and the public key of the
    signed ones.'
  - An OAuth client secret is never returned, as SendGrid never answers one.
  - The API key needs the scope C(user.webhooks.event.settings.read).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family event_webhooks audit_options
  require_https:
    description:
      - 'Flag every webhook whose URL is not C(https://): its events, with the recipients'' addresses, cross the
        network in clear text.'
    type: bool
    default: true
  require_signed:
    description:
      - 'Flag every webhook without signature verification: its receiver cannot tell SendGrid''s posts from anyone
        else''s.'
    type: bool
    default: true
  allowed_hosts:
    description:
      - The hosts webhooks may post to, as host names or shell-style patterns of them (V(hooks.example.com),
        V(*.example.com)), compared ignoring case and the final dot of a fully qualified name (V(hooks.example.com.)
        is V(hooks.example.com)). A webhook whose URL's host matches none is flagged. V(null) checks no hosts.
      - Each is a host without scheme, port or path; another value fails before any request.
    type: list
    elements: str
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
  - module: mailops.sendgrid.sendgrid_event_webhook
  - module: mailops.sendgrid.sendgrid_baseline
"""

EXAMPLES = r"""
- name: The webhooks of the marketing subuser, and their public keys
  mailops.sendgrid.sendgrid_event_webhook_info:
    api_key: "{{ vault_sendgrid_api_key }}"
    on_behalf_of: marketing
    allowed_hosts: ["*.example.com"]
  register: hooks

- name: Fail when a webhook is not https, not signed, or posts elsewhere
  ansible.builtin.assert:
    that: hooks.flagged | length == 0
    fail_msg: "{{ hooks.msg }}"
"""

RETURN = r"""
webhooks:
  description: Every event webhook of the account, oldest first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The webhook's id.
      type: str
    friendly_name:
      description: Its friendly name, V(null) when it has none.
      type: str
    url:
      description: The URL the events are posted to, the password of its basic-auth credentials as C(********).
      type: str
    enabled:
      description: Whether events are posted.
      type: bool
    events:
      description: The events posted, sorted.
      type: list
      elements: str
    signed:
      description: Whether SendGrid signs its posts.
      type: bool
    public_key:
      description: The public key that verifies the signatures, V(null) when unsigned.
      type: str
    oauth_client_id:
      description: The OAuth client id, V(null) without OAuth.
      type: str
    oauth_token_url:
      description: The OAuth token URL, V(null) without OAuth (a password in it as C(********)).
      type: str
  sample: [{"id": "77d4a5da-7015-11ed-a1eb-0242ac120002", "friendly_name": "deliveries",
            "url": "https://hooks.example.com/sendgrid", "enabled": true, "events": ["delivered"], "signed": true,
            "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...", "oauth_client_id": null,
            "oauth_token_url": null}]
flagged:
  description:
    - The webhooks beyond the policy, and why (C(http), C(unsigned), C(host_not_allowed)); each C(url) with the
      password of its basic-auth credentials as C(********).
  returned: success
  type: list
  elements: dict
  sample: [{"id": "77d4a5da-7015-11ed-a1eb-0242ac120002", "name": null, "url": "http://hooks.example.com/sendgrid",
            "http": true, "unsigned": true, "host_not_allowed": false}]
msg:
  description:
    - The audit's verdict in words, naming each flagged webhook and why; a webhook's reasons are joined by C(; and),
      the webhooks by C( | ).
  returned: success
  type: str
  sample: "2 of 3 event webhooks beyond the policy: the event webhook http://hooks.example.com/sendgrid (id 77d4)
    is not https (http://hooks.example.com/sendgrid); and is not signed | the event webhook deliveries (id 9e1f)
    posts to a host allowed_hosts does not match (https://user:********@elsewhere.net/hooks)."
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._event_webhooks import run_info_module


def main():
    run_info_module()


if __name__ == "__main__":
    main()
