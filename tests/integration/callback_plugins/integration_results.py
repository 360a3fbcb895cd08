# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only callback: write every task result of a run as JSON to $INTEGRATION_RESULTS_FILE.

The integration tests enable it next to the default stdout callback, so results are read from a file
that verbose output (-vvvv) cannot garble, while stdout and stderr stay what a person would see.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: integration_results
type: notification
short_description: Write task results as JSON to a file (mailops.sendgrid integration tests only)
description:
  - Records each task result (status, result dictionary, warning and exception texts, traceback, the play's index in the
    playbook, when the task started and when this result came) and writes them to the file named by the environment variable
    E(INTEGRATION_RESULTS_FILE) when the playbook ends.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=integration_results
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _text(summary):
    event = getattr(summary, "event", None)
    return getattr(event, "msg", None) or str(summary)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "integration_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tasks = []
        self._play = -1           # index of the current play in the playbook
        self._started = {}        # task uuid -> when it started (time.time(), the clock the local server logs with)

    def _record(self, result, status):
        data = dict(result.result)
        exception = result.exception
        self._tasks.append({
            "task": result.task_name,
            "host": result.host.get_name(),
            "status": status,
            "warnings": [_text(w) for w in result.warnings],
            "exception": None if exception is None else _text(exception),
            # a Python traceback of the module, when one was captured
            "traceback": getattr(getattr(exception, "event", None), "formatted_traceback", None),
            "result": data,
            "play": self._play,
            "started": self._started.get(result.task._uuid),
            "finished": time.time(),
        })

    def v2_playbook_on_play_start(self, play):
        self._play += 1

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started.setdefault(task._uuid, time.time())

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result.result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("INTEGRATION_RESULTS_FILE")
        if not path:
            return
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"tasks": self._tasks}, handle, indent=1, default=str)
