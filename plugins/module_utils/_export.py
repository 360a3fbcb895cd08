# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The export: the policy that describes an estate as it is, for the role mailops.sendgrid.baseline.

Every family of the policy (or those asked) reads each account with its ``export()`` (the family contract, _family):
the section that, applied, changes and flags nothing, with ANY where any value fits. Per field, the policy holds the
value most accounts have (the first account's on a tie: the parent's); an account that differs gets an override
holding only its differences (the parent's in baseline_parent, a subuser's in baseline_subusers). A field some
account has no value for (null) cannot be overridden back to null, so the policy leaves it out and each account that
has a value gets it as an override. No family is named here.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import json
from collections import Counter

from ansible_collections.mailops.sendgrid.plugins.module_utils._accounts import (
    check_concurrency, discover_and_plan, for_each_account, many_accounts_argument_spec, parse_accounts,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._baseline import check, desired_for, section_spec
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    SendGridError, base_url_for, first_few, option_name, plural, sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._families import BY_NAME, POLICY
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import ANY

ROLE_PREFIX = "baseline_"


def argument_spec() -> dict:
    return dict(
        many_accounts_argument_spec(),
        families=dict(type="list", elements="str", choices=[family.name for family in POLICY]),
        leave_out=dict(type="list", elements="str", default=[]),
        # written on the controller by the action plugin of the same name (the module returns the policy)
        dest=dict(type="path"),
    )


# ----------------------------------------------------------------------------- fields

def fields(spec: dict, values, path: tuple = ()) -> dict:
    """{path: value} of a section's fields, a path per option without suboptions ((setting, field)); a dictionary
    that is one option's value (a mapping of people to their access) is one field. ANY where the values give
    nothing."""
    found = {}
    for name, option in spec.items():
        value = values.get(name, ANY) if isinstance(values, dict) else ANY
        if option.get("options"):
            found.update(fields(option["options"], value, path + (name,)))
        else:
            found[path + (name,)] = value
    return found


def paths_of(families: list) -> list:
    """Every path leave_out may name: a section, a setting, a field ("section.setting.field")."""
    known = []
    for family in families:
        for path in fields(section_spec(family)["options"], {}, (family.name,)):
            known += [".".join(path[:length]) for length in range(1, len(path) + 1)]
    return list(dict.fromkeys(known))


def check_left_out(leave_out: list, families: list) -> list:
    """The leave_out paths as tuples; one that names no section, setting or field of the exported families is refused,
    naming what may be given."""
    known = paths_of(families)
    unknown = [path for path in leave_out if path not in known]
    if unknown:
        raise SendGridError("%s names %s, which %s no section, setting or field of the exported families; give any of "
                            "%s." % (option_name("leave_out"), ", ".join(unknown), "is" if len(unknown) == 1 else "are",
                                     ", ".join(known)))
    # a section whose fields only mean something together (the entries a purge keeps) is left out whole or not at all
    partial = [path for path in leave_out if "." in path and not BY_NAME[path.split(".")[0]].export_in_parts]
    if partial:
        raise SendGridError("%s names %s: %s is left out whole or not at all, since its fields only mean something "
                            "together (a purge without the entries it keeps would empty the list). Give %s." % (
                                option_name("leave_out"), ", ".join(partial), partial[0].split(".")[0],
                                partial[0].split(".")[0]))
    return [tuple(path.split(".")) for path in leave_out]


def _same(value) -> str:
    return json.dumps(value, sort_keys=True)


def common(accounts: list, ties: list | None = None, parent_first: bool = True) -> dict:
    """{path: the value most accounts have}, over the accounts' fields ([{path: value}], the parent's first when
    ``parent_first``); a path every account has as ANY, or one some account has no value for (null), is left out.

    A tie goes to the parent's value when it is among the tied, else to the first tied value in sort order, so that
    the policy does not depend on the order the accounts were read in; ``ties`` (a list) gets each tied path."""
    policy = {}
    for path in dict.fromkeys(path for found in accounts for path in found):
        values = [found[path] for found in accounts if found.get(path, ANY) is not ANY]
        if not values or any(value is None for value in values):
            continue
        counts = Counter(_same(value) for value in values)
        most = max(counts.values())
        tied = sorted(text for text, count in counts.items() if count == most)
        first = _same(accounts[0][path]) if parent_first and accounts[0].get(path, ANY) is not ANY else None
        best = first if first in tied else tied[0]
        if len(tied) > 1 and ties is not None:
            ties.append(path)
        policy[path] = next(value for value in values if _same(value) == best)
    return policy


def differences(found: dict, policy: dict) -> dict:
    """The fields of an account that the policy does not give it: its override."""
    return {path: value for path, value in found.items() if value is not ANY and value is not None
            and (path not in policy or _same(policy[path]) != _same(value))}


def nested(flat: dict) -> dict:
    tree = {}
    for path, value in flat.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


# ----------------------------------------------------------------------------- the export

def export(families: list, sections: list, left_out: list, ties: list | None = None, parent_first: bool = True) -> tuple:
    """(the policy's sections, each account's overrides) from each account's exported sections ([{family: section}]);
    the left-out paths neither in the policy nor in any override, a section left out whole not in the policy at all
    (so that the role leaves it alone, rather than apply its defaults). ``ties``: see common()."""
    per_account = []
    for exported in sections:
        found = {}
        for family in families:
            found.update(fields(section_spec(family)["options"], exported[family.name], (family.name,)))
        per_account.append({path: value for path, value in found.items()
                            if not any(path[:len(out)] == out for out in left_out)})
    policy = common(per_account, ties, parent_first)
    sections_policy = dict({family.name: {} for family in families if (family.name,) not in left_out},
                           **nested(policy))
    return sections_policy, [nested(differences(found, policy)) for found in per_account]


def role_variables(params: dict, families: list, policy: dict, accounts: list, overrides: list, listed: list) -> dict:
    """The exported file's variables, for the role baseline: the sections, the accounts as the export found them
    (discovery, exclusions), the parent's overrides and the subusers' (every listed account, and each discovered one
    with overrides)."""
    variables = {ROLE_PREFIX + family.name: policy[family.name] for family in families}
    variables.update({ROLE_PREFIX + "include_parent": params["include_parent"],
                      ROLE_PREFIX + "discover_subusers": params["discover_subusers"]})
    if params["discover_subusers"]:
        variables.update({ROLE_PREFIX + "exclude": params["exclude"],
                          ROLE_PREFIX + "include_disabled": params["include_disabled"]})
    given = {item["on_behalf_of"]: item for item in listed if item.get("given")}
    subusers, parent = [], {}
    for account, override in zip(accounts, overrides):
        if account["on_behalf_of"] is None:
            parent = override
            continue
        item = given.get(account["on_behalf_of"])
        if item is None and not override:
            continue
        entry = dict(name=account["on_behalf_of"])
        if item is not None and item.get("region"):
            entry["region"] = item["region"]
        subusers.append(dict(entry, **override))
    variables.update({ROLE_PREFIX + "parent": parent, ROLE_PREFIX + "subusers": subusers})
    return variables


def refusals(policy: dict, accounts: list, overrides: list) -> list:
    """What the baseline would refuse in the exported policy (a value SendGrid holds that the baseline's checks do
    not take), naming the account: the export still returns it, with a warning for each."""
    problems = []
    for account, override in [(None, {})] + list(zip(accounts, overrides)):
        try:
            check(desired_for(policy, override))
        except SendGridError as exc:
            problems.append("%s: %s" % (account["name"] if account else "the policy", exc))
    return list(dict.fromkeys(problems))


def run_module() -> None:
    """The whole of sendgrid_baseline_export: read every family of every account, return the policy."""
    module = sendgrid_module(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    outcome = dict(changed=False, policy=None, summary=None, accounts=[])
    check_concurrency(module, **outcome)
    families = [family for family in POLICY if params["families"] is None or family.name in params["families"]]
    try:
        if not families:
            raise SendGridError("%s names no section: give at least one, or leave it out (null) to export every one."
                                % option_name("families"))
        left_out = check_left_out(params["leave_out"], families)
        listed = [dict(item, given=True) for item in parse_accounts(params["accounts"], {})]
    except SendGridError as exc:
        module.fail_json(msg=str(exc), **outcome)
    pool, listed, accounts, discovered, excluded = discover_and_plan(module, listed, None, **outcome)

    def read(account_client, item: dict) -> dict:
        sections, warnings = {}, []
        for family in families:
            sections[family.name] = family.export(account_client)
            warnings += ["%s: %s" % (item["name"], warning) for warning in family.export_warnings(sections[family.name])]
        return dict(sections=sections, warnings=warnings)

    results = for_each_account(pool.client, accounts, read, params["concurrency"])
    names = [account["name"] for account in accounts]
    failed = ["%s: %s" % (name, result["msg"]) for name, result in zip(names, results) if result["failed"]]
    if failed:
        outcome["accounts"] = names
        module.fail_json(msg="Reading %d of %s failed, so nothing was exported: %s" % (
            len(failed), plural(len(accounts), "account"), first_few(failed, " | ", "in failures")),
            failures=failed, **outcome)
    ties = []
    policy, overrides = export(families, [result["sections"] for result in results], left_out, ties,
                               parent_first=bool(accounts) and accounts[0]["on_behalf_of"] is None)
    for problem in refusals(policy, accounts, overrides):
        module.warn("The baseline would refuse a value the export read, %s Change it on the account, or leave the "
                    "field out (%s)." % (problem.rstrip(".") + ".", option_name("leave_out")))
    for result in results:
        for warning in result.get("warnings", []):
            module.warn(warning)
    exported = [family for family in families if (family.name,) not in left_out]
    notes = [family.export_note for family in exported if family.export_note]
    summary = dict(
        source=base_url_for(params["region"], params["api_url"], params["eu_api_url"]), accounts=len(accounts),
        subusers=sum(1 for account in accounts if account["on_behalf_of"] is not None),
        discovered=discovered, excluded=excluded, families=[family.name for family in exported],
        overridden_accounts=[account["name"] for account, override in zip(accounts, overrides) if override],
        overrides=sum(len(fields_of(override)) for override in overrides),
        left_out=[".".join(path) for path in left_out], notes=notes, ties=[".".join(path) for path in ties])
    module.exit_json(changed=False, accounts=names, summary=summary,
                     policy=role_variables(params, families, policy, accounts, overrides, listed))


def fields_of(override: dict) -> list:
    """The fields an override gives (a nested dictionary of sections, settings and fields), as paths."""
    found = []
    for section, values in override.items():
        family = BY_NAME[section]
        found += [path for path, value in fields(section_spec(family)["options"], values, (section,)).items()
                  if value is not ANY]
    return found
