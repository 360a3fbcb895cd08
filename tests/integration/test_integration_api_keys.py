"""sendgrid_api_key_info, run by ansible-playbook against the local API server.

The server keeps each account's API keys: the parent's are the keys it was started with (listed by name and id,
never their secret), and the tests plant more on subusers and customer accounts (set_state with setting
"api_keys"), an over-privileged one among them. These tests prove, from the task results and the server's request
log: the documented request floor (one GET /v3/api_keys?limit=100, then one GET /v3/api_keys/{id} per key, with the
account's on-behalf-of header, nothing else), both shapes of the single-key answer (wrapped in result: [...] as the
spec has it, and the bare object), the audit (account-control scopes, scopes beyond allowed_scopes, keys allowed by
name), subusers, a customer account, the EU host, check mode, module_defaults, a key without api_keys.read, bad
input refused with nothing sent, and the secrecy of every key (every run is -vvvv and run_playbook fails the test if
a key shows).

Playbook: api_keys.yml (one loop item per case, in order, a failing case stopping nothing; then one task in check
mode and one from module_defaults). Two runs in all: the audit, a case of the file's batch (conftest.run_cases: a host
and servers of its own), and the failures, in a run of their own: their read-only key comes from the environment of
ansible-playbook (key_from, read by a lookup on the controller), which a play's environment is not.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from conftest import (
    CRASH_MARKERS, KEY, READ_ONLY_KEY, SERVER_KEYS, Cases, PlaybookCase, calls, case_outcomes, explained, own_output,
    query, run_playbook,
)

CASES = Cases()

API_KEYS = "/v3/api_keys"
SETTING = "api_keys"
CONTROL = ("api_keys.*", "teammates.*", "access_settings.*")

# Planted on the subuser marketing: an over-privileged CI key, an administration key and a sending key.
CI_DEPLOY = {"name": "ci-deploy", "api_key_id": "ci-deploy-1",
             "scopes": ["mail.send", "api_keys.create", "teammates.read", "stats.read"]}
MARKETING_ADMIN = {"name": "marketing-admin", "api_key_id": "marketing-admin-1",
                   "scopes": ["mail.send", "api_keys.read", "api_keys.update"]}
NEWSLETTER = {"name": "newsletter", "api_key_id": "newsletter-1", "scopes": ["mail.send", "2fa_required"]}
MARKETING = [CI_DEPLOY, MARKETING_ADMIN, NEWSLETTER]


def get(path: str = API_KEYS, on_behalf_of: str | None = None) -> tuple:
    return ("GET", path, on_behalf_of, None)


def floor(keys: list, on_behalf_of: str | None = None) -> list:
    """The documented requests: the list, then one GET per key."""
    return [get(on_behalf_of=on_behalf_of)] + [get("%s/%s" % (API_KEYS, key["api_key_id"]), on_behalf_of) for key in keys]


def listed(*keys) -> list:
    """Keys as the module returns them: name, id and sorted scopes, sorted by name then id."""
    return sorted(({"name": key["name"], "api_key_id": key["api_key_id"], "scopes": sorted(key["scopes"])} for key in keys),
                  key=lambda key: (key["name"], key["api_key_id"]))


def start_keys() -> list:
    """The parent's keys: those the server was started with, by the names and ids the server gives them (a key of
    the form SG.<id>.<secret> has that id, as SendGrid's keys have)."""
    return [{"name": "start key %d" % number, "api_key_id": key.split(".")[1], "scopes": sorted(scopes)}
            for number, (key, scopes) in enumerate(SERVER_KEYS.items(), 1)]


def control_scopes(scopes) -> list:
    return sorted(scope for scope in scopes if any(fnmatchcase(scope, pattern) for pattern in CONTROL))


def plant(server, account: str, keys: list) -> None:
    server.set_state(account, keys, setting=SETTING, replace=True)


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, context)}: every batched case of this file, run once."""
    return CASES.run(module_start_server)


def keys_extra_vars(server, cases=(), **extra_vars) -> dict:
    variables = {"sg_" + name: value for name, value in extra_vars.items()}
    return dict(sg_api_url=server.url, sg_cases=list(cases), **variables)


def keys_run(server, cases=(), **extra_vars):
    run = run_playbook("api_keys.yml", keys_extra_vars(server, cases, **extra_vars), env={"IT_READ_ONLY_KEY": READ_ONLY_KEY})
    assert run.rc == 0, run.explain()
    for marker in CRASH_MARKERS:
        assert marker not in run.stdout + run.stderr, "%r in the output\n%s" % (marker, run.explain())
    return run


def audited(item: dict) -> tuple:
    """(api_keys, flagged) of a case that passed, after checking it changed nothing."""
    assert not item.get("failed"), item
    assert item["changed"] is False, item
    return item["api_keys"], item["flagged"]


@CASES.add("audit")
def _audit(start):
    server = start()                                          # the single key wrapped in result: [...], as the spec has it
    bare = start(api_key_answer="object")                     # the bare object
    eu_server = start(region="eu")
    plant(server, "marketing", MARKETING)
    plant(server, "account-id 777", [{"name": "billing app", "api_key_id": "billing-app-1", "scopes": ["mail.send"]}])
    spaced = {"name": "My API Key", "api_key_id": "my-api-key-1", "scopes": ["mail.send", "access_settings.whitelist.read"]}
    plant(bare, "billing", [spaced])
    eu_sender = {"name": "eu-sender", "api_key_id": "eu-sender-1", "scopes": ["mail.send"]}
    plant(eu_server, "eu-newsletter", [eu_sender])
    sending = ["mail.send", "2fa_required"]

    # no case takes its key from elsewhere (key_from): the key of the case is the one it needs
    return (server, bare, eu_server, spaced, eu_sender), PlaybookCase("api_keys.yml", keys_extra_vars(
        server, eu_api_url=eu_server.url, cases=[
            {"case": "parent"},
            {"case": "marketing", "on_behalf_of": "marketing", "allowed_scopes": sending,
             "allowed_control_keys": ["marketing-admin"]},
            {"case": "customer account, nothing allowed", "on_behalf_of": "account-id 777", "allowed_scopes": []},
            {"case": "bare answers", "api_url": bare.url, "on_behalf_of": "billing", "allowed_scopes": ["mail.*"],
             "allowed_control_keys": ["my api key"]},
            {"case": "eu", "region": "eu", "on_behalf_of": "eu-newsletter", "allowed_scopes": ["mail.send"]},
            {"case": "no keys", "on_behalf_of": "support", "allowed_scopes": []},
        ], check={"on_behalf_of": "marketing", "allowed_scopes": ["mail.send"]},
        defaults={"on_behalf_of": "marketing", "allowed_control_keys": ["ci-deploy", "marketing-admin"]}))


def test_the_audit_reads_each_account_at_the_documented_floor_in_both_answer_shapes_and_flags_over_privileged_keys(
        runs):
    run, (server, bare, eu_server, spaced, eu_sender) = runs["audit"]
    assert run.rc == 0, run.explain()
    for marker in CRASH_MARKERS:
        assert marker not in own_output(run, "audit") + run.stderr, "%r in the output\n%s" % (marker, run.explain())

    # exactly the floor of each task, in order, each with its account's header; nothing written anywhere
    assert calls(server) == (floor(start_keys()) + floor(listed(*MARKETING), "marketing")
                             + floor([{"api_key_id": "billing-app-1"}], "account-id 777") + floor([], "support")
                             + floor(listed(*MARKETING), "marketing") * 2)
    assert calls(bare) == floor([spaced], "billing")
    assert calls(eu_server) == floor([eu_sender], "eu-newsletter")
    lists = [entry for srv in (server, bare, eu_server) for entry in srv.requests() if entry["path"].split("?")[0] == API_KEYS]
    assert [query(entry) for entry in lists] == [{"limit": "100"}] * 8

    results = case_outcomes(run, "keys")
    # the parent: the keys the server was started with; the one holding every scope holds control scopes
    keys, flagged = audited(results["parent"])
    assert keys == start_keys()
    assert flagged == [{"name": "start key 1", "api_key_id": start_keys()[0]["api_key_id"], "excess_scopes": [],
                        "control_scopes": control_scopes(SERVER_KEYS[KEY]), "name_shared": False}]
    # the over-privileged key planted on the subuser is flagged for both reasons; the admin key is allowed by name
    keys, flagged = audited(results["marketing"])
    assert keys == listed(*MARKETING)
    assert flagged == [{"name": "ci-deploy", "api_key_id": "ci-deploy-1", "excess_scopes": ["stats.read"],
                        "control_scopes": ["api_keys.create", "teammates.read"], "name_shared": False}]
    assert audited(results["customer account, nothing allowed"])[1] == [
        {"name": "billing app", "api_key_id": "billing-app-1", "excess_scopes": ["mail.send"], "control_scopes": [], "name_shared": False}]
    # read from bare single-key answers alike; names are compared whole and case-sensitively
    keys, flagged = audited(results["bare answers"])
    assert keys == listed(spaced)
    assert flagged == [{"name": "My API Key", "api_key_id": "my-api-key-1", "excess_scopes": [],
                        "control_scopes": ["access_settings.whitelist.read"], "name_shared": False}]
    assert audited(results["eu"]) == (listed(eu_sender), [])
    assert audited(results["no keys"]) == ([], [])
    # check mode reads the same; module_defaults give the connection and the account
    check = run.task("check mode")
    assert check["status"] == "ok" and check["result"]["api_keys"] == listed(*MARKETING)
    # without the administration key allowed by name, and with 2fa_required (a marker SendGrid lists) not allowed
    assert check["result"]["flagged"] == [
        {"name": "ci-deploy", "api_key_id": "ci-deploy-1", "excess_scopes": ["stats.read"],
         "control_scopes": ["api_keys.create", "teammates.read"], "name_shared": False},
        {"name": "marketing-admin", "api_key_id": "marketing-admin-1", "excess_scopes": [],
         "control_scopes": ["api_keys.read", "api_keys.update"], "name_shared": False},
        {"name": "newsletter", "api_key_id": "newsletter-1", "excess_scopes": ["2fa_required"], "control_scopes": [], "name_shared": False}]
    defaults = run.task("module defaults")
    assert defaults["status"] == "ok" and defaults["result"]["flagged"] == []
    # no secret anywhere (run_playbook checks the keys themselves): a key is a name, an id and scopes
    for item in list(results.values()) + [check["result"], defaults["result"]]:
        assert all(set(key) == {"name", "api_key_id", "scopes"} for key in item["api_keys"])


def test_a_key_without_api_keys_read_bad_input_and_an_unknown_subuser_fail_clearly(server, tally):
    plant(server, "marketing", MARKETING)

    run = keys_run(server, cases=[
        {"case": "no api_keys.read", "key_from": "IT_READ_ONLY_KEY"},
        {"case": "no api_keys.read for a subuser", "key_from": "IT_READ_ONLY_KEY", "on_behalf_of": "marketing"},
        {"case": "a pattern with a space", "allowed_scopes": ["mail.send", "user settings.*"]},
        {"case": "an empty key name", "allowed_control_keys": ["ci-deploy", " "]},
        {"case": "unknown subuser", "on_behalf_of": "nobody"},
    ])

    # one refused list each (a 403 or 404 is an answer: not retried); nothing at all for the bad input
    assert calls(server, with_status=True) == [
        ("GET", API_KEYS, None, None, 403), ("GET", API_KEYS, "marketing", None, 403), ("GET", API_KEYS, "nobody", None, 404)]
    assert [entry["headers"]["Authorization"] for entry in server.requests()] == ["Bearer " + READ_ONLY_KEY] * 2 + [
        "Bearer " + KEY]
    results = case_outcomes(run, "keys")
    url = server.url + API_KEYS
    assert explained(results["no api_keys.read"]) == (
        "Listing the API keys GET %s failed (HTTP 403: access forbidden). The API key lacks the scope api_keys.read "
        "needed for listing the API keys." % url)
    assert "lacks the scope api_keys.read" in explained(results["no api_keys.read for a subuser"])
    assert "on behalf of 'marketing' (on_behalf_of)" in explained(results["no api_keys.read for a subuser"])
    assert explained(results["a pattern with a space"]) == (
        "value of allowed_scopes must hold scopes or fnmatch patterns such as mail.send or user.settings.*, each "
        "non-empty text without spaces, got: 'user settings.*'.")
    assert explained(results["an empty key name"]) == (
        "value of allowed_control_keys must hold API key names, each non-empty text, got: ' '.")
    assert "SendGrid does not know the subuser or account 'nobody'" in explained(results["unknown subuser"])
    tally("failure_reported")
    tally("bad_input_rejected")
