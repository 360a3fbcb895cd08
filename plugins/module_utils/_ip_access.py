# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The IP allow list family (a collection): IP Access Management's allow list as a set of networks, reconciled with at
most one POST and one DELETE, behind guards against locking this machine out and against entries that open too much.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, account_from_module, connection_argument_spec, result_list, sendgrid_module,
    with_iso_times,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import Family, Option, failure, status, unexpected

PATH = "/v3/access_settings/whitelist"
ACTIVITY_PATH = "/v3/access_settings/activity"
READ = Operation("Reading the IP access allow list", "access_settings.whitelist.read")
ADD = Operation("Adding to the IP access allow list", "access_settings.whitelist.create", creates=True)
REMOVE = Operation("Removing from the IP access allow list", "access_settings.whitelist.delete")
ACTIVITY = Operation("Reading the recent access activity", "access_settings.activity.read")

STATES = ["present", "absent", "disabled"]
# SendGrid's wildcards: 192.*.*.* is 192.0.0.0/8, 192.168.*.* a /16, 192.168.1.* a /24.
WILDCARD = re.compile(r"^(\d{1,3})((?:\.\d{1,3}){0,2})((?:\.\*){1,3})$")
# Addresses seen in the activity this long before the newest access count as "now": SendGrid's clock, not ours.
RECENT_SECONDS = 60
ACTIVITY_LIMIT = 20
# An entry wider than this (IPv4 shorter than /16, over 65536 addresses; IPv6 shorter than /48, a site's allocation)
# lets so many addresses in that it is more likely a slip than a plan: it warns. Documented in both modules and the IP allow list guide.
WIDEST = {4: 16, 6: 48}
MAX_ACTIVITY = 1000
# The epoch-seconds fields that get an ISO 8601 sibling (sendgrid_ip_access_info).
RULE_TIMES = ("created_at", "updated_at")
ACTIVITY_TIMES = ("first_at", "last_at")


def network(entry: str):
    """An entry as the network SendGrid stores: an address is a /32 (/128), a wildcard its network; None if invalid."""
    text = entry.strip() if isinstance(entry, str) else ""
    match = WILDCARD.match(text)
    if match:
        octets = (match.group(1) + match.group(2)).split(".")
        if len(octets) + match.group(3).count("*") != 4:
            return None
        text = "%s/%d" % (".".join(octets + ["0"] * (4 - len(octets))), 8 * len(octets))
    if "%" in text:
        return None  # a zone id (fe80::1%eth0) names an interface of this machine, nothing SendGrid could match
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def check_entries(entries: list, option: str = "entries", allow_any_address: bool = False,
                  allow_any_address_option: str = "allow_any_address") -> list:
    """The entries as networks, refusing, before any request, one that is neither an address, a network nor a wildcard;
    a network of every address (0.0.0.0/0, ::/0) unless ``allow_any_address``; and a network with host bits set
    (10.1.2.3/8), which SendGrid would silently store as another network than the one written."""
    networks = [network(entry) for entry in entries]
    bad = [entry for entry, parsed in zip(entries, networks) if parsed is None]
    if bad:
        raise SendGridError("value of %s must hold IPv4 or IPv6 addresses, CIDR networks (203.0.113.0/24) or SendGrid "
                            "wildcards (203.0.113.*), got: %s." % (option, ", ".join(repr(entry) for entry in bad)))
    everything = [entry.strip() for entry, parsed in zip(entries, networks) if parsed.prefixlen == 0]
    if everything and not allow_any_address:
        raise SendGridError("value of %s must not hold a network of every IPv4 or IPv6 address unless %s is true: it "
                            "lets any address reach the account, which undoes the allow list; got: %s."
                            % (option, allow_any_address_option, ", ".join(everything)))
    host_bits = []
    for entry in entries:
        text = entry.strip()
        if "/" not in text:
            continue  # an address or a wildcard: no prefix to contradict
        given = ipaddress.ip_interface(text)
        if given.ip != given.network.network_address:
            host_bits.append("value of %s holds %s, which has host bits set: give %s for that one address, or %s for "
                             "the whole network." % (option, text, given.ip, given.network))
    if host_bits:
        raise SendGridError(" ".join(host_bits))
    return networks


def wide_entries(entries: list, option: str = "entries") -> list:
    """Warnings, one per network wider than WIDEST (its addresses all reach the account), named as first given; the
    entries must be valid."""
    warnings, seen = [], set()
    for entry in entries:
        parsed = network(entry)
        if parsed.prefixlen < WIDEST[parsed.version] and parsed not in seen:
            seen.add(parsed)
            text = entry.strip()
            shown = text if text == str(parsed) else "%s (%s)" % (text, parsed)
            warnings.append("value of %s holds %s, wider than /%d (the widest IPv%d entry taken without this warning): "
                            "every address it covers may reach the account. Narrow it unless that is meant."
                            % (option, shown, WIDEST[parsed.version], parsed.version))
    return warnings


def check_options(options: dict, prefix: str = "", entries_option: str | None = None) -> tuple:
    """(entries as networks, warnings) of the options of sendgrid_ip_access (or the baseline's ip_access section, whose
    path is ``prefix``), refusing before any request what must not be sent. ``entries_option`` names the entries when
    they come from elsewhere (an account's entries from the baseline's policy). A network of every address and a wide
    entry matter only when added: removing one (state absent) is never refused nor warned about."""
    entries = options["entries"] or []
    entries_option = entries_option or prefix + "entries"
    adding = options["state"] == "present"
    networks = check_entries(entries, entries_option, options["allow_any_address"] or not adding,
                             prefix + "allow_any_address")
    check_addresses(options["client_addresses"] or [], prefix + "client_addresses")
    if options["state"] == "disabled" and entries:
        raise SendGridError("%sstate: disabled empties the allow list: leave %sentries out (it holds %s)."
                            % (prefix, prefix, ", ".join(entries)))
    if options["purge"] and not adding:
        raise SendGridError("%spurge applies to state: present only (state is %s)." % (prefix, options["state"]))
    return networks, wide_entries(entries, entries_option) if adding else []


def check_addresses(addresses: list, option: str = "client_addresses") -> list:
    parsed = []
    for address in addresses:
        try:
            parsed.append(ipaddress.ip_address(address.strip()))
        except ValueError:
            raise SendGridError("value of %s must hold IP addresses (this machine's, as SendGrid sees it), got: %r."
                                % (option, address))
    return parsed


def read_rules(account) -> list:
    """The allow list: [{"id", "ip" (canonical text), "network"}]."""
    rules = []
    for rule in result_list(account.request("GET", PATH, READ), "the allow list"):
        parsed = network(rule.get("ip")) if isinstance(rule, dict) else None
        if parsed is None or not isinstance(rule.get("id"), int):
            raise SendGridError("SendGrid answered the allow list with an entry that has no id or address: %r." % (rule,))
        rules.append(dict(rule, ip=str(parsed), network=parsed))
    return rules


def read_activity(account, limit: int = ACTIVITY_LIMIT) -> list:
    listed = result_list(account.request("GET", ACTIVITY_PATH, ACTIVITY, params=dict(limit=limit)), "the access activity")
    return [item for item in listed if isinstance(item, dict)]


def plan(rules: list, entries: list, state: str, purge: bool) -> tuple:
    """(networks to add, rules to remove, networks after): only what differs, compared as networks, never as text."""
    wanted = list(dict.fromkeys(entries))
    have = {rule["network"] for rule in rules}
    if state == "disabled":
        return [], list(rules), []
    if state == "absent":
        remove = [rule for rule in rules if rule["network"] in wanted]
        add = []
    else:
        add = [entry for entry in wanted if entry not in have]
        remove = [rule for rule in rules if rule["network"] not in wanted] if purge else []
    removed = {rule["id"] for rule in remove}
    return add, remove, [rule["network"] for rule in rules if rule["id"] not in removed] + add


def still_covered(rules: list, entries: list, remove: list) -> list:
    """Warnings, for state absent, about each entry that rules staying on the list still cover: taking it off (or
    finding it not there) does not take its access away."""
    removed = {rule["id"] for rule in remove}
    listed = {rule["network"] for rule in rules}
    staying = [rule["network"] for rule in rules if rule["id"] not in removed]
    warnings = []
    for entry in dict.fromkeys(entries):
        wider = canonical(net for net in staying if net.version == entry.version and net != entry and entry.subnet_of(net))
        if not wider:
            continue
        shown = str(entry.network_address) if entry.prefixlen == entry.max_prefixlen else str(entry)
        if entry in listed:
            start = "Removing %s as an entry of its own leaves it covered by %s" % (shown, " and ".join(wider))
        else:
            start = "%s is not on the allow list as an entry of its own, but %s cover%s it" % (
                shown, " and ".join(wider), "s" if len(wider) == 1 else "")
        warnings.append("%s: it keeps access. Remove %s to take it away." % (start, " and ".join(wider)))
    return warnings


def canonical(networks) -> list:
    """Networks as the sorted, duplicate-free texts results and diffs show."""
    return [str(net) for net in sorted(set(networks), key=lambda net: (net.version, net.network_address, net.prefixlen))]


def client_addresses(account, given: list) -> list:
    """This machine's addresses as SendGrid sees them: the option when given, else the one address the recent
    activity shows using the API key. Refuses when it cannot tell, saying what to set."""
    if given:
        return check_addresses(given)
    accesses = [item for item in read_activity(account) if item.get("allowed") and isinstance(item.get("last_at"), (int, float))]
    if not accesses:
        raise SendGridError("The lockout guard cannot tell this machine's address: SendGrid's recent activity shows no "
                            "allowed access. Set client_addresses to the address(es) this machine reaches SendGrid "
                            "from (behind NAT or a proxy, its public egress address).")
    newest = max(item["last_at"] for item in accesses)
    recent = sorted({item.get("ip") for item in accesses if item["last_at"] >= newest - RECENT_SECONDS}, key=str)
    if len(recent) != 1:
        raise SendGridError("The lockout guard cannot tell this machine's address: SendGrid's recent activity shows "
                            "accesses from %s within a minute. Set client_addresses to the address(es) this machine "
                            "reaches SendGrid from." % ", ".join(str(ip) for ip in recent))
    return check_addresses(recent, "the recent activity's address")


def reconcile(account, entries: list, state: str, purge: bool, allow_lockout: bool, given_addresses: list,
              check_mode: bool) -> dict:
    """Make the allow list hold (or not hold) the entries: one GET, at most one POST and one DELETE.

    The outcome's ``warnings`` name, for state absent, the entries that wider rules staying on the list still cover.
    Refuses, before writing, a change that would empty the list (unless state is disabled) or leave no entry covering
    this machine's address (unless allow_lockout). Adds before it removes, so that no moment leaves the list without
    the entries that are to stay.
    """
    rules = read_rules(account)
    add, remove, after = plan(rules, entries, state, purge)
    outcome = dict(changed=bool(add or remove), before=canonical(rule["network"] for rule in rules), after=canonical(after),
                   added=canonical(add), removed=[rule["ip"] for rule in remove], addresses=None,
                   warnings=still_covered(rules, entries, remove) if state == "absent" else [])
    if not outcome["changed"]:
        return outcome
    if not after and state != "disabled":
        raise SendGridError(
            "This would remove every entry (%s) from the allow list, and an empty list switches IP Access Management "
            "off: every address could reach the account. Nothing was changed. To switch it off, say state: disabled."
            % ", ".join(outcome["removed"]))
    if after and not allow_lockout:
        addresses = client_addresses(account, given_addresses)
        outcome["addresses"] = [str(address) for address in addresses]
        locked_out = [address for address in addresses if not any(address in net for net in after)]
        if locked_out:
            raise SendGridError(
                "This change would lock this machine out: no entry of the resulting allow list (%s) covers %s, the "
                "address%s it reaches SendGrid from. Nothing was changed. Add an entry covering it, correct "
                "client_addresses, or set allow_lockout: true if that is what you mean."
                % (", ".join(outcome["after"]), ", ".join(str(address) for address in locked_out),
                   "" if len(locked_out) == 1 else "es"))
    if check_mode:
        return outcome
    if add:
        answer = account.request("POST", PATH, ADD, body=dict(ips=[dict(ip=str(net)) for net in add]))
        result = answer.get("result") if isinstance(answer, dict) else None
        listed = {network(rule.get("ip")) for rule in result or [] if isinstance(rule, dict)}
        missing = [str(net) for net in add if net not in listed]
        if missing:
            # Removing now could leave the list without what was to replace it: stop before the DELETE.
            raise SendGridError("SendGrid acknowledged the addition to the allow list without listing %s, so nothing "
                                "was removed. Run the task again." % ", ".join(missing))
    if remove:
        try:
            account.request("DELETE", PATH, REMOVE, body=dict(ids=[rule["id"] for rule in remove]))
        except SendGridError as exc:
            if not add:
                raise
            # the POST took: the play recap does not count a failed task's changes, so the message says it
            raise SendGridError("%s. Added before the failure: %s; nothing was removed."
                                % (str(exc).rstrip("."), ", ".join(outcome["added"])), exc.status,
                                written=dict(added=outcome["added"]))
    return outcome


# ----------------------------------------------------------------------------- the family contract

OPTIONS = [
    Option("entries", "list", [
        "IPv4 or IPv6 addresses, CIDR networks, or SendGrid wildcards (V(203.0.113.*), V(203.*.*.*)), compared as "
        "networks. An invalid entry fails before any request.",
        "A network must be written as its first address (V(10.0.0.0/8)); one with host bits set (V(10.1.2.3/8)) fails "
        "before any request.",
        "A network of every address (V(0.0.0.0/0), V(::/0)) fails before any request with O(@state=present), unless "
        "O(@allow_any_address=true).",
        "Wide entries warn: with O(@state=present), each entry wider than V(/16) (IPv4, more than 65536 addresses) or "
        "V(/48) (IPv6) gives a warning naming it; V(10.*.*.*) is V(10.0.0.0/8) and warns too."],
        elements="str", default=[]),
    Option("state", "str", [
        "V(present) adds the O(@entries) the list lacks (with O(@purge=true), also removes every other entry).",
        "V(absent) removes the O(@entries) the list holds (entries equal to them as networks; an entry that only covers "
        "one, such as a wider network, stays, and the task warns that the entry keeps access through it).",
        "V(disabled) empties the list, which switches IP Access Management off for the account; the result then "
        "carries a warning. O(@entries) must be empty. This is the only way to empty the list: a V(present) with "
        "O(@purge=true) or an V(absent) that would remove the last entry fails instead."],
        choices=STATES, default="present"),
    Option("purge", "bool", "With O(@state=present), make the list exactly O(@entries).", default=False),
    Option("allow_lockout", "bool",
           "Let a change through even though no resulting entry covers this machine's address. The task's next request "
           "to the account will then be refused by SendGrid.", default=False),
    Option("allow_any_address", "bool",
           "Let O(@entries) hold a network of every IPv4 or IPv6 address (V(0.0.0.0/0), V(::/0)), which lets any "
           "address reach the account and so undoes the allow list. The task still warns about it.", default=False,
           version_added="1.1.0"),
    Option("client_addresses", "list", [
        "The address or addresses this machine reaches SendGrid from, as SendGrid sees them (behind NAT or a proxy, the "
        "public egress addresses). The lockout guard requires an entry covering each of them.",
        "Left out, the guard reads SendGrid's recent access activity instead."], elements="str"),
]


class IpAccessFamily(Family):
    """The allow list as a family: its options, checks, one reconcile per account, and its single-account module."""

    kind = "collection"
    runs_last = True   # the only change that may end this machine's access: after every other family
    module = "sendgrid_ip_access"
    export_in_parts = False   # a purge without the entries it keeps would empty the list

    def __init__(self):
        super().__init__(
            "ip_access", "the IP allow list",
            "The IP access allow list, as M(mailops.sendgrid.sendgrid_ip_access) manages it, with its lockout guard, "
            "its refusal to empty the list other than by C(state=disabled), and its entry guards (host bits, networks "
            "of every address, wide entries).", OPTIONS)

    def check(self, values: dict, where: str = "") -> list:
        return check_options(values, where)[1]

    def apply(self, account, values: dict, check_mode: bool) -> dict:
        name = account.on_behalf_of or "parent"
        try:
            outcome = reconcile(account, check_options(values)[0], values["state"], values["purge"],
                                values["allow_lockout"], values["client_addresses"] or [], check_mode)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # a failure after a write (the POST took, the DELETE did not) keeps what was written as its changes
            return {self.name: failure(str(unexpected(account, exc)), before=None, after=None,
                                       changes=getattr(exc, "written", None) or {})}
        changes = {part: outcome[part] for part in ("added", "removed") if outcome[part]}
        result = dict(status=status(outcome["changed"], check_mode), before=outcome["before"], after=outcome["after"],
                      changes=changes)
        warnings = ["%s: %s" % (name, warning) for warning in outcome["warnings"]]
        if values["state"] == "disabled" and outcome["changed"]:
            warnings.append(switched_off(account.on_behalf_of, check_mode, many=True))
        if warnings:
            result["warnings"] = warnings
        return {self.name: result}

    def export(self, account) -> dict:
        """The list exactly (purge), or switched off when it is empty (purge is for state present only)."""
        networks = [rule["network"] for rule in read_rules(account)]
        if not networks:
            return dict(entries=[], state="disabled", purge=False)
        # a list open to every address is what the account has: allowed, so that the plan is in sync, and warned about
        return dict(entries=canonical(networks), state="present", purge=True,
                    allow_any_address=any(network.prefixlen == 0 for network in networks))

    def export_warnings(self, section: dict) -> list:
        if not section.get("allow_any_address"):
            return []
        return ["its allow list lets every address in (%s): the export sets allow_any_address so that the plan is in "
                "sync. Remove the entry to make the list mean something." % ", ".join(
                    entry for entry in section["entries"] if entry.endswith("/0"))]

    def write_scopes(self, key: str, outcome: dict) -> list:
        changes = outcome.get("changes") or {}
        return ([ADD.scope] if changes.get("added") else []) + ([REMOVE.scope] if changes.get("removed") else [])

    def describe(self, key: str, outcome: dict, cell) -> str:
        return "; ".join("%s %s" % (part, cell(", ".join(entries))) for part, entries in
                         (outcome.get("changes") or {}).items())

    def run_module(self) -> None:
        """The whole of sendgrid_ip_access."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **self.argument_spec()),
                                 supports_check_mode=True)
        params = module.params
        try:
            entries, warnings = check_options(params)
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        for warning in warnings:
            module.warn(warning)
        account = account_from_module(module)
        try:
            outcome = reconcile(account, entries, params["state"], params["purge"], params["allow_lockout"],
                                params["client_addresses"] or [], module.check_mode)
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status, **(dict(changed=True, **exc.written) if exc.written else {}))
        for warning in outcome["warnings"]:
            module.warn(warning)
        if params["state"] == "disabled" and outcome["changed"]:
            module.warn(switched_off(params["on_behalf_of"], module.check_mode, many=False))
        result = dict(changed=outcome["changed"], entries=outcome["after"], added=outcome["added"],
                      removed=outcome["removed"], client_addresses=outcome["addresses"])
        if module._diff:
            result["diff"] = dict(before=dict(entries=outcome["before"]), after=dict(entries=outcome["after"]))
        module.exit_json(**result)

    def run_info_module(self) -> None:
        """The whole of sendgrid_ip_access_info: the list and the recent access attempts, epoch times also in ISO."""
        module = sendgrid_module(
            argument_spec=dict(connection_argument_spec(), activity=dict(type="bool", default=True),
                               activity_limit=dict(type="int", default=20)),
            supports_check_mode=True,
        )
        if not 1 <= module.params["activity_limit"] <= MAX_ACTIVITY:
            module.fail_json(msg="activity_limit must be from 1 to %d, got %d."
                             % (MAX_ACTIVITY, module.params["activity_limit"]))
        account = account_from_module(module)
        try:
            rules = read_rules(account)
            activity = read_activity(account, module.params["activity_limit"]) if module.params["activity"] else []
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status)
        activity = [with_iso_times(item, ACTIVITY_TIMES) for item in activity]
        module.exit_json(changed=False, enabled=bool(rules), entries=canonical(rule["network"] for rule in rules),
                         rules=[with_iso_times({key: value for key, value in rule.items() if key != "network"},
                                               RULE_TIMES) for rule in rules],
                         activity=activity, refused=[item for item in activity if item.get("allowed") is False])


def switched_off(on_behalf_of, check_mode: bool, many: bool) -> str:
    """The warning of a list emptied (or about to be): the baseline names the parent as such among many accounts."""
    who = "the subuser or account %s" % on_behalf_of if on_behalf_of else "the parent account" if many else "the account"
    return ("IP Access Management is %s off for %s: %s allow list is empty, so every address may reach it."
            % ("about to be switched" if check_mode else "now", who, "its" if many else "the"))


FAMILY = IpAccessFamily()
