"""Access as code (sendgrid_teammate, sendgrid_teammate_info, sendgrid_api_key, sendgrid_subuser), run by
ansible-playbook against the local API server.

From the server's request log and state and the task results: each change is the documented request with the
documented body, check mode writes nothing and diff mode shows before and after, each guard refuses with nothing
written (the owner, the last admin, the calling key, an unconfirmed deletion), bad input fails naming the option with
nothing sent, a new key's secret is returned once and hidden from the output (its result censored as no_log's) while
the registered variable keeps it (a later task authenticates with it), a subuser's password is never shown, and a
subuser created before the baseline is discovered by it in the same run.

Playbook: access.yml. One batch (conftest.Cases): every case a host and servers of its own.
"""

from __future__ import annotations

import json

import pytest

from conftest import CRASH_MARKERS, KEY, Cases, PlaybookCase, Start, calls, case_outcomes, explained, query, sg

CASES = Cases()

TEAMMATES = "/v3/teammates"
PENDING = "/v3/teammates/pending"
KEYS = "/v3/api_keys"
SUBUSERS = "/v3/subusers"
PASSWORD = "integration-subuser-password-Vd8"
# The parent's people: its owner (the server's), an admin, a teammate; and an invite not yet accepted.
TEAM = ({"username": "ops", "email": "ops@example.com", "is_admin": True},
        {"username": "dev", "email": "dev@example.com", "is_admin": False, "scopes": ["mail.send", "stats.read"]})
INVITE = {"email": "old@example.com", "scopes": ["mail.send"], "is_admin": False, "token": "a" * 32}


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    return CASES.run(Start(module_start_server, tmp_path_factory.mktemp("access")))


def plant_team(server, account="parent", team=TEAM, pending=(INVITE,)):
    server.set_state(account, list(team), setting="teammates", replace=True)
    server.set_state(account, list(pending), setting="teammates/pending", replace=True)


def writes(server) -> list:
    return [call for call in calls(server) if call.method != "GET"]


def no_crash(run, name):
    assert run.rc in (0, 2), run.explain()
    for marker in CRASH_MARKERS:
        assert marker not in run.stdout + run.stderr, "%r in the output of %s\n%s" % (marker, name, run.explain())


# ----------------------------------------------------------------------------- teammates

@CASES.add("team")
def _team(start):
    server = start()
    plant_team(server)
    plant_team(server, "marketing", team=[{"username": "solo", "email": "solo@example.com", "is_admin": True}],
               pending=())
    return server, PlaybookCase("access.yml", dict(sg_api_url=server.url, sg_teammates=[
        {"case": "invite", "email": "New@Example.com", "scopes": ["stats.read", "mail.send"]},
        {"case": "make admin", "email": "DEV@example.com", "is_admin": True},
        {"case": "replace an invite with other access", "email": "old@example.com", "scopes": ["stats.read"]},
        {"case": "in sync", "email": "ops@example.com", "is_admin": True},
        {"case": "absent already", "email": "gone@example.com", "state": "absent"},
        {"case": "the owner", "email": "parent@example.com", "scopes": ["mail.send"]},
        {"case": "the owner removed", "email": "parent@example.com", "state": "absent"},
        {"case": "the last admin", "on_behalf_of": "marketing", "email": "solo@example.com", "state": "absent"},
        {"case": "the last admin demoted", "on_behalf_of": "marketing", "email": "solo@example.com",
         "is_admin": False, "scopes": ["mail.send"]},
        {"case": "scopes alone on an admin", "on_behalf_of": "marketing", "email": "solo@example.com",
         "scopes": ["mail.send"]},
        {"case": "admin with scopes", "email": "x@example.com", "is_admin": True, "scopes": ["mail.send"]},
        {"case": "not an address", "email": "not-an-address", "is_admin": True},
        {"case": "a scope with a space", "email": "x@example.com", "scopes": ["mail send"]},
        {"case": "an invite without access", "email": "x@example.com"},
        {"case": "remove", "email": "ops@example.com", "state": "absent"},
    ], sg_team_info={}), diff=True)


def test_teammates_are_invited_changed_replaced_and_removed_each_with_its_documented_request(runs):
    run, server = runs["team"]
    no_crash(run, "team")
    results = case_outcomes(run, "teammate")
    assert writes(server) == [
        ("POST", TEAMMATES, None, {"email": "New@Example.com", "is_admin": False, "scopes": ["mail.send", "stats.read"]}),
        ("PATCH", TEAMMATES + "/dev", None, {"is_admin": True, "scopes": []}),   # an admin's scopes are never sent
        ("DELETE", PENDING + "/" + "a" * 32, None, None),
        ("POST", TEAMMATES, None, {"email": "old@example.com", "is_admin": False, "scopes": ["stats.read"]}),
        ("DELETE", TEAMMATES + "/ops", None, None),
    ]
    assert results["invite"]["changes"] == {"invited": ["New@Example.com"]}
    assert results["invite"]["teammate"] == {"access": ["mail.send", "stats.read"], "invited": True}
    assert results["invite"]["diff"] == {"before": {"teammate": None},
                                         "after": {"teammate": {"access": ["mail.send", "stats.read"], "invited": True}}}
    assert results["make admin"]["changes"] == {"updated": ["dev@example.com"]}
    replaced = results["replace an invite with other access"]
    assert replaced["changes"] == {"replaced": ["old@example.com"]}
    # warnings are the task's, every loop item's together
    assert "The pending invite of old@example.com had other access" in json.dumps(run.task("teammate")["warnings"])
    for case in ("in sync", "absent already"):
        assert results[case]["changed"] is False and not results[case].get("failed"), results[case]
    assert results["remove"]["changes"] == {"removed": ["ops@example.com"]}
    # the team as sendgrid_teammate_info read it, after: every teammate with type and scopes, invites without token
    team = run.result("team")
    assert {person["email"]: person["user_type"] for person in team["teammates"]} == {
        "dev@example.com": "admin", "parent@example.com": "owner"}
    assert {invite["email"]: invite["scopes"] for invite in team["pending"]} == {
        "New@Example.com": ["mail.send", "stats.read"], "old@example.com": ["stats.read"]}
    assert all("token" not in invite and invite["expiration_date_iso"].endswith("Z") for invite in team["pending"])


def test_the_teammate_guards_and_bad_input_refuse_with_nothing_written(runs):
    run, server = runs["team"]
    results = case_outcomes(run, "teammate")
    assert explained(results["the owner"]).startswith("parent@example.com is the account's owner, whose access is never "
                                                      "changed")
    assert explained(results["the owner removed"]) == "parent@example.com is the account's owner, which is never removed."
    for case in ("the last admin", "the last admin demoted"):
        assert explained(results[case]).startswith("This would remove or demote solo@example.com, the last admin of the "
                                                   "account (besides its owner): nothing was changed.")
    assert explained(results["scopes alone on an admin"]) == (
        "solo@example.com is an admin: scopes alone would demote them. Give is_admin: false with the scopes to make "
        "them a teammate, or leave scopes out.")
    assert not [call for call in writes(server) if call.on_behalf_of == "marketing"]
    assert explained(results["admin with scopes"]).startswith("is_admin: true gives every scope: leave scopes out")
    assert explained(results["not an address"]).startswith("value of email must be an e-mail address")
    assert explained(results["a scope with a space"]) == (
        "value of scopes must hold scopes such as mail.send: lower-case letters, digits and _ in words joined by dots, "
        "no pattern (*, ?, [), got: mail send.")
    assert explained(results["an invite without access"]) == (
        "Inviting x@example.com needs is_admin: true or scopes (what the teammate may use).")
    # bad input is refused before any request: the cases before and after it read the team, it did not
    per_case = [entry for entry in server.requests() if entry["method"] == "GET"
                and query(entry).get("offset") == "0"]
    assert len(per_case) == 15 - 3 + 1   # every case but the three refused before any request, and the info task


@CASES.add("team check")
def _team_check(start):
    server = start()
    plant_team(server)
    return server, PlaybookCase("access.yml", dict(sg_api_url=server.url, sg_teammates=[
        {"case": "invite", "email": "new@example.com", "scopes": ["mail.send"]},
        {"case": "replace", "email": "old@example.com", "is_admin": True},
        {"case": "remove", "email": "dev@example.com", "state": "absent"},
    ]), check=True, diff=True)


def test_teammates_in_check_mode_say_what_would_change_and_write_nothing(runs):
    run, server = runs["team check"]
    no_crash(run, "team check")
    results = case_outcomes(run, "teammate")
    assert writes(server) == []
    assert results["invite"]["changed"] is True and results["invite"]["changes"] == {"invited": ["new@example.com"]}
    assert results["replace"]["diff"] == {"before": {"teammate": {"access": ["mail.send"], "invited": True}},
                                          "after": {"teammate": {"access": "admin", "invited": True}}}
    assert "it was to be deleted, and would be invited again" in json.dumps(run.task("teammate")["warnings"])
    assert results["remove"]["teammate"] is None and results["remove"]["changes"] == {"removed": ["dev@example.com"]}


# ----------------------------------------------------------------------------- API keys

PLANTED = [{"name": "reporting", "api_key_id": "reporting-1", "scopes": ["stats.read", "mail.send"]},
           {"name": "twin", "api_key_id": "twin-1", "scopes": ["mail.send"]},
           {"name": "twin", "api_key_id": "twin-2", "scopes": ["stats.read"]},
           {"name": "leaked", "api_key_id": "leaked-1", "scopes": ["mail.send"]}]


@CASES.add("keys")
def _keys(start):
    server = start()
    server.set_state("marketing", PLANTED, setting="api_keys", replace=True)
    secret_file = start.directory() / "new.key"
    return (server, secret_file), PlaybookCase("access.yml", dict(sg_api_url=server.url, sg_keys=[
        {"case": "cut a scope", "on_behalf_of": "marketing", "name": "reporting", "scopes": ["stats.read"]},
        {"case": "in sync", "on_behalf_of": "marketing", "name": "reporting", "scopes": ["stats.read"]},
        {"case": "a shared name", "on_behalf_of": "marketing", "name": "twin", "scopes": ["mail.send"]},
        {"case": "a shared name chosen by id", "on_behalf_of": "marketing", "name": "twin", "api_key_id": "twin-2",
         "scopes": ["mail.send"]},
        {"case": "renamed", "on_behalf_of": "marketing", "name": "twin-two", "api_key_id": "twin-2",
         "scopes": ["mail.send"]},
        {"case": "deleted", "on_behalf_of": "marketing", "name": "leaked", "state": "absent"},
        {"case": "the calling key deleted", "name": "start key 1", "state": "absent"},
        {"case": "the calling key cut", "name": "start key 1", "scopes": ["mail.send"]},
        {"case": "a pattern", "name": "x", "scopes": ["mail.*"]},
        {"case": "no scopes", "name": "x"},
    ], sg_new_key={"on_behalf_of": "marketing", "name": "mailer", "scopes": ["mail.send"],
                   "secret_file": str(secret_file)}), diff=True)


def test_keys_are_created_changed_renamed_and_deleted_each_with_its_documented_request(runs):
    run, (server, secret_file) = runs["keys"]
    no_crash(run, "keys")
    results = case_outcomes(run, "key")
    assert writes(server) == [
        ("PUT", KEYS + "/reporting-1", "marketing", {"name": "reporting", "scopes": ["stats.read"]}),
        ("PUT", KEYS + "/twin-2", "marketing", {"name": "twin", "scopes": ["mail.send"]}),
        ("PATCH", KEYS + "/twin-2", "marketing", {"name": "twin-two"}),
        ("DELETE", KEYS + "/leaked-1", "marketing", None),
        ("POST", KEYS, "marketing", {"name": "mailer", "scopes": ["mail.send"]}),
    ]
    assert results["cut a scope"]["diff"] == {
        "before": {"key": {"name": "reporting", "api_key_id": "reporting-1", "scopes": ["mail.send", "stats.read"]}},
        "after": {"key": {"name": "reporting", "api_key_id": "reporting-1", "scopes": ["stats.read"]}}}
    assert results["in sync"]["changed"] is False
    assert explained(results["a shared name"]).startswith("2 API keys are named 'twin' (ids twin-1, twin-2)")
    assert results["deleted"]["key"] is None and results["deleted"]["changed"] is True
    assert explained(results["a pattern"]).startswith("value of scopes must hold scopes such as mail.send")
    assert explained(results["no scopes"]) == "state is present but all of the following are missing: scopes"


def test_the_calling_key_is_never_deleted_or_cut_and_nothing_is_written(runs):
    run, (server, _secret_file) = runs["keys"]
    results = case_outcomes(run, "key")
    for case, doing in (("the calling key deleted", "deleting it"),
                        ("the calling key cut", "taking api_keys.create, api_keys.delete, api_keys.read, "
                                                "api_keys.update from it")):
        message = explained(results[case])
        assert message.startswith("The API key 'start key 1' (id integration-SECRET-4f1c2b7e9d) is the key this task "
                                  "authenticates with: %s would end this automation's management of keys." % doing), message
        assert "protect_calling_key: false" in message
    assert not [call for call in writes(server) if call.on_behalf_of is None]


def test_a_new_keys_secret_is_returned_once_hidden_from_output_and_works(runs):
    run, (server, secret_file) = runs["keys"]
    secret = secret_file.read_text(encoding="utf-8")
    assert secret.startswith("SG.") and len(secret) == 69
    # the task's result, as every callback saw it: censored as no_log censors, changed still shown
    created = run.task("new key")
    assert created["status"] == "changed"
    assert set(created["result"]) <= {"censored", "changed", "_ansible_no_log", "warnings", "deprecations"}, created
    # the registered variable kept the secret: it authenticated a request, and it names the key's id
    described = run.result("what the new key is")["msg"]
    assert described["has_secret"] is True and described["secret_names_its_id"] is True
    assert described["used_status"] == 200 and described["used_scopes"] == ["mail.send"]
    assert described["key"]["name"] == "mailer" and described["key"]["scopes"] == ["mail.send"]
    # nowhere else: not in the output (-vvvv), not in any result the callbacks got
    assert secret not in run.stdout + run.stderr
    assert secret not in json.dumps(run.tasks)


@CASES.add("keys check")
def _keys_check(start):
    server = start()
    server.set_state("marketing", PLANTED[:1], setting="api_keys", replace=True)
    return server, PlaybookCase("access.yml", dict(sg_api_url=server.url, sg_keys=[
        {"case": "cut", "on_behalf_of": "marketing", "name": "reporting", "scopes": ["stats.read"]},
        {"case": "delete", "on_behalf_of": "marketing", "name": "reporting", "state": "absent"},
    ], sg_new_key={"name": "mailer", "scopes": ["mail.send"], "secret_file": "/nonexistent/never-written"}),
        check=True, diff=True)


def test_keys_in_check_mode_write_nothing_and_a_key_to_create_has_no_secret(runs):
    run, server = runs["keys check"]
    no_crash(run, "keys check")
    assert writes(server) == []
    results = case_outcomes(run, "key")
    assert results["cut"]["changed"] is True and results["delete"]["key"] is None
    created = run.result("new key")
    assert created["changed"] is True and "secret" not in created and "censored" not in created
    assert created["key"] == {"name": "mailer", "api_key_id": None, "scopes": ["mail.send"]}
    assert run.task("keep the secret")["status"] == "skipped"


# ----------------------------------------------------------------------------- subusers

@CASES.add("subusers")
def _subusers(start):
    # the key of an automation that creates subusers holds the subuser writes, which the usual key leaves out
    server = start(subusers=["legacy-relay", "sandbox-trial", "marketing"], keys={KEY: sg.ALL_SCOPES})
    # each password comes from a variable, as from a vault: a loop item would show it in the item's result
    cases = [
        {"case": "create", "username": "webshop", "email": "webshop@example.com", "password_var": "sg_password",
         "ips": ["192.0.2.10"], "subuser_region": "global"},
        {"case": "again, another password", "username": "webshop", "email": "webshop@example.com",
         "password_var": "sg_other_password", "ips": ["192.0.2.10"]},
        {"case": "disable", "username": "legacy-relay", "disabled": True},
        {"case": "delete unconfirmed", "username": "sandbox-trial", "state": "absent"},
        {"case": "delete confirmed by another name", "username": "sandbox-trial", "state": "absent",
         "confirm_delete": "sandbox"},
        {"case": "delete", "username": "sandbox-trial", "state": "absent", "confirm_delete": "sandbox-trial"},
        {"case": "create without a password", "username": "nopass", "email": "n@example.com", "ips": []},
        {"case": "an IPv6 address", "username": "six", "email": "s@example.com", "password_var": "sg_password",
         "ips": ["2001:db8::1"]},
    ]
    return server, PlaybookCase("access.yml", dict(sg_api_url=server.url, sg_password=PASSWORD,
                                                   sg_other_password="another-password-Hh3", sg_subusers=cases,
                                                   sg_discover=True), diff=True)


def test_subusers_are_created_disabled_and_deleted_when_confirmed_and_discovered_on_the_same_run(runs):
    run, server = runs["subusers"]
    no_crash(run, "subusers")
    results = case_outcomes(run, "subuser")
    subuser_writes = [call for call in writes(server) if call.path.startswith(SUBUSERS)]
    assert subuser_writes == [
        ("POST", SUBUSERS, None, {"username": "webshop", "email": "webshop@example.com", "password": "********",
                                  "ips": ["192.0.2.10"], "include_region": True, "region": "global"}),
        ("PATCH", SUBUSERS + "/legacy-relay", None, {"disabled": True}),
        ("DELETE", SUBUSERS + "/sandbox-trial", None, None),
    ]   # the server's log masks the password it was sent
    assert results["create"]["changes"] == {"created": "webshop"}
    assert results["create"]["diff"]["before"] == {"subuser": None}
    assert results["again, another password"]["changed"] is False   # the password is never compared
    assert results["disable"]["subuser"]["disabled"] is True
    for case in ("delete unconfirmed", "delete confirmed by another name"):
        assert "set confirm_delete: sandbox-trial to confirm" in explained(results[case])
    assert explained(results["create without a password"]).startswith("Creating the subuser nopass needs password")
    assert explained(results["an IPv6 address"]).startswith("value of ips must hold IPv4 addresses")
    # the password shows nowhere
    assert PASSWORD not in run.stdout + run.stderr + json.dumps(run.tasks)
    assert "another-password-Hh3" not in run.stdout + run.stderr + json.dumps(run.tasks)
    # the baseline after the subuser tasks found the subuser created before it, and not the one deleted
    baseline = run.result("baseline")
    assert {account["name"] for account in baseline["accounts"]} == {"webshop", "legacy-relay", "marketing"}
