"""Issue 20 ("Trust"): what a security reviewer and a pipeline see, each test named after the defect it guards.

The cases run together in one ansible-playbook (conftest.run_cases: each on a host and a server of its own); the
role's -e strings need an ansible-playbook of their own. The pipeline's exit codes and JUnit classes are in
test_pipeline.py, the IP allow list's guards in test_integration_ip_access.py.
"""

from __future__ import annotations

import json

import pytest
import yaml

import doc_examples
from conftest import (
    REPO_ROOT, SUBUSERS_PATH, Cases, PlaybookCase, Start, assert_clear_failure, assert_nothing_sent, calls, run_playbook,
)

CASES = Cases()
FORWARD_SPAM = "/v3/mail_settings/forward_spam"
BOUNCE_PURGE = "/v3/mail_settings/bounce_purge"
TRACKING = "/v3/tracking_settings"
APPLY = "Apply the baseline to every account in one run"
COUNT_WRITES = "Count what was written before the failure"


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    """{case: (run, context)}: every case of this file, run once."""
    return CASES.run(Start(module_start_server, tmp_path_factory.mktemp("trust")))


def module_task(run, name):
    """The task ``name`` of a role, whichever way the core names a role's task."""
    found = [task for task in run.tasks if task["task"] == name or task["task"].endswith(" : " + name)]
    assert len(found) == 1, run.explain()
    return found[0]


def settings(server, **sections) -> PlaybookCase:
    return PlaybookCase("settings.yml", dict(sg_api_url=server.url, **sections))


def role(server, **variables) -> PlaybookCase:
    return PlaybookCase("baseline.yml", dict(baseline_api_url=server.url, **variables))


# ----------------------------------------------------------------------------- 1. data written

@CASES.add("text given a list")
def _text_given_a_list(start):
    server = start()
    return server, settings(server, sg_mail={"forward_bounce": {"enabled": True, "email": ["a@example.com"]}})


def test_1_a_list_given_for_a_text_field_is_refused_naming_it_and_nothing_is_stored(runs, tally):
    run, server = runs["text given a list"]
    message = assert_clear_failure(run, "mail")
    assert message == 'value of forward_bounce.email must be text, got a list: ["a@example.com"]'
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("role given a list for text")
def _role_given_a_list(start):
    server = start()
    return server, role(server, baseline_mail_settings={"forward_bounce": {"enabled": True, "email": ["a@example.com"]}})


def test_1_the_role_refuses_a_list_for_a_text_field_naming_its_variable(runs, tally):
    run, server = runs["role given a list for text"]
    message = assert_clear_failure(run, module_task(run, APPLY)["task"])
    assert message == 'value of baseline_mail_settings.forward_bounce.email must be text, got a list: ["a@example.com"]'
    assert_nothing_sent(server)
    tally("bad_input_rejected")


# ----------------------------------------------------------------------------- 2. likely mistakes

@CASES.add("purge days beyond the bounds")
def _purge_days(start):
    server = start()
    return server, settings(server, sg_mail={"bounce_purge": {"enabled": True, "soft_bounces": 5000}})


def test_2_bounce_purge_days_beyond_3650_are_refused_before_any_request(runs, tally):
    run, server = runs["purge days beyond the bounds"]
    message = assert_clear_failure(run, "mail")
    assert message.startswith("value of bounce_purge.soft_bounces must be from 0 to 3650 days (0 for none), got: 5000")
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("settings that do nothing")
def _idle(start):
    server = start()
    return server, settings(server, sg_mail={"bounce_purge": {"enabled": True, "soft_bounces": 0, "hard_bounces": 30},
                                             "forward_spam": {"enabled": True, "email": []}})


def test_2_a_setting_that_would_do_nothing_is_applied_with_a_warning_naming_the_option(runs):
    run, server = runs["settings that do nothing"]
    task = run.task("mail")
    assert task["status"] == "changed", run.explain()
    assert task["warnings"] == [
        "bounce_purge.soft_bounces: 0 (none) with enabled: true: soft bounces are never purged; give the days after "
        "which to purge them",
        "forward_spam.email: empty with enabled: true: no spam report is forwarded"]
    assert [(call.method, call.path, call.body) for call in calls(server) if call.method == "PATCH"] == [
        ("PATCH", BOUNCE_PURGE, {"enabled": True, "hard_bounces": 30}), ("PATCH", FORWARD_SPAM, {"enabled": True})]


# ----------------------------------------------------------------------------- 3. one normal form

@CASES.add("comma-separated email")
def _comma_separated(start):
    server = start()
    return server, settings(server, sg_mail={"forward_spam": {"email": "security@example.com, abuse@example.com"}})


def test_3_a_comma_separated_email_has_no_leading_space_in_changes_diff_or_body(runs):
    run, server = runs["comma-separated email"]
    result = run.result("mail")
    assert result["changes"] == {"forward_spam": {"email": ["security@example.com", "abuse@example.com"]}}
    assert result["mail_settings"]["forward_spam"]["email"] == ["security@example.com", "abuse@example.com"]
    assert [call.body for call in calls(server) if call.method == "PATCH"] == [
        {"email": "security@example.com, abuse@example.com"}]


# ----------------------------------------------------------------------------- 10. an apply that fails part-way

@CASES.add("apply fails part-way")
def _part_way(start):
    server = start()
    server.add_fault("error", status=403, method="PATCH", path=TRACKING + "/open", message="access forbidden")
    reports = start.directory()
    # (baseline.yml sets baseline_report_dir from sg_first_report)
    return (server, reports), role(server, baseline_tracking={"click": {"enabled": False}, "open": {"enabled": False}},
                                   sg_first_report=str(reports))


def test_10_an_apply_that_fails_part_way_says_what_it_wrote_in_the_result_the_recap_and_the_report(runs):
    run, (server, reports) = runs["apply fails part-way"]
    task = module_task(run, APPLY)
    result = task["result"]
    assert task["status"] == "failed" and result["changed"] is True, run.explain()
    assert result["written"] == [{"account": "parent", "settings": ["tracking.click"]}]
    assert result["msg"].endswith("|| Written before or beside the failures (the play recap does not count a failed "
                                  "task's changes): parent (tracking.click).")
    # the play recap counts the write: a task that reports it as a change
    assert module_task(run, COUNT_WRITES)["status"] == "changed", run.explain()
    assert [(call.method, call.path) for call in calls(server) if call.method == "PATCH"] == [
        ("PATCH", TRACKING + "/click"), ("PATCH", TRACKING + "/open")]
    report = json.loads((reports / "baseline_report.json").read_text(encoding="utf-8"))
    assert (report["outcome"], report["written"]) == ("failed", result["written"])
    markdown = (reports / "baseline_report.md").read_text(encoding="utf-8").split("\n")
    assert markdown[2].startswith("**This run did not complete for every account: 1 of 1 account failed (parent)")
    assert markdown[3] == "**Written before or beside the failures:** parent (tracking.click)."


# ----------------------------------------------------------------------------- 11. the audit example's message

def readme_audit_play(directory) -> str:
    """The API key guide's audit example as written, its vault variable standing for the test's key."""
    (block,) = [b for b in doc_examples.all_blocks(REPO_ROOT)
                if b.id == "docs/docsite/rst/guide_api_keys.rst:auditing-api-keys"]
    plays = yaml.safe_load(block.text)
    plays[0]["vars"] = {"vault_sendgrid_api_key": "{{ lookup('ansible.builtin.env', 'IT_API_KEY') }}"}
    path = directory / "audit.yml"
    path.write_text(json.dumps(plays), encoding="utf-8")
    return str(path)


@CASES.add("the README's audit example")
def _audit_example(start):
    server = start()
    key = {"name": "ci-deploy", "api_key_id": "ci-1", "scopes": ["mail.send", "templates.read", "api_keys.create"]}
    server.set_state("marketing", [key], setting="api_keys")
    return server, PlaybookCase(readme_audit_play(start.directory()), env={"SENDGRID_API_URL": server.url})


def test_11_the_readme_audit_example_fails_naming_the_key_its_account_and_why_not_unknown_error(runs):
    run, _server = runs["the README's audit example"]
    (task,) = [task for task in run.tasks if task["status"] == "failed"]
    assert task["result"]["msg"] == (
        "1 of 1 API key beyond the policy: ci-deploy (id ci-1) holds account-control scopes api_keys.create "
        "(allowed_control_keys does not name it); and scopes beyond allowed_scopes: templates.read."), run.explain()


# ----------------------------------------------------------------------------- 14. messages of role runs

@CASES.add("role timeout")
def _role_timeout(start):
    server = start()
    return server, role(server, baseline_timeout=0, baseline_tracking={"open": {"enabled": False}})


def test_14_a_role_run_names_the_role_variable_not_the_module_option(runs, tally):
    run, server = runs["role timeout"]
    message = assert_clear_failure(run, module_task(run, APPLY)["task"])
    assert message == ("baseline_retries and baseline_retry_max_wait must be zero or more, and baseline_timeout more "
                       "than zero.")
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("override error")
def _override_error(start):
    server = start()
    return server, role(server, baseline_tracking={"open": {"enabled": False}},
                        baseline_subusers=[{"name": "marketing", "tracking": {"click": {"enabled": "maybe"}}}])


def test_14_an_override_error_from_the_role_names_baseline_subusers(runs, tally):
    run, server = runs["override error"]
    message = assert_clear_failure(run, module_task(run, APPLY)["task"])
    assert message == "value of baseline_subusers[0].tracking.click.enabled must be true or false, got: maybe."
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("override of an unknown subuser")
def _unknown_subuser(start):
    server = start()
    return server, role(server, baseline_discover_subusers=True, baseline_tracking={"open": {"enabled": False}},
                        baseline_subusers=[{"name": "markting", "tracking": {"open": {"enabled": True}}}])


def test_14_an_override_naming_a_subuser_discovery_did_not_find_is_refused_before_any_settings_request(runs, tally):
    run, server = runs["override of an unknown subuser"]
    message = assert_clear_failure(run, module_task(run, APPLY)["task"])
    assert message == ("baseline_subusers[0] names 'markting', which is not a subuser of this parent: discovery found 4 "
                       "subusers (did you mean marketing?). Nothing was sent beyond the subuser list.")
    assert {call.path for call in calls(server)} == {SUBUSERS_PATH}
    tally("bad_input_rejected")


@CASES.add("EU subuser without eu_api_url")
def _eu_without_eu_url(start):
    server = start()
    return server, role(server, baseline_discover_subusers=True, baseline_include_parent=False,
                        baseline_exclude=["marketing", "billing", "support"],
                        baseline_tracking={"open": {"enabled": False}})


def test_14_an_eu_subuser_refused_for_its_region_points_at_baseline_eu_api_url_not_at_region(runs, tally):
    run, server = runs["EU subuser without eu_api_url"]
    message = assert_clear_failure(run, module_task(run, APPLY)["task"])
    assert "HTTP 403" in message
    assert ("The account is an EU regional subuser, and its requests went to baseline_api_url (%s) because "
            "baseline_eu_api_url is not set: set baseline_eu_api_url (or SENDGRID_EU_API_URL) to the EU API host, "
            "such as https://api.eu.sendgrid.com; baseline_api_url serves the global region." % server.url) in message
    assert "set baseline_region" not in message
    tally("failure_reported")


# ----------------------------------------------------------------------------- 12. -e strings and misspellings

def test_12_exclusions_with_spaces_misspelled_variables_and_patterns_matching_nothing_are_warned_and_reported(
        start_server, tmp_path):
    server, eu_server = start_server(), start_server(region="eu")
    reports = tmp_path / "reports"
    run = run_playbook("baseline.yml", extra_vars=dict(
        baseline_api_url=server.url, baseline_eu_api_url=eu_server.url, baseline_discover_subusers=True,
        sg_first_report=str(reports),
        baseline_tracking={"open": {"enabled": False}}), check=True, args=(
        "-e", "baseline_exclude=mark*, sandbox-*", "-e", "baseline_exlude=billing", "-e", "baseline_mail_setting=x"))
    assert run.rc == 0, run.explain()
    warnings = [warning for task in run.tasks for warning in task["warnings"]]
    assert ("baseline_exlude is not a variable of the role mailops.sendgrid.baseline, so it has no effect: did you mean "
            "baseline_exclude?") in warnings
    assert ("baseline_mail_setting is not a variable of the role mailops.sendgrid.baseline, so it has no effect: did "
            "you mean baseline_mail_settings?") in warnings
    assert any(warning.startswith("An -e key=value string held words without a variable name (sandbox-*): "
                                  "ansible-playbook splits key=value at spaces, so they are in no variable, and "
                                  "baseline_exclude was cut at the first space.") for warning in warnings), warnings
    report = json.loads((reports / "baseline_report.json").read_text(encoding="utf-8"))
    assert report["excluded"] == {"exclude": [{"pattern": "mark*", "subusers": ["marketing"]}], "disabled": []}
    assert "  - excluded by mark*: marketing" in (reports / "baseline_report.md").read_text(encoding="utf-8")
    assert not any("matches none" in warning for warning in warnings), "the comma left by the cut is no pattern"


@CASES.add("exclusion matching nothing")
def _exclusion_matching_nothing(start):
    server = start()
    return server, role(server, baseline_eu_api_url=start(region="eu").url, baseline_discover_subusers=True,
                        baseline_tracking={"open": {"enabled": False}}, baseline_exclude=["mark*", "sandbox-*"])


def test_12_an_exclusion_pattern_that_matches_no_subuser_is_warned_about(runs):
    run, _server = runs["exclusion matching nothing"]
    assert run.rc == 0, run.explain()
    assert module_task(run, APPLY)["warnings"] == [
        "The pattern 'sandbox-*' of baseline_exclude matches none of the 4 subusers, so it excludes nothing: check it "
        "for a typo."]
    assert module_task(run, APPLY)["result"]["excluded"] == {
        "exclude": [{"pattern": "mark*", "subusers": ["marketing"]}, {"pattern": "sandbox-*", "subusers": []}],
        "disabled": []}


# ----------------------------------------------------------------------------- a report that cannot be written

def test_a_plan_whose_report_cannot_be_written_has_no_verdict_and_an_apply_fails_saying_why(server):
    unwritable = "/proc/mailops-sendgrid-no-such-directory"
    variables = dict(baseline_api_url=server.url, baseline_tracking={"open": {"enabled": False}})
    # the apply writes, then its report fails: the run fails naming the directory (2), after the changes
    apply = run_playbook("baseline.yml", extra_vars=dict(variables, sg_first_report=unwritable))
    assert apply.rc == 2, apply.explain()
    failed = [task for task in apply.tasks if task["status"] == "failed"]
    assert failed and failed[-1]["task"].endswith("Fail when the report could not be written"), apply.explain()
    assert failed[-1]["result"]["msg"].startswith("The baseline report could not be written to %s: " % unwritable)
    # the plan with the gate, in sync but without its report: no verdict (4), never 2
    plan = run_playbook("baseline.yml", extra_vars=dict(variables, sg_second_report=unwritable, sg_check_again=True))
    assert plan.rc == 4, plan.explain()
    assert "No verdict (baseline_fail_on_drift): the plan did not complete" in plan.stdout, plan.explain()
    assert "The baseline report could not be written to %s" % unwritable in plan.stdout
