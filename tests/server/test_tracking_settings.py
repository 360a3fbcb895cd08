"""Tracking settings (tools/sendgrid_api/tracking_settings.py): /v3/tracking_settings and its four settings."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import json

import pytest

from .helpers import (ACCOUNTS, DEFAULT, KEY, SETTING_DEFAULTS, TRACKING, TRACKING_DEFAULTS,
                      TRACKING_ROUTES, call, errors_of, names_enabled, path_of, sg)


@pytest.mark.parametrize("key", TRACKING_DEFAULTS)
def test_new_settings_start_at_their_defaults_for_every_account(srv, key):
    for obo in (None, "marketing", "account-id 777"):
        response = call(srv, "GET", path_of(key), obo=obo)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert response.json() == SETTING_DEFAULTS[key]
    assert srv.state(key) == {account: SETTING_DEFAULTS[key] for account in ACCOUNTS}


@pytest.mark.parametrize("key, first, second", [
    ("tracking_settings/click", {"enabled": False}, {}),
    ("tracking_settings/open", {"enabled": False}, {"enabled": True}),
    ("tracking_settings/google_analytics", {"enabled": True, "utm_source": "sendgrid.com", "utm_medium": "email"},
     {"utm_campaign": "website", "utm_term": "", "utm_content": "ads"}),
    ("tracking_settings/subscription", {"enabled": True, "html_content": "<p>bye <% %></p>", "plain_content": "bye <% %>"},
     {"landing": "<p>gone</p>", "replace": "[unsub]", "url": "https://example.com/unsubscribe"}),
])
def test_new_setting_patch_is_partial_and_answers_the_whole_object(srv, key, first, second):
    expected = dict(SETTING_DEFAULTS[key], **first)
    response = call(srv, "PATCH", path_of(key), obo="marketing", json=first)
    assert response.status_code == 200 and response.json() == expected
    expected.update(second)
    assert call(srv, "PATCH", path_of(key), obo="marketing", json=second).json() == expected
    assert call(srv, "GET", path_of(key), obo="marketing").json() == expected
    state = srv.state(key)
    assert state["marketing"] == expected
    assert all(state[account] == SETTING_DEFAULTS[key] for account in ACCOUNTS if account != "marketing")
    # Enforced TLS is a separate object
    assert srv.state()["marketing"] == DEFAULT


@pytest.mark.parametrize("method, path, scope", TRACKING_ROUTES)
def test_new_routes_need_their_own_scope(scoped_srv, method, path, scope):
    assert scope in sg.ALL_SCOPES
    body = {} if method == "PATCH" else None
    assert call(scoped_srv, method, path, key=f"SG.only.{scope}", json=body).status_code == 200
    refused = call(scoped_srv, method, path, key=f"SG.but.{scope}", json=body)
    assert refused.status_code == 403
    assert refused.json() == {"errors": [{"field": None, "message": "access forbidden"}]}
    assert call(scoped_srv, method, path, key=None, json=body).status_code == 401


@pytest.mark.parametrize("method, path, allow", [("PUT", f"{TRACKING}/open", "GET, PATCH"), ("DELETE", TRACKING, "GET")])
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
])
def test_new_setting_patch_rejects_bad_fields_naming_them_and_stores_nothing(srv, key, body, field):
    response = call(srv, "PATCH", path_of(key), json=body)
    assert response.status_code == 400
    assert field in [e["field"] for e in errors_of(response)]
    assert srv.state(key)["parent"] == SETTING_DEFAULTS[key]


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


def test_the_eu_host_serves_its_subusers_settings(tmp_path):
    accounts = tmp_path / "accounts.json"
    subusers = [{"username": "g1"}, {"username": "e1", "region": "eu"}]
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)}, "subusers": subusers}))
    with sg.running_server(accounts_file=str(accounts), region="eu") as eu:
        assert call(eu, "PATCH", f"{TRACKING}/open", obo="e1", json={"enabled": False}).json() == {"enabled": False}
        assert call(eu, "GET", f"{TRACKING}/open", obo="g1").status_code == 403
        assert eu.state("tracking_settings/open")["e1"] == {"enabled": False}
