"""Resilience: rate limits, transient failures and lost connections are retried; the rest fails clearly.

Each case injects faults into its own server; the cases run together in one ansible-playbook (conftest.run_cases:
each on a host of its own), and each test judges its own. The run uses -vvvv and run_playbook asserts that no API key
appears in any output (see conftest.py), so the secrecy of the key is checked on each path below.
"""

from __future__ import annotations

import math
import re
import socket

import pytest

from conftest import (
    DEFAULT_SETTINGS, READ_ONLY_KEY, REVOKED_KEY, TLS_PATH, Cases, PlaybookCase, assert_clear_failure, calls,
)

CASES = Cases()

APPLY = dict(sg_require_tls=True, sg_min_tls_version="1.2")
APPLIED = {"require_tls": True, "require_valid_cert": False, "version": 1.2}
PATCH_BODY = {"require_tls": True, "version": 1.2}
RETRIED_THEN_APPLIED = [
    ("GET", TLS_PATH, None, None, "fault"),
    ("GET", TLS_PATH, None, None, 200),
    ("PATCH", TLS_PATH, None, PATCH_BODY, 200),
]


def log_with_faults(server):
    """(method, path, on-behalf-of, body, status) with "fault" as the status of a request that met a fault."""
    return [call[:4] + ("fault" if entry["fault"] else call.status,)
            for call, entry in zip(calls(server, with_status=True), server.requests())]


def apply(server, **more):
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, **dict(APPLY, **more)))


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, server)}: every case of this file, run once."""
    return CASES.run(module_start_server)


# ----------------------------------------------------------------------------- retried, then successful

RATE_LIMITS = {
    "x-ratelimit-reset-epoch": dict(reset="epoch", wait=1),
    "x-ratelimit-reset-seconds": dict(reset="seconds", wait=1),
    "retry-after": dict(reset="seconds", wait=30, retry_after=1),
}


def _rate_limited(start, fault):
    server = start()
    server.add_fault("rate_limit", count=1, method="GET", **fault)
    return apply(server)


for _name, _fault in RATE_LIMITS.items():
    CASES.add("rate limited: " + _name, fault=_fault)(_rate_limited)


@pytest.mark.parametrize("name", RATE_LIMITS)
def test_rate_limited_request_waits_as_asked_then_succeeds_with_a_warning(runs, tally, name):
    run, server = runs["rate limited: " + name]
    fault = RATE_LIMITS[name]

    task = run.task("enforce")
    assert run.rc == 0, run.explain()
    assert task["status"] == "changed"
    (warning,) = task["warnings"]
    match = re.fullmatch(r"SendGrid GET %s answered HTTP 429; retry 1 of 5 in (\d+\.\d) seconds\." % TLS_PATH, warning)
    assert match, warning
    assert "[WARNING]: " + warning in run.stderr
    assert log_with_faults(server) == RETRIED_THEN_APPLIED
    limited, retried = server.requests()[:2]
    assert limited["status"] == 429
    waited = retried["time"] - limited["time"]
    if fault["reset"] == "epoch":
        # X-RateLimit-Reset was the epoch second ceil(t + 1): the retry came at or after it
        assert retried["time"] >= math.ceil(limited["time"] + 1) - 0.05
        assert 0.0 <= float(match.group(1)) <= 2.05
    else:
        assert float(match.group(1)) == 1.0
        # one second asked (Retry-After wins over a 30 s X-RateLimit-Reset)
        assert 0.95 <= waited < 5
    assert server.state()["parent"] == APPLIED
    tally("fault_survived")


TRANSIENT = [500, 502, 503, 504]


def _transient(start, status):
    server = start()
    server.add_fault("error", count=1, method="GET", status=status)
    return apply(server)


for _status in TRANSIENT:
    CASES.add("transient %d" % _status, status=_status)(_transient)


@pytest.mark.parametrize("status", TRANSIENT)
def test_transient_server_error_is_retried_with_backoff_then_succeeds(runs, tally, status):
    run, server = runs["transient %d" % status]

    task = run.task("enforce")
    assert run.rc == 0, run.explain()
    assert task["status"] == "changed"
    (warning,) = task["warnings"]
    match = re.fullmatch(r"SendGrid GET %s answered HTTP %d; retry 1 of 5 in (\d+\.\d) seconds\." % (TLS_PATH, status), warning)
    assert match, warning
    # first backoff: 1 s base, half of it plus jitter up to the other half
    assert 0.5 <= float(match.group(1)) <= 1.0
    assert log_with_faults(server) == RETRIED_THEN_APPLIED
    failed, retried = server.requests()[:2]
    assert failed["status"] == status
    assert retried["time"] - failed["time"] >= 0.45
    assert server.state()["parent"] == APPLIED
    tally("fault_survived")


@CASES.add("dropped connection")
def _dropped_connection(start):
    server = start()
    server.add_fault("drop", count=1, method="PATCH")
    return apply(server)


def test_dropped_connection_is_retried_with_backoff_then_succeeds(runs, tally):
    run, server = runs["dropped connection"]

    task = run.task("enforce")
    assert run.rc == 0, run.explain()
    assert task["status"] == "changed"
    (warning,) = task["warnings"]
    assert re.fullmatch(r"SendGrid PATCH %s failed with a connection error; retry 1 of 5 in (\d+\.\d) seconds\." % TLS_PATH,
                        warning), warning
    assert log_with_faults(server) == [
        ("GET", TLS_PATH, None, None, 200),
        ("PATCH", TLS_PATH, None, PATCH_BODY, "fault"),
        ("PATCH", TLS_PATH, None, PATCH_BODY, 200),
    ]
    assert server.requests()[1]["status"] is None  # never answered
    assert server.state()["parent"] == APPLIED
    tally("fault_survived")


MANY = ["sub-%02d" % i for i in range(1, 15)]


@CASES.add("many subusers within a small rate limit")
def _many_subusers(start):
    server = start(subusers=MANY, rate_limit=8, rate_window=1.0)
    return server, PlaybookCase("accounts.yml", dict(
        sg_api_url=server.url, sg_require_tls=True, sg_min_tls_version="1.3", sg_concurrency=8,
        sg_accounts=[{"name": name} for name in MANY]))


def test_many_subusers_within_a_small_real_rate_limit_all_succeed_without_a_single_429(runs, tally):
    names = MANY
    run, server = runs["many subusers within a small rate limit"]

    result = run.result("enforce accounts")
    assert run.rc == 0, run.explain()
    assert result["summary"] == {"accounts": 15, "changed": 15, "in_sync": 0, "failed": 0}
    state = server.state()
    assert {account: state[account] for account in ["parent"] + names} == {
        account: {"require_tls": True, "require_valid_cert": False, "version": 1.3} for account in ["parent"] + names}
    # each account: exactly one successful GET and one successful PATCH with the whole policy
    log = calls(server, with_status=True)
    answered = [(c.method, c.on_behalf_of, c.body) for c in log if c.status == 200]
    assert sorted(answered, key=str) == sorted(
        [("GET", obo, None) for obo in [None] + names]
        + [("PATCH", obo, {"require_tls": True, "version": 1.3}) for obo in [None] + names], key=str)
    # the module kept within the budget the answers announced: nothing was refused, nothing retried
    assert [c for c in log if c.status != 200] == [], log
    assert run.task("enforce accounts")["warnings"] == []
    # and it did not wait longer than the windows it needed (30 requests at 8 a second: about 4 windows)
    elapsed = server.requests()[-1]["time"] - server.requests()[0]["time"]
    assert elapsed < 8, elapsed
    tally("fault_survived")


# ----------------------------------------------------------------------------- failures explained

@CASES.add("retries exhausted")
def _retries_exhausted(start):
    server = start()
    server.add_fault("error", count=-1, method="GET", status=503)
    return apply(server, sg_retries=1)


def test_retries_exhausted_fail_with_the_status_and_the_retry_count(runs, tally):
    run, server = runs["retries exhausted"]

    message = assert_clear_failure(run, "enforce")
    assert run.result("enforce")["status"] == 503
    assert message.startswith("Reading the Enforced TLS settings GET %s%s failed (HTTP 503: service unavailable)."
                              % (server.url, TLS_PATH)), message
    assert "gave up after 1 retries" in message
    assert "retries and retry_max_wait" in message
    assert log_with_faults(server) == [("GET", TLS_PATH, None, None, "fault")] * 2
    assert server.state()["parent"] == DEFAULT_SETTINGS
    tally("failure_reported")


@CASES.add("server down")
def _server_down(_start):
    # A port bound but never listening: every connection to it is refused, as by a host whose server is down, and no
    # other process can take the port meanwhile. The test closes it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    return (sock, url), PlaybookCase("enforced_tls.yml", dict(sg_api_url=url, **APPLY))


def test_a_server_that_is_down_fails_within_seconds_saying_the_connection_was_refused(runs, tally):
    run, (sock, url) = runs["server down"]
    sock.close()

    message = assert_clear_failure(run, "enforce")
    task = run.task("enforce")
    # one retry (a server restarting may refuse for a moment), not the five of a lost connection
    (warning,) = task["warnings"]
    match = re.fullmatch(r"SendGrid GET %s failed: the connection was refused \(nothing listens there\); retry 1 of 1 in "
                         r"(\d+\.\d) seconds\." % TLS_PATH, warning)
    assert match, warning
    assert message.startswith("Reading the Enforced TLS settings GET %s%s: the connection to the API was lost or refused ("
                              % (url, TLS_PATH)), message
    assert "Connection refused" in message
    assert message.endswith("Check api_url, the network and any proxy between this host and SendGrid, then run again "
                            "(refused again after 1 retry and %s seconds of waiting: a refused connection is retried once "
                            "only, whatever retries says)" % match.group(1)), message
    # with the default retries (5), a refused connection took 20 to 30 s of backoff; now one backoff of at most 1 s
    assert task["finished"] - task["started"] < 10, task
    tally("failure_reported")


@CASES.add("rejected key")
def _rejected_key(start):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, **APPLY), api_key=REVOKED_KEY)


def test_rejected_api_key_says_the_key_was_rejected(runs, tally):
    run, server = runs["rejected key"]

    message = assert_clear_failure(run, "enforce")
    assert run.result("enforce")["status"] == 401
    assert "HTTP 401" in message
    assert "SendGrid rejected the API key" in message
    assert "api_key (or SENDGRID_API_KEY)" in message
    assert calls(server, with_status=True) == [("GET", TLS_PATH, None, None, 401)]  # not retried
    tally("failure_reported")


def _read_only_key(start, on_behalf_of):
    server = start()
    extra = {"sg_on_behalf_of": on_behalf_of} if on_behalf_of else {}
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, **APPLY, **extra),
                                api_key=READ_ONLY_KEY)


for _on_behalf_of in (None, "marketing"):
    CASES.add("read-only key: %s" % _on_behalf_of, on_behalf_of=_on_behalf_of)(_read_only_key)


@pytest.mark.parametrize("on_behalf_of", [None, "marketing"], ids=["parent", "on-behalf-of"])
def test_key_without_the_update_scope_names_the_scope(runs, tally, on_behalf_of):
    run, server = runs["read-only key: %s" % on_behalf_of]

    message = assert_clear_failure(run, "enforce")
    assert run.result("enforce")["status"] == 403
    assert "HTTP 403" in message
    assert "lacks the scope user.settings.enforced_tls.update" in message
    assert ("on_behalf_of" in message) is bool(on_behalf_of)
    if on_behalf_of:
        assert "on behalf of 'marketing' (on_behalf_of)" in message
    assert calls(server, with_status=True) == [
        ("GET", TLS_PATH, on_behalf_of, None, 200), ("PATCH", TLS_PATH, on_behalf_of, PATCH_BODY, 403)]
    assert server.state()[on_behalf_of or "parent"] == DEFAULT_SETTINGS
    tally("failure_reported")


@CASES.add("unknown subuser")
def _unknown_subuser(start):
    return apply(start(), sg_on_behalf_of="ghost")


def test_unknown_subuser_says_the_subuser_is_unknown(runs, tally):
    run, server = runs["unknown subuser"]

    message = assert_clear_failure(run, "enforce")
    assert run.result("enforce")["status"] == 404
    assert "HTTP 404" in message
    assert "SendGrid does not know the subuser or account 'ghost' given in on_behalf_of" in message
    assert calls(server, with_status=True) == [("GET", TLS_PATH, "ghost", None, 404)]
    tally("failure_reported")


@CASES.add("html error page")
def _html_error_page(start):
    server = start()
    server.add_fault("html", count=-1, status=502)
    return apply(server, sg_retries=0)


def test_html_error_page_fails_with_status_and_a_short_clean_excerpt(runs, tally):
    run, server = runs["html error page"]

    message = assert_clear_failure(run, "enforce")
    assert run.result("enforce")["status"] == 502
    assert "HTTP 502, body (text/html) '502 Bad Gateway 502 Bad Gateway nginx'" in message, message
    assert "<" not in message and "\n" not in message and "\r" not in message
    assert len(message) < 400
    assert log_with_faults(server) == [("GET", TLS_PATH, None, None, "fault")]
    tally("failure_reported")


@CASES.add("malformed json")
def _malformed_json(start):
    server = start()
    server.add_fault("malformed_json", count=1, method="GET")
    return apply(server, sg_retries=0)


def test_malformed_json_fails_with_status_and_a_short_excerpt(runs, tally):
    run, server = runs["malformed json"]

    message = assert_clear_failure(run, "enforce")
    assert run.result("enforce")["status"] == 200
    assert message == ("Reading the Enforced TLS settings GET %s%s: SendGrid answered HTTP 200 with a body that is not "
                       "JSON: (application/json) '{\"require_tls\": true, \"require_valid_cert\":'. A proxy may have "
                       "answered instead of SendGrid, or the answer was cut off: check api_url (the API's base URL, "
                       "such as https://api.sendgrid.com) and any proxy, then run again." % (server.url, TLS_PATH)), message
    assert log_with_faults(server) == [("GET", TLS_PATH, None, None, "fault")]
    assert server.state()["parent"] == DEFAULT_SETTINGS
    tally("failure_reported")


@CASES.add("timeout")
def _timeout(start):
    server = start()
    server.add_fault("delay", count=1, method="GET", seconds=5)
    return apply(server, sg_timeout=1, sg_retries=0)


def test_timeout_says_which_request_and_the_timeout_used(runs, tally):
    run, server = runs["timeout"]

    message = assert_clear_failure(run, "enforce")
    assert message == ("Reading the Enforced TLS settings GET %s%s: SendGrid gave no answer within the timeout of 1.0 "
                       "seconds (option timeout); raise timeout, or run again later." % (server.url, TLS_PATH)), message
    assert [(c.method, c.path) for c in calls(server)] == [("GET", TLS_PATH)]
    tally("failure_reported")


@CASES.add("not applied")
def _not_applied(start):
    server = start()
    # a 200 whose body does not show the new values, and nothing stored
    server.add_fault("not_applied", count=1)
    return apply(server)


def test_patch_acknowledged_but_not_applied_is_read_again_and_fails_naming_the_fields(runs, tally):
    run, server = runs["not applied"]

    message = assert_clear_failure(run, "enforce")
    assert message == ("SendGrid acknowledged the update of the Enforced TLS settings but these fields did not take: "
                       "min_tls_version (wanted 1.2, "
                       "is 1.1), require_tls (wanted true, is false). Run the task again; if it persists, the account "
                       "may not allow them."), message
    assert log_with_faults(server) == [
        ("GET", TLS_PATH, None, None, 200),
        ("PATCH", TLS_PATH, None, PATCH_BODY, "fault"),
        ("GET", TLS_PATH, None, None, 200),
    ]
    assert server.state()["parent"] == DEFAULT_SETTINGS
    tally("failure_reported")


@CASES.add("eu subuser on the global host")
def _eu_subuser_on_the_global_host(start):
    return apply(start(), sg_on_behalf_of="eu-newsletter")


def test_eu_subuser_sent_to_the_global_host_is_told_to_use_region_eu(runs, tally):
    run, server = runs["eu subuser on the global host"]

    message = assert_clear_failure(run, "enforce")
    assert "belongs to the eu region: send its requests to https://api.eu.sendgrid.com" in message
    assert calls(server, with_status=True) == [("GET", TLS_PATH, "eu-newsletter", None, 403)]
    assert "lacks the scope" not in message, message
    assert "set region (accounts[].region for many accounts) to the account's region" in message, message
    tally("failure_reported")
