"""sendgrid_ip_access and sendgrid_ip_access_info, run by ansible-playbook against the local API server.

The server keeps each account's allow list canonical, assigns rule ids, records the access activity with the client
address and ENFORCES the lists on its own API requests, so a lockout here is a real one: the next request is refused
with 403. These tests prove, from the task results and the server's request log: the request floor (one GET; the
activity GET of the lockout guard unless client_addresses is given; one POST with every missing entry, canonical;
one DELETE with every id to remove, after the POST), the comparison as networks, check and diff mode, idempotence,
the lockout guard (this machine, explicit client_addresses, NAT seen through a forwarding proxy, ambiguous activity,
allow_lockout and the refusal that follows), emptying the list only with state: disabled, subusers, the EU host,
module_defaults, the info module, faults, scopes, bad input and the secrecy of the key (every run is -vvvv and
run_playbook fails the test if a key shows).

Playbooks: ip_access.yml (preview, apply, apply again, info: one account, one set of options),
ip_access_cases.yml (one loop item per case, in order, each meeting the state the others left; a failing case stops
nothing) and ip_access_module_defaults.yml (the connection and the subuser from module_defaults).

NAT is played for real: the modules cannot add headers, so a small forwarding HTTP proxy (ForwardingProxy below),
given to the modules as HTTP_PROXY the way a proxy is configured in production, adds ``X-Forwarded-For: 203.0.113.7``
to every request, and the server, started with trust_forwarded_for, sees the playbook come from 203.0.113.7 while
it runs on 127.0.0.1.

The cases run together in one ansible-playbook (conftest.run_cases: each on a host, a server and, for NAT, a proxy of
its own, so each server's activity log holds its own case's accesses only); checks of the output that only this
case's output may satisfy look at its own plays (own_output).
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from conftest import (
    CRASH_MARKERS, KEY, REVOKED_KEY, Cases, PlaybookCase, assert_clear_failure, assert_nothing_sent, calls,
    case_outcomes, explained, header, own_output, query, sg,
)

CASES = Cases()

WHITELIST = "/v3/access_settings/whitelist"
ACTIVITY = "/v3/access_settings/activity"
SETTING = sg.WHITELIST_KEY

# A key without the right to add, to remove, or to read the activity.
NARROW_KEY = "SG.integration-SECRET-5d2c9a7e1f.ip-access-narrow-Rt4"
NARROW_SCOPES = [scope for scope in sg.ALL_SCOPES
                 if scope not in (sg.SCOPE_WHITELIST_CREATE, sg.SCOPE_WHITELIST_DELETE, sg.SCOPE_ACTIVITY_READ)]

# The public address a NAT gateway or proxy gives this machine in the NAT tests (TEST-NET-3).
EGRESS = "203.0.113.7"

IP_ACCESS_ADVICE = ("SendGrid's IP Access Management refused this machine's address: the account's allow list does not "
                    "cover it. Add it to the list from an address the list allows, or in the SendGrid web app.")


# ----------------------------------------------------------------------------- expected requests

def get(path: str = WHITELIST, on_behalf_of: str | None = None) -> tuple:
    return ("GET", path, on_behalf_of, None)


def post(ips: list, on_behalf_of: str | None = None) -> tuple:
    return ("POST", WHITELIST, on_behalf_of, {"ips": [{"ip": ip} for ip in ips]})


def delete(ids: list, on_behalf_of: str | None = None) -> tuple:
    return ("DELETE", WHITELIST, on_behalf_of, {"ids": ids})


def log_with_faults(server) -> list:
    """(method, path, on-behalf-of, body, status), with the fault's kind as the status of a request that met one."""
    return [call[:4] + (entry["fault"] or call.status,)
            for call, entry in zip(calls(server, with_status=True), server.requests())]


# ----------------------------------------------------------------------------- timestamps

# The info module adds <field>_iso (UTC ISO 8601 text) next to these epoch-seconds fields.
RULE_TIMES = ("created_at", "updated_at")
ACTIVITY_TIMES = ("first_at", "last_at")


def iso(epoch) -> str | None:
    """Epoch seconds as the module should show them, computed here another way (datetime, not time.strftime)."""
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def without_iso(items: list, fields: tuple) -> list:
    """The items as the API answered them: each <field>_iso checked against its epoch field, then left out."""
    for item in items:
        for field in fields:
            assert item[field + "_iso"] == iso(item.get(field)), (field, item)
    return [{key: value for key, value in item.items() if key not in {field + "_iso" for field in fields}}
            for item in items]


# ----------------------------------------------------------------------------- server state

def seed(server, entries: list, account: str = "parent") -> dict:
    """Put an account's allow list in place (canonicalised by the server); return {canonical ip: rule id}."""
    return {rule["ip"]: rule["id"] for rule in server.set_state(account, entries, setting=SETTING, replace=True)}


def allow_list(server, account: str = "parent") -> list:
    """An account's allow list as the server keeps it: canonical ips in id order."""
    return [rule["ip"] for rule in server.state(SETTING)[account]]


def rule_ids(server, account: str = "parent") -> dict:
    return {rule["ip"]: rule["id"] for rule in server.state(SETTING)[account]}


def visit(server, key: str = KEY, forwarded_for: str | None = None, on_behalf_of: str | None = None) -> int:
    """One API request from the test itself (as another client would send it), to put activity in place; its status."""
    headers = {"Authorization": "Bearer " + key, "Accept": "application/json"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    if on_behalf_of:
        headers["on-behalf-of"] = on_behalf_of
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(server.url + WHITELIST, headers=headers), timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


# ----------------------------------------------------------------------------- NAT: a forwarding proxy

HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade")


class _Forwarder(BaseHTTPRequestHandler):
    """Forward a proxied request (absolute URL) to its host, adding X-Forwarded-For: the proxy's egress address."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _forward(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = self.server.egress
        upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            upstream.request(self.command, url.path + ("?" + url.query if url.query else ""), body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            answer_headers = answer.getheaders()
        except (OSError, http.client.HTTPException):
            self.close_connection = True
            return
        finally:
            upstream.close()
        with self.server.lock:
            self.server.forwarded += 1
        self.send_response(answer.status)
        for name, value in answer_headers:
            if name.lower() not in HOP_BY_HOP + ("content-length", "server", "date"):
                self.send_header(name, value)
        if answer.status != 204:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _forward


class ForwardingProxy(ThreadingHTTPServer):
    """An HTTP proxy on 127.0.0.1 playing a NAT gateway: every request it forwards says it comes from ``egress``."""

    daemon_threads = True

    def __init__(self, egress: str):
        super().__init__(("127.0.0.1", 0), _Forwarder)
        self.egress = egress
        self.forwarded = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.server_address[1]

    def environment(self) -> dict:
        """The environment that sends a module's requests through this proxy (requests honours it)."""
        return {"HTTP_PROXY": self.url, "http_proxy": self.url, "NO_PROXY": "", "no_proxy": ""}

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class Start:
    """module_start_server, plus forwarding proxies (NAT) that live as long as the servers."""

    def __init__(self, start_server):
        self.start_server = start_server
        self.proxies = []

    def __call__(self, **options):
        return self.start_server(**options)

    def nat(self) -> ForwardingProxy:
        proxy = ForwardingProxy(EGRESS)
        self.proxies.append(proxy)
        return proxy


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, context)}: every case of this file, run once."""
    start = Start(module_start_server)
    try:
        yield CASES.run(start)
    finally:
        for proxy in start.proxies:
            proxy.stop()


# ----------------------------------------------------------------------------- playbook cases

def access_case(server, check: bool = False, diff: bool = False, **extra_vars) -> PlaybookCase:
    """ip_access.yml against this server; extra_vars are its sg_* variables without the prefix."""
    variables = {"sg_" + name: value for name, value in extra_vars.items()}
    return PlaybookCase("ip_access.yml", dict(sg_api_url=server.url, **variables), check=check, diff=diff)


def cases_case(server, access_cases=(), info_cases=(), api_key: str = KEY, env: dict | None = None) -> PlaybookCase:
    """ip_access_cases.yml: each case one loop item, in order; a case that fails stops neither the others nor the play."""
    return PlaybookCase("ip_access_cases.yml", dict(
        sg_api_url=server.url, sg_access_cases=list(access_cases), sg_info_cases=list(info_cases)),
        env=dict(env or {}), api_key=api_key)


def cases_ran(runs, name: str):
    """(run, context) of an ip_access_cases.yml case, after checking that the play went through and nothing crashed."""
    run, context = runs[name]
    # as rc 0 said of a run of its own: the play went through its two tasks, whose failed items it ignores (the
    # batch's rc of a case is 2 when one of its tasks failed, ignored or not)
    assert run.rc in (0, 2), run.explain()
    assert [task["task"] for task in run.tasks] == ["access", "info"], run.explain()
    for marker in CRASH_MARKERS:
        assert marker not in own_output(run, name) + run.stderr, "%r in the output\n%s" % (marker, run.explain())
    return run, context


def outcome(item: dict) -> dict:
    """What sendgrid_ip_access returned for a case that passed."""
    assert not item.get("failed"), item
    return {key: item[key] for key in ("changed", "entries", "added", "removed", "client_addresses")}


WIDE = ("value of entries holds %s, wider than /%d (the widest IPv%d entry taken without this warning): every address "
        "it covers may reach the account. Narrow it unless that is meant.")


def lockout_message(after: list, addresses: list) -> str:
    return ("This change would lock this machine out: no entry of the resulting allow list (%s) covers %s, the "
            "address%s it reaches SendGrid from. Nothing was changed. Add an entry covering it, correct "
            "client_addresses, or set allow_lockout: true if that is what you mean."
            % (", ".join(after), ", ".join(addresses), "" if len(addresses) == 1 else "es"))


def ip_refusal(server, address: str = "127.0.0.1", path: str = WHITELIST, operation: str = "Reading the IP access allow list",
               method: str = "GET") -> str:
    return ("%s %s %s%s failed (HTTP 403: access forbidden: IP address %s is not allowed to access this account (IP "
            "Access Management)). %s" % (operation, method, server.url, path, address, IP_ACCESS_ADVICE))


# ----------------------------------------------------------------------------- the request floor, check and diff mode

@CASES.add("purge, preview, apply and rerun")
def _purge_preview_apply_and_rerun(start):
    server = start()
    ids = seed(server, ["127.0.0.1", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.5"])
    return (server, ids), access_case(server, preview=True, twice=True, diff=True, info={}, access={
        # 198.51.100.* is the stored /24, 127.0.0.1 the stored /32; the two 10/8 forms are one network
        "entries": ["198.51.100.*", "127.0.0.1", "2001:DB8::/32", "10.*.*.*", "10.0.0.0/8"], "purge": True})


def test_purge_preview_apply_and_rerun_cost_get_activity_then_one_post_before_one_delete_then_one_get(runs):
    run, (server, ids) = runs["purge, preview, apply and rerun"]
    output = own_output(run, "purge, preview, apply and rerun")

    assert run.rc == 0, run.explain()
    assert calls(server) == [
        # the preview: the reads only
        get(), get(ACTIVITY),
        # the change: every missing entry in one POST, canonical, in the order given; then every id to remove at once
        get(), get(ACTIVITY),
        post(["2001:db8::/32", "10.0.0.0/8"]),
        delete([ids["192.0.2.0/24"], ids["203.0.113.5/32"]]),
        # in sync: one GET, nothing else
        get(),
        # the info module
        get(), get(ACTIVITY),
    ]
    # the guard reads the recent activity (20 records), the info module its activity_limit (default 20)
    assert [query(entry) for entry in server.requests() if entry["path"].startswith(ACTIVITY)] == [{"limit": "20"}] * 3
    before = ["127.0.0.1/32", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.5/32"]
    after = ["10.0.0.0/8", "127.0.0.1/32", "198.51.100.0/24", "2001:db8::/32"]
    change = {"changed": True, "entries": after, "added": ["10.0.0.0/8", "2001:db8::/32"],
              "removed": ["192.0.2.0/24", "203.0.113.5/32"], "client_addresses": ["127.0.0.1"]}
    # the two wide networks warn, each once, as first given, on every run (in sync too)
    wide = [WIDE % ("2001:DB8::/32 (2001:db8::/32)", 48, 6), WIDE % ("10.*.*.* (10.0.0.0/8)", 16, 4)]
    for task in ("preview", "apply"):
        record = run.task(task)
        assert record["status"] == "changed", task
        assert outcome(record["result"]) == change, task
        assert record["result"]["diff"] == {"before": {"entries": before}, "after": {"entries": after}}, task
        assert record["warnings"] == wide, task
    assert run.task("apply again")["warnings"] == wide
    again = run.result("apply again")
    assert outcome(again) == {"changed": False, "entries": after, "added": [], "removed": [], "client_addresses": None}
    assert again["diff"] == {"before": {"entries": after}, "after": {"entries": after}}
    # the default callback shows the diff to the person running the playbook (in this case's output)
    assert '-        "192.0.2.0/24",\n' in output and '+        "2001:db8::/32"\n' in output, run.explain()
    # the kept rules keep their ids; the new ones come after
    state = server.state(SETTING)["parent"]
    assert [rule["ip"] for rule in state] == ["127.0.0.1/32", "198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8"]
    assert [rule["id"] for rule in state[:2]] == [ids["127.0.0.1/32"], ids["198.51.100.0/24"]]
    info = run.result("info")
    assert (info["changed"], info["enabled"], info["entries"]) == (False, True, after)
    assert without_iso(info["rules"], RULE_TIMES) == state
    assert [(item["ip"], item["allowed"]) for item in info["activity"]] == [("127.0.0.1", True)]
    assert info["refused"] == []
    # -vvvv printed the arguments of the four tasks, the key hidden (run_playbook checks it shows nowhere)
    assert output.count('"api_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"') == 4, run.explain()
    assert {header(entry, "Authorization") for entry in server.requests()} == {"Bearer " + KEY}


@CASES.add("networks")
def _networks(start):
    server = start()
    ids = seed(server, ["192.168.1.1", "10.0.0.0/8", "172.16.0.0/12", "2001:db8::/32", "2001:db8:1::5", "127.0.0.0/8"])
    return (server, ids), cases_case(server, access_cases=[
        {"case": "in sync in other forms",
         "entries": ["192.168.1.1", "10.*.*.*", "172.16.0.0/255.240.0.0", "2001:DB8:0:0::/32", "2001:db8:1:0:0:0:0:5",
                     " 127.0.0.0/8 "]},
        {"case": "add", "entries": ["192.168.1.1/32", "192.168.2.*", "203.0.113.*", "2001:DB8:2::1", "203.0.113.0/24"]},
        # 10.*.*.* is the stored 10.0.0.0/8; 192.168.1.0/24 only covers the stored /32, which stays; 198.51.100.1 is not there
        {"case": "absent", "state": "absent", "entries": ["10.*.*.*", "192.168.1.0/24", "198.51.100.1"]},
        {"case": "client_addresses given", "entries": ["198.51.100.0/24"], "client_addresses": ["127.0.0.1"]},
    ])


def test_entries_are_compared_as_networks_and_only_the_missing_ones_are_posted_in_canonical_form(runs):
    run, (server, ids) = cases_ran(runs, "networks")

    assert calls(server) == [
        get(),
        get(), get(ACTIVITY), post(["192.168.2.0/24", "203.0.113.0/24", "2001:db8:2::1/128"]),
        get(), get(ACTIVITY), delete([ids["10.0.0.0/8"]]),
        # the address was given: no activity read
        get(), post(["198.51.100.0/24"]),
    ]
    results = case_outcomes(run, "access")
    stored = ["10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.1.1/32", "2001:db8::/32", "2001:db8:1::5/128"]
    assert outcome(results["in sync in other forms"]) == {
        "changed": False, "entries": stored, "added": [], "removed": [], "client_addresses": None}
    added = ["10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.1.1/32", "192.168.2.0/24", "203.0.113.0/24",
             "2001:db8::/32", "2001:db8:1::5/128", "2001:db8:2::1/128"]
    assert outcome(results["add"]) == {"changed": True, "entries": added, "added": [
        "192.168.2.0/24", "203.0.113.0/24", "2001:db8:2::1/128"], "removed": [], "client_addresses": ["127.0.0.1"]}
    assert outcome(results["absent"]) == {"changed": True, "entries": added[1:], "added": [], "removed": ["10.0.0.0/8"],
                                          "client_addresses": ["127.0.0.1"]}
    assert outcome(results["client_addresses given"])["client_addresses"] == ["127.0.0.1"]
    assert allow_list(server) == ["192.168.1.1/32", "172.16.0.0/12", "2001:db8::/32", "2001:db8:1::5/128", "127.0.0.0/8",
                                  "192.168.2.0/24", "203.0.113.0/24", "2001:db8:2::1/128", "198.51.100.0/24"]


# ----------------------------------------------------------------------------- the lockout guard

@CASES.add("lockout guard")
def _lockout_guard(start):
    server = start()
    ids = seed(server, ["127.0.0.1", "192.0.2.0/24"])
    return (server, ids), cases_case(server, access_cases=[
        {"case": "purge leaving this machine out", "entries": ["192.0.2.0/24", "198.51.100.0/24"], "purge": True},
        {"case": "the same in check mode", "check": True, "entries": ["192.0.2.0/24", "198.51.100.0/24"], "purge": True},
        # the activity would say 127.0.0.1, which the list covers; the address given is what counts
        {"case": "client_addresses given", "entries": ["203.0.113.0/24"], "client_addresses": ["127.0.0.1", "198.51.100.20"]},
        {"case": "allow_lockout", "entries": ["192.0.2.0/24"], "purge": True, "allow_lockout": True},
    ], info_cases=[
        {"case": "the next task"},
    ])


def test_lockout_guard_refuses_unless_allowed_and_after_an_allowed_lockout_the_server_refuses_the_next_task(runs, tally):
    run, (server, ids) = cases_ran(runs, "lockout guard")

    results = case_outcomes(run, "access")
    assert explained(results["purge leaving this machine out"]) == lockout_message(
        ["192.0.2.0/24", "198.51.100.0/24"], ["127.0.0.1"])
    assert explained(results["the same in check mode"]) == lockout_message(["192.0.2.0/24", "198.51.100.0/24"], ["127.0.0.1"])
    assert explained(results["client_addresses given"]) == lockout_message(
        ["127.0.0.1/32", "192.0.2.0/24", "203.0.113.0/24"], ["198.51.100.20"])
    assert outcome(results["allow_lockout"]) == {"changed": True, "entries": ["192.0.2.0/24"], "added": [],
                                                 "removed": ["127.0.0.1/32"], "client_addresses": None}
    message = explained(case_outcomes(run, "info")["the next task"])
    assert message == ip_refusal(server)
    assert case_outcomes(run, "info")["the next task"]["status"] == 403
    assert calls(server, with_status=True) == [
        get() + (200,), get(ACTIVITY) + (200,),
        get() + (200,), get(ACTIVITY) + (200,),
        get() + (200,),
        # allowed: no guard, no activity read; the one DELETE locks this machine out
        get() + (200,), delete([ids["127.0.0.1/32"]]) + (204,),
        get() + (403,),
    ]
    assert allow_list(server) == ["192.0.2.0/24"]
    assert [(item["ip"], item["allowed"]) for item in server.activity()] == [("127.0.0.1", False), ("127.0.0.1", True)]
    tally("failure_reported")


@CASES.add("behind NAT")
def _behind_nat(start):
    server = start(trust_forwarded_for=True)
    ids = seed(server, ["203.0.113.0/24"])
    nat = start.nat()
    # the proxy's address, for the modules only: as the play's environment (the key is not in it)
    return (server, ids, nat), cases_case(server, env=nat.environment(), access_cases=[
        # covers this machine's own address, but SendGrid sees the gateway's
        {"case": "only the local address", "entries": ["127.0.0.1"], "purge": True},
        {"case": "the egress address kept", "entries": [EGRESS, "198.51.100.0/24"], "purge": True},
    ], info_cases=[{"case": "activity", "activity": True}])


def test_behind_nat_the_guard_protects_the_address_sendgrid_sees_not_the_local_one(runs):
    run, (server, ids, nat) = cases_ran(runs, "behind NAT")

    results = case_outcomes(run, "access")
    assert explained(results["only the local address"]) == lockout_message(["127.0.0.1/32"], [EGRESS])
    assert outcome(results["the egress address kept"]) == {
        "changed": True, "entries": ["198.51.100.0/24", EGRESS + "/32"], "added": ["198.51.100.0/24", EGRESS + "/32"],
        "removed": ["203.0.113.0/24"], "client_addresses": [EGRESS]}
    assert calls(server) == [
        get(), get(ACTIVITY),
        get(), get(ACTIVITY), post([EGRESS + "/32", "198.51.100.0/24"]), delete([ids["203.0.113.0/24"]]),
        get(), get(ACTIVITY),
    ]
    # every request went through the gateway, and the server saw its address
    requests = server.requests()
    assert nat.forwarded == len(requests) == 8
    assert {(entry["client_ip"], header(entry, "X-Forwarded-For")) for entry in requests} == {(EGRESS, EGRESS)}
    assert [(item["ip"], item["allowed"]) for item in case_outcomes(run, "info")["activity"]["activity"]] == [(EGRESS, True)]
    assert allow_list(server) == [EGRESS + "/32", "198.51.100.0/24"]


@CASES.add("two addresses")
def _two_addresses(start):
    server = start(trust_forwarded_for=True)
    # another client of the same account, a moment ago (the batch reaches this case within seconds, not a minute)
    assert visit(server, forwarded_for="198.51.100.9") == 200
    server.clear_requests()
    return server, cases_case(server, access_cases=[
        {"case": "ambiguous", "entries": ["127.0.0.1", "192.0.2.0/24"]},
        {"case": "client_addresses given", "entries": ["127.0.0.1", "192.0.2.0/24"], "client_addresses": ["127.0.0.1"]},
    ])


def test_accesses_from_two_addresses_within_a_minute_make_the_guard_ask_for_client_addresses(runs, tally):
    run, server = cases_ran(runs, "two addresses")

    results = case_outcomes(run, "access")
    assert explained(results["ambiguous"]) == (
        "The lockout guard cannot tell this machine's address: SendGrid's recent activity shows accesses from 127.0.0.1, "
        "198.51.100.9 within a minute. Set client_addresses to the address(es) this machine reaches SendGrid from.")
    assert outcome(results["client_addresses given"]) == {
        "changed": True, "entries": ["127.0.0.1/32", "192.0.2.0/24"], "added": ["127.0.0.1/32", "192.0.2.0/24"],
        "removed": [], "client_addresses": ["127.0.0.1"]}
    assert calls(server) == [get(), get(ACTIVITY), get(), post(["127.0.0.1/32", "192.0.2.0/24"])]
    assert allow_list(server) == ["127.0.0.1/32", "192.0.2.0/24"]
    tally("failure_reported")


# ----------------------------------------------------------------------------- emptying the list

@CASES.add("disabled")
def _disabled(start):
    server = start()
    ids = seed(server, ["127.0.0.1", "192.0.2.0/24"])
    return (server, ids), cases_case(server, access_cases=[
        {"case": "purge to nothing", "entries": [], "purge": True},
        {"case": "absent of every entry", "state": "absent", "entries": ["192.0.2.*", "127.0.0.1"]},
        {"case": "disabled in check mode", "check": True, "state": "disabled"},
        {"case": "disabled", "state": "disabled"},
        {"case": "disabled again", "state": "disabled"},
    ])


def test_only_state_disabled_empties_the_list_in_one_delete_with_a_warning(runs):
    run, (server, ids) = cases_ran(runs, "disabled")

    results = case_outcomes(run, "access")
    refusal = ("This would remove every entry (127.0.0.1/32, 192.0.2.0/24) from the allow list, and an empty list switches "
               "IP Access Management off: every address could reach the account. Nothing was changed. To switch it off, "
               "say state: disabled.")
    assert explained(results["purge to nothing"]) == refusal
    assert explained(results["absent of every entry"]) == refusal
    switched_off = {"changed": True, "entries": [], "added": [], "removed": ["127.0.0.1/32", "192.0.2.0/24"],
                    "client_addresses": None}
    assert outcome(results["disabled in check mode"]) == switched_off
    assert outcome(results["disabled"]) == switched_off
    assert outcome(results["disabled again"]) == {"changed": False, "entries": [], "added": [], "removed": [],
                                                  "client_addresses": None}
    assert calls(server) == [get(), get(), get(), get(), delete([ids["127.0.0.1/32"], ids["192.0.2.0/24"]]), get()]
    assert allow_list(server) == []
    # one warning per change, none when already off
    assert run.task("access")["warnings"] == [
        "IP Access Management is about to be switched off for the account: the allow list is empty, so every address may "
        "reach it.",
        "IP Access Management is now off for the account: the allow list is empty, so every address may reach it.",
    ]


# ----------------------------------------------------------------------------- accounts, hosts, module_defaults

@CASES.add("module_defaults")
def _module_defaults(start):
    server = start()
    parent = seed(server, ["127.0.0.1", "192.0.2.0/24"])
    marketing = seed(server, ["198.51.100.0/24", "127.0.0.0/8"], "marketing")
    billing = seed(server, ["127.0.0.1", "10.0.0.0/8"], "billing")
    return (server, parent, marketing, billing), PlaybookCase("ip_access_module_defaults.yml", dict(
        sg_api_url=server.url, sg_on_behalf_of="marketing", sg_other_subuser="billing"))


def test_module_defaults_act_for_the_subuser_named_and_leave_the_parent_and_other_lists_alone(runs):
    run, (server, parent, marketing, billing) = runs["module_defaults"]

    assert run.rc == 0, run.explain()
    assert calls(server) == [
        get(WHITELIST, "marketing"), get(ACTIVITY, "marketing"),
        post(["127.0.0.1/32", "203.0.113.0/24"], "marketing"),
        delete([marketing["198.51.100.0/24"], marketing["127.0.0.0/8"]], "marketing"),
        get(WHITELIST, "billing"), delete([billing["127.0.0.1/32"], billing["10.0.0.0/8"]], "billing"),
        get(WHITELIST, "marketing"), get(ACTIVITY, "marketing"),
    ]
    requests = server.requests()
    assert {header(entry, "Authorization") for entry in requests} == {"Bearer " + KEY}
    assert query(requests[-1]) == {"limit": "5"}
    assert [entry["account"] for entry in requests] == ["marketing"] * 4 + ["billing"] * 2 + ["marketing"] * 2
    assert run.task("allow list")["result"]["client_addresses"] == ["127.0.0.1"]
    assert run.task("switch off the other subuser")["warnings"] == [
        "IP Access Management is now off for the subuser or account billing: the allow list is empty, so every address "
        "may reach it."]
    assert run.task("audit")["status"] == "ok"
    assert allow_list(server, "marketing") == ["127.0.0.1/32", "203.0.113.0/24"]
    assert allow_list(server, "billing") == []
    assert rule_ids(server) == parent
    others = {account: rules for account, rules in server.state(SETTING).items()
              if account not in ("parent", "marketing", "billing")}
    assert others == {"support": [], "eu-newsletter": [], "account-id 777": []}


@CASES.add("region eu")
def _region_eu(start):
    server, eu_server = start(), start(region="eu")
    return (server, eu_server), access_case(server, eu_api_url=eu_server.url, region="eu", on_behalf_of="eu-newsletter",
                                            twice=True, access={"entries": ["127.0.0.1", "192.0.2.*"]},
                                            info={"activity": False})


def test_region_eu_sends_both_modules_to_the_eu_host_for_an_eu_subuser(runs):
    run, (server, eu_server) = runs["region eu"]

    assert run.rc == 0, run.explain()
    assert calls(eu_server) == [
        get(WHITELIST, "eu-newsletter"), get(ACTIVITY, "eu-newsletter"),
        post(["127.0.0.1/32", "192.0.2.0/24"], "eu-newsletter"),
        get(WHITELIST, "eu-newsletter"),
        get(WHITELIST, "eu-newsletter"),
    ]
    assert_nothing_sent(server)
    assert run.task("apply again")["status"] == "ok"
    assert run.result("info")["entries"] == ["127.0.0.1/32", "192.0.2.0/24"]
    assert allow_list(eu_server, "eu-newsletter") == ["127.0.0.1/32", "192.0.2.0/24"]
    assert allow_list(eu_server) == []


# ----------------------------------------------------------------------------- sendgrid_ip_access_info

@CASES.add("info")
def _info(start):
    server = start(trust_forwarded_for=True)
    # one rule as an API might keep it: a known creation time, no update time
    ids = seed(server, ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1",
                        {"ip": "10.0.0.0/8", "created_at": 1796656109, "updated_at": None}])
    # refused: a client the list does not cover, then a revoked key from this machine
    assert visit(server, forwarded_for="198.51.100.66") == 403
    assert visit(server, key=REVOKED_KEY) == 401
    server.clear_requests()
    return (server, ids), cases_case(server, info_cases=[
        {"case": "defaults"},
        {"case": "limit", "activity_limit": 1},
        {"case": "no activity, empty list", "on_behalf_of": "support", "activity": False},
        {"case": "limit 1001", "activity_limit": 1001},
    ])


def test_info_returns_canonical_sorted_entries_rules_activity_newest_first_and_the_refused_accesses(runs, tally):
    run, (server, ids) = cases_ran(runs, "info")

    requests = server.requests()
    assert calls(server) == [get(), get(ACTIVITY), get(), get(ACTIVITY), get(WHITELIST, "support")]
    assert [query(entry) for entry in requests if entry["path"].startswith(ACTIVITY)] == [{"limit": "20"}, {"limit": "1"}]
    results = case_outcomes(run, "info")
    defaults = results["defaults"]
    assert (defaults["changed"], defaults["enabled"]) == (False, True)
    assert defaults["entries"] == ["10.0.0.0/8", "127.0.0.1/32", "192.0.2.0/24", "2001:db8::/32"]
    assert [(rule["id"], rule["ip"]) for rule in defaults["rules"]] == [
        (ids["192.0.2.0/24"], "192.0.2.0/24"), (ids["2001:db8::/32"], "2001:db8::/32"),
        (ids["127.0.0.1/32"], "127.0.0.1/32"), (ids["10.0.0.0/8"], "10.0.0.0/8")]
    assert without_iso(defaults["rules"], RULE_TIMES) == server.state(SETTING)["parent"]
    assert {key: defaults["rules"][3][key] for key in ("created_at", "created_at_iso", "updated_at", "updated_at_iso")} \
        == {"created_at": 1796656109, "created_at_iso": "2026-12-07T15:08:29Z", "updated_at": None, "updated_at_iso": None}
    # every access's first_at and last_at come with their ISO 8601 text
    assert [item["ip"] for item in without_iso(defaults["activity"], ACTIVITY_TIMES)] == [
        "127.0.0.1", "127.0.0.1", "198.51.100.66"]
    # newest first: this module's own reads, the revoked key, the uncovered client
    assert [(item["ip"], item["allowed"], item["auth_method"]) for item in defaults["activity"]] == [
        ("127.0.0.1", True, "API Key"), ("127.0.0.1", False, "API Key"), ("198.51.100.66", False, "API Key")]
    assert [item["last_at"] for item in defaults["activity"]] == sorted(
        (item["last_at"] for item in defaults["activity"]), reverse=True)
    assert defaults["refused"] == defaults["activity"][1:]
    assert [(item["ip"], item["allowed"]) for item in results["limit"]["activity"]] == [("127.0.0.1", True)]
    empty = results["no activity, empty list"]
    assert {key: empty[key] for key in ("enabled", "entries", "rules", "activity", "refused")} == {
        "enabled": False, "entries": [], "rules": [], "activity": [], "refused": []}
    assert explained(results["limit 1001"]) == "activity_limit must be from 1 to 1000, got 1001."
    tally("bad_input_rejected")


# ----------------------------------------------------------------------------- faults

@CASES.add("transient faults")
def _transient_faults(start):
    server = start()
    ids = seed(server, ["127.0.0.1", "192.0.2.0/24"])
    server.add_fault("rate_limit", method="GET", path=WHITELIST, reset="seconds", wait=1)
    server.add_fault("drop", method="GET", path=ACTIVITY)
    server.add_fault("error", method="POST", path=WHITELIST, status=503)
    server.add_fault("html", method="DELETE", path=WHITELIST, status=502)

    return (server, ids), access_case(server, access={"entries": ["127.0.0.1", "10.1.0.0/16"], "purge": True})


def test_transient_faults_on_every_ip_access_endpoint_are_retried_and_the_change_goes_through(runs, tally):
    run, (server, ids) = runs["transient faults"]

    assert run.rc == 0, run.explain()
    assert log_with_faults(server) == [
        get() + ("rate_limit",), get() + (200,),
        get(ACTIVITY) + ("drop",), get(ACTIVITY) + (200,),
        post(["10.1.0.0/16"]) + ("error",), post(["10.1.0.0/16"]) + (201,),
        delete([ids["192.0.2.0/24"]]) + ("html",), delete([ids["192.0.2.0/24"]]) + (204,),
    ]
    task = run.task("apply")
    assert task["status"] == "changed"
    assert [re.sub(r"in \d\.\d seconds", "in N seconds", warning) for warning in task["warnings"]] == [
        "SendGrid GET %s answered HTTP 429; retry 1 of 5 in N seconds." % WHITELIST,
        "SendGrid GET %s failed with a connection error; retry 1 of 5 in N seconds." % ACTIVITY,
        "SendGrid POST %s answered HTTP 503; retry 1 of 5 in N seconds." % WHITELIST,
        "SendGrid DELETE %s answered HTTP 502; retry 1 of 5 in N seconds." % WHITELIST,
    ]
    requests = server.requests()
    assert requests[1]["time"] - requests[0]["time"] >= 0.9  # waited as the 429 asked
    assert allow_list(server) == ["127.0.0.1/32", "10.1.0.0/16"]
    tally("fault_survived")


@CASES.add("faults that do not pass")
def _faults_that_do_not_pass(start):
    server = start()
    seed(server, ["127.0.0.1", "192.0.2.0/24"])
    # consumed in case order: each fault meets the first request of its kind
    server.add_fault("html", method="GET", path=WHITELIST, status=502)
    server.add_fault("rate_limit", method="GET", path=WHITELIST, reset="seconds", wait=60)
    server.add_fault("malformed_json", method="GET", path=ACTIVITY, body='{"result": [{"allowed": true, "ip": ')
    server.add_fault("delay", method="GET", path=ACTIVITY, seconds=3)
    server.add_fault("drop", method="POST", path=WHITELIST)
    # acknowledged, but the entry is not in the answer (and not stored)
    server.add_fault("malformed_json", method="POST", path=WHITELIST, status=201, body='{"result": []}')
    server.add_fault("error", count=2, method="DELETE", path=WHITELIST, status=503)
    purge = {"entries": ["127.0.0.1", "10.0.0.0/8"], "purge": True, "client_addresses": ["127.0.0.1"]}

    return server, cases_case(server, access_cases=[
        {"case": "proxy page", "entries": ["10.0.0.0/8"], "retries": 0},
        {"case": "rate limit beyond retry_max_wait", "entries": ["10.0.0.0/8"], "retry_max_wait": 2},
        {"case": "malformed activity", "entries": ["10.0.0.0/8"], "retries": 0},
        {"case": "activity timeout", "entries": ["10.0.0.0/8"], "timeout": 1, "retries": 0},
        {"case": "post dropped", "entries": ["10.0.0.0/8"], "client_addresses": ["127.0.0.1"], "retries": 0},
        dict(purge, case="post without the entry"),
        dict(purge, case="delete 503 until the retries run out", retries=1),
    ])


def test_faults_that_do_not_pass_fail_clearly_and_an_unconfirmed_post_is_never_followed_by_a_delete(runs, tally):
    run, server = cases_ran(runs, "faults that do not pass")

    url = server.url
    messages = {case: explained(item) for case, item in case_outcomes(run, "access").items()}
    assert messages["proxy page"] == (
        "Reading the IP access allow list GET %s%s failed (HTTP 502, body (text/html) '502 Bad Gateway 502 Bad Gateway "
        "nginx'). SendGrid or a proxy in front of it failed; try again later." % (url, WHITELIST))
    assert re.fullmatch(re.escape(
        "Reading the IP access allow list GET %s%s failed (HTTP 429: too many requests). SendGrid is rate limiting this "
        "API key. SendGrid's rate limit resets in " % (url, WHITELIST)) + r"(59|60) seconds \(at \d\d:\d\d:\d\d UTC\), "
        r"beyond retry_max_wait \(2 seconds\): raise retry_max_wait, lower concurrency, or run again later\.",
        messages["rate limit beyond retry_max_wait"]), messages["rate limit beyond retry_max_wait"]
    assert messages["malformed activity"] == (
        "Reading the recent access activity GET %s%s: SendGrid answered HTTP 200 with a body that is not JSON: "
        "(application/json) '{\"result\": [{\"allowed\": true, \"ip\":'. A proxy may have answered instead of SendGrid, "
        "or the answer was cut off: check api_url (the API's base URL, such as https://api.sendgrid.com) and any proxy, "
        "then run again." % (url, ACTIVITY))
    assert messages["activity timeout"] == (
        "Reading the recent access activity GET %s%s: SendGrid gave no answer within the timeout of 1.0 seconds (option "
        "timeout); raise timeout, or run again later." % (url, ACTIVITY))
    assert messages["post dropped"].startswith(
        "Adding to the IP access allow list POST %s%s: the connection to the API was lost or refused (" % (url, WHITELIST))
    assert messages["post without the entry"] == (
        "SendGrid acknowledged the addition to the allow list without listing 10.0.0.0/8, so nothing was removed. Run "
        "the task again.")
    assert re.fullmatch(re.escape(
        "Removing from the IP access allow list DELETE %s%s failed (HTTP 503: service unavailable). SendGrid or a proxy "
        "in front of it failed; try again later (gave up after 1 retries and " % (url, WHITELIST))
        + r"\d\.\d seconds of waiting; options retries and retry_max_wait\)\. Added before the failure: 10\.0\.0\.0/8; "
          r"nothing was removed\.",
        messages["delete 503 until the retries run out"]), messages["delete 503 until the retries run out"]
    assert log_with_faults(server) == [
        get() + ("html",),
        get() + ("rate_limit",),
        get() + (200,), get(ACTIVITY) + ("malformed_json",),
        get() + (200,), get(ACTIVITY) + ("delay",),
        get() + (200,), post(["10.0.0.0/8"]) + ("drop",),
        # no DELETE after an unconfirmed POST
        get() + (200,), post(["10.0.0.0/8"]) + ("malformed_json",),
        get() + (200,), post(["10.0.0.0/8"]) + (201,),
        delete([rule_ids(server)["192.0.2.0/24"]]) + ("error",), delete([rule_ids(server)["192.0.2.0/24"]]) + ("error",),
    ]
    # the entries meant to stay never went missing: the failed removal left more, not less
    assert allow_list(server) == ["127.0.0.1/32", "192.0.2.0/24", "10.0.0.0/8"]
    tally("failure_reported")


@CASES.add("bare array")
def _bare_array(start):
    server = start()
    # An answer in another shape than {"result": [...]}: the rules as a bare array (a proxy or an API change).
    ids = seed(server, ["127.0.0.1", "192.0.2.0/24"])
    server.add_fault("malformed_json", method="POST", path=WHITELIST, status=201, body='[{"id": 99, "ip": "10.0.0.0/8"}]')
    return (server, ids), access_case(server, access={"entries": ["127.0.0.1", "10.0.0.0/8"], "purge": True,
                                                      "client_addresses": ["127.0.0.1"]}, retries=0)


def test_a_post_answered_with_a_bare_array_fails_clearly_and_sends_no_delete(runs, tally):
    run, (server, ids) = runs["bare array"]

    message = assert_clear_failure(run, "apply")
    # the module's own explanation, not a Python error passed on by Ansible
    assert not message.startswith("Task failed: Module failed"), message
    assert "object has no attribute" not in message, message
    assert calls(server) == [get(), post(["10.0.0.0/8"])]
    assert rule_ids(server) == ids
    tally("failure_reported")


# ----------------------------------------------------------------------------- scopes

@CASES.add("key without a scope")
def _key_without_a_scope(start):
    server = start(keys={NARROW_KEY: NARROW_SCOPES})
    seed(server, ["127.0.0.1", "192.0.2.0/24"])
    return server, cases_case(server, api_key=NARROW_KEY, access_cases=[
        {"case": "add", "entries": ["10.0.0.0/8"], "client_addresses": ["127.0.0.1"]},
        {"case": "remove", "state": "absent", "entries": ["192.0.2.0/24"], "client_addresses": ["127.0.0.1"]},
        {"case": "guard", "entries": ["10.0.0.0/8"]},
        {"case": "in sync", "entries": ["127.0.0.1"]},
    ], info_cases=[
        {"case": "activity"},
    ])


def test_key_without_a_scope_fails_naming_the_scope_it_lacks(runs, tally):
    run, server = cases_ran(runs, "key without a scope")
    # run_cases looks for the keys of SECRETS; this case's own key must not show either
    for text in (run.stdout, run.stderr, json.dumps(run.tasks)):
        assert NARROW_KEY not in text, "the narrow API key appeared in the output\n" + run.explain()

    url = server.url
    results = case_outcomes(run, "access")
    assert explained(results["add"]) == (
        "Adding to the IP access allow list POST %s%s failed (HTTP 403: access forbidden). The API key lacks the scope "
        "access_settings.whitelist.create needed for adding to the IP access allow list." % (url, WHITELIST))
    assert explained(results["remove"]) == (
        "Removing from the IP access allow list DELETE %s%s failed (HTTP 403: access forbidden). The API key lacks the "
        "scope access_settings.whitelist.delete needed for removing from the IP access allow list." % (url, WHITELIST))
    scope_message = ("Reading the recent access activity GET %s%s failed (HTTP 403: access forbidden). The API "
                     "key lacks the scope access_settings.activity.read needed for reading the recent access activity.")
    assert explained(results["guard"]) == scope_message % (url, ACTIVITY)
    assert results["in sync"]["changed"] is False
    info = case_outcomes(run, "info")
    assert explained(info["activity"]) == scope_message % (url, ACTIVITY)
    assert [item.get("status") for item in (results["add"], results["remove"], results["guard"], info["activity"])] == [403] * 4
    assert calls(server, with_status=True) == [
        get() + (200,), post(["10.0.0.0/8"]) + (403,),
        get() + (200,), delete([rule_ids(server)["192.0.2.0/24"]]) + (403,),
        get() + (200,), get(ACTIVITY) + (403,),
        get() + (200,),
        get() + (200,), get(ACTIVITY) + (403,),
    ]
    assert allow_list(server) == ["127.0.0.1/32", "192.0.2.0/24"]
    tally("failure_reported")


# ----------------------------------------------------------------------------- bad input

@CASES.add("bad input")
def _bad_input(start):
    server = start()
    seed(server, ["127.0.0.1"])
    return server, cases_case(server, access_cases=[
        {"case": "invalid entries", "entries": ["10.0.0.1", "10.0.0.300", "10.*.1.*", "example.com"]},
        {"case": "host bits", "entries": ["127.0.0.1", "10.1.2.3/8"]},
        {"case": "host bits when removing", "state": "absent", "entries": ["2001:db8::1/32"]},
        {"case": "any address", "entries": ["127.0.0.1", "0.0.0.0/0"]},
        {"case": "any IPv6 address", "entries": ["127.0.0.1", "::/0"], "purge": True, "allow_lockout": True},
        {"case": "network as client address", "entries": ["10.0.0.0/8"], "client_addresses": ["127.0.0.1", "203.0.113.0/24"]},
        {"case": "disabled with entries", "state": "disabled", "entries": ["127.0.0.1"]},
        {"case": "purge with absent", "state": "absent", "purge": True, "entries": ["127.0.0.1"]},
        {"case": "unknown state", "state": "off"},
    ], info_cases=[
        {"case": "limit 0", "activity_limit": 0},
    ])


def test_bad_input_fails_naming_the_option_and_sends_nothing(runs, tally):
    run, server = cases_ran(runs, "bad input")

    messages = {case: explained(item) for task in ("access", "info") for case, item in case_outcomes(run, task).items()}
    assert messages == {
        "invalid entries": "value of entries must hold IPv4 or IPv6 addresses, CIDR networks (203.0.113.0/24) or SendGrid "
                           "wildcards (203.0.113.*), got: '10.0.0.300', '10.*.1.*', 'example.com'.",
        "host bits": "value of entries holds 10.1.2.3/8, which has host bits set: give 10.1.2.3 for that one address, or "
                     "10.0.0.0/8 for the whole network.",
        "host bits when removing": "value of entries holds 2001:db8::1/32, which has host bits set: give 2001:db8::1 for "
                                   "that one address, or 2001:db8::/32 for the whole network.",
        "any address": ANY_ADDRESS % "0.0.0.0/0",
        "any IPv6 address": ANY_ADDRESS % "::/0",
        "network as client address": "value of client_addresses must hold IP addresses (this machine's, as SendGrid sees "
                                     "it), got: '203.0.113.0/24'.",
        "disabled with entries": "state: disabled empties the allow list: leave entries out (it holds 127.0.0.1).",
        "purge with absent": "purge applies to state: present only (state is absent).",
        "unknown state": "value of state must be one of: present, absent, disabled, got: off",
        "limit 0": "activity_limit must be from 1 to 1000, got 0.",
    }
    assert_nothing_sent(server)
    tally("bad_input_rejected")


ANY_ADDRESS = ("value of entries must not hold a network of every IPv4 or IPv6 address unless allow_any_address is true: "
               "it lets any address reach the account, which undoes the allow list; got: %s.")


@CASES.add("entry guards")
def _entry_guards(start):
    server = start()
    ids = seed(server, ["127.0.0.1", "203.0.113.0/24"])
    covered = {"state": "absent", "entries": ["203.0.113.5"]}
    return (server, ids), cases_case(server, access_cases=[
        dict(covered, case="absent, covered, in check mode", check=True),
        dict(covered, case="absent, covered"),
        {"case": "any address allowed", "entries": ["0.0.0.0/0"], "allow_any_address": True},
        # removing a network of every address is the cure, never refused
        {"case": "any address removed", "state": "absent", "entries": ["0.0.0.0/0"]},
    ])


def test_entry_guards_warn_of_a_covered_absent_entry_and_let_an_allowed_any_address_network_through_with_a_warning(runs):
    run, (server, ids) = cases_ran(runs, "entry guards")

    results = case_outcomes(run, "access")
    unchanged = {"changed": False, "entries": ["127.0.0.1/32", "203.0.113.0/24"], "added": [], "removed": [],
                 "client_addresses": None}
    assert outcome(results["absent, covered, in check mode"]) == unchanged
    assert outcome(results["absent, covered"]) == unchanged
    assert outcome(results["any address allowed"]) == {
        "changed": True, "entries": ["0.0.0.0/0", "127.0.0.1/32", "203.0.113.0/24"], "added": ["0.0.0.0/0"],
        "removed": [], "client_addresses": ["127.0.0.1"]}
    assert outcome(results["any address removed"])["removed"] == ["0.0.0.0/0"]
    covered = ("203.0.113.5 is not on the allow list as an entry of its own, but 203.0.113.0/24 covers it: it keeps "
               "access. Remove 203.0.113.0/24 to take it away.")
    # in check mode too, and though nothing changed; the network of every address warns though allowed
    assert run.task("access")["warnings"] == [covered, covered, WIDE % ("0.0.0.0/0", 16, 4)]
    log = calls(server)
    assert log[:-1] == [
        get(), get(),
        get(), get(ACTIVITY), post(["0.0.0.0/0"]),
        get(), get(ACTIVITY),
    ]
    # the one rule the POST added, by the id the server gave it
    assert log[-1][:2] == ("DELETE", WHITELIST) and len(log[-1].body["ids"]) == 1, log[-1]
    assert log[-1].body["ids"][0] not in ids.values()
    assert rule_ids(server) == ids


@CASES.add("zone id")
def _zone_id(start):
    server = start()
    # fe80::1%eth0 names an interface of this machine: no allow list can hold it (SendGrid's API refuses zone ids).
    seed(server, ["127.0.0.1"])
    return server, cases_case(server, access_cases=[
        {"case": "zone id", "entries": ["fe80::1%eth0"], "client_addresses": ["127.0.0.1"]},
    ])


def test_an_entry_with_an_ipv6_zone_id_is_refused_as_invalid_before_any_request(runs, tally):
    run, server = cases_ran(runs, "zone id")

    message = explained(case_outcomes(run, "access")["zone id"])
    assert message.startswith("value of entries must hold IPv4 or IPv6 addresses"), message
    assert "fe80::1%eth0" in message
    assert_nothing_sent(server)
    tally("bad_input_rejected")
