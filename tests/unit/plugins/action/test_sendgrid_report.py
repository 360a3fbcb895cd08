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
import re
import stat
import xml.etree.ElementTree as ET
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail
from ansible.template import trust_as_template
from ansible_collections.mailops.sendgrid.plugins.action.sendgrid_report import ARGUMENT_SPEC, ActionModule

REPORT = {"generated_at": "2026-12-01T10:00:00Z", "dry_run": True, "summary": {"accounts": 2, "changed": 1},
          "accounts": [{"name": "parent", "changed": False}, {"name": "marketing", "changed": True}]}
MARKDOWN = "# Report\n\n| account | changed |\n| --- | --- |\n| marketing | yes |\n"
# A valid value per option, and values its type refuses (a str or path option converts whatever it gets to text).
VALID = {"path": "reports", "name": "enforced_tls_report", "report": REPORT, "markdown": MARKDOWN, "layout": "baseline",
         "result_variable": "baseline"}
WRONG_TYPE = {"dict": ["not a dict", 5]}
# Every option at once, as far as they go together (layout renders the Markdown that markdown would give, and
# result_variable needs layout).
FULL = {name: value for name, value in VALID.items() if name not in ("layout", "result_variable")}
# A baseline's registered result, as the task's variables hold it (result_variable: baseline).
RESULT = {"changed": True, "check_mode": False, "policy": {"enforced_tls": {"require_tls": True}}, "discovered": 1,
          "excluded": {"disabled": [], "exclude": []}, "summary": {"accounts": 2, "changed": 1},
          "drift": [{"account": "marketing", "settings": ["enforced_tls"], "flagged": {}}],
          "written": [{"account": "marketing", "settings": ["enforced_tls"]}], "failed": False,
          "accounts": [{"name": "parent", "changed": False, "failed": False, "settings": {}},
                       {"name": "marketing", "changed": True, "failed": False, "settings": {}}]}
REQUIRED = sorted(name for name, spec in ARGUMENT_SPEC.items() if spec.get("required"))
OPTIONAL = sorted(name for name, spec in ARGUMENT_SPEC.items() if not spec.get("required"))


def run(args: dict, check_mode: bool = False, task_vars: dict | None = None, templar=None) -> dict:
    """The plugin's run, with no templar unless given: a variable read by result_variable is never templated."""
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, action="mailops.sendgrid.sendgrid_report")
    connection = MagicMock()
    connection._shell.tmpdir = None
    plugin = ActionModule(task, connection, MagicMock(), loader=None, templar=templar, shared_loader_obj=None)
    return plugin.run(task_vars={"baseline": RESULT} if task_vars is None else task_vars)


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


@pytest.mark.parametrize("option", [name for name in OPTIONAL if name != "result_variable"])
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


def test_result_variable_alone_fails_saying_it_needs_a_layout_and_writes_nothing(workdir):
    with pytest.raises(AnsibleActionFail, match=r"result_variable needs layout \(one of: baseline\)"):
        run(dict({name: VALID[name] for name in REQUIRED}, result_variable="baseline"))
    assert os.listdir(workdir) == []


def test_result_variable_adds_the_result_as_registered_after_the_report_s_keys(workdir):
    given = {"inventory_host": None, "generated_at": "2026-12-01T10:00:00Z", "dry_run": False,
             "policy": RESULT["policy"]}
    run(dict({name: VALID[name] for name in REQUIRED}, report=given, layout="baseline", result_variable="baseline"))
    written = json.loads((workdir / "reports" / "enforced_tls_report.json").read_text(encoding="utf-8"))
    assert list(written) == ["outcome", "complete", "inventory_host", "generated_at", "dry_run", "policy", "discovered",
                             "excluded", "summary", "drift", "written", "failed", "msg", "accounts"]
    assert written["outcome"] == "changed" and written["accounts"] == RESULT["accounts"]
    assert written["drift"] == RESULT["drift"] and written["msg"] is None, "a key the result lacks has its value"
    assert "changed" not in written and "check_mode" not in written, "only what the report takes"


def test_a_result_of_a_role_that_stopped_before_the_module_is_an_incomplete_report(workdir):
    stopped = {"failed": True, "msg": "The role stopped before the baseline was applied; see the failed task above."}
    run(dict({name: VALID[name] for name in REQUIRED}, report={"dry_run": True}, layout="baseline",
             result_variable="baseline"), task_vars={"baseline": stopped})
    written = json.loads((workdir / "reports" / "enforced_tls_report.json").read_text(encoding="utf-8"))
    assert written == {"outcome": "incomplete", "complete": False, "dry_run": True, "discovered": None,
                       "excluded": None, "summary": {}, "drift": [], "written": [], "failed": True,
                       "msg": stopped["msg"], "accounts": []}


@pytest.mark.parametrize("task_vars, message", [
    ({}, "result_variable: there is no variable 'baseline'; register the module's result under that name"),
    ({"baseline": "{{ plan }}"}, "result_variable: baseline holds text, not a module's result (a dict)"),
    ({"baseline": trust_as_template("{{ plan }}")}, "result_variable: baseline holds text, not a module's result"),
    ({"baseline": ["parent"]}, "result_variable: baseline holds a list, not a module's result"),
    ({"baseline": None}, "result_variable: baseline holds null, not a module's result"),
    ({"baseline": {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}},
     "result_variable: baseline holds a skipped task's result: there is no run to report on"),
    ({"baseline": {"summary": {"accounts": 1}}},
     "result_variable: baseline holds no result of sendgrid_baseline: it has neither summary and accounts nor failed"),
])
def test_a_result_variable_that_is_missing_or_no_result_fails_naming_it_and_writes_nothing(workdir, task_vars, message):
    templar = MagicMock()
    templar.template.side_effect = lambda value: value   # a template that renders to what it was
    with pytest.raises(AnsibleActionFail, match=re.escape(message)):
        run(dict({name: VALID[name] for name in REQUIRED}, layout="baseline", result_variable="baseline"),
            task_vars=task_vars, templar=templar)
    assert os.listdir(workdir) == []


def test_an_empty_variable_name_fails_saying_so(workdir):
    with pytest.raises(AnsibleActionFail, match=re.escape("there is no variable ''")):
        run(dict({name: VALID[name] for name in REQUIRED}, layout="baseline", result_variable=""))
    assert os.listdir(workdir) == []


def test_a_variable_that_is_a_template_is_rendered_once_into_the_result(workdir):
    templar = MagicMock()
    templar.template.side_effect = lambda value: RESULT if value == "{{ plan }}" else value
    run(dict({name: VALID[name] for name in REQUIRED}, layout="baseline", result_variable="baseline"),
        task_vars={"baseline": "{{ plan }}"}, templar=templar)
    written = json.loads((workdir / "reports" / "enforced_tls_report.json").read_text(encoding="utf-8"))
    assert written["accounts"] == RESULT["accounts"]
    templar.template.assert_called_once_with("{{ plan }}")


def test_tagged_and_subclassed_values_are_written_as_the_json_types_they_stand_for(workdir):
    class Text(str):
        pass

    class Mapping_(dict):
        pass
    tagged = trust_as_template("{{ not rendered }}")
    report = Mapping_({Text("name"): Text("marketing"), "tagged": tagged, "count": type("Count", (int,), {})(3),
                       "items": (Text("a"), 1.5, None, True)})
    run(dict({name: VALID[name] for name in REQUIRED}, report=report))
    text = (workdir / "reports" / "enforced_tls_report.json").read_text(encoding="utf-8")
    assert json.loads(text) == {"name": "marketing", "tagged": "{{ not rendered }}", "count": 3,
                                "items": ["a", 1.5, None, True]}
    assert text == json.dumps(json.loads(text), indent=2) + "\n"


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
