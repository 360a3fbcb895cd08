# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The allow list's canonical comparison, plan, lockout guard and requests, over a recording fake account."""

from __future__ import annotations

import pytest

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._ip_access import (
    check_entries, network, reconcile,
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


@pytest.mark.parametrize("entry, canonical", [
    ("192.168.1.1", "192.168.1.1/32"), ("192.*.*.*", "192.0.0.0/8"), ("192.168.*.*", "192.168.0.0/16"),
    ("192.168.1.*", "192.168.1.0/24"), ("10.1.2.3/8", "10.0.0.0/8"), ("2001:DB8::1", "2001:db8::1/128"),
    (" 10.0.0.1 ", "10.0.0.1/32"),
])
def test_entries_are_the_networks_sendgrid_stores(entry, canonical):
    assert str(network(entry)) == canonical


def test_invalid_entries_are_refused_naming_them():
    with pytest.raises(SendGridError, match=r"value of entries must hold IPv4 or IPv6 addresses, CIDR networks .* "
                                            r"got: '300\.1\.1\.1', '1\.\*\.3\.\*', 'fe80::1%eth0'"):
        check_entries(["10.0.0.1", "300.1.1.1", "1.*.3.*", "fe80::1%eth0"])


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
