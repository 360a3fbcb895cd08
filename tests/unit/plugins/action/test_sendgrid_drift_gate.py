# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The drift gate (issue 20, item 7): 0 in sync, 2 on drift only, 4 (unreachable) when the plan did not complete."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from ansible_collections.mailops.sendgrid.plugins.action.sendgrid_drift_gate import ActionModule, verdict

VARIABLE = "baseline_fail_on_drift"


def baseline(drift, accounts=3):
    return dict(failed=False, drift=drift, summary=dict(accounts=accounts), accounts=[{}] * accounts)


def test_in_sync_is_ok():
    assert verdict(baseline([]), VARIABLE, None) == dict(
        changed=False, msg="In sync (baseline_fail_on_drift): none of the 3 accounts would change or have a flagged "
                           "event webhook, API key or teammate.")


def test_drift_fails_naming_accounts_settings_and_flagged_keys():
    result = verdict(baseline([{"account": "billing", "settings": ["api_keys"], "flagged": {"api_keys": ["legacy"]}},
                               {"account": "marketing", "settings": ["tracking.open"], "flagged": {}}]),
                     VARIABLE, "reports")
    assert result == dict(failed=True, changed=False, msg=(
        "Drift (baseline_fail_on_drift): 2 of 3 accounts would change or have a flagged event webhook, API key or teammate: billing (api_keys: "
        "legacy); marketing (tracking.open). The report is in reports."))


def test_a_failed_run_gives_no_verdict_and_marks_the_host_unreachable_so_the_exit_code_is_not_2():
    result = verdict(dict(failed=True, msg="Listing the subusers failed (HTTP 401)"), VARIABLE, None)
    assert result["unreachable"] is True and "failed" not in result
    assert result["msg"].startswith("No verdict (baseline_fail_on_drift): the plan did not complete")
    assert result["msg"].endswith("Listing the subusers failed (HTTP 401)")


def test_a_long_failure_is_cut_in_the_gate_message():
    result = verdict(dict(failed=True, msg="x" * 20000), VARIABLE, "reports")
    assert len(result["msg"]) < 600 and result["msg"].endswith("... The report is in reports.")


def test_200_drifted_accounts_make_a_short_message():
    drift = [{"account": "sub-%03d" % index, "settings": ["tracking.open"], "flagged": {}} for index in range(201)]
    result = verdict(baseline(drift, 201), VARIABLE, "reports")
    assert len(result["msg"]) < 400 and "... and 196 more (every one in the report)" in result["msg"]


def test_an_enforced_tls_result_drifts_by_its_changed_accounts():
    result = verdict(dict(failed=False, summary=dict(accounts=2), accounts=[
        dict(name="parent", changed=False), dict(name="billing", changed=True, changes={"require_tls": True})]),
        "enforced_tls_fail_on_drift", None)
    assert result["msg"] == "Drift (enforced_tls_fail_on_drift): 1 of 2 accounts would change: billing (require_tls)."


def test_each_verdict_names_the_inventory_host_of_one_parent_account_among_many():
    drift = [{"account": "support", "settings": ["tracking.open"], "flagged": {}}]
    assert verdict(baseline(drift), VARIABLE, "reports/agency_b", "agency_b")["msg"] == (
        "Drift (baseline_fail_on_drift) on agency_b: 1 of 3 accounts would change or have a flagged event webhook, API "
        "key or teammate: support (tracking.open). The report is in reports/agency_b.")
    assert verdict(baseline([]), VARIABLE, None, "agency_a")["msg"].startswith(
        "In sync (baseline_fail_on_drift) on agency_a: none of the 3 accounts")
    assert verdict(dict(failed=True, msg="HTTP 401"), VARIABLE, None, "agency_c")["msg"].startswith(
        "No verdict (baseline_fail_on_drift) on agency_c: the plan did not complete")


@pytest.mark.parametrize("host, named", [("agency_b", " on agency_b: "), ("localhost", ": "), (None, ": ")])
def test_the_gate_task_names_its_inventory_host_unless_it_is_localhost(host, named):
    task = MagicMock(args=dict(result=baseline([]), variable=VARIABLE), async_val=0, check_mode=True,
                     action="mailops.sendgrid.sendgrid_drift_gate")
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    result = action.run(task_vars={} if host is None else {"inventory_hostname": host})
    assert result["msg"].startswith("In sync (baseline_fail_on_drift)%snone of the 3 accounts" % named), result["msg"]
