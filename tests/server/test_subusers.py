"""Subusers (tools/sendgrid_api/subusers.py): GET /v3/subusers, subusers added at runtime, and the writes (POST, PATCH,
DELETE) with the password kept out of everything."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import json

import pytest
import requests

from .helpers import DEFAULT, KEY, SETTING_DEFAULTS, SUBUSERS, TLS, call, control, errors_of, options, path_of, sg


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


def test_subusers_added_at_runtime_get_every_default_setting(srv):
    srv.add_subusers(["late"])
    for key, default in SETTING_DEFAULTS.items():
        assert call(srv, "GET", path_of(key), obo="late").json() == default


# ----------------------------------------------------------------------------- writes

SUBUSERS_PATH = "/v3/subusers"
PASSWORD = "Pa55-word-7f3e9c1b"
NEW = {"username": "newsletter", "email": "news@example.com", "password": PASSWORD, "ips": ["192.0.2.10"]}
WRITE_SCOPES = ("subusers.create", "subusers.update", "subusers.delete")


def create(server, **changes):
    """POST a subuser; return the 200 answer."""
    response = call(server, "POST", SUBUSERS_PATH, json=dict(NEW, **changes))
    assert response.status_code == 200, response.text
    return response.json()


def test_post_creates_a_subuser_reachable_on_behalf_of(srv):
    answer = create(srv)
    assert answer == {"username": "newsletter", "user_id": 10004, "email": "news@example.com",
                      "credit_allocation": {"type": "unlimited"}}
    listed = call(srv, "GET", SUBUSERS_PATH, params={"include_region": "true"}).json()
    assert listed[-1] == {"disabled": False, "email": "news@example.com", "id": 10004, "username": "newsletter",
                          "region": "global"}
    assert call(srv, "GET", TLS, obo="newsletter").json() == DEFAULT
    assert call(srv, "PATCH", TLS, obo="newsletter", json={"require_tls": True}).status_code == 200
    owner = call(srv, "GET", "/v3/teammates", obo="newsletter").json()["result"][0]
    assert (owner["username"], owner["email"], owner["user_type"]) == ("newsletter", "news@example.com", "owner")
    srv.reset()
    assert call(srv, "GET", TLS, obo="newsletter").status_code == 404


def test_post_with_include_region_answers_the_region_and_an_eu_subuser_is_pinned(srv):
    answer = create(srv, username="eu-letters", region="eu", include_region=True)
    assert answer["region"] == "eu"
    assert create(srv, username="plain", include_region=False).get("region") is None
    refused = call(srv, "GET", TLS, obo="eu-letters")
    assert refused.status_code == 403 and "https://api.eu.sendgrid.com" in errors_of(refused)[0]["message"]
    eu_subusers = call(srv, "GET", SUBUSERS_PATH, params={"region": "eu"}).json()
    assert [s["username"] for s in eu_subusers] == ["eu-news", "eu-letters"]


@pytest.mark.parametrize("changes, field", [
    ({"username": None}, "username"), ({"username": ""}, "username"), ({"username": "a b"}, "username"),
    ({"username": "a/b"}, "username"), ({"username": "x" * 65}, "username"),
    ({"email": None}, "email"), ({"email": "news"}, "email"), ({"email": " n@example.com"}, "email"),
    ({"password": None}, "password"), ({"password": ""}, "password"), ({"password": 12345678}, "password"),
    ({"ips": None}, "ips"), ({"ips": "192.0.2.1"}, "ips"), ({"ips": ["192.0.2.300"]}, "ips[0]"),
    ({"ips": ["2001:db8::1"]}, "ips[0]"), ({"region": "us"}, "region"), ({"include_region": "yes"}, "include_region"),
    ({"disabled": True}, "disabled"),
])
def test_an_invalid_subuser_is_400_naming_the_field_and_never_echoes_the_password(srv, changes, field):
    body = {name: value for name, value in dict(NEW, **changes).items() if value is not None}
    response = call(srv, "POST", SUBUSERS_PATH, json=body)
    assert response.status_code == 400 and field in [item["field"] for item in errors_of(response)]
    assert PASSWORD not in response.text
    assert [s["username"] for s in srv.subusers()] == ["marketing", "billing", "eu-news"]


@pytest.mark.parametrize("username", ["marketing", "eu-news", "parent"])
def test_a_taken_username_is_400_username_exists(srv, username):
    response = call(srv, "POST", SUBUSERS_PATH, json=dict(NEW, username=username))
    assert response.status_code == 400 and errors_of(response) == [{"field": "username", "message": "username exists"}]


def test_the_password_is_masked_in_the_log_and_kept_nowhere(srv):
    create(srv)
    logged = srv.requests()[-1]
    assert logged["body"] == dict(NEW, password="********") and logged["body_is_json"] is True
    call(srv, "POST", SUBUSERS_PATH, data=f'{{"password": "{PASSWORD}", oops', headers={"Content-Type": "application/json"})
    assert srv.requests()[-1]["body"] == sg.MASKED_TEXT and srv.requests()[-1]["status"] == 400
    everything = json.dumps([srv.requests(), control(srv, "GET", "requests"), srv.subusers(), control(srv, "GET", "subusers"),
                             {key: srv.state(key) for key in sg.SETTINGS}, call(srv, "GET", SUBUSERS_PATH).json(),
                             call(srv, "GET", "/v3/teammates", obo="newsletter").json()])
    assert PASSWORD not in everything
    assert PASSWORD not in repr(vars(srv.backend))
    # other routes' bodies are logged as sent
    call(srv, "PATCH", TLS, json={"require_tls": True})
    assert srv.requests()[-1]["body"] == {"require_tls": True}


def test_subuser_ids_are_never_given_twice(srv):
    first = create(srv, username="one")["user_id"]
    assert call(srv, "DELETE", f"{SUBUSERS_PATH}/one").status_code == 204
    second = create(srv, username="two")["user_id"]
    assert second > first
    srv.reset()
    assert create(srv, username="three")["user_id"] > second


def test_patch_disables_and_enables_a_subuser(srv):
    for disabled in (True, False):
        response = call(srv, "PATCH", f"{SUBUSERS_PATH}/marketing", json={"disabled": disabled})
        assert response.status_code == 204 and response.content == b""
        assert call(srv, "GET", SUBUSERS_PATH, params={"username": "marketing"}).json()[0]["disabled"] is disabled


@pytest.mark.parametrize("name, body, field, message", [
    ("marketing", {}, None, "no fields provided"), ("nobody", {"disabled": True}, "username", "invalid username"),
    ("marketing", {"disabled": "yes"}, "disabled", None), ("marketing", {"disabled": True, "email": "x@y.z"}, "email", None),
])
def test_an_invalid_patch_is_400_and_changes_nothing(srv, name, body, field, message):
    response = call(srv, "PATCH", f"{SUBUSERS_PATH}/{name}", json=body)
    assert response.status_code == 400
    item = next(item for item in errors_of(response) if item["field"] == field)
    assert message is None or item["message"] == message
    assert [s["disabled"] for s in srv.subusers()] == [False, True, False]


def test_delete_removes_the_subuser_its_state_and_its_keys(srv):
    key = call(srv, "POST", "/v3/api_keys", obo="marketing", json={"name": "m", "scopes": [sg.SCOPE_TLS_READ]}).json()
    assert call(srv, "GET", TLS, key=key["api_key"]).status_code == 200
    deleted = call(srv, "DELETE", f"{SUBUSERS_PATH}/marketing")
    assert deleted.status_code == 204 and deleted.content == b""
    assert [s["username"] for s in call(srv, "GET", SUBUSERS_PATH).json()] == ["billing", "eu-news"]
    assert call(srv, "GET", TLS, obo="marketing").status_code == 404
    assert "marketing" not in srv.state() and "marketing" not in srv.state("api_keys")
    assert call(srv, "GET", TLS, key=key["api_key"]).status_code == 401
    missing = call(srv, "DELETE", f"{SUBUSERS_PATH}/marketing")
    assert missing.status_code == 404 and errors_of(missing)[0]["field"] == "username"
    # a subuser created again under that name starts afresh, without the old keys
    create(srv, username="marketing")
    assert call(srv, "GET", TLS, key=key["api_key"]).status_code == 401
    assert call(srv, "GET", "/v3/api_keys", obo="marketing").json() == {"result": []}


@pytest.mark.parametrize("obo", ["marketing", "account-id 777"])
def test_subuser_writes_on_behalf_of_an_account_are_403(srv, obo):
    for method, path, body in (("POST", SUBUSERS_PATH, NEW), ("PATCH", f"{SUBUSERS_PATH}/billing", {"disabled": False}),
                               ("DELETE", f"{SUBUSERS_PATH}/billing", None)):
        response = call(srv, method, path, obo=obo, json=body)
        assert response.status_code == 403 and errors_of(response)
    assert [s["username"] for s in srv.subusers()] == ["marketing", "billing", "eu-news"]


@pytest.fixture(name="subusers_scoped_srv", scope="module")
def fixture_subusers_scoped_srv():
    """A server with, per subusers write scope, a key holding only it and one holding every other scope."""
    keys = {KEY: sg.ALL_SCOPES}
    for scope in WRITE_SCOPES:
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.mark.parametrize("method, path, body, scope, status", [
    ("POST", SUBUSERS_PATH, NEW, "subusers.create", 200),
    ("PATCH", SUBUSERS_PATH + "/billing", {"disabled": False}, "subusers.update", 204),
    ("DELETE", SUBUSERS_PATH + "/billing", None, "subusers.delete", 204),
])
def test_subuser_writes_need_their_own_scope(subusers_scoped_srv, method, path, body, scope, status):
    srv = subusers_scoped_srv
    assert sg.ROUTES[path.replace("/billing", "/{subuser_name}")][method] == scope
    for key, expected in ((f"SG.only.{scope}", status), (f"SG.but.{scope}", 403), (None, 401)):
        srv.reset()
        response = call(srv, method, path, key=key, json=body)
        assert response.status_code == expected, response.text
        if expected == 403:
            assert response.json() == {"errors": [{"field": None, "message": "access forbidden"}]}
            assert len(srv.subusers()) == 3


def test_subuser_writes_take_faults(srv):
    srv.add_fault("error", status=503, method="POST", path=SUBUSERS_PATH)
    assert call(srv, "POST", SUBUSERS_PATH, json=NEW).status_code == 503
    assert len(srv.subusers()) == 3 and "********" == srv.requests()[-1]["body"]["password"]
    srv.add_fault("not_applied")
    lost = call(srv, "PATCH", f"{SUBUSERS_PATH}/marketing", json={"disabled": True})
    assert lost.status_code == 204 and srv.requests()[-1]["fault"] == "not_applied"
    assert srv.subusers()[0]["disabled"] is False
    srv.add_fault("drop", method="DELETE")
    with pytest.raises(requests.ConnectionError):
        call(srv, "DELETE", f"{SUBUSERS_PATH}/marketing")
    assert len(srv.subusers()) == 3
