# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine's progress (issue 24): what a many-account run writes for the action plugin to show while it runs."""

from __future__ import annotations

import json
import os
import time

import pytest
import responses

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import Operation, SendGridClient
from ansible_collections.mailops.sendgrid.plugins.module_utils._progress import (
    ASYNC_DIR_VARIABLE, PROGRESS_DIR_VARIABLE, PROGRESS_FILE_VARIABLE, Progress, account_status, check_interval, progress_path,
)
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_baseline
from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module

KEY = "SG.progress-unit-SECRET"
API = "https://api.sendgrid.com"
TLS = "/v3/user/settings/enforced_tls"
SUBUSERS = "/v3/subusers"
READ = Operation("Reading the Enforced TLS settings", "user.settings.enforced_tls.read")


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def read(path) -> dict:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


# ----------------------------------------------------------------------------- the file

def test_the_file_is_written_at_the_start_then_at_most_every_interval_and_at_the_end(tmp_path):
    clock, path = Clock(), tmp_path / "progress.json"
    progress = Progress(str(path), interval=10, clock=clock)
    progress.start(3)
    assert read(path)["total"] == 3 and read(path)["done"] == 0 and read(path)["phase"] == "accounts"
    clock.now += 4
    progress.account_done("parent", {"failed": False, "settings": {"enforced_tls": {"status": "changed"}}})
    assert read(path)["done"] == 0, "written 4 seconds after the last write, under the interval of 10"
    clock.now += 6
    progress.account_done("marketing", {"failed": True, "msg": "HTTP 403"})
    written = read(path)
    assert (written["done"], written["failed"]) == (2, 1)
    assert written["accounts"] == [["parent", "changed"], ["marketing", "failed"]]
    progress.account_done("billing", {"failed": False, "settings": {"enforced_tls": {"status": "compliant"}}})
    assert read(path)["done"] == 2
    progress.finish()
    assert read(path)["phase"] == "finished" and read(path)["done"] == 3
    assert os.listdir(tmp_path) == ["progress.json"], "no temporary file is left behind"


def test_the_file_holds_counts_names_and_times_only(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(str(path), interval=1)
    progress.start(1)
    progress.account_done("parent", {"failed": True, "msg": "Bearer %s refused" % KEY, "settings": {}})
    progress.finish()
    written = read(path)
    assert sorted(written) == ["accounts", "done", "failed", "now", "pgid", "phase", "pid", "started_at", "total",
                               "wait_endpoint", "wait_until"]
    assert KEY not in path.read_text(encoding="utf-8") and "refused" not in path.read_text(encoding="utf-8")


def test_what_changed_is_written_once_the_interval_is_over_even_when_nothing_else_happens(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(str(path), interval=0.2)
    progress.start(2)
    progress.account_done("parent", {"failed": False})
    progress.waiting(30, TLS)      # every worker asleep: no event will write the file
    assert read(path)["done"] == 0
    deadline = time.monotonic() + 5
    while read(path)["done"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    written = read(path)
    assert written["done"] == 1 and written["wait_endpoint"] == TLS
    progress.finish()
    progress._flusher.join(1)
    assert not progress._flusher.is_alive(), "finish() stops the writer"


def test_without_a_path_or_with_an_interval_of_0_nothing_is_written_and_the_counts_are_kept(tmp_path):
    quiet = Progress(str(tmp_path / "progress.json"), interval=0)
    quiet.start(2)
    quiet.account_done("parent", {"failed": False})
    quiet.finish()
    assert os.listdir(tmp_path) == [] and quiet.done == 1
    Progress(None, interval=10).start(2)   # nowhere to write: nothing to fail


def test_a_file_that_cannot_be_written_stops_the_progress_not_the_run(tmp_path):
    progress = Progress(str(tmp_path / "gone" / "progress.json"), interval=1)
    progress.start(1)
    progress.account_done("parent", {"failed": False})
    assert progress.path is None and progress.done == 1


def test_a_rate_limit_wait_is_written_with_when_it_ends_and_the_latest_end_wins(tmp_path):
    clock, path = Clock(), tmp_path / "progress.json"
    progress = Progress(str(path), interval=1, clock=clock)
    progress.start(5)
    clock.now += 2
    progress.waiting(30, "/v3/user/settings/enforced_tls")
    progress.waiting(5, "/v3/tracking_settings")   # ends sooner: the run waits until the later one
    clock.now += 1
    progress.account_done("parent", {"failed": False})
    written = read(path)
    assert written["wait_until"] == 1_700_000_032.0 and written["wait_endpoint"] == TLS
    clock.now += 40
    progress.finish()
    assert read(path)["wait_until"] is None, "a wait that is over is not shown"


@pytest.mark.parametrize("outcome, status", [
    ({"failed": True}, "failed"),
    ({"failed": False, "settings": {"a": {"status": "compliant"}, "b": {"status": "failed"}}}, "failed"),
    ({"failed": False, "settings": {"a": {"status": "changed"}, "b": {"status": "would_change"}}}, "changed"),
    ({"failed": False, "settings": {"a": {"status": "would_change"}, "b": {"status": "flagged"}}}, "would change"),
    ({"failed": False, "settings": {"a": {"status": "compliant"}, "b": {"status": "flagged"}}}, "ok"),
])
def test_an_account_s_status_is_its_worst_outcome(outcome, status):
    assert account_status(outcome) == status


def test_the_path_is_the_named_file_in_the_directory_the_plugin_made_or_the_async_one_and_nothing_else():
    assert progress_path({PROGRESS_FILE_VARIABLE: "p.json", PROGRESS_DIR_VARIABLE: "/tmp/mine"}) == "/tmp/mine/p.json"
    assert progress_path({PROGRESS_FILE_VARIABLE: "p.json", PROGRESS_DIR_VARIABLE: "/tmp/mine",
                          ASYNC_DIR_VARIABLE: "/var/async"}) == "/tmp/mine/p.json"
    assert progress_path({PROGRESS_DIR_VARIABLE: "/tmp/mine"}) is None
    assert progress_path({PROGRESS_FILE_VARIABLE: "../p.json", PROGRESS_DIR_VARIABLE: "/tmp/mine"}) is None
    assert progress_path({PROGRESS_FILE_VARIABLE: "p.json", ASYNC_DIR_VARIABLE: "/var/async"}) == "/var/async/p.json"
    assert progress_path({PROGRESS_FILE_VARIABLE: "p.json", ASYNC_DIR_VARIABLE: "~/.ansible_async"}) == \
        os.path.expanduser("~/.ansible_async/p.json")
    assert progress_path({PROGRESS_FILE_VARIABLE: "p.json"}) is None, "not an async run"
    assert progress_path({ASYNC_DIR_VARIABLE: "/var/async"}) is None, "an async run the plugin did not start"
    assert progress_path({PROGRESS_FILE_VARIABLE: "../p.json", ASYNC_DIR_VARIABLE: "/var/async"}) is None
    assert progress_path({PROGRESS_FILE_VARIABLE: "..", ASYNC_DIR_VARIABLE: "/var/async"}) is None


@pytest.mark.parametrize("value, problem", [(0, False), (1, False), (10.5, False), (3600, False), (0.5, True),
                                            (-1, True), (3601, True), (True, True), ("10", True)])
def test_the_interval_is_0_or_1_to_3600_seconds(value, problem):
    assert (check_interval(value) is not None) is problem


# ----------------------------------------------------------------------------- the client's waits

@responses.activate
def test_the_client_tells_of_a_429_wait_before_it_sleeps():
    responses.get(API + TLS, status=429, headers={"X-RateLimit-Reset": "3"}, json={"errors": [{"message": "slow"}]})
    responses.get(API + TLS, json={"require_tls": True, "require_valid_cert": False, "version": 1.2})
    clock, waits = Clock(), []
    client = SendGridClient(api_key=KEY, base_url=API, sleep=clock.sleep, clock=clock)
    client.rate_limits.on_wait = lambda seconds, endpoint: waits.append((seconds, endpoint, len(clock.sleeps)))
    client.request("GET", TLS, READ)
    assert waits == [(3.0, TLS, 0)] and clock.sleeps == [3.0]


@responses.activate
def test_the_client_tells_of_a_wait_for_a_spent_budget_before_it_sleeps():
    responses.get(API + TLS, headers={"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0",
                                      "X-RateLimit-Reset": "1700000005"}, json={"require_tls": True})
    responses.get(API + TLS, json={"require_tls": True})
    clock, waits = Clock(), []
    client = SendGridClient(api_key=KEY, base_url=API, sleep=clock.sleep, clock=clock)
    client.rate_limits.on_wait = lambda seconds, endpoint: waits.append((seconds, endpoint))
    client.request("GET", TLS, READ)
    assert waits == []
    client.request("GET", TLS, READ)
    assert waits == [(5.0, TLS)] and clock.sleeps == [5.0]


# ----------------------------------------------------------------------------- the module

def tls(enabled: bool) -> dict:
    return {"require_tls": enabled, "require_valid_cert": False, "version": 1.2}


@responses.activate
def test_a_module_run_started_by_the_plugin_writes_every_account_done_and_its_result_is_unchanged(
        tmp_path, monkeypatch, capsys):
    subusers = [{"username": "marketing", "disabled": False, "region": "global"},
                {"username": "billing", "disabled": False, "region": "global"}]
    responses.add_callback(responses.GET, API + SUBUSERS, callback=lambda request: (200, {}, json.dumps(
        subusers if "offset=0" in request.url else [])))
    answers = {None: tls(True), "marketing": tls(False)}

    def settings(request):
        who = request.headers.get("on-behalf-of")
        if who not in answers:
            return 403, {}, json.dumps({"errors": [{"message": "forbidden"}]})
        return 200, {}, json.dumps(answers[who])
    responses.add_callback(responses.GET, API + TLS, callback=settings)
    args = dict(api_key=KEY, api_url=API, discover_subusers=True, concurrency=1, retries=0,
                enforced_tls={"require_tls": True})
    plain = run_module(sendgrid_baseline, capsys, _ansible_check_mode=True, **args)

    monkeypatch.setenv(ASYNC_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv(PROGRESS_FILE_VARIABLE, "progress.json")
    shown = run_module(sendgrid_baseline, capsys, _ansible_check_mode=True, progress_interval=1, **args)
    # the module's arguments, where ansible-core returns them (2.19; 2.21 no longer does)
    assert shown.pop("invocation", {"module_args": {"progress_interval": 1}})["module_args"]["progress_interval"] == 1
    plain.pop("invocation", None)
    assert shown == plain and plain["summary"]["accounts"] == 3 and plain["summary"]["failed"] == 1
    written = read(tmp_path / "progress.json")
    assert (written["phase"], written["total"], written["done"], written["failed"]) == ("finished", 3, 3, 1)
    assert written["accounts"] == [["parent", "ok"], ["marketing", "would change"], ["billing", "failed"]]
    assert written["pid"] == os.getpid()

    (tmp_path / "progress.json").unlink()
    quiet = run_module(sendgrid_baseline, capsys, _ansible_check_mode=True, progress_interval=0, **args)
    quiet.pop("invocation", None)
    assert quiet == plain
    assert os.listdir(tmp_path) == [], "progress_interval 0 writes nothing"


@pytest.mark.parametrize("value", [-1, 0.5, 3601])
def test_a_bad_interval_fails_naming_the_option_before_any_request(value, capsys):
    with responses.RequestsMock() as mock:
        result = run_module(sendgrid_baseline, capsys, api_key=KEY, progress_interval=value,
                            enforced_tls={"require_tls": True})
        assert len(mock.calls) == 0
    assert result["failed"] is True
    assert result["msg"] == "progress_interval must be 0 (no progress) or from 1 to 3600 seconds, got %r." % float(value)


def test_a_bad_interval_is_named_by_the_role_s_variable(capsys):
    result = run_module(sendgrid_baseline, capsys, api_key=KEY, progress_interval=-5, enforced_tls={"require_tls": True},
                        option_names={"progress_interval": "baseline_progress_interval"})
    assert result["msg"].startswith("baseline_progress_interval must be 0 (no progress)")
