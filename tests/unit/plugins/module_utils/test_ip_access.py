# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The allow list's canonical comparison, plan, lockout guard and requests, over a recording fake account."""

from __future__ import annotations

import pytest

from ansible_collections.mailops.sendgrid.plugins.module_utils import _ip_access
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._ip_access import (
    check_entries, check_options, network, read_rules, reconcile, wide_entries,
)


class FakeAccount:
    """Keeps an allow list as SendGrid does (canonical networks, rule ids) and an activity log; records requests."""

    def __init__(self, ips=(), activity=None):
        self.rules = [{"id": number, "ip": str(network(ip)), "created_at": 1, "updated_at": 1}
                      for number, ip in enumerate(ips, 1)]
        self.activity = activity if activity is not None else [
            {"allowed": True, "auth_method": "API Key", "first_at": 100, "ip": "127.0.0.1", "last_at": 200, "location": ""}]
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, body))
        if path.endswith("/activity"):
            return {"result": self.activity}
        if method == "POST":
            added = [{"id": 100 + n, "ip": str(network(item["ip"])), "created_at": 2, "updated_at": 2}
                     for n, item in enumerate(body["ips"])]
            self.rules += added
            return {"result": added}
        if method == "DELETE":
            self.rules = [rule for rule in self.rules if rule["id"] not in body["ids"]]
            return None
        return {"result": list(self.rules)}


def run(account, entries, state="present", purge=False, allow_lockout=False, addresses=(), check_mode=False):
    return reconcile(account, check_entries(entries), state, purge, allow_lockout, list(addresses), check_mode)


def options(**values) -> dict:
    """The module's options, with its defaults for those not given."""
    return dict(dict(entries=[], state="present", purge=False, allow_any_address=False, client_addresses=None), **values)


@pytest.mark.parametrize("entry, canonical", [
    ("192.168.1.1", "192.168.1.1/32"), ("192.*.*.*", "192.0.0.0/8"), ("192.168.*.*", "192.168.0.0/16"),
    ("192.168.1.*", "192.168.1.0/24"), ("10.1.2.3/8", "10.0.0.0/8"),   # as SendGrid may list it; refused as an entry ("2001:DB8::1", "2001:db8::1/128"),
    (" 10.0.0.1 ", "10.0.0.1/32"),
])
def test_entries_are_the_networks_sendgrid_stores(entry, canonical):
    assert str(network(entry)) == canonical


def test_invalid_entries_are_refused_naming_them():
    with pytest.raises(SendGridError, match=r"value of entries must hold IPv4 or IPv6 addresses, CIDR networks .* "
                                            r"got: '300\.1\.1\.1', '1\.\*\.3\.\*', 'fe80::1%eth0'"):
        check_entries(["10.0.0.1", "300.1.1.1", "1.*.3.*", "fe80::1%eth0"])


@pytest.mark.parametrize("entry", ["0.0.0.0/0", "::/0", " 0::/0 "])
def test_any_address_network_is_refused_unless_allowed(entry):
    with pytest.raises(SendGridError) as refused:
        check_entries(["127.0.0.1", entry])
    assert str(refused.value) == (
        "value of entries must not hold a network of every IPv4 or IPv6 address unless allow_any_address is true: "
        "it lets any address reach the account, which undoes the allow list; got: %s." % entry.strip())
    assert [str(net) for net in check_entries([entry], allow_any_address=True)] == [str(network(entry))]


def test_any_address_network_refusal_names_the_option_path_given():
    with pytest.raises(SendGridError, match=r"^value of accounts\[2\]\.ip_access\.entries must not hold .* unless "
                                            r"accounts\[2\]\.ip_access\.allow_any_address is true"):
        check_options(options(entries=["0.0.0.0/0"]), "accounts[2].ip_access.")


def test_removing_the_any_address_network_is_never_refused():
    assert check_options(options(entries=["0.0.0.0/0", "::/0"], state="absent")) == (
        [network("0.0.0.0/0"), network("::/0")], [])


def test_entry_with_host_bits_is_refused_naming_what_was_meant():
    with pytest.raises(SendGridError) as refused:
        check_entries(["127.0.0.1", "10.1.2.3/8", "2001:db8::1/32"])
    assert str(refused.value) == (
        "value of entries holds 10.1.2.3/8, which has host bits set: give 10.1.2.3 for that one address, or "
        "10.0.0.0/8 for the whole network. value of entries holds 2001:db8::1/32, which has host bits set: give "
        "2001:db8::1 for that one address, or 2001:db8::/32 for the whole network.")


@pytest.mark.parametrize("state", ["present", "absent"])
def test_host_bits_are_refused_whatever_the_state(state):
    with pytest.raises(SendGridError, match=r"^value of ip_access\.entries holds 192\.0\.2\.9/24, which has host bits"):
        check_options(options(entries=["192.0.2.9/24"], state=state), "ip_access.")


def test_networks_addresses_and_wildcards_have_no_host_bits_to_refuse():
    entries = ["10.0.0.0/8", "203.0.113.*", "192.*.*.*", "198.51.100.7", "198.51.100.7/32", "2001:db8::/32", "::1"]
    assert [str(net) for net in check_entries(entries)] == [
        "10.0.0.0/8", "203.0.113.0/24", "192.0.0.0/8", "198.51.100.7/32", "198.51.100.7/32", "2001:db8::/32", "::1/128"]


def test_rules_read_from_sendgrid_stay_parsed_leniently():
    class Account:
        @staticmethod
        def request(method, path, operation, body=None, params=None):
            return {"result": [{"id": 1, "ip": "10.1.2.3/8"}, {"id": 2, "ip": "0.0.0.0/0"}]}

    assert [rule["ip"] for rule in read_rules(Account())] == ["10.0.0.0/8", "0.0.0.0/0"]


@pytest.mark.parametrize("entry, wide", [
    ("10.0.0.0/16", False), ("10.0.0.0/15", True), ("10.*.*.*", True), ("10.1.*.*", False), ("0.0.0.0/0", True),
    ("2001:db8::/48", False), ("2001:db8::/47", True), ("::/0", True), ("127.0.0.1", False),
])
def test_entries_wider_than_the_documented_threshold_warn(entry, wide):
    warnings = wide_entries([entry], "ip_access.entries")
    assert bool(warnings) == wide
    if wide:
        parsed = network(entry)
        shown = parsed.with_prefixlen if entry == str(parsed) else "%s (%s)" % (entry, parsed)
        assert warnings == [
            "value of ip_access.entries holds %s, wider than /%d (the widest %s entry taken without this warning): "
            "every address it covers may reach the account. Narrow it unless that is meant."
            % (shown, 16 if parsed.version == 4 else 48, "IPv4" if parsed.version == 4 else "IPv6")]


def test_an_allowed_any_address_network_still_warns():
    networks, warnings = check_options(options(entries=["127.0.0.1", "0.0.0.0/0"], allow_any_address=True))
    assert networks == [network("127.0.0.1"), network("0.0.0.0/0")]
    assert warnings == ["value of entries holds 0.0.0.0/0, wider than /16 (the widest IPv4 entry taken without this "
                        "warning): every address it covers may reach the account. Narrow it unless that is meant."]


def test_a_wide_network_given_twice_warns_once_as_first_given():
    assert wide_entries(["10.*.*.*", "10.0.0.0/8"]) == [
        "value of entries holds 10.*.*.* (10.0.0.0/8), wider than /16 (the widest IPv4 entry taken without this "
        "warning): every address it covers may reach the account. Narrow it unless that is meant."]


def test_wide_entries_warn_only_when_they_are_to_be_on_the_list():
    assert check_options(options(entries=["10.0.0.0/8"], state="absent"))[1] == []


@pytest.mark.parametrize("values, message", [
    (dict(state="disabled", entries=["127.0.0.1"]), "state: disabled empties the allow list: leave entries out (it "
                                                    "holds 127.0.0.1)."),
    (dict(state="absent", purge=True), "purge applies to state: present only (state is absent)."),
    (dict(client_addresses=["127.0.0.0/8"]), "value of client_addresses must hold IP addresses (this machine's, as "
                                             "SendGrid sees it), got: '127.0.0.0/8'."),
])
def test_check_options_keeps_the_module_s_other_refusals(values, message):
    with pytest.raises(SendGridError) as refused:
        check_options(options(**values))
    assert str(refused.value) == message


def test_an_address_meeting_its_own_slash_32_is_no_change_and_costs_one_get():
    account = FakeAccount(["192.168.1.1/32", "127.0.0.1"])
    outcome = run(account, ["192.168.1.1", "127.0.0.1/32"])
    assert outcome["changed"] is False
    assert account.sent == [("GET", "/v3/access_settings/whitelist", None)]


def test_purge_adds_in_one_post_before_removing_in_one_delete():
    account = FakeAccount(["192.0.2.0/24", "198.51.100.7", "127.0.0.1"])
    outcome = run(account, ["127.0.0.1", "203.0.113.*", "2001:db8::/32"], purge=True)
    assert [(method, path) for method, path, _body in account.sent] == [
        ("GET", "/v3/access_settings/whitelist"), ("GET", "/v3/access_settings/activity"),
        ("POST", "/v3/access_settings/whitelist"), ("DELETE", "/v3/access_settings/whitelist")]
    assert account.sent[2][2] == {"ips": [{"ip": "203.0.113.0/24"}, {"ip": "2001:db8::/32"}]}
    assert account.sent[3][2] == {"ids": [1, 2]}
    assert outcome["after"] == ["127.0.0.1/32", "203.0.113.0/24", "2001:db8::/32"]
    assert outcome["addresses"] == ["127.0.0.1"]


def test_a_change_leaving_this_machine_uncovered_is_refused_with_nothing_written():
    account = FakeAccount(["127.0.0.1"])
    with pytest.raises(SendGridError, match=r"would lock this machine out: no entry of the resulting allow list "
                                            r"\(203\.0\.113\.0/24\) covers 127\.0\.0\.1"):
        run(account, ["203.0.113.0/24"], purge=True)
    assert all(method == "GET" for method, _path, _body in account.sent)


def test_allow_lockout_lets_it_through_without_reading_the_activity():
    account = FakeAccount(["127.0.0.1"])
    run(account, ["203.0.113.0/24"], purge=True, allow_lockout=True)
    assert [method for method, _path, _body in account.sent] == ["GET", "POST", "DELETE"]


def test_client_addresses_replace_the_activity_and_each_must_be_covered():
    account = FakeAccount([])
    with pytest.raises(SendGridError, match=r"covers 192\.0\.2\.9, the address it reaches"):
        run(account, ["203.0.113.0/24"], addresses=["203.0.113.5", "192.0.2.9"])
    assert [path for _method, path, _body in account.sent] == ["/v3/access_settings/whitelist"]


@pytest.mark.parametrize("activity, message", [
    ([], "shows no allowed access"),
    ([{"allowed": True, "ip": "127.0.0.1", "last_at": 200}, {"allowed": True, "ip": "192.0.2.1", "last_at": 170}],
     "accesses from 127.0.0.1, 192.0.2.1 within a minute"),
])
def test_when_the_activity_cannot_tell_the_guard_refuses_and_asks_for_client_addresses(activity, message):
    account = FakeAccount([], activity=activity)
    with pytest.raises(SendGridError, match=message + r".*Set client_addresses"):
        run(account, ["127.0.0.1"])


def test_older_accesses_from_elsewhere_do_not_confuse_the_guard():
    account = FakeAccount([], activity=[{"allowed": True, "ip": "127.0.0.1", "last_at": 200},
                                        {"allowed": True, "ip": "192.0.2.1", "last_at": 100},
                                        {"allowed": False, "ip": "198.51.100.1", "last_at": 199}])
    assert run(account, ["127.0.0.0/8"])["addresses"] == ["127.0.0.1"]


@pytest.mark.parametrize("entries, state, purge", [(["10.0.0.0/8"], "absent", False), (["10.0.0.0/8"], "present", True)])
def test_emptying_the_list_is_never_a_side_effect(entries, state, purge):
    account = FakeAccount(["10.0.0.0/8"])
    with pytest.raises(SendGridError, match="an empty list switches IP Access Management off.*say state: disabled"):
        run(account, entries if state == "absent" else [], state=state, purge=purge)
    assert [method for method, _path, _body in account.sent] == ["GET"]


def test_state_disabled_empties_the_list_in_one_delete_without_the_guard():
    account = FakeAccount(["10.0.0.0/8", "192.0.2.1"])
    outcome = run(account, [], state="disabled")
    assert account.sent[1:] == [("DELETE", "/v3/access_settings/whitelist", {"ids": [1, 2]})]
    assert outcome["after"] == [] and outcome["removed"] == ["10.0.0.0/8", "192.0.2.1/32"]


def test_absent_removes_equal_networks_only_and_check_mode_writes_nothing():
    account = FakeAccount(["10.0.0.0/8", "10.1.0.0/16", "127.0.0.1"])
    outcome = run(account, ["10.1.0.0/16", "172.16.0.0/12"], state="absent", check_mode=True)
    assert outcome["removed"] == ["10.1.0.0/16"] and outcome["after"] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert [method for method, _path, _body in account.sent] == ["GET", "GET"]   # the list, the activity


def test_absent_entry_covered_by_a_wider_one_warns_naming_it():
    account = FakeAccount(["127.0.0.1", "203.0.113.0/24", "203.0.0.0/16", "198.51.100.0/24"])
    outcome = run(account, ["203.0.113.5", "198.51.100.0/25"], state="absent")
    assert outcome["changed"] is False
    assert outcome["warnings"] == [
        "203.0.113.5 is not on the allow list as an entry of its own, but 203.0.0.0/16 and 203.0.113.0/24 cover it: it "
        "keeps access. Remove 203.0.0.0/16 and 203.0.113.0/24 to take it away.",
        "198.51.100.0/25 is not on the allow list as an entry of its own, but 198.51.100.0/24 covers it: it keeps "
        "access. Remove 198.51.100.0/24 to take it away."]
    assert account.sent == [("GET", "/v3/access_settings/whitelist", None)]


def test_absent_entry_removed_while_a_wider_one_stays_warns_and_check_mode_too():
    for check_mode in (True, False):
        account = FakeAccount(["127.0.0.1", "203.0.113.5", "203.0.113.0/24"])
        outcome = run(account, ["203.0.113.5"], state="absent", check_mode=check_mode)
        assert outcome["removed"] == ["203.0.113.5/32"]
        assert outcome["warnings"] == [
            "Removing 203.0.113.5 as an entry of its own leaves it covered by 203.0.113.0/24: it keeps access. Remove "
            "203.0.113.0/24 to take it away."]
        assert [method for method, _path, _body in account.sent] == ["GET", "GET"] + ([] if check_mode else ["DELETE"])


def test_absent_of_an_entry_and_the_wider_one_covering_it_warns_of_nothing():
    account = FakeAccount(["127.0.0.1", "203.0.113.5", "203.0.113.0/24", "2001:db8::/32"])
    outcome = run(account, ["203.0.113.5", "203.0.113.0/24", "2001:db8::1"], state="absent")
    assert outcome["removed"] == ["203.0.113.5/32", "203.0.113.0/24"]
    # 2001:db8::1 is covered by 2001:db8::/32, which stays: that one warns
    assert outcome["warnings"] == [
        "2001:db8::1 is not on the allow list as an entry of its own, but 2001:db8::/32 covers it: it keeps access. "
        "Remove 2001:db8::/32 to take it away."]


def test_present_warns_of_no_covering_entry():
    assert run(FakeAccount(["127.0.0.0/8"]), ["127.0.0.1"])["warnings"] == []


def test_a_delete_that_fails_after_the_post_says_what_was_added():
    class RefusingDelete:
        """An allow list holding 10.0.0.0/8 and 127.0.0.1, whose DELETE SendGrid refuses."""

        def __init__(self):
            self.sent = []

        def request(self, method, path, operation, body=None, params=None):
            self.sent.append((method, path, body))
            if method == "GET":
                return {"result": [{"id": 1, "ip": "10.0.0.0/8"}, {"id": 2, "ip": "127.0.0.1/32"}]}
            if method == "POST":
                return {"result": [{"id": 3, "ip": "203.0.113.0/24"}]}
            raise SendGridError("Removing from the IP access allow list DELETE ... failed (HTTP 403).", 403)

    account = RefusingDelete()
    with pytest.raises(SendGridError) as failure:
        _ip_access.reconcile(account, _ip_access.check_entries(["127.0.0.1", "203.0.113.0/24"]), "present", True,
                             True, [], False)
    assert str(failure.value) == ("Removing from the IP access allow list DELETE ... failed (HTTP 403). Added before the "
                                  "failure: 203.0.113.0/24; nothing was removed.")
    assert failure.value.written == {"added": ["203.0.113.0/24"]} and failure.value.status == 403
    assert [method for method, _path, _body in account.sent] == ["GET", "POST", "DELETE"]


# ----------------------------------------------------------------------------- the export

def test_the_export_is_the_list_exactly_or_switched_off_when_empty_and_each_passes_the_checks():
    guards = {"allow_lockout": False, "allow_any_address": False, "client_addresses": None}
    exported = _ip_access.FAMILY.export(FakeAccount(["203.0.113.0/24", "127.0.0.1"]))
    assert exported == {"entries": ["127.0.0.1/32", "203.0.113.0/24"], "state": "present", "purge": True,
                        "allow_any_address": False}
    check_options(dict(guards, **exported))
    assert _ip_access.FAMILY.export_warnings(exported) == []
    # open to every address: what the account has, allowed so that the plan is in sync, and said
    open_list = _ip_access.FAMILY.export(FakeAccount(["127.0.0.1", "0.0.0.0/0"]))
    assert open_list["allow_any_address"] is True
    check_options(dict(guards, **open_list))
    assert _ip_access.FAMILY.export_warnings(open_list) == [
        "its allow list lets every address in (0.0.0.0/0): the export sets allow_any_address so that the plan is in "
        "sync. Remove the entry to make the list mean something."]
    empty = _ip_access.FAMILY.export(FakeAccount())
    assert empty == {"entries": [], "state": "disabled", "purge": False}
    check_options(dict(guards, **empty))
