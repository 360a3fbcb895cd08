"""Behaviour of tools/sendgrid_api_server.py, checked with requests against real instances on 127.0.0.1."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments,too-many-lines

import importlib.util
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
        srv.backend.add_fault(spec)
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
                                             "max_page_size": None, "rate_reset": "epoch", "endpoint_rate_limits": {}}
    changed = control(srv, "PUT", "config", json={"rate_limit": 5, "rate_window": 2, "latency_ms": 1, "max_page_size": 9,
                                                  "rate_reset": "seconds", "endpoint_rate_limits": {TLS: 2}})
    assert changed == {"region": "global", "rate_limit": 5, "rate_window": 2.0, "latency_ms": 1.0, "max_page_size": 9,
                       "rate_reset": "seconds", "endpoint_rate_limits": {TLS: 2}}
    # null leaves a setting as it is, except max_page_size
    assert control(srv, "PUT", "config", json={"rate_limit": None, "rate_reset": None, "endpoint_rate_limits": None}) == changed
    assert control(srv, "GET", "config") == changed


@pytest.mark.parametrize("doc", [{"max_page_size": 0}, {"max_page_size": -3}, {"max_page_size": "5"},
                                 {"max_page_size": True}, {"max_page_size": 2.5}, {"rate_reset": "minutes"},
                                 {"rate_reset": 60}, {"rate_limit": 0}, {"region": "eu"}, {"colour": 1},
                                 {"endpoint_rate_limits": {TLS: 0}}, {"endpoint_rate_limits": {"v3/subusers": 5}},
                                 {"endpoint_rate_limits": {TLS + "?x=1": 5}}, {"endpoint_rate_limits": {TLS: True}},
                                 {"endpoint_rate_limits": [TLS]},
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
    assert len(set(sg.ALL_SCOPES)) == len(sg.ALL_SCOPES) == 3 + len(NEW_ROUTES)
    assert sg.ALL_SCOPES[:3] == (sg.SCOPE_TLS_READ, sg.SCOPE_TLS_UPDATE, sg.SCOPE_SUBUSERS_READ)
    with sg.running_server() as srv:
        assert call(srv, "PATCH", f"{MAIL}/forward_spam", key=sg.DEMO_KEY, json={"enabled": True}).status_code == 200
        assert call(srv, "GET", TRACKING, key=sg.DEMO_KEY, obo="marketing").status_code == 200


def test_route_table_has_one_entry_per_family():
    table = sys.modules["sendgrid_api"].ROUTE_TABLE
    assert [family.name for family in table] == ["enforced_tls", "subusers", "tracking_settings", "mail_settings"]
    assert {route.path for family in table for route in family.routes} == set(sg.ROUTES)
    assert sg.ROUTES[TLS] == {"GET": sg.SCOPE_TLS_READ, "PATCH": sg.SCOPE_TLS_UPDATE}


# ----------------------------------------------------------------------------- command line, new options

def test_cli_help_lists_the_options():
    result = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    for option in ("--endpoint-rate-limit", "--rate-limit", "--accounts-file", "--ready-file", "--fault", "--tls-cert"):
        assert option in result.stdout


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
