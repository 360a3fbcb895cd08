#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_baseline
short_description: Apply one security baseline to a SendGrid parent account and many subusers in one task
version_added: 1.1.0
description:
  - Makes the parent account (O(include_parent)), the accounts in O(accounts) and, with O(discover_subusers), every
    subuser the parent has, look like one policy, in one module run. The policy has a section per setting family,
    O(enforced_tls), O(tracking), O(mail_settings) and O(ip_access), each meaning what the module managing that family
    on one account says, and O(api_keys), a read-only audit of the API keys. A section left out or V(null) is not
    managed, and neither is a field left out or V(null) inside a section.
  - An account in O(accounts) may override any section of the policy, field by field. A list, such as the allow list's
    entries, replaces the policy's list whole.
  - Everything is checked before the first request. A bad value, in the policy or in an account's overrides, fails
    the task naming its place, such as C(tracking.click.enabled) or C(accounts[2].mail_settings.footer.enabled), and
    nothing is sent; so does a value of the wrong shape (a list given for text) at any depth. A value that would make
    a setting do nothing (forwarding switched on with no address) is applied with a warning naming it.
  - With O(discover_subusers), an account of O(accounts) that discovery did not find is refused before any settings
    request (a misspelled override would otherwise be an account of its own), and an O(exclude) pattern that
    matches no subuser is warned about; RV(excluded) says what discovery left out.
  - Up to O(concurrency) accounts are handled at a time, all within SendGrid's rate limit, each through its own
    region's host. Within an account, the settings are read, then only what differs is written; the allow list comes
    last, as the only change that may end this machine's access.
  - A failing account, or a failing setting of an account, is reported in RV(accounts) and does not stop the others.
    The task then fails at the end, once every other account and setting is done.
  - 'Requests per account, at the least (the integration tests check them request by request).
    O(enforced_tls): one C(GET /v3/user/settings/enforced_tls), and one C(PATCH) when it differs.
    O(tracking): one C(GET /v3/tracking_settings) for every section given with only C(enabled), one
    C(GET /v3/tracking_settings/NAME) for each section with other fields, one C(PATCH) per section that differs.
    O(mail_settings): the same with C(/v3/mail_settings).
    O(ip_access): one C(GET /v3/access_settings/whitelist); when it differs, one C(GET /v3/access_settings/activity)
    for the lockout guard (none with O(ip_access.client_addresses) or O(ip_access.allow_lockout)), then at most one
    C(POST) and one C(DELETE).
    O(api_keys): one C(GET /v3/api_keys?limit=100) (the most keys SendGrid allows an account) and one
    C(GET /v3/api_keys/ID) per key.
    So the whole baseline, with C(enabled) alone in each tracking and mail section, costs 5 GETs plus one per API
    key for an account in sync. Discovery adds one C(GET /v3/subusers) per page, and one for the empty page that ends
    the list. In check mode, when a setting would change, one C(GET /v3/scopes) per API host checks that the key may
    write it (a setting it may not write fails the plan, naming the missing scopes, instead of the apply later).'
  - 'The API key needs the scopes of each section given: C(user.settings.enforced_tls.read) and C(.update);
    C(tracking_settings.read), C(mail_settings.read), and C(tracking_settings.NAME.read), C(.update) (and the same for
    C(mail_settings.NAME)) for each section NAME given with more than C(enabled) or that differs;
    C(access_settings.whitelist.read), C(.create), C(.delete) and C(access_settings.activity.read); C(api_keys.read);
    and C(subusers.read) for discovery.'
  - The role C(mailops.sendgrid.baseline) wraps this module with a report (JSON, Markdown and JUnit) and a drift gate
    (M(mailops.sendgrid.sendgrid_drift_gate)).
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.option_names
options:
  include_parent:
    description:
      - Whether to apply the baseline to the parent account itself, on the host of O(region).
    type: bool
    default: true
  accounts:
    description:
      - The subusers and customer accounts to apply the baseline to.
      - Each item is a subuser's username (C(account-id <id>) for a customer account), or a dictionary with the
        keys below. An item with any other key fails before any request.
    type: list
    elements: raw
    default: []
    suboptions:
      on_behalf_of:
        description:
          - The subuser's username, or C(account-id <id>) for a customer account, sent as the C(on-behalf-of) header.
        type: str
        required: true
        aliases: [name]
      region:
        description:
          - The region the account is pinned to; it decides the API host.
          - Defaults to the region discovery found for the subuser (O(discover_subusers)), else O(region).
        type: str
        choices: [global, eu]
      enforced_tls:
        description: Overrides of O(enforced_tls) for this account, field by field.
        type: dict
      tracking:
        description:
          - Overrides of O(tracking) for this account, field by field (C(click.enabled), say).
          - A section the policy leaves out is managed for this account only.
        type: dict
      mail_settings:
        description: Overrides of O(mail_settings) for this account, field by field.
        type: dict
      ip_access:
        description: Overrides of O(ip_access) for this account, field by field; C(entries) replaces the policy's.
        type: dict
      api_keys:
        description: Overrides of O(api_keys) for this account, field by field; each list replaces the policy's.
        type: dict
  discover_subusers:
    description:
      - Whether to list every subuser of the parent (C(GET /v3/subusers), every page until an empty one) and apply
        the baseline to each one not listed in O(accounts), through its own region's host.
      - Subusers created later are covered on the next run. RV(discovered) says how many subusers the parent has.
    type: bool
    default: false
  exclude:
    description:
      - Usernames or shell-style patterns (C(*), C(?), C([abc])) that discovery leaves out.
      - Never removes an account listed in O(accounts).
    type: list
    elements: str
    default: []
  include_disabled:
    description:
      - Whether discovery includes disabled subusers.
    type: bool
    default: true
  concurrency:
    description:
      - How many accounts to handle at the same time, from 1 to 32.
    type: int
    default: 8
  enforced_tls:
    description:
      - The Enforced TLS settings, as M(mailops.sendgrid.sendgrid_enforced_tls) manages them.
    type: dict
    suboptions:
      require_tls:
        description: Whether recipients' mail servers must support TLS.
        type: bool
      require_valid_cert:
        description: Whether recipients' mail servers must present a valid certificate.
        type: bool
      min_tls_version:
        description:
          - The minimum TLS version recipients' mail servers must support, C("1.1"), C("1.2") or C("1.3"). Quote it in
            YAML. Another value fails before any request.
        type: str
  tracking:
    description:
      - The tracking settings, one section per setting, as M(mailops.sendgrid.sendgrid_tracking_settings) manages
        them. A section left out is neither read nor changed.
    type: dict
    suboptions:
      click:
        description: Click tracking.
        type: dict
        suboptions:
          enabled:
            description: Whether links are rewritten to track clicks.
            type: bool
      open:
        description: Open tracking.
        type: dict
        suboptions:
          enabled:
            description: Whether opens are tracked.
            type: bool
      subscription:
        description: Subscription tracking (an unsubscribe link in each message).
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
            description: A page of your own to send unsubscribing recipients to.
            type: str
      google_analytics:
        description: Google Analytics parameters added to the links of each message.
        type: dict
        suboptions:
          enabled:
            description: Whether the parameters are added.
            type: bool
          utm_source:
            description: The referrer source.
            type: str
          utm_medium:
            description: The marketing medium.
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
  mail_settings:
    description:
      - The mail settings, one section per setting, as M(mailops.sendgrid.sendgrid_mail_settings) manages them (and
        compares them, addresses as sets and V(0) days as none). A section left out is neither read nor changed.
    type: dict
    suboptions:
      bounce_purge:
        description: Purging bounce records after a number of days.
        type: dict
        suboptions:
          enabled:
            description: Whether bounce records are purged.
            type: bool
          soft_bounces:
            description: Days after which soft bounce records are purged; V(0) means none.
            type: int
          hard_bounces:
            description: Days after which hard bounce records are purged; V(0) means none.
            type: int
      forward_spam:
        description: Forwarding spam reports.
        type: dict
        suboptions:
          enabled:
            description: Whether spam reports are forwarded.
            type: bool
          email:
            description: The addresses to forward to, compared as a set; V([]) means none.
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
            description: The address to forward to; V("") means none.
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
            description: The addresses and domains, compared as a set and sent whole; V([]) empties it.
            type: list
            elements: str
  ip_access:
    description:
      - The IP access allow list, as M(mailops.sendgrid.sendgrid_ip_access) manages it, with its lockout guard, its
        refusal to empty the list other than by C(state=disabled), and its entry guards.
      - 'Entry guards, checked for the policy and every account before any request: an entry with host bits set
        (V(10.1.2.3/8)) fails, saying whether the address or the network was meant; a network of every address
        (V(0.0.0.0/0), V(::/0)) to add fails unless O(ip_access.allow_any_address=true); an entry to add wider than
        an IPv4 V(/16) or an IPv6 V(/48) gives a warning, once for the policy (C(ip_access.entries)) and once per
        account that gives entries of its own (C(accounts[2].ip_access.entries)).'
      - 'With C(state=absent), an entry that a wider entry staying on an account''s list still covers gives a warning
        that starts with the account''s name (C(marketing: 203.0.113.5 is not on the allow list...)), also when nothing
        changed and in check mode.'
    type: dict
    suboptions:
      entries:
        description:
          - IPv4 or IPv6 addresses, CIDR networks, or SendGrid wildcards such as C(203.0.113.*), compared as networks.
            An invalid entry fails before any request, and so does a network with host bits set (C(10.1.2.3/8)).
          - With C(state=present), an entry wider than V(/16) (IPv4) or V(/48) (IPv6) gives a warning, and a network
            of every address (C(0.0.0.0/0), C(::/0)) fails unless O(ip_access.allow_any_address=true).
        type: list
        elements: str
        default: []
      state:
        description:
          - C(present) adds the entries the list lacks (with O(ip_access.purge), also removes every other entry);
            C(absent) removes them; C(disabled) empties the list, switching IP Access Management off, and needs
            O(ip_access.entries) empty.
        type: str
        choices: [present, absent, disabled]
        default: present
      purge:
        description: With C(state=present), make the list exactly O(ip_access.entries).
        type: bool
        default: false
      allow_lockout:
        description: Let a change through even though no resulting entry covers this machine's address.
        type: bool
        default: false
      allow_any_address:
        description:
          - Let O(ip_access.entries) hold a network of every IPv4 or IPv6 address (C(0.0.0.0/0), C(::/0)), which lets
            any address reach the account and so undoes the allow list. It still gives a warning.
        type: bool
        default: false
      client_addresses:
        description:
          - The addresses this machine reaches SendGrid from, for the lockout guard. Left out, the guard reads the
            account's recent access activity.
        type: list
        elements: str
  api_keys:
    description:
      - An audit of each account's API keys, read only. A key is flagged when it holds a scope no pattern of
        O(api_keys.allowed_scopes) matches, or a scope that controls the account (C(api_keys.*), C(teammates.*),
        C(access_settings.*)) and its name is not in O(api_keys.allowed_control_keys).
      - Flagged keys are reported (status C(flagged), and in RV(drift)); they never fail the task.
      - Key secrets are never read nor returned (the API does not give them).
    type: dict
    suboptions:
      allowed_scopes:
        description:
          - Scopes or shell-style patterns (C(mail.send), C(user.settings.*)) a key may hold besides the control scopes.
          - Left out or null, only the control scopes are checked.
        type: list
        elements: str
      allowed_control_keys:
        description:
          - The keys allowed to hold control scopes, such as the automation's own key, each by its C(api_key_id) or
            its name (a name allows a key only when no other key of the account has it). Their other scopes are
            still checked against O(api_keys.allowed_scopes).
        type: list
        elements: str
        default: []
attributes:
  check_mode:
    support: full
    details: Reads every account and reports what would change (status C(would_change)); sends no C(PATCH), C(POST) or
      C(DELETE). The lockout guard and the checks still refuse what they would refuse.
  diff_mode:
    support: full
    details: One before/after diff per account, with its settings as read and as they are (or would be) after.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_enforced_tls_accounts
  - module: mailops.sendgrid.sendgrid_tracking_settings
  - module: mailops.sendgrid.sendgrid_mail_settings
  - module: mailops.sendgrid.sendgrid_ip_access
  - module: mailops.sendgrid.sendgrid_subuser_info
"""

EXAMPLES = r"""
- name: One baseline for the parent and every subuser, with an exception on record
  mailops.sendgrid.sendgrid_baseline:
    api_key: "{{ vault_sendgrid_api_key }}"
    discover_subusers: true
    exclude: ["sandbox-*"]
    enforced_tls:
      require_tls: true
      min_tls_version: "1.2"
    tracking:
      open:
        enabled: false
      click:
        enabled: false
    mail_settings:
      forward_spam:
        enabled: false
      address_whitelist:
        enabled: false
    ip_access:
      entries:
        - 127.0.0.1          # this machine, as SendGrid sees it
        - 203.0.113.0/24     # the office
    api_keys:
      allowed_scopes: ["mail.send", "user.settings.*", "tracking_settings.*", "mail_settings.*"]
    accounts:
      - name: legacy-relay
        enforced_tls:
          min_tls_version: "1.1"
  register: baseline

- name: Show the accounts and settings that drifted
  ansible.builtin.debug:
    msg: "{{ baseline.drift }}"
"""

RETURN = r"""
accounts:
  description: One entry per account, in the order handled (the parent first, then the listed, then the discovered).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: V(parent), or the account's O(accounts[].on_behalf_of).
      type: str
      returned: always
      sample: marketing
    on_behalf_of:
      description: The C(on-behalf-of) header sent, V(null) for the parent.
      type: str
      returned: always
      sample: marketing
    region:
      description: The account's region.
      type: str
      returned: always
      sample: global
    api_url:
      description: The API host the account was managed through.
      type: str
      returned: always
      sample: https://api.sendgrid.com
    changed:
      description: Whether a setting of the account was (in check mode, would be) changed.
      type: bool
      returned: always
      sample: true
    failed:
      description: Whether the account, or one of its settings, failed.
      type: bool
      returned: always
      sample: false
    msg:
      description: Why the account failed, or each failed setting's name followed by why it failed, separated by semicolons.
      type: str
      returned: when the account failed
      sample: "mail_settings.footer: Updating the footer settings PATCH ... failed (HTTP 400: ...)."
    settings:
      description:
        - One entry per setting managed, named C(enforced_tls), C(tracking.NAME), C(mail_settings.NAME), C(ip_access)
          or C(api_keys).
        - Each setting has C(status), V(compliant), V(changed), V(would_change) (check mode) or V(failed); C(before)
          and C(after), the fields read before and after the task (for C(ip_access) the entries as networks; V(null)
          when it failed); C(changes), the fields written or that would be (for C(ip_access), C(added) and
          C(removed)); and C(msg) when it failed.
        - In check mode, a setting that would change but that the API key may not write (its scopes, read once per
          host with C(GET /v3/scopes)) is V(failed), keeps C(before), C(after) and C(changes), and has
          C(missing_scopes), the scopes the apply would need.
        - C(api_keys) has C(status), V(compliant), V(flagged) or V(failed); C(keys), how many keys the account has;
          C(flagged), each flagged key's C(name), C(api_key_id), C(excess_scopes), C(control_scopes) and
          C(name_shared); and C(msg) when it failed.
      type: dict
      returned: always
      sample:
        enforced_tls: {"status": "changed", "before": {"require_tls": false, "require_valid_cert": false,
                       "min_tls_version": "1.1"}, "after": {"require_tls": true, "require_valid_cert": false,
                       "min_tls_version": "1.2"}, "changes": {"require_tls": true, "min_tls_version": "1.2"}}
        tracking.open: {"status": "compliant", "before": {"enabled": false}, "after": {"enabled": false}, "changes": {}}
        api_keys: {"status": "flagged", "keys": 2, "flagged": [{"name": "ci", "api_key_id": "k1",
                   "excess_scopes": [], "control_scopes": ["api_keys.create"]}]}
    overrides:
      description: The sections this account's own item of O(accounts) overrides, in the policy's order; V([]) when none.
      type: list
      elements: str
      returned: always
      sample: [tracking]
      version_added: 1.1.0
    disabled:
      description: Whether the account is a disabled subuser, as discovery found it; V(null) when not known (the
        parent, an account not discovered).
      type: bool
      returned: always
      sample: false
      version_added: 1.1.0
summary:
  description:
    - How many accounts were handled, and how many of them changed, would change (check mode), failed or have a
      flagged key; an account counts under each that applies. V(compliant) counts those with none of these.
  returned: always
  type: dict
  sample: {"accounts": 4, "compliant": 2, "changed": 1, "would_change": 0, "failed": 0, "flagged": 1}
drift:
  description:
    - Every account with a setting that changed, would change or has a flagged key, and those settings;
      C(flagged) names the flagged items of each setting that has some, such as the API keys beyond the policy
      (V({}) when none has).
  returned: always
  type: list
  elements: dict
  sample: [{"account": "marketing", "settings": ["tracking.open", "api_keys"], "flagged": {"api_keys": ["ci-deploy"]}}]
written:
  description:
    - Every account with a setting written by this run, and those settings; V([]) in check mode. When the task fails
      part-way, this is what it wrote before or beside the failures, which the play recap does not count.
  returned: always
  type: list
  elements: dict
  sample: [{"account": "parent", "settings": ["tracking.click"]}]
  version_added: 1.1.0
excluded:
  description:
    - What discovery left out. C(exclude) has each pattern of O(exclude) with the subusers it left out (V([]) for a
      pattern that matched none, which is also warned about); C(disabled) the disabled subusers left out by
      O(include_disabled=false). V(null) without O(discover_subusers).
  returned: always
  type: dict
  sample: {"exclude": [{"pattern": "sandbox-*", "subusers": ["sandbox-trial"]}], "disabled": []}
  version_added: 1.1.0
msg:
  description:
    - The verdict in one line, the counts, then each flagged API key with its account, id and why (the first five).
      When the task fails, which accounts failed and why, then what was written.
  returned: always
  type: str
  sample: "4 accounts: 2 compliant, 1 would change, 1 with a flagged API key, 0 failed. Flagged: marketing:
    ci-deploy (id k1) holds account-control scopes api_keys.create (allowed_control_keys does not name it)."
  version_added: 1.1.0
policy:
  description: The policy applied, as the module understood it (V(null) for a section not managed).
  returned: always
  type: dict
  sample: {"enforced_tls": {"require_tls": true, "require_valid_cert": null, "min_tls_version": "1.2"},
           "tracking": null, "mail_settings": null, "ip_access": null, "api_keys": null}
discovered:
  description: How many subusers discovery found (every page), before exclusions; V(null) without O(discover_subusers).
  returned: always
  type: int
  sample: 312
check_mode:
  description: Whether this was a dry run (check mode), in which nothing was written.
  returned: always
  type: bool
  sample: false
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._baseline import run_module


def main():
    run_module()


if __name__ == "__main__":
    main()
