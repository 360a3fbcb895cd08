"""Mail settings (tools/sendgrid_api/mail_settings.py): /v3/mail_settings and its six settings."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import pytest

from .helpers import (ACCOUNTS, DEFAULT, MAIL, MAIL_DEFAULTS, MAIL_ROUTES, SETTING_DEFAULTS, call,
                      errors_of, names_enabled, path_of, sg)


@pytest.mark.parametrize("key", MAIL_DEFAULTS)
def test_new_settings_start_at_their_defaults_for_every_account(srv, key):
    for obo in (None, "marketing", "account-id 777"):
        response = call(srv, "GET", path_of(key), obo=obo)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert response.json() == SETTING_DEFAULTS[key]
    assert srv.state(key) == {account: SETTING_DEFAULTS[key] for account in ACCOUNTS}


@pytest.mark.parametrize("key, first, second", [
    ("mail_settings/address_whitelist", {"enabled": True, "list": ["email1@example.com", "example.com"]},
     {"list": ["sub.example.org"]}),
    ("mail_settings/bounce_purge", {"enabled": True, "soft_bounces": 5}, {"hard_bounces": 30, "soft_bounces": None}),
    ("mail_settings/footer", {"enabled": True, "html_content": "<p>footer</p>"}, {"plain_content": "footer"}),
    ("mail_settings/forward_bounce", {"enabled": True, "email": "bounces@example.com"}, {"email": None}),
    ("mail_settings/forward_spam", {"email": "a@example.com, b@example.com"}, {"enabled": True}),
    ("mail_settings/template", {"html_content": "<html><% body %></html>"}, {"enabled": True}),
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


@pytest.mark.parametrize("method, path, scope", MAIL_ROUTES)
def test_new_routes_need_their_own_scope(scoped_srv, method, path, scope):
    assert scope in sg.ALL_SCOPES
    body = {} if method == "PATCH" else None
    assert call(scoped_srv, method, path, key=f"SG.only.{scope}", json=body).status_code == 200
    refused = call(scoped_srv, method, path, key=f"SG.but.{scope}", json=body)
    assert refused.status_code == 403
    assert refused.json() == {"errors": [{"field": None, "message": "access forbidden"}]}
    assert call(scoped_srv, method, path, key=None, json=body).status_code == 401


@pytest.mark.parametrize("method, path, allow", [("POST", f"{MAIL}/footer", "GET, PATCH"), ("PATCH", MAIL, "GET")])
def test_new_paths_answer_405_with_allow(srv, method, path, allow):
    response = call(srv, method, path, json={})
    assert response.status_code == 405 and response.headers["Allow"] == allow
    errors_of(response)


@pytest.mark.parametrize("key, body, field", [
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
    assert srv.state(key)["parent"] == SETTING_DEFAULTS[key]


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
    assert response.status_code == 200 and response.json() == dict(SETTING_DEFAULTS[key], **body)


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
