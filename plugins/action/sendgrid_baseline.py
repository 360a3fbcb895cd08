# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs the module sendgrid_baseline and shows its progress while it runs (option progress_interval).

A module's output reaches the controller only when it ends, and a baseline over a thousand accounts runs for minutes
within SendGrid's rate limit. So the module writes a small progress file while it runs (module_utils/_progress.py),
and this plugin reads it and prints a line with Display at most every progress_interval seconds (and with -v one per
account done). Where the module runs decides how:

- On the controller itself (the local connection, without become: the usual ``connection: local``), the module runs as
  any module does, in a thread of this worker, and the file is read from a private directory on the disk meanwhile.
- On any other host (a remote one whose address SendGrid's allow list admits, say), the module runs asynchronously,
  with Ansible's own machinery (async_wrapper), and the file is next to its job file. Both are polled through the
  connection, one shell command per poll (cheaper than a module run); the module's result is taken from the job file
  the last poll read, parsed as ansible.builtin.async_status's result is parsed (the task keywords async and poll run
  that module once more only to print the same file), and the job's files are removed. The result is the module's
  own: the async bookkeeping keys are dropped.

The controller's way saves async_wrapper's two Python processes and the polls' shells (about a third of a CPU-second
per run, measured), which a run of a few accounts would spend to show nothing. With progress_interval 0, with the task
keyword async, or on a connection that cannot run a module asynchronously (its own async, or none), the module runs as
any other.
"""

from __future__ import annotations

import json
import os
import posixpath
import secrets
import shlex
import shutil
import signal
import tempfile
import threading
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.mailops.sendgrid.plugins.module_utils._progress import PROGRESS_DIR_VARIABLE, PROGRESS_FILE_VARIABLE

display = Display()

DEFAULT_INTERVAL = 10
# The async job's time limit: the module bounds every wait itself (timeout, retries, retry_max_wait), so this only
# ends a run whose controller went away for good.
TIME_LIMIT = 24 * 3600
# Polls start quick (a small run ends in a second or two and must not wait for a slow poll) and slow down to this; a
# poll is one short shell command (a fork locally, a round trip on a persistent SSH connection).
FIRST_POLL, POLL_GROWTH, MAX_POLL = 0.1, 1.25, 1.0
SEPARATOR = "--mailops-sendgrid-progress--"
# How long a module stopped on the controller (SIGTERM) may take to end before the worker goes on with the signal.
STOP_WAIT = 10
# Polls in a row that may fail (the connection lost) before the task fails.
POLL_FAILURES = 5
# What the async machinery adds to a module's result: the task's result is the module's own, as without progress.
ASYNC_KEYS = ("ansible_job_id", "started", "finished", "results_file", "erased")
OUTPUT_KEYS = ("stdout", "stdout_lines", "stderr", "stderr_lines")


def interval_of(value) -> float | None:
    """The progress interval of the task's argument; None when it is not a number (the module then refuses it, naming
    the option)."""
    if value is None:
        return DEFAULT_INTERVAL
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def duration(seconds: float) -> str:
    """4m10s, 1h02m, 25s."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)
    if seconds >= 60:
        return "%dm%02ds" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def utc_time(epoch: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))


def progress_line(host: str, snapshot: dict, age: float = 0.0) -> str:
    """The progress line of a snapshot (_progress.Progress.snapshot()) read ``age`` seconds ago on the controller.

    Times are the managed host's (its clock wrote them), so the estimate does not depend on the two clocks agreeing.
    """
    now = snapshot["now"] + age
    parts = []
    if snapshot.get("total") is None:
        parts.append("discovering the subusers" if snapshot.get("phase") == "discovering" else "starting")
    else:
        parts.append("%d of %d account%s done, %d failed" % (
            snapshot["done"], snapshot["total"], "" if snapshot["total"] == 1 else "s", snapshot["failed"]))
    wait_until = snapshot.get("wait_until")
    if wait_until and wait_until > now:
        parts.append("waiting for SendGrid's rate limit%s until %s (%s)" % (
            " on %s" % snapshot["wait_endpoint"] if snapshot.get("wait_endpoint") else "", utc_time(wait_until),
            duration(wait_until - now)))
    total, done = snapshot.get("total"), snapshot.get("done") or 0
    if total and 0 < done < total and now > snapshot["started_at"]:
        left = (now - snapshot["started_at"]) / done * (total - done)
        if wait_until and wait_until > now:
            left = max(left, wait_until - now)
        parts.append("about %s left" % duration(left))
    return "[%s] sendgrid_baseline: %s" % (host, ", ".join(parts))


def account_lines(host: str, snapshot: dict, shown: int) -> list:
    """One line per account done since the first ``shown``: its name and outcome (ok, changed, would change, failed)."""
    return ["[%s] sendgrid_baseline: %s: %s" % (host, name, status) for name, status in snapshot["accounts"][shown:]]


def read_state(text: str) -> tuple:
    """(job, progress, job_text) from a poll's output: the job file's JSON (None while it is being written), the
    progress file's (None before the module wrote it), and the job file's text."""
    job_text, dummy, progress_text = text.partition(SEPARATOR)
    return json_object(job_text.strip()), json_object(progress_text.strip()), job_text


def read_progress(path: str) -> dict | None:
    """The progress file's snapshot; None before the module wrote it (it is replaced whole, never seen half written)."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json_object(stream.read())
    except OSError:
        return None


def json_object(text: str) -> dict | None:
    """The JSON object the text holds; None for anything else (nothing yet, a file being written)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def job_finished(job: dict | None) -> bool:
    """Whether the job file holds the result: async_wrapper writes {started, finished: false} first, the module's result
    (or its own failure) last."""
    return job is not None and ("started" not in job or bool(job.get("finished")))


def module_result(status: dict) -> dict:
    """The module's result without the async keys and without empty output (a module that died keeps what it
    printed)."""
    result = {key: value for key, value in status.items() if key not in ASYNC_KEYS}
    for key in OUTPUT_KEYS:
        if key in result and not result[key]:
            del result[key]
    if "cmd" not in result:
        # async_wrapper adds the module's stderr (a Python warning, say), which a synchronous run does not return
        for key in ("stderr", "stderr_lines"):
            result.pop(key, None)
    return result


class Interrupted(BaseException):
    """A signal that stops the worker arrived while the module ran: passed on once the module is stopped."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Poller:
    """What the polls have shown so far, and what to print next: progress at most every ``interval`` seconds, and with
    -v each account done, once."""

    def __init__(self, host: str, interval: float, verbosity: int, clock=time.monotonic):
        self.host, self.interval, self.verbosity, self._clock = host, interval, verbosity, clock
        self.last_line = clock()
        self.shown = 0
        self.snapshot: dict | None = None
        self.seen_at = clock()

    def lines(self, snapshot: dict | None, finished: bool) -> list:
        now = self._clock()
        if snapshot is not None and snapshot != self.snapshot:
            self.snapshot, self.seen_at = snapshot, now
        if self.snapshot is None:
            return []
        lines = []
        if self.verbosity >= 1:
            lines += account_lines(self.host, self.snapshot, self.shown)
            self.shown = len(self.snapshot["accounts"])
        if not finished and now - self.last_line >= self.interval:
            lines.append(progress_line(self.host, self.snapshot, now - self.seen_at))
            self.last_line = now
        return lines


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        if self._task.async_val:
            # The task's own async: Ansible's machinery, as for any module (the task keyword poll shows nothing more).
            wrap_async = not self._connection.has_native_async
            result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            return result
        interval = interval_of(self._task.args.get("progress_interval"))
        if interval and interval > 0 and self._runs_here():
            try:
                result.update(self._run_here(task_vars, interval))
            except Interrupted as stopped:
                # the worker's own handler, now that the module is stopped
                os.kill(os.getpid(), stopped.signum)
                raise
            return result
        if interval and interval > 0 and self._can_poll():
            started = self._start(task_vars)
            if started.get("ansible_job_id") and not started.get("failed"):
                try:
                    result.update(self._follow(started, task_vars, interval))
                    if started.get("ansible_facts"):
                        # what the module's start found (the interpreter discovered): a plain run returns it too
                        result["ansible_facts"] = dict(started["ansible_facts"], **(result.get("ansible_facts") or {}))
                except Interrupted as stopped:
                    # the worker's own handler, now that the module is stopped and its files removed
                    os.kill(os.getpid(), stopped.signum)
                    raise
                return result
            display.vvv("sendgrid_baseline: the module could not start asynchronously, so it runs without progress: %s"
                        % started.get("msg", ""))
        result.update(self._execute_module(task_vars=task_vars, wrap_async=False))
        return result

    def _runs_here(self) -> bool:
        """Whether the module runs on the controller as this user (the local connection, no become), where this worker
        can read its progress file while it runs as any module does."""
        return getattr(self._connection, "transport", None) == "local" and not self._play_context.become

    def _run_here(self, task_vars: dict, interval: float) -> dict:
        """Run the module as any module, in a thread, while this worker reads its progress from a private directory
        and prints it; the module's result as it returned it."""
        host = task_vars.get("inventory_hostname") or self._play_context.remote_addr or "localhost"
        poller = Poller(host, interval, 0 if self._task.no_log else display.verbosity)
        directory = tempfile.mkdtemp(prefix="mailops-sendgrid-progress-")   # mode 0700: this user's only
        path = os.path.join(directory, "progress.json")
        outcome = {}

        def run_module():
            try:
                outcome["result"] = self._execute_module(task_vars=task_vars, wrap_async=False)
            except BaseException as exc:  # pylint: disable=broad-exception-caught
                outcome["error"] = exc    # raised in the worker's own thread, below

        environment = self._task.environment
        self._task.environment = list(environment or []) + [
            {PROGRESS_FILE_VARIABLE: os.path.basename(path), PROGRESS_DIR_VARIABLE: directory}]
        handlers = self._catch_signals()
        runner = threading.Thread(target=run_module, name="sendgrid_baseline module", daemon=True)
        delay, finished = FIRST_POLL, False
        try:
            runner.start()
            while not finished:
                runner.join(delay)
                delay = min(MAX_POLL, delay * POLL_GROWTH)
                finished = not runner.is_alive()
                for line in poller.lines(read_progress(path), finished):
                    display.display(line)
        except BaseException:
            # Interrupted (Ctrl-C, the task's timeout): stop the module, which would otherwise run on without its worker
            self._stop_module(runner, path, poller.snapshot)
            raise
        finally:
            # before the worker's own handlers are back: the next signal ends the worker at once
            shutil.rmtree(directory, ignore_errors=True)
            self._task.environment = environment
            self._restore_signals(handlers)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    @staticmethod
    def _stop_module(runner: threading.Thread, path: str, snapshot: dict | None) -> None:
        """Stop the module started on the controller with SIGTERM, by the pid its progress file gives. The module
        writes the file before its first request; interrupted before that, wait for it (the module may be starting,
        or the thread about to start it), or for the module to end, at most STOP_WAIT seconds."""
        deadline = time.monotonic() + STOP_WAIT
        while snapshot is None and runner.is_alive() and time.monotonic() < deadline:
            runner.join(FIRST_POLL / 2)
            snapshot = read_progress(path)
        pid = (snapshot or {}).get("pid")
        if isinstance(pid, int) and pid > 1:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        runner.join(max(0.0, deadline - time.monotonic()))

    def _can_poll(self) -> bool:
        """Whether the connection runs async_wrapper (a connection with an async of its own, or that always pipelines,
        as winrm and psrp do, does not)."""
        return not (self._connection.has_native_async or self._connection.always_pipeline_modules)

    def _start(self, task_vars: dict) -> dict:
        """Start the module with async_wrapper; its progress goes to a file of this job's next to the job file."""
        self._progress_name = "mailops-sendgrid-progress-%s.json" % secrets.token_hex(8)
        environment, async_val = self._task.environment, self._task.async_val
        self._task.environment = list(environment or []) + [{PROGRESS_FILE_VARIABLE: self._progress_name}]
        self._task.async_val = TIME_LIMIT
        try:
            return self._execute_module(task_vars=task_vars, wrap_async=True)
        finally:
            self._task.async_val = async_val
            self._task.environment = environment

    def _progress_file(self, results_file: str) -> str:
        # async_wrapper's job file is in the async directory (expanded on the managed host): the progress is beside it
        return self._connection._shell.join_path(posixpath.dirname(results_file), self._progress_name)

    def _poll(self, results_file: str) -> tuple:
        command = "cat %s 2>/dev/null; printf '\\n%s\\n'; cat %s 2>/dev/null" % (
            shlex.quote(results_file), SEPARATOR, shlex.quote(self._progress_file(results_file)))
        answer = self._low_level_execute_command(command, sudoable=True)
        return read_state(answer.get("stdout") or "")

    def _follow(self, started: dict, task_vars: dict, interval: float) -> dict:
        """Poll until the job ends, printing its progress; then its result, and its files removed."""
        host = task_vars.get("inventory_hostname") or self._play_context.remote_addr or "localhost"
        # no_log: the counts only, no account named
        poller = Poller(host, interval, 0 if self._task.no_log else display.verbosity)
        results_file = started["results_file"]
        delay = FIRST_POLL
        handlers = self._catch_signals()
        failures = 0
        try:
            while True:
                time.sleep(delay)
                delay = min(MAX_POLL, delay * POLL_GROWTH)
                try:
                    job, snapshot, job_text = self._poll(results_file)
                except Exception as exc:  # pylint: disable=broad-exception-caught
                    # A connection that drops now and then (a network bounce) must not stop the run, as the task
                    # keyword poll retries; one that stays down does.
                    failures += 1
                    if failures > POLL_FAILURES:
                        raise
                    display.vvvv("sendgrid_baseline: a poll failed, polling again: %s" % exc)
                    self._connection.reset()
                    continue
                failures = 0
                finished = job_finished(job)
                for line in poller.lines(snapshot, finished):
                    display.display(line)
                if finished:
                    break
            return module_result(self._job_result(job_text))
        except BaseException:
            # Interrupted (Ctrl-C, the task's timeout): stop the module, as a synchronous run would have been stopped
            # (async_wrapper runs it in a session of its own, which the worker's signals do not reach).
            pid = (poller.snapshot or {}).get("pid")
            if isinstance(pid, int) and pid > 1:
                self._low_level_execute_command("kill -TERM %d" % pid, sudoable=True)
            raise
        finally:
            self._low_level_execute_command("rm -f %s %s" % (
                shlex.quote(results_file), shlex.quote(self._progress_file(results_file))), sudoable=True)
            self._restore_signals(handlers)

    @staticmethod
    def _catch_signals() -> dict:
        """While polling, SIGINT and SIGTERM (how ansible-playbook stops its workers) raise Interrupted, so that the
        module is stopped first; {signal: the handler before}."""
        def interrupt(signum, frame):
            # the next signal (ansible-playbook's SIGTERM after the SIGINT) must not cut the module's stop short
            for caught in handlers:
                signal.signal(caught, signal.SIG_IGN)
            raise Interrupted(signum)
        handlers = {}
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                handlers[signum] = signal.signal(signum, interrupt)
        except ValueError:   # not the main thread: nothing to catch there
            pass
        return handlers

    @staticmethod
    def _restore_signals(handlers: dict) -> None:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)

    def _job_result(self, job_text: str) -> dict:
        """The module's result from its job file's text, parsed as the result of ansible.builtin.async_status (which
        prints that file as it is) is parsed: the same decoder and checks, the same internal keys removed."""
        parsed = self._parse_returned_data({"stdout": job_text, "stderr": "", "rc": 0}, "legacy")
        if hasattr(parsed, "remove_internal_keys"):
            # ansible-core 2.20 and later parse into a task result object, as _execute_module() then uses it
            parsed.remove_internal_keys()
            return parsed.as_result_dict(for_round_trip=True)
        from ansible.vars.clean import remove_internal_keys  # pylint: disable=import-outside-toplevel
        remove_internal_keys(parsed)
        return parsed
