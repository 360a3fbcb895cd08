"""The pipeline guide (docs/docsite/rst/guide_pipelines.rst) runs as written, against local API servers.

The commands are read from the guide's GitHub Actions and GitLab CI files when the tests are collected: each job's
environment (the file's own variables, and the secrets and settings it names, given here the local servers' key),
its ``run:``/``script:`` lines, its artifacts. Both files must run the same ansible-playbook commands with the same
variables; those commands then run as a pipeline would run them, each job in a fresh checkout holding the guide's
policy file, against a fresh global and EU server standing for SendGrid's two hosts:

1. plan on fresh accounts: exits 2, naming every drifted account and its settings; the report and the JUnit file
   (a failure per drifted setting, no error) written where the jobs keep their artifacts; nothing written to SendGrid;
2. apply: exits 0, changed, every account in policy;
3. plan again: exits 0, in sync; not one PATCH, POST or DELETE sent;
4. the plan that did not run, each exiting 4, never 2, with only errors in its JUnit file and a report that says so
   first: a key SendGrid rejects (401), a key without the update scopes (the plan's scope check), an API that is
   down, a plain http:// URL to another host.

The lines installing ansible-core and the collection are the only ones not run (the collections path is this
checkout), and any other line fails the extraction test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

import doc_examples
from conftest import COLLECTIONS_ROOT, KEY, REPO_ROOT, SECRETS, SERVER_KEYS, header

GUIDE = "docs/docsite/rst/guide_pipelines.rst"
POLICY_BLOCK = GUIDE + ":the-policy"
GITHUB_BLOCK = GUIDE + ":github-actions"
GITLAB_BLOCK = GUIDE + ":gitlab-ci"
POLICY_FILE = "sendgrid-baseline.yml"   # the name the commands give after -e @

# What the pipeline's settings hold (GitHub secrets and variables, GitLab CI/CD variables): the local servers' key
# and its name as the server lists it (its keys are "start key N").
CI_SETTINGS = {"SENDGRID_API_KEY": KEY, "SENDGRID_API_KEY_NAME": "start key 1"}
# Lines that set up the runner: not run here, where ansible-core, requests and the collection (this checkout) are.
SETUP_LINES = ("pip install ", "ansible-galaxy collection install ")
EXPRESSION = re.compile(r"^\$\{\{\s*(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")

# The fresh servers' accounts (conftest.SUBUSERS, eu-newsletter on the EU host), every one discovered, and the
# settings of the guide's policy that a fresh account does not have (open and click tracking start enabled).
ACCOUNTS_BY_HOST = (["parent", "marketing", "billing", "support"], ["eu-newsletter"])
ACCOUNTS = [account for accounts in ACCOUNTS_BY_HOST for account in accounts]
DRIFTED_SETTINGS = ["enforced_tls", "tracking.click", "tracking.open"]
WRITES = ("PATCH", "POST", "PUT", "DELETE")
DRIFT, NO_VERDICT = 2, 4


@dataclass
class Job:
    """One CI job as the guide writes it."""

    name: str
    env: dict                                      # variables the file sets, secrets resolved
    setup: list = field(default_factory=list)      # the lines not run here
    commands: list = field(default_factory=list)   # argv of each ansible-playbook line
    artifacts: list = field(default_factory=list)  # paths kept after the job, also on failure
    junit: list = field(default_factory=list)      # JUnit report globs (GitLab)


def block(block_id: str):
    found = [b for b in doc_examples.all_blocks(REPO_ROOT) if b.id == block_id]
    assert len(found) == 1, "%s has no single block %s: the pipeline section moved or was renamed" % (GUIDE, block_id)
    return found[0]


def resolved(env: dict) -> dict:
    """A file's variables with ${{ secrets.X }} and ${{ vars.X }} replaced by the pipeline's settings."""
    out = {}
    for name, value in (env or {}).items():
        match = EXPRESSION.match(str(value))
        if match:
            assert match.group(2) in CI_SETTINGS, "%s names a setting the test does not provide: %s" % (name, value)
            value = CI_SETTINGS[match.group(2)]
        out[name] = str(value)
    return out


def lines_into(job: Job, text: str) -> None:
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(SETUP_LINES):
            job.setup.append(line)
        elif line.startswith("ansible-playbook "):
            job.commands.append(shlex.split(line))
        else:
            raise AssertionError("job %s: the test does not know how to run %r" % (job.name, line))


def github_jobs() -> dict:
    workflow = yaml.safe_load(block(GITHUB_BLOCK).text)
    jobs = {}
    for name, spec in workflow["jobs"].items():
        job = Job(name, resolved({**(workflow.get("env") or {}), **(spec.get("env") or {})}))
        for step in spec["steps"]:
            if "run" in step:
                lines_into(job, step["run"])
            elif step["uses"].startswith("actions/upload-artifact@"):
                assert step.get("if") == "always()", "job %s keeps its artifacts only on success" % name
                job.artifacts += step["with"]["path"].split()
        jobs[name] = job
    return jobs


def gitlab_jobs() -> dict:
    pipeline = yaml.safe_load(block(GITLAB_BLOCK).text)
    before = (pipeline.get("default") or {}).get("before_script", [])
    jobs = {}
    for name, spec in pipeline.items():
        if not (isinstance(spec, dict) and "script" in spec):
            continue
        job = Job(name, resolved({**(pipeline.get("variables") or {}), **(spec.get("variables") or {})}))
        for line in spec.get("before_script", before) + spec["script"]:
            lines_into(job, line)
        artifacts = spec.get("artifacts") or {}
        if artifacts:
            assert artifacts.get("when") == "always", "job %s keeps its artifacts only on success" % name
        job.artifacts = list(artifacts.get("paths", []))
        junit = (artifacts.get("reports") or {}).get("junit", [])
        job.junit = [junit] if isinstance(junit, str) else list(junit)
        jobs[name] = job
    return jobs


# ----------------------------------------------------------------------------- the files themselves

def test_both_pipelines_run_the_same_commands_with_the_same_variables():
    github, gitlab = github_jobs(), gitlab_jobs()
    assert set(github) == set(gitlab) == {"plan", "apply"}
    for name in ("plan", "apply"):
        assert github[name].commands == gitlab[name].commands, name
        assert len(github[name].commands) == 1, name
        # GitLab's CI/CD variables are set in its settings, not in the file: the file's comment names them
        assert {k: v for k, v in github[name].env.items() if k not in CI_SETTINGS} == gitlab[name].env, name
        for setting in CI_SETTINGS:
            assert setting in github[name].env, (name, setting)
            assert setting in block(GITLAB_BLOCK).text, setting
        assert github[name].setup == gitlab[name].setup, name
    plan, apply = github["plan"].commands[0], github["apply"].commands[0]
    assert {"--check", "--diff", "baseline_fail_on_drift=true", "@" + POLICY_FILE} <= set(plan), plan
    assert "--check" not in apply and "baseline_fail_on_drift=true" not in apply, apply
    # the JUnit file is the report's: ansible-core's junit callback records the drift gate as an error, like any
    # other failed task, since 2.19
    assert gitlab["plan"].junit == ["reports/baseline_report.xml"]
    assert "ANSIBLE_CALLBACKS_ENABLED" not in github["plan"].env and "ANSIBLE_CALLBACKS_ENABLED" not in gitlab["plan"].env


def test_the_key_is_never_on_a_command_line():
    for block_id in (POLICY_BLOCK, GITHUB_BLOCK, GITLAB_BLOCK):
        assert not re.search(r"\bSG\.", block(block_id).text), "%s holds something like a key" % block_id
    for jobs in (github_jobs(), gitlab_jobs()):
        for job in jobs.values():
            for argv in job.commands:
                assert not any("API_KEY" in word or "api_key" in word for word in argv), argv


# ----------------------------------------------------------------------------- plan, apply, plan

@pytest.fixture(name="pipeline")
def fixture_pipeline(start_server, tmp_path):
    """Run a guide's job in a fresh checkout (the policy file alone) against a fresh global and EU server, or the
    servers and environment given."""
    servers = (start_server(), start_server(region="eu"))
    jobs = github_jobs()
    policy = block(POLICY_BLOCK).text
    bin_dir = str(Path(sys.executable).parent)
    counter = iter(range(1, 100))

    def run(name: str, on=None, typo=None, **environment):
        """``typo`` (old, new) edits the job's command line as a person mistyping it would."""
        on = on or servers
        job = jobs[name]
        checkout = tmp_path / ("%d-%s" % (next(counter), name))
        checkout.mkdir()
        (checkout / POLICY_FILE).write_text(policy, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SENDGRID_", "JUNIT_", "PYTEST_"))}
        env.update(job.env)
        env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""),
                   ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,   # what the job's ansible-galaxy line does
                   SENDGRID_API_URL=on[0].url, SENDGRID_EU_API_URL=on[1].url)
        env.update(environment)
        seen = [len(server.requests()) for server in on]
        (argv,) = job.commands
        if typo:
            argv = [word.replace(*typo) for word in argv]
        completed = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=300,
                                   check=False)
        result = Result(job, checkout, completed,
                        [entry for server, count in zip(on, seen) for entry in server.requests()[count:]])
        for secret in SECRETS + tuple(value for value in environment.values() if "SECRET" in value):
            for path in checkout.rglob("*"):
                if path.is_file():
                    assert secret not in path.read_text(encoding="utf-8"), "the key is in %s" % path
            assert secret not in completed.stdout + completed.stderr, "the key is in the output\n" + result.explain()
        return result

    run.servers = servers
    return run


@dataclass
class Result:
    job: Job
    checkout: Path
    completed: subprocess.CompletedProcess
    sent: list

    def explain(self) -> str:
        return "rc %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            self.completed.returncode, self.completed.stdout[-6000:], self.completed.stderr[-3000:])

    def report(self) -> dict:
        return json.loads((self.checkout / "reports" / "baseline_report.json").read_text(encoding="utf-8"))

    def kept(self, path: Path) -> bool:
        """Whether a file the run wrote is among the job's artifacts."""
        relative = path.relative_to(self.checkout).as_posix()
        return any(relative.startswith(kept.rstrip("/") + "/") or relative == kept for kept in self.job.artifacts)

    def junit_cases(self) -> dict:
        """{(account, setting): (failure or error, message) or None} of the JUnit file GitLab reads."""
        (pattern,) = gitlab_jobs()["plan"].junit
        files = [path for path in self.checkout.rglob("*.xml")
                 if fnmatch(path.relative_to(self.checkout).as_posix(), pattern)]
        assert len(files) == 1, files
        assert self.kept(files[0]), "%s is not among the artifacts %s" % (files[0], self.job.artifacts)
        cases = {}
        for case in ET.parse(files[0]).getroot().iter("testcase"):
            problems = [(problem.tag, problem.get("message")) for problem in case if problem.tag in ("failure", "error")]
            assert len(problems) <= 1, problems
            cases[(case.get("classname"), case.get("name"))] = problems[0] if problems else None
        return cases

    def first_line(self) -> str:
        """The Markdown report's verdict, the first line after its title."""
        text = (self.checkout / "reports" / "baseline_report.md").read_text(encoding="utf-8")
        return text.split("\n")[2]

    def recap(self) -> dict:
        match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                          self.completed.stdout)
        assert match, self.explain()
        return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def test_plan_fails_on_drift_then_apply_then_plan_is_clean(pipeline):
    # 1. plan on fresh accounts: exit 2 with the gate, every drifted account and setting named, nothing written
    plan = pipeline("plan")
    assert plan.completed.returncode == 2, plan.explain()
    gate = re.search(r"Drift \(baseline_fail_on_drift\): .*", plan.completed.stdout)
    assert gate, plan.explain()
    for account in ACCOUNTS:
        assert "%s (%s)" % (account, ", ".join(DRIFTED_SETTINGS)) in gate.group(0), gate.group(0)
    assert {entry["method"] for entry in plan.sent} == {"GET"}, plan.sent
    report = plan.report()
    assert report["dry_run"] is True
    assert report["drift"] == [{"account": a, "settings": DRIFTED_SETTINGS, "flagged": {}} for a in ACCOUNTS]
    assert "Dry run" in (plan.checkout / "reports" / "baseline_report.md").read_text(encoding="utf-8")
    for path in (plan.checkout / "reports").iterdir():
        assert plan.kept(path), path
    cases = plan.junit_cases()
    assert {case: problem[0] for case, problem in cases.items() if problem} == {
        (account, setting): "failure" for account in ACCOUNTS for setting in DRIFTED_SETTINGS}, cases
    assert cases[("marketing", "tracking.open")] == ("failure", "would change: enabled: yes → no")
    assert plan.report()["outcome"] == "drift" and plan.first_line().startswith("**Drift: 5 of 5 accounts")

    # 2. apply: exit 0, changed, every account in policy on its own host
    apply = pipeline("apply")
    assert apply.completed.returncode == 0, apply.explain()
    assert apply.recap()["changed"] >= 1, apply.explain()
    assert apply.report()["summary"]["changed"] == len(ACCOUNTS), apply.report()["summary"]
    for server, accounts in zip(pipeline.servers, ACCOUNTS_BY_HOST):
        tls, click, opened = (server.state(), server.state("tracking_settings/click"),
                              server.state("tracking_settings/open"))
        for account in accounts:
            assert tls[account] == {"require_tls": True, "require_valid_cert": True, "version": 1.2}, account
            assert click[account]["enabled"] is False and opened[account]["enabled"] is False, account
    patched = sorted({header(entry, "on-behalf-of") or "parent" for entry in apply.sent if entry["method"] == "PATCH"})
    assert patched == sorted(ACCOUNTS), patched

    # 3. plan again: exit 0, in sync, not one write
    again = pipeline("plan")
    assert again.completed.returncode == 0, again.explain()
    assert again.recap()["failed"] == 0 and again.recap()["changed"] == 0, again.explain()
    assert [e for e in again.sent if e["method"] in WRITES] == []
    assert again.sent, "the second plan read nothing"
    assert again.report()["drift"] == [] and again.report()["dry_run"] is True
    assert all(problem is None for problem in again.junit_cases().values()), again.junit_cases()
    assert again.report()["outcome"] == "in_sync"


# ----------------------------------------------------------------------------- the plan that did not run

def assert_no_verdict(result: "Result", reason: str) -> None:
    """Exit 4, never 2; the gate says there is no verdict; the report says so first; the JUnit file holds errors
    only; nothing written to SendGrid."""
    assert result.completed.returncode == NO_VERDICT, result.explain()
    assert "No verdict (baseline_fail_on_drift): the plan did not complete" in result.completed.stdout, result.explain()
    assert reason in result.completed.stdout, result.explain()
    assert "Drift (baseline_fail_on_drift)" not in result.completed.stdout
    report = result.report()
    assert (report["outcome"], list(report)[:2]) in (("incomplete", ["outcome", "complete"]),
                                                     ("failed", ["outcome", "complete"])), report["outcome"]
    assert result.first_line().startswith("**This run did not complete"), result.first_line()
    cases = result.junit_cases()
    assert cases and {problem[0] for problem in cases.values() if problem} == {"error"}, cases
    assert [entry for entry in result.sent if entry["method"] in WRITES] == []


@pytest.mark.parametrize("case, reason", [
    ("rejected key", "HTTP 401"),
    ("no server", "the connection to the API was lost or refused"),
    ("plain http to another host", "uses plain http:// to a host that is not this machine"),
])
def test_a_plan_that_could_not_run_exits_4_never_2_with_errors_only(pipeline, case, reason):
    environment = {
        "rejected key": dict(SENDGRID_API_KEY="SG.pipeline-SECRET-revoked-0000"),
        "no server": dict(SENDGRID_API_URL="http://127.0.0.1:9", SENDGRID_EU_API_URL="http://127.0.0.1:9"),
        "plain http to another host": dict(SENDGRID_API_URL="http://192.0.2.10:8080"),
    }[case]
    result = pipeline("plan", **environment)
    assert_no_verdict(result, reason)
    assert result.report()["outcome"] == "incomplete" and result.report()["complete"] is False
    assert list(result.junit_cases()) == [("baseline", "run")]


def test_a_plan_whose_gate_variable_is_mistyped_gives_no_verdict_and_exits_4_not_2(pipeline):
    """baseline_fail_on_drift=ture fails the role's argument check: that is no drift, and must not exit 2."""
    result = pipeline("plan", typo=("baseline_fail_on_drift=true", "baseline_fail_on_drift=ture"))
    assert_no_verdict(result, "The run stopped before the baseline was applied")
    assert "baseline_fail_on_drift" in result.completed.stdout and "ture" in result.completed.stdout
    assert result.sent == [], "the role's argument check refused it before any request"


def test_a_plan_with_a_key_that_may_read_but_not_write_fails_naming_the_missing_scopes(pipeline, start_server):
    read_only = [scope for scope in SERVER_KEYS[KEY] if not scope.endswith((".update", ".create", ".delete"))]
    servers = tuple(start_server(keys={KEY: read_only}, **region) for region in ({}, {"region": "eu"}))
    result = pipeline("plan", on=servers)
    assert_no_verdict(result, "lacks user.settings.enforced_tls.update")
    cases = result.junit_cases()
    assert cases[("marketing", "tracking.open")][0] == "error"
    assert cases[("marketing", "tracking.open")][1] == (
        "would change, but the API key lacks tracking_settings.open.update: the apply would be refused.")
    # one GET of the key's scopes per host, whatever the number of accounts
    assert sorted(urlsplit(entry["path"]).path for entry in result.sent if "/v3/scopes" in entry["path"]) == [
        "/v3/scopes", "/v3/scopes"]


# ----------------------------------------------------------------------------- the event webhook audit

WEBHOOKS = "user/webhooks/event/settings"


def test_a_plan_flags_an_http_webhook_and_would_sign_an_unsigned_one_and_the_apply_signs_but_never_moves_them(pipeline):
    server = pipeline.servers[0]
    server.set_state("marketing", [
        {"id": "unsigned-1", "url": "https://hooks.example.com/engagement", "friendly_name": "engagement"},
        {"id": "plain-1", "url": "http://hooks.example.com/plain", "friendly_name": "plain", "signed": True}],
        setting=WEBHOOKS, replace=True)

    # the plan: drift, naming the webhook enforce would sign and the http one flagged, as the gate does without enforce
    plan = pipeline("plan")
    assert plan.completed.returncode == DRIFT, plan.explain()
    gate = re.search(r"Drift \(baseline_fail_on_drift\): .*", plan.completed.stdout).group(0)
    assert "marketing (%s, event_webhooks: engagement (id unsigned-1), plain (id plain-1))" % ", ".join(
        DRIFTED_SETTINGS) in gate, gate
    # the plan's cell says what would be done, never "signed" as if it were
    assert "2 webhooks; would sign engagement (id unsigned-1); flagged plain (id plain-1): not https" in (
        plan.checkout / "reports" / "baseline_report.md").read_text(encoding="utf-8")
    assert {entry["method"] for entry in plan.sent} == {"GET"}
    (outcome,) = [account["settings"]["event_webhooks"] for account in plan.report()["accounts"]
                  if account["name"] == "marketing"]
    assert (outcome["status"], [item["id"] for item in outcome["signed"]]) == ("would_change", ["unsigned-1"])
    assert [(item["id"], item["http"], item["unsigned"]) for item in outcome["flagged"]] == [("plain-1", True, False)]
    assert plan.junit_cases()[("marketing", "event_webhooks")][0] == "failure"

    # the apply signs the unsigned one, at the signed endpoint, and changes no URL
    apply = pipeline("apply")
    assert apply.completed.returncode == 0, apply.explain()
    assert [(entry["method"], urlsplit(entry["path"]).path, entry["body"]) for entry in apply.sent
            if "webhooks" in entry["path"] and entry["method"] != "GET"] == [
        ("PATCH", "/v3/user/webhooks/event/settings/signed/unsigned-1", {"enabled": True})]
    stored = {hook["id"]: hook for hook in server.state(WEBHOOKS)["marketing"]}
    assert stored["unsigned-1"]["signed"] is True and stored["plain-1"]["url"] == "http://hooks.example.com/plain"

    # the next plan: still drift, the http webhook only a person can move; nothing written
    again = pipeline("plan")
    assert again.completed.returncode == DRIFT, again.explain()
    assert again.report()["drift"] == [{"account": "marketing", "settings": ["event_webhooks"],
                                        "flagged": {"event_webhooks": ["plain (id plain-1)"]}}]
    assert [entry for entry in again.sent if entry["method"] in WRITES] == []
