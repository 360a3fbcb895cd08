"""sendgrid_enforced_tls and sendgrid_enforced_tls_info, run by ansible-playbook against the local API server.

Check mode, apply, idempotence and diff; several accounts kept apart; module_defaults; the environment.

Most cases run together in one ansible-playbook (conftest.run_cases: each on a host and a server of its own). Two
keep a run of their own: the second apply needs the state the first left, and the key from the environment must be
in the environment of ansible-playbook itself (as a play's environment, -vvvv would print it).
"""

from __future__ import annotations

import pytest

from conftest import (
    DEFAULT_SETTINGS, KEY, TLS_PATH, Cases, PlaybookCase, calls, header, own_output, run_playbook,
)

CASES = Cases()

GET = ("GET", TLS_PATH)


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, server)}: every batched case of this file, run once."""
    return CASES.run(module_start_server)


def connection(server, **more):
    """Extra vars naming the server and the key, plus the task's options."""
    return dict(sg_api_url=server.url, **more)


POLICY = dict(sg_require_tls=True, sg_require_valid_cert=False, sg_min_tls_version="1.2")


@CASES.add("check mode")
def _check_mode(start):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", connection(server, **POLICY), check=True, diff=True)


def test_check_mode_reads_once_reports_the_change_and_sends_no_patch(runs):
    run, server = runs["check mode"]

    task = run.task("enforce")
    assert run.rc == 0, run.explain()
    assert task["status"] == "changed"
    assert task["result"]["changes"] == {"require_tls": True, "min_tls_version": "1.2"}
    assert task["result"]["enforced_tls"] == {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.2"}
    assert task["result"]["diff"] == {
        "before": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"},
        "after": {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.2"},
    }
    assert calls(server) == [GET + (None, None)]
    assert server.state()["parent"] == DEFAULT_SETTINGS


@CASES.add("apply")
def _apply(start):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", connection(server, **POLICY))


def test_apply_sends_one_get_then_one_patch_with_only_the_differences(runs):
    run, server = runs["apply"]

    task = run.task("enforce")
    assert run.rc == 0, run.explain()
    assert task["status"] == "changed"
    assert task["result"]["changes"] == {"require_tls": True, "min_tls_version": "1.2"}
    assert task["result"]["enforced_tls"] == {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.2"}
    # require_valid_cert is already false: compared, not sent
    assert calls(server, with_status=True) == [
        GET + (None, None, 200),
        ("PATCH", TLS_PATH, None, {"require_tls": True, "version": 1.2}, 200),
    ]
    assert server.state()["parent"] == {"require_tls": True, "require_valid_cert": False, "version": 1.2}


@CASES.add("min_tls_version 1.2")
def _min_tls_version(start):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", connection(server, sg_min_tls_version="1.2"))


def test_min_tls_version_is_sent_as_the_json_number_1_2(runs):
    _run, server = runs["min_tls_version 1.2"]

    patch = server.requests()[-1]
    assert patch["method"] == "PATCH" and patch["body_is_json"]
    version = patch["body"]["version"]
    assert isinstance(version, float) and version == 1.2  # a JSON number, not the string "1.2"
    assert patch["body"] == {"version": 1.2}
    assert header(patch, "Content-Type") == "application/json"


def test_second_apply_is_idempotent_one_get_and_ok(server):
    first = run_playbook("enforced_tls.yml", connection(server, **POLICY))
    assert first.task("enforce")["status"] == "changed", first.explain()
    server.clear_requests()

    second = run_playbook("enforced_tls.yml", connection(server, **POLICY))

    task = second.task("enforce")
    assert second.rc == 0, second.explain()
    assert task["status"] == "ok"
    assert task["result"]["changes"] == {}
    assert calls(server) == [GET + (None, None)]


@CASES.add("diff on apply")
def _diff_on_apply(start):
    server = start()
    server.set_state("parent", {"require_valid_cert": True})
    return server, PlaybookCase("enforced_tls.yml", connection(server, sg_require_valid_cert=False,
                                                               sg_min_tls_version="1.3"), diff=True)


def test_diff_mode_on_apply_shows_before_and_after(runs):
    run, server = runs["diff on apply"]

    result = run.result("enforce")
    assert result["diff"] == {
        "before": {"require_tls": False, "require_valid_cert": True, "min_tls_version": "1.1"},
        "after": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.3"},
    }
    # the default callback shows the diff to the person running the playbook (in this case's part of the output)
    output = own_output(run, "diff on apply")
    assert '-    "require_valid_cert": true' in output, run.explain()
    assert '+    "require_valid_cert": false' in output, run.explain()
    assert calls(server) == [GET + (None, None), ("PATCH", TLS_PATH, None, {"require_valid_cert": False, "version": 1.3})]


@CASES.add("several accounts")
def _several_accounts(start):
    server = start()
    accounts = [
        {"on_behalf_of": None, "require_tls": True},
        {"on_behalf_of": "marketing", "min_tls_version": "1.3"},
        {"on_behalf_of": "billing", "require_valid_cert": True},
        {"on_behalf_of": "account-id 777", "require_tls": True, "min_tls_version": "1.2"},
    ]
    return server, PlaybookCase("several_accounts.yml", dict(sg_api_url=server.url, sg_accounts=accounts))


def test_parent_subusers_and_customer_account_are_kept_apart(runs):
    run, server = runs["several accounts"]

    assert run.rc == 0, run.explain()
    items = run.result("enforce each")["results"]
    assert [item["changes"] for item in items] == [
        {"require_tls": True}, {"min_tls_version": "1.3"}, {"require_valid_cert": True},
        {"require_tls": True, "min_tls_version": "1.2"},
    ]
    assert calls(server) == [
        GET + (None, None), ("PATCH", TLS_PATH, None, {"require_tls": True}),
        GET + ("marketing", None), ("PATCH", TLS_PATH, "marketing", {"version": 1.3}),
        GET + ("billing", None), ("PATCH", TLS_PATH, "billing", {"require_valid_cert": True}),
        GET + ("account-id 777", None), ("PATCH", TLS_PATH, "account-id 777", {"require_tls": True, "version": 1.2}),
    ]
    assert [entry["account"] for entry in server.requests()] == [
        "parent", "parent", "marketing", "marketing", "billing", "billing", "account-id 777", "account-id 777"]
    assert server.state() == {
        "parent": {"require_tls": True, "require_valid_cert": False, "version": 1.1},
        "marketing": {"require_tls": False, "require_valid_cert": False, "version": 1.3},
        "billing": {"require_tls": False, "require_valid_cert": True, "version": 1.1},
        "support": DEFAULT_SETTINGS,
        "eu-newsletter": DEFAULT_SETTINGS,
        "account-id 777": {"require_tls": True, "require_valid_cert": False, "version": 1.2},
    }


@CASES.add("module_defaults")
def _module_defaults(start):
    server = start()
    return server, PlaybookCase("module_defaults.yml", dict(sg_api_url=server.url))


def test_module_defaults_group_gives_every_module_its_connection(runs):
    run, server = runs["module_defaults"]

    assert run.rc == 0, run.explain()
    assert run.task("enforce parent")["status"] == "changed"
    assert run.result("read marketing")["enforced_tls"] == {
        "require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"}
    assert run.result("enforce accounts")["summary"] == {"accounts": 1, "changed": 1, "in_sync": 0, "failed": 0}
    assert [s["username"] for s in run.result("list subusers")["subusers"]] == ["billing"]
    # every request carried the key given only in module_defaults, to the URL given only there
    requests = server.requests()
    assert {header(entry, "Authorization") for entry in requests} == {"Bearer " + KEY}
    assert all(entry["status"] == 200 for entry in requests)
    assert [(c.method, c.path, c.on_behalf_of) for c in calls(server)] == [
        ("GET", TLS_PATH, None), ("PATCH", TLS_PATH, None),
        ("GET", TLS_PATH, "marketing"),
        ("GET", TLS_PATH, "billing"), ("PATCH", TLS_PATH, "billing"),
        ("GET", "/v3/subusers", None), ("GET", "/v3/subusers", None),  # the empty page proves the end
    ]
    assert server.state()["billing"]["version"] == 1.3


def test_api_key_and_url_come_from_the_environment(server):
    run = run_playbook("from_environment.yml", api_key=None, env={"SENDGRID_API_KEY": KEY, "SENDGRID_API_URL": server.url})

    assert run.rc == 0, run.explain()
    assert run.task("enforce")["status"] == "changed"
    assert run.result("read")["enforced_tls"] == {"require_tls": False, "require_valid_cert": True, "min_tls_version": "1.1"}
    assert {header(entry, "Authorization") for entry in server.requests()} == {"Bearer " + KEY}
    assert calls(server) == [GET + (None, None), ("PATCH", TLS_PATH, None, {"require_valid_cert": True}), GET + (None, None)]


@CASES.add("info module")
def _info_module(start):
    server = start()
    server.set_state("marketing", {"require_tls": True, "version": 1.3})
    return server, PlaybookCase("info.yml", dict(sg_api_url=server.url, sg_on_behalf_of="marketing"), check=True)


def test_info_module_reads_one_account_with_one_get_and_changes_nothing(runs):
    run, server = runs["info module"]

    task = run.task("read")
    assert run.rc == 0, run.explain()
    assert task["status"] == "ok"
    assert task["result"]["enforced_tls"] == {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.3"}
    assert calls(server) == [GET + ("marketing", None)]
