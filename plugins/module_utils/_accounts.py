# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which accounts a many-account module manages: the parent, the listed accounts and the discovered subusers.

For internal use by this collection's modules only: names here may change without notice.
Everything here runs before the first settings request, so a bad account list sends nothing.
"""

from __future__ import annotations

import difflib
import fnmatch
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    ClientPool, SendGridError, as_text, base_url_for, check_account_name, client_from_module, connection_argument_spec,
    option_name, option_names_argument_spec, region_advice, shape_problems,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._subusers import list_subusers

REGIONS = ["global", "eu"]
MAX_CONCURRENCY = 32
PAGE_SIZE = 500


def account_argument_spec(policy_spec: dict) -> dict:
    """One item of ``accounts``: who (on_behalf_of, alias name), where (region), and overrides of the policy."""
    return dict(
        on_behalf_of=dict(type="str", required=True, aliases=["name"]),
        region=dict(type="str", choices=REGIONS),
        **policy_spec
    )


def many_accounts_argument_spec() -> dict:
    """The options of every module that handles many accounts in one run (the baseline, its export, Enforced TLS of
    many accounts): the connection (no on_behalf_of: each account is one), which accounts, how many at a time."""
    return dict(
        connection_argument_spec(on_behalf_of=False),
        **option_names_argument_spec(),
        include_parent=dict(type="bool", default=True),
        accounts=dict(type="list", elements="raw", default=[]),
        concurrency=dict(type="int", default=8),
        **discovery_argument_spec()
    )


def discovery_argument_spec() -> dict:
    """The options that add every subuser of the parent to the accounts."""
    return dict(
        discover_subusers=dict(type="bool", default=False),
        exclude=dict(type="list", elements="str", default=[]),
        include_disabled=dict(type="bool", default=True),
    )


def parse_accounts(items: list, policy_spec: dict) -> list:
    """The ``accounts`` items, each a name or a dictionary, validated and typed; an error names the item.

    The option is a list of raw elements so that a plain name works as it does in the role; every item is then
    checked here as AnsibleModule checks a list of dictionaries.
    """
    spec = account_argument_spec(policy_spec)
    known = set(spec) | {"name"}
    shape = ("an account is a subuser's name, or a dictionary with name (or on_behalf_of) and any of %s"
             % ", ".join(name for name in spec if name != "on_behalf_of"))
    validator = ArgumentSpecValidator(spec)
    accounts, seen = [], set()
    for index, item in enumerate(items):
        where = option_name("accounts[%d]" % index)
        if isinstance(item, str):
            item = dict(on_behalf_of=item)
        if not isinstance(item, dict):
            raise SendGridError("%s is %s; %s." % (where, as_text(item), shape))
        unknown = sorted(set(item) - known)
        if unknown:
            keys = "key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown))
            raise SendGridError("%s has the unknown %s; %s." % (where, keys, shape))
        item = dict(item)  # the caller's item stays as given
        if "name" in item and "on_behalf_of" in item:
            raise SendGridError("%s gives both name and on_behalf_of; they are the same, give one." % where)
        problems = shape_problems(spec, item, where + ".")
        if problems:
            raise SendGridError("; ".join(problem for dummy, problem in problems) + ".")
        result = validator.validate(item)
        if result.error_messages:
            raise SendGridError("%s (%s): %s." % (where, as_text(item), "; ".join(result.error_messages)))
        account = {name: result.validated_parameters.get(name) for name in spec}
        check_account_name("%s.name" % where, account["on_behalf_of"])
        if account["on_behalf_of"] in seen:
            raise SendGridError("%s lists %r more than once; give each account once, with its overrides."
                                % (option_name("accounts"), account["on_behalf_of"]))
        seen.add(account["on_behalf_of"])
        accounts.append(account)
    return accounts


def add_discovered(listed: list, subusers: list, exclude: list, include_disabled: bool) -> tuple:
    """The listed accounts, then every discovered subuser not listed, not excluded (and enabled, unless asked); and
    what the selection left out: {"exclude": [{"pattern", "subusers"}], "disabled": [names]}.

    A listed subuser keeps its overrides and takes its discovered region (and disabled flag) unless it gives one;
    exclusions apply to discovery only, never to an account listed by name. A listed name that discovery did not find
    is refused: the parent's subusers are all known by then (a customer account, "account-id N", is not a subuser).
    """
    found = {subuser["username"]: subuser for subuser in subusers}
    for index, account in enumerate(listed):
        name = account["on_behalf_of"]
        if name not in found and not name.startswith("account-id "):
            close = difflib.get_close_matches(name, list(found), n=3)
            raise SendGridError("%s names %r, which is not a subuser of this parent: discovery found %d subuser%s%s. "
                                "Nothing was sent beyond the subuser list." % (
                                    option_name("accounts[%d]" % index), name, len(found), "" if len(found) == 1 else "s",
                                    " (did you mean %s?)" % " or ".join(close) if close else ""))
    accounts = [dict(account, region=account["region"] or found.get(account["on_behalf_of"], {}).get("region"),
                     disabled=found.get(account["on_behalf_of"], {}).get("disabled")) for account in listed]
    names = {account["on_behalf_of"] for account in listed}
    left_out = dict(exclude=[dict(pattern=pattern, subusers=sorted(
        subuser["username"] for subuser in subusers if subuser["username"] not in names
        and fnmatch.fnmatchcase(subuser["username"], pattern))) for pattern in exclude], disabled=[])
    excluded = {name for item in left_out["exclude"] for name in item["subusers"]}
    for subuser in subusers:
        if subuser["username"] in names or subuser["username"] in excluded:
            continue
        if not include_disabled and subuser["disabled"] is not False:
            left_out["disabled"].append(subuser["username"])
            continue
        accounts.append(dict(on_behalf_of=subuser["username"], region=subuser["region"], disabled=subuser["disabled"]))
    return accounts, left_out


def plan(params: dict, accounts: list) -> list:
    """Every account to handle (the parent first, when included), with its host."""
    entries = ([dict(on_behalf_of=None, region=params["region"])] if params["include_parent"] else []) + accounts
    planned = []
    for entry in entries:
        region = entry.get("region") or params["region"]
        planned.append(dict(
            name=entry["on_behalf_of"] or "parent",
            on_behalf_of=entry["on_behalf_of"],
            region=region,
            base_url=base_url_for(region, params["api_url"], params["eu_api_url"]),
            region_advice=region_advice(region, params["api_url"], params["eu_api_url"]),
            disabled=entry.get("disabled"),
        ))
    return planned


def check_concurrency(module, **failure) -> None:
    """Refuse a concurrency out of range first, before the policy and the accounts are checked."""
    if not 1 <= module.params["concurrency"] <= MAX_CONCURRENCY:
        module.fail_json(msg="%s must be from 1 to %d, got %d."
                         % (option_name("concurrency"), MAX_CONCURRENCY, module.params["concurrency"]), **failure)


def discover_and_plan(module, listed: list, progress=None, **failure) -> tuple:
    """The client pool, the listed accounts with the discovered ones, every account to handle (see plan), how many
    subusers discovery found (None without it) and what it left out (see add_discovered; None without discovery);
    ``failure`` is the module's other results should any of it fail. An exclusion pattern that matches no subuser
    is warned about: it is most likely a typo, and the subuser it meant is handled.

    Both hosts' URLs are checked first and one client per host is made here, in the main thread, so that a bad option
    fails before any settings request, whichever accounts discovery finds.
    """
    params = module.params
    try:
        hosts = {region: base_url_for(region, params["api_url"], params["eu_api_url"]) for region in REGIONS}
    except SendGridError as exc:
        module.fail_json(msg=str(exc), **failure)
    pool = ClientPool(lambda base_url, rate_limits: client_from_module(module, base_url, rate_limits),
                      on_wait=progress.waiting if progress else None)
    discovered = left_out = None
    if params["discover_subusers"]:
        if progress:
            progress.discovering()
        try:
            subusers = list_subusers(pool.client(hosts[params["region"]]), PAGE_SIZE)
        except SendGridError as exc:
            module.fail_json(msg="Discovering the subusers failed, so no account was handled: %s" % exc,
                             status=exc.status, **failure)
        discovered = len(subusers)
        try:
            listed, left_out = add_discovered(listed, subusers, params["exclude"], params["include_disabled"])
        except SendGridError as exc:
            module.fail_json(msg=str(exc), **failure)
        for item in left_out["exclude"]:
            if not item["subusers"]:
                module.warn("The pattern %r of %s matches none of the %d subusers, so it excludes nothing: check it for "
                            "a typo." % (item["pattern"], option_name("exclude"), discovered))
    accounts = plan(params, listed)
    for base_url in sorted({account["base_url"] for account in accounts}):
        pool.client(base_url)  # a bad option fails here, in the main thread, before any settings request
    return pool, listed, accounts, discovered, left_out


def for_each_account(client_for, accounts: list, work, concurrency: int, progress=None) -> list:
    """Run ``work(account_client, item)`` for every account, at most ``concurrency`` at a time; outcomes in order.

    ``accounts`` items hold ``on_behalf_of`` (None for the parent) and ``base_url``; ``client_for(base_url)`` gives the
    calling thread's client for that host. A failing account does not stop the others: its outcome holds ``failed``,
    ``msg`` and ``status``; the others' hold ``failed: false`` and what ``work`` returned. ``progress`` (a
    _progress.Progress) is told the total first, then of each account as it is done.
    """
    def one(item: dict) -> dict:
        outcome = handle(item)
        if progress:
            progress.account_done(item.get("name") or item["on_behalf_of"] or "parent", outcome)
        return outcome

    def handle(item: dict) -> dict:
        client = client_for(item["base_url"])
        try:
            return dict(work(client.account(item["on_behalf_of"], item.get("region_advice")), item), failed=False)
        except SendGridError as exc:
            return dict(changed=False, failed=True, msg=str(exc), status=exc.status)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Anything unforeseen is this account's failure: the others' results, maybe written already, must be reported.
            return dict(changed=False, failed=True, status=None,
                        msg="Unexpected %s while handling this account: %s" % (type(exc).__name__, client.redact(str(exc))))

    if progress:
        progress.start(len(accounts))
    # Ctrl-C (SIGINT, which Ansible passes on to the module's process group) ends the process at once, as SIGTERM
    # does: Python's KeyboardInterrupt would stop the main thread only, and the worker threads would go on sending
    # requests until every account was done.
    main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGINT, signal.SIG_DFL) if main else None
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(accounts)))) as executor:
            return list(executor.map(one, accounts))
    finally:
        if main:
            signal.signal(signal.SIGINT, before)
