#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_link_branding
short_description: Brand the links of a SendGrid account, give their DNS records and validate them
version_added: 1.2.0
description:
  - Makes one branded link of a SendGrid account (or of a subuser or customer account with O(on_behalf_of)) exist,
    known by its O(domain) and O(subdomain), or deletes it.
  - 'Requests: one C(GET /v3/whitelabel/links?limit=3000) (an account holds at most 3000 branded links, and the list
    takes no offset). Then only what differs: C(POST /v3/whitelabel/links) to create (with the connection''s
    O(region), V(us) or V(eu) as the link API names them); C(PATCH /v3/whitelabel/links/{id}) of O(default);
    C(GET /v3/whitelabel/links/subuser?username=) and C(POST .../{link_id}/subuser) per subuser of O(subusers);
    C(DELETE /v3/whitelabel/links/{id}) to delete.'
  - RV(dns_records) lists the two CNAME records SendGrid asks for, as DNS modules take them; O(validate=true) then
    asks SendGrid to check them, for up to O(wait_timeout) seconds.
  - 'The API key needs the scope C(whitelabel.read), and C(whitelabel.create) to create, C(whitelabel.delete) to
    delete and C(whitelabel.update) for every other change: the C(PATCH), the subusers and validation.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family link_branding
  domain:
    description: The root domain of the branded links, such as V(example.com) (compared ignoring case).
    type: str
    required: true
  subdomain:
    description:
      - 'The subdomain the links go through, such as V(links): with O(domain), what identifies the branded link
        (compared ignoring case). It must differ from the subdomain of the domain''s authentication.'
    type: str
    required: true
  state:
    description: V(present) makes the branded link exist as the options say; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  default:
    description:
      - Whether it is the account's default (SendGrid takes the default from the account's other one). Changed with
        the C(PATCH); left out, SendGrid's default when creating, unchanged otherwise.
    type: bool
  subusers:
    description:
      - 'Subusers that must use this branded link of the parent: each whose link (C(GET .../links/subuser)) is
        another or none gets this one (C(POST .../{link_id}/subuser), which replaces the one it had). A subuser has
        one branded link; SendGrid lists no link''s subusers, so a subuser not listed is left as it is.'
      - 'Only for the parent''s own links: fails before any request with O(on_behalf_of).'
    type: list
    elements: str
  validate:
    description:
      - 'Make sure SendGrid holds the branded link valid: when it is not, C(POST .../validate) asks SendGrid to look
        its DNS records up, again every O(poll_interval) seconds until it is valid or O(wait_timeout) is over. A
        valid one is not validated again.'
      - When it is still invalid, the task fails naming each invalid record with SendGrid's reason.
      - 'In check mode nothing is validated: the task says it would change when it is not valid.'
      - Validation writes no configuration; the task counts it as a change only when it made an invalid one valid.
    type: bool
    default: false
  wait_timeout:
    description:
      - With O(validate=true), how many seconds to keep validating while the records are not yet visible (DNS takes
        time to propagate); V(0), one attempt. Zero or more.
    type: int
    default: 0
  poll_interval:
    description: Seconds between two validations while O(wait_timeout) lasts. One or more.
    type: int
    default: 10
  # END GENERATED
attributes:
  check_mode:
    support: full
    details: Reads the links (and each listed subuser's link) and reports what would change; sends no write and does
      not validate (a link that is not valid is reported as a change when O(validate=true)).
  diff_mode:
    support: full
    details: The branded link before and after (without its records).
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_link_branding_info
  - module: mailops.sendgrid.sendgrid_domain_authentication
  - name: Link branding API reference
    description: SendGrid's description of the branded link endpoints.
    link: https://www.twilio.com/docs/sendgrid/api-reference/link-branding
"""

EXAMPLES = r"""
- name: Brand the parent's links as links.example.com, the default for its mail
  mailops.sendgrid.sendgrid_link_branding:
    api_key: "{{ vault_sendgrid_api_key }}"
    domain: example.com
    subdomain: links
    default: true
  register: branded

- name: Publish its two CNAME records on the zone's primary name server
  community.general.nsupdate:
    server: "{{ dns_primary }}"
    port: "{{ dns_port }}"
    zone: example.com
    record: "{{ item.host }}"
    type: "{{ item.type }}"
    value: "{{ item.data }}"
  loop: "{{ branded.dns_records }}"

- name: Validate it
  mailops.sendgrid.sendgrid_link_branding:
    domain: example.com
    subdomain: links
    validate: true
    wait_timeout: 300

- name: A subuser's own branded link
  mailops.sendgrid.sendgrid_link_branding:
    on_behalf_of: marketing
    domain: marketing.example.com
    subdomain: click
"""

RETURN = r"""
link:
  description: The branded link after the task (in check mode, as it would be; C(id) V(null) for one it would create),
    V(null) when absent.
  returned: success
  type: dict
  sample: {"id": 7, "domain": "example.com", "subdomain": "links", "username": "parent", "default": true,
           "valid": false, "legacy": false}
dns_records:
  description:
    - The two CNAME records SendGrid asks for (V(domain_cname), V(owner_cname)); V([]) when absent, and in check
      mode for a link not yet made. C(host) and C(data) are absolute names (a trailing dot).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: SendGrid's name of the record.
      type: str
    type:
      description: V(CNAME).
      type: str
    host:
      description: The name to publish the record at, absolute.
      type: str
    data:
      description: The record's value, absolute.
      type: str
    valid:
      description: Whether SendGrid found it (at the last validation).
      type: bool
  sample: [{"name": "domain_cname", "type": "CNAME", "host": "links.example.com.", "data": "sendgrid.net.",
            "valid": false}]
changes:
  description: What was written (in check mode, would be) (C(created), C(deleted) with the id, C(updated) with the
    fields, C(subusers_added)), and C(validated) when validation made the link valid.
  returned: always
  type: dict
  sample: {"created": 7}
recreated:
  description: Always V(false) (a branded link has nothing C(PATCH) cannot change).
  returned: success
  type: bool
  sample: false
validation:
  description: The last validation (C(valid), C(attempts), C(results) of each record with SendGrid's C(reason)),
    V(null) when none was made.
  returned: success and when validation failed
  type: dict
  sample: {"valid": true, "attempts": 1, "results": {"domain_cname": {"valid": true, "reason": null}}}
diff:
  description: The branded link before and after, in diff mode.
  returned: diff mode
  type: dict
  sample: {"before": {"link": null}, "after": {"link": {"domain": "example.com", "subdomain": "links"}}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._whitelabel import LINK_FAMILY


def main():
    LINK_FAMILY.run_module()


if __name__ == "__main__":
    main()
