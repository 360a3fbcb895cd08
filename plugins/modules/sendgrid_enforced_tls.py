#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_enforced_tls
short_description: Require TLS, valid certificates and a minimum TLS version for outgoing SendGrid mail
version_added: 1.0.0
description:
  - Makes a SendGrid account, or a subuser or customer account with O(on_behalf_of), require TLS from recipients'
    mail servers, and optionally valid certificates and a minimum TLS version.
  - Reads the current Enforced TLS settings with one C(GET /v3/user/settings/enforced_tls) and compares only the
    options given. When something differs, sends one C(PATCH) whose body holds only the fields that differ.
    When everything is in sync, exactly one request is sent and the task reports C(ok).
  - Options left out are never compared and never sent. With none of O(require_tls), O(require_valid_cert) and
    O(min_tls_version) given, the module only reads.
  - The API key needs the scopes C(user.settings.enforced_tls.read) and C(user.settings.enforced_tls.update).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family enforced_tls
  require_tls:
    description:
      - Whether recipients' mail servers must support TLS. When V(true), SendGrid drops mail to servers without TLS
        and sends a block event C(TLS required but not supported).
      - Left out or V(null), it is neither compared nor sent (likewise O(require_valid_cert) and
        O(min_tls_version)).
    type: bool
  require_valid_cert:
    description: Whether recipients' mail servers must present a valid certificate.
    type: bool
  min_tls_version:
    description:
      - The minimum TLS version recipients' mail servers must support (the API field C(version), a JSON number),
        V("1.1"), V("1.2") or V("1.3"). Another value fails before any request.
      - Quote it in YAML (V("1.2")) so that it stays text.
      - V(null), like leaving it out, means not managed.
    type: str
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Reads the settings and reports what would change; sends no C(PATCH).
  diff_mode:
    support: full
    details: Returns the settings before and after, never the API key.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_enforced_tls_info
  - name: Enforced TLS API reference
    description: SendGrid's description of the Enforced TLS settings.
    link: https://www.twilio.com/docs/sendgrid/api-reference/settings-enforced-tls
  - name: On behalf of subusers
    description: How the parent account's API key acts for subusers and customer accounts.
    link: https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/on-behalf-of
"""

EXAMPLES = r"""
- name: Require TLS with valid certificates and TLS 1.2 or newer
  mailops.sendgrid.sendgrid_enforced_tls:
    api_key: "{{ vault_sendgrid_api_key }}"
    require_tls: true
    require_valid_cert: true
    min_tls_version: "1.2"

- name: Require TLS for a subuser, leaving its certificate setting as it is
  mailops.sendgrid.sendgrid_enforced_tls:
    on_behalf_of: marketing
    require_tls: true

- name: Require TLS for an EU regional subuser
  mailops.sendgrid.sendgrid_enforced_tls:
    region: eu
    on_behalf_of: eu-newsletter
    require_tls: true

# To set api_key (or api_url, region) once for every mailops.sendgrid task of a play, put it in the play's
# module_defaults under group/mailops.sendgrid.sendgrid; the collection's settings guide shows such a play.
- name: Require TLS 1.3 for another subuser
  mailops.sendgrid.sendgrid_enforced_tls:
    on_behalf_of: billing
    require_tls: true
    min_tls_version: "1.3"
"""

RETURN = r"""
enforced_tls:
  description:
    - The Enforced TLS settings after the task (in check mode, the settings the task would leave).
    - RV(enforced_tls.min_tls_version) is V(null) when the API reports no version.
  returned: success
  type: dict
  contains:
    require_tls:
      description: Whether recipients must support TLS.
      type: bool
      returned: success
      sample: true
    require_valid_cert:
      description: Whether recipients must present a valid certificate.
      type: bool
      returned: success
      sample: false
    min_tls_version:
      description: The minimum TLS version, as text.
      type: str
      returned: success
      sample: "1.2"
changes:
  description: The settings that were written (in check mode, that would be written), in option names.
  returned: success
  type: dict
  sample: {"min_tls_version": "1.2"}
diff:
  description: The settings before and after the task, in diff mode.
  returned: success and diff mode
  type: dict
  contains:
    before:
      description: The settings before the task.
      type: dict
      returned: diff mode
      sample: {"require_tls": false, "require_valid_cert": false, "min_tls_version": "1.1"}
    after:
      description: The settings after the task.
      type: dict
      returned: diff mode
      sample: {"require_tls": true, "require_valid_cert": false, "min_tls_version": "1.2"}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._enforced_tls import FAMILY


def main():
    FAMILY.run_module()


if __name__ == "__main__":
    main()
