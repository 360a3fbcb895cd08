# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The baseline report as people and pipelines read it (issue 20, items 7, 8 and 13): the verdict first, drift a JUnit
failure and anything else an error, a summary before the details, short one-line messages at 200 accounts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.mailops.sendgrid.plugins.plugin_utils._baseline_report import (
    drift_line, junit, markdown, outcome, with_verdict,
)

FLAGGED = {"name": "ci-deploy", "api_key_id": "k-1", "excess_scopes": [], "control_scopes": ["api_keys.create"]}


def account(name, failed=False, msg=None, overrides=(), disabled=None, **statuses):
    settings = {}
    for key, status in statuses.items():
        key = key.replace("__", ".")
        if key == "api_keys":
            settings[key] = dict(status=status, keys=1, flagged=[FLAGGED] if status == "flagged" else [])
        else:
            settings[key] = dict(status=status, before={"enabled": True}, after={"enabled": False},
                                 changes={"enabled": False} if status in ("would_change", "changed") else {})
            if status == "failed":
                settings[key].update(before=None, after=None, msg="HTTP 403 for %s" % key)
    entry = dict(name=name, region="global", failed=failed, settings=settings, overrides=list(overrides),
                 disabled=disabled)
    if msg:
        entry["msg"] = msg
    return entry


def report(accounts, dry_run=True, failed=False, msg=None, drift=None):
    summary = dict(accounts=len(accounts), compliant=0, changed=0, would_change=0, failed=0, flagged=0)
    return dict(generated_at="2026-12-07T10:00:00Z", dry_run=dry_run, policy={"tracking": {"open": {"enabled": False}}},
                discovered=None, summary=summary, drift=drift or [], written=[], failed=failed, msg=msg,
                accounts=accounts)


STOPPED = report([], failed=True, msg="Discovering the subusers failed, so no account was handled: HTTP 401")


def test_a_run_that_stopped_before_any_account_says_so_first_in_every_file():
    assert outcome(STOPPED) == "incomplete"
    written = with_verdict(STOPPED)
    assert list(written)[:2] == ["outcome", "complete"] and written["complete"] is False
    text = markdown(STOPPED)
    assert text.split("\n")[2].startswith("**This run did not complete: it stopped before handling any account, so "
                                          "nothing below says whether any account drifted.** Reason: Discovering")
    assert "0 accounts" not in text.split("\n")[2]
    root = ET.fromstring(junit(STOPPED))
    case = root.find("testsuite/testcase")
    assert (case.get("classname"), case.get("name")) == ("baseline", "run")
    assert case.find("error").get("message").startswith("The run did not complete: Discovering the subusers failed")
    assert root.get("errors") == "1" and root.get("failures") == "0"


def test_a_run_where_an_account_failed_says_so_first_and_names_it():
    partial = report([account("parent", tracking__open="compliant"),
                      account("billing", failed=True, msg="tracking.open: HTTP 403", tracking__open="failed")],
                     failed=True, msg="1 of 2 accounts failed")
    assert outcome(partial) == "failed" and with_verdict(partial)["complete"] is False
    assert markdown(partial).split("\n")[2] == (
        "**This run did not complete for every account: 1 of 2 accounts failed (billing): a setting could not be read, "
        "or the API key may not write what would change.** The others are reported below.")


def test_an_apply_that_changed_accounts_is_changed_not_drift_and_flagged_keys_stay_drift():
    changed = report([account("parent", tracking__open="changed")], dry_run=False,
                     drift=[{"account": "parent", "settings": ["tracking.open"], "flagged": {}}])
    changed["summary"]["changed"] = 1
    assert outcome(changed) == "changed" and with_verdict(changed)["complete"] is True
    assert markdown(changed).split("\n")[2] == "**Applied: 1 of 1 account changed; every one now follows the policy.**"
    flagged = report([account("parent", tracking__open="changed", api_keys="flagged")], dry_run=False,
                     drift=[{"account": "parent", "settings": ["tracking.open", "api_keys"],
                             "flagged": {"api_keys": ["ci-deploy"]}}])
    flagged["summary"].update(changed=1, flagged=1)
    assert outcome(flagged) == "drift"
    assert markdown(flagged).split("\n")[2] == (
        "**Drift: 1 of 1 account has a flagged event webhook, API key or teammate, which only a person can fix; 1 changed.**")


def test_drift_is_a_junit_failure_and_a_failed_setting_an_error_and_compliant_passes():
    cases = report([account("parent", tracking__open="would_change", api_keys="flagged"),
                    account("billing", failed=True, msg="x", tracking__open="failed", api_keys="compliant")],
                   drift=[{"account": "parent", "settings": ["tracking.open", "api_keys"], "flagged": {"api_keys": ["ci-deploy"]}}])
    found = {(case.get("classname"), case.get("name")): [child.tag for child in case]
             for case in ET.fromstring(junit(cases)).iter("testcase")}
    assert found == {("parent", "tracking.open"): ["failure"], ("parent", "api_keys"): ["failure"],
                     ("billing", "tracking.open"): ["error"], ("billing", "api_keys"): ["system-out"]}


def test_the_markdown_gives_the_summary_first_then_a_line_per_account_to_look_at_then_the_table():
    accounts = [account("parent", tracking__open="compliant"),
                account("marketing", overrides=["tracking"], tracking__open="would_change", api_keys="flagged"),
                account("old-shop", disabled=True, tracking__open="compliant")]
    text = markdown(report(accounts, drift=[{"account": "marketing", "settings": ["tracking.open", "api_keys"],
                                             "flagged": {"api_keys": ["ci-deploy"]}}]))
    lines = text.split("\n")
    assert lines[2] == "**Drift: 1 of 3 accounts would change or has a flagged event webhook, API key or teammate.**"
    assert text.index("- Totals:") < text.index("## Accounts to look at") < text.index("## Every account and setting")
    assert "- marketing (overrides: tracking): tracking.open would change, api_keys flagged" in lines
    assert "- Drift: marketing (tracking.open, api_keys: ci-deploy)" in lines
    assert [line for line in lines if line.startswith("| old-shop ")] == [
        "| old-shop | global | tracking.open | compliant |  |  | disabled subuser |"]
    assert not any(line.startswith("- old-shop") for line in lines), "a compliant account needs no look"


def test_a_cell_cannot_break_the_table():
    accounts = [account("a|b", failed=True, msg="line one\nline | two", tracking__open="failed")]
    row = [line for line in markdown(report(accounts, failed=True)).split("\n") if line.startswith("| a\\|b ")][0]
    assert "\n" not in row and row.count(" | ") == 6


def test_at_200_accounts_the_drift_in_one_line_names_five_and_counts_the_rest():
    drift = [{"account": "subuser-%03d" % index, "settings": ["tracking.open"], "flagged": {}}
             for index in range(200)]
    line = drift_line(report([], drift=drift))
    assert line.count("subuser-") == 5 and line.endswith("... and 195 more (in the report)")
    assert len(line) < 300


@pytest.mark.parametrize("the_report, verdict", [
    (report([account("parent", tracking__open="compliant")]), "in_sync"),
    (report([account("parent", tracking__open="would_change")],
            drift=[{"account": "parent", "settings": ["tracking.open"], "flagged": {}}]), "drift"),
    (STOPPED, "incomplete"),
])
def test_the_json_starts_with_the_verdict(the_report, verdict):
    written = with_verdict(the_report)
    assert list(written)[:2] == ["outcome", "complete"] and written["outcome"] == verdict
    assert json.loads(json.dumps(written))["accounts"] == the_report["accounts"]


def test_at_200_drifted_accounts_the_markdown_summary_stays_short_and_each_account_has_its_line():
    accounts = [account("subuser-%03d" % index, tracking__open="would_change") for index in range(200)]
    drift = [{"account": entry["name"], "settings": ["tracking.open"], "flagged": {}} for entry in accounts]
    lines = markdown(report(accounts, drift=drift)).split("\n")
    (drift_summary,) = [line for line in lines if line.startswith("- Drift: ")]
    assert len(drift_summary) < 300 and drift_summary.endswith("... and 195 more (each under Accounts to look at)")
    assert len([line for line in lines if line.startswith("- subuser-")]) == 200
    assert max(len(line) for line in lines[:lines.index("## Accounts to look at")]) < 400


def test_the_report_of_an_inventory_host_names_it_in_the_title_the_suite_and_each_test_case():
    """One host per parent account: their JUnit files are merged by a pipeline, and their accounts may share names."""
    drifted = dict(report([account("parent", tracking__open="compliant"), account("marketing", tracking__open="would_change")],
                          drift=[{"account": "marketing", "settings": ["tracking.open"], "flagged": {}}]),
                   inventory_host="agency_b")
    assert markdown(drifted).split("\n")[:3] == [
        "# Security baseline report: agency_b", "",
        "**Drift: 1 of 2 accounts would change or has a flagged event webhook, API key or teammate.**"]
    suite = ET.fromstring(junit(drifted)).find("testsuite")
    assert (suite.get("name"), suite.get("hostname")) == ("mailops.sendgrid.baseline (agency_b)", "agency_b")
    assert [(case.get("classname"), case.get("name"), [child.tag for child in case]) for case in suite.iter("testcase")] == [
        ("agency_b/parent", "tracking.open", []), ("agency_b/marketing", "tracking.open", ["failure"])]
    stopped = dict(STOPPED, inventory_host="agency_c")
    assert [case.get("classname") for case in ET.fromstring(junit(stopped)).iter("testcase")] == ["agency_c/baseline"]
    assert list(with_verdict(dict(inventory_host="agency_c", **STOPPED)))[:3] == ["outcome", "complete", "inventory_host"]


def test_a_report_without_an_inventory_host_is_titled_and_named_as_before():
    for plain in (STOPPED, dict(STOPPED, inventory_host=None)):
        assert markdown(plain).startswith("# Security baseline report\n\n")
        root = ET.fromstring(junit(plain))
        assert root.get("name") == "SendGrid security baseline"
        assert root.find("testsuite").get("name") == "mailops.sendgrid.baseline"
        assert root.find("testsuite").get("hostname") is None
        assert [case.get("classname") for case in root.iter("testcase")] == ["baseline"]
