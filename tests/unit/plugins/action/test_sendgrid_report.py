# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sendgrid_report, the controller-side report writer: the option matrix does not run it (it sends no request), so
its cases are generated here from its argument spec: the required options alone, each optional option alone, each
option missing, null or of the wrong type; plus what it writes, in check mode too, and how it fails."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.mailops.sendgrid.plugins.action.sendgrid_report import ARGUMENT_SPEC, ActionModule

REPORT = {"generated_at": "2026-12-01T10:00:00Z", "dry_run": True, "summary": {"accounts": 2, "changed": 1},
          "accounts": [{"name": "parent", "changed": False}, {"name": "marketing", "changed": True}]}
MARKDOWN = "# Report\n\n| account | changed |\n| --- | --- |\n| marketing | yes |\n"
# A valid value per option, and values its type refuses (a str or path option converts whatever it gets to text).
VALID = {"path": "reports", "name": "enforced_tls_report", "report": REPORT, "markdown": MARKDOWN, "layout": "baseline"}
WRONG_TYPE = {"dict": ["not a dict", 5]}
# Every option at once, as far as they go together (layout renders the Markdown that markdown would give).
FULL = {name: value for name, value in VALID.items() if name != "layout"}
REQUIRED = sorted(name for name, spec in ARGUMENT_SPEC.items() if spec.get("required"))
OPTIONAL = sorted(name for name, spec in ARGUMENT_SPEC.items() if not spec.get("required"))


def run(args: dict, check_mode: bool = False) -> dict:
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, action="mailops.sendgrid.sendgrid_report")
    connection = MagicMock()
    connection._shell.tmpdir = None
    plugin = ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return plugin.run(task_vars={})


@pytest.fixture(name="workdir")
def fixture_workdir(tmp_path, monkeypatch):
    """A relative path is relative to the directory ansible-playbook runs in: this test's own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_cases_cover_the_argument_spec():
    assert set(VALID) == set(ARGUMENT_SPEC)
    assert all(spec["type"] in ("str", "path") or spec["type"] in WRONG_TYPE for spec in ARGUMENT_SPEC.values())


def test_the_required_options_alone_write_the_json_report_only(workdir):
    result = run({name: VALID[name] for name in REQUIRED})

    json_file = workdir / "reports" / "enforced_tls_report.json"
    assert result == {"changed": False, "files": [str(json_file)]}
    assert sorted(os.listdir(workdir / "reports")) == ["enforced_tls_report.json"]
    text = json_file.read_text(encoding="utf-8")
    assert json.loads(text) == REPORT
    assert list(json.loads(text)) == list(REPORT), "the keys in the order given"
    assert text == json.dumps(REPORT, indent=2) + "\n"
    assert stat.S_IMODE(json_file.stat().st_mode) == 0o644


@pytest.mark.parametrize("option", OPTIONAL)
def test_each_optional_option_alone(workdir, option):
    args = dict({name: VALID[name] for name in REQUIRED}, **{option: VALID[option]})
    result = run(args)

    assert option in ("markdown", "layout"), "a new option needs its effect checked here"
    reports = workdir / "reports"
    markdown = reports / "enforced_tls_report.md"
    if option == "markdown":
        assert result["files"] == [str(reports / "enforced_tls_report.json"), str(markdown)]
        assert markdown.read_text(encoding="utf-8") == MARKDOWN
    else:
        junit = reports / "enforced_tls_report.xml"
        assert result["files"] == [str(reports / "enforced_tls_report.json"), str(markdown), str(junit)]
        written = json.loads((reports / "enforced_tls_report.json").read_text(encoding="utf-8"))
        assert list(written)[:2] == ["outcome", "complete"] and written["outcome"] == "in_sync"
        assert markdown.read_text(encoding="utf-8").startswith("# Security baseline report\n\n**In sync")
        assert ET.parse(junit).getroot().tag == "testsuites"
        assert stat.S_IMODE(junit.stat().st_mode) == 0o644
    assert stat.S_IMODE(markdown.stat().st_mode) == 0o644


@pytest.mark.parametrize("option", OPTIONAL)
def test_each_optional_option_null_is_left_out(workdir, option):
    result = run(dict({name: VALID[name] for name in REQUIRED}, **{option: None}))

    assert result["files"] == [str(workdir / "reports" / "enforced_tls_report.json")]


def test_markdown_and_layout_together_fail_naming_both_and_write_nothing(workdir):
    with pytest.raises(AnsibleActionFail, match="give markdown or layout, not both"):
        run(VALID)
    assert os.listdir(workdir) == []


def test_a_layout_that_is_not_a_choice_fails_naming_the_choices(workdir):
    with pytest.raises(AnsibleActionFail, match="value of layout must be one of: baseline"):
        run(dict({name: VALID[name] for name in REQUIRED}, layout="terraform"))
    assert os.listdir(workdir) == []


@pytest.mark.parametrize("option", REQUIRED)
@pytest.mark.parametrize("how", ["missing", "null"])
def test_each_required_option_missing_or_null_fails_naming_it_and_writes_nothing(workdir, option, how):
    args = {name: value for name, value in FULL.items() if name != option}
    if how == "null":
        args[option] = None
    with pytest.raises(AnsibleActionFail, match=option):
        run(args)
    assert os.listdir(workdir) == []


@pytest.mark.parametrize("option, value", [(name, value) for name, spec in ARGUMENT_SPEC.items()
                                           for value in WRONG_TYPE.get(spec["type"], ())])
def test_each_value_of_the_wrong_type_fails_naming_the_option_and_writes_nothing(workdir, option, value):
    with pytest.raises(AnsibleActionFail, match="argument '%s' is of type" % option):
        run(dict(FULL, **{option: value}))
    assert os.listdir(workdir) == []


def test_an_unknown_option_fails_naming_it(workdir):
    with pytest.raises(AnsibleActionFail, match="reprot"):
        run(dict(FULL, reprot={}))
    assert os.listdir(workdir) == []


def test_an_empty_path_fails_instead_of_meaning_the_current_directory(workdir):
    with pytest.raises(AnsibleActionFail, match="path must name a directory"):
        run(dict(FULL, path=""))
    assert os.listdir(workdir) == []


@pytest.mark.parametrize("name", ["", ".", "..", "sub/report", "../report", "/tmp/report"])
def test_a_name_that_is_not_a_file_name_fails_and_writes_nothing(workdir, name):
    with pytest.raises(AnsibleActionFail, match="name must be a file name without a directory"):
        run(dict(FULL, name=name))
    assert os.listdir(workdir) == []


def test_check_mode_writes_too_and_it_is_never_a_change(workdir):
    """The report is an artifact of the run, not state: a dry run (a pipeline's plan) must produce it."""
    first = run(FULL, check_mode=True)
    again = run(dict(FULL, markdown="other\n"))

    assert first["changed"] is False and again["changed"] is False
    assert (workdir / "reports" / "enforced_tls_report.md").read_text(encoding="utf-8") == "other\n"
    assert sorted(os.listdir(workdir / "reports")) == ["enforced_tls_report.json", "enforced_tls_report.md"]


def test_an_absolute_path_with_missing_parents_is_created(tmp_path):
    directory = tmp_path / "a" / "b"
    result = run(dict(FULL, path=str(directory)))

    assert result["files"][0] == str(directory / "enforced_tls_report.json")
    assert stat.S_IMODE(directory.stat().st_mode) & 0o755 == 0o755


def test_a_path_that_is_a_file_fails_saying_where(workdir):
    (workdir / "reports").write_text("not a directory", encoding="utf-8")
    with pytest.raises(AnsibleActionFail, match="Could not write the report into %s: " % (workdir / "reports")):
        run(FULL)


def test_a_failed_write_fails_saying_where_and_leaves_no_partial_file(workdir, monkeypatch):
    def disk_full(_source, _destination):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(AnsibleActionFail, match=r"Could not write the report into %s: \[Errno 28\] No space left" % (
            workdir / "reports")):
        run(FULL)
    assert os.listdir(workdir / "reports") == []


def test_an_existing_report_is_replaced_whole(workdir):
    (workdir / "reports").mkdir()
    (workdir / "reports" / "enforced_tls_report.json").write_text("x" * 10000, encoding="utf-8")
    run(FULL)

    assert json.loads((workdir / "reports" / "enforced_tls_report.json").read_text(encoding="utf-8")) == REPORT
    assert sorted(os.listdir(workdir / "reports")) == ["enforced_tls_report.json", "enforced_tls_report.md"]
