"""Teammates (tools/sendgrid_api/teammates.py): the teammates of every account, invitations, and how tests plant
teammates and invitations and accept an invitation."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import json
import time

import pytest
import requests

from .helpers import ACCOUNTS, KEY, SUBUSERS, call, errors_of, sg


TEAMMATES = "/v3/teammates"


PENDING = "/v3/teammates/pending"


SETTING = "teammates"


PENDING_SETTING = "teammates/pending"


SCOPES = ("teammates.read", "teammates.create", "teammates.update", "teammates.delete")


LISTED = ("username", "email", "first_name", "last_name", "user_type", "is_admin", "phone", "website", "address",
          "address2", "city", "state", "zip", "country")


PROFILE = dict.fromkeys(("first_name", "last_name", "phone", "website", "address", "address2", "city", "state", "zip",
                         "country"), "")


SEVEN_DAYS = 7 * 86400


def owner(username, email=None):
    """An account's owner as GET /v3/teammates lists it."""
    return {"username": username, "email": email or f"{username}@example.com", **PROFILE, "user_type": "owner",
            "is_admin": True}


def invite(server, obo=None, **body):
    """POST an invitation; return the 201 answer."""
    response = call(server, "POST", TEAMMATES, obo=obo, json={"scopes": [], "is_admin": False, **body})
    assert response.status_code == 201, response.text
    return response.json()


def usernames(server, obo=None, **params):
    response = call(server, "GET", TEAMMATES, obo=obo, params=params)
    assert response.status_code == 200
    return [teammate["username"] for teammate in response.json()["result"]]


def test_every_account_starts_with_its_owner(srv):
    owners = {"parent": owner("parent"), "marketing": owner("marketing"), "billing": owner("billing"),
              "account-id 777": owner("account-777")}
    for account, expected in owners.items():
        listed = call(srv, "GET", TEAMMATES, obo=None if account == "parent" else account)
        assert listed.status_code == 200 and listed.json() == {"result": [expected]}
    srv.add_subusers([{"username": "late", "email": "late@corp.example"}])
    assert call(srv, "GET", TEAMMATES, obo="late").json()["result"] == [owner("late", "late@corp.example")]
    assert list(srv.state(SETTING)) == list(ACCOUNTS) + ["late"]
    assert all(invites == [] for invites in srv.state(PENDING_SETTING).values())


def test_get_of_one_teammate_adds_its_scopes_and_an_admins_are_every_scope(srv):
    srv.set_state("parent", [{"username": "jane", "scopes": ["mail.send", "stats.read"], "first_name": "Jane"},
                             {"username": "root", "is_admin": True}], setting=SETTING)
    jane = call(srv, "GET", f"{TEAMMATES}/jane").json()
    assert list(jane) == list(LISTED) + ["scopes"]
    assert jane == {"username": "jane", "email": "jane@example.com", **PROFILE, "first_name": "Jane",
                    "user_type": "teammate", "is_admin": False, "scopes": ["mail.send", "stats.read"]}
    for username, user_type in (("root", "admin"), ("parent", "owner")):
        shown = call(srv, "GET", f"{TEAMMATES}/{username}").json()
        assert (shown["user_type"], shown["is_admin"], shown["scopes"]) == (user_type, True, sorted(sg.ALL_SCOPES))
    # the list has no scopes
    assert all(list(item) == list(LISTED) for item in call(srv, "GET", TEAMMATES).json()["result"])
    missing = call(srv, "GET", f"{TEAMMATES}/nobody")
    assert missing.status_code == 404 and errors_of(missing) == [{"field": "username", "message": "username not found"}]


def test_the_list_pages_with_limit_and_offset_default_500(srv):
    srv.set_state("parent", [{"username": f"t{number:03d}"} for number in range(1, 600)], setting=SETTING)
    everyone = ["parent"] + [f"t{number:03d}" for number in range(1, 600)]
    assert usernames(srv) == everyone[:500]
    assert usernames(srv, limit=2, offset=3) == everyone[3:5]
    assert usernames(srv, offset=500) == everyone[500:]
    assert usernames(srv, limit=500, offset=590) == everyone[590:]
    assert usernames(srv, limit=0) == []


@pytest.mark.parametrize("params, field", [({"limit": 501}, "limit"), ({"limit": -1}, "limit"), ({"limit": "x"}, "limit"),
                                           ({"offset": -1}, "offset"), ({"offset": "1.5"}, "offset")])
def test_a_bad_page_parameter_is_400_naming_it(srv, params, field):
    response = call(srv, "GET", TEAMMATES, params=params)
    assert response.status_code == 400 and errors_of(response)[0]["field"] == field


def test_an_invitation_is_pending_not_a_teammate(srv):
    before = int(time.time())
    answer = invite(srv, email="new@example.com", scopes=["mail.send"])
    assert set(answer) == {"token", "email", "scopes", "is_admin"} and len(answer["token"]) == 32
    assert answer == {"token": answer["token"], "email": "new@example.com", "scopes": ["mail.send"], "is_admin": False}
    assert usernames(srv) == ["parent"]
    (pending,) = call(srv, "GET", PENDING).json()["result"]
    assert set(pending) == {"email", "scopes", "is_admin", "token", "expiration_date"}
    assert pending == dict(answer, expiration_date=pending["expiration_date"])
    assert before + SEVEN_DAYS <= pending["expiration_date"] <= int(time.time()) + SEVEN_DAYS
    admin = invite(srv, email="boss@example.com", is_admin=True)
    assert [item["token"] for item in call(srv, "GET", PENDING).json()["result"]] == [answer["token"], admin["token"]]


@pytest.mark.parametrize("body, field", [
    ({"scopes": [], "is_admin": False}, "email"), ({"email": "a@b.c", "is_admin": False}, "scopes"),
    ({"email": "a@b.c", "scopes": []}, "is_admin"), ({"email": "nobody", "scopes": [], "is_admin": False}, "email"),
    ({"email": "a@bc", "scopes": [], "is_admin": False}, "email"), ({"email": 5, "scopes": [], "is_admin": False}, "email"),
    ({"email": "a@b.c", "scopes": ["mail.send"], "is_admin": True}, "scopes"),
    ({"email": "a@b.c", "scopes": "mail.send", "is_admin": False}, "scopes"),
    ({"email": "a@b.c", "scopes": [], "is_admin": "false"}, "is_admin"),
    ({"email": "a@b.c", "scopes": [], "is_admin": False, "username": "a"}, "username"),
    ({"email": "parent@example.com", "scopes": [], "is_admin": False}, "email"),
])
def test_an_invalid_invitation_is_400_naming_the_field_and_sends_nothing(srv, body, field):
    response = call(srv, "POST", TEAMMATES, json=body)
    assert response.status_code == 400 and field in [item["field"] for item in errors_of(response)]
    assert call(srv, "GET", PENDING).json() == {"result": []}


def test_inviting_an_email_already_invited_is_400(srv):
    invite(srv, email="twice@example.com")
    response = call(srv, "POST", TEAMMATES, json={"email": "Twice@Example.com", "scopes": [], "is_admin": False})
    assert response.status_code == 400 and errors_of(response)[0]["field"] == "email"


def test_resend_restarts_the_seven_days_and_delete_removes_an_invitation(srv):
    srv.set_state("parent", [{"email": "old@example.com", "token": "tok-1", "expiration_date": 1000},
                             {"email": "other@example.com", "token": "tok-2"}], setting=PENDING_SETTING)
    resent = call(srv, "POST", f"{PENDING}/tok-1/resend")
    assert resent.status_code == 200
    assert resent.json() == {"token": "tok-1", "email": "old@example.com", "scopes": [], "is_admin": False}
    assert call(srv, "GET", PENDING).json()["result"][0]["expiration_date"] >= int(time.time()) + SEVEN_DAYS - 5
    deleted = call(srv, "DELETE", f"{PENDING}/tok-1")
    assert deleted.status_code == 204 and deleted.content == b""
    assert [item["token"] for item in call(srv, "GET", PENDING).json()["result"]] == ["tok-2"]
    for method, path in (("DELETE", f"{PENDING}/tok-1"), ("POST", f"{PENDING}/tok-1/resend")):
        missing = call(srv, method, path)
        assert missing.status_code == 404
        assert errors_of(missing) == [{"field": "pending_key", "message": "invalid pending key"}]


def test_accepting_an_invitation_makes_it_a_teammate(srv):
    token = invite(srv, email="jane@corp.example", scopes=["mail.send"])["token"]
    admin = invite(srv, email="boss@corp.example", is_admin=True)["token"]
    accepted = srv.set_state("parent", [{"token": token, "username": "jane", "first_name": "Jane"},
                                        {"token": admin, "username": "boss"}], setting=SETTING)
    assert [teammate["username"] for teammate in accepted] == ["parent", "jane", "boss"]
    assert call(srv, "GET", f"{TEAMMATES}/jane").json() == {
        "username": "jane", "email": "jane@corp.example", **PROFILE, "first_name": "Jane", "user_type": "teammate",
        "is_admin": False, "scopes": ["mail.send"]}
    assert call(srv, "GET", f"{TEAMMATES}/boss").json()["user_type"] == "admin"
    assert call(srv, "GET", PENDING).json() == {"result": []}
    with pytest.raises(ValueError, match="no pending invitation"):
        srv.set_state("parent", [{"token": token, "username": "again"}], setting=SETTING)


def test_the_control_endpoint_plants_and_accepts_on_any_account(srv):
    base = f"{srv.url}/__control__/state"
    put = requests.put(base, timeout=5, json={"account": "account-id 777", "setting": PENDING_SETTING,
                                              "settings": [{"email": "c@example.com", "scopes": ["mail.send"]}]})
    assert put.status_code == 200
    token = put.json()[0]["token"]
    assert call(srv, "GET", PENDING, obo="account-id 777").json()["result"] == put.json()
    put = requests.put(base, timeout=5, json={"account": "account-id 777", "setting": SETTING,
                                              "settings": [{"token": token, "username": "carl"}]})
    assert put.status_code == 200 and [item["username"] for item in put.json()] == ["account-777", "carl"]
    state = requests.get(base, params={"setting": SETTING}, timeout=5).json()
    assert [item["username"] for item in state["account-id 777"]] == ["account-777", "carl"]
    assert requests.get(base, params={"setting": PENDING_SETTING}, timeout=5).json()["account-id 777"] == []
    bad = requests.put(base, timeout=5, json={"account": "marketing", "setting": SETTING,
                                              "settings": [{"token": token, "username": "x"}]})
    assert bad.status_code == 400 and "no pending invitation" in errors_of(bad)[0]["message"]


def test_planting_with_replace_keeps_the_owner_and_changes_existing_teammates(srv):
    srv.set_state("marketing", [{"username": "a"}, {"username": "b", "scopes": ["mail.send"]}], setting=SETTING)
    srv.set_state("marketing", [{"username": "b", "is_admin": True},
                                {"username": "marketing", "is_admin": False, "first_name": "M"}], setting=SETTING)
    listed = call(srv, "GET", TEAMMATES, obo="marketing").json()["result"]
    assert [(item["username"], item["user_type"], item["is_admin"]) for item in listed] == [
        ("marketing", "owner", True), ("a", "teammate", False), ("b", "admin", True)]
    assert listed[0]["first_name"] == "M"
    srv.set_state("marketing", [{"username": "c"}], replace=True, setting=SETTING)
    assert usernames(srv, obo="marketing") == ["marketing", "c"]
    srv.reset()
    assert usernames(srv, obo="marketing") == ["marketing"]


@pytest.mark.parametrize("setting, value", [
    (SETTING, [{"email": "x@example.com"}]), (SETTING, [{"username": "a", "user_type": "owner"}]),
    (SETTING, [{"username": "a", "is_admin": "yes"}]), (SETTING, [{"username": "a b"}]), (SETTING, {"username": "a"}),
    (SETTING, [{"username": "a", "token": "none"}]), (PENDING_SETTING, [{"scopes": []}]),
    (PENDING_SETTING, [{"email": "a@b.c", "token": "t"}, {"email": "d@e.f", "token": "t"}]),
    (PENDING_SETTING, [{"email": "a@b.c", "expiration_date": "soon"}]), (PENDING_SETTING, [{"email": "a@b.c", "x": 1}]),
])
def test_planting_refuses_other_shapes_and_changes_nothing(srv, setting, value):
    with pytest.raises(ValueError):
        srv.set_state("marketing", value, setting=setting)
    assert srv.state(SETTING)["marketing"] == [dict(owner("marketing"), scopes=[])]
    assert srv.state(PENDING_SETTING)["marketing"] == []


def test_the_accounts_file_plants_teammates_and_invitations(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)}, "subusers": [{"username": "m"}], "state": {
        "m": {SETTING: [{"username": "ann", "scopes": ["mail.send"]}], PENDING_SETTING: [{"email": "bo@example.com"}]}}}))
    with sg.running_server(accounts_file=str(accounts)) as srv:
        assert usernames(srv, obo="m") == ["m", "ann"]
        assert [item["email"] for item in call(srv, "GET", PENDING, obo="m").json()["result"]] == ["bo@example.com"]


def test_patch_makes_an_admin_or_sets_a_teammates_scopes(srv):
    srv.set_state("parent", [{"username": "jane", "scopes": ["mail.send"]}], setting=SETTING)
    path = f"{TEAMMATES}/jane"
    promoted = call(srv, "PATCH", path, json={"is_admin": True, "scopes": []})
    assert promoted.status_code == 200
    assert (promoted.json()["user_type"], promoted.json()["scopes"]) == ("admin", sorted(sg.ALL_SCOPES))
    demoted = call(srv, "PATCH", path, json={"is_admin": False, "scopes": ["stats.read", "mail.send"]})
    assert demoted.json() == call(srv, "GET", path).json()
    assert (demoted.json()["user_type"], demoted.json()["is_admin"], demoted.json()["scopes"]) == (
        "teammate", False, ["stats.read", "mail.send"])


@pytest.mark.parametrize("body, field", [({"is_admin": False}, "scopes"), ({"scopes": []}, "is_admin"),
                                         ({"is_admin": True, "scopes": ["mail.send"]}, "scopes"),
                                         ({"is_admin": False, "scopes": [""]}, "scopes"),
                                         ({"is_admin": False, "scopes": [], "email": "x@y.z"}, "email")])
def test_an_invalid_patch_is_400_naming_the_field_and_changes_nothing(srv, body, field):
    srv.set_state("parent", [{"username": "jane", "scopes": ["mail.send"]}], setting=SETTING)
    response = call(srv, "PATCH", f"{TEAMMATES}/jane", json=body)
    assert response.status_code == 400 and field in [item["field"] for item in errors_of(response)]
    assert call(srv, "GET", f"{TEAMMATES}/jane").json()["scopes"] == ["mail.send"]


def test_the_owner_cannot_be_changed_or_deleted(srv):
    for method, body in (("PATCH", {"is_admin": False, "scopes": ["mail.send"]}), ("DELETE", None)):
        for obo, username in ((None, "parent"), ("marketing", "marketing"), ("account-id 777", "account-777")):
            response = call(srv, method, f"{TEAMMATES}/{username}", obo=obo, json=body)
            assert response.status_code == 403 and errors_of(response)[0]["field"] == "username"
    assert call(srv, "GET", f"{TEAMMATES}/parent").json()["user_type"] == "owner"


def test_delete_removes_a_teammate_and_an_unknown_one_is_404(srv):
    srv.set_state("parent", [{"username": "jane"}], setting=SETTING)
    deleted = call(srv, "DELETE", f"{TEAMMATES}/jane")
    assert deleted.status_code == 204 and deleted.content == b""
    assert usernames(srv) == ["parent"]
    for method, body in (("DELETE", None), ("PATCH", {"is_admin": True, "scopes": []})):
        missing = call(srv, method, f"{TEAMMATES}/jane", json=body)
        assert missing.status_code == 404 and errors_of(missing)[0]["message"] == "username not found"


def test_pending_is_the_invitations_route_never_a_teammate(srv):
    assert call(srv, "GET", f"{TEAMMATES}/pending").json() == {"result": []}
    refused = call(srv, "DELETE", f"{TEAMMATES}/pending")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET"


def test_teammates_are_per_account_and_on_behalf_of_is_resolved_as_everywhere(srv):
    invite(srv, obo="marketing", email="m@example.com")
    srv.set_state("billing", [{"username": "bill"}], setting=SETTING)
    assert len(call(srv, "GET", PENDING, obo="marketing").json()["result"]) == 1
    assert call(srv, "GET", PENDING).json() == call(srv, "GET", PENDING, obo="billing").json() == {"result": []}
    assert usernames(srv, obo="billing") == ["billing", "bill"] and usernames(srv) == ["parent"]
    assert call(srv, "GET", f"{TEAMMATES}/bill").status_code == 404
    for obo, status in (("nobody", 404), ("account-id 778", 404), ("eu-news", 403)):
        body = {"email": "z@example.com", "scopes": [], "is_admin": False}
        assert call(srv, "POST", TEAMMATES, obo=obo, json=body).status_code == status
    assert all(invites == [] for account, invites in srv.state(PENDING_SETTING).items() if account != "marketing")


@pytest.fixture(name="team_scoped_srv", scope="module")
def fixture_team_scoped_srv():
    """A server with, per teammates scope, a key holding only it and one holding every other scope."""
    keys = {KEY: sg.ALL_SCOPES}
    for scope in SCOPES:
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.mark.parametrize("method, path, body, scope, status", [
    ("GET", TEAMMATES, None, "teammates.read", 200),
    ("POST", TEAMMATES, {"email": "n@example.com", "scopes": [], "is_admin": False}, "teammates.create", 201),
    ("GET", TEAMMATES + "/jane", None, "teammates.read", 200),
    ("PATCH", TEAMMATES + "/jane", {"is_admin": True, "scopes": []}, "teammates.update", 200),
    ("DELETE", TEAMMATES + "/jane", None, "teammates.delete", 204),
    ("GET", PENDING, None, "teammates.read", 200),
    ("DELETE", PENDING + "/tok", None, "teammates.delete", 204),
    ("POST", PENDING + "/tok/resend", None, "teammates.create", 200),
])
def test_teammate_routes_need_their_own_scope(team_scoped_srv, method, path, body, scope, status):
    srv = team_scoped_srv
    srv.reset()
    assert sg.ROUTES[path.replace("/jane", "/{username}").replace("/tok", "/{token}")][method] == scope
    for key, expected in ((f"SG.only.{scope}", status), (f"SG.but.{scope}", 403), (None, 401)):
        srv.set_state("marketing", [{"username": "jane"}], replace=True, setting=SETTING)
        srv.set_state("marketing", [{"email": "p@example.com", "token": "tok"}], replace=True, setting=PENDING_SETTING)
        response = call(srv, method, path, key=key, obo="marketing", json=body)
        assert response.status_code == expected, response.text
        if expected == 403:
            assert response.json() == {"errors": [{"field": None, "message": "access forbidden"}]}


def test_teammates_scopes_are_in_all_scopes_after_the_api_keys():
    first = sg.ALL_SCOPES.index(sg.SCOPE_TEAMMATES_READ)
    assert sg.ALL_SCOPES[first - 1] == sg.SCOPE_API_KEYS_DELETE and sg.ALL_SCOPES[first:first + 4] == SCOPES
    assert (sg.SCOPE_TEAMMATES_CREATE, sg.SCOPE_TEAMMATES_UPDATE, sg.SCOPE_TEAMMATES_DELETE) == SCOPES[1:]


def test_teammate_routes_take_faults_and_a_faulted_write_changes_nothing(srv):
    srv.set_state("parent", [{"username": "jane", "scopes": ["mail.send"]}], setting=SETTING)
    srv.add_fault("error", status=500, method="POST", path=TEAMMATES)
    assert call(srv, "POST", TEAMMATES, json={"email": "x@example.com", "scopes": [], "is_admin": False}).status_code == 500
    assert call(srv, "GET", PENDING).json() == {"result": []}
    srv.add_fault("not_applied")
    lost = call(srv, "PATCH", f"{TEAMMATES}/jane", json={"is_admin": True, "scopes": []})
    assert lost.status_code == 200 and lost.json()["user_type"] == "teammate" and lost.json()["scopes"] == ["mail.send"]
    assert srv.requests()[-1]["fault"] == "not_applied"
    srv.add_fault("drop", path=f"{TEAMMATES}/jane", method="DELETE")
    with pytest.raises(requests.ConnectionError):
        call(srv, "DELETE", f"{TEAMMATES}/jane")
    assert usernames(srv) == ["parent", "jane"]
    srv.set_config(endpoint_rate_limits={f"{TEAMMATES}/{{username}}": 1})
    try:
        assert [call(srv, "GET", f"{TEAMMATES}/{name}").status_code for name in ("jane", "parent")] == [200, 429]
    finally:
        srv.set_config(endpoint_rate_limits={})
