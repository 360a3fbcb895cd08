#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_tracking_settings
short_description: Manage open, click, subscription and Google Analytics tracking of a SendGrid account
version_added: 1.1.0
description:
  - Makes the tracking settings of a SendGrid account, or of a subuser or customer account with O(on_behalf_of), what
    the task says, for privacy (open and click tracking) and CAN-SPAM (subscription tracking) policies.
  - Each setting is a section (O(click), O(open), O(subscription), O(google_analytics)). A section left out, and any
    field left out or V(null), is neither compared nor sent.
  - Requests, at the least. A section given with only C(enabled) is read from C(GET /v3/tracking_settings), one
    request for all such sections. A section with other fields is read with its own C(GET /v3/tracking_settings/NAME).
    Each section that differs gets one C(PATCH) holding only the fields that differ. So a policy of C(enabled) flags
    costs one request when in sync, whatever the number of sections.
  - 'The API key needs the scopes C(tracking_settings.read) (sections with only C(enabled)), and
    C(tracking_settings.NAME.read) and C(tracking_settings.NAME.update) for each section NAME given.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family tracking
  click:
    description:
      - Click tracking, which rewrites the links of each message to count clicks.
      - SendGrid also reports C(enable_text) (whether plain-text mail is click-tracked), but its API does not let it
        be set. M(mailops.sendgrid.sendgrid_settings_info) returns it.
    type: dict
    suboptions:
      enabled:
        description: Whether links are rewritten to track clicks.
        type: bool
  open:
    description: Open tracking, which adds an invisible image to each message to count opens.
    type: dict
    suboptions:
      enabled:
        description: Whether opens are tracked.
        type: bool
  subscription:
    description: Subscription tracking, which adds an unsubscribe link to each message.
    type: dict
    suboptions:
      enabled:
        description: Whether the unsubscribe link is added.
        type: bool
      html_content:
        description: The HTML of the unsubscribe text; C(<% %>) marks the link.
        type: str
      plain_content:
        description: The plain-text unsubscribe text; C(<% %>) marks the link.
        type: str
      landing:
        description: The HTML of the page shown after unsubscribing, hosted by SendGrid.
        type: str
      replace:
        description: A tag that, in a message, is replaced by the unsubscribe link.
        type: str
      url:
        description:
          - A page of your own (an http:// or https:// URL) to send unsubscribing recipients to, instead of
            SendGrid's; V("") for none.
        type: str
  google_analytics:
    description: Google Analytics tracking, which adds C(utm_*) parameters to the links of each message.
    type: dict
    suboptions:
      enabled:
        description: Whether the parameters are added.
        type: bool
      utm_source:
        description: The referrer source.
        type: str
      utm_medium:
        description: The marketing medium, such as C(email).
        type: str
      utm_term:
        description: Paid keywords.
        type: str
      utm_content:
        description: What tells ads apart.
        type: str
      utm_campaign:
        description: The campaign name.
        type: str
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Reads the settings and reports what would change; sends no C(PATCH).
  diff_mode:
    support: full
    details: Returns the fields read before and after, per section.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_mail_settings
  - module: mailops.sendgrid.sendgrid_settings_info
  - name: Tracking settings API reference
    description: SendGrid's description of the tracking settings.
    link: https://www.twilio.com/docs/sendgrid/api-reference/settings-tracking
"""

EXAMPLES = r"""
- name: Privacy policy - no open or click tracking, on the parent account
  mailops.sendgrid.sendgrid_tracking_settings:
    api_key: "{{ vault_sendgrid_api_key }}"
    open:
      enabled: false
    click:
      enabled: false

- name: CAN-SPAM - an unsubscribe link in every message of a subuser
  mailops.sendgrid.sendgrid_tracking_settings:
    on_behalf_of: marketing
    subscription:
      enabled: true
      plain_content: "Unsubscribe: <% %>"
      html_content: "<p><% Unsubscribe %> from these messages.</p>"

- name: Tag the links of an EU subuser's mail for Google Analytics
  mailops.sendgrid.sendgrid_tracking_settings:
    region: eu
    on_behalf_of: eu-newsletter
    google_analytics:
      enabled: true
      utm_source: sendgrid
      utm_medium: email
      utm_campaign: newsletter
"""

RETURN = r"""
tracking_settings:
  description:
    - The settings of each section given, after the task (in check mode, the settings the task would leave).
    - A section given with only C(enabled) holds only C(enabled); the others hold every field SendGrid returned.
  returned: success
  type: dict
  sample: {"open": {"enabled": false}, "click": {"enabled": false}}
changes:
  description: The fields written (in check mode, that would be written), per section; sections in sync are left out.
  returned: success
  type: dict
  sample: {"click": {"enabled": false}}
diff:
  description: The settings before and after the task, per section, in diff mode.
  returned: success and diff mode
  type: dict
  contains:
    before:
      description: The fields read before the task.
      type: dict
      returned: diff mode
      sample: {"open": {"enabled": true}, "click": {"enabled": true}}
    after:
      description: The fields after the task.
      type: dict
      returned: diff mode
      sample: {"open": {"enabled": false}, "click": {"enabled": false}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._tracking_settings import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
