"""Every example the documentation shows runs, as written, against local API servers.

The examples are read from README.md, roles/*/README.md, the guides in docs/docsite/rst/ and each module's EXAMPLES
when the tests are collected
(doc_examples.py), so an edited example is tested as edited. A YAML play runs as is; a task list runs pasted
under ``tasks:`` of a play on localhost. Each runs against a fresh global and EU server three times: a dry run
(check mode and diff: nothing written), the real run (diff: no task fails, what the dry run announced is what
changes) and once more (nothing changes, nothing written). The three are the example's plays written three times
into one playbook, with the play keywords ``check_mode`` and ``diff`` that ``--check`` and ``--diff`` stand for: one
ansible-playbook start instead of three, the suite's largest cost. A bash block that runs ansible-playbook
against the local server runs as written, with the server's real URL. Every other block must be listed in
NOT_RUN with the reason, so that a new block cannot go untested unnoticed.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

import doc_examples
from conftest import KEY, REPO_ROOT, SECRETS, SERVER_KEYS, _load, calls, run_playbook, sg

dns_server = _load("mailops_sendgrid_dns_server", REPO_ROOT / "tools" / "dns_server.py")

BLOCKS = doc_examples.all_blocks(REPO_ROOT)
YAML_EXAMPLES = [block for block in BLOCKS if doc_examples.kind(block) in ("play", "tasks")]
COMMAND_BLOCKS = [block for block in BLOCKS if doc_examples.kind(block) == "commands"]

# Blocks that are not run here, and why. A block that is neither runnable nor listed fails
# test_every_documented_block_is_run_or_listed, and so does an entry that no longer names a block.
NOT_RUN = {
    "README.md:mailops-sendgrid:bash":
        "scripts/demo.sh and scripts/test.sh: the test command itself (this file is part of it)",
    "README.md:install:bash":
        "builds and installs the artifact: scripts/test.sh stage_build and stage_installed_artifact do that",
    "README.md:check-mode-and-diff-mode:bash":
        "runs the reader's own baseline.yml; every YAML example here runs with --check --diff",
    "docs/docsite/rst/guide_execution_environment.rst:in-an-execution-environment-awx-automation-platform":
        "an ansible-builder definition, not a playbook: test_execution_environment.py builds its context",
    "docs/docsite/rst/guide_execution_environment.rst:in-an-execution-environment-awx-automation-platform:bash":
        "ansible-builder build needs a container engine; test_execution_environment.py runs ansible-builder create",
    "docs/docsite/rst/guide_local_server.rst:validating-domains-and-links-against-a-real-dns:bash":
        "curl and the DNS server's own commands, no playbook: tests/server/test_dns_server.py runs those commands, "
        "tests/server/test_domains.py the same validation; the sender identity guide's play runs here",
    "docs/docsite/rst/guide_baseline.rst:progress-on-long-runs:text":
        "what ansible-playbook prints, not a command: test_integration_progress.py checks those lines in a real run",
    "docs/docsite/rst/guide_pipelines.rst:the-policy": "run by test_pipeline.py",
    "docs/docsite/rst/guide_pipelines.rst:github-actions": "run by test_pipeline.py",
    "docs/docsite/rst/guide_pipelines.rst:gitlab-ci": "run by test_pipeline.py",
    "docs/docsite/rst/guide_pipelines.rst:many-parent-accounts":
        "an inventory of three parent accounts: test_integration_parents.py runs the section's commands with it",
    "docs/docsite/rst/guide_pipelines.rst:many-parent-accounts:bash":
        "run by test_integration_parents.py, against a local server per parent account",
    "docs/docsite/rst/guide_export.rst:export-then-plan:bash":
        "run by test_integration_export.py, against local servers seeded with an estate of 55 accounts",
    "docs/docsite/rst/guide_export.rst:what-the-file-holds":
        "an excerpt of an exported file, not a playbook: test_integration_export.py checks a real one against it",
    "roles/enforced_tls/README.md:a-pipeline-to-copy:bash":
        "runs the block above it against SendGrid; that block runs here with --check --diff, then --diff, then again",
    "roles/enforced_tls/README.md:variables:bash":
        "extra var strings: test_integration_real_use.py (defect 3) and test_option_matrix.py pass every variable so",
}

# The accounts the examples name, on both servers (SendGrid's two hosts share one subuser list):
# eu-newsletter is pinned to the EU region; sandbox-trial and test-smoke exist so that the examples'
# exclusions ("sandbox-*", "test-*") have something to leave out.
SUBUSERS = ["marketing", "billing", "eu-newsletter:eu", "legacy-relay", "sandbox-trial", "test-smoke"]
SUBUSER_NAMES = [name.split(":", maxsplit=1)[0] for name in SUBUSERS]
ACCOUNT_IDS = ["12345"]   # the customer account of the role README's pipeline

# Examples that assume a state the fresh servers do not have: {id: (server state, task that fails without it)}.
# test_example_fails_as_documented_without_its_precondition checks the example really depends on it.
PRECONDITIONS = {
    # "Fail when a subuser does not require TLS" fails, as documented, against a fresh account
    "sendgrid_enforced_tls_info:EXAMPLES": ({"marketing": {"require_tls": True}},
                                            "Fail when a subuser does not require TLS"),
    # the plan's gate fails, as documented, on drift: fresh accounts track opens
    "sendgrid_drift_gate:EXAMPLES": ({account: {"tracking_settings/open": {"enabled": False}}
                                      for account in ["parent"] + SUBUSER_NAMES},
                                     "Exit 0 in sync, 2 on drift, 4 when the plan did not complete"),
}

# Examples whose key must hold every scope the servers serve: the key of an automation that creates subusers holds the
# subuser writes, which the servers' usual key (conftest.SERVER_KEYS) leaves out.
EVERY_SCOPE = {"sendgrid_subuser:EXAMPLES", "docs/docsite/rst/guide_access.rst:the-team-and-the-keys-of-every-account"}
# Tasks that only a real run can do, so that the dry run cannot announce them: {(example, task): why}. They must change
# in the real run and not in the second.
REAL_RUN_ONLY = {
    ("sendgrid_api_key:EXAMPLES", "Keep its secret in a file only its owner reads (the secret is there only when the "
                                  "key was created)"): "a new key's secret exists once the key is created",
    ("docs/docsite/rst/guide_access.rst:a-new-key-s-secret", "Keep the secret, given once"):
        "a new key's secret exists once the key is created",
    # a dry run creates no domain or link, so it has no records to publish
    ("sendgrid_domain_authentication:EXAMPLES", "Publish its records on the zone's primary name server, as SendGrid "
                                                "gives them"): "the records exist once the domain is created",
    ("sendgrid_link_branding:EXAMPLES", "Publish its two CNAME records on the zone's primary name server"):
        "the records exist once the link is created",
    ("docs/docsite/rst/guide_sender_identity.rst:the-worked-example",
     "Publish every record SendGrid asks for on the zone's primary name server"):
        "the records exist once the domains and the link are created",
}

# Tasks whose change is a file on the controller, not a write to SendGrid: {(example, task): why}.
FILE_CHANGES = {
    ("sendgrid_baseline_export:EXAMPLES", "Export the parent and every subuser to a policy file"):
        "writes the exported policy file (dest)",
}

WRITES = ("PATCH", "POST", "PUT", "DELETE")
# Examples of controller-side plugins that never talk to SendGrid: {id: why}. Everything else must reach a server.
SENDS_NOTHING = {
    "sendgrid_role_variables:EXAMPLES": "reads the task's variables on the controller; its unit tests check what it finds",
}
EXCLUDE_KEYS = ("exclude", "enforced_tls_exclude")
# The demo server's URL in a command is replaced by the URL of the server the test started.
DEMO_HOST = "127.0.0.1"

# What the documentation's "vault" holds: the key comes from the environment (IT_API_KEY, set by run_playbook),
# never from extra vars, which -vvvv prints. ansible_connection: local makes the explicit localhost of
# run_playbook's "-i localhost," behave as the implicit localhost a reader without an inventory gets.
INVENTORY = {
    "all": {
        "hosts": {"localhost": {"ansible_connection": "local"}},
        "vars": {"vault_sendgrid_api_key": "{{ lookup('ansible.builtin.env', 'IT_API_KEY') }}",
                 # the name the local server gives the first key it was started with (the examples' key)
                 "vault_sendgrid_api_key_name": "start key 1",
                 # the subusers' passwords the examples create them with (write-only: never read back)
                 "vault_transactional_password": "example-password-transactional-7Qm",
                 "vault_webshop_password": "example-password-webshop-3Lx",
                 # the event webhooks' OAuth client secret (write-only: never read back, never in any output)
                 "vault_webhook_oauth_secret": "example-oauth-SECRET-webhooks-4Kd"},
    },
}


def block_ids(blocks):
    return [block.id for block in blocks]


# ----------------------------------------------------------------------------- what is run

def test_every_documented_block_is_run_or_listed():
    problems = []
    for block in BLOCKS:
        runnable = doc_examples.kind(block) is not None
        if runnable and block.id in NOT_RUN:
            problems.append("%s runs, but NOT_RUN says it does not: drop it from NOT_RUN" % block)
        if not runnable and block.id not in NOT_RUN:
            problems.append("%s is neither a playbook, a task list nor commands against the local server: "
                            "make it one, or list it in NOT_RUN with the reason" % block)
    problems += ["NOT_RUN names %s, which no documentation file has" % block_id
                 for block_id in sorted(set(NOT_RUN) - set(block_ids(BLOCKS)))]
    problems += ["PRECONDITIONS names %s, which is not a runnable example" % block_id
                 for block_id in sorted(set(PRECONDITIONS) - set(block_ids(YAML_EXAMPLES)))]
    assert not problems, "\n".join(problems)


def test_the_extraction_finds_each_file_s_examples():
    """Guards the test above against passing vacuously: every source yields blocks, every module its EXAMPLES."""
    sources = Counter(block.source for block in BLOCKS)
    for relpath in doc_examples.documented_files(REPO_ROOT):
        if relpath.endswith(".rst"):
            # a guide may have no code block, but none of its code-block directives may be missed
            directives = (REPO_ROOT / relpath).read_text(encoding="utf-8").count(".. code-block::")
            assert sources[relpath] == directives, (relpath, sources[relpath], directives)
        else:
            assert sources[relpath] >= 1, relpath
    assert any(relpath.endswith(".rst") and sources[relpath] for relpath in sources), "no guide yields a block"
    for relpath in doc_examples.module_files(REPO_ROOT):
        assert doc_examples.module_examples(REPO_ROOT, relpath) is not None, "%s has no EXAMPLES" % relpath
    assert len(block_ids(BLOCKS)) == len(set(block_ids(BLOCKS))), block_ids(BLOCKS)
    assert "README.md:a-playbook-to-copy" in block_ids(YAML_EXAMPLES)
    assert COMMAND_BLOCKS, "the local server guide's 'Try it without a SendGrid account' is no longer found"


# ----------------------------------------------------------------------------- YAML examples

@pytest.fixture(name="dns")
def fixture_dns():
    """The zone's primary name server of the sender identity examples (dns_primary, dns_port): a DNS server of
    tools/dns_server.py, which takes nsupdate's dynamic updates and which the API servers validate against."""
    server = dns_server.DNSServer(host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture(name="servers")
def fixture_servers(start_server, request, dns):
    """A fresh global and EU server with the accounts the examples name (and the example's precondition)."""
    state, block_id = getattr(request, "param", None) or ({}, None)
    options = dict(subusers=SUBUSERS, account_ids=ACCOUNT_IDS, state=state or {}, dns_resolver=dns.address)
    if block_id in EVERY_SCOPE:
        options["keys"] = dict(SERVER_KEYS, **{KEY: sg.ALL_SCOPES})
    return start_server(**options), start_server(region="eu", **options)


@pytest.fixture(name="workdir")
def fixture_workdir(tmp_path, monkeypatch):
    """Run ansible-playbook from an empty directory: examples write reports/ relative to it.

    run_playbook always runs from tests/integration (its module's INTEGRATION_DIR), so that name is pointed
    here for this test only.
    """
    monkeypatch.setitem(run_playbook.__globals__, "INTEGRATION_DIR", tmp_path)
    return tmp_path


# The three runs of a YAML example, in order: a name, and the play keywords that make a play run as
# ansible-playbook's --check and --diff would make it run.
PHASES = (("the dry run", {"check_mode": True, "diff": True}), ("the real run", {"diff": True}),
          ("the second real run", {}))


def example_plays(block) -> list:
    """The example's plays: a play as is, a task list pasted under ``tasks:`` of a play on localhost."""
    if doc_examples.kind(block) == "play":
        plays = yaml.safe_load(block.text)
    else:
        plays = yaml.safe_load("- name: %s\n  hosts: localhost\n  gather_facts: false\n  tasks:\n" % json.dumps(block.id)
                               + textwrap.indent(textwrap.dedent(block.text).strip("\n") + "\n", "    "))
    for play in plays:
        assert isinstance(play, dict) and "hosts" in play, "%s: not a play: %r" % (block, play)
        assert not {"check_mode", "diff"} & set(play), "%s: a play that sets check_mode or diff itself" % block
    return plays


def write_playbook(block, directory: Path, phases=PHASES, dns=None) -> Path:
    """The example's plays once per phase, each with the phase's play keywords, in one playbook; the inventory names
    the DNS server (dns_primary, dns_port) when there is one."""
    plays = example_plays(block)
    phased = [dict(copy.deepcopy(play), **keywords) for _name, keywords in phases for play in plays]
    playbook = directory / "example.yml"
    playbook.write_text(yaml.safe_dump(phased, sort_keys=False, width=1000), encoding="utf-8")
    inventory = copy.deepcopy(INVENTORY)
    if dns is not None:
        inventory["all"]["vars"].update(dns_primary=dns.host, dns_port=dns.port)
    (directory / "inventory.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return playbook


def run_example(playbook: Path, servers, **options):
    """One run; returns it with the requests each server got during it (time and request, oldest first)."""
    seen = [len(server.requests()) for server in servers]
    env = {"SENDGRID_API_URL": servers[0].url, "SENDGRID_EU_API_URL": servers[1].url, "SENDGRID_API_KEY": KEY}
    options.setdefault("secrets", SECRETS + (INVENTORY["all"]["vars"]["vault_webhook_oauth_secret"],))
    run = run_playbook(str(playbook), env=env, args=("-i", str(playbook.parent / "inventory.yml")), timeout=240,
                       **options)
    run.sent = sorted(((entry["time"], call) for server, count in zip(servers, seen)
                       for entry, call in zip(server.requests()[count:], calls(server, with_status=True)[count:])),
                      key=lambda pair: pair[0])
    return run


class Phase:
    """One phase of a phased run: its task records and the requests sent while its tasks ran."""

    def __init__(self, name: str, tasks: list, sent: list):
        self.name, self.tasks, self.sent = name, tasks, sent


def split_phases(run, plays_per_phase: int, phases=PHASES) -> list:
    """The run's task records and requests, phase by phase (a phase's plays are consecutive; so are its requests)."""
    tasks = [[task for task in run.tasks if task["play"] // plays_per_phase == index] for index in range(len(phases))]
    starts = [min((task["started"] for task in phase_tasks), default=float("inf")) for phase_tasks in tasks]
    ends = starts[1:] + [float("inf")]
    return [Phase(name, phase_tasks, [call for when, call in run.sent if start <= when < end])
            for (name, _keywords), phase_tasks, start, end in zip(phases, tasks, starts, ends)]


def statuses(run, *wanted):
    return Counter(task["task"] for task in run.tasks if task["status"] in wanted)


def assert_succeeded(run, what):
    assert run.rc == 0, "%s: rc %s\n%s" % (what, run.rc, run.explain())
    assert run.tasks, "%s: no task ran\n%s" % (what, run.explain())
    failed = statuses(run, "failed", "unreachable")
    assert not failed, "%s: failed tasks %s\n%s" % (what, dict(failed), run.explain())


def succeeded(method: str, status) -> bool:
    """A success answer: 200; 201 to a POST, 204 to a DELETE and to a subuser's PATCH (as the specs have them); no
    3xx, 4xx or 5xx."""
    return status == 200 or (method, status) in (("POST", 201), ("DELETE", 204), ("PATCH", 204))


def writes(run):
    return [call for call in run.sent if call.method in WRITES]


def reports(directory: Path) -> list:
    return sorted(directory.rglob("enforced_tls_report.json"))


def example_cases(half: int):
    """One half of the YAML examples, alternately: test_doc_examples_second_half.py runs the other, so that under
    --dist loadfile (scripts/test.sh) the examples, each a run of its own, keep both workers busy."""
    blocks = YAML_EXAMPLES[half::2]
    return dict(argnames="block, servers", indirect=["servers"], ids=block_ids(blocks),
                argvalues=[(block, (PRECONDITIONS.get(block.id, (None,))[0], block.id)) for block in blocks])


@pytest.mark.parametrize(**example_cases(0))
def test_example_runs_dry_then_for_real_then_changes_nothing(block, servers, workdir, dns):
    assert_example_runs_dry_then_for_real_then_changes_nothing(block, servers, workdir, dns)


def assert_example_runs_dry_then_for_real_then_changes_nothing(block, servers, workdir, dns):
    """The dry run writes nothing and announces exactly what the real run changes; the second real run changes
    nothing; every request succeeded; what an example excludes is never touched."""
    playbook = write_playbook(block, workdir, dns=dns)
    run = run_example(playbook, servers)
    assert_succeeded(run, "the dry run, the real run and the second real run")
    dry, real, again = split_phases(run, len(example_plays(block)))
    assert dry.tasks and real.tasks and again.tasks, run.explain()

    assert not writes(dry), "the dry run wrote: %s" % writes(dry)
    # the dry run announced exactly the changes the real run made, and "changed" means something was written
    real_only = {task for example, task in REAL_RUN_ONLY if example == block.id}
    announced = statuses(dry, "changed")
    made = Counter({task: count for task, count in statuses(real, "changed").items() if task not in real_only})
    assert all(statuses(real, "changed")[task] for task in real_only), (real_only, run.explain())
    assert made == announced, "changed, though the dry run announced no change: %s; announced, yet unchanged: %s " \
        "(a task undoing an earlier one?)\n%s" % (dict(made - announced), dict(announced - made), run.explain())
    sendgrid_changes = {task for task in statuses(real, "changed") if (block.id, task) not in FILE_CHANGES}
    assert bool(writes(real)) == bool(sendgrid_changes), (writes(real), run.explain())
    assert not statuses(again, "changed"), "not idempotent: %s\n%s" % (dict(statuses(again, "changed")), run.explain())
    assert not writes(again), writes(again)
    if "enforced_tls_report_dir" in block.text:
        # one report, rewritten by each phase: the last one's, a real run
        assert len(reports(workdir)) == 1, reports(workdir)
        assert json.loads(reports(workdir)[0].read_text(encoding="utf-8"))["dry_run"] is False

    everything = [call for _when, call in run.sent]
    assert everything or block.id in SENDS_NOTHING, "the example reached neither server: it proves nothing"
    assert len(everything) == len(dry.sent) + len(real.sent) + len(again.sent), "a request outside every phase"
    assert all(call.path.startswith("/v3/") for call in everything)
    # no example works only because an error was tolerated somewhere (201 and 204 answer POST and DELETE)
    assert [call for call in everything if not succeeded(call.method, call.status)] == [], everything
    # what the example excludes is never read or written (the exclusions must have something to exclude)
    patterns = [p for value in doc_examples.values_of(yaml.safe_load(block.text), EXCLUDE_KEYS) for p in value]
    for pattern in patterns:
        assert any(fnmatch(name, pattern) for name in SUBUSER_NAMES), "add a subuser matching %r to SUBUSERS" % pattern
        touched = [call for call in everything if call.on_behalf_of and fnmatch(call.on_behalf_of, pattern)]
        assert not touched, "excluded by %r, yet requested: %s" % (pattern, touched)


@pytest.mark.parametrize("block", [b for b in YAML_EXAMPLES if b.id in PRECONDITIONS], ids=lambda b: b.id)
def test_example_fails_as_documented_without_its_precondition(block, start_server, workdir):
    """The precondition is needed, not a way around a broken example: on fresh accounts the named task fails."""
    servers = (start_server(subusers=SUBUSERS, account_ids=ACCOUNT_IDS),
               start_server(region="eu", subusers=SUBUSERS, account_ids=ACCOUNT_IDS))
    run = run_example(write_playbook(block, workdir, phases=(("the real run", {}),)), servers)
    assert run.rc == 2, run.explain()
    assert statuses(run, "failed") == Counter([PRECONDITIONS[block.id][1]]), run.explain()
    sent = [call for _when, call in run.sent]
    assert sent and not [call for call in sent if call.method in WRITES], sent


# ----------------------------------------------------------------------------- bash blocks

def start_documented_server(argv: list, directory: Path):
    """Start the server as the command does, on a free port; return (process, the command's URL, the real URL)."""
    argv = list(argv)
    doc_port = argv[argv.index("--port") + 1] if "--port" in argv else None
    if doc_port is not None:
        argv[argv.index("--port") + 1] = "0"
    ready = directory / "server-ready"
    command = [sys.executable] + argv[1:] + ["--ready-file", str(ready)]
    errors = directory / "server-stderr"
    with open(errors, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(command, cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 15
    while not ready.exists():
        assert process.poll() is None, "the documented server command failed: %s\n%s" % (command, errors.read_text())
        assert time.monotonic() < deadline, "the documented server never became ready: %s" % command
        time.sleep(0.05)
    url = ready.read_text(encoding="utf-8").strip()
    return process, "http://%s:%s" % (DEMO_HOST, doc_port) if doc_port else None, url


def server_log(url: str) -> list:
    with urllib.request.urlopen(url + "/__control__/requests", timeout=10) as answer:
        return json.load(answer)


def playbook_argument(argv: list):
    """Index of the playbook among ansible-playbook's arguments (the first word that is not an option or its value)."""
    takes_value = {"-i", "--inventory", "-e", "--extra-vars", "-l", "--limit", "-t", "--tags", "--skip-tags",
                   "-f", "--forks", "-u", "--user", "-c", "--connection", "--vault-password-file"}
    index = 1
    while index < len(argv):
        if argv[index] in takes_value:
            index += 2
        elif argv[index].startswith("-"):
            index += 1
        else:
            return index
    raise AssertionError("no playbook in %s" % argv)


@pytest.mark.parametrize("block", COMMAND_BLOCKS, ids=block_ids(COMMAND_BLOCKS))
def test_documented_commands_run_against_the_local_server(block, workdir):
    processes, urls, ran = [], {}, 0
    try:
        for env, argv, _background in doc_examples.shell_commands(block.text):
            if doc_examples.LOCAL_SERVER.match(" ".join(argv)):
                process, doc_url, url = start_documented_server(argv, workdir)
                processes.append(process)
                urls[doc_url] = url
                continue
            assert argv[0] == "ansible-playbook", "%s: a command this test does not know how to run: %s" % (block, argv)
            assert urls, "%s: ansible-playbook runs before the local server is started" % block
            env = {name: urls.get(value, value) for name, value in env.items()}
            assert set(env.values()) & set(urls.values()), "%s: the command is not pointed at the local server" % block
            position = playbook_argument(argv)
            playbook = argv[position]
            if doc_examples.PLAYBOOK_FQCN.match(playbook):
                # run_playbook takes a file: import the collection's playbook from one
                wrapper = workdir / ("command-%d.yml" % ran)
                wrapper.write_text("- ansible.builtin.import_playbook: %s\n" % playbook, encoding="utf-8")
                playbook = str(wrapper)
            else:
                playbook = str(REPO_ROOT / playbook)
            url = next(iter(urls.values()))
            seen = len(server_log(url))
            run = run_playbook(playbook, env=env, api_key=None, args=tuple(argv[1:position] + argv[position + 1:]),
                               secrets=SECRETS + (sg.DEMO_KEY,))
            ran += 1
            assert_succeeded(run, " ".join(argv))
            sent = server_log(url)[seen:]
            assert sent, "%s: the command reached no server\n%s" % (block, run.explain())
            assert all(succeeded(entry["method"], entry["status"]) for entry in sent), [
                (e["method"], e["path"], e["status"]) for e in sent]
            if "--check" in argv:
                assert not [e for e in sent if e["method"] in WRITES], sent
                # a fresh server differs from every documented policy: the dry run must show something to do
                assert statuses(run, "changed"), run.explain()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
    assert ran, "%s: no ansible-playbook command ran" % block
    assert all(process.returncode in (0, -15) for process in processes), [p.returncode for p in processes]
