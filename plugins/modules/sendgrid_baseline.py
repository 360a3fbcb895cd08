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
    O(enforced_tls), O(tracking), O(mail_settings), O(ip_access) and O(teammates), each meaning what the module
    managing that family on one account says, O(api_keys), an audit of the API keys that cuts what it flags when
    asked, and O(event_webhooks), an audit of the event webhooks that signs the unsigned when asked. A section left
    out or V(null) is not managed, and neither is a field left out or V(null) inside a section.
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
    O(event_webhooks): one C(GET /v3/user/webhooks/event/settings/all) (every webhook, with its public key when
    signed); with O(event_webhooks.enforce), one C(PATCH /v3/user/webhooks/event/settings/signed/ID) per webhook signed.
    O(api_keys): one C(GET /v3/api_keys?limit=100) (the most keys SendGrid allows an account) and one
    C(GET /v3/api_keys/ID) per key; with O(api_keys.enforce), one C(PUT /v3/api_keys/ID) per key cut.
    O(teammates): one C(GET /v3/teammates?limit=500&offset=N) per page of 500, one C(GET /v3/teammates/USERNAME) per
    teammate who is no admin (the list holds no scopes), one C(GET /v3/teammates/pending); then one write per change
    (C(POST /v3/teammates) to invite, C(PATCH /v3/teammates/USERNAME), C(DELETE /v3/teammates/pending/TOKEN) and a
    C(POST) to replace an invite, C(DELETE) to remove).
    So the whole baseline, with C(enabled) alone in each tracking and mail section, costs 5 GETs plus one per API
    key for an account in sync. Discovery adds one C(GET /v3/subusers) per page, and one for the empty page that ends
    the list. In check mode, when a setting would change, one C(GET /v3/scopes) per API host checks that the key may
    write it (a setting it may not write fails the plan, naming the missing scopes, instead of the apply later).'
  - 'The API key needs the scopes of each section given: C(user.settings.enforced_tls.read) and C(.update);
    C(tracking_settings.read), C(mail_settings.read), and C(tracking_settings.NAME.read), C(.update) (and the same for
    C(mail_settings.NAME)) for each section NAME given with more than C(enabled) or that differs;
    C(access_settings.whitelist.read), C(.create), C(.delete) and C(access_settings.activity.read); C(api_keys.read)
    (and C(api_keys.update) with O(api_keys.enforce)); C(user.webhooks.event.settings.read) (and C(.update) with
    O(event_webhooks.enforce)); C(teammates.read), and C(teammates.create), C(.update),
    C(.delete) for the writes O(teammates) makes; and C(subusers.read) for discovery.'
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
  parent:
    description:
      - The parent account's own overrides of the policy, field by field, as an item of O(accounts) gives a
        subuser's (a list replaces the policy's whole). Any other key fails before any request.
      - Used with O(include_parent=true) only. M(mailops.sendgrid.sendgrid_baseline_export) writes it when the parent
        differs from the policy most accounts share.
    type: dict
    version_added: 1.2.0
    suboptions:
      # BEGIN GENERATED overrides
      enforced_tls:
        description:
          - Overrides of O(enforced_tls) for this account, field by field; a list replaces the policy's whole.
        type: dict
      tracking:
        description: Overrides of O(tracking) for this account, field by field; a list replaces the policy's whole.
        type: dict
      mail_settings:
        description:
          - Overrides of O(mail_settings) for this account, field by field; a list replaces the policy's whole.
        type: dict
      event_webhooks:
        description:
          - Overrides of O(event_webhooks) for this account, field by field; a list replaces the policy's whole.
        type: dict
      ip_access:
        description: Overrides of O(ip_access) for this account, field by field; a list replaces the policy's whole.
        type: dict
      api_keys:
        description: Overrides of O(api_keys) for this account, field by field; a list replaces the policy's whole.
        type: dict
      teammates:
        description: Overrides of O(teammates) for this account, field by field; a list replaces the policy's whole.
        type: dict
      # END GENERATED
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
      # BEGIN GENERATED overrides
      enforced_tls:
        description:
          - Overrides of O(enforced_tls) for this account, field by field; a list replaces the policy's whole.
        type: dict
      tracking:
        description: Overrides of O(tracking) for this account, field by field; a list replaces the policy's whole.
        type: dict
      mail_settings:
        description:
          - Overrides of O(mail_settings) for this account, field by field; a list replaces the policy's whole.
        type: dict
      event_webhooks:
        description:
          - Overrides of O(event_webhooks) for this account, field by field; a list replaces the policy's whole.
        type: dict
      ip_access:
        description: Overrides of O(ip_access) for this account, field by field; a list replaces the policy's whole.
        type: dict
      api_keys:
        description: Overrides of O(api_keys) for this account, field by field; a list replaces the policy's whole.
        type: dict
      teammates:
        description: Overrides of O(teammates) for this account, field by field; a list replaces the policy's whole.
        type: dict
      # END GENERATED
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
  progress_interval:
    description:
      - How often, in seconds, to show the run's progress while the task runs, from 1 to 3600; V(0) shows none.
      - 'The progress is a line in the play''s output (the default callback, and AWX''s job output) at most this
        often, such as C([localhost] sendgrid_baseline: 120 of 1000 accounts done, 2 failed, about 4m10s left), which
        also says when the run waits for SendGrid''s rate limit and until when. With C(-v), one line per account done,
        with its outcome (ok, changed, would change, failed). The lines name accounts and count them; they hold no
        key and no setting.'
      - To show it, the module writes a progress file while it runs. On the controller (the local connection, without
        become) the module runs as any other and the file is read from a private temporary directory; on another
        host the task runs the module asynchronously and reads the file in the async directory through the
        connection while it polls. The task's result is the module's own, as without progress. With V(0), with the
        task keyword C(async), or on a connection that cannot run a module asynchronously, the module runs as any
        other, and shows nothing until it ends.
    type: float
    default: 10
    version_added: 1.2.0
  # BEGIN GENERATED sections
  enforced_tls:
    description:
      - 'The Enforced TLS settings, as M(mailops.sendgrid.sendgrid_enforced_tls) manages them: whether recipients''
        mail servers must support TLS, present a valid certificate, and which minimum TLS version.'
      - V(null), or leaving it out, leaves it alone.
    type: dict
    suboptions:
      require_tls:
        description:
          - Whether recipients' mail servers must support TLS. When V(true), SendGrid drops mail to servers without
            TLS and sends a block event C(TLS required but not supported).
          - Left out or V(null), it is neither compared nor sent (likewise O(enforced_tls.require_valid_cert) and
            O(enforced_tls.min_tls_version)).
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
  tracking:
    description:
      - The tracking settings, one section per setting, as M(mailops.sendgrid.sendgrid_tracking_settings) manages
        them. A section left out is neither read nor changed.
      - V(null), or leaving it out, leaves it alone.
    type: dict
    suboptions:
      click:
        description:
          - Click tracking, which rewrites the links of each message to count clicks.
          - SendGrid also reports C(enable_text) (whether plain-text mail is click-tracked), but its API does not
            let it be set. M(mailops.sendgrid.sendgrid_settings_info) returns it.
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
  mail_settings:
    description:
      - The mail settings, one section per setting, as M(mailops.sendgrid.sendgrid_mail_settings) manages them (and
        compares them, addresses as sets and V(0) days as none). A section left out is neither read nor changed.
      - V(null), or leaving it out, leaves it alone.
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
            description:
              - Days after which soft bounce records are purged, from 0 to 3650. SendGrid states no bound; ten years
                is this collection's, so that a typo (5000 for 500) fails before any request.
              - V(0) means none (the API's C(null)); the API returns C(null) as V(0) too.
            type: int
          hard_bounces:
            description:
              - Days after which hard bounce records are purged, from 0 to 3650. SendGrid states no bound; ten years
                is this collection's, so that a typo (5000 for 500) fails before any request.
              - V(0) means none (the API's C(null)); the API returns C(null) as V(0) too.
            type: int
      forward_spam:
        description:
          - Forwarding spam reports, and mail to the C(abuse@) and C(postmaster@) addresses of authenticated
            domains.
        type: dict
        suboptions:
          enabled:
            description: Whether spam reports are forwarded.
            type: bool
          email:
            description:
              - The addresses to forward to. The API keeps them as one comma-separated string; they are compared as
                a set, ignoring order, case and spaces, and sent whole when they differ.
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
  event_webhooks:
    description:
      - 'An audit of the account''s event webhooks, as M(mailops.sendgrid.sendgrid_event_webhook_info) does it, and
        with enforce the signing of the unsigned (M(mailops.sendgrid.sendgrid_event_webhook) manages them one by
        one). A webhook that is not https, not signed, or whose host allowed_hosts does not match is flagged: drift
        that a person fixes (the URL is never changed here), or for the unsigned, enforce.'
      - V(null), or leaving it out, leaves it alone.
    type: dict
    suboptions:
      require_https:
        description:
          - 'Flag every webhook whose URL is not C(https://): its events, with the recipients'' addresses, cross the
            network in clear text.'
        type: bool
        default: true
      require_signed:
        description:
          - 'Flag every webhook without signature verification: its receiver cannot tell SendGrid''s posts from
            anyone else''s.'
        type: bool
        default: true
      allowed_hosts:
        description:
          - The hosts webhooks may post to, as host names or shell-style patterns of them (V(hooks.example.com),
            V(*.example.com)), compared ignoring case and the final dot of a fully qualified name
            (V(hooks.example.com.) is V(hooks.example.com)). A webhook whose URL's host matches none is flagged.
            V(null) checks no hosts.
          - Each is a host without scheme, port or path; another value fails before any request.
        type: list
        elements: str
      enforce:
        description:
          - 'Turn signature verification on for every webhook flagged as unsigned (O(event_webhooks.require_signed))
            with C(PATCH /v3/user/webhooks/event/settings/signed/{id}), the one fix that changes nothing its events
            go to: a webhook''s URL is never changed, and a webhook flagged for its URL or host stays flagged. The
            receiver must then verify the signature with the webhook''s public key (see
            M(mailops.sendgrid.sendgrid_event_webhook_info)). In check mode, the webhooks that would be signed (the
            report says C(would sign)). The drift, and the gate''s message, name the webhooks signed or to sign as
            they name the flagged ones.'
          - Needs the scope C(user.webhooks.event.settings.update). V(false) only audits.
        type: bool
        default: false
  ip_access:
    description:
      - The IP access allow list, as M(mailops.sendgrid.sendgrid_ip_access) manages it, with its lockout guard, its
        refusal to empty the list other than by C(state=disabled), and its entry guards (host bits, networks of
        every address, wide entries).
      - V(null), or leaving it out, leaves it alone.
    type: dict
    suboptions:
      entries:
        description:
          - IPv4 or IPv6 addresses, CIDR networks, or SendGrid wildcards (V(203.0.113.*), V(203.*.*.*)), compared as
            networks. An invalid entry fails before any request.
          - A network must be written as its first address (V(10.0.0.0/8)); one with host bits set (V(10.1.2.3/8))
            fails before any request.
          - A network of every address (V(0.0.0.0/0), V(::/0)) fails before any request with
            O(ip_access.state=present), unless O(ip_access.allow_any_address=true).
          - 'Wide entries warn: with O(ip_access.state=present), each entry wider than V(/16) (IPv4, more than 65536
            addresses) or V(/48) (IPv6) gives a warning naming it; V(10.*.*.*) is V(10.0.0.0/8) and warns too.'
        type: list
        elements: str
        default: []
      state:
        description:
          - V(present) adds the O(ip_access.entries) the list lacks (with O(ip_access.purge=true), also removes
            every other entry).
          - V(absent) removes the O(ip_access.entries) the list holds (entries equal to them as networks; an entry
            that only covers one, such as a wider network, stays, and the task warns that the entry keeps access
            through it).
          - 'V(disabled) empties the list, which switches IP Access Management off for the account; the result then
            carries a warning. O(ip_access.entries) must be empty. This is the only way to empty the list: a
            V(present) with O(ip_access.purge=true) or an V(absent) that would remove the last entry fails instead.'
        type: str
        choices: [present, absent, disabled]
        default: present
      purge:
        description: With O(ip_access.state=present), make the list exactly O(ip_access.entries).
        type: bool
        default: false
      allow_lockout:
        description:
          - Let a change through even though no resulting entry covers this machine's address. The task's next
            request to the account will then be refused by SendGrid.
        type: bool
        default: false
      allow_any_address:
        description:
          - Let O(ip_access.entries) hold a network of every IPv4 or IPv6 address (V(0.0.0.0/0), V(::/0)), which
            lets any address reach the account and so undoes the allow list. The task still warns about it.
        type: bool
        default: false
        version_added: 1.1.0
      client_addresses:
        description:
          - The address or addresses this machine reaches SendGrid from, as SendGrid sees them (behind NAT or a
            proxy, the public egress addresses). The lockout guard requires an entry covering each of them.
          - Left out, the guard reads SendGrid's recent access activity instead.
        type: list
        elements: str
  api_keys:
    description:
      - 'An audit of the API keys, as M(mailops.sendgrid.sendgrid_api_key_info) does it, and with enforce the cut of
        what it flags. A key holding an account-control scope (C(api_keys.*), C(teammates.*), C(access_settings.*))
        that allowed_control_keys does not allow, or a scope that no pattern of allowed_scopes matches, is flagged:
        drift that a person fixes, or the cut.'
      - V(null), or leaving it out, leaves it alone.
    type: dict
    suboptions:
      allowed_scopes:
        description:
          - The scopes a key may hold, as shell-style patterns matched case-sensitively against the whole scope,
            such as V(mail.send) or V(user.settings.*). A scope that matches none of them is flagged as an excess
            scope.
          - SendGrid lists markers such as C(2fa_required) and C(sender_verification_eligible) among a key's scopes;
            allow them here too if your keys carry them.
          - Account-control scopes are judged by O(api_keys.allowed_control_keys) alone, whatever this says.
          - V(null) does not check scopes against a list; account-control scopes are flagged all the same. V([])
            allows no scope at all, so every key that holds one is flagged.
          - Each pattern must be non-empty text without spaces; another value fails before any request.
        type: list
        elements: str
      allowed_control_keys:
        description:
          - The keys that may hold account-control scopes (the automation's own key, an administration key), each by
            its C(api_key_id) or its name. Such a key is not flagged for them, and they are not judged by
            O(api_keys.allowed_scopes) either; its other scopes still are.
          - Compared whole and case-sensitively, not as patterns. Key names need not be unique in SendGrid, so a
            name allows a key only when no other key of the account has it; keys sharing an allowed name are all
            flagged (C(name_shared)), and their ids tell them apart. An empty entry fails before any request.
        type: list
        elements: str
        default: []
      enforce:
        description:
          - 'Cut what the audit flags: each flagged key loses its scopes beyond the policy (its excess and its
            account-control scopes) with one C(PUT /v3/api_keys/{api_key_id}), keeping its allowed scopes. In check
            mode, the cuts that would be made.'
          - 'Never on a key O(api_keys.allowed_control_keys) names, on the key the run authenticates with (as
            M(mailops.sendgrid.sendgrid_api_key) knows it), or on a key the cut would leave with no scope (SendGrid
            wants one): those stay flagged, saying why. Markers such as C(2fa_required) are never cut.'
          - Needs the scope C(api_keys.update). V(false) only audits.
        type: bool
        default: false
  teammates:
    description:
      - The account's teammates and pending invites, as M(mailops.sendgrid.sendgrid_teammate) manages them one by
        one, with its guards (the owner is never changed or removed, the last admin never removed or demoted), and
        an audit of their scopes and admins.
      - V(null), or leaving it out, leaves it alone.
    type: dict
    suboptions:
      members:
        description:
          - 'The account''s teammates, as a dictionary of e-mail address to access: V(admin), or the list of scopes
            the teammate may use (such as V([mail.send, stats.read])).'
          - 'One who is neither a teammate nor invited is invited; a teammate whose access differs is updated (an
            admin''s scopes are never sent: SendGrid wants them empty); a pending invite whose access differs is
            replaced (deleted and sent again). E-mail addresses are compared ignoring case.'
          - The account's owner may be listed only as V(admin), and is never changed.
          - An account's override of it replaces the policy's whole, as every dictionary and list of an override
            does.
        type: dict
      purge:
        description:
          - 'Remove every teammate and cancel every pending invite that O(teammates.members) does not list. The
            owner is never removed, and need not be listed. Removing the last admin (of user type admin) fails with
            nothing written: list an admin.'
        type: bool
        default: false
      allowed_scopes:
        description:
          - 'An audit: the scopes a teammate may hold, as shell-style patterns (V(mail.send), V(stats.*)). A
            teammate or invite holding a scope no pattern matches is flagged (drift only a person can fix). V(null)
            checks no scopes.'
        type: list
        elements: str
      allowed_admins:
        description:
          - 'An audit: the e-mail addresses, or shell-style patterns of them (V(*@ops.example.com)), that may be
            admins. Any other admin (or admin invite) is flagged. V(null) checks no admins. The owner is never
            flagged.'
        type: list
        elements: str
  # END GENERATED
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
        - One entry per setting managed, named C(enforced_tls), C(tracking.NAME), C(mail_settings.NAME), C(ip_access),
          C(api_keys) or C(teammates).
        - Each setting has C(status), V(compliant), V(changed), V(would_change) (check mode) or V(failed); C(before)
          and C(after), the fields read before and after the task (for C(ip_access) the entries as networks; V(null)
          when it failed); C(changes), the fields written or that would be (for C(ip_access), C(added) and
          C(removed)); and C(msg) when it failed.
        - In check mode, a setting that would change but that the API key may not write (its scopes, read once per
          host with C(GET /v3/scopes)) is V(failed), keeps C(before), C(after) and C(changes), and has
          C(missing_scopes), the scopes the apply would need.
        - C(api_keys) has C(status), V(compliant), V(flagged), V(changed) or V(would_change) (O(api_keys.enforce)
          cut, or would cut, a key) or V(failed); C(keys), how many keys the account has; C(flagged), each key still
          beyond the policy, with its C(name), C(api_key_id), C(excess_scopes), C(control_scopes), C(name_shared) and,
          when O(api_keys.enforce) left it, C(not_cut) (why); C(cut), each key cut (or that would be) with C(name),
          C(api_key_id), C(removed) and the C(scopes) kept; and C(msg) when it failed.
        - C(teammates) has C(status) (V(changed) or V(would_change) when a teammate was, or would be, written; else
          V(flagged) or V(compliant)); C(before) and C(after), each e-mail's access (V(owner), V(admin), the scopes,
          or C(invited) with them); C(changes) by action (C(invited), C(updated), C(replaced), C(removed),
          C(cancelled)); and C(flagged), the people beyond O(teammates.allowed_scopes) or O(teammates.allowed_admins)
          as the account is after the task (the invites it sent included), each with C(name) (the e-mail),
          C(excess_scopes), C(admin) and C(pending).
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
      C(flagged) names the flagged items of each setting that has some, such as the API keys beyond the policy,
      and the items an audit that enforces signs or would sign (the event webhooks) (V({}) when none has).
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
    - The verdict in one line, the counts, then each flagged item (API key, teammate) with its account and why (the first five).
      When the task fails, which accounts failed and why, then what was written.
  returned: always
  type: str
  sample: "4 accounts: 2 compliant, 1 would change, 1 with a flagged event webhook, API key or teammate, 0 failed. Flagged: marketing:
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
