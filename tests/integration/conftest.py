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
import re
import shutil
import subprocess
import sys
import tempfile
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

INTEGRATION_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEGRATION_DIR.parents[1]
PLAYBOOKS = INTEGRATION_DIR / "playbooks"
CALLBACK_PLUGINS = INTEGRATION_DIR / "callback_plugins"
ANSIBLE_CFG = INTEGRATION_DIR / "ansible.cfg"   # every run's configuration: Ansible's defaults but one (it says why)
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
# The other collections the plays use (community.general's nsupdate), which scripts/setup.sh unpacks there from the
# package pinned in requirements-collections.txt.
TEST_COLLECTIONS = REPO_ROOT / ".collections"
# Every process the tests start (ansible-playbook, each module run) keeps the code compiled from modules' zip payloads
# in a cache of this checkout's (harness/sitecustomize.py says why and how); workers and sessions share it.
MODULE_CODE_CACHE = REPO_ROOT / "tests" / "output" / "module-code-cache"
MODULE_CODE_CACHE.mkdir(mode=0o700, parents=True, exist_ok=True)
MODULE_CODE_CACHE.chmod(0o700)
os.environ["MAILOPS_TEST_MODULE_CODE_CACHE"] = str(MODULE_CODE_CACHE)
os.environ["PYTHONPATH"] = os.pathsep.join([str(INTEGRATION_DIR / "harness")] + [
    path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path])
# The same module object as tests/server uses, when both run in one session.
sg = _load("sendgrid_api_server", REPO_ROOT / "tools" / "sendgrid_api_server.py")

# Distinctive keys: none of them may ever appear in any output.
KEY = "SG.integration-SECRET-4f1c2b7e9d.all-scopes-Zq8"
READ_ONLY_KEY = "SG.integration-SECRET-7a0d5e3c1b.read-only-Kp2"
REVOKED_KEY = "SG.integration-SECRET-0b9e8d7c6a.revoked-Xw5"
SECRETS = (KEY, READ_ONLY_KEY, REVOKED_KEY)
# KEY holds every scope the servers serve but the subuser writes: it is the automation's key of the README's policies,
# whose allowed_scopes give subusers.read (discovery) and nothing that creates, changes or deletes a subuser.  Nor does
# it hold the scopes of the families the servers serve that no module or policy of the collection manages yet
# (UNMANAGED: none now), which those policies would flag.  It holds the event webhooks' (user.webhooks.*), which
# sendgrid_event_webhook and the baseline's event_webhooks manage, and whitelabel.*, which sendgrid_domain_authentication
# and sendgrid_link_branding manage: the policies allow both.
SUBUSER_WRITES = (sg.SCOPE_SUBUSERS_CREATE, sg.SCOPE_SUBUSERS_UPDATE, sg.SCOPE_SUBUSERS_DELETE)
UNMANAGED = ()
# The ids the servers give those keys, as SendGrid's keys have them: SG.<api_key_id>.<secret>.
START_KEY_IDS = [key.split(".")[1] for key in (KEY, READ_ONLY_KEY)]
SERVER_KEYS = {KEY: [scope for scope in sg.ALL_SCOPES if scope not in SUBUSER_WRITES + UNMANAGED],
               READ_ONLY_KEY: [sg.SCOPE_TLS_READ]}

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

def _servers():
    """A factory that starts servers with the test keys and subusers (overridable), then stops them all."""
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


@pytest.fixture(name="start_server")
def fixture_start_server():
    """Factory: start a server with the test keys and subusers (overridable); all are stopped after the test."""
    yield from _servers()


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
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join((COLLECTIONS_ROOT, str(TEST_COLLECTIONS))),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_PLUGINS),
        "ANSIBLE_CALLBACKS_ENABLED": "integration_results",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_CONFIG": str(ANSIBLE_CFG),
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


# ----------------------------------------------------------------------------- many cases, one ansible-playbook

@dataclass
class PlaybookCase:
    """What one run_playbook call would run: a playbook of playbooks/ with its extra vars, environment, key and modes."""

    playbook: str
    extra_vars: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    api_key: str | None = KEY
    check: bool = False
    diff: bool = False


SENTINEL = "sentinel"
# The first task of each play of a batch: the sentinel host leaves the play there. A meta task runs in ansible-playbook's
# own process, where a task the sentinel skipped by ``when`` forked a worker for it each time (about 17 ms of CPU). The
# case's host skips it; its record is left out of the case's tasks (batch_tasks).
SENTINEL_LEAVES = {"name": "the sentinel leaves the play", "ansible.builtin.meta": "end_host",
                   "when": "inventory_hostname == %r" % SENTINEL}


def batch_tasks(run, host: str) -> list:
    """The task records of one host of a batch, without the sentinel's leaving."""
    return [task for task in run.tasks if task["host"] == host and task["task"] != SENTINEL_LEAVES["name"]]


def run_cases(cases: dict, timeout: float = 300, secrets: tuple = SECRETS) -> dict:
    """Run several cases in ONE ansible-playbook and return {name: PlaybookRun} as if each had run alone.

    An ansible-playbook start costs about a CPU-second, more than most of these cases' tasks, and the suite must stay
    under 8 minutes on 2 cores. Each case's plays are its playbook's, moved to a host of its own (local connection),
    so that a failing case stops only itself; its extra vars become play vars (over the playbook's own), its
    environment the play's ``environment``, --check and --diff the play keywords ``check_mode`` and ``diff``, and its
    key an environment variable of its own (IT_API_KEY_<HOST>), never written into the playbook. Each case's
    PlaybookRun holds its own tasks and an rc of its own (2 when one of its tasks failed); stdout and stderr are the
    run's. Cases that need ansible-playbook options, -e strings or controller settings of their own still use
    run_playbook.
    """
    plays, hosts, env = [], {}, {}
    for index, (name, case) in enumerate(cases.items()):
        host = hosts[name] = "case%03d" % index
        key_variable = "IT_API_KEY_%s" % host.upper()
        text = (PLAYBOOKS / case.playbook).read_text(encoding="utf-8")
        assert "'IT_API_KEY'" in text or case.api_key is None, "%s does not read IT_API_KEY" % case.playbook
        for play in yaml.safe_load(text.replace("'IT_API_KEY'", "'%s'" % key_variable)):
            assert set(play) & {"roles", "pre_tasks", "post_tasks", "handlers", "import_playbook",
                                "ansible.builtin.import_playbook"} == set(), "%s: tasks only" % case.playbook
            # The sentinel host leaves at once, not failed: a play whose every host failed would end the whole playbook.
            play = dict(play, hosts=[host, SENTINEL], name="%s: %s" % (name, play.get("name", "")),
                        vars=dict(play.get("vars") or {}, **case.extra_vars), tasks=[SENTINEL_LEAVES] + play["tasks"])
            play.pop("connection", None)   # the inventory's ansible_connection: local
            if case.env:
                play["environment"] = dict(play.get("environment") or {}, **case.env)
            if case.check:
                play["check_mode"] = True
            if case.diff:
                play["diff"] = True
            plays.append(play)
        if case.api_key is not None:
            env[key_variable] = case.api_key
    directory = Path(tempfile.mkdtemp(prefix="mailops-sendgrid-cases-"))
    try:
        playbook = directory / "cases.yml"
        playbook.write_text(json.dumps(plays, indent=1), encoding="utf-8")
        inventory = directory / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": {
            host: {"ansible_connection": "local"} for host in list(hosts.values()) + [SENTINEL, "localhost"]}}}),
            encoding="utf-8")
        # every playbook here was written for localhost: none may name it now that each case has a host of its own
        assert "localhost" not in json.dumps([{k: v for k, v in play.items() if k != "hosts"} for play in plays]), \
            "a case's playbook names localhost"
        run = run_playbook(str(playbook), env=env, api_key=None, args=("-i", str(inventory)), timeout=timeout,
                           secrets=secrets)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    runs = {}
    for name, host in hosts.items():
        tasks = batch_tasks(run, host)
        failed = any(task["status"] in ("failed", "unreachable") for task in tasks)
        rc = run.rc if run.rc not in (0, 2) else (2 if failed else 0)
        runs[name] = PlaybookRun(rc=rc, stdout=run.stdout, stderr=run.stderr, tasks=tasks, command=run.command)
    return runs


def own_output(run, name: str) -> str:
    """What the plays of the case ``name`` printed: its part of the batch's stdout (run_cases names each play
    "<case>: <play>"; the plays run one after another)."""
    sections = re.split(r"(?m)^(?=PLAY (?:\[|RECAP))", run.stdout)
    own = "".join(section for section in sections if section.startswith("PLAY [%s: " % name))
    assert own, run.explain()
    return own


class Cases:
    """The cases of one test file, run together (run_cases) the first time a test of the file asks for them.

    Register each case's setup with ``@CASES.add(name)``: ``setup(start_server)`` starts and prepares its server(s)
    and returns ``(context, PlaybookCase)``; a test then takes ``run, context = batch[name]``. A setup shared by
    several cases takes their parameters: ``CASES.add(name, status=503)(setup)`` calls ``setup(start_server,
    status=503)``. Under pytest-xdist, ``--dist loadfile`` (scripts/test.sh) gives a file's tests one worker, so
    that the batch runs once (the module-scoped fixture that runs it lives in one process).
    """

    def __init__(self):
        self.setups = {}

    def add(self, name: str, **params):
        def register(setup):
            assert name not in self.setups, name
            self.setups[name] = (setup, params)
            return setup
        return register

    def run(self, start_server) -> dict:
        prepared = {name: setup(start_server, **params) for name, (setup, params) in self.setups.items()}
        runs = run_cases({name: case for name, (_context, case) in prepared.items()})
        return {name: (runs[name], context) for name, (context, _case) in prepared.items()}


class Start:
    """module_start_server, plus a fresh directory of the file's own for a case's files (reports, accounts files,
    certificates): what a case setup is given in a file whose cases need files."""

    def __init__(self, start_server, base: Path):
        self.start_server, self.base = start_server, base

    def __call__(self, **options):
        return self.start_server(**options)

    def directory(self) -> Path:
        return Path(tempfile.mkdtemp(dir=str(self.base)))


@pytest.fixture(name="module_start_server", scope="module")
def fixture_module_start_server():
    """start_server for a whole test file: the servers of its batched cases live until its last test."""
    yield from _servers()
