# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The API client: what it sends, how it retries, and what it says when it fails."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import requests
import responses
import urllib3

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, RateLimit, SendGridClient, SendGridError, is_refused, iso_utc, with_iso_times,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._enforced_tls import ENFORCED_TLS

PATH, READ, UPDATE = ENFORCED_TLS.path, ENFORCED_TLS.read, ENFORCED_TLS.update

KEY = "SG.unit-test-secret-key"
URL = "https://api.sendgrid.com" + PATH
SETTINGS = {"require_tls": True, "require_valid_cert": False, "version": 1.2}


class Recorder:
    """Stands in for the clock, time.sleep and module.warn, and keeps what they were given."""

    def __init__(self):
        self.now = 1_700_000_000.0
        self.sleeps = []
        self.warnings = []

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds

    def clock(self):
        return self.now


def make_client(recorder=None, **options):
    recorder = recorder or Recorder()
    options.setdefault("base_url", "https://api.sendgrid.com")
    return SendGridClient(api_key=KEY, warn=recorder.warnings.append, sleep=recorder.sleep, clock=recorder.clock, **options)


@responses.activate
def test_sends_bearer_key_json_accept_and_collection_user_agent():
    responses.get(URL, json=SETTINGS)
    assert make_client().request("GET", PATH, READ) == SETTINGS
    sent = responses.calls[0].request
    assert sent.method == "GET"
    assert sent.url == URL
    assert sent.headers["Authorization"] == "Bearer " + KEY
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"].startswith("mailops.sendgrid/1.0.0 ")
    assert "on-behalf-of" not in sent.headers


@responses.activate
def test_on_behalf_of_is_sent_as_header():
    responses.get(URL, json=SETTINGS)
    make_client().account("account-id 42").request("GET", PATH, READ)
    assert responses.calls[0].request.headers["on-behalf-of"] == "account-id 42"


@responses.activate
def test_patch_sends_json_body():
    responses.patch(URL, json=SETTINGS)
    make_client().request("PATCH", PATH, UPDATE, body={"version": 1.2})
    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body in (b'{"version": 1.2}', '{"version": 1.2}')


def test_version_of_collection_matches_galaxy_yml():
    import os
    from ansible_collections.mailops.sendgrid.plugins.module_utils._client import COLLECTION_VERSION
    galaxy = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "galaxy.yml")
    with open(galaxy) as handle:
        assert "version: %s\n" % COLLECTION_VERSION in handle.read()


@pytest.mark.parametrize("url", ["http://api.sendgrid.com", "http://10.0.0.5:8080", "ftp://x", "api.sendgrid.com"])
def test_refuses_plain_http_off_this_machine_and_non_urls(url):
    with pytest.raises(SendGridError, match="api_url"):
        make_client(base_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8025", "http://localhost:1", "http://[::1]:9", "http://127.3.2.1"])
def test_allows_plain_http_to_loopback(url):
    assert make_client(base_url=url + "/").base_url == url


def test_api_key_with_line_break_is_refused_without_showing_it():
    with pytest.raises(SendGridError, match="api_key must be a non-empty value") as failure:
        SendGridClient(api_key="SG.key\nX-Injected: 1", base_url="https://api.sendgrid.com")
    assert "SG.key" not in str(failure.value)


@pytest.mark.parametrize("value", [" ", "", "marketing\r\nX-Injected: 1"])
def test_on_behalf_of_empty_or_with_line_break_is_refused(value):
    with pytest.raises(SendGridError, match="on_behalf_of must be a non-empty value"):
        make_client().account(value)


@responses.activate
def test_401_says_the_key_was_rejected_without_showing_it():
    responses.get(URL, status=401, json={"errors": [{"field": None, "message": "authorization required"}]})
    with pytest.raises(SendGridError) as failure:
        make_client().request("GET", PATH, READ)
    assert "HTTP 401: authorization required" in str(failure.value)
    assert "rejected the API key" in str(failure.value)
    assert KEY not in str(failure.value)
    assert failure.value.status == 401


@responses.activate
def test_403_names_the_missing_scope_and_on_behalf_of():
    responses.patch(URL, status=403, json={"errors": [{"field": None, "message": "access forbidden"}]})
    with pytest.raises(SendGridError) as failure:
        make_client().account("marketing").request("PATCH", PATH, UPDATE, body={"require_tls": True})
    assert "user.settings.enforced_tls.update" in str(failure.value)
    assert "'marketing' (on_behalf_of)" in str(failure.value)


@responses.activate
def test_403_for_a_subuser_of_another_region_says_to_set_region_not_a_scope():
    responses.get(URL, status=403, json={"errors": [{"field": None, "message": "subuser belongs to the eu region"}]})
    with pytest.raises(SendGridError) as failure:
        make_client().account("eu-news").request("GET", PATH, READ)
    assert "set region" in str(failure.value)
    assert "scope" not in str(failure.value)


@responses.activate
def test_403_message_reads_as_a_sentence():
    responses.get(URL, status=403, json={"errors": [{"field": None, "message": "access forbidden"}]})
    with pytest.raises(SendGridError, match="lacks the scope user.settings.enforced_tls.read needed for reading the "
                                            "Enforced TLS settings."):
        make_client().request("GET", PATH, READ)


@responses.activate
def test_404_with_on_behalf_of_says_the_subuser_is_unknown():
    responses.get(URL, status=404, json={"errors": [{"field": None, "message": "not found"}]})
    with pytest.raises(SendGridError, match="does not know the subuser or account 'ghost'"):
        make_client().account("ghost").request("GET", PATH, READ)


@responses.activate
def test_400_shows_the_apis_field_and_message():
    responses.patch(URL, status=400, json={"errors": [{"field": "version", "message": "must be 1.1, 1.2 or 1.3"}]})
    with pytest.raises(SendGridError, match=r"HTTP 400: version: must be 1.1, 1.2 or 1.3"):
        make_client().request("PATCH", PATH, UPDATE, body={"version": 1.0})


@responses.activate
def test_429_waits_the_seconds_in_x_ratelimit_reset_then_retries():
    responses.get(URL, status=429, headers={"X-RateLimit-Reset": "3"}, json={"errors": [{"message": "too many"}]})
    responses.get(URL, json=SETTINGS)
    recorder = Recorder()
    assert make_client(recorder).request("GET", PATH, READ) == SETTINGS
    assert recorder.sleeps == [3.0]
    assert len(responses.calls) == 2
    assert "answered HTTP 429; retry 1 of 5 in 3.0 seconds" in recorder.warnings[0]


@responses.activate
def test_429_with_epoch_reset_waits_until_that_time():
    responses.get(URL, status=429, headers={"X-RateLimit-Reset": "1700000007"})
    responses.get(URL, json=SETTINGS)
    recorder = Recorder()
    make_client(recorder).request("GET", PATH, READ)
    assert recorder.sleeps == [7.0]


@responses.activate
def test_retry_after_wins_over_x_ratelimit_reset():
    responses.get(URL, status=429, headers={"Retry-After": "2", "X-RateLimit-Reset": "1700000050"})
    responses.get(URL, json=SETTINGS)
    recorder = Recorder()
    make_client(recorder).request("GET", PATH, READ)
    assert recorder.sleeps == [2.0]


@responses.activate
def test_5xx_is_retried_with_growing_jittered_backoff():
    for dummy in range(3):
        responses.patch(URL, status=503, json={"errors": [{"message": "unavailable"}]})
    responses.patch(URL, json=SETTINGS)
    recorder = Recorder()
    assert make_client(recorder).request("PATCH", PATH, UPDATE, body={"require_tls": True}) == SETTINGS
    assert [call.request.body for call in responses.calls] == [b'{"require_tls": true}'] * 4
    assert 0.5 <= recorder.sleeps[0] <= 1.0 and 1.0 <= recorder.sleeps[1] <= 2.0 and 2.0 <= recorder.sleeps[2] <= 4.0
    assert len(recorder.warnings) == 3


@responses.activate
def test_gives_up_after_retries_and_says_so():
    responses.get(URL, status=502, body="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
    recorder = Recorder()
    with pytest.raises(SendGridError) as failure:
        make_client(recorder, retries=2).request("GET", PATH, READ)
    message = str(failure.value)
    assert "HTTP 502, body (text/html) '502 Bad Gateway'" in message
    assert "gave up after 2 retries" in message
    assert len(responses.calls) == 3


@responses.activate
def test_does_not_wait_past_retry_max_wait():
    responses.get(URL, status=429, headers={"X-RateLimit-Reset": "600"})
    recorder = Recorder()
    with pytest.raises(SendGridError, match="rate limiting"):
        make_client(recorder, retry_max_wait=60).request("GET", PATH, READ)
    assert recorder.sleeps == []
    assert len(responses.calls) == 1


@responses.activate
def test_connection_error_is_retried():
    responses.get(URL, body=requests.exceptions.ConnectionError("Connection aborted"))
    responses.get(URL, json=SETTINGS)
    recorder = Recorder()
    assert make_client(recorder).request("GET", PATH, READ) == SETTINGS
    assert "failed with a connection error; retry 1 of 5" in recorder.warnings[0]


CREATE = Operation("Creating an API key", "api_keys.create", creates=True)


@responses.activate
@pytest.mark.parametrize("lost", [
    dict(status=500, json={"errors": [{"message": "internal"}]}),
    dict(status=502, body="bad gateway"),
    dict(status=504, body="gateway timeout"),
    dict(body=requests.exceptions.ConnectionError("Connection aborted")),
    dict(body=requests.exceptions.ChunkedEncodingError("IncompleteRead")),
    dict(body=requests.exceptions.ReadTimeout("read timed out")),
], ids=["500", "502", "504", "dropped", "cut-off-answer", "timeout"])
def test_a_create_whose_answer_may_be_lost_is_never_sent_twice_and_says_run_again(lost):
    responses.post(URL, **lost)
    responses.post(URL, status=201, json={"api_key_id": "second"})
    recorder = Recorder()
    with pytest.raises(SendGridError) as failure:
        make_client(recorder).request("POST", PATH, CREATE, body={"name": "k"})
    assert len(responses.calls) == 1 and recorder.sleeps == []
    assert "It is not known whether SendGrid made it, so it was not sent again (twice would make two). Run the task " \
           "again: it reads first, and makes only what is missing." in str(failure.value)


@responses.activate
@pytest.mark.parametrize("status", [429, 503])
def test_a_create_that_sendgrid_did_not_process_is_sent_again(status):
    responses.post(URL, status=status, headers={"Retry-After": "1"}, json={"errors": [{"message": "later"}]})
    responses.post(URL, status=201, json={"api_key_id": "one"})
    assert make_client(Recorder()).request("POST", PATH, CREATE, body={"name": "k"}) == {"api_key_id": "one"}
    assert len(responses.calls) == 2


def test_a_refused_create_was_never_sent_and_is_retried(monkeypatch):
    client = make_client(Recorder())
    answers = [refused_error(), None]

    def send(rate_limit, method, url, **arguments):
        answer = answers.pop(0)
        rate_limit.done(None)
        if answer is not None:
            raise answer
        response = requests.Response()
        response.status_code, response._content = 201, b'{"api_key_id": "one"}'   # pylint: disable=protected-access
        response.headers["Content-Type"] = "application/json"
        return response

    monkeypatch.setattr(client, "_send", send)
    assert client.request("POST", PATH, CREATE, body={"name": "k"}) == {"api_key_id": "one"}


# ----------------------------------------------------------------------------- refused connections fail fast

def refused_error(url=URL):
    """What requests raises when nothing listens: ConnectionError(MaxRetryError(reason=NewConnectionError)), caused by
    the ConnectionRefusedError, as urllib3 chains them."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as refusal:
            raise urllib3.exceptions.NewConnectionError(
                None, "Failed to establish a new connection: [Errno 111] Connection refused") from refusal
    except urllib3.exceptions.NewConnectionError as new_connection:
        return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, url, reason=new_connection))


def name_not_resolved_error(url=URL):
    """A NewConnectionError for another reason than a refusal: the host name does not resolve."""
    try:
        raise socket.gaierror(-2, "Name or service not known")
    except socket.gaierror as exc:
        return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
            None, url, reason=urllib3.exceptions.NameResolutionError("api.sendgrid.com", None, exc)))


def counting(client):
    """Count the requests the client really sends (a refused one never reaches responses' log)."""
    sent = []
    real = client.session.request

    def request(*args, **kwargs):
        sent.append(args[:2])
        return real(*args, **kwargs)

    client.session.request = request
    return sent


@pytest.fixture(name="nothing_listens")
def fixture_nothing_listens():
    """The base URL of a local port that is bound but not listening: every connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield "http://127.0.0.1:%d" % sock.getsockname()[1]


def test_a_refused_connection_is_retried_once_then_fails_saying_it_was_refused(nothing_listens):
    recorder = Recorder()
    client = make_client(recorder, base_url=nothing_listens)
    sent = counting(client)
    with pytest.raises(SendGridError) as failure:
        client.request("GET", PATH, READ)
    message = str(failure.value)
    assert len(sent) == 2 and len(recorder.sleeps) == 1 and 0.5 <= recorder.sleeps[0] <= 1.0
    assert message.startswith("Reading the Enforced TLS settings GET %s%s: the connection to the API was lost or refused ("
                              % (nothing_listens, PATH)), message
    assert "Connection refused" in message
    ending = re.search(r"Check api_url, the network and any proxy between this host and SendGrid, then run again "
                       r"\(refused again after 1 retry and (\d\.\d) seconds of waiting: a refused connection is retried "
                       r"once only, whatever retries says\)$", message)
    # the seconds waited, rounded: within rounding of the one sleep
    assert ending and abs(float(ending.group(1)) - recorder.sleeps[0]) <= 0.05 + 1e-9, message
    (warning,) = recorder.warnings
    said = re.fullmatch(r"SendGrid GET %s failed: the connection was refused \(nothing listens there\); retry 1 of 1 "
                        r"in (\d\.\d) seconds\." % re.escape(PATH), warning)
    # the delay said to one decimal; the recorder keeps it to three (0.849 is said 0.8, kept 0.849)
    assert said and abs(float(said.group(1)) - recorder.sleeps[0]) <= 0.05 + 1e-9, warning


def test_a_refused_connection_with_retries_0_fails_at_once(nothing_listens):
    recorder = Recorder()
    client = make_client(recorder, base_url=nothing_listens, retries=0)
    sent = counting(client)
    with pytest.raises(SendGridError, match=r"lost or refused \(.*Connection refused.*\)\. Check api_url.*then run again\.$"):
        client.request("GET", PATH, READ)
    assert (len(sent), recorder.sleeps, recorder.warnings) == (1, [], [])


@responses.activate
def test_a_server_refusing_for_a_moment_while_it_restarts_is_retried_and_answers():
    responses.get(URL, body=refused_error())
    responses.get(URL, json=SETTINGS)
    recorder = Recorder()
    assert make_client(recorder).request("GET", PATH, READ) == SETTINGS
    assert len(responses.calls) == 2 and len(recorder.sleeps) == 1
    assert "the connection was refused (nothing listens there); retry 1 of 1" in recorder.warnings[0]


@responses.activate
def test_a_refusal_after_other_transient_failures_still_gets_its_one_retry_and_no_more():
    responses.get(URL, status=503, json={"errors": [{"message": "unavailable"}]})
    responses.get(URL, body=refused_error())
    responses.get(URL, body=refused_error())
    recorder = Recorder()
    with pytest.raises(SendGridError, match=r"refused again after 2 retries and .* a refused connection is retried once"):
        make_client(recorder).request("GET", PATH, READ)
    assert len(responses.calls) == 3 and len(recorder.sleeps) == 2


@pytest.mark.parametrize("error", [
    requests.exceptions.ConnectionError("Connection aborted", ConnectionResetError(104, "Connection reset by peer")),
    requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes read, 20 more expected)"),
    requests.exceptions.ReadTimeout("read timed out"),
    requests.exceptions.ConnectTimeout("connect timed out"),
    name_not_resolved_error(),
], ids=["dropped", "cut-off-answer", "read-timeout", "connect-timeout", "name-not-resolved"])
@responses.activate
def test_other_connection_failures_keep_every_retry(error):
    responses.get(URL, body=error)
    recorder = Recorder()
    with pytest.raises(SendGridError, match="gave up after 5 retries"):
        make_client(recorder).request("GET", PATH, READ)
    assert len(responses.calls) == 6 and len(recorder.sleeps) == 5
    assert not any("refused" in warning for warning in recorder.warnings)


def test_is_refused_finds_the_refusal_in_the_chain_only():
    assert is_refused(refused_error())
    assert is_refused(ConnectionRefusedError())
    assert not is_refused(name_not_resolved_error())
    assert not is_refused(requests.exceptions.ConnectionError("Connection aborted", ConnectionResetError()))
    looped = requests.exceptions.ConnectionError("loop")
    looped.__context__ = looped
    assert not is_refused(looped)


@responses.activate
def test_timeout_names_the_request_and_the_timeout():
    responses.get(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(SendGridError) as failure:
        make_client(retries=0, timeout=2.5).request("GET", PATH, READ)
    assert str(failure.value) == ("Reading the Enforced TLS settings GET %s: SendGrid gave no answer within the timeout "
                                  "of 2.5 seconds (option timeout); raise timeout, or run again later." % URL)


@responses.activate
def test_malformed_json_says_status_and_excerpt():
    responses.get(URL, body='{"require_tls": tru', content_type="application/json")
    with pytest.raises(SendGridError, match=r"HTTP 200 with a body that is not JSON: \(application/json\) '\{\"require_tls\": tru'"):
        make_client().request("GET", PATH, READ)


@responses.activate
def test_key_echoed_by_a_proxy_is_redacted():
    responses.get(URL, status=400, body="<p>bad header Bearer %s</p>" % KEY, content_type="text/html")
    with pytest.raises(SendGridError) as failure:
        make_client().request("GET", PATH, READ)
    assert KEY not in str(failure.value)
    assert "Bearer ********" in str(failure.value)


@responses.activate
def test_one_session_serves_every_request():
    responses.get(URL, json=SETTINGS)
    responses.patch(URL, json=SETTINGS)
    client = make_client()
    session = client.session
    client.request("GET", PATH, READ)
    client.request("PATCH", PATH, UPDATE, body={"require_tls": True})
    assert client.session is session and len(responses.calls) == 2


@responses.activate
def test_next_request_waits_for_the_reset_when_the_budget_is_spent():
    responses.get(URL, json=SETTINGS, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"})
    responses.get(URL, json=SETTINGS, headers={"X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "60"})
    recorder = Recorder()
    client = make_client(recorder)
    client.request("GET", PATH, READ)
    assert recorder.sleeps == []
    client.request("GET", PATH, READ)
    assert recorder.sleeps == [5.0]
    assert len(responses.calls) == 2 and recorder.warnings == []


@responses.activate
def test_a_429_makes_every_client_sharing_the_budget_wait():
    responses.get(URL, status=429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000004"})
    responses.get(URL, json=SETTINGS)
    recorder = Recorder()
    first = make_client(recorder, retries=0)
    second = make_client(recorder, rate_limits=first.rate_limits)
    with pytest.raises(SendGridError, match="HTTP 429"):
        first.request("GET", PATH, READ)
    second.request("GET", PATH, READ)
    assert recorder.sleeps == [4.0]


@responses.activate
def test_one_endpoints_spent_budget_neither_stalls_another_nor_is_taken_for_it():
    # SendGrid budgets each endpoint apart: a 429 on the tracking settings says nothing of Enforced TLS.
    other = "https://api.sendgrid.com/v3/tracking_settings"
    responses.get(other, status=429, headers={"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0",
                                              "X-RateLimit-Reset": "1700000030"})
    responses.get(URL, json=SETTINGS, headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "599",
                                               "X-RateLimit-Reset": "1700000060"})
    recorder = Recorder()
    client = make_client(recorder, retries=0)
    with pytest.raises(SendGridError, match="HTTP 429"):
        client.request("GET", "/v3/tracking_settings", READ)
    assert client.request("GET", PATH, READ) == SETTINGS
    assert recorder.sleeps == []
    assert client.rate_limits.endpoint("/v3/tracking_settings?limit=5").seconds_to_reset() == 30.0
    assert client.rate_limits.endpoint(PATH).seconds_to_reset() is None


def test_budget_spent_for_longer_than_retry_max_wait_fails_without_sending():
    recorder = Recorder()
    client = make_client(recorder, retry_max_wait=10)
    response = requests.Response()
    response.status_code, response.headers["X-RateLimit-Remaining"], response.headers["X-RateLimit-Reset"] = 200, "0", "30"
    client.rate_limits.endpoint(PATH).done(response)
    with responses.RequestsMock() as mocked:
        with pytest.raises(SendGridError, match="rate limit for this API key is spent for another 30 seconds"):
            client.request("GET", PATH, READ)
        assert len(mocked.calls) == 0


def answer(status=200, **headers):
    response = requests.Response()
    response.status_code = status
    response.headers.update({name.replace("_", "-"): str(value) for name, value in headers.items()})
    return response


def test_requests_in_flight_count_against_the_budget():
    recorder = Recorder()
    budget = RateLimit(sleep=recorder.sleep, clock=recorder.clock)
    budget.wait_turn(60)
    budget.done(answer(X_RateLimit_Limit=3, X_RateLimit_Remaining=3, X_RateLimit_Reset=int(recorder.now) + 10))
    for dummy in range(3):
        budget.wait_turn(60)  # three in flight, none answered yet: the budget of 3 is spent
    assert recorder.sleeps == []
    budget.wait_turn(60)
    assert recorder.sleeps == [10.0]


def test_a_new_window_counts_the_requests_still_in_flight():
    recorder = Recorder()
    budget = RateLimit(sleep=recorder.sleep, clock=recorder.clock)
    budget.wait_turn(60)
    budget.done(answer(X_RateLimit_Limit=10, X_RateLimit_Remaining=9, X_RateLimit_Reset=int(recorder.now) + 10))
    budget.wait_turn(60)
    budget.wait_turn(60)
    budget.done(answer(X_RateLimit_Limit=10, X_RateLimit_Remaining=2, X_RateLimit_Reset=int(recorder.now) + 20))  # 1 in flight
    budget.wait_turn(60)
    assert recorder.sleeps == []
    budget.wait_turn(60)
    assert recorder.sleeps == [20.0]


def assert_waits_for_an_answer(budget, answer_that_comes):
    """The next wait_turn() blocks until an answer arrives, and goes on once it has."""
    waiting = threading.Thread(target=budget.wait_turn, args=(60,))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()
    budget.done(answer_that_comes)
    waiting.join(2)
    assert not waiting.is_alive()


def test_nothing_more_is_sent_before_the_first_answer_tells_the_budget():
    budget = RateLimit()
    budget.wait_turn(60)
    assert_waits_for_an_answer(budget, answer(X_RateLimit_Remaining=5, X_RateLimit_Reset=int(time.time()) + 60))


def test_answers_without_rate_limit_headers_do_not_hold_requests_back():
    budget = RateLimit()
    budget.wait_turn(60)
    budget.done(answer())
    for dummy in range(50):
        assert budget.wait_turn(0) == 0.0


def test_a_new_window_starts_with_the_limit_not_with_every_waiting_request_at_once():
    """5 per window and 8 workers: after the reset only 5 go, the rest wait for the next reset (defect: all 8 went)."""
    recorder = Recorder()
    budget = RateLimit(sleep=recorder.sleep, clock=recorder.clock)
    budget.wait_turn(60)
    budget.done(answer(X_RateLimit_Limit=5, X_RateLimit_Remaining=4, X_RateLimit_Reset=int(recorder.now) + 2))
    for dummy in range(4):
        budget.wait_turn(60)
    for dummy in range(4):
        budget.done(answer(X_RateLimit_Limit=5, X_RateLimit_Remaining=0, X_RateLimit_Reset=int(recorder.now) + 2))
    sent_after_reset = []
    for dummy in range(5):
        budget.wait_turn(60)
        sent_after_reset.append(recorder.now)
    assert recorder.sleeps == [2.0] and sent_after_reset == [recorder.now] * 5
    # the new window's budget is spent and no answer has said when it resets: the sixth waits for one
    assert_waits_for_an_answer(budget, answer(X_RateLimit_Limit=5, X_RateLimit_Remaining=0,
                                              X_RateLimit_Reset=int(recorder.now) + 2))
    assert recorder.sleeps == [2.0, 2.0]


def test_after_a_reset_with_no_known_limit_one_request_probes_the_new_budget():
    recorder = Recorder()
    budget = RateLimit(sleep=recorder.sleep, clock=recorder.clock)
    budget.wait_turn(60)
    budget.done(answer(X_RateLimit_Remaining=0, X_RateLimit_Reset=int(recorder.now) + 3))
    budget.wait_turn(60)  # after the reset: the probe
    assert recorder.sleeps == [3.0]
    assert_waits_for_an_answer(budget, answer(X_RateLimit_Remaining=10, X_RateLimit_Reset=int(recorder.now) + 60))


def test_a_late_answer_from_a_window_already_over_does_not_spend_the_new_one():
    recorder = Recorder()
    start = int(recorder.now)
    budget = RateLimit(sleep=recorder.sleep, clock=recorder.clock)
    budget.wait_turn(60)
    budget.done(answer(X_RateLimit_Limit=10, X_RateLimit_Remaining=9, X_RateLimit_Reset=start + 60))
    budget.wait_turn(60)                      # slow: answered only after the next window began
    recorder.now += 61
    budget.wait_turn(60)
    budget.done(answer(X_RateLimit_Limit=10, X_RateLimit_Remaining=9, X_RateLimit_Reset=start + 121))
    budget.done(answer(X_RateLimit_Limit=10, X_RateLimit_Remaining=0, X_RateLimit_Reset=start + 60))  # the slow one
    for dummy in range(8):                    # 9 left, 1 of them taken by the slow request still in flight then
        budget.wait_turn(60)
    assert recorder.sleeps == []
    budget.wait_turn(60)
    assert recorder.sleeps == [60.0]


@pytest.mark.parametrize("reset", ["epoch", "seconds"])
def test_a_429_beyond_retry_max_wait_says_when_the_limit_resets_and_which_option_to_raise(reset):
    recorder = Recorder()
    value = str(int(recorder.now) + 300) if reset == "epoch" else "300"
    with responses.RequestsMock() as mocked:
        mocked.get(URL, status=429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": value},
                   json={"errors": [{"message": "too many requests"}]})
        with pytest.raises(SendGridError) as failure:
            make_client(recorder, retry_max_wait=60).request("GET", PATH, READ)
        assert len(mocked.calls) == 1
    message = str(failure.value)
    assert "HTTP 429: too many requests" in message
    assert ("SendGrid's rate limit resets in 300 seconds (at 22:18:20 UTC), beyond retry_max_wait (60 seconds): raise "
            "retry_max_wait, lower concurrency, or run again later.") in message
    assert failure.value.status == 429 and recorder.sleeps == []


@responses.activate
def test_an_answer_cut_off_mid_body_is_retried():
    responses.get(URL, body=requests.exceptions.ChunkedEncodingError("IncompleteRead(10 bytes read, 20 more expected)"))
    responses.get(URL, json=SETTINGS)
    recorder = Recorder()
    assert make_client(recorder).request("GET", PATH, READ) == SETTINGS
    assert len(responses.calls) == 2 and "retry 1 of 5" in recorder.warnings[0]


@responses.activate
def test_a_lost_connection_says_what_to_check_when_retries_are_spent():
    responses.get(URL, body=requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"))
    with pytest.raises(SendGridError) as failure:
        make_client(retries=0).request("GET", PATH, READ)
    assert str(failure.value) == (
        "Reading the Enforced TLS settings GET %s: the connection to the API was lost or refused (Connection aborted: "
        "RemoteDisconnected). Check api_url, the network and any proxy between this host and SendGrid, then run again." % URL)


@responses.activate
def test_any_other_requests_failure_is_a_message_not_a_traceback():
    responses.get(URL, body=requests.exceptions.InvalidHeader("Invalid leading whitespace in header value"))
    with pytest.raises(SendGridError, match=r"the request could not be sent \(InvalidHeader: Invalid leading whitespace"):
        make_client().request("GET", PATH, READ)


@pytest.mark.parametrize("value", [" billing", "billing ", "\tbilling"])
def test_on_behalf_of_with_surrounding_spaces_is_refused_before_any_request(value):
    with pytest.raises(SendGridError, match="on_behalf_of must"):
        make_client().account(value)


@pytest.mark.parametrize("url, expected", [
    ("HTTPS://api.sendgrid.com", "https://api.sendgrid.com"),
    ("https://api.sendgrid.com/", "https://api.sendgrid.com"),
    ("https://proxy.example.com/sendgrid", "https://proxy.example.com/sendgrid"),
    ("Http://127.0.0.1:8025", "http://127.0.0.1:8025"),
])
def test_base_url_scheme_is_case_insensitive_and_a_proxy_path_is_kept(url, expected):
    assert make_client(base_url=url).base_url == expected


@pytest.mark.parametrize("url", ["https://api.sendgrid.com/v3", "https://api.sendgrid.com/v3/", "http://127.0.0.1:8025/V3"])
def test_base_url_ending_in_v3_is_refused_saying_what_it_should_look_like(url):
    with pytest.raises(SendGridError) as failure:
        make_client(base_url=url)
    assert str(failure.value) == ("api_url must be the API's base URL without /v3 (the modules add /v3/...), such as "
                                  "https://api.sendgrid.com, got %r." % url)


@responses.activate
def test_404_without_on_behalf_of_says_to_check_the_base_url():
    responses.get("https://proxy.example.com/sendgrid" + PATH, status=404, body="Not Found")
    with pytest.raises(SendGridError, match="check that api_url is the API's base URL, such as https://api.sendgrid.com"):
        make_client(base_url="https://proxy.example.com/sendgrid").request("GET", PATH, READ)


@pytest.mark.parametrize("options, verify", [
    ({}, True),
    ({"ca_path": "CA"}, "CA"),
    ({"validate_certs": False, "ca_path": "CA"}, False),
    ({"validate_certs": False}, False),
])
def test_the_tasks_certificate_options_decide_even_when_the_environment_names_a_bundle(options, verify, tmp_path, monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE override Session.verify; the client passes verify with every request."""
    ca_file = tmp_path / "proxy-ca.pem"
    ca_file.write_text("not read by this test\n")
    options = {name: str(ca_file) if value == "CA" else value for name, value in options.items()}
    expected = str(ca_file) if verify == "CA" else verify
    bundle = tmp_path / "environment-bundle.pem"
    bundle.write_text("not read by this test either\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bundle))
    client = make_client(**options)
    sent = []
    client.session.send = lambda request, **kwargs: sent.append(kwargs["verify"]) or _fake_response()
    client.request("GET", PATH, READ)
    assert sent == [expected if options else str(bundle)]


def _fake_response():
    response = requests.Response()
    response.status_code, response._content = 200, b'{"require_tls": true}'  # pylint: disable=protected-access
    response.headers["Content-Type"] = "application/json"
    return response


def test_a_missing_ca_path_file_is_refused_before_any_request(tmp_path):
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(SendGridError) as failure:
        make_client(ca_path=missing)
    assert str(failure.value).startswith("ca_path %s is not a readable file: give the PEM file" % missing)


# ----------------------------------------------------------------------------- epoch seconds as ISO 8601 text

@pytest.mark.parametrize("epoch, text", [
    (1796656109, "2026-12-07T15:08:29Z"), (0, "1970-01-01T00:00:00Z"), (1764547260.9, "2025-12-01T00:01:00Z"),
    (None, None), ("1796656109", None), (True, None), (10 ** 30, None),
])
def test_iso_utc_is_utc_iso_8601_text_and_none_for_null_or_not_a_number(epoch, text):
    assert iso_utc(epoch) == text


def test_with_iso_times_adds_a_sibling_per_field_and_keeps_the_epoch_and_the_item():
    item = {"id": 7, "created_at": 1796656109, "updated_at": None}
    assert with_iso_times(item, ("created_at", "updated_at", "deleted_at")) == {
        "id": 7, "created_at": 1796656109, "created_at_iso": "2026-12-07T15:08:29Z", "updated_at": None,
        "updated_at_iso": None, "deleted_at_iso": None}
    assert item == {"id": 7, "created_at": 1796656109, "updated_at": None}


def test_a_ca_bundle_variable_naming_no_file_fails_naming_the_variable_before_any_request(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    with pytest.raises(SendGridError, match=r"^The environment variable REQUESTS_CA_BUNDLE names /nonexistent/bundle.pem, "
                                            r"which does not exist"):
        make_client()
    make_client(validate_certs=False)   # not used: no check
