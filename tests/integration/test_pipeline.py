"""The README's pipeline ("In a pipeline") runs as written, against local API servers.

The commands are read from the README's GitHub Actions and GitLab CI files when the tests are collected: each job's
environment (the file's own variables, and the secrets and settings it names, given here the local servers' key),
its ``run:``/``script:`` lines, its artifacts. Both files must run the same ansible-playbook commands with the same
variables; those commands then run as a pipeline would run them, each job in a fresh checkout holding the README's
policy file, against a fresh global and EU server standing for SendGrid's two hosts:

1. plan on fresh accounts: exits 2, naming every drifted account and its settings; the report and the JUnit file
   (naming the failed task) written where the jobs keep their artifacts; nothing written to SendGrid;
2. apply: exits 0, changed, every account in policy;
3. plan again: exits 0, in sync; not one PATCH, POST or DELETE sent.

Three ansible-playbook runs in all: the lines installing ansible-core and the collection are the only ones not run
(the collections path is this checkout), and any other line fails the extraction test.
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

import pytest
import yaml

import doc_examples
from conftest import COLLECTIONS_ROOT, KEY, REPO_ROOT, SECRETS, header

POLICY_BLOCK = "README.md:in-a-pipeline"
GITHUB_BLOCK = "README.md:github-actions"
GITLAB_BLOCK = "README.md:gitlab-ci"
POLICY_FILE = "sendgrid-baseline.yml"   # the name the commands give after -e @

# What the pipeline's settings hold (GitHub secrets and variables, GitLab CI/CD variables): the local servers' key
# and its name as the server lists it (its keys are "start key N").
CI_SETTINGS = {"SENDGRID_API_KEY": KEY, "SENDGRID_API_KEY_NAME": "start key 1"}
# Lines that set up the runner: not run here, where ansible-core, requests and the collection (this checkout) are.
SETUP_LINES = ("pip install ", "ansible-galaxy collection install ")
EXPRESSION = re.compile(r"^\$\{\{\s*(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")

# The fresh servers' accounts (conftest.SUBUSERS, eu-newsletter on the EU host), every one discovered, and the
# settings of the README's policy that a fresh account does not have (open and click tracking start enabled).
ACCOUNTS_BY_HOST = (["parent", "marketing", "billing", "support"], ["eu-newsletter"])
ACCOUNTS = [account for accounts in ACCOUNTS_BY_HOST for account in accounts]
DRIFTED_SETTINGS = ["enforced_tls", "tracking.click", "tracking.open"]
DRIFT_TASK = "Fail the dry run on drift"
WRITES = ("PATCH", "POST", "PUT", "DELETE")


@dataclass
class Job:
    """One CI job as the README writes it."""

    name: str
    env: dict                                      # variables the file sets, secrets resolved
    setup: list = field(default_factory=list)      # the lines not run here
    commands: list = field(default_factory=list)   # argv of each ansible-playbook line
    artifacts: list = field(default_factory=list)  # paths kept after the job, also on failure
    junit: list = field(default_factory=list)      # JUnit report globs (GitLab)


def block(block_id: str):
    found = [b for b in doc_examples.all_blocks(REPO_ROOT) if b.id == block_id]
    assert len(found) == 1, "README.md has no single block %s: the pipeline section moved or was renamed" % block_id
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
    assert github["plan"].env["ANSIBLE_CALLBACKS_ENABLED"] == "ansible.builtin.junit"


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
    """Run a README job in a fresh checkout (the policy file alone) against a fresh global and EU server."""
    servers = (start_server(), start_server(region="eu"))
    jobs = github_jobs()
    policy = block(POLICY_BLOCK).text
    bin_dir = str(Path(sys.executable).parent)
    counter = iter(range(1, 100))

    def run(name: str):
        job = jobs[name]
        checkout = tmp_path / ("%d-%s" % (next(counter), name))
        checkout.mkdir()
        (checkout / POLICY_FILE).write_text(policy, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SENDGRID_", "JUNIT_", "PYTEST_"))}
        env.update(job.env)
        env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""),
                   ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,   # what the job's ansible-galaxy line does
                   SENDGRID_API_URL=servers[0].url, SENDGRID_EU_API_URL=servers[1].url)
        seen = [len(server.requests()) for server in servers]
        (argv,) = job.commands
        completed = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=300,
                                   check=False)
        result = Result(job, checkout, completed,
                        [entry for server, count in zip(servers, seen) for entry in server.requests()[count:]])
        for secret in SECRETS:
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
        """{test case name: failure or error message, or None} of the one JUnit file the run wrote."""
        files = sorted((self.checkout / self.job.env["JUNIT_OUTPUT_DIR"]).glob("*.xml"))
        assert len(files) == 1, files
        assert self.kept(files[0]), "%s is not among the artifacts %s" % (files[0], self.job.artifacts)
        for pattern in gitlab_jobs()[self.job.name].junit:
            assert fnmatch(files[0].relative_to(self.checkout).as_posix(), pattern), pattern
        cases = {}
        for case in ET.parse(files[0]).getroot().iter("testcase"):
            problem = case.find("failure")
            problem = problem if problem is not None else case.find("error")
            cases[case.get("name")] = None if problem is None else problem.get("message")
        return cases

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
    assert report["drift"] == [{"account": a, "settings": DRIFTED_SETTINGS} for a in ACCOUNTS]
    assert "Dry run" in (plan.checkout / "reports" / "baseline_report.md").read_text(encoding="utf-8")
    for path in (plan.checkout / "reports").iterdir():
        assert plan.kept(path), path
    failed = {name: message for name, message in plan.junit_cases().items() if message is not None}
    assert len(failed) == 1 and next(iter(failed)).endswith(": " + DRIFT_TASK), failed
    assert "marketing (%s)" % ", ".join(DRIFTED_SETTINGS) in next(iter(failed.values()))

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
    assert all(message is None for message in again.junit_cases().values()), again.junit_cases()
