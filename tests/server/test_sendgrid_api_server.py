"""Behaviour of tools/sendgrid_api_server.py, checked with requests against real instances on 127.0.0.1."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments,too-many-lines

import importlib.util
import ipaddress
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import trustme
import urllib3

TOOL = Path(__file__).resolve().parents[2] / "tools" / "sendgrid_api_server.py"
_SPEC = importlib.util.spec_from_file_location("sendgrid_api_server", TOOL)
sg = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("sendgrid_api_server", sg)
_SPEC.loader.exec_module(sg)

KEY = "SG.test-all"
READ_ONLY = "SG.test-read"
UPDATE_ONLY = "SG.test-update"
NO_SCOPES = "SG.test-none"
KEYS = {KEY: sg.ALL_SCOPES, READ_ONLY: [sg.SCOPE_TLS_READ], UPDATE_ONLY: [sg.SCOPE_TLS_UPDATE], NO_SCOPES: []}
SUBUSERS = ["marketing", "billing:disabled", "eu-news:eu"]
DEFAULT = {"require_tls": False, "require_valid_cert": False, "version": 1.1}
TLS = "/v3/user/settings/enforced_tls"


def options(**overrides):
    """Server options used by most tests; overrides win."""
    base = {"keys": KEYS, "subusers": SUBUSERS, "account_ids": ["777"]}
    base.update(overrides)
    return base


@pytest.fixture(name="shared_srv", scope="module")
def fixture_shared_srv():
    """One server for the module: stopping one waits for its accept loop to notice (up to 50 ms)."""
    with sg.running_server(**options()) as server:
        yield server


@pytest.fixture(name="srv")
def fixture_srv(shared_srv):
    """The shared server, back in its start state."""
    shared_srv.reset()
    yield shared_srv


def call(server, method, path, *, key=KEY, obo=None, timeout=5, session=None, **kwargs):
    """One API request with the usual headers."""
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if obo is not None:
        headers["on-behalf-of"] = obo
    return (session or requests).request(method, server.url + path, headers=headers, timeout=timeout, **kwargs)


def errors_of(response):
    """The errors list, after checking the SendGrid error shape."""
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"errors"} and body["errors"]
    for item in body["errors"]:
        assert set(item) == {"field", "message"} and isinstance(item["message"], str)
    return body["errors"]


# ----------------------------------------------------------------------------- enforced TLS settings

def test_initial_state_is_default_for_every_account(srv):
    for obo in (None, "marketing", "billing", "account-id 777"):
        response = call(srv, "GET", TLS, obo=obo)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == DEFAULT
    assert srv.state() == {name: DEFAULT for name in ("parent", "marketing", "billing", "eu-news", "account-id 777")}


def test_patch_subset_applies_and_returns_full_settings(srv):
    response = call(srv, "PATCH", TLS, json={"require_tls": True})
    assert response.status_code == 200
    assert response.json() == {"require_tls": True, "require_valid_cert": False, "version": 1.1}
    response = call(srv, "PATCH", TLS, json={"version": 1.3, "require_valid_cert": True})
    assert response.json() == {"require_tls": True, "require_valid_cert": True, "version": 1.3}
    assert call(srv, "GET", TLS).json() == {"require_tls": True, "require_valid_cert": True, "version": 1.3}


def test_patch_empty_object_changes_nothing(srv):
    assert call(srv, "PATCH", TLS, json={}).json() == DEFAULT


def test_state_is_kept_per_account(srv):
    call(srv, "PATCH", TLS, obo="marketing", json={"require_tls": True})
    call(srv, "PATCH", TLS, obo="account-id 777", json={"version": 1.2})
    assert call(srv, "GET", TLS).json() == DEFAULT
    assert call(srv, "GET", TLS, obo="marketing").json()["require_tls"] is True
    assert call(srv, "GET", TLS, obo="billing").json() == DEFAULT
    assert call(srv, "GET", TLS, obo="account-id 777").json()["version"] == 1.2
    state = srv.state()
    assert state["marketing"]["require_tls"] and state["account-id 777"]["version"] == 1.2 and state["parent"] == DEFAULT


@pytest.mark.parametrize("body, field", [
    ({"require_tls": 1}, "require_tls"),
    ({"require_tls": "true"}, "require_tls"),
    ({"require_valid_cert": None}, "require_valid_cert"),
    ({"require_valid_cert": 0}, "require_valid_cert"),
])
def test_patch_rejects_non_boolean_flags(srv, body, field):
    response = call(srv, "PATCH", TLS, json=body)
    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == field
    assert srv.state()["parent"] == DEFAULT


@pytest.mark.parametrize("version", ["1.2", 1.0, 1.4, 1, 2, True, None])
def test_patch_rejects_bad_version(srv, version):
    response = call(srv, "PATCH", TLS, json={"version": version, "require_tls": True})
    assert response.status_code == 400
    assert [e["field"] for e in errors_of(response)] == ["version"]
    assert srv.state()["parent"] == DEFAULT


def test_patch_rejects_unknown_field(srv):
    response = call(srv, "PATCH", TLS, json={"require_tls": True, "min_version": 1.2})
    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == "min_version"
    assert srv.state()["parent"] == DEFAULT


@pytest.mark.parametrize("body", ['[{"require_tls": true}]', '"require_tls"', "true", "null"])
def test_patch_rejects_non_object_body(srv, body):
    response = call(srv, "PATCH", TLS, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert errors_of(response)[0]["field"] is None


@pytest.mark.parametrize("body", ['{"require_tls": true', "", "require_tls=true", '{"version": NaN}'])
def test_patch_rejects_invalid_json(srv, body):
    response = call(srv, "PATCH", TLS, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert errors_of(response)[0]["field"] is None


# ----------------------------------------------------------------------------- auth, routing

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer SG.unknown"}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": "Bearer "}])
def test_missing_or_unknown_key_is_401(srv, headers):
    response = call(srv, "GET", TLS, key=None, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"errors": [{"field": None, "message": "authorization required"}]}


@pytest.mark.parametrize("method, path, key, status", [
    ("GET", TLS, READ_ONLY, 200), ("PATCH", TLS, READ_ONLY, 403),
    ("GET", TLS, UPDATE_ONLY, 403), ("PATCH", TLS, UPDATE_ONLY, 200),
    ("GET", "/v3/subusers", READ_ONLY, 403), ("GET", "/v3/subusers", KEY, 200),
    ("GET", TLS, NO_SCOPES, 403),
])
def test_scopes_are_enforced_per_operation(srv, method, path, key, status):
    response = call(srv, method, path, key=key, json={} if method == "PATCH" else None)
    assert response.status_code == status
    if status == 403:
        assert response.json() == {"errors": [{"field": None, "message": "access forbidden"}]}


@pytest.mark.parametrize("obo", ["nobody", "account-id 778", "Marketing"])
def test_unknown_on_behalf_of_account_is_404(srv, obo):
    response = call(srv, "GET", TLS, obo=obo)
    assert response.status_code == 404
    assert errors_of(response)[0]["field"] is None


@pytest.mark.parametrize("path", ["/v3/user/settings", "/v3/user/settings/enforced_tls/", "/", "/v3/mail_settings/spam_check",
                                  "/v3/tracking_settings/", "/v3/tracking_settings/clicks"])
def test_unknown_path_is_404(srv, path):
    response = call(srv, "GET", path)
    assert response.status_code == 404
    errors_of(response)


@pytest.mark.parametrize("method, path, allow", [("POST", TLS, "GET, PATCH"), ("PUT", TLS, "GET, PATCH"),
                                                 ("DELETE", TLS, "GET, PATCH"), ("PATCH", "/v3/subusers", "GET")])
def test_other_method_on_known_path_is_405_with_allow(srv, method, path, allow):
    response = call(srv, method, path, json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    errors_of(response)


# ----------------------------------------------------------------------------- rate limit

def test_rate_limit_headers_on_every_answer(srv):
    before = int(time.time())
    answers = [call(srv, "GET", TLS), call(srv, "GET", TLS, key=None), call(srv, "GET", "/nope"),
               call(srv, "PATCH", TLS, json={"version": 9}), call(srv, "GET", TLS, obo="nobody")]
    after = time.time()
    for response in answers:
        assert response.headers["X-RateLimit-Limit"] == "10000"
        assert int(response.headers["X-RateLimit-Remaining"]) < 10000
        assert before + 60 <= int(response.headers["X-RateLimit-Reset"]) <= after + 61
    # one bucket per key and path: GET and PATCH of TLS share one, /nope has its own
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in answers if r.request.headers.get("Authorization")] == [
        9999, 9999, 9998, 9997]


def test_rate_limit_answers_429_after_n_requests_per_key():
    with sg.running_server(**options(rate_limit=3, rate_window=30)) as srv:
        remaining = [call(srv, "GET", TLS).headers["X-RateLimit-Remaining"] for dummy in range(3)]
        assert remaining == ["2", "1", "0"]
        response = call(srv, "GET", TLS)
        assert response.status_code == 429
        assert response.json() == {"errors": [{"field": None, "message": "too many requests"}]}
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())
        # another key has its own window
        assert call(srv, "GET", TLS, key=READ_ONLY).status_code == 200


def test_rate_limit_window_resets():
    with sg.running_server(**options(rate_limit=1, rate_window=0.3)) as srv:
        assert call(srv, "GET", TLS).status_code == 200
        assert call(srv, "GET", TLS).status_code == 429
        time.sleep(0.35)
        assert call(srv, "GET", TLS).status_code == 200


def test_rate_limit_can_be_changed_at_runtime(srv):
    assert srv.set_config(rate_limit=1)["rate_limit"] == 1
    assert call(srv, "GET", TLS).status_code == 200
    assert call(srv, "GET", TLS).status_code == 429


def test_rate_reset_seconds_is_whole_seconds_until_the_window_resets_rounded_up():
    with sg.running_server(**options(rate_limit=2, rate_window=2.5, rate_reset="seconds")) as srv:
        first = call(srv, "GET", TLS)
        assert first.status_code == 200 and first.headers["X-RateLimit-Reset"] == "3"
        time.sleep(0.6)
        # 1.0 to 1.9 seconds left
        second, third = call(srv, "GET", TLS), call(srv, "GET", TLS)
        assert second.status_code == 200 and second.headers["X-RateLimit-Reset"] == "2"
        assert third.status_code == 429 and third.headers["X-RateLimit-Reset"] == "2"
        assert third.headers["X-RateLimit-Remaining"] == "0"


def test_rate_reset_format_can_be_switched_at_runtime(srv):
    assert control(srv, "GET", "config")["rate_reset"] == "epoch"
    assert control(srv, "PUT", "config", json={"rate_reset": "seconds"})["rate_reset"] == "seconds"
    # the windows restart with any config change: a whole window is left
    assert call(srv, "GET", TLS).headers["X-RateLimit-Reset"] == "60"
    assert srv.set_config(rate_reset="epoch")["rate_reset"] == "epoch"
    assert int(call(srv, "GET", TLS).headers["X-RateLimit-Reset"]) >= int(time.time()) + 59
    control(srv, "PUT", "config", json={"rate_reset": "seconds"})
    srv.reset()
    assert control(srv, "GET", "config")["rate_reset"] == "epoch"


def test_rate_limit_fault_follows_the_server_reset_format_unless_told():
    with sg.running_server(**options(rate_reset="seconds")) as srv:
        srv.add_fault("rate_limit", wait=7)
        srv.add_fault("rate_limit", wait=7, reset="epoch")
        assert call(srv, "GET", TLS).headers["X-RateLimit-Reset"] == "7"
        assert int(time.time()) + 6 <= int(call(srv, "GET", TLS).headers["X-RateLimit-Reset"]) <= int(time.time()) + 8


def test_burst_over_the_limit_gets_429s_and_the_budget_is_whole_after_the_reset():
    with sg.running_server(**options(rate_limit=3, rate_window=1, rate_reset="seconds")) as srv:
        burst = [call(srv, "GET", TLS) for dummy in range(5)]
        assert [r.status_code for r in burst] == [200, 200, 200, 429, 429]
        assert [r.headers["X-RateLimit-Remaining"] for r in burst] == ["2", "1", "0", "0", "0"]
        assert [r.headers["X-RateLimit-Reset"] for r in burst] == ["1"] * 5
        # the request log is where tests count 429s
        assert [e["status"] for e in control(srv, "GET", "requests")].count(429) == 2
        time.sleep(int(burst[-1].headers["X-RateLimit-Reset"]))
        again = [call(srv, "GET", TLS) for dummy in range(4)]
        assert [r.status_code for r in again] == [200, 200, 200, 429]
        assert [r.headers["X-RateLimit-Remaining"] for r in again] == ["2", "1", "0", "0"]
        assert [e["status"] for e in srv.requests()].count(429) == 3


# ----------------------------------------------------------------------------- subusers

def test_subusers_pages_in_stable_order_and_offset_past_end_is_empty():
    with sg.running_server(**options(subusers=None, generate_subusers=7)) as srv:
        pages = [call(srv, "GET", "/v3/subusers", params={"limit": 3, "offset": offset}).json() for offset in (0, 3, 6, 9)]
        assert [len(page) for page in pages] == [3, 3, 1, 0]
        names = [s["username"] for page in pages for s in page]
        assert names == [f"subuser-{i:03d}" for i in range(1, 8)]
        ids = [s["id"] for page in pages for s in page]
        assert ids == sorted(ids) and len(set(ids)) == 7
        assert set(pages[0][0]) == {"disabled", "email", "id", "username"}


def test_subusers_default_page_is_100_and_limit_has_no_maximum():
    with sg.running_server(**options(subusers=None, generate_subusers=620)) as srv:
        assert len(call(srv, "GET", "/v3/subusers").json()) == 100
        assert len(call(srv, "GET", "/v3/subusers", params={"limit": 500}).json()) == 500
        page = call(srv, "GET", "/v3/subusers", params={"limit": 600})
        assert page.status_code == 200
        assert [s["username"] for s in page.json()] == [f"subuser-{i:03d}" for i in range(1, 601)]
        assert len(call(srv, "GET", "/v3/subusers", params={"limit": 10 ** 9}).json()) == 620
        assert call(srv, "GET", "/v3/subusers", params={"offset": 100}).json()[0]["username"] == "subuser-101"


@pytest.mark.parametrize("params, field", [({"limit": 0}, "limit"), ({"limit": -1}, "limit"), ({"limit": "x"}, "limit"),
                                           ({"limit": "1.5"}, "limit"), ({"offset": -1}, "offset"),
                                           ({"region": "us"}, "region"), ({"include_region": "yes"}, "include_region")])
def test_subusers_bad_query_is_400(srv, params, field):
    response = call(srv, "GET", "/v3/subusers", params=params)
    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == field


def subuser_names(server, **params):
    """Usernames on one page of GET /v3/subusers."""
    response = call(server, "GET", "/v3/subusers", params=params)
    assert response.status_code == 200
    return [s["username"] for s in response.json()]


def test_max_page_size_caps_every_page_whatever_limit_asks():
    with sg.running_server(**options(subusers=None, generate_subusers=120, max_page_size=50)) as srv:
        everyone = [f"subuser-{i:03d}" for i in range(1, 121)]
        assert control(srv, "GET", "config")["max_page_size"] == 50
        assert subuser_names(srv) == everyone[:50]
        assert subuser_names(srv, limit=500) == everyone[:50]
        assert subuser_names(srv, limit=10, offset=45) == everyone[45:55]
        assert subuser_names(srv, limit=100, offset=100) == everyone[100:]
        # silently: a client stepping offset by its limit skips subuser-051..100
        assert subuser_names(srv, limit=100) + subuser_names(srv, limit=100, offset=100) == everyone[:50] + everyone[100:]
        # one stepping by the size it got sees everyone once
        seen, page = [], None
        while page != []:
            page = subuser_names(srv, limit=100, offset=len(seen))
            seen += page
        assert seen == everyone
        assert call(srv, "GET", "/v3/subusers", params={"limit": 0}).status_code == 400


def test_max_page_size_is_set_and_removed_at_runtime(srv):
    assert control(srv, "GET", "config")["max_page_size"] is None
    assert control(srv, "PUT", "config", json={"max_page_size": 2})["max_page_size"] == 2
    assert subuser_names(srv) == ["marketing", "billing"]
    assert subuser_names(srv, offset=2) == ["eu-news"]
    # changing something else keeps the cap; null removes it
    assert control(srv, "PUT", "config", json={"latency_ms": 0})["max_page_size"] == 2
    assert control(srv, "PUT", "config", json={"max_page_size": None})["max_page_size"] is None
    assert subuser_names(srv) == ["marketing", "billing", "eu-news"]
    assert srv.set_config(max_page_size=1)["max_page_size"] == 1
    assert subuser_names(srv, limit=3) == ["marketing"]
    srv.reset()
    assert control(srv, "GET", "config")["max_page_size"] is None


def test_subusers_include_region_adds_the_region_key(srv):
    plain = call(srv, "GET", "/v3/subusers").json()
    assert all("region" not in s for s in plain)
    assert all("region" not in s for s in call(srv, "GET", "/v3/subusers", params={"include_region": "false"}).json())
    with_region = call(srv, "GET", "/v3/subusers", params={"include_region": "true"}).json()
    assert {s["username"]: s["region"] for s in with_region} == {"marketing": "global", "billing": "global", "eu-news": "eu"}
    assert {s["username"]: s["disabled"] for s in with_region} == {"marketing": False, "billing": True, "eu-news": False}


@pytest.mark.parametrize("region, names", [("all", ["marketing", "billing", "eu-news"]), ("global", ["marketing", "billing"]),
                                           ("eu", ["eu-news"])])
def test_subusers_region_filter(srv, region, names):
    assert [s["username"] for s in call(srv, "GET", "/v3/subusers", params={"region": region}).json()] == names


def test_subusers_username_filter(srv):
    assert [s["username"] for s in call(srv, "GET", "/v3/subusers", params={"username": "billing"}).json()] == ["billing"]
    assert call(srv, "GET", "/v3/subusers", params={"username": "bill"}).json() == []


def test_subusers_added_at_runtime_get_default_settings(srv):
    added = srv.add_subusers([{"username": "late", "region": "eu"}, "later:disabled"])
    assert [s["username"] for s in added] == ["late", "later"]
    names = [s["username"] for s in call(srv, "GET", "/v3/subusers").json()]
    assert names[-2:] == ["late", "later"]
    assert call(srv, "GET", TLS, obo="later").json() == DEFAULT


# ----------------------------------------------------------------------------- regions

def test_wrong_region_subuser_is_403_naming_the_other_host(srv):
    response = call(srv, "GET", TLS, obo="eu-news")
    assert response.status_code == 403
    message = errors_of(response)[0]["message"]
    assert "eu region" in message and "https://api.eu.sendgrid.com" in message
    assert call(srv, "PATCH", TLS, obo="eu-news", json={"require_tls": True}).status_code == 403
    assert srv.state()["eu-news"] == DEFAULT


def test_two_hosts_share_one_accounts_file(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)},
                                    "subusers": [{"username": "g1"}, {"username": "e1", "region": "eu", "id": 10001}]}))
    with sg.running_server(accounts_file=str(accounts)) as world, sg.running_server(accounts_file=str(accounts), region="eu") as eu:
        assert call(eu, "PATCH", TLS, obo="e1", json={"require_tls": True}).json()["require_tls"] is True
        response = call(eu, "GET", TLS, obo="g1")
        assert response.status_code == 403 and "https://api.sendgrid.com" in errors_of(response)[0]["message"]
        assert call(world, "GET", TLS, obo="g1").status_code == 200
        assert call(world, "GET", TLS, obo="e1").status_code == 403
        # both hosts list every subuser
        for host in (world, eu):
            listed = call(host, "GET", "/v3/subusers", params={"include_region": "true"}).json()
            assert [(s["username"], s["region"], s["id"]) for s in listed] == [("e1", "eu", 10001), ("g1", "global", 10002)]


def test_default_definition_has_demo_key_and_subusers():
    with sg.running_server() as srv:
        listed = call(srv, "GET", "/v3/subusers", key=sg.DEMO_KEY, params={"include_region": "true"}).json()
        assert {s["username"]: s["region"] for s in listed} == {"marketing": "global", "billing": "global", "eu-newsletter": "eu"}
        assert call(srv, "PATCH", TLS, key=sg.DEMO_KEY, json={"require_tls": True}).status_code == 200


# ----------------------------------------------------------------------------- request log and connections

def test_request_log_records_what_was_sent(srv):
    call(srv, "PATCH", TLS + "?x=1", obo="marketing", json={"require_tls": True}, headers={"User-Agent": "probe/1"})
    call(srv, "GET", "/v3/subusers", key=None)
    first, second = srv.requests()
    assert first["method"] == "PATCH" and first["path"] == TLS + "?x=1"
    assert first["headers"]["Authorization"] == f"Bearer {KEY}"
    assert first["headers"]["on-behalf-of"] == "marketing" and first["headers"]["User-Agent"] == "probe/1"
    assert first["body"] == {"require_tls": True} and first["body_is_json"] is True
    assert first["status"] == 200 and first["account"] == "marketing"
    assert second["status"] == 401 and second["account"] is None and second["body"] is None
    srv.clear_requests()
    assert srv.requests() == []


def test_request_log_keeps_raw_text_of_invalid_json(srv):
    call(srv, "PATCH", TLS, data="{oops", headers={"Content-Type": "application/json"})
    entry = srv.requests()[0]
    assert entry["body"] == "{oops" and entry["body_is_json"] is False and entry["status"] == 400


def test_session_reuses_one_connection(srv):
    srv.clear_requests()
    with requests.Session() as session:
        assert call(srv, "GET", TLS, session=session).status_code == 200
        assert call(srv, "PATCH", TLS, session=session, json={"require_tls": True}).status_code == 200
    assert srv.connections()["opened"] == 1
    assert len({entry["connection"] for entry in srv.requests()}) == 1


def test_requests_without_session_open_one_connection_each(srv):
    srv.clear_requests()
    call(srv, "GET", TLS)
    call(srv, "GET", TLS)
    assert srv.connections()["opened"] == 2


def test_latency_delays_answers_without_serialising_clients():
    with sg.running_server(**options(latency_ms=300)) as srv:
        results = []
        threads = [threading.Thread(target=lambda: results.append(call(srv, "GET", TLS).status_code)) for dummy in range(5)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
        assert results == [200] * 5
        assert 0.3 <= elapsed < 1.0


# ----------------------------------------------------------------------------- faults

def test_fault_rate_limit_with_epoch_reset(srv):
    srv.add_fault("rate_limit", wait=5)
    response = call(srv, "GET", TLS)
    assert response.status_code == 429
    assert response.json() == {"errors": [{"field": None, "message": "too many requests"}]}
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(time.time()) + 4 <= int(response.headers["X-RateLimit-Reset"]) <= int(time.time()) + 6
    assert "Retry-After" not in response.headers
    assert call(srv, "GET", TLS).status_code == 200


def test_fault_rate_limit_with_seconds_reset_and_retry_after(srv):
    srv.add_fault("429", reset="seconds", wait=2, retry_after=3)
    response = call(srv, "GET", TLS)
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Reset"] == "2" and response.headers["Retry-After"] == "3"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_fault_server_error_with_json_body(srv, status):
    srv.add_fault("error", status=status, count=2)
    assert [call(srv, "GET", TLS).status_code for dummy in range(3)] == [status, status, 200]
    srv.add_fault(str(status))
    response = call(srv, "GET", TLS)
    assert response.status_code == status
    errors_of(response)


def test_fault_html_error_page(srv):
    srv.add_fault("html")
    response = call(srv, "GET", TLS)
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert "<html>" in response.text and "502 Bad Gateway" in response.text


def test_fault_malformed_json_with_200(srv):
    srv.add_fault("malformed_json")
    response = call(srv, "GET", TLS)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_fault_drop_closes_the_connection_without_answer(srv):
    srv.add_fault("drop")
    with pytest.raises(requests.ConnectionError):
        call(srv, "GET", TLS)
    assert srv.requests()[0]["fault"] == "drop" and srv.requests()[0]["status"] is None
    assert call(srv, "GET", TLS).status_code == 200


def test_fault_delay_triggers_client_timeout(srv):
    srv.add_fault("delay", seconds=1)
    with pytest.raises(requests.Timeout):
        call(srv, "GET", TLS, timeout=0.2)
    assert call(srv, "GET", TLS, timeout=2).status_code == 200


def raw_exchange(server, method, path, body=None):
    """One request on a fresh socket, read until the server closes it; return (status line, headers, body)."""
    payload = b"" if body is None else json.dumps(body).encode()
    request_head = (f"{method} {path} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: Bearer {KEY}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    chunks = []
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(request_head.encode() + payload)
        # a keep-alive answer would time out here: only a closed connection ends the loop
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    answer_head, dummy, received = b"".join(chunks).partition(b"\r\n\r\n")
    status, *lines = answer_head.decode().split("\r\n")
    return status, {k.lower(): v.strip() for k, dummy, v in (line.partition(":") for line in lines)}, received


def test_fault_truncated_promises_the_whole_body_sends_half_and_closes(srv):
    full = json.dumps(DEFAULT).encode()
    srv.add_fault("truncated")
    status, headers, received = raw_exchange(srv, "GET", TLS)
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == "application/json" and headers["content-length"] == str(len(full))
    assert "x-ratelimit-remaining" in headers
    assert received == full[:len(full) // 2]
    assert [(e["fault"], e["status"]) for e in srv.requests()] == [("truncated", 200)]
    assert srv.faults() == []
    assert call(srv, "GET", TLS).json() == DEFAULT


def test_fault_truncated_patch_is_stored_and_its_answer_cut(srv):
    stored = {"require_tls": True, "require_valid_cert": False, "version": 1.2}
    srv.add_fault("truncated", method="PATCH", bytes=9)
    assert call(srv, "GET", TLS).json() == DEFAULT  # a GET does not use the fault up
    status, headers, received = raw_exchange(srv, "PATCH", TLS, {"require_tls": True, "version": 1.2})
    assert status == "HTTP/1.1 200 OK" and headers["content-length"] == str(len(json.dumps(stored)))
    assert received == json.dumps(stored).encode()[:9]
    assert srv.state()["parent"] == stored


@pytest.mark.parametrize("size, expected", [(0, 0), (5, 5), (10 ** 6, -1)])
def test_fault_truncated_bytes_sent_never_the_whole_body(srv, size, expected):
    full = json.dumps(DEFAULT).encode()
    srv.add_fault("truncated", bytes=size)
    assert raw_exchange(srv, "GET", TLS)[2] == full[:expected]


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_fault_truncated_is_an_incomplete_read_for_requests(srv, method):
    srv.add_fault("truncated", method=method)
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as caught:
        call(srv, method, TLS, json={"require_tls": True} if method == "PATCH" else None)
    assert isinstance(caught.value.args[0], urllib3.exceptions.ProtocolError)
    assert "IncompleteRead" in str(caught.value)
    assert srv.state()["parent"]["require_tls"] is (method == "PATCH")


def test_fault_not_applied_acknowledges_patch_without_storing_it(srv):
    srv.add_fault("not_applied")
    assert call(srv, "GET", TLS).status_code == 200  # a GET does not use the fault up
    response = call(srv, "PATCH", TLS, json={"require_tls": True, "version": 1.2})
    assert response.status_code == 200
    assert response.json() == DEFAULT
    assert call(srv, "GET", TLS).json() == DEFAULT
    assert call(srv, "PATCH", TLS, json={"require_tls": True}).json()["require_tls"] is True
    assert srv.state()["parent"]["require_tls"] is True


def test_fault_limited_to_one_method(srv):
    srv.add_fault("error", status=503, method="PATCH")
    assert call(srv, "GET", TLS).status_code == 200
    assert call(srv, "PATCH", TLS, json={"require_tls": True}).status_code == 503
    assert srv.state()["parent"] == DEFAULT
    assert call(srv, "PATCH", TLS, json={"require_tls": True}).status_code == 200


def test_fault_unlimited_until_cleared(srv):
    srv.add_fault("error", count="*")
    assert [call(srv, "GET", TLS).status_code for dummy in range(3)] == [500] * 3
    srv.clear_faults()
    assert call(srv, "GET", TLS).status_code == 200


@pytest.mark.parametrize("spec", [{"kind": "nope"}, {"kind": "error", "status": 200}, {"kind": "delay", "seconds": -1},
                                  {"kind": "rate_limit", "reset": "later"}, {"kind": "html", "colour": "red"},
                                  {"kind": "error", "count": 0}, {"kind": "not_applied", "method": "GET"},
                                  {"kind": "truncated", "bytes": -1}, {"kind": "truncated", "bytes": 1.5},
                                  {"kind": "truncated", "bytes": True}, {"kind": "truncated", "status": 500}])
def test_invalid_fault_is_refused(srv, spec):
    with pytest.raises(ValueError):
        srv.backend.faults.add(spec)
    response = requests.post(srv.url + "/__control__/faults", json=spec, timeout=5)
    assert response.status_code == 400


def test_fault_command_line_syntax():
    assert sg.make_fault("429:2:patch,reset=seconds,retry_after=1") == {
        "kind": "rate_limit", "count": 2, "method": "PATCH", "path": None, "reset": "seconds", "wait": 1, "retry_after": 1}
    assert sg.make_fault("503")["status"] == 503
    assert sg.make_fault("delay:*,seconds=0.5") == {"kind": "delay", "count": -1, "method": None, "path": None, "seconds": 0.5}
    assert sg.make_fault("truncated:2:patch,bytes=7") == {"kind": "truncated", "count": 2, "method": "PATCH", "path": None,
                                                          "bytes": 7}
    assert sg.make_fault("truncated")["bytes"] is None and sg.make_fault("429")["reset"] is None
    with sg.running_server(**options(faults=["error::PATCH,status=504"])) as srv:
        assert call(srv, "GET", TLS).status_code == 200
        assert call(srv, "PATCH", TLS, json={}).status_code == 504


# ----------------------------------------------------------------------------- control endpoint

def control(server, method, name, **kwargs):
    """Call the control endpoint."""
    response = requests.request(method, f"{server.url}/__control__/{name}", timeout=5, **kwargs)
    response.raise_for_status()
    return response.json()


def test_control_endpoint_drives_faults_state_and_log(srv):
    control(srv, "POST", "faults", json={"kind": "error", "status": 502, "method": "GET"})
    assert [f["status"] for f in control(srv, "GET", "faults")] == [502]
    assert call(srv, "GET", TLS).status_code == 502
    assert control(srv, "GET", "faults") == []
    control(srv, "PUT", "state", json={"account": "marketing", "settings": {"require_tls": True}})
    assert control(srv, "GET", "state")["marketing"]["require_tls"] is True
    assert call(srv, "GET", TLS, obo="marketing").json()["require_tls"] is True
    assert [e["status"] for e in control(srv, "GET", "requests")] == [502, 200]
    control(srv, "DELETE", "requests")
    assert control(srv, "GET", "requests") == []
    assert control(srv, "GET", "connections")["opened"] == 0


def test_control_state_put_can_create_any_drift(srv):
    control(srv, "PUT", "state", json={"account": "", "settings": {"version": 1.0, "extra": "x"}})
    assert call(srv, "GET", TLS).json() == {"require_tls": False, "require_valid_cert": False, "version": 1.0, "extra": "x"}
    control(srv, "PUT", "state", json={"account": "parent", "settings": {"require_tls": True}, "replace": True})
    assert call(srv, "GET", TLS).json() == {"require_tls": True}
    response = requests.put(srv.url + "/__control__/state", json={"account": "ghost", "settings": {}}, timeout=5)
    assert response.status_code == 404


def test_control_subusers_and_reset(srv):
    control(srv, "POST", "subusers", json=[{"username": "new-eu", "region": "eu", "disabled": True}])
    assert control(srv, "GET", "subusers")[-1]["username"] == "new-eu"
    call(srv, "PATCH", TLS, json={"require_tls": True})
    srv.add_fault("error")
    control(srv, "POST", "reset")
    assert "new-eu" not in control(srv, "GET", "state")
    assert srv.state()["parent"] == DEFAULT and srv.faults() == [] and srv.requests() == []
    duplicate = requests.post(srv.url + "/__control__/subusers", json=[{"username": "marketing"}], timeout=5)
    assert duplicate.status_code == 400


def test_control_requests_are_not_logged_rate_limited_or_faulted():
    with sg.running_server(**options(rate_limit=1, faults=["error:*"])) as srv:
        for dummy in range(3):
            assert control(srv, "GET", "state")
        assert srv.requests() == []
        assert requests.get(srv.url + "/__control__/nope", timeout=5).status_code == 404
        response = requests.post(srv.url + "/__control__/state", json={}, timeout=5)
        assert response.status_code == 405 and response.headers["Allow"] == "GET, PUT"
        assert "X-RateLimit-Limit" not in response.headers


def test_control_config_reports_every_runtime_setting(srv):
    assert control(srv, "GET", "config") == {"region": "global", "rate_limit": 10000, "rate_window": 60.0, "latency_ms": 0.0,
                                             "max_page_size": None, "rate_reset": "epoch", "endpoint_rate_limits": {},
                                             "trust_forwarded_for": False, "api_key_answer": "result"}
    changed = control(srv, "PUT", "config", json={"rate_limit": 5, "rate_window": 2, "latency_ms": 1, "max_page_size": 9,
                                                  "rate_reset": "seconds", "endpoint_rate_limits": {TLS: 2},
                                                  "trust_forwarded_for": True, "api_key_answer": "object"})
    assert changed == {"region": "global", "rate_limit": 5, "rate_window": 2.0, "latency_ms": 1.0, "max_page_size": 9,
                       "rate_reset": "seconds", "endpoint_rate_limits": {TLS: 2}, "trust_forwarded_for": True,
                       "api_key_answer": "object"}
    # null leaves a setting as it is, except max_page_size
    assert control(srv, "PUT", "config", json={"rate_limit": None, "rate_reset": None, "endpoint_rate_limits": None,
                                               "trust_forwarded_for": None}) == changed
    assert control(srv, "GET", "config") == changed


@pytest.mark.parametrize("doc", [{"max_page_size": 0}, {"max_page_size": -3}, {"max_page_size": "5"},
                                 {"max_page_size": True}, {"max_page_size": 2.5}, {"rate_reset": "minutes"},
                                 {"rate_reset": 60}, {"rate_limit": 0}, {"region": "eu"}, {"colour": 1},
                                 {"endpoint_rate_limits": {TLS: 0}}, {"endpoint_rate_limits": {"v3/subusers": 5}},
                                 {"endpoint_rate_limits": {TLS + "?x=1": 5}}, {"endpoint_rate_limits": {TLS: True}},
                                 {"endpoint_rate_limits": [TLS]}, {"trust_forwarded_for": "yes"}, {"trust_forwarded_for": 1},
                                 {"max_page_size": 4, "rate_reset": "never"}, [{"max_page_size": 4}]])
def test_control_config_refuses_bad_settings_and_changes_nothing(srv, doc):
    before = control(srv, "GET", "config")
    response = requests.put(srv.url + "/__control__/config", json=doc, timeout=5)
    assert response.status_code == 400
    errors_of(response)
    assert control(srv, "GET", "config") == before


@pytest.mark.parametrize("option", [{"max_page_size": 0}, {"max_page_size": "10"}, {"rate_reset": "minutes"},
                                    {"rate_reset": None}])
def test_bad_start_options_are_refused(option):
    with pytest.raises(ValueError):
        sg.build_config(**option)


def test_stop_closes_keep_alive_connections_and_leaves_no_threads():
    with requests.Session() as session:
        with sg.running_server(**options(faults=["delay:1:PATCH,seconds=30"])) as srv:
            assert call(srv, "GET", TLS, session=session).status_code == 200
            outcome = []

            def patch_stuck_in_delay():
                try:
                    outcome.append(call(srv, "PATCH", TLS, json={}).status_code)
                except requests.RequestException as exc:
                    outcome.append(type(exc))

            stuck = threading.Thread(target=patch_stuck_in_delay)
            stuck.start()
            time.sleep(0.1)
            started = time.monotonic()
        assert time.monotonic() - started < 2
        stuck.join(5)
        assert outcome and outcome[0] != 200
        assert not [t.name for t in threading.enumerate() if t.name.startswith(f"sendgrid-{srv.port}-")]
        with pytest.raises(requests.ConnectionError):
            session.get(srv.url + TLS, timeout=2)


# ----------------------------------------------------------------------------- HTTPS

@pytest.fixture(name="tls_files", scope="module")
def fixture_tls_files(tmp_path_factory):
    """PEM files: a CA, a server certificate for 127.0.0.1 and localhost, its key, both in one, and a foreign CA."""
    directory = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    files = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key", "combined", "other_ca")}
    authority.cert_pem.write_to_path(files["ca"])
    for pem in issued.cert_chain_pems:
        pem.write_to_path(files["cert"], append=True)
    issued.private_key_pem.write_to_path(files["key"])
    issued.private_key_and_cert_chain_pem.write_to_path(files["combined"])
    trustme.CA().cert_pem.write_to_path(files["other_ca"])
    return {name: str(path) for name, path in files.items()}


def test_https_answers_a_client_that_trusts_the_ca(tls_files):
    with sg.running_server(**options(tls_cert=tls_files["cert"], tls_key=tls_files["key"])) as srv:
        assert srv.url == f"https://127.0.0.1:{srv.port}"
        assert call(srv, "GET", TLS, verify=tls_files["ca"]).json() == DEFAULT
        by_name = requests.get(f"https://localhost:{srv.port}{TLS}", headers={"Authorization": f"Bearer {KEY}"},
                               verify=tls_files["ca"], timeout=5)
        assert by_name.json() == DEFAULT
        srv.clear_requests()
        # verify per request: REQUESTS_CA_BUNDLE in the environment would win over session.verify
        with requests.Session() as session:
            ca_file = tls_files["ca"]
            assert call(srv, "PATCH", TLS, session=session, verify=ca_file, json={"require_tls": True}).status_code == 200
            assert call(srv, "GET", TLS, session=session, verify=ca_file).json()["require_tls"] is True
            connections = session.get(srv.url + "/__control__/connections", verify=ca_file, timeout=5).json()
            assert connections == {"opened": 1, "accepted": 1}
            srv.add_fault("truncated")
            with pytest.raises(requests.exceptions.ChunkedEncodingError):
                call(srv, "GET", TLS, session=session, verify=ca_file)
    assert not [t.name for t in threading.enumerate() if t.name.startswith(f"sendgrid-{srv.port}-")]


def test_https_fails_verification_for_a_client_that_does_not_trust_the_ca(tls_files, capfd):
    with sg.running_server(**options(tls_cert=tls_files["cert"], tls_key=tls_files["key"])) as srv:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            call(srv, "GET", TLS, verify=tls_files["other_ca"])
        # nor does the default trust store (or REQUESTS_CA_BUNDLE)
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            call(srv, "GET", TLS)
        # plain HTTP on the HTTPS port gets no answer
        with pytest.raises(requests.ConnectionError):
            requests.get(srv.url.replace("https://", "http://") + TLS, timeout=5)
        assert srv.requests() == []
        assert srv.connections() == {"opened": 0, "accepted": 3}
        # refused handshakes leave it serving
        assert call(srv, "GET", TLS, verify=tls_files["ca"]).status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_https_key_may_sit_in_the_certificate_file(tls_files):
    with sg.running_server(tls_cert=tls_files["combined"]) as srv:
        assert call(srv, "GET", TLS, key=sg.DEMO_KEY, verify=tls_files["ca"]).json() == DEFAULT


def test_https_options_are_checked_before_listening(tls_files, tmp_path):
    with pytest.raises(ValueError, match="certificate"):
        sg.start_server(tls_key=tls_files["key"])
    with pytest.raises(OSError):
        sg.start_server(tls_cert=str(tmp_path / "missing.pem"), tls_key=tls_files["key"])
    with pytest.raises(ValueError):
        # no key anywhere
        sg.start_server(tls_cert=tls_files["cert"])
    with pytest.raises(ValueError):
        sg.start_server(tls_cert=tls_files["cert"], tls_key=tls_files["other_ca"])


def test_https_refuses_an_encrypted_key_instead_of_prompting(tls_files, tmp_path):
    # cryptography comes with trustme
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    key = serialization.load_pem_private_key(Path(tls_files["key"]).read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(ValueError, match="encrypted"):
        sg.start_server(tls_cert=tls_files["cert"], tls_key=str(encrypted))


# ----------------------------------------------------------------------------- command line

def test_cli_prints_url_serves_and_exits_0_on_sigterm(tmp_path):
    ready = tmp_path / "ready"
    command = [sys.executable, str(TOOL), "--host", "127.0.0.1", "--port", "0", "--region", "eu",
               "--key", f"{KEY}=user.settings.enforced_tls.read", "--subuser", "eu-one:eu", "--ready-file", str(ready)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline().strip()
            assert line.startswith("SendGrid-compatible API server listening on http://127.0.0.1:")
            assert line.endswith(" (region eu)")
            url = line.split(" on ", 1)[1].split(" ", 1)[0]
            assert ready.read_text().strip() == url
            response = requests.get(url + TLS, headers={"Authorization": f"Bearer {KEY}", "on-behalf-of": "eu-one"}, timeout=5)
            assert response.json() == DEFAULT
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert out == "" and KEY not in err


def test_cli_exits_0_on_sigint_with_an_open_keep_alive_connection():
    with subprocess.Popen([sys.executable, str(TOOL), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            url = proc.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
            with requests.Session() as session:
                assert session.get(url + TLS, headers={"Authorization": f"Bearer {sg.DEMO_KEY}"}, timeout=5).status_code == 200
                proc.send_signal(signal.SIGINT)
                dummy, err = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert sg.DEMO_KEY not in err


def run_cli(*args):
    """Start the server command, return (process, URL from its first line)."""
    proc = subprocess.Popen([sys.executable, str(TOOL), "--port", "0", *args],  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0] if " on " in line else None


def stop_cli(proc):
    """SIGTERM, then (exit status, stderr)."""
    try:
        proc.send_signal(signal.SIGTERM)
        dummy, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def test_cli_serves_https_with_tls_cert_and_key(tmp_path, tls_files):
    ready = tmp_path / "ready"
    proc, url = run_cli("--tls-cert", tls_files["cert"], "--tls-key", tls_files["key"], "--ready-file", str(ready))
    try:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", url)
        assert ready.read_text().strip() == url
        headers = {"Authorization": f"Bearer {sg.DEMO_KEY}"}
        assert requests.get(url + TLS, headers=headers, verify=tls_files["ca"], timeout=5).json() == DEFAULT
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url + TLS, headers=headers, verify=tls_files["other_ca"], timeout=5)
    finally:
        status, err = stop_cli(proc)
    assert status == 0 and err == ""


def test_cli_rate_reset_max_page_size_and_truncated_fault():
    proc, url = run_cli("--rate-reset", "seconds", "--max-page-size", "1", "--fault", "truncated:1:GET")
    try:
        config = requests.get(url + "/__control__/config", timeout=5).json()
        assert config["rate_reset"] == "seconds" and config["max_page_size"] == 1
        headers = {"Authorization": f"Bearer {sg.DEMO_KEY}"}
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url + TLS, headers=headers, timeout=5)
        response = requests.get(url + "/v3/subusers", headers=headers, params={"limit": 3}, timeout=5)
        assert [s["username"] for s in response.json()] == ["marketing"]
        assert response.headers["X-RateLimit-Reset"] == "60"
    finally:
        status, err = stop_cli(proc)
    assert status == 0 and err == ""


@pytest.mark.parametrize("args, message", [(["--max-page-size", "0"], "max_page_size"),
                                           (["--tls-key", "server.key"], "certificate"),
                                           (["--tls-cert", "/nonexistent/server.pem"], "No such file"),
                                           (["--rate-reset", "minutes"], "invalid choice")])
def test_cli_refuses_bad_new_options(args, message):
    result = subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_cli_rejects_bad_options_without_echoing_keys():
    result = subprocess.run([sys.executable, str(TOOL), "--key", "SG.secret value=x"], capture_output=True, text=True,
                            timeout=10, check=False)
    assert result.returncode == 2 and "SG.secret" not in result.stdout + result.stderr
    result = subprocess.run([sys.executable, str(TOOL), "--subuser", "x:mars"], capture_output=True, text=True, timeout=10,
                            check=False)
    assert result.returncode == 2 and "mars" in result.stderr


# ----------------------------------------------------------------------------- tracking and mail settings

TRACKING = "/v3/tracking_settings"
MAIL = "/v3/mail_settings"
NEW_DEFAULTS = {
    "tracking_settings/click": {"enable_text": False, "enabled": True},
    "tracking_settings/google_analytics": {"enabled": False, "utm_source": "", "utm_medium": "", "utm_term": "",
                                           "utm_content": "", "utm_campaign": ""},
    "tracking_settings/open": {"enabled": True},
    "tracking_settings/subscription": {"enabled": False, "html_content": "", "plain_content": "", "landing": "",
                                       "replace": "", "url": ""},
    "mail_settings/address_whitelist": {"enabled": False, "list": []},
    "mail_settings/bounce_purge": {"enabled": False, "soft_bounces": None, "hard_bounces": None},
    "mail_settings/footer": {"enabled": False, "html_content": "", "plain_content": ""},
    "mail_settings/forward_bounce": {"enabled": False, "email": None},
    "mail_settings/forward_spam": {"enabled": False, "email": ""},
    "mail_settings/template": {"enabled": False, "html_content": ""},
}
ACCOUNTS = ("parent", "marketing", "billing", "eu-news", "account-id 777")
# (method, path, scope) of every new route
NEW_ROUTES = [("GET", TRACKING, "tracking_settings.read"), ("GET", MAIL, "mail_settings.read")] + [
    (method, f"/v3/{key}", f"{key.replace('/', '.')}.{action}")
    for key in NEW_DEFAULTS for method, action in (("GET", "read"), ("PATCH", "update"))]


def path_of(key):
    return f"/v3/{key}"


@pytest.mark.parametrize("key", NEW_DEFAULTS)
def test_new_settings_start_at_their_defaults_for_every_account(srv, key):
    for obo in (None, "marketing", "account-id 777"):
        response = call(srv, "GET", path_of(key), obo=obo)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert response.json() == NEW_DEFAULTS[key]
    assert srv.state(key) == {account: NEW_DEFAULTS[key] for account in ACCOUNTS}


@pytest.mark.parametrize("key, first, second", [
    ("tracking_settings/click", {"enabled": False}, {}),
    ("tracking_settings/open", {"enabled": False}, {"enabled": True}),
    ("tracking_settings/google_analytics", {"enabled": True, "utm_source": "sendgrid.com", "utm_medium": "email"},
     {"utm_campaign": "website", "utm_term": "", "utm_content": "ads"}),
    ("tracking_settings/subscription", {"enabled": True, "html_content": "<p>bye <% %></p>", "plain_content": "bye <% %>"},
     {"landing": "<p>gone</p>", "replace": "[unsub]", "url": "https://example.com/unsubscribe"}),
    ("mail_settings/address_whitelist", {"enabled": True, "list": ["email1@example.com", "example.com"]},
     {"list": ["sub.example.org"]}),
    ("mail_settings/bounce_purge", {"enabled": True, "soft_bounces": 5}, {"hard_bounces": 30, "soft_bounces": None}),
    ("mail_settings/footer", {"enabled": True, "html_content": "<p>footer</p>"}, {"plain_content": "footer"}),
    ("mail_settings/forward_bounce", {"enabled": True, "email": "bounces@example.com"}, {"email": None}),
    ("mail_settings/forward_spam", {"email": "a@example.com, b@example.com"}, {"enabled": True}),
    ("mail_settings/template", {"html_content": "<html><% body %></html>"}, {"enabled": True}),
])
def test_new_setting_patch_is_partial_and_answers_the_whole_object(srv, key, first, second):
    expected = dict(NEW_DEFAULTS[key], **first)
    response = call(srv, "PATCH", path_of(key), obo="marketing", json=first)
    assert response.status_code == 200 and response.json() == expected
    expected.update(second)
    assert call(srv, "PATCH", path_of(key), obo="marketing", json=second).json() == expected
    assert call(srv, "GET", path_of(key), obo="marketing").json() == expected
    state = srv.state(key)
    assert state["marketing"] == expected
    assert all(state[account] == NEW_DEFAULTS[key] for account in ACCOUNTS if account != "marketing")
    # Enforced TLS is a separate object
    assert srv.state()["marketing"] == DEFAULT


@pytest.fixture(name="scoped_srv", scope="module")
def fixture_scoped_srv():
    """A server with, per new route, a key holding only its scope and one holding every other scope."""
    keys = {}
    for dummy, dummy, scope in NEW_ROUTES:
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.mark.parametrize("method, path, scope", NEW_ROUTES)
def test_new_routes_need_their_own_scope(scoped_srv, method, path, scope):
    assert scope in sg.ALL_SCOPES
    body = {} if method == "PATCH" else None
    assert call(scoped_srv, method, path, key=f"SG.only.{scope}", json=body).status_code == 200
    refused = call(scoped_srv, method, path, key=f"SG.but.{scope}", json=body)
    assert refused.status_code == 403
    assert refused.json() == {"errors": [{"field": None, "message": "access forbidden"}]}
    assert call(scoped_srv, method, path, key=None, json=body).status_code == 401


@pytest.mark.parametrize("method, path, allow", [("POST", f"{MAIL}/footer", "GET, PATCH"), ("PUT", f"{TRACKING}/open", "GET, PATCH"),
                                                 ("PATCH", MAIL, "GET"), ("DELETE", TRACKING, "GET")])
def test_new_paths_answer_405_with_allow(srv, method, path, allow):
    response = call(srv, method, path, json={})
    assert response.status_code == 405 and response.headers["Allow"] == allow
    errors_of(response)


@pytest.mark.parametrize("key, body, field", [
    ("tracking_settings/click", {"enable_text": True}, "enable_text"),
    ("tracking_settings/click", {"enabled": True, "enable_text": False}, "enable_text"),
    ("tracking_settings/click", {"enabled": "true"}, "enabled"),
    ("tracking_settings/open", {"enabled": 1}, "enabled"),
    ("tracking_settings/open", {"enabled": None}, "enabled"),
    ("tracking_settings/open", {"enabled": True, "enable_text": True}, "enable_text"),
    ("tracking_settings/google_analytics", {"utm_source": 5}, "utm_source"),
    ("tracking_settings/google_analytics", {"utm_campaign": None}, "utm_campaign"),
    ("tracking_settings/google_analytics", {"utm_id": "x"}, "utm_id"),
    ("tracking_settings/subscription", {"url": ["https://example.com"]}, "url"),
    ("tracking_settings/subscription", {"landing": False}, "landing"),
    ("mail_settings/address_whitelist", {"list": "example.com"}, "list"),
    ("mail_settings/address_whitelist", {"list": ["example.com", 5]}, "list"),
    ("mail_settings/address_whitelist", {"list": ["not an address"]}, "list"),
    ("mail_settings/address_whitelist", {"list": ["user@"]}, "list"),
    ("mail_settings/address_whitelist", {"list": None}, "list"),
    ("mail_settings/bounce_purge", {"soft_bounces": True}, "soft_bounces"),
    ("mail_settings/bounce_purge", {"hard_bounces": 1.5}, "hard_bounces"),
    ("mail_settings/bounce_purge", {"hard_bounces": "5"}, "hard_bounces"),
    ("mail_settings/bounce_purge", {"enabled": 0}, "enabled"),
    ("mail_settings/footer", {"html_content": None}, "html_content"),
    ("mail_settings/footer", {"text_content": "x"}, "text_content"),
    ("mail_settings/forward_bounce", {"email": "bounces"}, "email"),
    ("mail_settings/forward_bounce", {"email": ["a@example.com"]}, "email"),
    ("mail_settings/forward_bounce", {"email": "a@example.com, b@example.com"}, "email"),
    ("mail_settings/forward_spam", {"email": ["a@example.com", "b@example.com"]}, "email"),
    ("mail_settings/forward_spam", {"email": "a@example.com,,b@example.com"}, "email"),
    ("mail_settings/forward_spam", {"email": "a@example.com, nobody"}, "email"),
    ("mail_settings/forward_spam", {"email": None}, "email"),
    ("mail_settings/template", {"html_content": 1}, "html_content"),
])
def test_new_setting_patch_rejects_bad_fields_naming_them_and_stores_nothing(srv, key, body, field):
    response = call(srv, "PATCH", path_of(key), json=body)
    assert response.status_code == 400
    assert field in [e["field"] for e in errors_of(response)]
    assert srv.state(key)["parent"] == NEW_DEFAULTS[key]


@pytest.mark.parametrize("body", ['[{"enabled": true}]', "true", "null", '{"enabled": true', "", '{"enabled": NaN}'])
def test_new_setting_patch_needs_a_json_object(srv, body):
    response = call(srv, "PATCH", f"{MAIL}/footer", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert errors_of(response)[0]["field"] is None


def test_address_whitelist_list_is_replaced_whole_or_kept(srv):
    path = f"{MAIL}/address_whitelist"
    call(srv, "PATCH", path, json={"list": ["a@example.com", "example.org"]})
    assert call(srv, "PATCH", path, json={"enabled": True}).json() == {"enabled": True, "list": ["a@example.com", "example.org"]}
    assert call(srv, "PATCH", path, json={"list": ["example.net"]}).json() == {"enabled": True, "list": ["example.net"]}
    assert call(srv, "PATCH", path, json={"list": []}).json() == {"enabled": True, "list": []}


@pytest.mark.parametrize("key, body", [
    ("mail_settings/forward_spam", {"email": "a@example.com, b@example.com"}),
    ("mail_settings/forward_spam", {"email": "a@example.com,b@example.com"}),
    ("mail_settings/forward_spam", {"email": "abuse@example.com"}),
    ("mail_settings/forward_spam", {"email": ""}),
    ("mail_settings/forward_bounce", {"email": "bounces@example.com"}),
    ("mail_settings/forward_bounce", {"email": ""}),
    ("mail_settings/forward_bounce", {"email": None}),
    ("mail_settings/bounce_purge", {"soft_bounces": 0, "hard_bounces": None}),
])
def test_addresses_and_counts_are_stored_as_given(srv, key, body):
    response = call(srv, "PATCH", path_of(key), json=body)
    assert response.status_code == 200 and response.json() == dict(NEW_DEFAULTS[key], **body)


def names_enabled(response):
    assert response.status_code == 200
    return {item["name"]: item["enabled"] for item in response.json()["result"]}


def test_tracking_summary_lists_every_setting_and_reflects_patches(srv):
    response = call(srv, "GET", TRACKING)
    result = response.json()["result"]
    assert [item["name"] for item in result] == ["click", "google_analytics", "open", "subscription"]
    for item in result:
        assert set(item) == {"name", "title", "description", "enabled"}
        assert isinstance(item["title"], str) and item["title"] and isinstance(item["description"], str)
    assert names_enabled(response) == {"click": True, "google_analytics": False, "open": True, "subscription": False}
    call(srv, "PATCH", f"{TRACKING}/open", obo="marketing", json={"enabled": False})
    call(srv, "PATCH", f"{TRACKING}/subscription", obo="marketing", json={"enabled": True})
    assert names_enabled(call(srv, "GET", TRACKING, obo="marketing")) == {
        "click": True, "google_analytics": False, "open": False, "subscription": True}
    assert names_enabled(call(srv, "GET", TRACKING)) == {
        "click": True, "google_analytics": False, "open": True, "subscription": False}


MAIL_NAMES = ["address_whitelist", "bounce_purge", "footer", "forward_bounce", "forward_spam", "template"]


def test_mail_summary_lists_every_setting_and_reflects_patches(srv):
    result = call(srv, "GET", MAIL).json()["result"]
    assert [item["name"] for item in result] == MAIL_NAMES
    for item in result:
        assert set(item) == {"title", "enabled", "name", "description"} and item["enabled"] is False
    call(srv, "PATCH", f"{MAIL}/footer", obo="account-id 777", json={"enabled": True})
    srv.set_state("account-id 777", {"enabled": True}, setting="mail_settings/template")
    enabled = names_enabled(call(srv, "GET", MAIL, obo="account-id 777"))
    assert [name for name, value in enabled.items() if value] == ["footer", "template"]
    assert not any(names_enabled(call(srv, "GET", MAIL)).values())


@pytest.mark.parametrize("params, names", [
    ({}, MAIL_NAMES), ({"limit": 2}, MAIL_NAMES[:2]), ({"limit": 2, "offset": 2}, MAIL_NAMES[2:4]),
    ({"offset": 5}, MAIL_NAMES[5:]), ({"offset": 6}, []), ({"offset": 60, "limit": 1}, []), ({"limit": 100}, MAIL_NAMES),
    ({"offset": 0}, MAIL_NAMES)])
def test_mail_summary_pages_with_limit_and_offset(srv, params, names):
    assert [item["name"] for item in call(srv, "GET", MAIL, params=params).json()["result"]] == names


@pytest.mark.parametrize("params, field", [({"limit": "x"}, "limit"), ({"limit": "1.5"}, "limit"), ({"limit": 0}, "limit"),
                                           ({"limit": -1}, "limit"), ({"limit": ""}, "limit"), ({"offset": -1}, "offset"),
                                           ({"offset": "two"}, "offset"), ({"offset": "1e3"}, "offset")])
def test_mail_summary_bad_limit_or_offset_is_400(srv, params, field):
    response = call(srv, "GET", MAIL, params=params)
    assert response.status_code == 400
    assert [e["field"] for e in errors_of(response)] == [field]


def test_new_routes_resolve_on_behalf_of_and_pin_regions(srv):
    path = f"{MAIL}/forward_bounce"
    assert call(srv, "PATCH", path, obo="billing", json={"enabled": True}).json()["enabled"] is True
    assert call(srv, "GET", path, obo="account-id 777").json() == NEW_DEFAULTS["mail_settings/forward_bounce"]
    for obo, status in (("nobody", 404), ("account-id 778", 404), ("Billing", 404)):
        assert call(srv, "GET", path, obo=obo).status_code == status
    refused = call(srv, "PATCH", f"{TRACKING}/click", obo="eu-news", json={"enabled": False})
    assert refused.status_code == 403 and "https://api.eu.sendgrid.com" in errors_of(refused)[0]["message"]
    assert call(srv, "GET", TRACKING, obo="eu-news").status_code == 403
    assert call(srv, "GET", MAIL, obo="eu-news").status_code == 403
    state = srv.state("mail_settings/forward_bounce")
    assert [account for account in ACCOUNTS if state[account]["enabled"]] == ["billing"]
    assert srv.state("tracking_settings/click")["eu-news"] == NEW_DEFAULTS["tracking_settings/click"]
    log = srv.requests()
    assert (log[0]["account"], log[0]["status"]) == ("billing", 200)
    assert (log[2]["account"], log[2]["status"]) == (None, 404)


def test_the_eu_host_serves_its_subusers_settings(tmp_path):
    accounts = tmp_path / "accounts.json"
    subusers = [{"username": "g1"}, {"username": "e1", "region": "eu"}]
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)}, "subusers": subusers}))
    with sg.running_server(accounts_file=str(accounts), region="eu") as eu:
        assert call(eu, "PATCH", f"{TRACKING}/open", obo="e1", json={"enabled": False}).json() == {"enabled": False}
        assert call(eu, "GET", f"{TRACKING}/open", obo="g1").status_code == 403
        assert eu.state("tracking_settings/open")["e1"] == {"enabled": False}


def test_faults_fire_on_new_routes_and_are_logged(srv):
    srv.add_fault("error", status=503, path=MAIL)
    assert call(srv, "GET", TLS).status_code == 200  # another path does not use the fault up
    assert call(srv, "GET", f"{MAIL}/footer").status_code == 503
    srv.add_fault("rate_limit", method="GET", path=TRACKING, retry_after=2)
    limited = call(srv, "GET", TRACKING)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    srv.add_fault("html", path=f"{TRACKING}/click")
    assert call(srv, "GET", f"{TRACKING}/click").headers["Content-Type"] == "text/html"
    srv.add_fault("drop", method="PATCH")
    with pytest.raises(requests.ConnectionError):
        call(srv, "PATCH", f"{MAIL}/template", json={"enabled": True})
    assert srv.state("mail_settings/template")["parent"] == NEW_DEFAULTS["mail_settings/template"]
    assert [(e["path"], e["status"], e["fault"]) for e in srv.requests()] == [
        (TLS, 200, None), (f"{MAIL}/footer", 503, "error"), (TRACKING, 429, "rate_limit"),
        (f"{TRACKING}/click", 502, "html"), (f"{MAIL}/template", None, "drop")]


def test_fault_not_applied_on_a_new_route_acknowledges_without_storing(srv):
    srv.add_fault("not_applied", path=f"{MAIL}/footer")
    assert call(srv, "PATCH", f"{TRACKING}/open", json={"enabled": False}).json() == {"enabled": False}
    # a rejected PATCH does not use the fault up
    assert call(srv, "PATCH", f"{MAIL}/footer", json={"enabled": "yes"}).status_code == 400
    response = call(srv, "PATCH", f"{MAIL}/footer", json={"enabled": True, "html_content": "<p>x</p>"})
    assert response.status_code == 200 and response.json() == NEW_DEFAULTS["mail_settings/footer"]
    assert srv.state("mail_settings/footer")["parent"] == NEW_DEFAULTS["mail_settings/footer"]
    assert [e["fault"] for e in srv.requests()] == [None, None, "not_applied"]
    assert call(srv, "PATCH", f"{MAIL}/footer", json={"enabled": True}).json()["enabled"] is True


def test_fault_truncated_on_a_new_route_stores_the_patch_and_cuts_the_answer(srv):
    stored = dict(NEW_DEFAULTS["tracking_settings/google_analytics"], enabled=True, utm_source="sg")
    srv.add_fault("truncated", method="PATCH", bytes=7)
    status, headers, received = raw_exchange(srv, "PATCH", f"{TRACKING}/google_analytics", {"enabled": True, "utm_source": "sg"})
    assert status == "HTTP/1.1 200 OK" and headers["content-length"] == str(len(json.dumps(stored)))
    assert received == json.dumps(stored).encode()[:7]
    assert srv.state("tracking_settings/google_analytics")["parent"] == stored
    srv.add_fault("truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        call(srv, "GET", MAIL)
    assert [(e["fault"], e["status"]) for e in srv.requests()] == [("truncated", 200), ("truncated", 200)]


# ----------------------------------------------------------------------------- rate limit per endpoint

def test_each_endpoint_has_its_own_rate_budget_per_key():
    with sg.running_server(**options(rate_limit=2, rate_window=30)) as srv:
        assert [call(srv, "GET", TLS).status_code for dummy in range(2)] == [200, 200]
        # GET and PATCH of one path share its bucket
        assert call(srv, "PATCH", TLS, json={}).status_code == 429
        footer = call(srv, "GET", f"{MAIL}/footer")
        assert footer.status_code == 200
        assert (footer.headers["X-RateLimit-Limit"], footer.headers["X-RateLimit-Remaining"]) == ("2", "1")
        # the query is not part of the bucket
        assert call(srv, "GET", MAIL, params={"limit": 1}).headers["X-RateLimit-Remaining"] == "1"
        assert call(srv, "GET", MAIL, params={"offset": 1}).headers["X-RateLimit-Remaining"] == "0"
        assert call(srv, "GET", MAIL).status_code == 429
        assert call(srv, "GET", "/v3/subusers").status_code == 200
        assert call(srv, "GET", TLS, key=READ_ONLY).status_code == 200
        assert [e["status"] for e in srv.requests()].count(429) == 2


def test_endpoint_rate_limits_override_the_limit_for_one_path(srv):
    srv.set_config(endpoint_rate_limits={f"{MAIL}/footer": 1})
    first, second = call(srv, "GET", f"{MAIL}/footer"), call(srv, "PATCH", f"{MAIL}/footer", json={"enabled": True})
    assert (first.status_code, first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (200, "1", "0")
    assert second.status_code == 429 and second.headers["X-RateLimit-Limit"] == "1"
    other = call(srv, "GET", f"{MAIL}/template")
    assert (other.status_code, other.headers["X-RateLimit-Limit"]) == (200, "10000")
    assert control(srv, "PUT", "config", json={"endpoint_rate_limits": {TLS: 3}})["endpoint_rate_limits"] == {TLS: 3}
    # the windows restart and the footer override is gone
    assert call(srv, "GET", f"{MAIL}/footer").headers["X-RateLimit-Limit"] == "10000"
    assert call(srv, "GET", TLS).headers["X-RateLimit-Limit"] == "3"
    srv.reset()
    assert control(srv, "GET", "config")["endpoint_rate_limits"] == {}


def test_endpoint_rate_limits_as_a_start_option():
    with sg.running_server(**options(endpoint_rate_limits={TRACKING: 1}, rate_limit=50)) as srv:
        assert [call(srv, "GET", TRACKING).status_code for dummy in range(2)] == [200, 429]
        assert call(srv, "GET", f"{TRACKING}/open").headers["X-RateLimit-Limit"] == "50"
    with pytest.raises(ValueError, match="endpoint_rate_limits"):
        sg.build_config(endpoint_rate_limits={TRACKING: 0})


# ----------------------------------------------------------------------------- state of the new settings

def test_state_and_set_state_reach_any_setting(srv):
    assert srv.state() == {account: DEFAULT for account in ACCOUNTS}
    assert srv.state(None) == srv.state("user/settings/enforced_tls")
    assert srv.set_state("marketing", {"enabled": False}, setting="tracking_settings/open") == {"enabled": False}
    assert call(srv, "GET", f"{TRACKING}/open", obo="marketing").json() == {"enabled": False}
    # unvalidated, so any drift can be made; replace drops the other fields
    srv.set_state("", {"enable_text": "odd", "extra": 1}, setting="tracking_settings/click")
    assert call(srv, "GET", f"{TRACKING}/click").json() == {"enable_text": "odd", "enabled": True, "extra": 1}
    srv.set_state("parent", {"enabled": False}, replace=True, setting="tracking_settings/click")
    assert call(srv, "GET", f"{TRACKING}/click").json() == {"enabled": False}
    assert srv.state() == {account: DEFAULT for account in ACCOUNTS}
    with pytest.raises(ValueError, match="unknown setting"):
        srv.state("mail_settings/spam_check")
    with pytest.raises(ValueError, match="unknown setting"):
        srv.set_state("parent", {}, setting="footer")
    with pytest.raises(KeyError):
        srv.set_state("ghost", {}, setting="mail_settings/footer")
    srv.reset()
    assert srv.state("tracking_settings/click")["parent"] == NEW_DEFAULTS["tracking_settings/click"]


def test_control_state_takes_a_setting(srv):
    assert control(srv, "GET", "state") == {account: DEFAULT for account in ACCOUNTS}
    footer = control(srv, "GET", "state", params={"setting": "mail_settings/footer"})
    assert footer == {account: NEW_DEFAULTS["mail_settings/footer"] for account in ACCOUNTS}
    changed = control(srv, "PUT", "state", json={"account": "billing", "setting": "mail_settings/footer",
                                                 "settings": {"enabled": True}})
    assert changed == dict(NEW_DEFAULTS["mail_settings/footer"], enabled=True)
    assert call(srv, "GET", f"{MAIL}/footer", obo="billing").json() == changed
    assert control(srv, "GET", "state", params={"setting": "mail_settings/footer"})["billing"] == changed
    for bad in (requests.get(srv.url + "/__control__/state", params={"setting": "nope"}, timeout=5),
                requests.put(srv.url + "/__control__/state", json={"account": "billing", "setting": "nope", "settings": {}},
                             timeout=5)):
        assert bad.status_code == 400 and "unknown setting" in errors_of(bad)[0]["message"]


def test_accounts_file_state_may_set_any_setting(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"subusers": [{"username": "m"}], "state": {
        "m": {"require_tls": True, "mail_settings/footer": {"enabled": True, "plain_content": "bye"}},
        "parent": {"tracking_settings/open": {"enabled": False}}}}))
    with sg.running_server(accounts_file=str(accounts)) as srv:
        assert srv.state()["m"] == dict(DEFAULT, require_tls=True) and srv.state()["parent"] == DEFAULT
        assert srv.state("mail_settings/footer")["m"] == {"enabled": True, "html_content": "", "plain_content": "bye"}
        assert call(srv, "GET", f"{TRACKING}/open", key=sg.DEMO_KEY).json() == {"enabled": False}
        assert names_enabled(call(srv, "GET", TRACKING, key=sg.DEMO_KEY))["open"] is False
        srv.reset()
        assert srv.state("tracking_settings/open")["parent"] == {"enabled": False}
    accounts.write_text(json.dumps({"state": {"parent": {"mail_settings/spam_check": {"enabled": True}}}}))
    with pytest.raises(ValueError, match="spam_check"):
        sg.build_config(accounts_file=str(accounts))
    with pytest.raises(ValueError):
        sg.build_config(state={"parent": {"mail_settings/footer": True}})


def test_subusers_added_at_runtime_get_every_default_setting(srv):
    srv.add_subusers(["late"])
    for key, default in NEW_DEFAULTS.items():
        assert call(srv, "GET", path_of(key), obo="late").json() == default


def test_every_new_scope_is_in_all_scopes_and_the_demo_key_reaches_the_new_routes():
    assert set(sg.ALL_SCOPES) >= {scope for dummy, dummy, scope in NEW_ROUTES}
    # the three first ones, one per new route, the four of IP Access Management and api_keys.read
    assert len(set(sg.ALL_SCOPES)) == len(sg.ALL_SCOPES) == 3 + len(NEW_ROUTES) + 4 + 1
    assert sg.ALL_SCOPES[:3] == (sg.SCOPE_TLS_READ, sg.SCOPE_TLS_UPDATE, sg.SCOPE_SUBUSERS_READ)
    with sg.running_server() as srv:
        assert call(srv, "PATCH", f"{MAIL}/forward_spam", key=sg.DEMO_KEY, json={"enabled": True}).status_code == 200
        assert call(srv, "GET", TRACKING, key=sg.DEMO_KEY, obo="marketing").status_code == 200


def test_route_table_has_one_entry_per_family():
    table = sys.modules["sendgrid_api"].ROUTE_TABLE
    assert [family.name for family in table] == ["enforced_tls", "subusers", "tracking_settings", "mail_settings", "ip_access",
                                                 "api_keys", "scopes"]
    assert {route.path for family in table for route in family.routes} == set(sg.ROUTES)
    assert sg.ROUTES[TLS] == {"GET": sg.SCOPE_TLS_READ, "PATCH": sg.SCOPE_TLS_UPDATE}


# ----------------------------------------------------------------------------- command line, new options

def test_cli_help_lists_the_options():
    result = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    for option in ("--endpoint-rate-limit", "--rate-limit", "--accounts-file", "--ready-file", "--fault", "--tls-cert",
                   "--api-key-answer"):
        assert option in result.stdout


def test_cli_help_names_every_fault_kind_the_server_accepts():
    result = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    # the option's own help, after the usage line, words joined again across argparse's line breaks
    fault_help = " ".join(result.stdout.split("\n  --fault ", 1)[1].split("\n  --ready-file", 1)[0].split())
    assert len(sg.FAULT_KINDS) == 8
    for kind in sg.FAULT_KINDS:
        assert sg.make_fault(kind)["kind"] == kind
        assert re.search(rf"\b{kind}\b", fault_help), kind
    for kind, params in sg.FAULT_PARAMS.items():
        for param in params:
            assert param in fault_help, (kind, param)
    with pytest.raises(ValueError, match="unknown fault kind"):
        sg.make_fault("timeout")


def test_cli_starts_from_another_directory_with_a_ready_file_and_endpoint_rate_limits(tmp_path):
    ready = tmp_path / "server.url"
    command = [sys.executable, str(TOOL), "--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready),
               "--key", KEY, "--subuser", "marketing", "--endpoint-rate-limit", f"{MAIL}/footer=1",
               "--endpoint-rate-limit", f"{TRACKING}=2"]
    # like scripts/lib.sh: in the background, output to a file, wait for the ready file
    with open(tmp_path / "server.log", "wb") as log, \
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path) as proc:
        try:
            deadline = time.monotonic() + 10
            while not (ready.exists() and ready.read_text().strip()):
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.05)
            url = ready.read_text().strip()
            headers = {"Authorization": f"Bearer {KEY}", "on-behalf-of": "marketing"}
            assert requests.get(url + f"{MAIL}/footer", headers=headers, timeout=5).status_code == 200
            assert requests.get(url + f"{MAIL}/footer", headers=headers, timeout=5).status_code == 429
            response = requests.patch(url + f"{TRACKING}/click", headers=headers, json={"enabled": False}, timeout=5)
            assert response.json() == {"enable_text": False, "enabled": False}
            assert response.headers["X-RateLimit-Limit"] == "10000"
            assert requests.get(url + "/__control__/config", timeout=5).json()["endpoint_rate_limits"] == {
                f"{MAIL}/footer": 1, TRACKING: 2}
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0


@pytest.mark.parametrize("value", ["/v3/mail_settings/footer", "/v3/mail_settings/footer=0", "=5", "/x=many"])
def test_cli_refuses_a_bad_endpoint_rate_limit(value):
    result = subprocess.run([sys.executable, str(TOOL), "--endpoint-rate-limit", value], capture_output=True, text=True,
                            timeout=10, check=False)
    assert result.returncode == 2 and "endpoint" in result.stderr and result.stdout == ""


# ----------------------------------------------------------------------------- IP Access Management

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
    assert set(IP_SCOPES) <= set(sg.ALL_SCOPES) and sg.ALL_SCOPES[-5:-1] == IP_SCOPES
    assert sg.ROUTES[WHITELIST] == {"GET": IP_SCOPES[0], "POST": IP_SCOPES[1], "DELETE": IP_SCOPES[2]}
    assert sg.ROUTES[WHITELIST + "/{rule_id}"] == {"GET": IP_SCOPES[0], "DELETE": IP_SCOPES[2]}
    assert sg.ROUTES[ACTIVITY] == {"GET": IP_SCOPES[3]}
    match_path = sys.modules["sendgrid_api"].match_path
    assert match_path(WHITELIST + "/12") == (WHITELIST + "/{rule_id}", {"rule_id": "12"})
    assert match_path(WHITELIST) == (WHITELIST, {})
    assert match_path(WHITELIST + "/{rule_id}") == (WHITELIST + "/{rule_id}", {"rule_id": "{rule_id}"})
    assert match_path(WHITELIST + "/12/x") == (None, {})


# ----------------------------------------------------------------------------- API keys (read only)

API_KEYS = "/v3/api_keys"
KEYS_SETTING = "api_keys"
CI_KEY = {"name": "ci", "scopes": ["mail.send", "api_keys.create"]}


def test_api_keys_of_the_parent_are_its_start_keys_by_name_and_id_never_their_secret(srv):
    listed = call(srv, "GET", API_KEYS)
    assert listed.status_code == 200
    assert listed.json() == {"result": [{"name": f"start key {n}", "api_key_id": f"start-key-{n}"} for n in (1, 2, 3, 4)]}
    one = call(srv, "GET", API_KEYS + "/start-key-2").json()
    assert one == {"result": [{"name": "start key 2", "api_key_id": "start-key-2", "scopes": [sg.SCOPE_TLS_READ]}]}
    assert call(srv, "GET", API_KEYS + "/start-key-1").json()["result"][0]["scopes"] == sorted(sg.ALL_SCOPES)
    for response in (listed, call(srv, "GET", API_KEYS + "/start-key-4")):
        assert not any(secret in response.text for secret in KEYS)


def test_api_keys_planted_on_an_account_are_its_own_and_limit_caps_the_list(srv):
    planted = srv.set_state("marketing", [CI_KEY, {"name": "web", "scopes": ["mail.send"], "api_key_id": "web-1"}],
                            setting=KEYS_SETTING)
    ci_id = planted[0]["api_key_id"]
    assert planted == [dict(CI_KEY, api_key_id=ci_id), {"name": "web", "scopes": ["mail.send"], "api_key_id": "web-1"}]
    assert call(srv, "GET", API_KEYS, obo="marketing").json() == {
        "result": [{"name": "ci", "api_key_id": ci_id}, {"name": "web", "api_key_id": "web-1"}]}
    assert call(srv, "GET", API_KEYS, obo="marketing", params={"limit": 1}).json() == {
        "result": [{"name": "ci", "api_key_id": ci_id}]}
    assert call(srv, "GET", API_KEYS, obo="billing").json() == {"result": []}
    assert call(srv, "GET", f"{API_KEYS}/{ci_id}", obo="marketing").json() == {"result": [dict(CI_KEY, api_key_id=ci_id)]}
    # another account's key, or a parent's key asked on behalf of a subuser, is not there
    for obo, key_id in (("billing", ci_id), ("marketing", "start-key-1"), (None, "web-1")):
        missing = call(srv, "GET", f"{API_KEYS}/{key_id}", obo=obo)
        assert missing.status_code == 404 and errors_of(missing)[0]["field"] == "api_key_id"
    srv.reset()
    assert srv.state(KEYS_SETTING)["marketing"] == []


def test_api_key_answer_is_wrapped_or_bare_as_configured(srv):
    assert srv.backend.get_config()["api_key_answer"] == "result"
    try:
        assert srv.set_config(api_key_answer="object")["api_key_answer"] == "object"
        assert call(srv, "GET", API_KEYS + "/start-key-3").json() == {
            "name": "start key 3", "api_key_id": "start-key-3", "scopes": [sg.SCOPE_TLS_UPDATE]}
        with pytest.raises(ValueError, match="api_key_answer must be 'result' or 'object'"):
            srv.set_config(api_key_answer="list")
    finally:
        srv.set_config(api_key_answer="result")
    with sg.running_server(keys={KEY: [sg.SCOPE_API_KEYS_READ]}, api_key_answer="object") as other:
        assert call(other, "GET", API_KEYS + "/start-key-1").json() == {
            "name": "start key 1", "api_key_id": "start-key-1", "scopes": [sg.SCOPE_API_KEYS_READ]}


@pytest.mark.parametrize("limit", ["0", "-1", "x", ""])
def test_api_keys_bad_limit_is_400(srv, limit):
    response = call(srv, "GET", API_KEYS, params={"limit": limit})
    assert response.status_code == 400 and errors_of(response)[0]["field"] == "limit"


def test_api_keys_need_api_keys_read_and_answer_405_to_writes(srv):
    for path in (API_KEYS, API_KEYS + "/start-key-1"):
        refused = call(srv, "GET", path, key=READ_ONLY)
        assert refused.status_code == 403 and errors_of(refused)[0]["message"] == "access forbidden"
    assert call(srv, "POST", API_KEYS, json={"name": "x"}).headers["Allow"] == "GET"
    assert sg.ROUTES[API_KEYS] == sg.ROUTES[API_KEYS + "/{api_key_id}"] == {"GET": sg.SCOPE_API_KEYS_READ}
    assert sg.ALL_SCOPES[-1] == "api_keys.read"


@pytest.mark.parametrize("keys", [
    [{"name": "x", "scopes": [], "api_key": "SG.secret"}], [{"scopes": []}], [{"name": "x", "scopes": "mail.send"}],
    [{"name": "x", "api_key_id": "start-key-1"}], [{"name": "x", "api_key_id": "a b"}], {"name": "x"},
])
def test_api_keys_planting_refuses_a_secret_another_shape_or_a_taken_id(srv, keys):
    with pytest.raises(ValueError):
        srv.set_state("marketing", keys, setting=KEYS_SETTING)
    assert srv.state(KEYS_SETTING)["marketing"] == []


def test_api_keys_are_planted_by_the_accounts_file_and_the_control_endpoint(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: [sg.SCOPE_API_KEYS_READ]}, "subusers": [{"username": "m"}],
                                    "state": {"m": {KEYS_SETTING: [dict(CI_KEY, api_key_id="ci-1")]}}}))
    with sg.running_server(accounts_file=str(accounts)) as srv:
        assert call(srv, "GET", API_KEYS, obo="m").json() == {"result": [{"name": "ci", "api_key_id": "ci-1"}]}
        put = requests.put(srv.url + "/__control__/state", timeout=5, json={
            "account": "m", "setting": KEYS_SETTING, "replace": True, "settings": [{"name": "new", "scopes": ["x.read"]}]})
        assert put.status_code == 200 and [key["name"] for key in put.json()] == ["new"]
        assert requests.get(srv.url + "/__control__/state?setting=api_keys", timeout=5).json()["m"] == put.json()
        assert requests.put(srv.url + "/__control__/config", json={"api_key_answer": "object"}, timeout=5).status_code == 200
        assert call(srv, "GET", f"{API_KEYS}/{put.json()[0]['api_key_id']}", obo="m").json() == put.json()[0]


# ----------------------------------------------------------------------------- scopes of the calling key

SCOPES = "/v3/scopes"


def test_scopes_answer_every_scope_of_an_all_scopes_key_sorted(srv):
    response = call(srv, "GET", SCOPES)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == {"scopes": sorted(sg.ALL_SCOPES)}


@pytest.mark.parametrize("key, scopes", [(READ_ONLY, [sg.SCOPE_TLS_READ]), (UPDATE_ONLY, [sg.SCOPE_TLS_UPDATE]),
                                         (NO_SCOPES, [])])
def test_scopes_answer_a_limited_key_its_own_scopes_and_need_no_scope(srv, key, scopes):
    response = call(srv, "GET", SCOPES, key=key)
    assert response.status_code == 200
    assert response.json() == {"scopes": scopes}


def test_scopes_answer_scopes_given_at_start_even_those_no_route_needs():
    with sg.running_server(keys={KEY: ["mail.send", "alerts.read", "mail.send", sg.SCOPE_API_KEYS_READ]}) as other:
        assert call(other, "GET", SCOPES).json() == {"scopes": ["alerts.read", "api_keys.read", "mail.send"]}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer SG.unknown"}, {"Authorization": "Bearer "}])
def test_scopes_without_a_known_key_is_401(srv, headers):
    response = call(srv, "GET", SCOPES, key=None, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"errors": [{"field": None, "message": "authorization required"}]}


def test_scopes_on_behalf_of_answer_the_calling_keys_scopes_and_refuse_an_unknown_account(srv):
    for obo in ("marketing", "account-id 777"):
        response = call(srv, "GET", SCOPES, key=READ_ONLY, obo=obo)
        assert response.status_code == 200 and response.json() == {"scopes": [sg.SCOPE_TLS_READ]}
    for obo, status in (("nobody", 404), ("account-id 778", 404), ("eu-news", 403)):
        assert call(srv, "GET", SCOPES, obo=obo).status_code == status
    assert [entry["account"] for entry in srv.requests()[:2]] == ["marketing", "account-id 777"]


def test_scopes_route_takes_faults_rate_limits_and_answers_405_to_writes(srv):
    srv.add_fault("error", status=503, path=SCOPES)
    faulted = call(srv, "GET", SCOPES)
    assert faulted.status_code == 503 and errors_of(faulted)
    assert srv.requests()[-1]["fault"] == "error"
    srv.add_fault("drop", path=SCOPES)
    with pytest.raises(requests.ConnectionError):
        call(srv, "GET", SCOPES)
    answered = call(srv, "GET", SCOPES)
    assert answered.status_code == 200 and "X-RateLimit-Remaining" in answered.headers
    assert call(srv, "POST", SCOPES, json={}).headers["Allow"] == "GET"
    srv.set_config(endpoint_rate_limits={SCOPES: 1})
    try:
        assert [call(srv, "GET", SCOPES).status_code for dummy in range(2)] == [200, 429]
    finally:
        srv.set_config(endpoint_rate_limits={})


def test_scopes_route_needs_no_scope_and_adds_none_to_all_scopes():
    assert sg.ROUTES[SCOPES] == {"GET": None}
    assert None not in sg.ALL_SCOPES
    assert sys.modules["sendgrid_api"].scopes.FAMILY.scopes == ()
