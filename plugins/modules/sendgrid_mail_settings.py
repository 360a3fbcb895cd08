#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_mail_settings
short_description: Manage bounce purge, forwarding, footer, legacy template and address whitelist of a SendGrid account
version_added: 1.1.0
description:
  - Makes the mail settings of a SendGrid account, or of a subuser or customer account with O(on_behalf_of), what the
    task says. They decide how long bounce records are kept (O(bounce_purge)), where data leaves the account
    (O(forward_spam), O(forward_bounce)), what every message carries (O(footer), O(template)), and which addresses
    bypass the suppression lists (O(address_whitelist)).
  - Each setting is a section. A section left out, and any field left out or V(null), is neither compared nor sent.
  - Requests, at the least. A section given with only C(enabled) is read from C(GET /v3/mail_settings), one request for
    all such sections. A section with other fields is read with its own C(GET /v3/mail_settings/NAME). Each section
    that differs gets one C(PATCH) holding only the fields that differ. So a policy of C(enabled) flags costs one
    request when in sync, whatever the number of sections.
  - 'The API key needs the scopes C(mail_settings.read) (sections with only C(enabled)), and C(mail_settings.NAME.read)
    and C(mail_settings.NAME.update) for each section NAME given.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family mail_settings
  bounce_purge:
    description: Purging bounce records after a number of days.
    type: dict
    suboptions:
      enabled:
        description: Whether bounce records are purged.
        type: bool
      soft_bounces:
        description:
          - Days after which soft bounce records are purged, from 0 to 3650. SendGrid states no bound; ten years is
            this collection's, so that a typo (5000 for 500) fails before any request.
          - V(0) means none (the API's C(null)); the API returns C(null) as V(0) too.
        type: int
      hard_bounces:
        description:
          - Days after which hard bounce records are purged, from 0 to 3650. SendGrid states no bound; ten years is
            this collection's, so that a typo (5000 for 500) fails before any request.
          - V(0) means none (the API's C(null)); the API returns C(null) as V(0) too.
        type: int
  forward_spam:
    description:
      - Forwarding spam reports, and mail to the C(abuse@) and C(postmaster@) addresses of authenticated domains.
    type: dict
    suboptions:
      enabled:
        description: Whether spam reports are forwarded.
        type: bool
      email:
        description:
          - The addresses to forward to. The API keeps them as one comma-separated string; they are compared as a
            set, ignoring order, case and spaces, and sent whole when they differ.
          - V([]) means none.
        type: list
        elements: str
  forward_bounce:
    description: Forwarding bounce reports.
    type: dict
    suboptions:
      enabled:
        description: Whether bounce reports are forwarded.
        type: bool
      email:
        description:
          - The address to forward to, compared ignoring case and spaces.
          - V("") means none (the API's C(null)).
        type: str
  footer:
    description: A footer added to every message.
    type: dict
    suboptions:
      enabled:
        description: Whether the footer is added.
        type: bool
      html_content:
        description: The footer of HTML messages.
        type: str
      plain_content:
        description: The footer of plain-text messages.
        type: str
  template:
    description: The legacy template wrapped around every HTML message.
    type: dict
    suboptions:
      enabled:
        description: Whether the template is used.
        type: bool
      html_content:
        description: The template's HTML; C(<% body %>) marks where the message goes.
        type: str
  address_whitelist:
    description: Addresses and domains whose mail is never suppressed.
    type: dict
    suboptions:
      enabled:
        description: Whether the whitelist applies.
        type: bool
      list:
        description:
          - The addresses and domains. Compared as a set, ignoring order, case and spaces; when it differs it is
            sent whole, since SendGrid replaces the list with the one it is sent.
          - V([]) empties it.
        type: list
        elements: str
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
  - module: mailops.sendgrid.sendgrid_tracking_settings
  - module: mailops.sendgrid.sendgrid_settings_info
  - name: Mail settings API reference
    description: SendGrid's description of the mail settings.
    link: https://www.twilio.com/docs/sendgrid/api-reference/settings-mail
"""

EXAMPLES = r"""
- name: Keep bounce records 30 days and forward spam reports to the abuse desk
  mailops.sendgrid.sendgrid_mail_settings:
    api_key: "{{ vault_sendgrid_api_key }}"
    bounce_purge:
      enabled: true
      soft_bounces: 30
      hard_bounces: 30
    forward_spam:
      enabled: true
      email:
        - abuse@example.com
        - postmaster@example.com

- name: No data leaves a subuser by forwarding, and no address bypasses its suppressions
  mailops.sendgrid.sendgrid_mail_settings:
    on_behalf_of: billing
    forward_spam:
      enabled: false
    forward_bounce:
      enabled: false
    address_whitelist:
      enabled: false

- name: A legal footer on every message of an EU subuser
  mailops.sendgrid.sendgrid_mail_settings:
    region: eu
    on_behalf_of: eu-newsletter
    footer:
      enabled: true
      plain_content: "Example GmbH, Berlin. Registered at Amtsgericht Charlottenburg."
      html_content: "<p>Example GmbH, Berlin. Registered at Amtsgericht Charlottenburg.</p>"
"""

RETURN = r"""
mail_settings:
  description:
    - The settings of each section given, after the task (in check mode, the settings the task would leave).
    - A section given with only C(enabled) holds only C(enabled); the others hold every field SendGrid returned.
  returned: success
  type: dict
  sample: {"bounce_purge": {"enabled": true, "soft_bounces": 30, "hard_bounces": 30}, "forward_bounce": {"enabled": false}}
changes:
  description: The fields written (in check mode, that would be written), per section; sections in sync are left out.
  returned: success
  type: dict
  sample: {"bounce_purge": {"soft_bounces": 30}}
diff:
  description: The settings before and after the task, per section, in diff mode.
  returned: success and diff mode
  type: dict
  contains:
    before:
      description: The fields read before the task.
      type: dict
      returned: diff mode
      sample: {"forward_spam": {"enabled": false, "email": []}}
    after:
      description: The fields after the task.
      type: dict
      returned: diff mode
      sample: {"forward_spam": {"enabled": true, "email": ["abuse@example.com"]}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._mail_settings import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
