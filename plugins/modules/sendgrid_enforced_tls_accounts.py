#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_enforced_tls_accounts
short_description: Apply one Enforced TLS policy to a SendGrid parent account and many subusers in one task
version_added: 1.0.0
description:
  - Does for many accounts at once what M(mailops.sendgrid.sendgrid_enforced_tls) does for one, in one
    module run. That is the parent account (O(include_parent)) and every account in O(accounts), each with the policy
    given by O(require_tls), O(require_valid_cert) and O(min_tls_version) and its own overrides.
  - For each account, one C(GET /v3/user/settings/enforced_tls) and, only when something differs, one C(PATCH)
    with the fields that differ. Up to O(concurrency) accounts are handled at a time; each worker reuses one
    connection per host, and all of them stay within SendGrid's rate limit, waiting for its reset when the budget
    is spent or a request is answered C(429).
  - EU regional subusers (O(accounts[].region=eu), or found in the EU region by O(discover_subusers)) are managed
    through U(https://api.eu.sendgrid.com), or O(eu_api_url).
  - An account that fails does not stop the others; the task fails at the end and RV(accounts) says which failed.
  - The API key needs the scopes C(user.settings.enforced_tls.read) and C(user.settings.enforced_tls.update).
  - The role C(mailops.sendgrid.enforced_tls) wraps this module, with subuser discovery and a compliance report.
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes
  - mailops.sendgrid.connection
  - mailops.sendgrid.connection.option_names
options:
  include_parent:
    description:
      - Whether to apply the policy to the parent account itself, on the host of O(region).
    type: bool
    default: true
  accounts:
    description:
      - The subusers and customer accounts to apply the policy to.
      - Each item is a subuser's username (C(account-id <id>) for a customer account), or a dictionary with the
        keys below to override the policy for that account. An item with any other key fails before any request.
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
      # BEGIN GENERATED overrides enforced_tls
      require_tls:
        description: Overrides O(require_tls) for this account.
        type: bool
      require_valid_cert:
        description: Overrides O(require_valid_cert) for this account.
        type: bool
      min_tls_version:
        description: Overrides O(min_tls_version) for this account.
        type: str
      # END GENERATED
  discover_subusers:
    description:
      - Whether to list every subuser of the parent (C(GET /v3/subusers), every page until an empty one) and apply
        the policy to each one not listed in O(accounts), through its own region's host.
      - Subusers created later are covered on the next run. RV(discovered) says how many subusers the parent has.
      - Needs the scope C(subusers.read).
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
  concurrency:
    description:
      - How many accounts to handle at the same time, from 1 to 32.
    type: int
    default: 8
attributes:
  check_mode:
    support: full
    details: Reads every account and reports what would change; sends no C(PATCH).
  diff_mode:
    support: full
    details: One before/after diff per account, never the API key.
  action_group:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_enforced_tls
  - module: mailops.sendgrid.sendgrid_subuser_info
  - name: Enforced TLS API reference
    description: SendGrid's description of the Enforced TLS settings.
    link: https://www.twilio.com/docs/sendgrid/api-reference/settings-enforced-tls
"""

EXAMPLES = r"""
- name: Require TLS 1.2 on the parent and three subusers, with an exception for one
  mailops.sendgrid.sendgrid_enforced_tls_accounts:
    api_key: "{{ vault_sendgrid_api_key }}"
    require_tls: true
    min_tls_version: "1.2"
    accounts:
      - name: marketing
      - name: billing
        require_valid_cert: true
      - name: eu-newsletter
        region: eu
  register: tls_policy

- name: Require TLS on every subuser the parent has, except the sandboxes
  mailops.sendgrid.sendgrid_enforced_tls_accounts:
    require_tls: true
    discover_subusers: true
    exclude: ["sandbox-*"]
    accounts:
      - billing   # a plain name is an account too

- name: Show the accounts that changed
  ansible.builtin.debug:
    msg: "{{ tls_policy.accounts | selectattr('changed') | map(attribute='name') | list }}"
"""

RETURN = r"""
accounts:
  description: One entry per account, in the order handled (the parent first).
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
      description: Whether the account's settings were (in check mode, would be) changed.
      type: bool
      returned: always
      sample: true
    changes:
      description: The settings written, in option names.
      type: dict
      returned: when the account did not fail
      sample: {"require_tls": true}
    before:
      description: The settings before the task.
      type: dict
      returned: when the account did not fail
      sample: {"require_tls": false, "require_valid_cert": false, "min_tls_version": "1.1"}
    enforced_tls:
      description: The settings after the task.
      type: dict
      returned: when the account did not fail
      sample: {"require_tls": true, "require_valid_cert": false, "min_tls_version": "1.2"}
    failed:
      description: Whether this account failed.
      type: bool
      returned: always
      sample: false
    msg:
      description: Why the account failed.
      type: str
      returned: when the account failed
      sample: "Reading the Enforced TLS settings GET ... failed (HTTP 404: not found). ..."
policy:
  description: The policy applied, as the module understood it (V(null) for a setting not managed).
  returned: always
  type: dict
  sample: {"require_tls": true, "require_valid_cert": null, "min_tls_version": "1.2"}
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
summary:
  description: How many accounts were handled, changed, already in sync, and failed.
  returned: always
  type: dict
  sample: {"accounts": 4, "changed": 1, "in_sync": 3, "failed": 0}
"""

from ansible_collections.mailops.sendgrid.plugins.module_utils._accounts import (
    check_concurrency, many_accounts_argument_spec, parse_accounts,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._baseline import run_accounts
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError, first_few, plural, sendgrid_module
from ansible_collections.mailops.sendgrid.plugins.module_utils._enforced_tls import ENFORCED_TLS, FAMILY
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import CHANGED, FAILED, WOULD_CHANGE


def main():
    """A front on the baseline's many-account engine with Enforced TLS alone: this module's own options, checks,
    messages and result shape (which the role enforced_tls and its users rely on)."""
    module = sendgrid_module(
        argument_spec=dict(many_accounts_argument_spec(), **FAMILY.argument_spec()),
        supports_check_mode=True,
    )
    params = module.params
    fields = list(FAMILY.argument_spec())
    policy = {name: params[name] for name in fields}
    summary = dict(accounts=0, changed=0, in_sync=0, failed=0)
    fail = dict(changed=False, accounts=[], summary=summary, policy=policy, discovered=None, check_mode=module.check_mode)
    check_concurrency(module, **fail)
    try:
        ENFORCED_TLS.check(policy)
        listed = parse_accounts(params["accounts"], FAMILY.argument_spec())
        for index, account in enumerate(listed):
            ENFORCED_TLS.check(account, "accounts[%d]." % index)
    except SendGridError as exc:
        module.fail_json(msg=str(exc), **fail)
    # the engine's form: an account's fields are its override of the one section
    for account in listed:
        account[FAMILY.name] = {name: account.pop(name) for name in fields}
    done = run_accounts(module, {FAMILY.name: policy}, listed, fail, plan_checks_scopes=False)

    results, diffs = [], []
    for entry in done["accounts"]:
        outcome = entry["settings"].get(FAMILY.name)
        result = dict(name=entry["name"], on_behalf_of=entry["on_behalf_of"], region=entry["region"],
                      api_url=entry["api_url"], changed=entry["changed"], failed=entry["failed"])
        if outcome is None or outcome["status"] == FAILED:
            result["msg"] = outcome["msg"] if outcome else entry["msg"]
        else:
            result.update(changed=outcome["status"] in (CHANGED, WOULD_CHANGE), changes=outcome["changes"],
                          before=outcome["before"], enforced_tls=outcome["after"])
            diffs.append(dict(before=outcome["before"], after=outcome["after"],
                              before_header=entry["name"], after_header=entry["name"]))
        results.append(result)

    failed = [result for result in results if result["failed"]]
    changed = sum(result["changed"] for result in results)
    summary.update(accounts=len(results), changed=changed, in_sync=len(results) - changed - len(failed), failed=len(failed))
    outcome = dict(changed=bool(changed), accounts=results, summary=summary, policy=policy, discovered=done["discovered"],
                   check_mode=module.check_mode, **(dict(diff=diffs) if module._diff else {}))
    if failed:
        message = "%d of %s failed: %s" % (len(failed), plural(len(results), "account"), first_few(
            ["%s: %s" % (r["name"], r["msg"]) for r in failed], " | ", "in accounts[].msg"))
        written = [r["name"] for r in results if r["changed"] and not module.check_mode]
        if written:
            # the play recap does not count a failed task's changes: say what was written
            message += " || Written beside the failures: %s." % first_few(written, ", ", "in accounts[].changed")
        module.fail_json(msg=message, **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
