"""The core of tools/sendgrid_api_server.py: HTTP, authentication, scopes, on-behalf-of, rate limits, the request
log, the control endpoint and HTTPS."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from .helpers import (ACCOUNTS, DEFAULT, KEY, MAIL, NO_SCOPES, READ_ONLY, SETTING_DEFAULTS, SETTING_ROUTES, TLS,
                      TRACKING, UPDATE_ONLY, call, control, errors_of, options, sg)


# ----------------------------------------------------------------------------- auth, scopes, routing

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


@pytest.mark.parametrize("path", ["/v3/user/settings", "/v3/user/settings/enforced_tls/", "/", "/v3/mail_settings/spam_check",
                                  "/v3/tracking_settings/", "/v3/tracking_settings/clicks"])
def test_unknown_path_is_404(srv, path):
    response = call(srv, "GET", path)
    assert response.status_code == 404
    errors_of(response)


@pytest.mark.parametrize("method, path, allow", [("POST", TLS, "GET, PATCH"), ("PUT", TLS, "GET, PATCH"),
                                                 ("DELETE", TLS, "GET, PATCH"), ("PATCH", "/v3/subusers", "GET, POST"),
                                                 ("GET", "/v3/subusers/marketing", "PATCH, DELETE"),
                                                 ("DELETE", "/v3/teammates/pending", "GET"),
                                                 ("POST", "/v3/api_keys/start-key-1", "GET, PUT, PATCH, DELETE")])
def test_other_method_on_known_path_is_405_with_allow(srv, method, path, allow):
    response = call(srv, method, path, json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    errors_of(response)


def test_every_new_scope_is_in_all_scopes_and_the_demo_key_reaches_the_new_routes():
    assert set(sg.ALL_SCOPES) >= {scope for dummy, dummy, scope in SETTING_ROUTES}
    # Enforced TLS's two, the subusers' four, one per tracking and mail settings route, the four of IP Access
    # Management, the API keys' four, the teammates' four, whitelabel's four (domains and links share them) and the
    # event webhooks' three
    assert len(set(sg.ALL_SCOPES)) == len(sg.ALL_SCOPES) == 2 + 4 + len(SETTING_ROUTES) + 4 + 4 + 4 + 4 + 3
    assert sg.ALL_SCOPES[:6] == (sg.SCOPE_TLS_READ, sg.SCOPE_TLS_UPDATE, sg.SCOPE_SUBUSERS_READ, sg.SCOPE_SUBUSERS_CREATE,
                                 sg.SCOPE_SUBUSERS_UPDATE, sg.SCOPE_SUBUSERS_DELETE)
    with sg.running_server() as srv:
        assert call(srv, "PATCH", f"{MAIL}/forward_spam", key=sg.DEMO_KEY, json={"enabled": True}).status_code == 200
        assert call(srv, "GET", TRACKING, key=sg.DEMO_KEY, obo="marketing").status_code == 200


def test_route_table_has_one_entry_per_family():
    table = sys.modules["sendgrid_api"].ROUTE_TABLE
    assert [family.name for family in table] == ["enforced_tls", "subusers", "tracking_settings", "mail_settings", "ip_access",
                                                 "api_keys", "teammates", "domains", "links", "webhooks", "scopes"]
    assert {route.path for family in table for route in family.routes} == set(sg.ROUTES)
    assert sg.ROUTES[TLS] == {"GET": sg.SCOPE_TLS_READ, "PATCH": sg.SCOPE_TLS_UPDATE}


# ----------------------------------------------------------------------------- on-behalf-of

@pytest.mark.parametrize("obo", ["nobody", "account-id 778", "Marketing"])
def test_unknown_on_behalf_of_account_is_404(srv, obo):
    response = call(srv, "GET", TLS, obo=obo)
    assert response.status_code == 404
    assert errors_of(response)[0]["field"] is None


def test_wrong_region_subuser_is_403_naming_the_other_host(srv):
    response = call(srv, "GET", TLS, obo="eu-news")
    assert response.status_code == 403
    message = errors_of(response)[0]["message"]
    assert "eu region" in message and "https://api.eu.sendgrid.com" in message
    assert call(srv, "PATCH", TLS, obo="eu-news", json={"require_tls": True}).status_code == 403
    assert srv.state()["eu-news"] == DEFAULT


def test_new_routes_resolve_on_behalf_of_and_pin_regions(srv):
    path = f"{MAIL}/forward_bounce"
    assert call(srv, "PATCH", path, obo="billing", json={"enabled": True}).json()["enabled"] is True
    assert call(srv, "GET", path, obo="account-id 777").json() == SETTING_DEFAULTS["mail_settings/forward_bounce"]
    for obo, status in (("nobody", 404), ("account-id 778", 404), ("Billing", 404)):
        assert call(srv, "GET", path, obo=obo).status_code == status
    refused = call(srv, "PATCH", f"{TRACKING}/click", obo="eu-news", json={"enabled": False})
    assert refused.status_code == 403 and "https://api.eu.sendgrid.com" in errors_of(refused)[0]["message"]
    assert call(srv, "GET", TRACKING, obo="eu-news").status_code == 403
    assert call(srv, "GET", MAIL, obo="eu-news").status_code == 403
    state = srv.state("mail_settings/forward_bounce")
    assert [account for account in ACCOUNTS if state[account]["enabled"]] == ["billing"]
    assert srv.state("tracking_settings/click")["eu-news"] == SETTING_DEFAULTS["tracking_settings/click"]
    log = srv.requests()
    assert (log[0]["account"], log[0]["status"]) == ("billing", 200)
    assert (log[2]["account"], log[2]["status"]) == (None, 404)


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


# ----------------------------------------------------------------------------- control endpoint and in-process API

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
                                             "trust_forwarded_for": False, "api_key_answer": "result",
                                             "domain_answer": "array", "dns_resolver": None}
    changed = control(srv, "PUT", "config", json={"rate_limit": 5, "rate_window": 2, "latency_ms": 1, "max_page_size": 9,
                                                  "rate_reset": "seconds", "endpoint_rate_limits": {TLS: 2},
                                                  "trust_forwarded_for": True, "api_key_answer": "object",
                                                  "domain_answer": "object", "dns_resolver": "127.0.0.1:5353"})
    assert changed == {"region": "global", "rate_limit": 5, "rate_window": 2.0, "latency_ms": 1.0, "max_page_size": 9,
                       "rate_reset": "seconds", "endpoint_rate_limits": {TLS: 2}, "trust_forwarded_for": True,
                       "api_key_answer": "object", "domain_answer": "object", "dns_resolver": "127.0.0.1:5353"}
    # null leaves a setting as it is, except max_page_size and dns_resolver
    assert control(srv, "PUT", "config", json={"rate_limit": None, "rate_reset": None, "endpoint_rate_limits": None,
                                               "trust_forwarded_for": None}) == changed
    assert control(srv, "GET", "config") == changed
    assert control(srv, "PUT", "config", json={"dns_resolver": None})["dns_resolver"] is None


@pytest.mark.parametrize("doc", [{"max_page_size": 0}, {"max_page_size": -3}, {"max_page_size": "5"},
                                 {"max_page_size": True}, {"max_page_size": 2.5}, {"rate_reset": "minutes"},
                                 {"rate_reset": 60}, {"rate_limit": 0}, {"region": "eu"}, {"colour": 1},
                                 {"endpoint_rate_limits": {TLS: 0}}, {"endpoint_rate_limits": {"v3/subusers": 5}},
                                 {"endpoint_rate_limits": {TLS + "?x=1": 5}}, {"endpoint_rate_limits": {TLS: True}},
                                 {"endpoint_rate_limits": [TLS]}, {"trust_forwarded_for": "yes"}, {"trust_forwarded_for": 1},
                                 {"max_page_size": 4, "rate_reset": "never"}, [{"max_page_size": 4}],
                                 {"dns_resolver": "localhost:53"}, {"dns_resolver": "127.0.0.1:0"}, {"dns_resolver": 5},
                                 {"dns_resolver": "[127.0.0.1]:53"}, {"domain_answer": "list"}])
def test_control_config_refuses_bad_settings_and_changes_nothing(srv, doc):
    before = control(srv, "GET", "config")
    response = requests.put(srv.url + "/__control__/config", json=doc, timeout=5)
    assert response.status_code == 400
    errors_of(response)
    assert control(srv, "GET", "config") == before


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
    assert srv.state("tracking_settings/click")["parent"] == SETTING_DEFAULTS["tracking_settings/click"]


def test_control_state_takes_a_setting(srv):
    assert control(srv, "GET", "state") == {account: DEFAULT for account in ACCOUNTS}
    footer = control(srv, "GET", "state", params={"setting": "mail_settings/footer"})
    assert footer == {account: SETTING_DEFAULTS["mail_settings/footer"] for account in ACCOUNTS}
    changed = control(srv, "PUT", "state", json={"account": "billing", "setting": "mail_settings/footer",
                                                 "settings": {"enabled": True}})
    assert changed == dict(SETTING_DEFAULTS["mail_settings/footer"], enabled=True)
    assert call(srv, "GET", f"{MAIL}/footer", obo="billing").json() == changed
    assert control(srv, "GET", "state", params={"setting": "mail_settings/footer"})["billing"] == changed
    for bad in (requests.get(srv.url + "/__control__/state", params={"setting": "nope"}, timeout=5),
                requests.put(srv.url + "/__control__/state", json={"account": "billing", "setting": "nope", "settings": {}},
                             timeout=5)):
        assert bad.status_code == 400 and "unknown setting" in errors_of(bad)[0]["message"]


# ----------------------------------------------------------------------------- HTTPS and stopping

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
