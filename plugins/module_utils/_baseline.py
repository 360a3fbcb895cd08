# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A security baseline: one policy, a section per family of the registry (_families), applied to many accounts in one
module run.

Each section is its family's own options and checks (the family contract, _family). Here is only what is the
baseline's own: the argument spec of the sections, the merge of an account's overrides onto the policy, the checks of
both before any request, one account's run with every family isolated from the others' failures (and the plan's check
of the key's scopes), and the result (statuses, summary, drift). No family is named here.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible.module_utils.common.validation import check_type_bool, check_type_dict, check_type_int, check_type_list
from ansible_collections.mailops.sendgrid.plugins.module_utils._accounts import (
    check_concurrency, discover_and_plan, for_each_account, many_accounts_argument_spec, parse_accounts,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    SendGridError, as_text, check_text, first_few, option_name, plural, sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._families import A_FLAGGED, POLICY, family_of
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import (
    CHANGED, COMPLIANT, DRIFT, FAILED, FLAGGED, WOULD_CHANGE,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._progress import Progress, check_interval
from ansible_collections.mailops.sendgrid.plugins.module_utils._scopes import KeyScopes

SECTIONS = tuple(family.name for family in POLICY)
TYPE_CHECKS = {
    "bool": (check_type_bool, "true or false"),
    "int": (check_type_int, "a whole number"),
    "str": (check_text, "text"),
    "list": (check_type_list, "a list"),
    "dict": (check_type_dict, "a dictionary"),
}


def policy_argument_spec() -> dict:
    """One dict option per family, its options the suboptions."""
    return {family.name: section_spec(family) for family in POLICY}


def section_spec(family) -> dict:
    spec = dict(type="dict", options=family.argument_spec())
    if family.section_no_log is not None:
        spec["no_log"] = family.section_no_log
    return spec


def argument_spec() -> dict:
    return dict(
        many_accounts_argument_spec(),
        # raw sections, conformed by check_policy() as the accounts' overrides are (naming parent.<section>)
        parent=dict(type="dict"),
        progress_interval=dict(type="float", default=10),
        **policy_argument_spec()
    )


# ----------------------------------------------------------------------------- policy and overrides

def conform(spec: dict, value, where: str):
    """An account's override of a section, checked and typed as AnsibleModule does the policy's, every error naming
    its path (accounts[2].section.setting.field). Null stays null; no default is filled in: an override gives
    only what it changes."""
    if value is None:
        return None
    value = _typed(dict(type="dict"), value, where)
    unknown = sorted(set(value) - set(spec))
    if unknown:
        raise SendGridError("%s has the unknown key%s %s; it may hold %s." % (
            option_name(where), "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(spec)))
    typed = {}
    for name, option in spec.items():
        path = "%s.%s" % (where, name)
        item = value.get(name)
        if item is None:
            typed[name] = None
        elif option.get("options"):
            typed[name] = conform(option["options"], item, path)
        else:
            typed[name] = _typed(option, item, path)
    return typed


def _typed(option: dict, value, where: str):
    check, wanted = TYPE_CHECKS[option["type"]]
    try:
        if option["type"] in ("int", "float") and isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        split = option["type"] == "list" and isinstance(value, str)
        value = check(value)
        if option["type"] == "list":
            element_check = TYPE_CHECKS[option.get("elements", "str")][0]
            # "a, b" (as -e gives it) is two items, not "a" and " b"
            value = [element_check(item.strip() if split else item) for item in value if not split or item.strip()]
    except (TypeError, ValueError):
        if option["type"] == "list":
            wanted = "a list of %s" % TYPE_CHECKS[option.get("elements", "str")][1]
        raise SendGridError("value of %s must be %s, got: %s." % (option_name(where), wanted, as_text(value)))
    if option.get("choices") and value not in option["choices"]:
        raise SendGridError("value of %s must be one of: %s, got: %s."
                            % (option_name(where), ", ".join(option["choices"]), as_text(value)))
    return value


def merge(spec: dict, policy, override):
    """An account's section: the override's fields on top of the policy's, field by field (a list replaces the
    policy's whole), and the documented default where neither gives one. Null when neither manages the section."""
    if policy is None and override is None:
        return None
    policy, override = policy or {}, override or {}
    merged = {}
    for name, option in spec.items():
        if option.get("options"):
            merged[name] = merge(option["options"], policy.get(name), override.get(name))
        elif override.get(name) is not None:
            merged[name] = override[name]
        elif policy.get(name) is not None:
            merged[name] = policy[name]
        else:
            merged[name] = option.get("default")
    return merged


def desired_for(policy: dict, overrides: dict | None = None) -> dict:
    """An account's desired sections: the policy with the account's overrides merged in ({section: values or None})."""
    spec = policy_argument_spec()
    overrides = overrides or {}
    return {section: merge(spec[section]["options"], policy.get(section), overrides.get(section)) for section in SECTIONS}


def check(desired: dict, where: str = "") -> list:
    """Refuse, before any request, a value SendGrid would refuse or that would do harm; the message names the
    option's path (``where`` is "" for the policy, "accounts[2]." for an account's overrides). Returns the warnings on
    what would do nothing or open too much, each naming its option's path."""
    warnings = []
    for family in POLICY:
        if desired.get(family.name) is not None:
            warnings += family.check(desired[family.name], option_name(where + family.name + "."))
    return warnings


def account_warnings(policy: dict, overrides: dict, where: str) -> list:
    """An account's own warnings: those of its merged sections that the policy alone would not give it (those were
    said once, for the policy)."""
    inherited = set(check(desired_for(policy), where))
    return [warning for warning in check(desired_for(policy, overrides), where) if warning not in inherited]


# ----------------------------------------------------------------------------- one account

def apply(account, desired: dict, check_mode: bool, key_scopes: KeyScopes | None = None) -> dict:
    """Bring one account to its desired sections; {result key: outcome}, in the registry's order.

    Every family stands alone: one that fails is reported as failed and the others go on. Families of one batch (the
    settings engine) are applied together, all their reads before their writes; a family that runs last (its change
    may end this machine's access) comes after every other.

    In check mode, given ``key_scopes``, a setting that would change is checked against the calling key's scopes: one
    the key could not write fails the plan now, naming the missing scopes, instead of the apply later.
    """
    managed = [family for family in POLICY if desired.get(family.name) is not None]
    order = [family for family in managed if not family.runs_last] + [family for family in managed if family.runs_last]
    outcomes = {}
    while order:
        group = [family for family in order if family.batch is not None and family.batch == order[0].batch] or order[:1]
        order = [family for family in order if family not in group]
        outcomes.update(group[0].apply_together(account, [(family, desired[family.name]) for family in group],
                                                check_mode))
    keys = [key for family in managed for key in family.keys(desired[family.name])]
    outcomes = {key: outcomes[key] for key in keys if key in outcomes}
    if check_mode and key_scopes is not None:
        needed = {key: family_of(key).write_scopes(key, outcome) for key, outcome in outcomes.items()
                  if outcome["status"] == WOULD_CHANGE}
        if needed:
            for key, missing in key_scopes.missing(account, needed).items():
                outcomes[key] = dict(outcomes[key], status=FAILED, missing_scopes=missing, msg=(
                    "would change, but the API key lacks %s: the apply would be refused." % " and ".join(missing)))
    return outcomes


# ----------------------------------------------------------------------------- results

def account_result(account: dict, outcome: dict) -> dict:
    """One account's entry of the result: who, where, its settings' outcomes, whether it changed or failed, which
    sections its own overrides give, and whether it is a disabled subuser (null when not known)."""
    settings = outcome.get("settings", {})
    failures = ["%s: %s" % (key, setting["msg"]) for key, setting in settings.items() if setting["status"] == FAILED]
    if outcome["failed"]:
        failures.insert(0, outcome["msg"])
    result = dict(name=account["name"], on_behalf_of=account["on_behalf_of"], region=account["region"],
                  api_url=account["base_url"],
                  changed=any(setting["status"] in (CHANGED, WOULD_CHANGE) for setting in settings.values()),
                  failed=bool(failures), settings=settings, overrides=account.get("overrides", []),
                  disabled=account.get("disabled"))
    if failures:
        result["msg"] = "; ".join(failures)
    return result


def summarize(accounts: list) -> dict:
    """How many accounts changed, would change, failed, have a flagged key; compliant: none of those. An account
    counts under each that applies to it."""
    summary = dict(accounts=len(accounts), compliant=0, changed=0, would_change=0, failed=0, flagged=0)
    for account in accounts:
        # a family that changes and audits at once has a changed status and flagged items
        statuses = {setting["status"] for setting in account["settings"].values()} | (
            {FLAGGED} if any(setting.get("flagged") for setting in account["settings"].values()) else set())
        found = [name for name in (CHANGED, WOULD_CHANGE, FLAGGED) if name in statuses]
        found += [FAILED] if account["failed"] else []
        for name in found or [COMPLIANT]:
            summary[name] += 1
    return summary


def drift(accounts: list) -> list:
    """[{account, settings, flagged}] of every account with a setting that changed, would change or has flagged items
    (an audit's items beyond the policy); flagged names them per setting ({} when none is)."""
    drifted = []
    for account in accounts:
        settings = [key for key, setting in account["settings"].items()
                    if setting["status"] in DRIFT or setting.get("flagged")]
        if settings:
            named = {key: family_of(key).named(setting) for key, setting in account["settings"].items()
                     if key in settings}
            flagged = {key: labels for key, labels in named.items() if labels}
            drifted.append(dict(account=account["name"], settings=settings, flagged=flagged))
    return drifted


def written(accounts: list, check_mode: bool) -> list:
    """[{account, settings}] of every account with a setting written in this run (changed, or failed after writing
    part of its changes): what an apply that failed part-way did write, and the play recap does not count."""
    if check_mode:
        return []
    found = []
    for account in accounts:
        settings = [key for key, setting in account["settings"].items() if setting["status"] == CHANGED
                    or (setting["status"] == FAILED and setting.get("changes"))]
        if settings:
            found.append(dict(account=account["name"], settings=settings))
    return found


def outcome_message(accounts: list, check_mode: bool) -> str:
    """The run's verdict in one line, naming each flagged item (account, item, why)."""
    summary = summarize(accounts)
    changing = summary[WOULD_CHANGE if check_mode else CHANGED]
    parts = ["%s: %d compliant, %d %s, %d with %s, %d failed" % (
        plural(summary["accounts"], "account"), summary["compliant"], changing,
        "would change" if check_mode else "changed", summary["flagged"], A_FLAGGED, summary["failed"])]
    flagged = ["%s: %s" % (account["name"], family_of(key).explain(item)) for account in accounts
               for key, setting in account["settings"].items() for item in setting.get("flagged") or []]
    if flagged:
        parts.append("Flagged: " + first_few(flagged, " | ", "in each account's settings"))
    return ". ".join(parts) + "."


def diffs(accounts: list) -> list:
    """One before/after per account, of what was read and may change (an audit has no before and after)."""
    result = []
    for account in accounts:
        read_settings = {key: setting for key, setting in account["settings"].items()
                         if "before" in setting and setting["status"] != FAILED}
        if read_settings:
            result.append(dict(before={key: setting["before"] for key, setting in read_settings.items()},
                               after={key: setting["after"] for key, setting in read_settings.items()},
                               before_header=account["name"], after_header=account["name"]))
    return result


def failure_message(accounts: list, check_mode: bool) -> str:
    """Which accounts failed and why (the first few: every one is in the result), then what the run wrote before or
    beside the failures."""
    failed = [account for account in accounts if account["failed"]]
    message = "%d of %s failed: %s" % (len(failed), plural(len(accounts), "account"), first_few(
        ["%s: %s" % (account["name"], account["msg"]) for account in failed], " | ", "in accounts[].msg"))
    done = written(accounts, check_mode)
    if done:
        message += " || Written before or beside the failures (the play recap does not count a failed task's " \
                   "changes): %s." % first_few(["%s (%s)" % (item["account"], ", ".join(item["settings"]))
                                                for item in done], "; ", "in written")
    return message


# ----------------------------------------------------------------------------- the module

def run_accounts(module, policy: dict, listed: list, failure: dict, parent: dict | None = None,
                 plan_checks_scopes: bool = True) -> dict:
    """The many-account engine: every account (the parent, the listed, the discovered) brought to the policy with its
    own overrides, concurrently; the result's keys (accounts, summary, drift, written, discovered, excluded, diff).

    ``listed`` are parse_accounts() items whose sections are conformed overrides, ``parent`` the parent's (conformed);
    ``failure`` is the calling module's result should discovery fail. Each outcome's warnings are given here. A plan (check mode) checks the key's scopes
    unless ``plan_checks_scopes`` is false. The run's progress is written where the action plugin asked (_progress).
    """
    params = module.params
    progress = Progress.from_module(module)
    pool, listed, accounts, discovered, excluded = discover_and_plan(module, listed, progress, **failure)
    overrides = dict({account["on_behalf_of"]: account for account in listed}, **{"": parent or {}})
    for account in accounts:
        own = overrides.get(account["on_behalf_of"] or "") or {}
        account["desired"] = desired_for(policy, own)
        account["overrides"] = [section for section in SECTIONS if own.get(section) is not None]
    key_scopes = KeyScopes() if module.check_mode and plan_checks_scopes else None

    def one(account_client, account: dict) -> dict:
        return dict(settings=apply(account_client, account["desired"], module.check_mode, key_scopes))

    results = [account_result(account, done) for account, done in zip(
        accounts, for_each_account(pool.client, accounts, one, params["concurrency"], progress))]
    progress.finish()
    for result in results:
        # each outcome's warnings (whole sentences naming the account), given and kept out of the result
        for setting in result["settings"].values():
            for warning in setting.pop("warnings", []):
                module.warn(warning)
    for host, reason in sorted((key_scopes.unreadable if key_scopes else {}).items()):
        module.warn("The plan could not read the API key's scopes on %s, so it did not check that the key may write "
                    "what would change: %s" % (host, reason))
    return dict(accounts=results, discovered=discovered, excluded=excluded, summary=summarize(results),
                drift=drift(results), written=written(results, module.check_mode), diff=diffs(results))


def check_policy(module, policy: dict, failure: dict) -> tuple:
    """The policy, the parent's overrides and the listed accounts (their overrides conformed), checked before any
    request; the module fails naming the first bad value. Every warning is given once. Returns (the parent's
    overrides, the listed accounts)."""
    sections_spec = policy_argument_spec()
    try:
        warnings = check(desired_for(policy))
        parent = conform(sections_spec, module.params["parent"], "parent") or {}
        warnings += account_warnings(policy, parent, "parent.")
        if any(value is not None for value in parent.values()) and not module.params["include_parent"]:
            warnings.append("%s gives the parent's overrides, but %s is false: they are not used." % (
                option_name("parent"), option_name("include_parent")))
        # the overrides are typed here, naming their paths; parse_accounts checks the rest of each item
        listed = parse_accounts(module.params["accounts"], {section: dict(type="raw") for section in SECTIONS})
        for index, account in enumerate(listed):
            for section in SECTIONS:
                account[section] = conform(sections_spec[section]["options"], account[section],
                                           "accounts[%d].%s" % (index, section))
            warnings += account_warnings(policy, account, "accounts[%d]." % index)
    except SendGridError as exc:
        module.fail_json(msg=str(exc), **failure)
    for warning in dict.fromkeys(warnings):   # the policy's once, not once per account that inherits it
        module.warn(warning)
    return parent, listed


def run_module() -> None:
    """The whole of sendgrid_baseline: check everything, discover, apply to every account, report."""
    module = sendgrid_module(argument_spec=argument_spec(), supports_check_mode=True)
    policy = {section: module.params[section] for section in SECTIONS}
    outcome = dict(changed=False, accounts=[], summary=summarize([]), drift=[], policy=policy, discovered=None,
                   excluded=None, written=[], check_mode=module.check_mode)
    check_concurrency(module, **outcome)
    problem = check_interval(module.params["progress_interval"])
    if problem:
        module.fail_json(msg="%s %s." % (option_name("progress_interval"), problem), **outcome)
    parent, listed = check_policy(module, policy, outcome)
    done = run_accounts(module, policy, listed, outcome, parent)
    diff = done.pop("diff")
    outcome.update(done, changed=any(result["changed"] for result in done["accounts"]))
    if module._diff:
        outcome["diff"] = diff
    if any(result["failed"] for result in outcome["accounts"]):
        module.fail_json(msg=failure_message(outcome["accounts"], module.check_mode), **outcome)
    module.exit_json(msg=outcome_message(outcome["accounts"], module.check_mode), **outcome)
