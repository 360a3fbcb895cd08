"""Scopes (tools/sendgrid_api/scopes.py): GET /v3/scopes, the scopes of the calling key."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import sys

import pytest
import requests

from .helpers import KEY, NO_SCOPES, READ_ONLY, UPDATE_ONLY, call, errors_of, sg


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
