"""Event webhooks (tools/sendgrid_api/webhooks.py): several webhooks per account by id, signing, OAuth with a
write-only secret, the test route, and how tests plant webhooks."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments,too-many-positional-arguments

import base64
import hashlib
import json
import re
import uuid

import pytest
import requests

from .helpers import KEY, SUBUSERS, call, errors_of, sg

SETTINGS = "/v3/user/webhooks/event/settings"
ALL = SETTINGS + "/all"
SIGNED = SETTINGS + "/signed"
TEST = "/v3/user/webhooks/event/test"
SETTING = "user/webhooks/event/settings"
EVENTS = ["group_resubscribe", "delivered", "group_unsubscribe", "spam_report", "bounce", "deferred", "unsubscribe",
          "processed", "open", "click", "dropped"]
ANSWERED = ["enabled", "url"] + EVENTS + ["friendly_name", "id", "created_date", "updated_date"]
SECRET = "335a9b0c65324fd2a62e2953d4b158-secret"
OAUTH = {"oauth_client_id": "a835e7210bbb47edbfa71bdfc909b2d7", "oauth_client_secret": SECRET,
         "oauth_token_url": "https://oauth.example.com/token"}
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def create(server, obo=None, **body):
    response = call(server, "POST", SETTINGS, obo=obo, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def webhooks(server, obo=None, **params):
    response = call(server, "GET", ALL, obo=obo, params=params)
    assert response.status_code == 200, response.text
    assert response.json()["max_allowed"] == 5
    return response.json()["webhooks"]


def test_an_account_without_webhooks_lists_one_empty_object_as_the_spec_shows(srv):
    assert call(srv, "GET", ALL).json() == {"max_allowed": 5, "webhooks": [{}]}
    for path in (SETTINGS, SIGNED):
        missing = call(srv, "GET", path)
        assert missing.status_code == 404 and errors_of(missing) == [{"field": "id", "message": "Invalid id provided."}]


def test_a_new_webhook_has_every_event_off_and_an_id(srv):
    webhook = create(srv, url="https://hooks.example.com/events")
    assert list(webhook) == ANSWERED
    assert str(uuid.UUID(webhook["id"])) == webhook["id"]
    assert DATE.match(webhook["created_date"]) and webhook["updated_date"] == webhook["created_date"]
    assert webhook == {"enabled": False, "url": "https://hooks.example.com/events", **dict.fromkeys(EVENTS, False),
                       "friendly_name": None, "id": webhook["id"], "created_date": webhook["created_date"],
                       "updated_date": webhook["updated_date"]}
    one = call(srv, "GET", f"{SETTINGS}/{webhook['id']}").json()
    # GET of one has no dates (the spec's EventWebhookNoDatesResponse)
    assert one == {name: value for name, value in webhook.items() if not name.endswith("_date")}
    assert webhooks(srv) == [webhook]


def test_oauth_is_answered_without_its_secret_anywhere(srv):
    body = {"url": "https://hooks.example.com/a", "enabled": True, "open": True, "friendly_name": "Engagement", **OAUTH}
    webhook = create(srv, **body)
    assert (webhook["oauth_client_id"], webhook["oauth_token_url"]) == (OAUTH["oauth_client_id"], OAUTH["oauth_token_url"])
    assert list(webhook) == ANSWERED + ["oauth_client_id", "oauth_token_url"]
    patched = call(srv, "PATCH", f"{SETTINGS}/{webhook['id']}", json={"url": body["url"], **OAUTH}).json()
    call(srv, "POST", TEST, json={"url": body["url"], **OAUTH})
    shown = [webhook, patched, webhooks(srv), call(srv, "GET", f"{SETTINGS}/{webhook['id']}").json(), srv.state(SETTING),
             srv.requests(), requests.get(f"{srv.url}/__control__/state", params={"setting": SETTING}, timeout=5).json()]
    assert SECRET not in json.dumps(shown)
    assert [entry["body"]["oauth_client_secret"] for entry in srv.requests() if entry["body"]] == ["********"] * 3
    # what the state keeps: the digest, so tests can check what was sent
    assert srv.state(SETTING)["parent"][0]["oauth_client_secret_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()


@pytest.mark.parametrize("body, field", [
    ({}, "url"), ({"url": "ftp://example.com"}, "url"), ({"url": "not a url"}, "url"), ({"url": 5}, "url"),
    ({"url": "https://h.example.com", "open": "yes"}, "open"), ({"url": "https://h.example.com", "enabled": 1}, "enabled"),
    ({"url": "https://h.example.com", "friendly_name": 5}, "friendly_name"),
    ({"url": "https://h.example.com", "oauth_client_id": "id"}, "oauth_token_url"),
    ({"url": "https://h.example.com", "oauth_token_url": "https://o.example.com"}, "oauth_client_id"),
    ({"url": "https://h.example.com", "oauth_client_secret": "s"}, "oauth_client_secret"),
    ({"url": "https://h.example.com", "oauth_client_id": "id", "oauth_token_url": "https://o.example.com"},
     "oauth_client_secret"),
    ({"url": "https://h.example.com", "oauth_client_id": "id", "oauth_token_url": "nope", "oauth_client_secret": "s"},
     "oauth_token_url"),
    ({"url": "https://h.example.com", "public_key": "k"}, "public_key"), ({"url": "https://h.example.com", "id": "x"}, "id"),
])
def test_an_invalid_webhook_is_400_naming_the_field_and_creates_nothing(srv, body, field):
    response = call(srv, "POST", SETTINGS, json=body)
    assert response.status_code == 400 and field in [item["field"] for item in errors_of(response)], response.text
    assert srv.state(SETTING)["parent"] == []


def test_a_bad_url_is_refused_in_the_specs_words(srv):
    response = call(srv, "POST", SETTINGS, json={"url": "example.com"})
    assert errors_of(response) == [{"field": "url", "message": "'example.com' is not a valid url"}]


def test_urls_are_unique_and_five_webhooks_are_the_most(srv):
    first = create(srv, url="https://hooks.example.com/1")
    twice = call(srv, "POST", SETTINGS, json={"url": "https://hooks.example.com/1"})
    assert twice.status_code == 400 and twice.json() == {"errors": [{
        "field": "url", "id": first["id"], "url": "https://hooks.example.com/1",
        "message": "Webhook at 'https://hooks.example.com/1' already exists. Please provide a unique URL."}]}
    for number in range(2, 6):
        create(srv, url=f"https://hooks.example.com/{number}")
    sixth = call(srv, "POST", SETTINGS, json={"url": "https://hooks.example.com/6"})
    assert sixth.status_code == 400
    assert errors_of(sixth)[0]["message"] == "You have reached the maximum number of webhooks per your current billing plan."
    assert len(webhooks(srv)) == 5
    # another account has its own five
    assert create(srv, obo="marketing", url="https://hooks.example.com/1")["url"] == "https://hooks.example.com/1"


def test_patch_needs_the_url_and_keeps_what_it_leaves_out(srv):
    webhook = create(srv, url="https://hooks.example.com/a", enabled=True, open=True, friendly_name="Engagement")
    other = create(srv, url="https://hooks.example.com/b")
    path = f"{SETTINGS}/{webhook['id']}"
    missing = call(srv, "PATCH", path, json={"open": False})
    assert missing.status_code == 400 and errors_of(missing)[0]["field"] == "url"
    patched = call(srv, "PATCH", path, json={"url": "https://hooks.example.com/a2", "click": True, "open": None})
    assert patched.status_code == 200 and list(patched.json()) == ANSWERED
    assert {name: patched.json()[name] for name in ("url", "enabled", "open", "click", "friendly_name")} == {
        "url": "https://hooks.example.com/a2", "enabled": True, "open": True, "click": True, "friendly_name": "Engagement"}
    assert patched.json()["created_date"] == webhook["created_date"]
    clash = call(srv, "PATCH", path, json={"url": other["url"]})
    assert clash.status_code == 400 and clash.json()["errors"][0]["id"] == other["id"]
    unknown = call(srv, "PATCH", f"{SETTINGS}/nope", json={"url": "https://x.example.com"})
    assert unknown.status_code == 404 and errors_of(unknown)[0]["message"] == "Invalid id provided."
    srv.add_fault("not_applied")
    lost = call(srv, "PATCH", path, json={"url": "https://hooks.example.com/a3"})
    assert lost.status_code == 200 and lost.json()["url"] == "https://hooks.example.com/a2"


def test_patch_changes_and_removes_oauth(srv):
    webhook = create(srv, url="https://hooks.example.com/a", **OAUTH)
    path = f"{SETTINGS}/{webhook['id']}"
    # the kept secret stays: client id and token URL alone may change
    moved = call(srv, "PATCH", path, json={"url": webhook["url"], "oauth_client_id": "other",
                                           "oauth_token_url": "https://oauth2.example.com"})
    assert moved.status_code == 200 and moved.json()["oauth_client_id"] == "other"
    removed = call(srv, "PATCH", path, json={"url": webhook["url"], "oauth_client_id": "", "oauth_token_url": "",
                                             "oauth_client_secret": ""})
    assert removed.status_code == 200 and "oauth_client_id" not in removed.json()
    assert srv.state(SETTING)["parent"][0]["oauth_client_secret_sha256"] is None
    # with no secret kept, one is needed again
    again = call(srv, "PATCH", path, json={"url": webhook["url"], "oauth_client_id": "x",
                                           "oauth_token_url": "https://oauth.example.com"})
    assert again.status_code == 400 and errors_of(again)[0]["field"] == "oauth_client_secret"


def test_routes_without_an_id_work_on_the_oldest_webhook_and_delete_needs_one(srv):
    srv.set_state("parent", [{"url": "https://new.example.com", "created_date": "2024-05-01T00:00:00Z"},
                             {"url": "https://old.example.com", "created_date": "2023-01-01T12:00:00Z"}], setting=SETTING)
    assert call(srv, "GET", SETTINGS).json()["url"] == "https://old.example.com"
    assert [w["url"] for w in webhooks(srv)] == ["https://old.example.com", "https://new.example.com"]
    patched = call(srv, "PATCH", SETTINGS, json={"url": "https://old.example.com", "enabled": True})
    assert patched.status_code == 200 and patched.json()["enabled"] is True
    refused = call(srv, "DELETE", SETTINGS)
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, POST, PATCH"
    oldest = webhooks(srv)[0]
    assert call(srv, "DELETE", f"{SETTINGS}/{oldest['id']}").status_code == 204
    assert call(srv, "DELETE", f"{SETTINGS}/{oldest['id']}").status_code == 404
    assert call(srv, "GET", SETTINGS).json()["url"] == "https://new.example.com"


def test_signing_makes_a_public_key_shown_while_it_is_on(srv):
    webhook = create(srv, url="https://hooks.example.com/a")
    path = f"{SIGNED}/{webhook['id']}"
    assert call(srv, "GET", path).json() == {"id": webhook["id"], "public_key": ""}
    on = call(srv, "PATCH", path, json={"enabled": True})
    assert on.status_code == 200 and on.json()["id"] == webhook["id"]
    key = on.json()["public_key"]
    der = base64.b64decode(key)
    assert len(der) == 91 and der.startswith(bytes.fromhex("3059301306072a8648ce3d0201"))
    assert call(srv, "GET", path).json() == {"id": webhook["id"], "public_key": key}
    assert call(srv, "GET", f"{SETTINGS}/{webhook['id']}").json()["public_key"] == key
    assert webhooks(srv)[0]["public_key"] == key
    # never in the answers of POST and PATCH (their schema has none)
    assert "public_key" not in call(srv, "PATCH", f"{SETTINGS}/{webhook['id']}", json={"url": webhook["url"]}).json()
    assert call(srv, "PATCH", path, json={"enabled": False}).json() == {"id": webhook["id"], "public_key": ""}
    assert "public_key" not in webhooks(srv)[0]
    assert call(srv, "PATCH", path, json={"enabled": True}).json()["public_key"] == key
    # without an id: the oldest, answered with the id ""
    assert call(srv, "GET", SIGNED).json() == {"id": "", "public_key": key}
    for body in ({}, {"enabled": "true"}, {"enabled": True, "key": "x"}):
        assert call(srv, "PATCH", path, json=body).status_code == 400
    assert call(srv, "PATCH", f"{SIGNED}/nope", json={"enabled": True}).status_code == 404


def test_include_account_status_change_adds_the_field(srv):
    webhook = create(srv, url="https://hooks.example.com/a", account_status_change=True)
    assert "account_status_change" not in webhook and "account_status_change" not in webhooks(srv)[0]
    params = {"include": "account_status_change"}
    assert webhooks(srv, **params)[0]["account_status_change"] is True
    one = call(srv, "GET", f"{SETTINGS}/{webhook['id']}", params=params).json()
    assert list(one)[:3] == ["enabled", "url", "account_status_change"]
    patched = call(srv, "PATCH", f"{SETTINGS}/{webhook['id']}", params=params,
                   json={"url": webhook["url"], "account_status_change": False})
    assert patched.json()["account_status_change"] is False


def test_the_test_route_answers_204_and_pulls_a_kept_secret(srv):
    plain = create(srv, url="https://hooks.example.com/a")
    secured = create(srv, url="https://hooks.example.com/b", **OAUTH)
    sent = call(srv, "POST", TEST, json={"url": "https://anywhere.example.com"})
    assert sent.status_code == 204 and sent.content == b""
    oauth = {"oauth_client_id": "x", "oauth_token_url": "https://oauth.example.com"}
    assert call(srv, "POST", TEST, json={"url": secured["url"], "id": secured["id"], **oauth}).status_code == 204
    refused = call(srv, "POST", TEST, json={"url": plain["url"], "id": plain["id"], **oauth})
    assert refused.status_code == 400 and errors_of(refused)[0]["field"] == "oauth_client_secret"
    assert call(srv, "POST", TEST, json={"url": plain["url"], **oauth, "oauth_client_secret": "s"}).status_code == 204
    assert call(srv, "POST", TEST, json={"url": plain["url"], "id": "nope"}).status_code == 404
    for body in ({}, {"url": "nope"}, {"url": plain["url"], "enabled": True}):
        assert call(srv, "POST", TEST, json=body).status_code == 400


def test_webhooks_are_per_account_and_on_behalf_of_is_resolved_as_everywhere(srv):
    theirs = create(srv, obo="account-id 777", url="https://hooks.example.com/c")
    assert call(srv, "GET", ALL).json()["webhooks"] == [{}]
    assert call(srv, "GET", f"{SETTINGS}/{theirs['id']}").status_code == 404
    assert webhooks(srv, obo="account-id 777")[0]["id"] == theirs["id"]
    for obo, status in (("nobody", 404), ("eu-news", 403)):
        assert call(srv, "POST", SETTINGS, obo=obo, json={"url": "https://x.example.com"}).status_code == status


@pytest.fixture(name="scope_srv", scope="module")
def fixture_scope_srv():
    keys = {KEY: sg.ALL_SCOPES}
    for scope in ("user.webhooks.event.settings.read", "user.webhooks.event.settings.update",
                  "user.webhooks.event.test.create"):
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


READ, UPDATE, TEST_SCOPE = ("user.webhooks.event.settings.read", "user.webhooks.event.settings.update",
                            "user.webhooks.event.test.create")


@pytest.mark.parametrize("method, path, declared, body, scope, status", [
    ("GET", ALL, ALL, None, READ, 200),
    ("POST", SETTINGS, SETTINGS, {"url": "https://new.example.com"}, UPDATE, 201),
    ("GET", SETTINGS, SETTINGS, None, READ, 200),
    ("PATCH", SETTINGS, SETTINGS, {"url": "https://w.example.com"}, UPDATE, 200),
    ("GET", SETTINGS + "/w1", SETTINGS + "/{id}", None, READ, 200),
    ("PATCH", SETTINGS + "/w1", SETTINGS + "/{id}", {"url": "https://w.example.com"}, UPDATE, 200),
    ("DELETE", SETTINGS + "/w1", SETTINGS + "/{id}", None, UPDATE, 204),
    ("GET", SIGNED, SIGNED, None, READ, 200),
    ("PATCH", SIGNED, SIGNED, {"enabled": True}, UPDATE, 200),
    ("GET", SIGNED + "/w1", SIGNED + "/{id}", None, READ, 200),
    ("PATCH", SIGNED + "/w1", SIGNED + "/{id}", {"enabled": True}, UPDATE, 200),
    ("POST", TEST, TEST, {"url": "https://t.example.com"}, TEST_SCOPE, 204),
])
def test_webhook_routes_need_their_own_scope(scope_srv, method, path, declared, body, scope, status):
    srv = scope_srv
    assert sg.ROUTES[declared][method] == scope
    for key, expected in ((f"SG.only.{scope}", status), (f"SG.but.{scope}", 403), (None, 401)):
        srv.reset()
        srv.set_state("parent", [{"url": "https://w.example.com", "id": "w1"}], setting=SETTING)
        response = call(srv, method, path, key=key, json=body)
        assert response.status_code == expected, response.text


def test_webhook_scopes_are_in_all_scopes_after_the_whitelabel_ones():
    first = sg.ALL_SCOPES.index(sg.SCOPE_WEBHOOKS_READ)
    assert sg.ALL_SCOPES[first - 1] == sg.SCOPE_WHITELABEL_DELETE
    assert sg.ALL_SCOPES[first:first + 3] == (READ, UPDATE, TEST_SCOPE)
    assert (sg.SCOPE_WEBHOOKS_UPDATE, sg.SCOPE_WEBHOOKS_TEST) == (UPDATE, TEST_SCOPE)


def test_planted_webhooks_and_other_shapes(srv, tmp_path):
    planted = srv.set_state("marketing", [{"url": "https://a.example.com", "id": "legacy", "created_date": None,
                                           "signed": True, "enabled": True, "bounce": True, **OAUTH}], setting=SETTING)
    assert planted[0]["oauth_client_secret_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
    shown = webhooks(srv, obo="marketing")[0]
    assert (shown["id"], shown["created_date"], shown["bounce"], bool(shown["public_key"])) == ("legacy", None, True, True)
    for value in ({"url": "https://a.example.com"}, [{"enabled": True}], [{"url": "nope"}],
                  [{"url": "https://b.example.com", "open": "yes"}], [{"url": "https://b.example.com", "x": 1}],
                  [{"url": "https://b.example.com", "id": "legacy"}], [{"url": "https://b.example.com", "created_date": "today"}]):
        with pytest.raises(ValueError):
            srv.set_state("marketing", value, setting=SETTING)
    assert len(srv.state(SETTING)["marketing"]) == 1
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)}, "state": {
        "parent": {SETTING: [{"url": "https://file.example.com", "friendly_name": "From the file"}]}}}))
    with sg.running_server(accounts_file=str(accounts)) as other:
        assert webhooks(other)[0]["friendly_name"] == "From the file"
