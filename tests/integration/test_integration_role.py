"""The role mailops.sendgrid.enforced_tls with discovery, against a global and an EU server sharing ~300 subusers.

Issue 8, done when: the role, pointed at the local server with a few hundred subusers in both regions, brings every
one of them into policy with the minimum number of requests, and the report shows each account.

Both servers read one accounts file (one definition of the subusers, as SendGrid's two hosts share one list), and
each case starts its own pair. EU subusers may only be managed on the EU host; the global host only lists them.

The cases run together in one ansible-playbook (conftest.run_cases: each on a host and a pair of servers of its own);
the second run keeps a run of its own, since it needs the state the first run left.
"""

from __future__ import annotations

import json
from collections import Counter, namedtuple
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import DEFAULT_SETTINGS, SUBUSERS_PATH, TLS_PATH, Cases, PlaybookCase, Start, calls, query, run_playbook

CASES = Cases()

APPLY_TASK = "Apply the policy to every account in one run"
PAGE_SIZE = 500  # sendgrid_subuser_info's default page; the role does not change it

# One definition: 300 subusers, every fifth pinned to the EU region, four disabled (still covered: the role's
# default includes disabled subusers), six named test-* and left out by the exclusion. tests-101 is not test-*.
TOTAL = 300
EXCLUDED_AT = (13, 40, 77, 155, 230, 299)
DISABLED_AT = (7, 50, 123, 250)
DEFINITION = [
    {"username": "test-%03d" % i if i in EXCLUDED_AT else "tests-%03d" % i if i == 101 else "acct-%03d" % i,
     "region": "eu" if i % 5 == 0 else "global", "disabled": i in DISABLED_AT}
    for i in range(1, TOTAL + 1)
]
REGION = {s["username"]: s["region"] for s in DEFINITION}
EXCLUDED = [s["username"] for s in DEFINITION if s["username"].startswith("test-")]
COVERED = [s["username"] for s in DEFINITION if not s["username"].startswith("test-")]  # in SendGrid's (id) order
EU_COVERED = [name for name in COVERED if REGION[name] == "eu"]
GLOBAL_COVERED = [name for name in COVERED if REGION[name] == "global"]
# every page with subusers, then the empty page that proves the end (a short page does not)
PAGES = -(-TOTAL // PAGE_SIZE) + 1
LISTING = [{"limit": str(PAGE_SIZE), "offset": str(min(page * PAGE_SIZE, TOTAL)), "region": "all", "include_region": "true"}
           for page in range(PAGES)]

POLICY = dict(enforced_tls_require_tls=True, enforced_tls_require_valid_cert=True, enforced_tls_min_tls_version="1.2")
IN_POLICY = {"require_tls": True, "require_valid_cert": True, "version": 1.2}
FULL_PATCH = {"require_tls": True, "require_valid_cert": True, "version": 1.2}

Hosts = namedtuple("Hosts", "global_ eu")


def test_the_shared_definition_is_what_the_tests_say():
    assert (len(DEFINITION), len(COVERED), len(EXCLUDED), len(EU_COVERED), len(GLOBAL_COVERED)) == (300, 294, 6, 57, 237)
    assert sum(s["region"] == "eu" for s in DEFINITION) == 60
    assert [s["username"] for s in DEFINITION if s["disabled"]] == ["acct-007", "acct-050", "acct-123", "acct-250"]
    assert "tests-101" in COVERED and PAGES == 2


def start_hosts(start_server, directory: Path) -> Hosts:
    """A global and an EU server started from one accounts file: the same subusers, each pinned to its region."""
    accounts_file = directory / "accounts.json"
    accounts_file.write_text(json.dumps({"subusers": DEFINITION}), encoding="utf-8")
    options = dict(accounts_file=str(accounts_file), subusers=[], account_ids=[])
    return Hosts(start_server(**options), start_server(region="eu", **options))


@pytest.fixture(name="hosts")
def fixture_hosts(start_server, tmp_path):
    """A pair of servers for a test of its own."""
    return start_hosts(start_server, tmp_path)


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    """{case: (run, context)}: every batched case of this file, run once."""
    return CASES.run(Start(module_start_server, tmp_path_factory.mktemp("role")))


def role(hosts, **more):
    """Extra vars: the role with discovery on both servers, test-* excluded, the policy, and ``more``."""
    return dict(enforced_tls_api_url=hosts.global_.url, enforced_tls_eu_api_url=hosts.eu.url,
                enforced_tls_discover_subusers=True, enforced_tls_exclude=["test-*"], **POLICY, **more)


def accounts_in_order(first=()):
    """(name, region) of every account the role covers: the parent, the listed ones, then the discovered rest."""
    rest = [name for name in COVERED if name not in first]
    return [("parent", "global")] + [(name, REGION[name]) for name in list(first) + rest]


def listing_then_settings(server) -> dict:
    """Assert the subuser list was read first, page by page, as the parent; return the rest per on-behalf-of.

    The rest must all be Enforced TLS requests: {on_behalf_of: [(method, body, status), ...]} in order.
    """
    log = server.requests()
    assert [(r["method"], urlsplit(r["path"]).path, r["status"]) for r in log[:PAGES]] == [("GET", SUBUSERS_PATH, 200)] * PAGES
    assert [query(r) for r in log[:PAGES]] == LISTING
    return settings_requests(server, skip=PAGES)


def settings_requests(server, skip=0) -> dict:
    """The server's Enforced TLS requests (after the first ``skip``) per on-behalf-of, in order; nothing else allowed."""
    by_account = {}
    for call in calls(server, with_status=True)[skip:]:
        assert call.path == TLS_PATH, call
        by_account.setdefault(call.on_behalf_of, []).append((call.method, call.body, call.status))
    return by_account


def get_then_patch(body):
    return [("GET", None, 200), ("PATCH", body, 200)] if body else [("GET", None, 200)]


def expected_state(region: str, in_policy: dict) -> dict:
    """A server's state: its own region's accounts as ``in_policy`` gives them (the parent lives on the global host),
    every other copy (another region's subusers, the excluded ones) untouched."""
    state = {"parent": in_policy.get("parent", DEFAULT_SETTINGS) if region == "global" else DEFAULT_SETTINGS}
    state.update((s["username"], in_policy.get(s["username"], DEFAULT_SETTINGS) if s["region"] == region else DEFAULT_SETTINGS)
                 for s in DEFINITION)
    return state


def read_report(directory):
    """The JSON report, and the Markdown report's table rows as lists of cells (header and rule left out)."""
    report = json.loads((directory / "enforced_tls_report.json").read_text(encoding="utf-8"))
    markdown = (directory / "enforced_tls_report.md").read_text(encoding="utf-8")
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| account | region | API host |") and lines[1].startswith("| --- |"), markdown[:2000]
    rows = [[cell.strip() for cell in line.strip()[1:-1].split(" | ")] for line in lines[2:]]
    return report, markdown, rows


@CASES.add("apply")
def _apply(start):
    hosts = start_hosts(start, start.directory())
    # some accounts start partly or wholly in policy: only what differs is sent, and nothing to the compliant ones
    hosts.global_.set_state("parent", {"require_valid_cert": True})
    hosts.global_.set_state("acct-002", {"require_tls": True})
    hosts.global_.set_state("acct-011", IN_POLICY)
    hosts.eu.set_state("acct-010", IN_POLICY)
    hosts.eu.set_state("acct-025", {"version": 1.2})
    return hosts, PlaybookCase("role.yml", role(hosts))


def test_role_brings_every_discovered_account_into_policy_with_the_minimum_requests_each_on_its_own_host(runs):
    run, hosts = runs["apply"]
    patches = dict({name: FULL_PATCH for name in COVERED}, **{
        "parent": {"require_tls": True, "version": 1.2}, "acct-002": {"require_valid_cert": True, "version": 1.2},
        "acct-011": None, "acct-010": None, "acct-025": {"require_tls": True, "require_valid_cert": True},
    })

    result = run.result(APPLY_TASK)
    assert run.rc == 0, run.explain()
    assert result["summary"] == {"accounts": 295, "changed": 293, "in_sync": 2, "failed": 0}
    expected_url = {"global": hosts.global_.url, "eu": hosts.eu.url}
    assert [(a["name"], a["region"], a["api_url"], a["failed"]) for a in result["accounts"]] == [
        (name, region, expected_url[region], False) for name, region in accounts_in_order()]
    # the global host: the subuser list, then per account one GET and, only when needed, one minimal PATCH
    assert listing_then_settings(hosts.global_) == {
        (None if name == "parent" else name): get_then_patch(patches[name]) for name in ["parent"] + GLOBAL_COVERED}
    # the EU host: its own subusers only, never a listing
    assert settings_requests(hosts.eu) == {name: get_then_patch(patches[name]) for name in EU_COVERED}
    # every account in policy, on its own region's host only; excluded subusers never asked about
    assert hosts.global_.state() == expected_state("global", {name: IN_POLICY for name in ["parent"] + GLOBAL_COVERED})
    assert hosts.eu.state() == expected_state("eu", {name: IN_POLICY for name in EU_COVERED})
    asked = [call.on_behalf_of for call in calls(hosts.global_) + calls(hosts.eu)]
    assert not set(EXCLUDED) & set(asked)


def test_role_second_run_changes_nothing_and_sends_one_get_per_account(hosts):
    first = run_playbook("role.yml", role(hosts))
    assert first.rc == 0 and first.result(APPLY_TASK)["summary"]["changed"] == 295, first.explain()
    hosts.global_.clear_requests()
    hosts.eu.clear_requests()

    run = run_playbook("role.yml", role(hosts))

    result = run.result(APPLY_TASK)
    assert run.rc == 0, run.explain()
    assert result["changed"] is False
    assert result["summary"] == {"accounts": 295, "changed": 0, "in_sync": 295, "failed": 0}
    assert [task["task"] for task in run.tasks if task["status"] == "changed"] == []
    assert listing_then_settings(hosts.global_) == {
        (None if name == "parent" else name): [("GET", None, 200)] for name in ["parent"] + GLOBAL_COVERED}
    assert settings_requests(hosts.eu) == {name: [("GET", None, 200)] for name in EU_COVERED}


@CASES.add("check mode")
def _check_mode(start):
    hosts = start_hosts(start, start.directory())
    report_dir = start.directory() / "reports"
    return (hosts, report_dir), PlaybookCase("role.yml", role(hosts, enforced_tls_report_dir=str(report_dir)), check=True)


def test_role_in_check_mode_sends_no_patch_and_reports_a_dry_run_where_every_account_would_change(runs):
    run, (hosts, report_dir) = runs["check mode"]

    result = run.result(APPLY_TASK)
    assert run.rc == 0, run.explain()
    assert result["check_mode"] is True
    assert result["summary"] == {"accounts": 295, "changed": 295, "in_sync": 0, "failed": 0}
    assert listing_then_settings(hosts.global_) == {
        (None if name == "parent" else name): [("GET", None, 200)] for name in ["parent"] + GLOBAL_COVERED}
    assert settings_requests(hosts.eu) == {name: [("GET", None, 200)] for name in EU_COVERED}
    assert hosts.global_.state() == expected_state("global", {})
    assert hosts.eu.state() == expected_state("eu", {})

    report, markdown, rows = read_report(report_dir)
    assert report["dry_run"] is True
    assert report["summary"] == {"accounts": 295, "changed": 295, "in_sync": 0, "failed": 0}
    assert [(a["name"], a["region"], a["changed"]) for a in report["accounts"]] == [
        (name, region, True) for name, region in accounts_in_order()]
    # the settings shown are those an apply run would give
    assert {(a["require_tls"], a["require_valid_cert"], a["min_tls_version"])
            for a in report["accounts"]} == {(True, True, "1.2")}
    assert "- **Dry run (check mode): nothing was written.**" in markdown
    assert "- Totals: 295 accounts, 295 would change, 0 already in policy, 0 failed" in markdown
    assert "| would change | what would change |" in markdown
    assert [(row[0], row[1], row[6]) for row in rows] == [(name, region, "yes") for name, region in accounts_in_order()]


@CASES.add("report")
def _report(start):
    hosts = start_hosts(start, start.directory())
    report_dir = start.directory() / "reports"
    return (hosts, report_dir), PlaybookCase("role.yml", role(hosts, enforced_tls_report_dir=str(report_dir)))


def test_role_report_lists_every_account_once_with_its_region_in_json_and_one_markdown_row_each(runs):
    run, (hosts, report_dir) = runs["report"]

    assert run.rc == 0, run.explain()
    report, markdown, rows = read_report(report_dir)
    expected_url = {"global": hosts.global_.url, "eu": hosts.eu.url}
    expected = [(name, region, expected_url[region]) for name, region in accounts_in_order()]
    assert report["dry_run"] is False
    assert report["summary"] == {"accounts": 295, "changed": 295, "in_sync": 0, "failed": 0}
    assert [(a["name"], a["region"], a["api_url"]) for a in report["accounts"]] == expected
    assert max(Counter(a["name"] for a in report["accounts"]).values()) == 1
    assert all((a["require_tls"], a["require_valid_cert"], a["min_tls_version"], a["changed"], a["failed"])
               == (True, True, "1.2", True, False) for a in report["accounts"])
    assert not set(EXCLUDED) & {a["name"] for a in report["accounts"]}
    assert "- Applied: the settings below are the accounts' settings after the run." in markdown
    assert "- Totals: 295 accounts, 295 changed, 0 already in policy, 0 failed" in markdown
    assert len(rows) == 295
    assert [tuple(row[:3]) for row in rows] == expected
    assert {tuple(row[3:7]) for row in rows} == {("yes", "yes", "1.2", "yes")}


@CASES.add("listed subusers")
def _listed_subusers(start):
    hosts = start_hosts(start, start.directory())
    # acct-042 (global) keeps TLS 1.1; acct-045 (EU, region from discovery) does not require a valid certificate
    listed = [{"name": "acct-042", "min_tls_version": "1.1"}, {"name": "acct-045", "require_valid_cert": False}]
    return hosts, PlaybookCase("role.yml", role(hosts, enforced_tls_subusers=listed))


def test_role_gives_a_listed_subuser_its_override_while_discovering_the_rest(runs):
    run, hosts = runs["listed subusers"]

    result = run.result(APPLY_TASK)
    assert run.rc == 0, run.explain()
    assert result["summary"] == {"accounts": 295, "changed": 295, "in_sync": 0, "failed": 0}
    assert [(a["name"], a["region"]) for a in result["accounts"]] == accounts_in_order(first=("acct-042", "acct-045"))
    patches = dict({name: FULL_PATCH for name in ["parent"] + COVERED},
                   **{"acct-042": {"require_tls": True, "require_valid_cert": True},  # 1.1 already: not sent
                      "acct-045": {"require_tls": True, "version": 1.2}})
    settings = dict({name: IN_POLICY for name in ["parent"] + COVERED},
                    **{"acct-042": {"require_tls": True, "require_valid_cert": True, "version": 1.1},
                       "acct-045": {"require_tls": True, "require_valid_cert": False, "version": 1.2}})
    assert listing_then_settings(hosts.global_) == {
        (None if name == "parent" else name): get_then_patch(patches[name]) for name in ["parent"] + GLOBAL_COVERED}
    assert settings_requests(hosts.eu) == {name: get_then_patch(patches[name]) for name in EU_COVERED}
    assert hosts.global_.state() == expected_state("global", settings)
    assert hosts.eu.state() == expected_state("eu", settings)
