"""IP Access Management: the allow lists and activity (tools/sendgrid_api/ip_access.py), and their enforcement on
every route with the client address it goes by (tools/sendgrid_api/access.py)."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import ipaddress
import json
import socket
import sys
import time

import pytest
import requests

from .helpers import (ACCOUNTS, KEY, NO_SCOPES, SUBUSERS, TLS, call, control, errors_of, options, raw_exchange,
                      run_cli, sg, stop_cli)


WHITELIST = "/v3/access_settings/whitelist"


ACTIVITY = "/v3/access_settings/activity"


WHITELIST_SETTING = "access_settings/whitelist"


IP_SCOPES = ("access_settings.whitelist.read", "access_settings.whitelist.create", "access_settings.whitelist.delete",
             "access_settings.activity.read")


RULE_FIELDS = {"id", "ip", "created_at", "updated_at"}


ACTIVITY_FIELDS = {"allowed", "auth_method", "first_at", "ip", "last_at", "location"}


def allow_ips(server, *ips, obo=None):
    """POST the addresses to the allow list; return the 201 result."""
    response = call(server, "POST", WHITELIST, obo=obo, json={"ips": [{"ip": ip} for ip in ips]})
    assert response.status_code == 201, response.text
    return response.json()["result"]


def allowed_ips(server, obo=None):
    """The ips on an account's allow list, from the API."""
    response = call(server, "GET", WHITELIST, obo=obo)
    assert response.status_code == 200
    return [rule["ip"] for rule in response.json()["result"]]


def from_address(address, **headers):
    """Headers making a request come from another client address (with trust_forwarded_for)."""
    return {"X-Forwarded-For": address, **headers}


def assert_refused(response, address):
    """The request was refused for its client address."""
    assert response.status_code == 403
    message = errors_of(response)[0]["message"]
    assert f"IP address {address} is not allowed" in message and message.startswith("access forbidden")
    return message


def test_allow_lists_start_empty_for_every_account(srv):
    for obo in (None, "marketing", "billing", "account-id 777"):
        response = call(srv, "GET", WHITELIST, obo=obo)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert response.json() == {"result": []}
    assert srv.state(WHITELIST_SETTING) == {account: [] for account in ACCOUNTS}


@pytest.mark.parametrize("entry, stored", [
    ("192.168.1.1", "192.168.1.1/32"), ("192.168.1.3/32", "192.168.1.3/32"), ("10.1.2.3/8", "10.0.0.0/8"),
    ("172.16.5.4/12", "172.16.0.0/12"), ("203.0.113.77/31", "203.0.113.76/31"), ("128.0.0.1/1", "128.0.0.0/1"),
    ("2001:db8::1", "2001:db8::1/128"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1/128"),
    ("2001:db8:abcd:12::1/48", "2001:db8:abcd::/48"), ("2001:0db8:0000::/32", "2001:db8::/32"),
    ("192.*.*.*", "192.0.0.0/8"), ("192.168.*.*", "192.168.0.0/16"), ("192.168.1.*", "192.168.1.0/24"),
])
def test_post_stores_entries_canonical_and_enforces_them(srv, entry, stored):
    before = int(time.time())
    response = call(srv, "POST", WHITELIST, json={"ips": [{"ip": entry}]})
    assert response.status_code == 201 and response.headers["Content-Type"] == "application/json"
    (rule,) = response.json()["result"]
    assert set(rule) == RULE_FIELDS and rule["ip"] == stored
    assert isinstance(rule["id"], int) and rule["id"] > 0
    assert before <= rule["created_at"] == rule["updated_at"] <= time.time()
    assert srv.state(WHITELIST_SETTING)["parent"] == [rule]
    # the list is on now: only addresses of the network get in (127.0.0.1 is on none of these)
    assert_refused(call(srv, "GET", WHITELIST), "127.0.0.1")
    srv.set_config(trust_forwarded_for=True)
    network = ipaddress.ip_network(stored)
    for inside in dict.fromkeys((network[0], network[-1])):
        assert call(srv, "GET", WHITELIST, headers=from_address(str(inside))).json() == {"result": [rule]}
    outside = "2001:db8:ffff::1" if network.version == 4 else "198.51.100.1"
    assert_refused(call(srv, "GET", WHITELIST, headers=from_address(outside)), outside)


@pytest.mark.parametrize("entry", ["1.2.3", "256.1.1.1", "1.2.3.4/33", "2001:db8::1/129", "*.*.*.*", "192.*.1.*", "192.168.1.1*",
                                   "1*.2.3.4", "192.*.*", "192.*.*.*/8", "10.0.0.0/255.0.0.0", "10.0.0.0/", " 1.2.3.4",
                                   "1.2.3.4 ", "", "fe80::1%eth0", "example.com", "01.2.3.4", "2001:db8::*", 5, None,
                                   ["1.2.3.4"]])
def test_post_refuses_an_invalid_entry_naming_it_and_stores_nothing(srv, entry):
    response = call(srv, "POST", WHITELIST, json={"ips": [{"ip": "10.0.0.1"}, {"ip": entry}, {"ip": "10.0.0.2"}]})
    assert response.status_code == 400
    (item,) = errors_of(response)
    assert item["field"] == "ips[1].ip"
    if isinstance(entry, str):
        assert repr(entry) in item["message"]
    assert srv.state(WHITELIST_SETTING)["parent"] == [] and allowed_ips(srv) == []


@pytest.mark.parametrize("body, field", [
    ({}, "ips"), ({"ips": []}, "ips"), ({"ips": "1.2.3.4"}, "ips"), ({"ips": None}, "ips"), ({"ips": ["1.2.3.4"]}, "ips[0]"),
    ({"ips": [{"address": "1.2.3.4"}]}, "ips[0]"), ({"ips": [{"ip": "1.2.3.4", "note": "office"}]}, "ips[0].note"),
    ({"ips": [{"ip": "1.2.3.4"}], "ip": "1.2.3.5"}, "ip"),
])
def test_post_refuses_a_body_of_another_shape(srv, body, field):
    response = call(srv, "POST", WHITELIST, json=body)
    assert response.status_code == 400
    assert field in [item["field"] for item in errors_of(response)]
    assert srv.state(WHITELIST_SETTING)["parent"] == []


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("body", ['[{"ip": "1.2.3.4"}]', '"1.2.3.4"', "null", '{"ips": [', ""])
def test_post_and_delete_need_a_json_object(srv, method, body):
    response = call(srv, method, WHITELIST, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and errors_of(response)[0]["field"] is None


def test_post_does_not_duplicate_a_network_already_on_the_list(srv):
    # 127.0.0.1 first: a list without the client's address would lock the tests out
    first = allow_ips(srv, "127.0.0.1", "192.168.*.*")
    again = allow_ips(srv, "127.0.0.1/32", "192.168.0.0/16", "192.168.3.4/16", "10.0.0.2", "10.0.0.2/32")
    # one rule per distinct network, in the order asked; the old ones unchanged
    assert again[:2] == first and [rule["ip"] for rule in again] == ["127.0.0.1/32", "192.168.0.0/16", "10.0.0.2/32"]
    assert again[2]["id"] > first[1]["id"]
    assert allowed_ips(srv) == ["127.0.0.1/32", "192.168.0.0/16", "10.0.0.2/32"]
    # a network written otherwise by drift is still the same network
    drift = srv.set_state("marketing", [{"ip": "127.0.0.1"}], setting=WHITELIST_SETTING)
    assert allow_ips(srv, "127.0.0.1/32", obo="marketing") == drift
    assert allowed_ips(srv, obo="marketing") == ["127.0.0.1"]


def test_rule_ids_increase_per_server_and_are_never_reused(srv):
    (one,) = allow_ips(srv, "127.0.0.1")
    (two,) = allow_ips(srv, "127.0.0.0/8", obo="marketing")
    assert two["id"] > one["id"]
    assert call(srv, "DELETE", f"{WHITELIST}/{two['id']}", obo="marketing").status_code == 204
    (three,) = allow_ips(srv, "127.0.0.0/8", obo="marketing")
    assert three["id"] > two["id"]
    srv.reset()
    (four,) = allow_ips(srv, "127.0.0.1")
    assert four["id"] > three["id"]


def test_delete_by_ids_answers_204_without_a_body(srv):
    rules = allow_ips(srv, "10.0.0.1", "127.0.0.1", "10.0.0.3")
    with requests.Session() as session:
        response = call(srv, "DELETE", WHITELIST, session=session, json={"ids": [rules[0]["id"], rules[2]["id"], rules[0]["id"]]})
        assert response.status_code == 204 and response.content == b"" and "Content-Type" not in response.headers
        # the connection stays usable after an answer without a body
        assert call(srv, "GET", WHITELIST, session=session).json() == {"result": [rules[1]]}
    assert srv.connections()["opened"] == 1 + 1


def test_delete_of_an_id_not_on_the_list_is_404_naming_it_and_removes_nothing(srv):
    rules = allow_ips(srv, "127.0.0.1", "10.0.0.2")
    (elsewhere,) = allow_ips(srv, "127.0.0.0/8", obo="marketing")
    for ids, missing in (([rules[0]["id"], 999999], "999999"), ([elsewhere["id"]], str(elsewhere["id"]))):
        response = call(srv, "DELETE", WHITELIST, json={"ids": ids})
        assert response.status_code == 404
        (item,) = errors_of(response)
        assert item["field"] == "ids" and missing in item["message"]
    assert call(srv, "GET", WHITELIST).json() == {"result": rules}
    assert allowed_ips(srv, obo="marketing") == ["127.0.0.0/8"]


@pytest.mark.parametrize("body, field", [('{"ids": [ID, "ID"]}', "ids"), ('{"ids": [ID, 1.5]}', "ids"), ('{"ids": [ID, true]}', "ids"),
                                         ('{"ids": [ID, null]}', "ids"), ('{"ids": [ID, [ID]]}', "ids"), ('{"ids": ID}', "ids"),
                                         ('{"ids": "ID"}', "ids"), ('{"ids": []}', "ids"), ('{"ids": null}', "ids"), ("{}", "ids"),
                                         ('{"ids": [ID], "ips": []}', "ips")])
def test_delete_refuses_ids_that_are_not_integers(srv, body, field):
    rule_id = allow_ips(srv, "127.0.0.1")[0]["id"]
    response = call(srv, "DELETE", WHITELIST, data=body.replace("ID", str(rule_id)), headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert [item["field"] for item in errors_of(response)] == [field]
    assert allowed_ips(srv) == ["127.0.0.1/32"]


def test_get_and_delete_one_rule(srv):
    rules = allow_ips(srv, "10.0.0.1", "127.0.0.1")
    (elsewhere,) = allow_ips(srv, "127.0.0.0/8", obo="account-id 777")
    response = call(srv, "GET", f"{WHITELIST}/{rules[1]['id']}")
    assert response.status_code == 200 and response.json() == {"result": [rules[1]]}
    assert call(srv, "GET", f"{WHITELIST}/{elsewhere['id']}", obo="account-id 777").json() == {"result": [elsewhere]}
    for path in (f"{WHITELIST}/{elsewhere['id']}", f"{WHITELIST}/999999", f"{WHITELIST}/abc", f"{WHITELIST}/-1"):
        missing = call(srv, "GET", path)
        assert missing.status_code == 404
        errors_of(missing)
        assert call(srv, "DELETE", path).status_code == 404
    assert call(srv, "GET", f"{WHITELIST}/").status_code == 404
    deleted = call(srv, "DELETE", f"{WHITELIST}/{rules[0]['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert call(srv, "GET", f"{WHITELIST}/{rules[0]['id']}").status_code == 404
    assert call(srv, "DELETE", f"{WHITELIST}/{rules[0]['id']}").status_code == 404
    assert call(srv, "GET", WHITELIST).json() == {"result": [rules[1]]}
    assert srv.state(WHITELIST_SETTING)["account-id 777"] == [elsewhere]


@pytest.mark.parametrize("method, path, allowed", [("PUT", WHITELIST, "GET, POST, DELETE"), ("PATCH", f"{WHITELIST}/1", "GET, DELETE"),
                                                   ("POST", f"{WHITELIST}/1", "GET, DELETE"), ("DELETE", ACTIVITY, "GET")])
def test_ip_access_paths_answer_405_with_allow(srv, method, path, allowed):
    response = call(srv, method, path, json={})
    assert response.status_code == 405 and response.headers["Allow"] == allowed


@pytest.fixture(name="ip_scoped_srv", scope="module")
def fixture_ip_scoped_srv():
    """A server with, per IP Access Management scope, a key holding only it and one holding every other scope."""
    keys = {KEY: sg.ALL_SCOPES}
    for scope in IP_SCOPES:
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.mark.parametrize("method, path, scope, status", [
    ("GET", WHITELIST, IP_SCOPES[0], 200), ("POST", WHITELIST, IP_SCOPES[1], 201), ("DELETE", WHITELIST, IP_SCOPES[2], 204),
    ("GET", WHITELIST + "/{id}", IP_SCOPES[0], 200), ("DELETE", WHITELIST + "/{id}", IP_SCOPES[2], 204),
    ("GET", ACTIVITY, IP_SCOPES[3], 200),
])
def test_ip_access_routes_need_their_own_scope(ip_scoped_srv, method, path, scope, status):
    srv = ip_scoped_srv
    srv.reset()
    assert scope in sg.ALL_SCOPES
    for key, expected in ((f"SG.only.{scope}", status), (f"SG.but.{scope}", 403), (None, 401)):
        # a rule covering the client, so the list is on and the request permitted
        (rule,) = srv.set_state("parent", ["127.0.0.1"], replace=True, setting=WHITELIST_SETTING)
        body = {"ips": [{"ip": "10.0.0.1"}]} if method == "POST" else {"ids": [rule["id"]]} if method == "DELETE" else None
        response = call(srv, method, path.format(id=rule["id"]), key=key, json=body)
        assert response.status_code == expected
        if expected == 403:
            assert response.json() == {"errors": [{"field": None, "message": "access forbidden"}]}
    assert [e["status"] for e in srv.requests()] == [status, 403, 401]


def test_every_api_request_is_activity_of_the_parent_and_of_the_account_it_targets(srv):
    before = int(time.time())
    call(srv, "GET", TLS)
    call(srv, "GET", TLS, obo="marketing")
    call(srv, "GET", TLS, key="SG.unknown", obo="marketing")
    call(srv, "GET", TLS, obo="nobody")
    call(srv, "GET", "/v3/nope", key=None)
    control(srv, "GET", "state")
    parent = srv.activity()
    assert [(e["ip"], e["allowed"]) for e in parent] == [("127.0.0.1", False), ("127.0.0.1", True)]
    for entry in parent:
        assert set(entry) == ACTIVITY_FIELDS and entry["auth_method"] == "API Key" and entry["location"] == ""
        assert before <= entry["first_at"] <= entry["last_at"] <= time.time()
    assert [(e["ip"], e["allowed"]) for e in srv.activity("marketing")] == [("127.0.0.1", False), ("127.0.0.1", True)]
    assert srv.activity("billing") == [] and srv.activity("account-id 777") == []
    assert control(srv, "GET", "activity") == parent == srv.activity("parent") == srv.activity("")
    assert control(srv, "GET", "activity", params={"account": "marketing"}) == srv.activity("marketing")
    assert requests.get(srv.url + "/__control__/activity", params={"account": "ghost"}, timeout=5).status_code == 404
    with pytest.raises(KeyError):
        srv.activity("ghost")
    control(srv, "DELETE", "activity")
    assert srv.activity() == [] and srv.activity("marketing") == []


def test_activity_api_answers_most_recent_first_with_a_limit(srv):
    srv.set_config(trust_forwarded_for=True)
    for number in range(1, 26):
        call(srv, "GET", TLS, headers=from_address(f"10.0.0.{number}"))
    # 10.0.0.1 again: its entry moves to the front, first_at kept
    call(srv, "GET", TLS, headers=from_address("10.0.0.1"))
    response = call(srv, "GET", ACTIVITY)
    assert response.status_code == 200
    result = response.json()["result"]
    assert len(result) == 20 and all(set(entry) == ACTIVITY_FIELDS for entry in result)
    # the activity request itself is the most recent
    assert [entry["ip"] for entry in result[:4]] == ["127.0.0.1", "10.0.0.1", "10.0.0.25", "10.0.0.24"]
    assert [entry["last_at"] for entry in result] == sorted((entry["last_at"] for entry in result), reverse=True)
    assert [entry["ip"] for entry in call(srv, "GET", ACTIVITY, params={"limit": 3}).json()["result"]] == [
        "127.0.0.1", "10.0.0.1", "10.0.0.25"]
    assert len(call(srv, "GET", ACTIVITY, params={"limit": 1000}).json()["result"]) == 26
    assert call(srv, "GET", ACTIVITY, obo="marketing").json()["result"] == [
        {"allowed": True, "auth_method": "API Key", "first_at": result[0]["first_at"], "ip": "127.0.0.1",
         "last_at": result[0]["last_at"], "location": ""}]


@pytest.mark.parametrize("limit", ["0", "-1", "x", "", "1.5"])
def test_activity_bad_limit_is_400(srv, limit):
    response = call(srv, "GET", ACTIVITY, params={"limit": limit})
    assert response.status_code == 400 and [item["field"] for item in errors_of(response)] == ["limit"]


def test_a_list_without_the_client_refuses_the_next_api_request(srv):
    allow_ips(srv, "10.0.0.0/8")
    response = call(srv, "GET", TLS)
    message = assert_refused(response, "127.0.0.1")
    assert "this account" in message and response.json()["errors"][0]["field"] is None
    # every route, the allow list's own included: a client can lock itself out
    assert assert_refused(call(srv, "DELETE", WHITELIST, json={"ids": [1]}), "127.0.0.1")
    assert assert_refused(call(srv, "GET", ACTIVITY), "127.0.0.1")
    log = srv.requests()
    assert [(e["status"], e["client_ip"], e["account"]) for e in log[-3:]] == [(403, "127.0.0.1", None)] * 3
    assert [(e["ip"], e["allowed"]) for e in srv.activity()] == [("127.0.0.1", False), ("127.0.0.1", True)]
    # the key is checked first, the scope after
    assert call(srv, "GET", TLS, key="SG.unknown").status_code == 401
    assert assert_refused(call(srv, "GET", TLS, key=NO_SCOPES), "127.0.0.1")
    # the control endpoint is never restricted
    assert control(srv, "GET", "state", params={"setting": WHITELIST_SETTING})["parent"][0]["ip"] == "10.0.0.0/8"
    assert control(srv, "POST", "reset") == {"reset": True}
    assert call(srv, "GET", TLS).status_code == 200


@pytest.mark.parametrize("rules, status", [(["127.0.0.1"], 200), (["127.0.0.0/8"], 200), (["127.*.*.*"], 200), (["127.0.0.*"], 200),
                                           (["10.0.0.0/8", "127.0.0.1/32"], 200), (["127.0.0.2"], 403), (["::1"], 403),
                                           ([{"ip": "127.0.0.1"}], 200), ([{"ip": "bogus"}], 403)])
def test_a_rule_covering_the_client_lets_it_in(srv, rules, status):
    srv.set_state("parent", rules, setting=WHITELIST_SETTING)
    assert call(srv, "GET", TLS).status_code == status
    assert srv.activity()[0]["allowed"] is (status == 200)


def test_the_parent_list_applies_to_requests_on_behalf_of_any_account(srv):
    srv.set_state("parent", ["10.0.0.0/8"], setting=WHITELIST_SETTING)
    for obo in ("marketing", "account-id 777"):
        assert "this account" in assert_refused(call(srv, "GET", TLS, obo=obo), "127.0.0.1")
        assert srv.activity(obo)[0]["allowed"] is False
    assert srv.activity()[0]["allowed"] is False


def test_the_targeted_account_list_applies_to_its_requests_only(srv):
    srv.set_state("marketing", ["10.0.0.0/8"], setting=WHITELIST_SETTING)
    srv.set_state("account-id 777", ["10.0.0.0/8"], setting=WHITELIST_SETTING)
    assert "subuser 'marketing'" in assert_refused(call(srv, "GET", TLS, obo="marketing"), "127.0.0.1")
    assert "customer account 777" in assert_refused(call(srv, "GET", TLS, obo="account-id 777"), "127.0.0.1")
    assert call(srv, "GET", TLS).status_code == 200
    assert call(srv, "GET", TLS, obo="billing").status_code == 200
    assert [e["allowed"] for e in srv.activity("marketing")] == [False]
    # the parent saw every request: the refused ones and the others
    assert {(e["ip"], e["allowed"]) for e in srv.activity()} == {("127.0.0.1", False), ("127.0.0.1", True)}
    srv.set_state("marketing", ["127.0.0.1"], setting=WHITELIST_SETTING)
    assert call(srv, "GET", TLS, obo="marketing").status_code == 200


def test_subuser_and_customer_account_lists_are_separate(srv):
    allow_ips(srv, "10.1.1.1", "127.0.0.0/8", obo="marketing")
    allow_ips(srv, "127.0.0.0/16", obo="account-id 777")
    allow_ips(srv, "127.0.0.1")
    assert allowed_ips(srv) == ["127.0.0.1/32"]
    assert allowed_ips(srv, obo="marketing") == ["10.1.1.1/32", "127.0.0.0/8"]
    assert allowed_ips(srv, obo="account-id 777") == ["127.0.0.0/16"]
    assert allowed_ips(srv, obo="billing") == []
    state = srv.state(WHITELIST_SETTING)
    assert {account: [rule["ip"] for rule in rules] for account, rules in state.items()} == {
        "parent": ["127.0.0.1/32"], "marketing": ["10.1.1.1/32", "127.0.0.0/8"], "billing": [], "eu-news": [],
        "account-id 777": ["127.0.0.0/16"]}


def test_x_forwarded_for_is_the_client_address_only_when_trusted(srv):
    srv.set_state("parent", ["203.0.113.0/24"], setting=WHITELIST_SETTING)
    assert_refused(call(srv, "GET", TLS, headers=from_address("203.0.113.5")), "127.0.0.1")
    assert srv.set_config(trust_forwarded_for=True)["trust_forwarded_for"] is True
    assert call(srv, "GET", TLS, headers=from_address("203.0.113.5")).status_code == 200
    assert call(srv, "GET", TLS, headers=from_address("203.0.113.6:4711, 10.0.0.1")).status_code == 200
    # the first address is the client; the proxies it passed come after it
    assert_refused(call(srv, "GET", TLS, headers=from_address("198.51.100.1, 203.0.113.5")), "198.51.100.1")
    assert_refused(call(srv, "GET", TLS, headers=from_address("[2001:db8::5]:443")), "2001:db8::5")
    # without an address first, the TCP peer
    assert_refused(call(srv, "GET", TLS, headers=from_address("unknown, 203.0.113.5")), "127.0.0.1")
    assert_refused(call(srv, "GET", TLS), "127.0.0.1")
    assert [e["client_ip"] for e in srv.requests()] == ["127.0.0.1", "203.0.113.5", "203.0.113.6", "198.51.100.1", "2001:db8::5",
                                                        "127.0.0.1", "127.0.0.1"]
    activity = {(e["ip"], e["allowed"]) for e in srv.activity()}
    assert activity == {("127.0.0.1", False), ("203.0.113.5", True), ("203.0.113.6", True), ("198.51.100.1", False),
                        ("2001:db8::5", False)}
    srv.reset()
    assert control(srv, "GET", "config")["trust_forwarded_for"] is False


def ipv6_loopback():
    """Whether ::1 can be bound here."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_an_ipv6_client_is_matched_against_ipv6_rules():
    with sg.running_server(**options(host="::1")) as srv:
        srv.set_state("parent", ["127.0.0.1"], setting=WHITELIST_SETTING)
        assert_refused(call(srv, "GET", TLS), "::1")
        srv.set_state("parent", ["::1"], setting=WHITELIST_SETTING)
        assert call(srv, "GET", TLS).status_code == 200
        assert {(e["ip"], e["allowed"]) for e in srv.activity()} == {("::1", False), ("::1", True)}


def test_trust_forwarded_for_as_a_start_option_and_on_the_command_line():
    with sg.running_server(**options(trust_forwarded_for=True, state={"parent": {WHITELIST_SETTING: ["192.0.2.0/24"]}})) as srv:
        assert call(srv, "GET", TLS, headers=from_address("192.0.2.10")).status_code == 200
        assert_refused(call(srv, "GET", TLS), "127.0.0.1")
    proc, url = run_cli("--trust-forwarded-for")
    try:
        assert requests.get(url + "/__control__/config", timeout=5).json()["trust_forwarded_for"] is True
        headers = {"Authorization": f"Bearer {sg.DEMO_KEY}", "X-Forwarded-For": "192.0.2.10"}
        requests.get(url + TLS, headers=headers, timeout=5)
        assert requests.get(url + "/__control__/activity", timeout=5).json()[0]["ip"] == "192.0.2.10"
    finally:
        status, err = stop_cli(proc)
    assert status == 0 and err == ""


def test_set_state_puts_allow_lists_in_place(srv):
    rules = srv.set_state("parent", ["127.0.0.1", "10.1.2.3/8", "10.0.0.0/8"], setting=WHITELIST_SETTING)
    assert [rule["ip"] for rule in rules] == ["127.0.0.1/32", "10.0.0.0/8"] and rules[1]["id"] > rules[0]["id"]
    assert srv.set_state("parent", ["192.168.*.*"], setting=WHITELIST_SETTING)[:2] == rules
    replaced = srv.set_state("parent", {"result": [{"id": 500, "ip": "127.0.0.1", "created_at": 1441824715}]}, replace=True,
                             setting=WHITELIST_SETTING)
    assert replaced == [{"id": 500, "ip": "127.0.0.1", "created_at": 1441824715, "updated_at": 1441824715}]
    # drift as stored (the spec's example shows "192.168.1.1" without a prefix) is served and enforced as it is
    assert call(srv, "GET", f"{WHITELIST}/500").json() == {"result": replaced}
    # ids stay unique: the counter goes on after an id given, and an id in use is refused
    assert allow_ips(srv, "10.0.0.1")[0]["id"] > 500
    with pytest.raises(ValueError):
        srv.set_state("marketing", [{"id": 500, "ip": "10.0.0.9"}], setting=WHITELIST_SETTING)
    for bad in (["1.2.3"], [5], {"ips": []}, "127.0.0.1", [{"ip": 5}], [{"id": "7", "ip": "10.0.0.9"}]):
        with pytest.raises(ValueError):
            srv.set_state("marketing", bad, setting=WHITELIST_SETTING)
    assert srv.state(WHITELIST_SETTING)["marketing"] == []
    with pytest.raises(KeyError):
        srv.set_state("ghost", [], setting=WHITELIST_SETTING)
    changed = control(srv, "PUT", "state", json={"account": "billing", "setting": WHITELIST_SETTING, "settings": ["10.9.0.0/16"]})
    assert [rule["ip"] for rule in changed] == ["10.9.0.0/16"]
    bad = requests.put(srv.url + "/__control__/state", json={"account": "billing", "setting": WHITELIST_SETTING,
                                                             "settings": ["10.9.0.0/33"]}, timeout=5)
    assert bad.status_code == 400 and "10.9.0.0/33" in errors_of(bad)[0]["message"]
    assert control(srv, "GET", "state", params={"setting": WHITELIST_SETTING})["billing"] == changed
    srv.reset()
    assert srv.state(WHITELIST_SETTING) == {account: [] for account in ACCOUNTS} and srv.activity() == []


def test_accounts_file_state_may_hold_allow_lists(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)}, "subusers": [{"username": "m"}], "state": {
        "parent": {WHITELIST_SETTING: ["127.0.0.1", "10.0.0.0/8"], "require_tls": True}, "m": {WHITELIST_SETTING: ["192.0.2.1"]}}}))
    with sg.running_server(accounts_file=str(accounts)) as srv:
        assert allowed_ips(srv) == ["127.0.0.1/32", "10.0.0.0/8"] and srv.state()["parent"]["require_tls"] is True
        assert_refused(call(srv, "GET", TLS, obo="m"), "127.0.0.1")
        allow_ips(srv, "192.0.2.2")
        srv.reset()
        assert allowed_ips(srv) == ["127.0.0.1/32", "10.0.0.0/8"] and srv.activity() == [{
            "allowed": True, "auth_method": "API Key", "first_at": srv.activity()[0]["first_at"], "ip": "127.0.0.1",
            "last_at": srv.activity()[0]["last_at"], "location": ""}]
    for bad in ({"parent": {WHITELIST_SETTING: "127.0.0.1"}}, {"parent": {WHITELIST_SETTING: ["localhost"]}}):
        with pytest.raises(ValueError):
            sg.start_server(state=bad)


def test_faults_rate_limits_and_the_log_apply_to_ip_access_routes(srv):
    srv.add_fault("error", status=503, path=WHITELIST, method="POST")
    assert call(srv, "POST", WHITELIST, json={"ips": [{"ip": "127.0.0.1"}]}).status_code == 503
    assert srv.state(WHITELIST_SETTING)["parent"] == []
    srv.add_fault("truncated", method="POST", bytes=5)
    status, dummy, received = raw_exchange(srv, "POST", WHITELIST, {"ips": [{"ip": "127.0.0.1"}]})
    assert status == "HTTP/1.1 201 Created" and received == b'{"res'
    (rule,) = srv.state(WHITELIST_SETTING)["parent"]
    # one endpoint, one bucket: every rule id shares the budget of /v3/access_settings/whitelist/{rule_id}
    srv.set_config(endpoint_rate_limits={WHITELIST + "/{rule_id}": 2})
    assert call(srv, "GET", f"{WHITELIST}/{rule['id']}").headers["X-RateLimit-Limit"] == "2"
    assert call(srv, "GET", f"{WHITELIST}/999").status_code == 404
    assert call(srv, "DELETE", f"{WHITELIST}/{rule['id']}").status_code == 429
    assert call(srv, "GET", WHITELIST).headers["X-RateLimit-Limit"] == "10000"
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in srv.requests()] == [
        ("POST", WHITELIST, 503, "error"), ("POST", WHITELIST, 201, "truncated"), ("GET", f"{WHITELIST}/{rule['id']}", 200, None),
        ("GET", f"{WHITELIST}/999", 404, None), ("DELETE", f"{WHITELIST}/{rule['id']}", 429, None), ("GET", WHITELIST, 200, None)]
    # faulted and limited requests are activity too
    assert len(srv.activity()) == 1 and srv.activity()[0]["allowed"] is True


def test_ip_access_scopes_are_in_all_scopes_and_routes_in_the_table():
    first = sg.ALL_SCOPES.index(IP_SCOPES[0])
    assert sg.ALL_SCOPES[first:first + 4] == IP_SCOPES and sg.ALL_SCOPES[first + 4] == sg.SCOPE_API_KEYS_READ
    assert sg.ROUTES[WHITELIST] == {"GET": IP_SCOPES[0], "POST": IP_SCOPES[1], "DELETE": IP_SCOPES[2]}
    assert sg.ROUTES[WHITELIST + "/{rule_id}"] == {"GET": IP_SCOPES[0], "DELETE": IP_SCOPES[2]}
    assert sg.ROUTES[ACTIVITY] == {"GET": IP_SCOPES[3]}
    match_path = sys.modules["sendgrid_api"].match_path
    assert match_path(WHITELIST + "/12") == (WHITELIST + "/{rule_id}", {"rule_id": "12"})
    assert match_path(WHITELIST) == (WHITELIST, {})
    assert match_path(WHITELIST + "/{rule_id}") == (WHITELIST + "/{rule_id}", {"rule_id": "{rule_id}"})
    assert match_path(WHITELIST + "/12/x") == (None, {})
