"""Faults (tools/sendgrid_api/faults.py): each kind, how they match requests, and how they are given."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import json
import time

import pytest
import requests
import urllib3

from .helpers import DEFAULT, MAIL, SETTING_DEFAULTS, TLS, TRACKING, call, errors_of, options, raw_exchange, sg


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
    assert srv.state("mail_settings/template")["parent"] == SETTING_DEFAULTS["mail_settings/template"]
    assert [(e["path"], e["status"], e["fault"]) for e in srv.requests()] == [
        (TLS, 200, None), (f"{MAIL}/footer", 503, "error"), (TRACKING, 429, "rate_limit"),
        (f"{TRACKING}/click", 502, "html"), (f"{MAIL}/template", None, "drop")]


def test_fault_not_applied_on_a_new_route_acknowledges_without_storing(srv):
    srv.add_fault("not_applied", path=f"{MAIL}/footer")
    assert call(srv, "PATCH", f"{TRACKING}/open", json={"enabled": False}).json() == {"enabled": False}
    # a rejected PATCH does not use the fault up
    assert call(srv, "PATCH", f"{MAIL}/footer", json={"enabled": "yes"}).status_code == 400
    response = call(srv, "PATCH", f"{MAIL}/footer", json={"enabled": True, "html_content": "<p>x</p>"})
    assert response.status_code == 200 and response.json() == SETTING_DEFAULTS["mail_settings/footer"]
    assert srv.state("mail_settings/footer")["parent"] == SETTING_DEFAULTS["mail_settings/footer"]
    assert [e["fault"] for e in srv.requests()] == [None, None, "not_applied"]
    assert call(srv, "PATCH", f"{MAIL}/footer", json={"enabled": True}).json()["enabled"] is True


def test_fault_truncated_on_a_new_route_stores_the_patch_and_cuts_the_answer(srv):
    stored = dict(SETTING_DEFAULTS["tracking_settings/google_analytics"], enabled=True, utm_source="sg")
    srv.add_fault("truncated", method="PATCH", bytes=7)
    status, headers, received = raw_exchange(srv, "PATCH", f"{TRACKING}/google_analytics", {"enabled": True, "utm_source": "sg"})
    assert status == "HTTP/1.1 200 OK" and headers["content-length"] == str(len(json.dumps(stored)))
    assert received == json.dumps(stored).encode()[:7]
    assert srv.state("tracking_settings/google_analytics")["parent"] == stored
    srv.add_fault("truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        call(srv, "GET", MAIL)
    assert [(e["fault"], e["status"]) for e in srv.requests()] == [("truncated", 200), ("truncated", 200)]
