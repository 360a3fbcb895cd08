# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The progress of a many-account run, written to a small JSON file that the action plugin of sendgrid_baseline reads
while the module runs: asynchronously on a managed host, which may be a remote one (the file is read through the
connection), or as any module on the controller itself (the file is read from its disk).

The action plugin names the file in the module's environment (PROGRESS_FILE_VARIABLE) and its directory: the async
job directory that async_wrapper gives the module (ANSIBLE_ASYNC_DIR), next to the job file, or a private directory
the plugin made on the controller (PROGRESS_DIR_VARIABLE). Without a name and a directory, or with an interval of 0,
nothing is written. The file is replaced whole (a temporary file renamed), so a reader never sees half
of it, and at most every ``interval`` seconds, whatever the number of accounts. It holds names, counts and times only:
never a key, a setting's value or a message.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time

# Set by the action plugin sendgrid_baseline on the module's environment: the progress file's name, in the async
# job directory (ANSIBLE_ASYNC_DIR, set by Ansible for an async run).
PROGRESS_FILE_VARIABLE = "MAILOPS_SENDGRID_PROGRESS_FILE"
ASYNC_DIR_VARIABLE = "ANSIBLE_ASYNC_DIR"
# Set by the action plugin instead when the module runs on the controller, without async: the file's directory.
PROGRESS_DIR_VARIABLE = "MAILOPS_SENDGRID_PROGRESS_DIR"
MAX_INTERVAL = 3600
# An account's outcome in the progress (and in the -v line the action plugin prints for it).
FAILED, CHANGED, WOULD_CHANGE, OK = "failed", "changed", "would change", "ok"


def check_interval(value) -> str | None:
    """None when ``value`` is a valid progress_interval (0, or from 1 to 3600 seconds), else why not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value == 0 or 1 <= value <= MAX_INTERVAL):
        return "must be 0 (no progress) or from 1 to %d seconds, got %r" % (MAX_INTERVAL, value)
    return None


def account_status(outcome: dict) -> str:
    """One account's outcome in a word: failed (the account or one of its settings), changed, would change, or ok."""
    statuses = {setting.get("status") for setting in (outcome.get("settings") or {}).values()}
    if outcome.get("failed") or "failed" in statuses:
        return FAILED
    if "changed" in statuses:
        return CHANGED
    if "would_change" in statuses:
        return WOULD_CHANGE
    return OK


def progress_path(environment) -> str | None:
    """Where the action plugin asked for the progress: its file name in the directory it named, else in the async job
    directory; None when either is not given, or the name is not a plain file name."""
    name = environment.get(PROGRESS_FILE_VARIABLE)
    directory = environment.get(PROGRESS_DIR_VARIABLE) or environment.get(ASYNC_DIR_VARIABLE)
    if not name or not directory or os.path.basename(name) != name or name in (".", ".."):
        return None
    return os.path.join(os.path.expanduser(directory), name)


class Progress:
    """Counts the accounts done (and failed) of a run, and the rate-limit wait under way; thread-safe.

    ``path`` None keeps the counts without writing anything (the module's plain, synchronous run).
    """

    def __init__(self, path: str | None = None, interval: float = 10, clock=time.time):
        self.path = path if interval else None
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._written_at: float | None = None
        self._dirty = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self.started_at = clock()
        self.phase = "starting"
        self.total: int | None = None
        self.done = 0
        self.failed = 0
        self.accounts: list = []          # [[name, status]] in the order they finished
        self.wait_until: float | None = None
        self.wait_endpoint: str | None = None

    @classmethod
    def from_module(cls, module) -> "Progress":
        """The progress of this module run: written where the action plugin asked, every progress_interval seconds."""
        return cls(progress_path(os.environ), module.params.get("progress_interval") or 0)

    # -- what the engine and the client report

    def discovering(self) -> None:
        with self._lock:
            self.phase = "discovering"
            self._write(force=True)
        self._start_flusher()

    def start(self, total: int) -> None:
        """The accounts are known: ``total`` of them are about to be handled."""
        with self._lock:
            self.phase, self.total, self.started_at = "accounts", total, self._clock()
            self._write(force=True)
        self._start_flusher()

    def account_done(self, name: str, outcome: dict) -> None:
        status = account_status(outcome)
        with self._lock:
            self.done += 1
            self.failed += status == FAILED
            self.accounts.append([name, status])
            self._write()

    def waiting(self, seconds: float, endpoint: str | None = None) -> None:
        """A request waits ``seconds`` for SendGrid's rate limit (of ``endpoint``) to reset."""
        with self._lock:
            until = self._clock() + seconds
            if self.wait_until is None or until > self.wait_until or self.wait_until < self._clock():
                self.wait_until, self.wait_endpoint = until, endpoint
            self._write()

    def finish(self) -> None:
        self._stop.set()
        with self._lock:
            self.phase = "finished"
            self._write(force=True)

    def _start_flusher(self) -> None:
        """Write what changed since the last write once the interval is over, even when nothing else happens then (all
        the workers asleep in a rate-limit wait): the file is never older than the interval, nor written more often."""
        if self.path and self._flusher is None:
            self._flusher = threading.Thread(target=self._flush, name="progress", daemon=True)
            self._flusher.start()

    def _flush(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._dirty:
                    self._write()

    # -- the file

    def snapshot(self) -> dict:
        now = self._clock()
        waiting = self.wait_until is not None and self.wait_until > now
        return dict(pid=os.getpid(), pgid=os.getpgrp() if hasattr(os, "getpgrp") else None, phase=self.phase,
                    now=now, started_at=self.started_at, total=self.total, done=self.done, failed=self.failed,
                    wait_until=self.wait_until if waiting else None, wait_endpoint=self.wait_endpoint if waiting else None,
                    accounts=self.accounts)

    def _write(self, force: bool = False) -> None:
        """Replace the file with the current snapshot, unless it was written less than ``interval`` seconds ago."""
        if not self.path:
            return
        now = self._clock()
        if not force and self._written_at is not None and now - self._written_at < self.interval:
            self._dirty = True
            return
        self._written_at, self._dirty = now, False
        directory = os.path.dirname(self.path) or "."
        partial = None
        try:
            handle, partial = tempfile.mkstemp(dir=directory, prefix=".progress-")
            with os.fdopen(handle, "w") as stream:
                json.dump(self.snapshot(), stream)
            os.replace(partial, self.path)
        except OSError:
            # Progress is a courtesy: a full disk or a removed directory must not fail the run it reports on.
            self.path = None
            if partial and os.path.exists(partial):
                os.unlink(partial)
