#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_domain_authentication
short_description: Authenticate a sending domain of a SendGrid account, give its DNS records and validate them
version_added: 1.2.0
description:
  - Makes one authenticated domain of a SendGrid account (or of a subuser or customer account with O(on_behalf_of))
    exist as the options say, known by its O(domain) and O(subdomain), or deletes it.
  - 'Requests: one C(GET /v3/whitelabel/domains?exclude_subusers=true&domain=DOMAIN) per page of 500, until an empty
    page (the account''s own domains). Then only what differs: C(POST /v3/whitelabel/domains) to create (with the
    connection''s O(region)); one C(PATCH /v3/whitelabel/domains/{id}) of what differs of O(default) and
    O(custom_spf); C(POST .../ips) or C(DELETE .../ips/{ip}) per IP; C(POST .../subuser:add) or
    C(DELETE .../subuser?username=) per subuser; C(DELETE /v3/whitelabel/domains/{id}) to delete.'
  - What C(PATCH) cannot change (O(automatic_security), O(custom_dkim_selector)) fails the task naming the option,
    with nothing written, unless O(recreate=true); the domain is then deleted and created again, which the result
    says in RV(recreated) and the diff.
  - RV(dns_records) lists the DNS records SendGrid asks for, each with C(host), C(type) and C(data) as DNS modules
    take them, so that a loop publishes them (see the examples and the sender identity guide); O(validate=true) then
    asks SendGrid to check them, for up to O(wait_timeout) seconds.
  - 'The API key needs the scope C(whitelabel.read), and C(whitelabel.create) to create, C(whitelabel.delete) to
    delete (both to recreate) and C(whitelabel.update) for every other change: the C(PATCH), the IPs, the subusers and
    validation.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.on_behalf_of
options:
  # BEGIN GENERATED family domain_authentication
  domain:
    description: The domain to authenticate, such as V(example.com) (compared ignoring case).
    type: str
    required: true
  subdomain:
    description:
      - 'The subdomain SendGrid sends from (the return path), such as V(em): with O(domain), what identifies the
        authenticated domain (compared ignoring case). DNS labels: letters, digits and hyphens.'
    type: str
    required: true
  state:
    description: V(present) makes the authenticated domain exist as the options say; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  automatic_security:
    description:
      - Whether SendGrid manages the SPF and DKIM records (CNAME records to SendGrid) rather than the account (MX
        and TXT records). Left out, SendGrid's default (V(true)) when creating.
      - 'PATCH cannot change it: a domain that has the other value fails the task, naming the option, unless
        O(recreate=true).'
    type: bool
  custom_spf:
    description:
      - Whether SendGrid makes a custom SPF record of the domain's O(ips); only for O(automatic_security=false)
        (manual security). Changed with the C(PATCH).
    type: bool
  custom_dkim_selector:
    description:
      - A DKIM selector of 1 to 3 letters or digits (V(s1) is SendGrid's own), used in the DKIM records' names.
      - 'PATCH cannot change it: a domain with another selector fails the task, naming the option, unless
        O(recreate=true).'
    type: str
  ips:
    description:
      - 'The IPv4 addresses of the domain''s custom SPF record, compared as a set: each missing one added with
        C(POST .../ips), each other one removed with C(DELETE .../ips/{ip}). Left out, left alone.'
    type: list
    elements: str
  default:
    description:
      - Whether it is the account's default (SendGrid takes the default from the account's other one). Changed with
        the C(PATCH); left out, SendGrid's default when creating, unchanged otherwise.
    type: bool
  subusers:
    description:
      - 'The subusers the parent''s domain is associated with, compared as a set: each missing one added with C(POST
        .../subuser:add), each other one taken back with C(DELETE .../subuser?username=). A subuser may hold five
        associated domains. V([]) takes every association back; left out, left alone.'
      - 'Only for the parent''s own domains: fails before any request with O(on_behalf_of).'
    type: list
    elements: str
  recreate:
    description:
      - 'When the domain differs in what PATCH cannot change (O(automatic_security), O(custom_dkim_selector)),
        delete it and create it again as the options say (O(ips), O(default), O(custom_spf) and the associations
        kept unless given). The result says so in C(recreated) and the diff. Its records may change: publish them
        and validate again.'
    type: bool
    default: false
  validate:
    description:
      - 'Make sure SendGrid holds the authenticated domain valid: when it is not, C(POST .../validate) asks SendGrid
        to look its DNS records up, again every O(poll_interval) seconds until it is valid or O(wait_timeout) is
        over. A valid one is not validated again.'
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
    details: Reads the domains and reports what would change; sends no write and does not validate (a domain that is
      not valid is reported as a change when O(validate=true)). RV(dns_records) is empty for a domain it would
      create, whose records SendGrid has not made yet.
  diff_mode:
    support: full
    details: The domain before and after (without its records).
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_domain_authentication_info
  - module: mailops.sendgrid.sendgrid_link_branding
  - name: Domain authentication API reference
    description: SendGrid's description of the authenticated domain endpoints.
    link: https://www.twilio.com/docs/sendgrid/api-reference/domain-authentication
"""

EXAMPLES = r"""
- name: Authenticate example.com for the parent (em.example.com), SendGrid managing SPF and DKIM
  mailops.sendgrid.sendgrid_domain_authentication:
    api_key: "{{ vault_sendgrid_api_key }}"
    domain: example.com
    subdomain: em
    default: true
  register: parent_domain

- name: Publish its records on the zone's primary name server, as SendGrid gives them
  community.general.nsupdate:
    server: "{{ dns_primary }}"
    port: "{{ dns_port }}"
    zone: example.com
    record: "{{ item.host }}"
    type: "{{ item.type }}"
    value: "{{ item.data }}"
  loop: "{{ parent_domain.dns_records }}"

- name: Validate it, for up to 5 minutes while DNS propagates
  mailops.sendgrid.sendgrid_domain_authentication:
    domain: example.com
    subdomain: em
    validate: true
    wait_timeout: 300
    poll_interval: 15

- name: Let the subusers marketing and billing send as the parent's domain
  mailops.sendgrid.sendgrid_domain_authentication:
    domain: example.com
    subdomain: em
    subusers: [marketing, billing]

- name: A subuser's own domain with manual security and a custom SPF record of its IPs
  mailops.sendgrid.sendgrid_domain_authentication:
    on_behalf_of: marketing
    domain: marketing.example.com
    subdomain: mail
    automatic_security: false
    custom_spf: true
    custom_dkim_selector: mk1
    ips:
      - 192.0.2.10

- name: No longer authenticate an old domain
  mailops.sendgrid.sendgrid_domain_authentication:
    domain: old.example.com
    subdomain: em
    state: absent
"""

RETURN = r"""
domain:
  description:
    - The authenticated domain after the task (in check mode, as it would be), V(null) when absent.
    - C(id) is V(null) for a domain check mode would create. C(custom_dkim_selector) is read from the DKIM records'
      names (V(s1) is SendGrid's own); C(subusers) the usernames it is associated with.
  returned: success
  type: dict
  sample: {"id": 12, "domain": "example.com", "subdomain": "em", "username": "parent", "automatic_security": true,
           "custom_spf": false, "custom_dkim_selector": "s1", "default": true, "ips": [], "valid": true,
           "subusers": ["marketing"]}
dns_records:
  description:
    - The DNS records SendGrid asks for, in its order; V([]) when absent, and in check mode for a domain not yet made.
    - C(host) and C(data) are absolute names (a trailing dot) and an MX record's C(data) carries its priority, as
      M(community.general.nsupdate) and M(amazon.aws.route53) take them; C(type) is V(CNAME), V(TXT) or V(MX).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: SendGrid's name of the record, such as V(mail_cname), V(dkim1), V(subdomain_spf).
      type: str
    type:
      description: The record type, in capitals.
      type: str
    host:
      description: The name to publish the record at, absolute.
      type: str
    data:
      description: The record's value.
      type: str
    valid:
      description: Whether SendGrid found it (at the last validation).
      type: bool
  sample: [{"name": "mail_cname", "type": "CNAME", "host": "em.example.com.", "data": "u10000.wl.sendgrid.net.",
            "valid": false}]
changes:
  description: What was written (in check mode, would be) (C(created), C(recreated), C(deleted) with the id,
    C(updated) with the fields, C(ips_added), C(ips_removed), C(subusers_added), C(subusers_removed)), and
    C(validated) when validation made the domain valid.
  returned: always
  type: dict
  sample: {"created": 12, "subusers_added": ["marketing"]}
recreated:
  description: Whether the domain was (in check mode, would be) deleted and created again (O(recreate)).
  returned: success
  type: bool
  sample: false
validation:
  description:
    - The last validation, V(null) when none was made (O(validate) not set, the domain already valid, check mode).
    - C(results) maps each record's name to C(valid) and SendGrid's C(reason).
  returned: success and when validation failed
  type: dict
  sample: {"valid": true, "attempts": 2, "results": {"mail_cname": {"valid": true, "reason": null}}}
diff:
  description: The domain before and after, in diff mode; with C(recreated) (V(false) before, V(true) after) when it
    was deleted and created again.
  returned: diff mode
  type: dict
  sample: {"before": {"domain": null}, "after": {"domain": {"domain": "example.com", "subdomain": "em"}}}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._whitelabel import DOMAIN_FAMILY


def main():
    DOMAIN_FAMILY.run_module()


if __name__ == "__main__":
    main()
