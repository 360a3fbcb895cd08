# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The progress the action plugin sendgrid_baseline shows while the module runs (issue 24): its lines, how often, and
what the polls make of the job's files. Real runs, through ansible-playbook, are in
tests/integration/test_integration_progress.py."""

from __future__ import annotations

import json
import time

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.mailops.sendgrid.plugins.action import sendgrid_baseline as plugin
from ansible_collections.mailops.sendgrid.plugins.action.sendgrid_baseline import (
    SEPARATOR, Poller, account_lines, duration, interval_of, job_finished, module_result, progress_line, read_state,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._progress import Progress

START = 1_700_000_000.0   # 22:13:20 UTC


def snapshot(**fields) -> dict:
    base = dict(pid=4242, pgid=4240, phase="accounts", now=START + 60, started_at=START, total=1000, done=100, failed=2,
                wait_until=None, wait_endpoint=None, accounts=[])
    base.update(fields)
    return base


class Clock:
    def __init__(self):
        self.now = 500.0

    def __call__(self):
        return self.now


# ----------------------------------------------------------------------------- the lines

def test_a_line_gives_the_accounts_done_of_how_many_the_failures_and_the_time_left():
    # 100 accounts in 60 seconds: the 900 left take about 540 seconds (65 seconds: 585)
    assert progress_line("localhost", snapshot()) == \
        "[localhost] sendgrid_baseline: 100 of 1000 accounts done, 2 failed, about 9m00s left"


def test_a_line_gives_a_rate_limit_wait_with_its_end_and_the_time_left_counts_from_when_it_was_read():
    line = progress_line("parent_a", snapshot(wait_until=START + 85, wait_endpoint="/v3/tracking_settings"), age=5)
    assert line == ("[parent_a] sendgrid_baseline: 100 of 1000 accounts done, 2 failed, waiting for SendGrid's rate limit "
                    "on /v3/tracking_settings until 22:14:45 UTC (20s), about 9m45s left")


def test_a_wait_that_ended_since_the_file_was_written_is_not_shown():
    assert "waiting" not in progress_line("h", snapshot(wait_until=START + 62), age=5)


def test_a_long_wait_is_the_least_time_left():
    line = progress_line("h", snapshot(done=999, wait_until=START + 60 + 120, wait_endpoint=None))
    assert line.endswith("waiting for SendGrid's rate limit until 22:16:20 UTC (2m00s), about 2m00s left")


def test_before_the_first_account_is_done_there_is_no_estimate_and_discovery_is_named():
    assert progress_line("h", snapshot(done=0, failed=0)) == "[h] sendgrid_baseline: 0 of 1000 accounts done, 0 failed"
    assert progress_line("h", snapshot(phase="discovering", total=None, done=0)) == \
        "[h] sendgrid_baseline: discovering the subusers"
    assert progress_line("h", snapshot(phase="starting", total=None, done=0)) == "[h] sendgrid_baseline: starting"
    assert progress_line("h", snapshot(total=1, done=0, failed=0)) == "[h] sendgrid_baseline: 0 of 1 account done, 0 failed"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59.4, "59s"), (60, "1m00s"), (3599, "59m59s"),
                                           (3600, "1h00m"), (7260, "2h01m"), (-3, "0s")])
def test_durations_read_as_hours_minutes_seconds(seconds, text):
    assert duration(seconds) == text


def test_the_lines_of_a_real_progress_file_name_no_key(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(str(path), interval=1)
    progress.start(2)
    progress.account_done("marketing", {"failed": True, "msg": "Bearer SG.secret-unit-key refused"})
    progress.finish()
    written = json.loads(path.read_text(encoding="utf-8"))
    lines = [progress_line("h", written)] + account_lines("h", written, 0)
    assert lines[1] == "[h] sendgrid_baseline: marketing: failed"
    assert "SG.secret-unit-key" not in "".join(lines)


# ----------------------------------------------------------------------------- how often

def test_progress_is_printed_at_most_every_interval_and_not_once_the_job_ended():
    clock = Clock()
    poller = Poller("h", interval=10, verbosity=0, clock=clock)
    printed = []
    for step in range(25):               # a poll a second for 25 seconds
        clock.now += 1
        printed.append(poller.lines(snapshot(done=step, now=START + step), finished=False))
    assert [index for index, lines in enumerate(printed) if lines] == [9, 19]
    assert printed[9] == ["[h] sendgrid_baseline: 9 of 1000 accounts done, 2 failed, about 16m31s left"]
    clock.now += 30
    assert poller.lines(snapshot(done=1000, phase="finished"), finished=True) == []


def test_with_v_each_account_done_is_printed_once_in_the_order_it_finished():
    clock = Clock()
    poller = Poller("h", interval=10, verbosity=1, clock=clock)
    assert poller.lines(None, finished=False) == [], "the module has not written its file yet"
    first = snapshot(accounts=[["parent", "changed"], ["marketing", "ok"]])
    assert poller.lines(first, finished=False) == ["[h] sendgrid_baseline: parent: changed",
                                                   "[h] sendgrid_baseline: marketing: ok"]
    assert poller.lines(first, finished=False) == []
    assert poller.lines(None, finished=False) == [], "a poll that read no file repeats nothing"
    later = snapshot(now=START + 70, accounts=first["accounts"] + [["billing", "failed"]])
    assert poller.lines(later, finished=True) == ["[h] sendgrid_baseline: billing: failed"]


def test_without_v_no_account_is_named():
    clock = Clock()
    poller = Poller("h", interval=10, verbosity=0, clock=clock)
    clock.now += 10
    lines = poller.lines(snapshot(accounts=[["parent", "changed"]]), finished=False)
    assert lines == ["[h] sendgrid_baseline: 100 of 1000 accounts done, 2 failed, about 9m00s left"]


def test_a_snapshot_not_rewritten_since_ages_with_the_controller_s_clock():
    clock = Clock()
    poller = Poller("h", interval=10, verbosity=0, clock=clock)
    poller.lines(snapshot(wait_until=START + 90), finished=False)
    clock.now += 10
    # read again unchanged 10 seconds later: 20 seconds of the wait are left, not 30
    assert "until 22:14:50 UTC (20s)" in poller.lines(snapshot(wait_until=START + 90), finished=False)[0]


# ----------------------------------------------------------------------------- the polls

def test_a_poll_reads_the_job_and_the_progress_and_tells_a_running_job_from_an_ended_one():
    running = json.dumps({"started": True, "finished": False, "ansible_job_id": "j1"})
    job, progress, text = read_state("%s\n%s\n%s" % (running, SEPARATOR, json.dumps(snapshot())))
    assert job["started"] is True and progress["done"] == 100 and not job_finished(job)
    assert json.loads(text) == json.loads(running)
    job, progress, text = read_state("\n%s\n" % SEPARATOR)
    assert job is None and progress is None and not job_finished(job)
    job, progress, text = read_state('{"changed": true, "accounts": []}\n%s\n{"pid": ' % SEPARATOR)
    assert job_finished(job) and progress is None, "a module result ends the job; a torn read is no progress"
    assert job_finished({"started": True, "finished": True, "failed": True, "msg": "Timeout exceeded"})


def test_the_result_is_the_module_s_without_what_async_adds():
    status = {"ansible_job_id": "j1", "started": True, "finished": True, "results_file": "/root/.ansible_async/j1",
              "stdout": "", "stdout_lines": [], "stderr": "DeprecationWarning: x", "stderr_lines": ["DeprecationWarning: x"],
              "changed": True, "accounts": [], "msg": "1 account: 1 changed"}
    assert module_result(status) == {"changed": True, "accounts": [], "msg": "1 account: 1 changed"}
    died = {"ansible_job_id": "j1", "finished": True, "failed": True, "cmd": "AnsiballZ_sendgrid_baseline.py",
            "msg": "Traceback", "stderr": "Killed", "stdout": ""}
    assert module_result(died) == {"failed": True, "cmd": "AnsiballZ_sendgrid_baseline.py", "msg": "Traceback",
                                   "stderr": "Killed"}


@pytest.mark.parametrize("value, interval", [(None, 10), (0, 0.0), ("5", 5.0), (2.5, 2.5), ("soon", None), (True, None)])
def test_the_interval_of_the_task_s_argument(value, interval):
    assert interval_of(value) == interval


class Following(plugin.ActionModule):
    """The plugin's poll loop with the job's files given in turn, and the commands it would send kept: the managed host
    here is a list (the integration tests run it on a real one)."""

    def __init__(self, polls, no_log=False):  # pylint: disable=super-init-not-called
        self.polls, self.commands = list(polls), []
        self._progress_name = "progress.json"
        self._task = type("Task", (), {"no_log": no_log})()

    def _poll(self, results_file):
        answer = self.polls.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return read_state(answer)

    def _low_level_execute_command(self, cmd, sudoable=True, in_data=None, executable=None,
                                   encoding_errors='surrogate_then_replace', chdir=None):
        self.commands.append(cmd)
        return dict(rc=0, stdout="", stderr="")

    @property
    def _connection(self):
        class Shell:
            @staticmethod
            def join_path(*parts):
                return "/".join(parts)

        class Connection:
            _shell = Shell()

            @staticmethod
            def reset():
                pass
        return Connection()


def own(result: dict) -> dict:
    """The result without what Ansible's parsing of module output adds, which differs between ansible-core versions
    (2.19: _ansible_parsed; 2.20 and later: failed false)."""
    return {key: value for key, value in result.items() if key != "_ansible_parsed" and (key, value) != ("failed", False)}


def state(job: dict, progress: dict | None) -> str:
    return "%s\n%s\n%s" % (json.dumps(job), SEPARATOR, json.dumps(progress) if progress else "")


def test_the_loop_polls_until_the_job_ends_prints_then_returns_the_module_s_result_and_removes_both_files(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    shown = []
    monkeypatch.setattr(plugin.display, "display", shown.append)
    monkeypatch.setattr(plugin.display, "verbosity", 1)
    running = {"started": True, "finished": False}
    action = Following([state(running, None), state(running, snapshot(accounts=[["parent", "ok"]])),
                        state({"changed": False, "msg": "done"}, snapshot(accounts=[["parent", "ok"], ["billing", "ok"]]))])
    result = action._follow({"ansible_job_id": "j1", "results_file": "/home/u/.ansible_async/j1"},
                            {"inventory_hostname": "h"}, 10)
    assert own(result) == {"changed": False, "msg": "done"}
    assert shown == ["[h] sendgrid_baseline: parent: ok", "[h] sendgrid_baseline: billing: ok"]
    assert action.polls == []
    assert action.commands == ["rm -f /home/u/.ansible_async/j1 /home/u/.ansible_async/progress.json"]


def test_an_interrupted_loop_stops_the_module_it_started_and_still_removes_the_files(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    running = {"started": True, "finished": False}
    action = Following([state(running, snapshot(pid=31337)), KeyboardInterrupt()])
    with pytest.raises(KeyboardInterrupt):
        action._follow({"ansible_job_id": "j1", "results_file": "/a/j1"}, {"inventory_hostname": "h"}, 10)
    assert action.commands == ["kill -TERM 31337", "rm -f /a/j1 /a/progress.json"]


def test_a_no_log_task_names_no_account_even_with_v(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    shown = []
    monkeypatch.setattr(plugin.display, "display", shown.append)
    monkeypatch.setattr(plugin.display, "verbosity", 3)
    running = {"started": True, "finished": False}
    action = Following([state(running, snapshot(accounts=[["parent", "ok"]])),
                        state({"changed": False}, snapshot(accounts=[["parent", "ok"]]))], no_log=True)
    assert own(action._follow({"ansible_job_id": "j1", "results_file": "/a/j1"}, {"inventory_hostname": "h"}, 1)) == \
        {"changed": False}
    assert not any("parent" in line for line in shown)


def test_a_poll_that_fails_now_and_then_is_polled_again_and_one_that_stays_down_fails_the_task(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    running = {"started": True, "finished": False}
    bounce = ConnectionError("ssh: connection reset")
    action = Following([state(running, snapshot(pid=555)), bounce, bounce, state({"changed": True}, None)])
    assert own(action._follow({"ansible_job_id": "j1", "results_file": "/a/j1"}, {"inventory_hostname": "h"}, 10)) == \
        {"changed": True}
    assert action.commands == ["rm -f /a/j1 /a/progress.json"], "the module was left to run"
    down = Following([state(running, snapshot(pid=555))] + [bounce] * (plugin.POLL_FAILURES + 1))
    with pytest.raises(ConnectionError):
        down._follow({"ansible_job_id": "j1", "results_file": "/a/j1"}, {"inventory_hostname": "h"}, 10)
    assert down.polls == [] and down.commands == ["kill -TERM 555", "rm -f /a/j1 /a/progress.json"]


def test_the_job_file_is_parsed_as_a_module_s_output_is(monkeypatch):
    """The result comes from the job file the last poll read, through Ansible's own parsing of module output (no
    async_status run): internal keys removed with a warning, empty warnings dropped."""
    warned = []
    monkeypatch.setattr(plugin.display, "warning", lambda message, *args, **kwargs: warned.append(message))
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    running = {"started": True, "finished": False}
    action = Following([state(running, None),
                        "%s\n%s\n" % (json.dumps({"changed": True, "_ansible_verbose_always": True, "warnings": [],
                                                  "msg": "1 account: 1 changed"}), SEPARATOR)])
    result = action._follow({"ansible_job_id": "j1", "results_file": "/a/j1"}, {"inventory_hostname": "h"}, 10)
    assert own(result) == {"changed": True, "msg": "1 account: 1 changed"}
    assert any("_ansible_verbose_always" in message for message in warned)


# ----------------------------------------------------------------------------- the module on the controller

class Here(plugin.ActionModule):
    """The plugin's controller path with the module given as a function of its environment (the task's, as Ansible
    would pass it): it runs in the plugin's thread, as the module's process would."""

    def __init__(self, module, transport="local", become=False, no_log=False):  # pylint: disable=super-init-not-called
        self.module, self.environments = module, []
        self._task = type("Task", (), {"no_log": no_log, "environment": [{"LANG": "C"}]})()
        self._play_context = type("PlayContext", (), {"become": become, "remote_addr": None})()
        self._connection = type("Connection", (), {"transport": transport})()

    def _execute_module(self, module_name=None, module_args=None, tmp=None, task_vars=None, persist_files=False,
                        delete_remote_tmp=None, wrap_async=False, ignore_unknown_opts=False):
        assert not wrap_async
        environment = {}
        for item in self._task.environment:
            environment.update(item)
        self.environments.append(environment)
        return self.module(environment)


def progress_of(environment: dict) -> Progress:
    """The module's own progress writer, where the plugin asked for it (interval 1: every write goes to the file)."""
    return Progress(plugin.os.path.join(environment[plugin.PROGRESS_DIR_VARIABLE],
                                        environment[plugin.PROGRESS_FILE_VARIABLE]), 1)


@pytest.mark.parametrize("transport, become, here", [
    ("local", False, True), ("local", True, False), ("ssh", False, False), ("remote_stand_in", False, False)])
def test_only_the_local_connection_without_become_runs_the_module_here(transport, become, here):
    assert Here(None, transport, become)._runs_here() is here


def test_on_the_controller_the_module_runs_as_any_other_its_progress_read_from_a_private_directory(monkeypatch):
    shown = []
    monkeypatch.setattr(plugin.display, "display", shown.append)
    monkeypatch.setattr(plugin.display, "verbosity", 1)
    seen = {}

    def module(environment):
        directory = environment[plugin.PROGRESS_DIR_VARIABLE]
        seen["directory"], seen["mode"] = directory, plugin.os.stat(directory).st_mode & 0o777
        progress = progress_of(environment)
        progress.start(2)
        progress.account_done("parent", {"settings": {"enforced_tls": {"status": "ok"}}})
        time.sleep(0.3)   # the plugin's first reads come sooner
        progress.account_done("billing", {"settings": {"enforced_tls": {"status": "changed"}}})
        progress.finish()
        return {"changed": True, "msg": "done"}
    action = Here(module)
    assert action._run_here({"inventory_hostname": "h"}, 10) == {"changed": True, "msg": "done"}
    assert shown == ["[h] sendgrid_baseline: parent: ok", "[h] sendgrid_baseline: billing: changed"]
    assert seen["mode"] == 0o700 and not plugin.os.path.exists(seen["directory"]), "private, and removed after"
    assert action.environments[0]["LANG"] == "C" and action._task.environment == [{"LANG": "C"}], \
        "the task's environment is kept, and given back as it was"


def test_on_the_controller_an_interrupted_run_stops_the_module_and_removes_the_directory(monkeypatch):
    stopped = plugin.threading.Event()
    killed, seen = [], {}

    def module(environment):
        seen["directory"] = environment[plugin.PROGRESS_DIR_VARIABLE]
        progress_of(environment).start(5)
        stopped.wait(10)   # until SIGTERM, as the module's process would
        return {"failed": True, "msg": "stopped"}

    def kill(pid, signum):
        killed.append((pid, signum))
        stopped.set()

    def interrupt(line):
        raise KeyboardInterrupt()
    monkeypatch.setattr(plugin.os, "kill", kill)
    monkeypatch.setattr(plugin.display, "display", interrupt)
    with pytest.raises(KeyboardInterrupt):
        Here(module)._run_here({"inventory_hostname": "h"}, 0.001)
    assert killed == [(plugin.os.getpid(), plugin.signal.SIGTERM)], "the pid the module wrote, stopped"
    assert not plugin.os.path.exists(seen["directory"])


def test_on_the_controller_a_run_interrupted_before_the_module_wrote_its_pid_still_stops_it(monkeypatch):
    started, stopped = plugin.threading.Event(), plugin.threading.Event()
    killed = []

    def module(environment):
        started.wait(10)   # the module starts only after the interruption: its pid is not known yet
        progress_of(environment).discovering()
        stopped.wait(10)
        return {"failed": True, "msg": "stopped"}

    def kill(pid, signum):
        killed.append((pid, signum))
        stopped.set()

    def interrupt(*args):
        started.set()
        raise KeyboardInterrupt()
    monkeypatch.setattr(plugin.os, "kill", kill)
    monkeypatch.setattr(Here, "_catch_signals", staticmethod(lambda: {}))
    action = Here(module)
    monkeypatch.setattr(plugin.Poller, "lines", interrupt)
    with pytest.raises(KeyboardInterrupt):
        action._run_here({"inventory_hostname": "h"}, 10)
    assert killed == [(plugin.os.getpid(), plugin.signal.SIGTERM)], "stopped once its pid was written"
    assert stopped.is_set()


def test_on_the_controller_a_module_that_could_not_run_fails_the_task_as_it_would_without_progress():
    def module(environment):
        raise AnsibleConnectionFailure("the interpreter is missing")   # what _execute_module may raise
    with pytest.raises(AnsibleConnectionFailure, match="interpreter"):
        Here(module)._run_here({"inventory_hostname": "h"}, 10)
