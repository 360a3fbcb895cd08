# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The baseline report as people and pipelines read it: its verdict, its Markdown and its JUnit XML, from the report
the role mailops.sendgrid.baseline gathers (the module's result, with when and whether it was a dry run).

The verdict comes first everywhere: a run that did not complete says so before anything that could be read as "no
drift". Runs on the controller (the sendgrid_report and sendgrid_drift_gate action plugins).

For internal use by this collection's plugins only: names here may change without notice.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import first_few, plural
from ansible_collections.mailops.sendgrid.plugins.module_utils._families import A_FLAGGED, family_of

IN_SYNC, CHANGED, DRIFT, FAILED, INCOMPLETE = "in_sync", "changed", "drift", "failed", "incomplete"
STATUS_TEXT = {"compliant": "compliant", "changed": "changed", "would_change": "would change", "failed": "FAILED",
               "flagged": "flagged"}
SHOWN = 5  # accounts named in one-line messages; the rest are in the report
# What the report takes from the module's result, in this order after what the role gives (when, for which host,
# whether a dry run, the policy), each with its value when the result lacks it: a role that stopped before the module
# ran holds only failed and msg.
RESULT_KEYS = (("discovered", None), ("excluded", None), ("summary", {}), ("drift", []), ("written", []),
               ("failed", False), ("msg", None), ("accounts", []))


def with_result(report: dict, result: dict) -> dict:
    """The report: what ``report`` gives, then the module's ``result`` (RESULT_KEYS), as they are, not copied.

    ValueError for a result there is nothing to report on: a skipped task's, or one that is neither a failure (the
    role stopped before the module ran: an incomplete report) nor holds a summary and accounts. A green report from no
    run would pass a pipeline that ran nothing."""
    if result.get("skipped"):
        raise ValueError("a skipped task's result: there is no run to report on")
    if not result.get("failed") and not ("summary" in result and "accounts" in result):
        raise ValueError("no result of sendgrid_baseline: it has neither summary and accounts nor failed")
    merged = dict(report)
    for key, missing in RESULT_KEYS:
        merged[key] = result.get(key, missing)
    return merged


def outcome(report: dict) -> str:
    """The run's verdict: incomplete (it stopped before handling any account), failed (an account or a setting
    failed), drift (a dry run found settings to change, or a run found flagged items only a person can fix), changed
    (an apply wrote what differed; every account now follows the policy) or in_sync."""
    accounts = report.get("accounts") or []
    if report.get("failed") and not accounts:
        return INCOMPLETE
    if report.get("failed") or any(account.get("failed") for account in accounts):
        return FAILED
    # a family that changes and audits at once has a changed status and flagged items
    flagged = any(setting.get("status") == "flagged" or setting.get("flagged") for account in accounts
                  for setting in (account.get("settings") or {}).values())
    if report.get("drift") and (report.get("dry_run") or flagged):
        return DRIFT
    return CHANGED if report.get("drift") else IN_SYNC


def drifted(report: dict) -> list:
    """[(account, [setting, ...])] that drifted, a setting with flagged items named with them: "keys: ci, old"."""
    found = []
    for item in report.get("drift") or []:
        flagged = item.get("flagged") or {}
        found.append((item["account"], [setting + (": " + ", ".join(flagged[setting]) if flagged.get(setting) else "")
                                        for setting in item["settings"]]))
    return found


def drift_line(report: dict, shown: int = SHOWN, rest: str = "in the report") -> str:
    """An account with its drifted settings and flagged items, "marketing (a.b, c: x)", the first few only."""
    return first_few(["%s (%s)" % (account, ", ".join(settings)) for account, settings in drifted(report)],
                     "; ", rest, shown)


def with_verdict(report: dict) -> dict:
    """The report with its verdict first: outcome, and complete (every account and setting was handled: false when
    the run stopped early or anything failed, so that the report holds no verdict on what failed)."""
    verdict = outcome(report)
    return dict(dict(outcome=verdict, complete=verdict not in (INCOMPLETE, FAILED)),
                **{key: value for key, value in report.items() if key not in ("outcome", "complete")})


# ----------------------------------------------------------------------------- Markdown

def cell(value) -> str:
    """A value in a table cell: no "|" or line break can break the table."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == "":
        return '""'
    if isinstance(value, (dict, list)):
        return cell(json.dumps(value, sort_keys=True))
    return re.sub(r"\s*\n\s*", " ", str(value).replace("\\", "\\\\").replace("|", "\\|"))


def managed(value) -> str:
    """A policy's section as its managed values only (nulls, "not managed", left out)."""
    if isinstance(value, dict):
        return "(%s)" % ", ".join("%s: %s" % (name, managed(item)) for name, item in value.items() if item is not None)
    if isinstance(value, list):
        return "[%s]" % ", ".join(cell(item) for item in value)
    return cell(value)


def what(key: str, setting: dict) -> str:
    """What changed (before -> after), would change, or is flagged, in one cell: the family says it."""
    return family_of(key).describe(key, setting, cell)


def notes(account: dict) -> str:
    """What sets an account apart: its own overrides, a disabled subuser."""
    found = []
    if account.get("overrides"):
        found.append("overrides: " + ", ".join(account["overrides"]))
    if account.get("disabled"):
        found.append("disabled subuser")
    return "; ".join(found)


def _verdict_lines(report: dict, verdict: str) -> list:
    summary = report.get("summary") or {}
    changing = "would change" if report.get("dry_run") else "changed"
    if verdict == INCOMPLETE:
        reason = report.get("msg") or "the role stopped before the module ran; see the failed task"
        return ["**This run did not complete: it stopped before handling any account, so nothing below says whether "
                "any account drifted.** Reason: %s" % cell(reason)]
    if verdict == FAILED:
        failed = [account["name"] for account in report.get("accounts") or [] if account.get("failed")]
        lines = ["**This run did not complete for every account: %s of %s failed (%s): %s** The others are reported "
                 "below." % (len(failed), plural(len(report.get("accounts") or []), "account"),
                             first_few([cell(name) for name in failed], ", ", "see the table"),
                             "a setting could not be read, or the API key may not write what would change."
                             if report.get("dry_run") else "their settings are unknown or partly written.")]
        if report.get("written"):
            lines.append("**Written before or beside the failures:** %s." % first_few(
                ["%s (%s)" % (cell(item["account"]), ", ".join(item["settings"])) for item in report["written"]],
                "; ", "see the table"))
        return lines
    if verdict == DRIFT and report.get("dry_run"):
        return ["**Drift: %s of %s %s or %s %s.**" % (
            len(report["drift"]), plural(summary.get("accounts", 0), "account"), changing,
            "has" if len(report["drift"]) == 1 else "have", A_FLAGGED)]
    if verdict == DRIFT:
        return ["**Drift: %s of %s %s %s, which only a person can fix; %s changed.**" % (
            summary.get("flagged", 0), plural(summary.get("accounts", 0), "account"),
            "has" if summary.get("flagged", 0) == 1 else "have", A_FLAGGED, summary.get("changed", 0))]
    if verdict == CHANGED:
        return ["**Applied: %s of %s changed; every one now follows the policy.**" % (
            len(report["drift"]), plural(summary.get("accounts", 0), "account"))]
    follows = "follows" if report.get("dry_run") else "now follows"
    if summary.get("accounts", 0) == 1:
        return ["**In sync: the one account %s the policy.**" % follows]
    return ["**In sync: every one of the %s %s the policy.**" % (plural(summary.get("accounts", 0), "account"), follows)]


def markdown(report: dict) -> str:
    """The report for people: the verdict, the counts, one line per account that drifted or failed, then every
    account and setting in a table."""
    verdict = outcome(report)
    summary = report.get("summary") or {}
    accounts = report.get("accounts") or []
    # the inventory host a run of many parent accounts (one host each) was about, in the title: several reports look
    # alike otherwise
    title = "# Security baseline report" + (": %s" % cell(report["inventory_host"]) if report.get("inventory_host") else "")
    lines = [title, ""] + _verdict_lines(report, verdict) + [""]
    lines.append("- Generated at: %s" % report.get("generated_at"))
    if report.get("dry_run"):
        lines += ["- **Dry run (check mode): nothing was written.** \"would change\" marks what an apply run would change,"
                  " and \"after\"", "  the settings it would leave."]
    else:
        lines.append("- Applied: the settings below are the accounts' settings after the run.")
    policy = report.get("policy") or {}
    lines.append("- Policy: %s (accounts may override it)" % "; ".join(
        "%s %s" % (section, "not managed" if value is None else managed(value)) for section, value in policy.items()))
    if report.get("discovered") is not None:
        lines.append("- Discovery: the parent has %s (every page read); each one not excluded is covered below"
                     % plural(report["discovered"], "subuser"))
        excluded = report.get("excluded") or {}
        for item in excluded.get("exclude") or []:
            left_out = ", ".join(cell(name) for name in item["subusers"])
            left_out = left_out or "no subuser (check the pattern for a typo)"
            lines.append("  - excluded by %s: %s" % (cell(item["pattern"]), left_out))
        if excluded.get("disabled"):
            lines.append("  - disabled, left out (include_disabled is false): %s"
                         % ", ".join(cell(name) for name in excluded["disabled"]))
    if summary:
        lines.append("- Totals: %s: %s compliant, %s %s, %s with %s, %s failed" % (
            plural(summary.get("accounts", 0), "account"), summary.get("compliant", 0),
            summary.get("would_change" if report.get("dry_run") else "changed", 0),
            "would change" if report.get("dry_run") else "changed", summary.get("flagged", 0), A_FLAGGED,
            summary.get("failed", 0)))
    lines.append("- Drift: %s" % (drift_line(report, rest="each under Accounts to look at") or "none"))
    if report.get("failed") and report.get("msg"):
        lines.append("- Failure: %s" % cell(report["msg"]))

    attention = [account for account in accounts if account.get("failed") or any(
        setting.get("status") not in ("compliant", None) for setting in (account.get("settings") or {}).values())]
    if attention:
        lines += ["", "## Accounts to look at", ""]
        for account in attention:
            settings = account.get("settings") or {}
            parts = ["%s %s" % (key, STATUS_TEXT.get(setting.get("status"), setting.get("status")))
                     for key, setting in settings.items() if setting.get("status") != "compliant"]
            if account.get("failed") and not settings:
                parts.append("FAILED")
            note = notes(account)
            lines.append("- %s%s: %s" % (cell(account["name"]), " (%s)" % note if note else "", ", ".join(parts)))

    lines += ["", "## Every account and setting", "",
              "| account | region | setting | status | what %s (before → after), or flagged | failure | notes |"
              % ("would change" if report.get("dry_run") else "changed"),
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for account in accounts:
        settings = account.get("settings") or {}
        note = cell(notes(account)) if notes(account) else ""
        for key, setting in settings.items():
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                cell(account["name"]), cell(account.get("region")), key,
                STATUS_TEXT.get(setting.get("status"), setting.get("status")), what(key, setting),
                cell(setting["msg"]) if setting.get("msg") else "", note))
        if not settings:
            lines.append("| %s | %s | - | %s | | %s | %s |" % (
                cell(account["name"]), cell(account.get("region")), "FAILED" if account.get("failed") else "compliant",
                cell(account["msg"]) if account.get("msg") else "", note))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- JUnit

def junit(report: dict, suite: str = "mailops.sendgrid.baseline") -> str:
    """The report as JUnit XML, one test case per account and setting: drift (would change, flagged) is a failure,
    anything that failed is an error, so that a pipeline's test view tells "an account drifted" from "the plan did
    not run". A run that stopped before any account is one test case in error. A report of an inventory host (one
    parent account of many) names it in the suite and before each account: pipelines merge the hosts' files, whose
    accounts may have the same names."""
    verdict = outcome(report)
    host = report.get("inventory_host")
    cases = []
    if verdict == INCOMPLETE:
        cases.append(("baseline", "run", "error", "The run did not complete: %s" % (
            report.get("msg") or "the role stopped before the module ran"), ""))
    for account in report.get("accounts") or []:
        settings = account.get("settings") or {}
        if account.get("failed") and not settings:
            cases.append((account["name"], "account", "error", account.get("msg") or "failed", ""))
        for key, setting in settings.items():
            status = setting.get("status")
            detail = what(key, setting)
            if status == "failed":
                cases.append((account["name"], key, "error", setting.get("msg") or "failed", detail))
            elif status in ("would_change", "flagged") or setting.get("flagged") or (
                    status == "changed" and report.get("dry_run")):
                cases.append((account["name"], key, "failure", "%s: %s" % (STATUS_TEXT.get(status, status), detail), detail))
            else:
                cases.append((account["name"], key, None, STATUS_TEXT.get(status, str(status)), detail))
    root = ET.Element("testsuites", name="SendGrid security baseline" + (" (%s)" % host if host else ""))
    suite_element = ET.SubElement(root, "testsuite", name=suite + (" (%s)" % host if host else ""),
                                  timestamp=str(report.get("generated_at") or ""),
                                  tests=str(len(cases)), failures=str(sum(case[2] == "failure" for case in cases)),
                                  errors=str(sum(case[2] == "error" for case in cases)), skipped="0")
    if host:
        suite_element.set("hostname", str(host))
    for account, name, problem, message, detail in cases:
        case = ET.SubElement(suite_element, "testcase", classname="%s/%s" % (host, account) if host else str(account),
                             name=str(name))
        if problem:
            element = ET.SubElement(case, problem, message=message, type="drift" if problem == "failure" else "error")
            element.text = detail or message
        elif detail:
            ET.SubElement(case, "system-out").text = "%s: %s" % (message, detail)
    root.set("tests", suite_element.get("tests"))
    root.set("failures", suite_element.get("failures"))
    root.set("errors", suite_element.get("errors"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
