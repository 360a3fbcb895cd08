"""API keys (tools/sendgrid_api/api_keys.py), read only: GET /v3/api_keys and /v3/api_keys/{api_key_id}."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import json

import pytest
import requests

from .helpers import KEY, KEYS, READ_ONLY, call, errors_of, sg


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


def test_api_keys_need_api_keys_read_and_answer_405_to_writes(srv):
    for path in (API_KEYS, API_KEYS + "/start-key-1"):
        refused = call(srv, "GET", path, key=READ_ONLY)
        assert refused.status_code == 403 and errors_of(refused)[0]["message"] == "access forbidden"
    assert call(srv, "POST", API_KEYS, json={"name": "x"}).headers["Allow"] == "GET"
    assert sg.ROUTES[API_KEYS] == sg.ROUTES[API_KEYS + "/{api_key_id}"] == {"GET": sg.SCOPE_API_KEYS_READ}
    assert sg.ALL_SCOPES[-1] == "api_keys.read"


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
