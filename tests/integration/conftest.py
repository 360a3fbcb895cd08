"""Shared machinery of the integration tests: real ansible-playbook runs against real local API servers.

Each test gets its own server(s) from tools/sendgrid_api_server.py, started in-process on 127.0.0.1 and a free
port, so tests never share state and may run in parallel (pytest -n 2). Playbooks live in playbooks/ and
take their parameters as extra vars; ``run_playbook`` runs one and returns the task results (recorded by the
test-only callback in callback_plugins/, so -vvvv output cannot garble them) with stdout, stderr and rc.

Every run uses -vvvv by default and checks that no API key known to the tests appears in stdout, stderr or
the results: the secrecy of the key is asserted on every success and every failure path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

INTEGRATION_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEGRATION_DIR.parents[1]
PLAYBOOKS = INTEGRATION_DIR / "playbooks"
CALLBACK_PLUGINS = INTEGRATION_DIR / "callback_plugins"
TLS_PATH = "/v3/user/settings/enforced_tls"
SUBUSERS_PATH = "/v3/subusers"


def _load(name: str, path: Path):
    """Import a file under a unique module name (both conftest.py files are otherwise called "conftest")."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# tests/conftest.py makes the checkout importable as ansible_collections.mailops.sendgrid and says where.
COLLECTIONS_ROOT = _load("mailops_sendgrid_tests_conftest", REPO_ROOT / "tests" / "conftest.py").COLLECTIONS_ROOT
# The same module object as tests/server uses, when both run in one session.
sg = _load("sendgrid_api_server", REPO_ROOT / "tools" / "sendgrid_api_server.py")

# Distinctive keys: none of them may ever appear in any output.
KEY = "SG.integration-SECRET-4f1c2b7e9d.all-scopes-Zq8"
READ_ONLY_KEY = "SG.integration-SECRET-7a0d5e3c1b.read-only-Kp2"
REVOKED_KEY = "SG.integration-SECRET-0b9e8d7c6a.revoked-Xw5"
SECRETS = (KEY, READ_ONLY_KEY, REVOKED_KEY)
SERVER_KEYS = {KEY: sg.ALL_SCOPES, READ_ONLY_KEY: [sg.SCOPE_TLS_READ]}

DEFAULT_SETTINGS = {"require_tls": False, "require_valid_cert": False, "version": 1.1}
# The subusers every test server knows; eu-newsletter is pinned to the EU region.
SUBUSERS = ["marketing", "billing", "support", "eu-newsletter:eu"]
ACCOUNT_IDS = ["777"]

# Words that must never reach a person: they mean the module crashed instead of explaining.
CRASH_MARKERS = ("Traceback (most recent call last)", "MODULE FAILURE", "The full traceback is")

# Outcome categories of the closing tally (see pytest_terminal_summary below).
TALLY = {
    "fault_survived": "faults survived",
    "failure_reported": "failures reported clearly",
    "bad_input_rejected": "bad inputs rejected with nothing sent",
}


# ----------------------------------------------------------------------------- servers

@pytest.fixture(name="start_server")
def fixture_start_server():
    """Factory: start a server with the test keys and subusers (overridable); all are stopped after the test."""
    started = []

    def start(**options):
        config = {"keys": SERVER_KEYS, "subusers": SUBUSERS, "account_ids": ACCOUNT_IDS}
        config.update(options)
        server, thread = sg.start_server(host="127.0.0.1", port=0, **config)
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        sg.stop_server(server, thread)


@pytest.fixture(name="server")
def fixture_server(start_server):
    """A fresh global-region server for this test."""
    return start_server()


@pytest.fixture(name="eu_server")
def fixture_eu_server(start_server):
    """A second, fresh server playing the EU host (https://api.eu.sendgrid.com)."""
    return start_server(region="eu")


def header(entry: dict, name: str):
    """A request header from a log entry, by case-insensitive name (None when absent)."""
    return next((value for key, value in entry["headers"].items() if key.lower() == name.lower()), None)


Call = namedtuple("Call", "method path on_behalf_of body")
AnsweredCall = namedtuple("AnsweredCall", "method path on_behalf_of body status")


def calls(server, with_status: bool = False) -> list:
    """The server's API request log as (method, path, on-behalf-of, JSON body[, status]) tuples, oldest first.

    Named tuples (Call, AnsweredCall), so tests compare them with plain tuples and read fields by name.
    """
    result = []
    for entry in server.requests():
        item = (entry["method"], urlsplit(entry["path"]).path, header(entry, "on-behalf-of"), entry["body"])
        result.append(AnsweredCall(*item, entry["status"]) if with_status else Call(*item))
    return result


def query(entry: dict) -> dict:
    """The query parameters of a logged request, one value each."""
    return {name: values[-1] for name, values in parse_qs(urlsplit(entry["path"]).query).items()}


def assert_nothing_sent(server) -> None:
    """Not a single API request, not even a TCP connection, reached the server."""
    assert server.requests() == []
    assert server.connections() == {"opened": 0, "accepted": 0}


# ----------------------------------------------------------------------------- playbooks

@dataclass
class PlaybookRun:
    """One ansible-playbook run: exit status, output, and the recorded task results."""

    rc: int
    stdout: str
    stderr: str
    tasks: list = field(default_factory=list)
    command: list = field(default_factory=list)

    def task(self, name: str) -> dict:
        """The record of the one task called ``name`` (status, result, warnings, exception)."""
        found = [task for task in self.tasks if task["task"] == name]
        assert len(found) == 1, "expected one result for task %r, got %d\n%s" % (name, len(found), self.explain())
        return found[0]

    def result(self, name: str) -> dict:
        """The result dictionary of the task called ``name``."""
        return self.task(name)["result"]

    def explain(self) -> str:
        """Everything useful when an assertion fails."""
        return "command: %s\nrc: %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            " ".join(self.command), self.rc, self.stdout[-6000:], self.stderr[-3000:])


def playbook_env(extra: dict | None = None) -> dict:
    """The environment of ansible-playbook: the checkout as the collection, the venv's Python, no stray SendGrid vars."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SENDGRID_", "ANSIBLE_", "PYTEST_"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_ROOT,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_PLUGINS),
        "ANSIBLE_CALLBACKS_ENABLED": "integration_results",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "PYTHONWARNINGS": "ignore",
    })
    env.update(extra or {})
    return env


def run_playbook(playbook: str, extra_vars: dict | None = None, env: dict | None = None, api_key: str | None = KEY,
                 check: bool = False, diff: bool = False, verbosity: int = 4, args: tuple = (), timeout: float = 120,
                 secrets: tuple = SECRETS) -> PlaybookRun:
    """Run tests/integration/playbooks/<playbook> on localhost and return what happened.

    The playbooks read ``api_key`` from IT_API_KEY, as a play would from a vault (extra vars are printed by
    -vvvv); None leaves it unset. ``env`` is added to the environment (SENDGRID_* variables, say). Runs with
    -vvvv unless told otherwise and asserts that none of ``secrets`` appears in stdout, stderr or the results.
    """
    assert not any(secret in json.dumps(extra_vars or {}) for secret in secrets), "pass API keys as api_key, not as extra vars"
    env = dict(env or {})
    if api_key is not None:
        env["IT_API_KEY"] = api_key
    fd, results_file = tempfile.mkstemp(prefix="mailops-sendgrid-it-", suffix=".json")
    os.close(fd)
    command = ["ansible-playbook", "-i", "localhost,", str(PLAYBOOKS / playbook)]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    command += list(args)
    try:
        completed = subprocess.run(command, cwd=str(INTEGRATION_DIR), env=playbook_env(dict(env, INTEGRATION_RESULTS_FILE=results_file)),
                                   capture_output=True, text=True, timeout=timeout, check=False)
        with open(results_file, encoding="utf-8") as handle:
            raw_results = handle.read()
    finally:
        os.unlink(results_file)
    run = PlaybookRun(rc=completed.returncode, stdout=completed.stdout, stderr=completed.stderr,
                      tasks=json.loads(raw_results)["tasks"] if raw_results else [], command=command)
    for secret in secrets:
        assert secret not in run.stdout, "an API key appeared in stdout\n" + run.explain()
        assert secret not in run.stderr, "an API key appeared in stderr\n" + run.explain()
        assert secret not in raw_results, "an API key appeared in the task results\n" + run.explain()
    return run


def assert_clear_failure(run: PlaybookRun, task: str) -> str:
    """The task failed with a message and no crash report anywhere; return the message."""
    record = run.task(task)
    assert run.rc == 2, run.explain()
    assert record["status"] == "failed", run.explain()
    message = record["result"].get("msg") or ""
    assert message, run.explain()
    for marker in CRASH_MARKERS:
        assert marker not in message
        assert marker not in run.stdout, "%r in stdout\n%s" % (marker, run.explain())
        assert marker not in run.stderr, "%r in stderr\n%s" % (marker, run.explain())
    # the module explained itself: it did not die with a Python exception, and none was captured
    assert "module_stderr" not in record["result"], run.explain()
    assert "Traceback" not in (record["traceback"] or ""), record["traceback"]
    assert record["result"].get("exception") in (None, "(traceback unavailable)"), record["result"]["exception"]
    return message


# ----------------------------------------------------------------------------- tally

@pytest.fixture(name="tally")
def fixture_tally(request):
    """tally("fault_survived" | "failure_reported" | "bad_input_rejected"): count this test in the closing tally.

    Recorded on the test report, so only tests that pass are counted, also under pytest-xdist.
    """
    def record(category: str) -> None:
        assert category in TALLY, category
        request.node.user_properties.append(("integration_tally", category))
    return record


@pytest.fixture(autouse=True)
def _mark_integration_test(request):
    """Tag every test of this directory, so the tally knows how many ran (under xdist too)."""
    request.node.user_properties.append(("integration_test", True))


_counts = {category: 0 for category in TALLY}
_seen = {"integration_tests": 0}


def pytest_runtest_logreport(report):
    # under pytest-xdist the (name, value) pairs come back from the worker as lists
    properties = [tuple(pair) for pair in report.user_properties]
    if report.when != "call" or ("integration_test", True) not in properties:
        return
    _seen["integration_tests"] += 1
    if report.passed:
        for name, value in properties:
            if name == "integration_tally":
                _counts[value] += 1


def pytest_terminal_summary(terminalreporter):
    if not _seen["integration_tests"]:
        return
    terminalreporter.write_line(", ".join("%s: %d" % (label, _counts[category]) for category, label in TALLY.items()))


def case_outcomes(run, task: str) -> dict:
    """{case: item result} of a looping task whose items each carry a unique ``case`` label (the *_cases.yml playbooks)."""
    items = run.result(task)["results"]
    assert len({item["item"]["case"] for item in items}) == len(items), "case labels must be unique"
    return {item["item"]["case"]: item for item in items}


def explained(item: dict) -> str:
    """The case failed with a message of the module's own, not a crash; return the message."""
    assert item.get("failed") is True, item
    message = item.get("msg") or ""
    assert message, item
    assert "module_stderr" not in item, item
    assert item.get("exception") in (None, "(traceback unavailable)"), item["exception"]
    for marker in CRASH_MARKERS:
        assert marker not in message, message
    return message
