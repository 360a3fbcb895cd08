"""The role mailops.sendgrid.baseline (and sendgrid_baseline under it) against a global and an EU server.

Six cases, run together in ONE ansible-playbook (conftest.run_cases: each on a host and servers of its own; a start
costs about a CPU-second before any task): the edge cases are unit tests (tests/unit/plugins/module_utils/
test_baseline.py) and option matrix cases. Each case is judged on its task results, its servers' request logs (every
account's requests in order: within an account they are sequential, accounts run concurrently), the servers' state and
the report.

The full baseline used throughout: Enforced TLS, click and open tracking and spam forwarding by ``enabled`` alone (one
summary GET per family), a footer with text (a GET of its own), the allow list, and the API key audit. Its floor per
account in sync is 6 GETs plus one per API key: Enforced TLS, the two summaries, the footer, the key list, the allow
list.
"""

from __future__ import annotations

import json

import pytest

from conftest import (
    DEFAULT_SETTINGS, START_KEY_IDS, SUBUSERS_PATH, TLS_PATH, Cases, PlaybookCase, Start, assert_clear_failure, assert_nothing_sent,
    calls,
)

CASES = Cases()

APPLY = "Apply the baseline to every account in one run"
GATE = "Fail the dry run on drift"
FOOTER = "Example Ltd, 1 Example Street"
BILLING_FOOTER = "Example Billing Ltd, 2 Example Street"
POLICY = dict(
    baseline_enforced_tls={"require_tls": True, "min_tls_version": "1.2"},
    baseline_tracking={"open": {"enabled": False}, "click": {"enabled": False}},
    baseline_mail_settings={"forward_spam": {"enabled": False}, "footer": {"enabled": True, "plain_content": FOOTER}},
    baseline_ip_access={"entries": ["127.0.0.1", "203.0.113.0/24"]},
    # the servers' first start key holds every scope, control scopes included: the automation's own, allowed by name
    # (its other scopes are still checked); the second holds user.settings.enforced_tls.read
    baseline_api_keys={"allowed_scopes": ["mail.send", "user.settings.*", "tracking_settings.*", "mail_settings.*",
                                          "subusers.read", "user.webhooks.event.*", "whitelabel.*"],
                       "allowed_control_keys": ["start key 1"]},
)
# billing keeps TLS 1.1 (a fresh account's: not sent) and has a footer of its own; the rest of the policy applies
OVERRIDE = {"name": "billing", "enforced_tls": {"min_tls_version": "1.1"},
            "mail_settings": {"footer": {"plain_content": BILLING_FOOTER}}}
# in the order handled: the parent, the listed account, then the discovered ones not excluded (support is)
ACCOUNTS = [("parent", "global"), ("billing", "global"), ("marketing", "global"), ("eu-newsletter", "eu")]
ALL_SETTINGS = ["enforced_tls", "tracking.click", "tracking.open", "mail_settings.forward_spam", "mail_settings.footer",
                "ip_access", "api_keys"]
ENTRIES = ["127.0.0.1/32", "203.0.113.0/24"]
# a key the audit flags: a scope beyond the allowed ones, and a control scope without being named
CI_KEY = {"name": "ci", "api_key_id": "ci-1", "scopes": ["mail.send", "api_keys.create", "templates.read"]}

ALLOW_LIST = "/v3/access_settings/whitelist"
ACTIVITY = "/v3/access_settings/activity"
KEYS = "/v3/api_keys"
FOOTER_PATH = "/v3/mail_settings/footer"
WEBHOOKS_PATH = "/v3/user/webhooks/event/settings/all"
# the plain one carries basic-auth credentials, its host in capitals with the final dot of a fully qualified name
BASIC_PASSWORD = "basic-PW-3c9d71"
WEBHOOKS = [{"id": "unsigned-1", "url": "https://hooks.example.com/engagement", "friendly_name": "engagement"},
            {"id": "plain-1", "url": "http://user:%s@HOOKS.EXAMPLE.COM./plain" % BASIC_PASSWORD, "signed": True}]
PLAIN_SHOWN = "http://user:********@HOOKS.EXAMPLE.COM./plain"


def role(server, eu_server, **more) -> dict:
    return dict(baseline_api_url=server.url, baseline_eu_api_url=eu_server.url, baseline_discover_subusers=True,
                baseline_exclude=["support"], baseline_subusers=[OVERRIDE], **dict(POLICY, **more))


def footer_of(name):
    return BILLING_FOOTER if name == "billing" else FOOTER


def into_baseline(server, names):
    """Put these accounts of a server where the baseline wants them, behind the API's back."""
    for name in names:
        server.set_state(name, {"require_tls": True, "version": 1.1 if name == "billing" else 1.2})
        for setting in ("tracking_settings/click", "tracking_settings/open"):
            server.set_state(name, {"enabled": False}, setting=setting)
        server.set_state(name, {"enabled": True, "plain_content": footer_of(name)}, setting="mail_settings/footer")
        server.set_state(name, ENTRIES, setting="access_settings/whitelist", replace=True)


# ----------------------------------------------------------------------------- each account's requests, in order

def reads():
    """The engine's reads: the two summaries (sections with enabled alone), then Enforced TLS and the footer."""
    return [("GET", "/v3/tracking_settings", None, 200), ("GET", "/v3/mail_settings", None, 200),
            ("GET", TLS_PATH, None, 200), ("GET", FOOTER_PATH, None, 200)]


def writes(name, footer_status=200):
    """What a fresh account gets: Enforced TLS (billing keeps 1.1, so no version), click, open, the footer."""
    tls = {"require_tls": True} if name == "billing" else {"require_tls": True, "version": 1.2}
    return [("PATCH", TLS_PATH, tls, 200),
            ("PATCH", "/v3/tracking_settings/click", {"enabled": False}, 200),
            ("PATCH", "/v3/tracking_settings/open", {"enabled": False}, 200),
            ("PATCH", FOOTER_PATH, {"enabled": True, "plain_content": footer_of(name)}, footer_status)]


def keys(*key_ids):
    return [("GET", KEYS, None, 200)] + [("GET", "%s/%s" % (KEYS, key_id), None, 200) for key_id in key_ids]


def allow_list_added():
    """The list read, the lockout guard's read of the activity, one POST with both entries."""
    return [("GET", ALLOW_LIST, None, 200), ("GET", ACTIVITY, None, 200),
            ("POST", ALLOW_LIST, {"ips": [{"ip": ip} for ip in ENTRIES]}, 201)]


def in_sync(*key_ids):
    return reads() + keys(*key_ids) + [("GET", ALLOW_LIST, None, 200)]


def by_account(server) -> dict:
    """{on-behalf-of: [(method, path, body, status), ...]} in the order the server got them."""
    found = {}
    for call in calls(server, with_status=True):
        found.setdefault(call.on_behalf_of, []).append((call.method, call.path, call.body, call.status))
    return found


def discovery():
    return [("GET", SUBUSERS_PATH, None, 200)] * 2    # the page of subusers, then the empty page that ends the list


def module_results(run) -> list:
    # ansible-core 2.21 names a role's task "<role> : <name>"
    return [task for task in run.tasks if task["task"] == APPLY or task["task"].endswith(" : " + APPLY)]


def statuses(account: dict) -> dict:
    return {name: setting["status"] for name, setting in account["settings"].items()}


def read_report(directory):
    report = json.loads((directory / "baseline_report.json").read_text(encoding="utf-8"))
    markdown = (directory / "baseline_report.md").read_text(encoding="utf-8")
    rows = [[cell.strip() for cell in line.strip()[1:-1].split(" | ")]
            for line in markdown.splitlines() if line.startswith("| ") and not line.startswith(("| account |", "| --- |"))]
    return report, markdown, {(row[0], row[2]): row for row in rows}


# ----------------------------------------------------------------------------- the cases

@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    """{case: (run, (server, EU server, report directory))}: every case of this file, run once."""
    return CASES.run(Start(module_start_server, tmp_path_factory.mktemp("baseline")))


@CASES.add("failing setting")
def _failing_setting(start):
    server, eu_server = start(), start(region="eu")
    server.set_state("marketing", [CI_KEY], setting="api_keys")
    # one setting of one account fails: the EU host refuses the footer (a 400 is not retried)
    eu_server.add_fault("error", status=400, method="PATCH", path=FOOTER_PATH, message="footer refused for the test")
    reports = start.directory() / "failing-setting"
    return (server, eu_server, reports), PlaybookCase(
        "baseline.yml", dict(role(server, eu_server), sg_first_report=str(reports)), diff=True)


@CASES.add("second run")
def _second_run(start):
    server, eu_server = start(), start(region="eu")
    into_baseline(server, ["parent", "billing", "marketing"])
    into_baseline(eu_server, ["eu-newsletter"])
    eu_server.set_state("eu-newsletter", {"enabled": False}, setting="mail_settings/footer")   # what a failure left
    reports = start.directory() / "second-run"
    return (server, eu_server, reports), PlaybookCase(
        "baseline.yml", dict(role(server, eu_server), sg_second_report=str(reports), sg_check_again=True))


@CASES.add("drift gate")
def _drift_gate(start):
    server, eu_server = start(), start(region="eu")
    into_baseline(server, ["parent", "billing", "marketing"])
    into_baseline(eu_server, ["eu-newsletter"])
    # behind the role's back: marketing tracks opens again, billing got an over-privileged key
    server.set_state("marketing", {"enabled": True}, setting="tracking_settings/open")
    server.set_state("billing", [{"name": "legacy", "api_key_id": "legacy-1", "scopes": ["mail.send", "teammates.read"]}],
                     setting="api_keys")
    # and marketing posts its events to an unsigned webhook and to one over plain http
    server.set_state("marketing", WEBHOOKS, setting="user/webhooks/event/settings", replace=True)
    reports = start.directory() / "drift-gate"
    # (test_pipeline.py passes the gate as a pipeline does, an -e string)
    return (server, eu_server, reports), PlaybookCase(
        "baseline.yml", dict(role(server, eu_server, baseline_event_webhooks={"allowed_hosts": ["*.Example.com."]}),
                             sg_first_report=str(reports), baseline_fail_on_drift=True),
        check=True)


@CASES.add("enforced_tls gate")
def _enforced_tls_gate(start):
    server = start()
    server.set_state("billing", {"require_tls": True, "version": 1.2})
    reports = start.directory() / "enforced-tls-gate"
    return (server, None, reports), PlaybookCase("role.yml", dict(
        enforced_tls_api_url=server.url, enforced_tls_subusers=["marketing", "billing"], enforced_tls_min_tls_version="1.2",
        enforced_tls_report_dir=str(reports), enforced_tls_fail_on_drift=True), check=True)


@CASES.add("allow list warnings")
def _allow_list_warnings(start):
    server, eu_server = start(), start(region="eu")
    server.set_state("marketing", ["127.0.0.1", "203.0.113.0/24"], setting="access_settings/whitelist", replace=True)
    # the policy allows a network of every IPv4 address; support takes the policy's entries, marketing removes an
    # address a wider entry covers, billing has wide entries of its own
    return (server, eu_server, None), PlaybookCase("baseline.yml", dict(
        baseline_api_url=server.url, baseline_eu_api_url=eu_server.url,
        baseline_ip_access={"entries": ["127.0.0.1", "0.0.0.0/0"], "allow_any_address": True},
        baseline_subusers=["support", {"name": "marketing", "ip_access": {"state": "absent", "entries": ["203.0.113.5"]}},
                           {"name": "billing", "ip_access": {"entries": ["127.0.0.1", "172.16.0.0/12"]}}]))


@CASES.add("any address refused")
def _any_address_refused(start):
    server, eu_server = start(), start(region="eu")
    return (server, eu_server, None), PlaybookCase("baseline.yml", dict(
        baseline_api_url=server.url, baseline_eu_api_url=eu_server.url, baseline_discover_subusers=True,
        baseline_ip_access={"entries": ["127.0.0.1", "::/0"]}, baseline_subusers=["marketing"]))


# ----------------------------------------------------------------------------- the tests

def test_the_full_baseline_reaches_every_account_with_the_floor_of_requests_and_one_failing_setting_stops_nothing(
        runs, tally):
    run, (server, eu_server, reports) = runs["failing setting"]

    # the role fails at the end, after every other account and setting was handled and the report written
    message = assert_clear_failure(run, APPLY)
    tally("failure_reported")
    assert message.startswith("1 of 4 accounts failed: eu-newsletter: mail_settings.footer: Updating the footer "
                              "settings PATCH %s%s failed (HTTP 400: footer refused for the test)" % (eu_server.url, FOOTER_PATH))
    result = run.result(APPLY)
    urls = {"global": server.url, "eu": eu_server.url}
    assert [(a["name"], a["region"], a["api_url"], a["changed"], a["failed"]) for a in result["accounts"]] == [
        (name, region, urls[region], True, name == "eu-newsletter") for name, region in ACCOUNTS]
    changed = dict(dict.fromkeys(ALL_SETTINGS, "changed"), **{"mail_settings.forward_spam": "compliant", "api_keys": "compliant"})
    assert [statuses(a) for a in result["accounts"]] == [
        changed, changed, dict(changed, api_keys="flagged"), dict(changed, **{"mail_settings.footer": "failed"})]
    assert result["summary"] == {"accounts": 4, "compliant": 0, "changed": 4, "would_change": 0, "failed": 1, "flagged": 1}
    assert result["drift"] == [
        {"account": "parent", "settings": ["enforced_tls", "tracking.click", "tracking.open", "mail_settings.footer",
                                           "ip_access"], "flagged": {}},
        {"account": "billing", "settings": ["enforced_tls", "tracking.click", "tracking.open", "mail_settings.footer",
                                            "ip_access"], "flagged": {}},
        {"account": "marketing", "settings": ["enforced_tls", "tracking.click", "tracking.open", "mail_settings.footer",
                                              "ip_access", "api_keys"], "flagged": {"api_keys": ["ci (id ci-1)"]}},
        {"account": "eu-newsletter", "settings": ["enforced_tls", "tracking.click", "tracking.open", "ip_access"],
         "flagged": {}}]
    # what a failed apply wrote is in its result (the play recap does not count it)
    assert [item["account"] for item in result["written"]] == ["parent", "billing", "marketing", "eu-newsletter"]
    assert [a["overrides"] for a in result["accounts"]] == [[], ["enforced_tls", "mail_settings"], [], []]
    billing, marketing, eu = result["accounts"][1:]
    assert billing["settings"]["enforced_tls"] == {
        "status": "changed", "changes": {"require_tls": True},
        "before": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"},
        "after": {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.1"}}
    assert marketing["settings"]["api_keys"] == {"status": "flagged", "keys": 1, "flagged": [
        {"name": "ci", "api_key_id": "ci-1", "excess_scopes": ["templates.read"], "control_scopes": ["api_keys.create"], "name_shared": False}], "cut": []}
    assert marketing["settings"]["ip_access"] == {"status": "changed", "before": [], "after": ENTRIES,
                                                  "changes": {"added": ENTRIES}}
    assert eu["settings"]["mail_settings.footer"]["before"] is None and "HTTP 400" in eu["msg"]
    assert [(d["before_header"], sorted(d["after"])) for d in result["diff"]] == [
        ("parent", sorted(ALL_SETTINGS[:-1])), ("billing", sorted(ALL_SETTINGS[:-1])),
        ("marketing", sorted(ALL_SETTINGS[:-1])), ("eu-newsletter", sorted(set(ALL_SETTINGS[:-1]) - {"mail_settings.footer"}))]

    # the floor, per account and in order: reads, minimal writes, keys, the allow list last; the EU account on its host
    assert by_account(server) == {
        None: discovery() + reads() + writes("parent") + keys(*START_KEY_IDS) + allow_list_added(),
        "billing": reads() + writes("billing") + keys() + allow_list_added(),
        "marketing": reads() + writes("marketing") + keys("ci-1") + allow_list_added(),
    }
    assert by_account(eu_server) == {
        "eu-newsletter": reads() + writes("eu-newsletter", footer_status=400) + keys() + allow_list_added()}
    assert server.state()["billing"] == {"require_tls": True, "require_valid_cert": False, "version": 1.1}
    assert server.state("mail_settings/footer")["billing"]["plain_content"] == BILLING_FOOTER
    assert server.state()["support"] == DEFAULT_SETTINGS
    fresh_footer = {"enabled": False, "html_content": "", "plain_content": ""}
    assert eu_server.state("mail_settings/footer")["eu-newsletter"] == fresh_footer
    assert eu_server.state("tracking_settings/open")["eu-newsletter"] == {"enabled": False}

    # the report, written although the run failed: the module's accounts for tools, a row per setting for people
    report, markdown, rows = read_report(reports)
    assert (report["dry_run"], report["failed"], report["summary"], report["drift"]) == (
        False, True, result["summary"], result["drift"])
    assert report["msg"] == message and report["accounts"] == result["accounts"]
    assert report["policy"]["ip_access"] == {"entries": ["127.0.0.1", "203.0.113.0/24"], "state": "present",
                                             "purge": False, "allow_lockout": False, "allow_any_address": False,
                                             "client_addresses": None}
    assert "- Applied: the settings below are the accounts' settings after the run." in markdown
    assert "- Totals: 4 accounts: 0 compliant, 4 changed, 1 with a flagged event webhook, API key or teammate, 1 failed" in markdown
    assert len(rows) == 4 * len(ALL_SETTINGS)
    assert rows[("billing", "enforced_tls")][3:5] == ["changed", "require_tls: no → yes"]
    assert rows[("marketing", "ip_access")][3:5] == ["changed", "added 127.0.0.1/32, 203.0.113.0/24"]
    assert rows[("marketing", "api_keys")][3:5] == [
        "flagged", "1 key; ci (ci-1), beyond the allowed scopes: templates.read, control scopes: api_keys.create"]
    assert rows[("eu-newsletter", "mail_settings.footer")][1:4] == ["eu", "mail_settings.footer", "FAILED"]
    assert "footer refused for the test" in rows[("eu-newsletter", "mail_settings.footer")][5]


def test_a_second_run_writes_only_what_still_differs_and_a_run_in_sync_sends_only_gets_and_passes_the_gate(runs):
    run, (server, eu_server, reports) = runs["second run"]

    assert run.rc == 0, run.explain()
    apply, check = (task["result"] for task in module_results(run))
    assert (apply["changed"], apply["check_mode"], apply["drift"]) == (
        True, False, [{"account": "eu-newsletter", "settings": ["mail_settings.footer"], "flagged": {}}])
    assert apply["summary"] == {"accounts": 4, "compliant": 3, "changed": 1, "would_change": 0, "failed": 0, "flagged": 0}
    assert (check["changed"], check["check_mode"], check["drift"]) == (False, True, [])
    assert check["summary"] == {"accounts": 4, "compliant": 4, "changed": 0, "would_change": 0, "failed": 0, "flagged": 0}
    assert [statuses(a) for a in check["accounts"]] == [dict.fromkeys(ALL_SETTINGS, "compliant")] * 4
    # (skipped in the apply call: it gates dry runs only; ok in the dry run: in sync)
    assert [t["status"] for t in run.tasks if t["task"].endswith(GATE)] == ["skipped", "ok"]
    # the gate names the host run_cases gave this case (any but localhost: one parent account of many)
    assert [t["result"]["msg"] for t in run.tasks if t["task"].endswith(GATE) and t["status"] == "ok"] == [
        "In sync (baseline_fail_on_drift) on %s: none of the 4 accounts would change or have a flagged event webhook, "
        "API key or teammate." % run.tasks[0]["host"]]
    assert [t["task"] for t in run.tasks if t["status"] == "changed"] == [module_results(run)[0]["task"]]

    # the one write is the footer left behind; everything else, both calls, is the floor of GETs
    assert by_account(server) == {
        None: discovery() + in_sync(*START_KEY_IDS) + discovery() + in_sync(*START_KEY_IDS),
        "billing": in_sync() * 2, "marketing": in_sync() * 2}
    assert by_account(eu_server) == {"eu-newsletter": reads() + [
        ("PATCH", FOOTER_PATH, {"enabled": True}, 200)] + keys() + [("GET", ALLOW_LIST, None, 200)] + in_sync()}

    report, markdown, rows = read_report(reports)
    assert (report["dry_run"], report["failed"], report["drift"]) == (True, False, [])
    assert "- **Dry run (check mode): nothing was written.**" in markdown and "- Drift: none" in markdown
    assert {row[3] for row in rows.values()} == {"compliant"}


def test_the_drift_gate_fails_a_dry_run_after_the_report_naming_each_drifted_account_and_setting(runs):
    run, (server, eu_server, reports) = runs["drift gate"]

    message = assert_clear_failure(run, GATE)
    assert message == ("Drift (baseline_fail_on_drift) on %s: 2 of 4 accounts would change or have a flagged event "
                       "webhook, API key or teammate: billing (api_keys: legacy (id legacy-1)); marketing (tracking.open, "
                       "event_webhooks: engagement (id unsigned-1), %s (id plain-1)). The "
                       "report is in %s." % (run.tasks[0]["host"], PLAIN_SHOWN, reports))
    result = run.result(APPLY)
    assert result["summary"] == {"accounts": 4, "compliant": 2, "changed": 0, "would_change": 1, "failed": 0, "flagged": 2}
    # the webhook audit: the unsigned one and the plain http one (signed, on an allowed host), each saying why
    assert result["accounts"][2]["settings"]["event_webhooks"] == {"status": "flagged", "webhooks": 2, "signed": [], "flagged": [
        {"id": "unsigned-1", "name": "engagement", "url": "https://hooks.example.com/engagement", "http": False,
         "unsigned": True, "host_not_allowed": False},
        {"id": "plain-1", "name": None, "url": PLAIN_SHOWN, "http": True, "unsigned": False,
         "host_not_allowed": False}]}
    assert [a["settings"]["event_webhooks"]["status"] for a in result["accounts"]] == [
        "compliant", "compliant", "flagged", "compliant"]
    # every account's webhooks read once, with its own header
    assert sorted(call.on_behalf_of or "parent" for call in calls(server) + calls(eu_server)
                  if call.path == WEBHOOKS_PATH) == ["billing", "eu-newsletter", "marketing", "parent"]
    assert result["accounts"][2]["settings"]["tracking.open"] == {
        "status": "would_change", "before": {"enabled": True}, "after": {"enabled": False}, "changes": {"enabled": False}}
    # a dry run: nothing written anywhere
    assert {call.method for call in calls(server) + calls(eu_server)} == {"GET"}
    assert server.state("tracking_settings/open")["marketing"] == {"enabled": True}

    report, markdown, rows = read_report(reports)
    assert (report["dry_run"], report["failed"], report["drift"]) == (True, False, result["drift"])
    assert report["accounts"][1]["settings"]["api_keys"]["flagged"] == [
        {"name": "legacy", "api_key_id": "legacy-1", "excess_scopes": [], "control_scopes": ["teammates.read"], "name_shared": False}]
    assert ("- Drift: billing (api_keys: legacy (id legacy-1)); marketing (tracking.open, event_webhooks: engagement "
            "(id unsigned-1), %s (id plain-1))" % PLAIN_SHOWN) in markdown
    assert "- Totals: 4 accounts: 2 compliant, 1 would change, 2 with a flagged event webhook, API key or teammate, 0 failed" in markdown
    assert rows[("marketing", "event_webhooks")][3:5] == [
        "flagged", "2 webhooks; flagged engagement (id unsigned-1): not signed; flagged %s "
        "(id plain-1): not https" % PLAIN_SHOWN]
    # the webhook's password shows nowhere: output, results, report, JUnit
    assert not [text for text in [run.stdout, run.stderr, json.dumps(run.tasks)] + [
        path.read_text(encoding="utf-8") for path in reports.iterdir() if path.is_file()] if BASIC_PASSWORD in text]
    assert rows[("marketing", "tracking.open")][3:5] == ["would change", "enabled: yes → no"]


def test_the_enforced_tls_role_s_drift_gate_fails_a_dry_run_naming_the_accounts_and_settings(runs):
    run, (server, _none, reports) = runs["enforced_tls gate"]

    message = assert_clear_failure(run, GATE)
    assert message == ("Drift (enforced_tls_fail_on_drift) on %s: 2 of 3 accounts would change: parent (require_tls, "
                       "min_tls_version); marketing (require_tls, min_tls_version). The report is in %s."
                       % (run.tasks[0]["host"], reports))
    assert json.loads((reports / "enforced_tls_report.json").read_text(encoding="utf-8"))["dry_run"] is True
    assert sorted((call.method, call.path, call.on_behalf_of or "") for call in calls(server)) == [
        ("GET", TLS_PATH, ""), ("GET", TLS_PATH, "billing"), ("GET", TLS_PATH, "marketing")]


WIDE = ("value of %s holds %s, wider than /16 (the widest IPv4 entry taken without this warning): every address it "
        "covers may reach the account. Narrow it unless that is meant.")


def test_allow_list_warnings_name_the_policy_once_an_override_by_its_path_and_an_account_s_own_by_its_name(runs):
    run, (server, eu_server, _none) = runs["allow list warnings"]

    assert run.rc == 0, run.explain()
    task = module_results(run)[0]
    assert task["warnings"] == [
        # the role's variables, not the module's options (issue 20, item 14)
        WIDE % ("baseline_ip_access.entries", "0.0.0.0/0"),   # the policy's, once, though the parent and support take it
        WIDE % ("baseline_subusers[2].ip_access.entries", "172.16.0.0/12"),
        "marketing: 203.0.113.5 is not on the allow list as an entry of its own, but 203.0.113.0/24 covers it: it keeps "
        "access. Remove 203.0.113.0/24 to take it away."]
    # kept out of the result: its shape is the same as without warnings
    assert [(a["name"], a["settings"]["ip_access"]["status"], sorted(a["settings"]["ip_access"])) for a in
            task["result"]["accounts"]] == [
        (name, status, ["after", "before", "changes", "status"])
        for name, status in (("parent", "changed"), ("support", "changed"), ("marketing", "compliant"),
                             ("billing", "changed"))]
    guarded = [("GET", ALLOW_LIST, None, 200), ("GET", ACTIVITY, None, 200)]
    # allowed: the network of every address is sent as it is
    assert by_account(server) == {
        None: guarded + [("POST", ALLOW_LIST, {"ips": [{"ip": "127.0.0.1/32"}, {"ip": "0.0.0.0/0"}]}, 201)],
        "support": guarded + [("POST", ALLOW_LIST, {"ips": [{"ip": "127.0.0.1/32"}, {"ip": "0.0.0.0/0"}]}, 201)],
        "marketing": [("GET", ALLOW_LIST, None, 200)],
        "billing": guarded + [("POST", ALLOW_LIST, {"ips": [{"ip": "127.0.0.1/32"}, {"ip": "172.16.0.0/12"}]}, 201)],
    }
    assert_nothing_sent(eu_server)


def test_a_network_of_every_address_in_the_policy_is_refused_naming_it_with_nothing_sent(runs, tally):
    run, (server, eu_server, _none) = runs["any address refused"]

    message = assert_clear_failure(run, APPLY)
    assert message == ("value of baseline_ip_access.entries must not hold a network of every IPv4 or IPv6 address "
                       "unless baseline_ip_access.allow_any_address is true: it lets any address reach the account, "
                       "which undoes the allow list; got: ::/0.")
    # not even discovery
    assert_nothing_sent(server)
    assert_nothing_sent(eu_server)
    tally("bad_input_rejected")
