"""API keys (tools/sendgrid_api/api_keys.py): GET /v3/api_keys and /v3/api_keys/{api_key_id}, the writes (POST, PUT,
PATCH, DELETE), created keys that authenticate, and their secrets kept out of every GET, the state and the log."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import json
import re

import pytest
import requests

from .helpers import KEY, KEYS, READ_ONLY, SUBUSERS, TLS, call, control, errors_of, options, sg


API_KEYS = "/v3/api_keys"


KEYS_SETTING = "api_keys"


CI_KEY = {"name": "ci", "scopes": ["mail.send", "api_keys.create"]}


def test_api_keys_of_the_parent_are_its_start_keys_by_name_and_id_never_their_secret(srv):
    listed = call(srv, "GET", API_KEYS)
    assert listed.status_code == 200
    assert listed.json() == {"result": [{"name": f"start key {n}", "api_key_id": f"start-key-{n}"} for n in (1, 2, 3, 4)]}
    one = call(srv, "GET", API_KEYS + "/start-key-2").json()
    assert one == {"result": [{"name": "start key 2", "api_key_id": "start-key-2", "scopes": [sg.SCOPE_TLS_READ]}]}
    assert call(srv, "GET", API_KEYS + "/start-key-1").json()["result"][0]["scopes"] == sorted(sg.ALL_SCOPES)
    for response in (listed, call(srv, "GET", API_KEYS + "/start-key-4")):
        assert not any(secret in response.text for secret in KEYS)


def test_api_keys_planted_on_an_account_are_its_own_and_limit_caps_the_list(srv):
    planted = srv.set_state("marketing", [CI_KEY, {"name": "web", "scopes": ["mail.send"], "api_key_id": "web-1"}],
                            setting=KEYS_SETTING)
    ci_id = planted[0]["api_key_id"]
    assert planted == [dict(CI_KEY, api_key_id=ci_id), {"name": "web", "scopes": ["mail.send"], "api_key_id": "web-1"}]
    assert call(srv, "GET", API_KEYS, obo="marketing").json() == {
        "result": [{"name": "ci", "api_key_id": ci_id}, {"name": "web", "api_key_id": "web-1"}]}
    assert call(srv, "GET", API_KEYS, obo="marketing", params={"limit": 1}).json() == {
        "result": [{"name": "ci", "api_key_id": ci_id}]}
    assert call(srv, "GET", API_KEYS, obo="billing").json() == {"result": []}
    assert call(srv, "GET", f"{API_KEYS}/{ci_id}", obo="marketing").json() == {"result": [dict(CI_KEY, api_key_id=ci_id)]}
    # another account's key, or a parent's key asked on behalf of a subuser, is not there
    for obo, key_id in (("billing", ci_id), ("marketing", "start-key-1"), (None, "web-1")):
        missing = call(srv, "GET", f"{API_KEYS}/{key_id}", obo=obo)
        assert missing.status_code == 404 and errors_of(missing)[0]["field"] == "api_key_id"
    srv.reset()
    assert srv.state(KEYS_SETTING)["marketing"] == []


def test_api_key_answer_is_wrapped_or_bare_as_configured(srv):
    assert srv.backend.get_config()["api_key_answer"] == "result"
    try:
        assert srv.set_config(api_key_answer="object")["api_key_answer"] == "object"
        assert call(srv, "GET", API_KEYS + "/start-key-3").json() == {
            "name": "start key 3", "api_key_id": "start-key-3", "scopes": [sg.SCOPE_TLS_UPDATE]}
        with pytest.raises(ValueError, match="api_key_answer must be 'result' or 'object'"):
            srv.set_config(api_key_answer="list")
    finally:
        srv.set_config(api_key_answer="result")
    with sg.running_server(keys={KEY: [sg.SCOPE_API_KEYS_READ]}, api_key_answer="object") as other:
        assert call(other, "GET", API_KEYS + "/start-key-1").json() == {
            "name": "start key 1", "api_key_id": "start-key-1", "scopes": [sg.SCOPE_API_KEYS_READ]}


@pytest.mark.parametrize("limit", ["0", "-1", "x", ""])
def test_api_keys_bad_limit_is_400(srv, limit):
    response = call(srv, "GET", API_KEYS, params={"limit": limit})
    assert response.status_code == 400 and errors_of(response)[0]["field"] == "limit"


def test_api_keys_routes_and_scopes_are_those_of_the_spec_and_sendgrid():
    assert sg.ROUTES[API_KEYS] == {"GET": "api_keys.read", "POST": "api_keys.create"}
    assert sg.ROUTES[API_KEYS + "/{api_key_id}"] == {
        "GET": "api_keys.read", "PUT": "api_keys.update", "PATCH": "api_keys.update", "DELETE": "api_keys.delete"}
    first = sg.ALL_SCOPES.index(sg.SCOPE_API_KEYS_READ)
    assert sg.ALL_SCOPES[first:first + 4] == (sg.SCOPE_API_KEYS_READ, sg.SCOPE_API_KEYS_CREATE, sg.SCOPE_API_KEYS_UPDATE,
                                              sg.SCOPE_API_KEYS_DELETE)


@pytest.mark.parametrize("keys", [
    [{"name": "x", "scopes": [], "api_key": "SG.secret"}], [{"scopes": []}], [{"name": "x", "scopes": "mail.send"}],
    [{"name": "x", "api_key_id": "start-key-1"}], [{"name": "x", "api_key_id": "a b"}], {"name": "x"},
])
def test_api_keys_planting_refuses_a_secret_another_shape_or_a_taken_id(srv, keys):
    with pytest.raises(ValueError):
        srv.set_state("marketing", keys, setting=KEYS_SETTING)
    assert srv.state(KEYS_SETTING)["marketing"] == []


def test_api_keys_are_planted_by_the_accounts_file_and_the_control_endpoint(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: [sg.SCOPE_API_KEYS_READ]}, "subusers": [{"username": "m"}],
                                    "state": {"m": {KEYS_SETTING: [dict(CI_KEY, api_key_id="ci-1")]}}}))
    with sg.running_server(accounts_file=str(accounts)) as srv:
        assert call(srv, "GET", API_KEYS, obo="m").json() == {"result": [{"name": "ci", "api_key_id": "ci-1"}]}
        put = requests.put(srv.url + "/__control__/state", timeout=5, json={
            "account": "m", "setting": KEYS_SETTING, "replace": True, "settings": [{"name": "new", "scopes": ["x.read"]}]})
        assert put.status_code == 200 and [key["name"] for key in put.json()] == ["new"]
        assert requests.get(srv.url + "/__control__/state?setting=api_keys", timeout=5).json()["m"] == put.json()
        assert requests.put(srv.url + "/__control__/config", json={"api_key_answer": "object"}, timeout=5).status_code == 200
        assert call(srv, "GET", f"{API_KEYS}/{put.json()[0]['api_key_id']}", obo="m").json() == put.json()[0]


# ----------------------------------------------------------------------------- writes

SECRET_RE = re.compile(r"SG\.([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{43}")
WRITE_SCOPES = ("api_keys.read", "api_keys.create", "api_keys.update", "api_keys.delete")


def create(server, obo=None, **body):
    """POST a key; return the 201 answer."""
    response = call(server, "POST", API_KEYS, obo=obo, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def listed_ids(server, obo=None):
    return [key["api_key_id"] for key in call(server, "GET", API_KEYS, obo=obo).json()["result"]]


def test_post_creates_a_key_and_answers_its_secret_once(srv):
    created = create(srv, name="ci", scopes=["mail.send", "api_keys.read", "mail.send"])
    assert set(created) == {"api_key", "api_key_id", "name", "scopes"}
    assert created["name"] == "ci" and created["scopes"] == ["api_keys.read", "mail.send"]
    # SendGrid's shape: 69 characters, "SG.<api_key_id>.<secret>"
    match = SECRET_RE.fullmatch(created["api_key"])
    assert match and match.group(1) == created["api_key_id"] and len(created["api_key"]) == 69
    assert listed_ids(srv)[-1] == created["api_key_id"]
    one = call(srv, "GET", f"{API_KEYS}/{created['api_key_id']}").json()
    assert one == {"result": [{"name": "ci", "api_key_id": created["api_key_id"], "scopes": ["api_keys.read", "mail.send"]}]}
    assert srv.state(KEYS_SETTING)["parent"] == [
        {"name": "ci", "api_key_id": created["api_key_id"], "scopes": ["api_keys.read", "mail.send"]}]
    other = create(srv, name="ci")
    assert other["api_key_id"] != created["api_key_id"] and other["api_key"] != created["api_key"]


def test_post_without_scopes_is_full_access_every_scope_served(srv):
    assert create(srv, name="full")["scopes"] == sorted(sg.ALL_SCOPES)


def test_a_created_key_authenticates_with_the_scopes_it_holds_now_until_deleted(srv):
    created = create(srv, name="narrow", scopes=[sg.SCOPE_TLS_READ, "api_keys.update", "api_keys.delete"])
    secret, key_id = created["api_key"], created["api_key_id"]
    assert call(srv, "GET", TLS, key=secret).status_code == 200
    assert call(srv, "GET", "/v3/scopes", key=secret).json() == {"scopes": created["scopes"]}
    refused = call(srv, "PATCH", TLS, key=secret, json={"require_tls": True})
    assert refused.status_code == 403 and errors_of(refused)[0]["message"] == "access forbidden"
    # a PUT changes what it may do at once
    put = call(srv, "PUT", f"{API_KEYS}/{key_id}", json={"name": "wider", "scopes": [sg.SCOPE_TLS_UPDATE, "api_keys.delete"]})
    assert put.status_code == 200
    assert call(srv, "PATCH", TLS, key=secret, json={"require_tls": True}).status_code == 200
    assert call(srv, "GET", TLS, key=secret).status_code == 403
    # the calling key deletes itself and is locked out
    assert call(srv, "DELETE", f"{API_KEYS}/{key_id}", key=secret).status_code == 204
    locked = call(srv, "PATCH", TLS, key=secret, json={"require_tls": False})
    assert locked.status_code == 401 and errors_of(locked)[0]["message"] == "authorization required"
    assert key_id not in listed_ids(srv)
    assert [(entry["method"], entry["status"]) for entry in srv.requests()][-3:-1] == [("DELETE", 204), ("PATCH", 401)]


def test_a_start_key_can_be_changed_and_revoked_and_reset_brings_it_back(srv):
    put = call(srv, "PUT", f"{API_KEYS}/start-key-2", json={"name": "reader", "scopes": ["mail.send"]})
    assert put.json() == {"api_key_id": "start-key-2", "name": "reader", "scopes": ["mail.send"]}
    assert call(srv, "GET", TLS, key=READ_ONLY).status_code == 403
    assert call(srv, "DELETE", f"{API_KEYS}/start-key-1").status_code == 204
    assert call(srv, "GET", API_KEYS).status_code == 401
    srv.reset()
    assert call(srv, "GET", TLS, key=READ_ONLY).status_code == 200
    assert listed_ids(srv) == [f"start-key-{n}" for n in (1, 2, 3, 4)]


def test_reset_forgets_created_keys(srv):
    secret = create(srv, name="gone")["api_key"]
    srv.reset()
    assert call(srv, "GET", TLS, key=secret).status_code == 401


def test_put_replaces_name_and_scopes_and_patch_renames_only(srv):
    key_id = create(srv, name="ci", scopes=["mail.send"])["api_key_id"]
    path = f"{API_KEYS}/{key_id}"
    put = call(srv, "PUT", path, json={"name": "ci", "scopes": ["templates.read", "mail.send"]})
    assert put.status_code == 200 and put.json() == {"api_key_id": key_id, "name": "ci",
                                                     "scopes": ["mail.send", "templates.read"]}
    patch = call(srv, "PATCH", path, json={"name": "renamed"})
    assert patch.status_code == 200 and patch.json() == {"api_key_id": key_id, "name": "renamed"}
    assert call(srv, "GET", path).json()["result"] == [{"name": "renamed", "api_key_id": key_id,
                                                        "scopes": ["mail.send", "templates.read"]}]


@pytest.mark.parametrize("method, body, field", [
    ("POST", {}, "name"), ("POST", {"name": ""}, "name"), ("POST", {"name": 3}, "name"),
    ("POST", {"name": "x", "scopes": "mail.send"}, "scopes"), ("POST", {"name": "x", "scopes": ["Mail Send"]}, "scopes"),
    ("POST", {"name": "x", "api_key": "SG.mine"}, "api_key"),
    ("PUT", {"name": "x"}, "scopes"), ("PUT", {"name": "x", "scopes": []}, "scopes"), ("PUT", {"scopes": ["a.b"]}, "name"),
    ("PATCH", {}, "name"), ("PATCH", {"name": "x", "scopes": ["mail.send"]}, "scopes"),
])
def test_api_key_writes_refuse_a_bad_body_naming_the_field_and_change_nothing(srv, method, body, field):
    path = API_KEYS if method == "POST" else f"{API_KEYS}/start-key-3"
    response = call(srv, method, path, json=body)
    assert response.status_code == 400
    assert field in [item["field"] for item in errors_of(response)]
    assert listed_ids(srv) == [f"start-key-{n}" for n in (1, 2, 3, 4)]
    assert call(srv, "GET", f"{API_KEYS}/start-key-3").json()["result"][0]["name"] == "start key 3"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize("raw", [b"{", b"[]", b"\"x\""])
def test_api_key_writes_need_a_json_object(srv, method, raw):
    path = API_KEYS if method == "POST" else f"{API_KEYS}/start-key-3"
    response = call(srv, method, path, data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and errors_of(response)


@pytest.mark.parametrize("method, body", [("PUT", {"name": "x", "scopes": ["mail.send"]}), ("PATCH", {"name": "x"}),
                                          ("DELETE", None)])
def test_api_key_writes_of_an_id_not_on_the_account_are_404(srv, method, body):
    srv.set_state("marketing", [{"name": "m", "scopes": [], "api_key_id": "m-1"}], setting=KEYS_SETTING)
    for obo, key_id in ((None, "nope"), (None, "m-1"), ("marketing", "start-key-1")):
        response = call(srv, method, f"{API_KEYS}/{key_id}", obo=obo, json=body)
        assert response.status_code == 404 and errors_of(response)[0]["field"] == "api_key_id"


def test_the_101st_key_of_an_account_is_403_and_not_created(srv):
    # the parent holds its four start keys
    for number in range(96):
        create(srv, name=f"k{number}", scopes=["mail.send"])
    refused = call(srv, "POST", API_KEYS, json={"name": "one too many"})
    assert refused.status_code == 403 and "100" in errors_of(refused)[0]["message"]
    assert len(listed_ids(srv)) == 100
    # another account counts its own
    assert create(srv, obo="marketing", name="m")["name"] == "m"
    call(srv, "DELETE", f"{API_KEYS}/{listed_ids(srv)[-1]}")
    assert create(srv, name="room again")["name"] == "room again"


def test_keys_created_on_behalf_of_an_account_are_its_own_and_act_for_it(srv):
    created = create(srv, obo="marketing", name="marketing ci", scopes=[sg.SCOPE_TLS_UPDATE, sg.SCOPE_TLS_READ])
    assert listed_ids(srv, obo="marketing") == [created["api_key_id"]]
    assert created["api_key_id"] not in listed_ids(srv) + listed_ids(srv, obo="billing")
    # without on-behalf-of the subuser's key targets the subuser
    assert call(srv, "PATCH", TLS, key=created["api_key"], json={"require_tls": True}).status_code == 200
    assert [account for account, tls in srv.state().items() if tls["require_tls"]] == ["marketing"]
    assert srv.requests()[-1]["account"] == "marketing"
    # only a parent's key may act on behalf of an account
    refused = call(srv, "GET", TLS, key=created["api_key"], obo="billing")
    assert refused.status_code == 403 and "parent" in errors_of(refused)[0]["message"]
    customer = create(srv, obo="account-id 777", name="customer", scopes=[sg.SCOPE_TLS_READ])
    assert call(srv, "GET", TLS, key=customer["api_key"]).status_code == 200
    assert srv.requests()[-1]["account"] == "account-id 777"
    # the parent's key reaches the subuser's key on its behalf
    assert call(srv, "DELETE", f"{API_KEYS}/{created['api_key_id']}", obo="marketing").status_code == 204
    assert call(srv, "GET", TLS, key=created["api_key"]).status_code == 401


def test_a_key_of_a_subuser_pinned_to_the_other_region_is_sent_to_its_host(srv):
    created = create(srv, obo="marketing", name="m", scopes=[sg.SCOPE_TLS_READ])
    assert call(srv, "POST", API_KEYS, obo="eu-news", json={"name": "eu"}).status_code == 403
    with sg.running_server(**options(region="eu")) as eu_host:
        eu_key = create(eu_host, obo="eu-news", name="eu", scopes=[sg.SCOPE_TLS_READ])
        assert call(eu_host, "GET", TLS, key=eu_key["api_key"]).status_code == 200
    assert call(srv, "GET", TLS, key=created["api_key"]).status_code == 200


@pytest.fixture(name="keys_scoped_srv", scope="module")
def fixture_keys_scoped_srv():
    """A server with, per API keys scope, a key holding only it and one holding every other scope."""
    keys = {KEY: sg.ALL_SCOPES}
    for scope in WRITE_SCOPES:
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.mark.parametrize("method, path, body, scope, status", [
    ("GET", API_KEYS, None, "api_keys.read", 200), ("POST", API_KEYS, {"name": "x"}, "api_keys.create", 201),
    ("GET", API_KEYS + "/m-1", None, "api_keys.read", 200),
    ("PUT", API_KEYS + "/m-1", {"name": "x", "scopes": ["mail.send"]}, "api_keys.update", 200),
    ("PATCH", API_KEYS + "/m-1", {"name": "x"}, "api_keys.update", 200),
    ("DELETE", API_KEYS + "/m-1", None, "api_keys.delete", 204),
])
def test_api_key_routes_need_their_own_scope(keys_scoped_srv, method, path, body, scope, status):
    srv = keys_scoped_srv
    srv.reset()
    for key, expected in ((f"SG.only.{scope}", status), (f"SG.but.{scope}", 403), (None, 401)):
        srv.set_state("marketing", [{"name": "m", "scopes": [], "api_key_id": "m-1"}], replace=True, setting=KEYS_SETTING)
        response = call(srv, method, path, key=key, obo="marketing", json=body)
        assert response.status_code == expected, response.text
        if expected == 403:
            assert response.json() == {"errors": [{"field": None, "message": "access forbidden"}]}


def test_api_key_writes_take_faults_and_a_faulted_post_creates_nothing(srv):
    srv.add_fault("error", status=503, method="POST", path=API_KEYS)
    assert call(srv, "POST", API_KEYS, json={"name": "x"}).status_code == 503
    assert len(listed_ids(srv)) == 4
    srv.add_fault("not_applied")
    patch = call(srv, "PATCH", f"{API_KEYS}/start-key-4", json={"name": "lost"})
    assert patch.status_code == 200 and patch.json() == {"api_key_id": "start-key-4", "name": "start key 4"}
    assert srv.requests()[-1]["fault"] == "not_applied"
    assert call(srv, "PATCH", f"{API_KEYS}/start-key-4", json={"name": "kept"}).json()["name"] == "kept"
    srv.set_config(endpoint_rate_limits={API_KEYS + "/{api_key_id}": 1})
    try:
        # every id shares the endpoint's budget, GET and DELETE alike
        assert call(srv, "GET", f"{API_KEYS}/start-key-1").status_code == 200
        assert call(srv, "DELETE", f"{API_KEYS}/start-key-4").status_code == 429
        assert "start-key-4" in listed_ids(srv)
    finally:
        srv.set_config(endpoint_rate_limits={})


def test_a_secret_is_in_its_post_answer_only_never_in_a_get_the_state_or_the_log(srv):
    created = create(srv, obo="marketing", name="secret", scopes=["mail.send"])
    secret = created["api_key"]
    private = secret.rsplit(".", 1)[1]
    answers = [call(srv, "GET", API_KEYS, obo="marketing"), call(srv, "GET", f"{API_KEYS}/{created['api_key_id']}",
                                                                 obo="marketing"),
               call(srv, "PATCH", f"{API_KEYS}/{created['api_key_id']}", obo="marketing", json={"name": "renamed"}),
               call(srv, "PUT", f"{API_KEYS}/{created['api_key_id']}", obo="marketing",
                    json={"name": "renamed", "scopes": ["mail.send"]})]
    assert all(answer.status_code == 200 and private not in answer.text for answer in answers)
    shown = json.dumps([srv.requests(), control(srv, "GET", "requests"), control(srv, "GET", "state", params={
        "setting": KEYS_SETTING}), srv.state(KEYS_SETTING), srv.backend.private[KEYS_SETTING]["digests"]])
    assert private not in shown
    # the log records the headers a request came with: a request authenticated by the key carries it, as a start key's do
    call(srv, "GET", TLS, key=secret)
    assert srv.requests()[-1]["headers"]["Authorization"] == f"Bearer {secret}"


def test_a_planted_key_never_takes_the_id_of_a_created_one_even_deleted(srv):
    created = create(srv, obo="marketing", name="c")
    call(srv, "DELETE", f"{API_KEYS}/{created['api_key_id']}", obo="marketing")
    with pytest.raises(ValueError):
        srv.set_state("marketing", [{"name": "revived", "api_key_id": created["api_key_id"]}], setting=KEYS_SETTING)
    assert call(srv, "GET", TLS, key=created["api_key"]).status_code == 401


def test_planting_with_replace_drops_created_keys_and_their_secrets_stop_working(srv):
    created = create(srv, obo="marketing", name="c", scopes=[sg.SCOPE_TLS_READ])
    srv.set_state("marketing", [], replace=True, setting=KEYS_SETTING)
    assert call(srv, "GET", TLS, key=created["api_key"]).status_code == 401
    # replace on the parent keeps its start keys
    srv.set_state("parent", [{"name": "p", "scopes": []}], replace=True, setting=KEYS_SETTING)
    assert len(listed_ids(srv)) == 5 and call(srv, "GET", TLS).status_code == 200


def test_a_start_key_of_sendgrids_form_has_the_id_it_names_and_deleting_that_id_revokes_it():
    own, twin = "SG.ownKeyId-1.the-secret", "SG.ownKeyId-1.another-secret"
    with sg.running_server(keys={own: sg.ALL_SCOPES, twin: [sg.SCOPE_API_KEYS_READ], "SG.two-parts": []}) as server:
        assert [item["api_key_id"] for item in call(server, "GET", API_KEYS, key=own).json()["result"]] == [
            "ownKeyId-1", "start-key-2", "start-key-3"]   # an id taken by an earlier key, a key of another form
        assert call(server, "DELETE", API_KEYS + "/ownKeyId-1", key=twin).status_code == 403   # read-only
        assert call(server, "DELETE", API_KEYS + "/ownKeyId-1", key=own).status_code == 204
        assert call(server, "GET", API_KEYS, key=own).status_code == 401
