#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_event_webhook
short_description: Manage one event webhook of a SendGrid account, signed, with its events and OAuth
version_added: 1.2.0
description:
  - Makes one event webhook of a SendGrid account (or of a subuser or customer account with O(on_behalf_of)) post the
    events asked for to its URL, signed or not, with or without OAuth; or deletes it. SendGrid keeps several event
    webhooks per account, each known by an id; this module knows one by its O(friendly_name), or by its O(url) when
    no name is given.
  - 'Requests: one C(GET /v3/user/webhooks/event/settings/all) (every webhook, with its public key when signed); then
    at most C(POST /v3/user/webhooks/event/settings) to create it, or one C(PATCH
    /v3/user/webhooks/event/settings/{id}) with only the fields that differ (and its URL, which SendGrid requires), or
    C(DELETE /v3/user/webhooks/event/settings/{id}); and C(PATCH /v3/user/webhooks/event/settings/signed/{id}) when
    O(signed) differs.'
  - O(oauth_client_secret) is write-only, as SendGrid never answers it; so it is never compared, and never in a
    result, a diff or a message. With O(update_secret=on_create) it is sent when the webhook is created or its OAuth
    client id or token URL change; with O(update_secret=always) on every run, which then reports a change.
  - 'The API key needs the scopes C(user.webhooks.event.settings.read), and C(user.webhooks.event.settings.update)
    to create, change, sign or delete a webhook.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family event_webhooks
  friendly_name:
    description:
      - The webhook's friendly name, which identifies it. Left out, the webhook is identified by O(url), and its
        name is left as it is. Two webhooks matching is an error naming both ids.
    type: str
  url:
    description:
      - The absolute URL SendGrid posts the events to. Needed to create a webhook, and to identify one when
        O(friendly_name) is left out; given with O(friendly_name), the webhook's URL is changed to it. Compared with
        its scheme and host ignoring case.
      - Must be C(https://) unless O(allow_http) is V(true).
      - Basic-auth credentials in it (C(https://user:password@hooks.example.com/x), SendGrid's way to protect a
        webhook) are sent and compared as given, but the password is shown as C(********) in every result, diff and
        message, and is a no_log value, which Ansible censors wherever it would show.
    type: str
  allow_http:
    description:
      - 'Allow an C(http://) O(url). Events hold recipients'' addresses, and over http they cross the network in
        clear text: leave it V(false) but for a receiver on a private network.'
    type: bool
    default: false
  state:
    description:
      - V(present) creates the webhook (C(POST)) when there is none, and updates what differs (one C(PATCH) with
        only the fields that differ, and one to the signed endpoint when O(signed) differs). Creating one when the
        account already has as many as the list's C(max_allowed) fails before any write, in check mode too.
      - V(absent) deletes it (C(DELETE)).
    type: str
    choices: [present, absent]
    default: present
  enabled:
    description:
      - 'Whether SendGrid posts events to the webhook. Left out: V(true) when creating, unchanged otherwise.'
    type: bool
  events:
    description:
      - 'The events posted to the webhook, compared as a set; every other event is off. Left out (or V(null)): none
        when creating, unchanged otherwise.'
      - An item that is not one of the choices (or is empty) fails naming its place, before any request.
    type: list
    elements: str
    choices: [bounce, click, deferred, delivered, dropped, group_resubscribe, group_unsubscribe, open, processed, spam_report, unsubscribe]
  signed:
    description:
      - 'Whether SendGrid signs each post (signature verification); V(true) returns the webhook''s
        RV(webhook.public_key), which the receiver verifies the signature with. Left out: unsigned when creating,
        unchanged otherwise.'
    type: bool
  oauth_client_id:
    description:
      - The OAuth client id SendGrid gets a token with before posting. Given with O(oauth_token_url); V("") for both
        removes OAuth.
    type: str
  oauth_token_url:
    description:
      - The URL SendGrid gets the OAuth token from. Given with O(oauth_client_id).
      - 'Must be C(https://), whatever O(allow_http) says: SendGrid sends the client secret to it.'
    type: str
  oauth_client_secret:
    description:
      - 'The OAuth client secret, write-only: SendGrid never shows it, so it is never compared, returned or shown.
        Needed when OAuth is first configured, and when O(oauth_client_id) or O(oauth_token_url) change (else
        SendGrid would pair the secret it keeps with the new values: the task fails before any write); sent as
        O(update_secret) says.'
    type: str
  update_secret:
    description:
      - 'V(on_create) sends O(oauth_client_secret) when the webhook is created or its OAuth client id or token URL
        changes, and otherwise not: the secret cannot be read back to compare.'
      - V(always) sends it on every run, which then always reports a change (to rotate the secret).
    type: str
    choices: [on_create, always]
    default: on_create
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Reads the webhooks and reports what would change; sends no write. A webhook that would be created and
      signed has no public key yet (V(null)).
  diff_mode:
    support: full
    details: The webhook before and after, never its OAuth client secret.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_event_webhook_info
  - module: mailops.sendgrid.sendgrid_baseline
  - name: Event Webhook API reference
    description: SendGrid's description of the event webhook endpoints.
    link: https://www.twilio.com/docs/sendgrid/api-reference/webhooks
"""

EXAMPLES = r"""
- name: Delivery events to the data team's receiver, signed
  mailops.sendgrid.sendgrid_event_webhook:
    api_key: "{{ vault_sendgrid_api_key }}"
    friendly_name: deliveries
    url: https://hooks.example.com/sendgrid/deliveries
    events: [processed, delivered, bounce, dropped, deferred]
    signed: true
  register: deliveries

- name: The same for the marketing subuser, with engagement events and OAuth
  mailops.sendgrid.sendgrid_event_webhook:
    api_key: "{{ vault_sendgrid_api_key }}"
    on_behalf_of: marketing
    friendly_name: engagement
    url: https://hooks.example.com/sendgrid/engagement
    events: [open, click, unsubscribe, spam_report]
    signed: true
    oauth_client_id: sendgrid-webhooks
    oauth_token_url: https://auth.example.com/oauth2/token
    oauth_client_secret: "{{ vault_webhook_oauth_secret }}"

- name: A webhook known by its URL alone, no longer wanted
  mailops.sendgrid.sendgrid_event_webhook:
    api_key: "{{ vault_sendgrid_api_key }}"
    url: https://old-hooks.example.com/sendgrid
    state: absent
"""

RETURN = r"""
webhook:
  description:
    - The webhook after the task (in check mode, as it would be), V(null) when absent. Never its OAuth client secret.
  returned: success
  type: dict
  contains:
    id:
      description: The webhook's id (V(null) for one that check mode would create).
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
      description: The public key that verifies the signatures, when signed (V(null) otherwise, and for a webhook
        check mode would create).
      type: str
    oauth_client_id:
      description: The OAuth client id, V(null) without OAuth.
      type: str
    oauth_token_url:
      description: The OAuth token URL, V(null) without OAuth (a password in it as C(********)).
      type: str
  sample: {"id": "77d4a5da-7015-11ed-a1eb-0242ac120002", "friendly_name": "deliveries",
           "url": "https://hooks.example.com/sendgrid/deliveries", "enabled": true,
           "events": ["bounce", "deferred", "delivered", "dropped", "processed"], "signed": true,
           "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...", "oauth_client_id": null, "oauth_token_url": null}
diff:
  description: The webhook before and after, in diff mode.
  returned: diff mode
  type: dict
  sample: {"before": {"webhook": null}, "after": {"webhook": {"friendly_name": "deliveries"}}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._event_webhooks import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
