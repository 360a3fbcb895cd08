#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_baseline_export
short_description: Export a SendGrid estate as it is to a policy for the role mailops.sendgrid.baseline
version_added: 1.2.0
description:
  - Reads every section of the security baseline (or those of O(families)) from the parent account and every
    account of O(accounts) and, with O(discover_subusers), every subuser, and returns the policy that describes them
    as they are, as variables of the role C(mailops.sendgrid.baseline). With O(dest), writes them to a YAML file on
    the controller that C(-e @file) takes.
  - Per field, the policy holds the value most accounts have. An account that differs gets an override holding only
    its differences, the parent's in C(baseline_parent), a subuser's in C(baseline_subusers). A field some account
    has no value for (V(null)) is left out of the policy, and each account that has a value gets it as an override.
  - The role run with the exported file changes nothing and flags nothing, and its drift gate's plan is in sync,
    until an account changes.
  - 'What each section describes: the settings (O(families=enforced_tls), C(tracking), C(mail_settings)) field by
    field as read; C(ip_access) the allow list exactly (C(purge)), or C(state=disabled) when it is empty; C(teammates)
    every teammate but the owner and every pending invite with their access, exactly (C(purge)); C(api_keys) and
    C(event_webhooks) the audit today''s keys and webhooks pass (the scopes the keys hold, the keys holding control
    scopes; https, signed, the hosts the webhooks post to). An account without keys or webhooks fits any audit and
    gets no override for it.'
  - Nothing secret is read or written. The file says at its top what it leaves out and why (API key secrets, which
    SendGrid shows once; the webhooks' OAuth client secrets, which it never shows).
  - A value SendGrid holds that the baseline would refuse (an address its checks do not take) is exported with a
    warning naming the account and the field. An allow list open to every address (V(0.0.0.0/0)) is exported with
    C(allow_any_address), so that the plan is in sync, and a warning naming the account.
  - Text that Jinja would take for a template (with C({{), C({%) or C({#), in a footer or a key's name) is written
    with the tag C(!unsafe), so that the role taking the file sends it as it is and never runs it on the controller.
  - On a tie (as many accounts one way as the other), the policy takes the parent's value, else the first in sort
    order, so that it does not depend on the order the accounts were read in; the file's top names each tied field.
  - 'Requests: what each section of M(mailops.sendgrid.sendgrid_baseline) reads for an account, with every field
    given (the settings with C(enabled) alone from their family''s summary), and no write.'
  - 'The API key needs the read scopes of each family exported: C(user.settings.enforced_tls.read),
    C(tracking_settings.read) and C(tracking_settings.NAME.read), C(mail_settings.read) and C(mail_settings.NAME.read),
    C(user.webhooks.event.settings.read), C(access_settings.whitelist.read), C(api_keys.read), C(teammates.read); and
    C(subusers.read) for discovery.'
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.option_names
options:
  include_parent:
    description:
      - Whether to export the parent account too (its differences go to C(baseline_parent)).
    type: bool
    default: true
  accounts:
    description:
      - Subusers and customer accounts to export, each a subuser's username (C(account-id <id>) for a customer
        account) or a dictionary with C(name) (or C(on_behalf_of)) and C(region). Each is written to
        C(baseline_subusers), with its overrides when it has any.
    type: list
    elements: raw
    default: []
  discover_subusers:
    description:
      - Whether to list every subuser of the parent and export each one not listed in O(accounts), through its own
        region's host. The file then sets C(baseline_discover_subusers), and lists only the subusers that differ.
    type: bool
    default: false
  exclude:
    description:
      - Usernames or shell-style patterns (C(*), C(?), C([abc])) that discovery leaves out; written to the file as
        C(baseline_exclude).
    type: list
    elements: str
    default: []
  include_disabled:
    description:
      - Whether discovery includes disabled subusers; written to the file as C(baseline_include_disabled).
    type: bool
    default: true
  concurrency:
    description:
      - How many accounts to read at the same time, from 1 to 32.
    type: int
    default: 8
  families:
    description:
      - The sections to export. V(null), the default, exports every one; the others are left out of the file, so the
        role leaves them alone. An empty list fails before any request.
    type: list
    elements: str
    choices: [enforced_tls, tracking, mail_settings, event_webhooks, ip_access, api_keys, teammates]
  leave_out:
    description:
      - Sections, settings or fields to leave out of the policy and of every override, as paths such as
        V(mail_settings.footer.html_content) (a footer holding each account's name) or V(tracking.google_analytics),
        for fields that differ on every account, which would otherwise give each account an override. The role then
        leaves them alone.
      - C(ip_access) and C(teammates) are left out whole or not at all; their fields only mean something together
        (a purge without the entries it keeps would empty the list).
      - A path that names no section, setting or field of the exported families fails before any request, listing
        those it may name.
    type: list
    elements: str
    default: []
  dest:
    description:
      - A YAML file on the controller to write the policy to (its directory must exist), commented at the top with
        when and from where it was exported, how many accounts and overrides it holds, and what it leaves out. It is
        replaced at once, and only when the policy in it differs (the time of export aside), so that a second export
        of an unchanged estate is no change.
      - Not written in check mode; diff mode shows the file before and after.
      - Left out, nothing is written, and RV(content) still holds the file's text.
    type: path
attributes:
  check_mode:
    support: full
    details: Reads every account as outside check mode (GET requests only, always); does not write O(dest).
  diff_mode:
    support: full
    details: The file at O(dest) before and after, the time of export aside.
  action_group:
    support: full
notes:
  - The file is written by the action plugin of the same name, on the controller, as the baseline role's report is;
    the module itself only reads, on the host the task runs on.
seealso:
  - module: mailops.sendgrid.sendgrid_baseline
  - module: mailops.sendgrid.sendgrid_drift_gate
"""

EXAMPLES = r"""
- name: Export the parent and every subuser to a policy file
  mailops.sendgrid.sendgrid_baseline_export:
    discover_subusers: true
    # each account's footer names the account: leave it to the accounts instead of an override each
    leave_out:
      - mail_settings.footer.html_content
      - mail_settings.footer.plain_content
    dest: "{{ playbook_dir }}/baseline-policy.yml"
  register: export

- name: Say what was exported
  ansible.builtin.debug:
    msg: "{{ export.summary.accounts }} accounts, {{ export.summary.overridden_accounts | length }} with overrides"

- name: Export only the Enforced TLS and tracking settings of two subusers, without writing a file
  mailops.sendgrid.sendgrid_baseline_export:
    include_parent: false
    accounts: [marketing, billing]
    families: [enforced_tls, tracking]
  register: tls_and_tracking
"""

RETURN = r"""
policy:
  description:
    - The exported variables of the role C(mailops.sendgrid.baseline), as the file holds them (the C(baseline_) sections
      exported, C(baseline_parent), C(baseline_subusers), C(baseline_include_parent), C(baseline_discover_subusers), and
      with discovery C(baseline_exclude) and C(baseline_include_disabled)).
  returned: success
  type: dict
  sample:
    baseline_enforced_tls: {require_tls: true, require_valid_cert: false, min_tls_version: "1.2"}
    baseline_parent: {}
    baseline_subusers: [{name: legacy-relay, enforced_tls: {min_tls_version: "1.1"}}]
    baseline_include_parent: true
    baseline_discover_subusers: true
    baseline_exclude: []
    baseline_include_disabled: true
content:
  description: The file's text (YAML), whether or not O(dest) is given.
  returned: success
  type: str
dest:
  description: The file written, or that would be; V(null) without O(dest).
  returned: success
  type: str
accounts:
  description: The accounts read, by name (the parent as C(parent)), in the order read.
  returned: always
  type: list
  elements: str
failures:
  description: Each account that could not be read, and why (the export then fails, and nothing is written).
  returned: failure
  type: list
  elements: str
summary:
  description: What the export holds.
  returned: success
  type: dict
  contains:
    source:
      description: The parent's API host, as the module reached it.
      type: str
    accounts:
      description: How many accounts were read.
      type: int
    subusers:
      description: How many of them are subusers or customer accounts.
      type: int
    discovered:
      description: How many subusers discovery found, V(null) without O(discover_subusers).
      type: int
    excluded:
      description: What discovery left out (C(exclude) patterns with the subusers they matched, C(disabled)).
      type: dict
    families:
      description: The sections exported.
      type: list
      elements: str
    overridden_accounts:
      description: The accounts that differ from the policy, each with an override.
      type: list
      elements: str
    overrides:
      description: How many fields the overrides give, over every account.
      type: int
    left_out:
      description: The paths of O(leave_out).
      type: list
      elements: str
    notes:
      description: What the export leaves out by design, and why (secrets SendGrid does not show).
      type: list
      elements: str
    ties:
      description: The fields on which as many accounts had one value as another (see the description).
      type: list
      elements: str
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._export import run_module


def main():
    run_module()


if __name__ == "__main__":
    main()
