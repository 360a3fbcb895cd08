"""sendgrid_enforced_tls_accounts (many accounts, two regions) and sendgrid_subuser_info (paging).

The cases run together in one ansible-playbook (conftest.run_cases: each on a host and servers of its own).
"""

from __future__ import annotations

import pytest

from conftest import (
    DEFAULT_SETTINGS, SUBUSERS_PATH, TLS_PATH, Cases, PlaybookCase, assert_clear_failure, assert_nothing_sent, calls,
    query,
)

CASES = Cases()


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, server or (server, eu_server))}: every case of this file, run once."""
    return CASES.run(module_start_server)


@CASES.add("two regions")
def _two_regions(start):
    server, eu_server = start(), start(region="eu")
    server.set_state("billing", {"require_tls": True, "version": 1.2})  # already compliant
    return (server, eu_server), PlaybookCase("accounts.yml", dict(
        sg_api_url=server.url, sg_eu_api_url=eu_server.url, sg_require_tls=True, sg_min_tls_version="1.2",
        sg_accounts=[{"name": "marketing", "require_valid_cert": True}, {"name": "billing"},
                     {"name": "eu-newsletter", "region": "eu"}],
    ))


def test_accounts_module_applies_the_policy_to_parent_and_subusers_and_routes_eu_to_the_eu_host(runs):
    run, (server, eu_server) = runs["two regions"]

    result = run.result("enforce accounts")
    assert run.rc == 0, run.explain()
    assert result["changed"] is True
    assert result["summary"] == {"accounts": 4, "changed": 3, "in_sync": 1, "failed": 0}
    assert [(a["name"], a["on_behalf_of"], a["region"], a["api_url"], a["changed"]) for a in result["accounts"]] == [
        ("parent", None, "global", server.url, True),
        ("marketing", "marketing", "global", server.url, True),
        ("billing", "billing", "global", server.url, False),
        ("eu-newsletter", "eu-newsletter", "eu", eu_server.url, True),
    ]
    # accounts run concurrently: compare each account's requests, in order, per host
    global_calls = calls(server, with_status=True)
    by_account = {}
    for method, path, obo, body, status in global_calls:
        by_account.setdefault(obo, []).append((method, path, body, status))
    assert by_account == {
        None: [("GET", TLS_PATH, None, 200), ("PATCH", TLS_PATH, {"require_tls": True, "version": 1.2}, 200)],
        "marketing": [("GET", TLS_PATH, None, 200),
                      ("PATCH", TLS_PATH, {"require_tls": True, "require_valid_cert": True, "version": 1.2}, 200)],
        "billing": [("GET", TLS_PATH, None, 200)],
    }
    # the EU subuser only ever went to the EU host, and nothing else did
    assert calls(eu_server, with_status=True) == [
        ("GET", TLS_PATH, "eu-newsletter", None, 200),
        ("PATCH", TLS_PATH, "eu-newsletter", {"require_tls": True, "version": 1.2}, 200),
    ]
    assert server.state() == {
        "parent": {"require_tls": True, "require_valid_cert": False, "version": 1.2},
        "marketing": {"require_tls": True, "require_valid_cert": True, "version": 1.2},
        "billing": {"require_tls": True, "require_valid_cert": False, "version": 1.2},
        "support": DEFAULT_SETTINGS,
        "eu-newsletter": DEFAULT_SETTINGS,  # the global host's copy: untouched
        "account-id 777": DEFAULT_SETTINGS,
    }
    assert eu_server.state()["eu-newsletter"] == {"require_tls": True, "require_valid_cert": False, "version": 1.2}
    assert eu_server.state()["parent"] == DEFAULT_SETTINGS


@CASES.add("check mode")
def _check_mode(start):
    server, eu_server = start(), start(region="eu")
    return (server, eu_server), PlaybookCase("accounts.yml", dict(
        sg_api_url=server.url, sg_eu_api_url=eu_server.url, sg_require_tls=True,
        sg_accounts=[{"name": "marketing"}, {"name": "eu-newsletter", "region": "eu"}],
    ), check=True, diff=True)


def test_accounts_module_in_check_mode_reads_every_account_and_sends_no_patch(runs):
    run, (server, eu_server) = runs["check mode"]

    result = run.result("enforce accounts")
    assert run.rc == 0, run.explain()
    assert result["summary"] == {"accounts": 3, "changed": 3, "in_sync": 0, "failed": 0}
    assert [d["after_header"] for d in result["diff"]] == ["parent", "marketing", "eu-newsletter"]
    assert sorted(calls(server), key=str) == sorted([("GET", TLS_PATH, None, None), ("GET", TLS_PATH, "marketing", None)], key=str)
    assert calls(eu_server) == [("GET", TLS_PATH, "eu-newsletter", None)]
    assert server.state()["parent"] == server.state()["marketing"] == eu_server.state()["eu-newsletter"] == DEFAULT_SETTINGS


@CASES.add("one account fails")
def _one_account_fails(start):
    server = start()
    return server, PlaybookCase("accounts.yml", dict(
        sg_api_url=server.url, sg_include_parent=False, sg_require_tls=True,
        sg_accounts=[{"name": "marketing"}, {"name": "ghost"}, {"name": "billing"}],
    ))


def test_accounts_module_reports_which_account_failed_and_still_handles_the_others(runs, tally):
    run, server = runs["one account fails"]

    result = run.result("enforce accounts")
    assert run.rc == 2, run.explain()
    assert result["summary"] == {"accounts": 3, "changed": 2, "in_sync": 0, "failed": 1}
    assert result["msg"].startswith("1 of 3 accounts failed: ghost: ")
    assert "does not know the subuser or account 'ghost'" in result["msg"]
    assert server.state()["marketing"]["require_tls"] is True
    assert server.state()["billing"]["require_tls"] is True
    assert sorted((c.method, c.on_behalf_of, c.body) for c in calls(server)) == [
        ("GET", "billing", None), ("GET", "ghost", None), ("GET", "marketing", None),
        ("PATCH", "billing", {"require_tls": True}), ("PATCH", "marketing", {"require_tls": True}),
    ]
    tally("failure_reported")


BAD_INPUT = {
    "concurrency-0": dict(sg_concurrency=0, sg_accounts=[{"name": "marketing"}]),
    "duplicate-account": dict(sg_accounts=[{"name": "marketing"}, {"name": "marketing", "require_tls": False}]),
}


def _bad_input(start, options):
    server = start()
    return server, PlaybookCase("accounts.yml", dict(sg_api_url=server.url, sg_require_tls=True, **options))


for _name, _options in BAD_INPUT.items():
    CASES.add("bad input: " + _name, options=_options)(_bad_input)


@pytest.mark.parametrize("name, expected", [
    pytest.param("concurrency-0", "concurrency must be from 1 to 32, got 0.", id="concurrency-0"),
    pytest.param("duplicate-account",
                 "accounts lists 'marketing' more than once; give each account once, with its overrides.",
                 id="duplicate-account"),
])
def test_accounts_module_bad_input_fails_naming_the_option_and_sends_nothing(runs, tally, name, expected):
    run, server = runs["bad input: " + name]

    assert assert_clear_failure(run, "enforce accounts") == expected
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("subuser_info: pages and filters")
def _pages_and_filters(start):
    server = start(subusers=["alpha", "beta", "gamma:disabled", "delta:eu", "test-one", "test-two", "omega"])
    return server, PlaybookCase("subuser_info.yml", dict(
        sg_api_url=server.url, sg_page_size=3, sg_exclude=["test-*"], sg_disabled=False))


def test_subuser_info_follows_every_page_and_filters(runs):
    run, server = runs["subuser_info: pages and filters"]

    result = run.result("list subusers")
    assert run.rc == 0, run.explain()
    assert result["changed"] is False
    assert result["total"] == 7
    assert [(s["username"], s["region"], s["disabled"]) for s in result["subusers"]] == [
        ("alpha", "global", False), ("beta", "global", False), ("delta", "eu", False), ("omega", "global", False)]
    requests = server.requests()
    # the short page at offset 6 is not trusted as the end: only the empty page at 7 is
    assert [(r["method"], r["path"].split("?")[0], r["status"]) for r in requests] == [("GET", SUBUSERS_PATH, 200)] * 4
    assert [query(r) for r in requests] == [
        {"limit": "3", "offset": offset, "region": "all", "include_region": "true"} for offset in ("0", "3", "6", "7")]


@CASES.add("subuser_info: short pages")
def _short_pages(start):
    server = start(subusers=["s%d" % i for i in range(1, 8)], max_page_size=2)
    return server, PlaybookCase("subuser_info.yml", dict(sg_api_url=server.url))


def test_subuser_info_covers_every_subuser_when_the_server_answers_shorter_pages_than_asked(runs):
    """Defect: a server capping pages at 2 while 500 were asked for made discovery stop after the first page."""
    run, server = runs["subuser_info: short pages"]

    result = run.result("list subusers")
    assert run.rc == 0, run.explain()
    assert (result["total"], [s["username"] for s in result["subusers"]]) == (7, ["s%d" % i for i in range(1, 8)])
    assert [(query(r)["limit"], query(r)["offset"]) for r in server.requests()] == [
        ("500", "0"), ("500", "2"), ("500", "4"), ("500", "6"), ("500", "7")]


@CASES.add("subuser_info: full last page")
def _full_last_page(start):
    server = start(subusers=["s1", "s2", "s3", "s4"])
    return server, PlaybookCase("subuser_info.yml", dict(sg_api_url=server.url, sg_page_size=2, sg_names=["s[13]"]))


def test_subuser_info_asks_for_one_more_page_when_the_last_one_is_full(runs):
    run, server = runs["subuser_info: full last page"]

    result = run.result("list subusers")
    assert run.rc == 0, run.explain()
    assert (result["total"], [s["username"] for s in result["subusers"]]) == (4, ["s1", "s3"])
    assert [query(r)["offset"] for r in server.requests()] == ["0", "2", "4"]
