# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Progress on long runs (issue 24): a baseline that runs for a while shows, in ansible-playbook's own output and while
the task runs, how many accounts are done of how many, the failures so far, a rate-limit wait with its end and the time
left; with -v one line per account. Its result is the one a plain synchronous run gives.

Three ansible-playbook runs side by side, each a dry run (check mode, diff) then an apply over ten accounts, one of
which fails (an EU subuser without eu_api_url): two with progress, each against a slow server of its own (every answer
late, Enforced TLS limited to a few requests per window: the run waits for the rate limit), one without
(progress_interval 0) against a fast one. The two with progress take the plugin's two paths: the module on the
controller (the local connection: it runs as any module, its progress file read from the disk) and on a managed host
that is not the controller (connection_plugins/remote_stand_in.py: it runs asynchronously, its progress read through
the connection). Every server must have answered the same requests, and the runs' results must be the same.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import KEY, PLAYBOOKS, SUBUSERS, TLS_PATH, calls, playbook_env, run_playbook

EXTRA_SUBUSERS = ["s01", "s02", "s03", "s04", "s05"]
ACCOUNTS = ["parent", "marketing", "billing", "support", "eu-newsletter"] + EXTRA_SUBUSERS
TASKS = ("plan the baseline", "apply the baseline")
# per window of WINDOW seconds: the plan's 10 Enforced TLS requests take two windows, the apply's 19 three
TLS_PER_WINDOW, WINDOW = 7, 2
LINE = re.compile(r"^\[localhost\] sendgrid_baseline: (\d+) of 10 accounts done, (\d+) failed(.*)$")
ACCOUNT_LINE = re.compile(r"^\[localhost\] sendgrid_baseline: ([\w-]+): (ok|changed|would change|failed)$")
WAIT = re.compile(r"waiting for SendGrid's rate limit on %s until \d\d:\d\d:\d\d UTC \(\d+s\)" % re.escape(TLS_PATH))


# Where the module runs: the connection of the progress playbook (sg_connection) for each of the plugin's two paths.
WHERE = {"controller": "local", "remote host": "remote_stand_in"}
PROGRESS_DIRECTORY = "mailops-sendgrid-progress-"


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    """{"shown": {where: run}, "slow": {where: server}, "plain": run, "fast": server, "temp": {where: directory}}: the
    runs with progress have a temporary directory each (TMPDIR; the async job directory for the remote host)."""
    subusers = SUBUSERS + EXTRA_SUBUSERS
    slow = {where: module_start_server(subusers=subusers, latency_ms=100, rate_window=WINDOW,
                                       endpoint_rate_limits={TLS_PATH: TLS_PER_WINDOW}) for where in WHERE}
    fast = module_start_server(subusers=subusers)
    temp = {where: tmp_path_factory.mktemp("temp") for where in WHERE}

    def run(server, interval, verbosity, where="controller"):
        env = {"TMPDIR": str(temp[where]), "ANSIBLE_ASYNC_DIR": str(temp[where])} if interval else None
        return run_playbook("progress.yml", {"sg_api_url": server.url, "sg_progress_interval": interval,
                                             "sg_connection": WHERE[where]}, verbosity=verbosity, env=env)
    with ThreadPoolExecutor(3) as pool:
        shown = {where: pool.submit(run, slow[where], 1, 1, where) for where in WHERE}
        plain = pool.submit(run, fast, 0, 0)
        return dict(shown={where: future.result() for where, future in shown.items()}, plain=plain.result(),
                    slow=slow, fast=fast, temp=temp)


def task_output(run, name: str) -> list:
    """The lines ansible-playbook printed from the task's banner to its result (the result line excluded)."""
    section = run.stdout.split("TASK [%s]" % name, 1)[1].split("\nTASK [", 1)[0]
    lines = section.splitlines()[1:]
    result = next(index for index, line in enumerate(lines) if line.startswith(("fatal: [localhost]", "ok: [localhost]",
                                                                               "changed: [localhost]")))
    assert any(line.startswith("...ignoring") for line in lines[result:]), run.explain()
    return lines[:result]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("task, least", [("plan the baseline", 1), ("apply the baseline", 3)])
def test_progress_lines_come_before_the_task_s_result_with_counts_that_grow(runs, task, least, where):
    before = task_output(runs["shown"][where], task)
    counts = [(int(match.group(1)), int(match.group(2))) for match in map(LINE.match, before) if match]
    assert len(counts) >= least, runs["shown"][where].explain()
    assert counts == sorted(counts) and counts[-1][0] <= 10 and counts[-1][1] <= 1, counts
    if task == "apply the baseline":
        assert counts[0] < counts[-1], counts
        assert any(" left" in match.group(3) for match in map(LINE.match, before) if match), before


@pytest.mark.parametrize("where", WHERE)
def test_the_failures_so_far_and_a_rate_limit_wait_with_its_end_are_shown(runs, where):
    before = task_output(runs["shown"][where], "apply the baseline")
    assert any(match and match.group(2) == "1" for match in map(LINE.match, before)), before
    waits = [line for line in task_output(runs["shown"][where], "plan the baseline") + before if WAIT.search(line)]
    assert waits, runs["shown"][where].stdout


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("task, status", [("plan the baseline", "would change"), ("apply the baseline", "changed")])
def test_with_v_each_account_has_one_line_with_its_outcome_before_the_result(runs, task, status, where):
    lines = [ACCOUNT_LINE.match(line) for line in task_output(runs["shown"][where], task)]
    outcomes = {match.group(1): match.group(2) for match in lines if match}
    assert len([match for match in lines if match]) == 10, "one line per account"
    assert outcomes == dict({name: status for name in ACCOUNTS}, **{"eu-newsletter": "failed"})


@pytest.mark.parametrize("where", WHERE)
def test_the_results_are_those_of_a_synchronous_run_and_the_same_requests_were_sent(runs, where):
    shown, plain = runs["shown"][where], runs["plain"]
    assert shown.rc == plain.rc == 0, shown.explain() + plain.explain()
    for task in TASKS:
        with_progress = shown.task(task)
        without = plain.task(task)
        assert with_progress["status"] == without["status"] == "failed"
        assert with_progress["warnings"] == without["warnings"] and len(without["warnings"]) == 1
        results = []
        for record, server in ((with_progress, runs["slow"][where]), (without, runs["fast"])):
            result = dict(record["result"])
            arguments = result.pop("invocation")["module_args"]
            assert arguments["api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
            # the same result but for where each server listens
            results.append(repr(result).replace(server.url, "<server>"))
        assert results[0] == results[1]
        assert with_progress["result"]["summary"] == dict(accounts=10, compliant=0, failed=1, flagged=0,
                                                          changed=9 if task == "apply the baseline" else 0,
                                                          would_change=9 if task == "plan the baseline" else 0)
    assert "diff" in shown.result("plan the baseline") and "diff" not in shown.result("apply the baseline")
    sent = sorted(calls(runs["slow"][where]), key=repr)
    assert sent == sorted(calls(runs["fast"]), key=repr)
    assert len([call for call in sent if call.method == "PATCH" and call.path == TLS_PATH]) == 9


def test_a_run_without_progress_prints_none_and_a_run_with_it_leaves_no_file(runs):
    assert "sendgrid_baseline:" not in runs["plain"].stdout
    assert list(runs["temp"]["remote host"].iterdir()) == [], "the job file and the progress file are removed"
    assert not list(runs["temp"]["controller"].glob(PROGRESS_DIRECTORY + "*")), "the progress directory is removed"


@pytest.mark.parametrize("where", WHERE)
def test_ctrl_c_stops_the_module(module_start_server, tmp_path, where):
    """Ctrl-C (SIGINT to ansible-playbook's process group, as a terminal sends it) stops the module, as it stops a
    synchronous one, on the controller (in a session of the worker's) and on another host (async_wrapper runs it in a
    session of its own): nothing is sent after."""
    # two accounts at a time, a request each in the plan: the module would run for about ten seconds more
    server = module_start_server(subusers=SUBUSERS + EXTRA_SUBUSERS, latency_ms=600)
    temp = tmp_path / "temp"
    temp.mkdir()
    command = ["ansible-playbook", "-i", "localhost,", str(PLAYBOOKS / "progress.yml"),
               "-e", json.dumps({"sg_api_url": server.url, "sg_progress_interval": 1, "sg_connection": WHERE[where]})]
    env = playbook_env({"IT_API_KEY": KEY, "ANSIBLE_ASYNC_DIR": str(temp), "TMPDIR": str(temp),
                        "INTEGRATION_RESULTS_FILE": str(tmp_path / "results.json")})
    pattern = PROGRESS_DIRECTORY + "*/progress.json" if where == "controller" else "mailops-sendgrid-progress-*.json"
    playbook = subprocess.Popen(command, cwd=str(PLAYBOOKS), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    try:
        progress = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (progress and progress.get("done")) and playbook.poll() is None:
            time.sleep(0.2)
            for path in temp.glob(pattern):
                try:
                    progress = json.loads(path.read_text(encoding="utf-8"))
                except ValueError:
                    pass   # the module replaces it whole: a read can only miss it, never see half of it
        assert progress and progress["done"], "no progress within a minute: %s" % (
            playbook.communicate(timeout=60)[0] if playbook.poll() is not None else "still running")
        module_pid = progress["pid"]
        os.killpg(playbook.pid, signal.SIGINT)
        output = playbook.communicate(timeout=60)[0]
    finally:
        if playbook.poll() is None:
            os.killpg(playbook.pid, signal.SIGKILL)
    assert playbook.returncode != 0, output
    deadline = time.monotonic() + 3
    while os.path.exists("/proc/%d" % module_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists("/proc/%d" % module_pid), "the module still runs after Ctrl-C"
    assert not list(temp.glob("mailops-sendgrid-progress-*")), "the progress file (or its directory) is left behind"
    sent = len(server.requests())
    time.sleep(1)
    assert len(server.requests()) == sent and sent < 2 + 10 + 1, "requests went on after Ctrl-C"
    assert KEY not in output
