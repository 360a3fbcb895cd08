# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A security baseline: one policy (Enforced TLS, tracking, mail settings, IP allow list, API key audit) applied to
many accounts in one module run.

The policy's sections reuse each setting's own description: the settings engine (_settings) for Enforced TLS, the
tracking and the mail settings, _ip_access for the allow list and _api_keys for the audit. Here are only what is the
baseline's own: the argument spec, the merge of an account's overrides onto the policy, the checks of both before any
request, one account's run with every setting isolated from the others' failures, and the result (statuses, summary,
drift).

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible.module_utils.common.validation import check_type_bool, check_type_dict, check_type_int, check_type_list
from ansible_collections.mailops.sendgrid.plugins.module_utils._accounts import (
    check_concurrency, discover_and_plan, discovery_argument_spec, parse_accounts,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._api_keys import (
    audit, check_names, check_patterns, read_keys, why,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    SendGridError, as_text, check_text, connection_argument_spec, first_few, option_name, option_names_argument_spec,
    plural, sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._scopes import KeyScopes
from ansible_collections.mailops.sendgrid.plugins.module_utils._enforced_tls import ENFORCED_TLS
from ansible_collections.mailops.sendgrid.plugins.module_utils import _ip_access
from ansible_collections.mailops.sendgrid.plugins.module_utils._mail_settings import MAIL_SETTINGS
from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import for_each_account, reconcile
from ansible_collections.mailops.sendgrid.plugins.module_utils._tracking_settings import TRACKING_SETTINGS

# The policy's sections that are families of engine settings: {option: settings}, one suboption per setting.
FAMILIES = {"tracking": TRACKING_SETTINGS, "mail_settings": MAIL_SETTINGS}
IP_ACCESS_SPEC = dict(
    entries=dict(type="list", elements="str", default=[]),
    state=dict(type="str", choices=_ip_access.STATES, default="present"),
    purge=dict(type="bool", default=False),
    allow_lockout=dict(type="bool", default=False),
    allow_any_address=dict(type="bool", default=False),
    client_addresses=dict(type="list", elements="str"),
)
API_KEYS_SPEC = dict(
    allowed_scopes=dict(type="list", elements="str"),
    allowed_control_keys=dict(type="list", elements="str", default=[], no_log=False),
)
SECTIONS = ("enforced_tls", "tracking", "mail_settings", "ip_access", "api_keys")

COMPLIANT, CHANGED, WOULD_CHANGE, FAILED, FLAGGED = "compliant", "changed", "would_change", "failed", "flagged"
DRIFT = (CHANGED, WOULD_CHANGE, FLAGGED)
TYPE_CHECKS = {
    "bool": (check_type_bool, "true or false"),
    "int": (check_type_int, "a whole number"),
    "str": (check_text, "text"),
    "list": (check_type_list, "a list"),
    "dict": (check_type_dict, "a dictionary"),
}


def policy_argument_spec() -> dict:
    """One dict option per section; a family's settings are dict suboptions of their own."""
    def family(settings: list) -> dict:
        return {setting.section: dict(type="dict", options=setting.argument_spec()) for setting in settings}

    return dict(
        enforced_tls=dict(type="dict", options=ENFORCED_TLS.argument_spec()),
        tracking=dict(type="dict", options=family(TRACKING_SETTINGS)),
        mail_settings=dict(type="dict", options=family(MAIL_SETTINGS)),
        ip_access=dict(type="dict", options=IP_ACCESS_SPEC),
        api_keys=dict(type="dict", options=API_KEYS_SPEC, no_log=False),
    )


def argument_spec() -> dict:
    return dict(
        connection_argument_spec(on_behalf_of=False),
        **option_names_argument_spec(),
        include_parent=dict(type="bool", default=True),
        accounts=dict(type="list", elements="raw", default=[]),
        concurrency=dict(type="int", default=8),
        **dict(discovery_argument_spec(), **policy_argument_spec())
    )


# ----------------------------------------------------------------------------- policy and overrides

def conform(spec: dict, value, where: str):
    """An account's override of a section, checked and typed as AnsibleModule does the policy's, every error naming
    its path (accounts[2].mail_settings.footer.enabled). Null stays null; no default is filled in: an override gives
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


def check(desired: dict, where: str = "", override: dict | None = None) -> list:
    """Refuse, before any request, a value SendGrid would refuse or that would do harm; the message names the
    option's path (``where`` is "" for the policy, "accounts[2]." for an account's overrides). Returns the warnings on
    what would do nothing or open too much (wide allow list entries), each naming its option's path.

    ``override``, for an account, is what the account itself gives ({section: values}): allow list entries it does
    not give are the policy's, named by the policy's path, so that the caller can say each warning once."""
    warnings = []
    if desired.get("enforced_tls") is not None:
        warnings += ENFORCED_TLS.check(ENFORCED_TLS.desired(desired["enforced_tls"]), option_name(where + "enforced_tls."))
    for option, settings in FAMILIES.items():
        for setting in settings:
            values = (desired.get(option) or {}).get(setting.section)
            if values is not None:
                warnings += setting.check(setting.desired(values),
                                          option_name("%s%s.%s." % (where, option, setting.section)))
    ip_access = desired.get("ip_access")
    if ip_access is not None:
        own_entries = override is None or ((override.get("ip_access") or {}).get("entries") is not None)
        warnings += _ip_access.check_options(ip_access, option_name(where + "ip_access."),
                                             None if own_entries else option_name("ip_access.entries"))[1]
    api_keys = desired.get("api_keys")
    if api_keys is not None:
        check_patterns(api_keys["allowed_scopes"], option_name(where + "api_keys.allowed_scopes"))
        # the same check as sendgrid_api_key_info's: an empty name allows no key, and says the policy was mistyped
        check_names(api_keys["allowed_control_keys"], option_name(where + "api_keys.allowed_control_keys"))
    return warnings


def engine_desired(desired: dict) -> dict:
    """The engine's settings an account's sections manage: {Setting: managed fields}."""
    managed = {}
    if desired.get("enforced_tls") is not None:
        managed[ENFORCED_TLS] = ENFORCED_TLS.desired(desired["enforced_tls"])
    for option, settings in FAMILIES.items():
        for setting in settings:
            values = (desired.get(option) or {}).get(setting.section)
            if values is not None:
                managed[setting] = setting.desired(values)
    return managed


def setting_key(setting) -> str:
    """A setting's name in results: its option path (tracking.click), enforced_tls for Enforced TLS."""
    for option, settings in FAMILIES.items():
        if setting in settings:
            return "%s.%s" % (option, setting.section)
    return setting.name


# ----------------------------------------------------------------------------- one account

def apply(account, desired: dict, check_mode: bool, key_scopes: KeyScopes | None = None) -> dict:
    """Bring one account to its desired sections; {setting key: outcome}, in the policy's order.

    Every setting stands alone: one that fails is reported as failed and the others go on. The engine's settings come
    first (their reads, the families' summaries shared, then their writes), then the API keys (read only), and the
    allow list last, since a change to it is the only one that may end this machine's access.

    In check mode, given ``key_scopes``, a setting that would change is checked against the calling key's scopes: one
    the key could not write fails the plan now, naming the missing scopes, instead of the apply later.
    """
    outcomes = {}
    engine = engine_desired(desired)
    if engine:
        try:
            done = reconcile(account, engine, check_mode, isolated=True)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            done = {setting.name: _failure(account, exc) for setting in engine}
        for setting in engine:
            outcomes[setting_key(setting)] = _engine_outcome(done[setting.name], check_mode)
    if desired.get("api_keys") is not None:
        outcomes["api_keys"] = _isolated(account, lambda: _audit_keys(account, desired["api_keys"]), _key_failure)
    if desired.get("ip_access") is not None:
        outcomes["ip_access"] = _isolated(account, lambda: _allow_list(account, desired["ip_access"], check_mode),
                                          _setting_failure)
    order = [setting_key(setting) for setting in engine] + ["ip_access", "api_keys"]
    outcomes = {key: outcomes[key] for key in order if key in outcomes}
    if check_mode and key_scopes is not None:
        needed = {key: _write_scopes(key, outcome, engine) for key, outcome in outcomes.items()
                  if outcome["status"] == WOULD_CHANGE}
        if needed:
            for key, missing in key_scopes.missing(account, needed).items():
                outcomes[key] = dict(outcomes[key], status=FAILED, missing_scopes=missing, msg=(
                    "would change, but the API key lacks %s: the apply would be refused." % " and ".join(missing)))
    return outcomes


def _write_scopes(key: str, outcome: dict, engine: dict) -> list:
    """The scopes writing this setting's changes needs."""
    if key == "ip_access":
        return ([_ip_access.ADD.scope] if outcome["changes"].get("added") else []) + (
            [_ip_access.REMOVE.scope] if outcome["changes"].get("removed") else [])
    return [setting.update.scope for setting in engine if setting_key(setting) == key]


def status(changed: bool, check_mode: bool) -> str:
    return (WOULD_CHANGE if check_mode else CHANGED) if changed else COMPLIANT


def _engine_outcome(outcome: dict, check_mode: bool) -> dict:
    if outcome.get("failed"):
        return _setting_failure(outcome["msg"])
    return dict(status=status(outcome["changed"], check_mode), before=outcome["before"], after=outcome["after"],
                changes=outcome["changes"])


def _allow_list(account, ip_access: dict, check_mode: bool) -> dict:
    """The allow list's outcome; ``warnings`` (the account's, see _ip_access.reconcile) only when there are any, for
    run_module to give and take out of the result."""
    outcome = _ip_access.reconcile(
        account, _ip_access.check_options(ip_access)[0], ip_access["state"], ip_access["purge"],
        ip_access["allow_lockout"], ip_access["client_addresses"] or [], check_mode)
    changes = {name: outcome[name] for name in ("added", "removed") if outcome[name]}
    result = dict(status=status(outcome["changed"], check_mode), before=outcome["before"], after=outcome["after"],
                  changes=changes)
    if outcome["warnings"]:
        result["warnings"] = outcome["warnings"]
    return result


def _audit_keys(account, api_keys: dict) -> dict:
    keys = read_keys(account)
    flagged = audit(keys, api_keys["allowed_scopes"], api_keys["allowed_control_keys"])
    return dict(status=FLAGGED if flagged else COMPLIANT, keys=len(keys), flagged=flagged)


def _setting_failure(msg: str) -> dict:
    return dict(status=FAILED, before=None, after=None, changes={}, msg=msg)


def _key_failure(msg: str) -> dict:
    return dict(status=FAILED, keys=None, flagged=[], msg=msg)


def _isolated(account, work, failure) -> dict:
    """What ``work`` returns, or its failure as ``failure(msg)``: a setting's failure never stops the others. A failure
    after a write (the allow list's POST took, its DELETE did not) keeps what was written as its changes."""
    try:
        return work()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        outcome = failure(_failure(account, exc)["msg"])
        if isinstance(exc, SendGridError) and exc.written:
            outcome["changes"] = exc.written
        return outcome


def _failure(account, exc: Exception) -> dict:
    if isinstance(exc, SendGridError):
        return dict(failed=True, msg=str(exc))
    # Unforeseen: its text may hold anything a request held, so the key is masked as every message of the client is.
    redact = getattr(getattr(account, "client", None), "redact", lambda text: text)
    return dict(failed=True, msg="Unexpected %s: %s" % (type(exc).__name__, redact(str(exc))))


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
        statuses = {setting["status"] for setting in account["settings"].values()}
        found = [name for name in (CHANGED, WOULD_CHANGE, FLAGGED) if name in statuses]
        found += [FAILED] if account["failed"] else []
        for name in found or [COMPLIANT]:
            summary[name] += 1
    return summary


def drift(accounts: list) -> list:
    """[{account, settings, flagged}] of every account with a setting that changed, would change or has flagged items
    (API keys beyond the policy); flagged names them per setting ({} when none is)."""
    drifted = []
    for account in accounts:
        settings = [key for key, setting in account["settings"].items() if setting["status"] in DRIFT]
        if settings:
            flagged = {key: [item["name"] for item in setting["flagged"]] for key, setting in account["settings"].items()
                       if setting.get("flagged")}
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
    """The run's verdict in one line, naming each flagged API key (account, key, why) and each failure."""
    summary = summarize(accounts)
    changing = summary[WOULD_CHANGE if check_mode else CHANGED]
    parts = ["%s: %d compliant, %d %s, %d with a flagged API key, %d failed" % (
        plural(summary["accounts"], "account"), summary["compliant"], changing,
        "would change" if check_mode else "changed", summary["flagged"], summary["failed"])]
    flagged = ["%s: %s" % (account["name"], why(key)) for account in accounts
               for key in account["settings"].get("api_keys", {}).get("flagged") or []]
    if flagged:
        parts.append("Flagged API keys: " + first_few(flagged, " | ", "in accounts[].settings.api_keys.flagged"))
    return ". ".join(parts) + "."


def diffs(accounts: list) -> list:
    """One before/after per account, of the settings read (the API keys are audited, never changed)."""
    result = []
    for account in accounts:
        read_settings = {key: setting for key, setting in account["settings"].items()
                         if key != "api_keys" and setting["status"] != FAILED}
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

def run_module() -> None:
    """The whole of sendgrid_baseline: check everything, discover, apply to every account, report."""
    module = sendgrid_module(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    policy = {section: params[section] for section in SECTIONS}
    outcome = dict(changed=False, accounts=[], summary=summarize([]), drift=[], policy=policy, discovered=None,
                   excluded=None, written=[], check_mode=module.check_mode)
    check_concurrency(module, **outcome)
    sections_spec = policy_argument_spec()
    try:
        warnings = check(desired_for(policy))
        # the overrides are typed here, naming their paths; parse_accounts checks the rest of each item
        listed = parse_accounts(params["accounts"], {section: dict(type="raw") for section in SECTIONS})
        for index, account in enumerate(listed):
            for section in SECTIONS:
                account[section] = conform(sections_spec[section]["options"], account[section],
                                           "accounts[%d].%s" % (index, section))
            where = option_name("accounts[%d]." % index)
            # an account warns only of what its overrides make idle: the policy's own were said once, above
            warnings += [warning for warning in check(desired_for(policy, account), "accounts[%d]." % index, account)
                         if not warning.startswith(where) or warning[len(where):] not in warnings]
    except SendGridError as exc:
        module.fail_json(msg=str(exc), **outcome)
    for warning in dict.fromkeys(warnings):   # the policy's once, not once per account that inherits it
        module.warn(warning)
    pool, listed, accounts, outcome["discovered"], outcome["excluded"] = discover_and_plan(module, listed, [], **outcome)
    overrides = {account["on_behalf_of"]: account for account in listed}
    for account in accounts:
        own = overrides.get(account["on_behalf_of"]) or {}
        account["desired"] = desired_for(policy, own)
        account["overrides"] = [section for section in SECTIONS if own.get(section) is not None]
    key_scopes = KeyScopes() if module.check_mode else None

    def one(account_client, account: dict) -> dict:
        return dict(settings=apply(account_client, account["desired"], module.check_mode, key_scopes))

    results = [account_result(account, done) for account, done in zip(
        accounts, for_each_account(pool.client, accounts, one, params["concurrency"]))]
    for account, result in zip(accounts, results):
        # the account's own warnings, given and kept out of the result
        for warning in result["settings"].get("ip_access", {}).pop("warnings", []):
            module.warn("%s: %s" % (result["name"], warning))
        ip_access = account["desired"]["ip_access"]
        switched_off = result["settings"].get("ip_access", {}).get("status") in (CHANGED, WOULD_CHANGE)
        if ip_access and ip_access["state"] == "disabled" and switched_off:
            module.warn("IP Access Management is %s off for %s: its allow list is empty, so every address may reach it."
                        % ("about to be switched" if module.check_mode else "now",
                           "the subuser or account %s" % account["on_behalf_of"] if account["on_behalf_of"]
                           else "the parent account"))
    for host, reason in sorted((key_scopes.unreadable if key_scopes else {}).items()):
        module.warn("The plan could not read the API key's scopes on %s, so it did not check that the key may write "
                    "what would change: %s" % (host, reason))
    outcome.update(changed=any(result["changed"] for result in results), accounts=results, summary=summarize(results),
                   drift=drift(results), written=written(results, module.check_mode))
    if module._diff:
        outcome["diff"] = diffs(results)
    if any(result["failed"] for result in results):
        module.fail_json(msg=failure_message(results, module.check_mode), **outcome)
    module.exit_json(msg=outcome_message(results, module.check_mode), **outcome)
