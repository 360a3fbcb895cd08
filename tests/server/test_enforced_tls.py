"""Enforced TLS (tools/sendgrid_api/enforced_tls.py): GET and PATCH /v3/user/settings/enforced_tls."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import pytest

from .helpers import DEFAULT, TLS, call, errors_of


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
