# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sendgrid_baseline_export's action plugin: the exported file, written on the controller only when the policy in it
changed (the time of export aside), never in check mode, with its diff."""

from __future__ import annotations

import os
from unittest.mock import MagicMock

import pytest
import yaml

from ansible.errors import AnsibleActionFail
from ansible_collections.mailops.sendgrid.plugins.action import sendgrid_baseline_export as plugin

POLICY = {"baseline_tracking": {"open": {"enabled": False}}, "baseline_parent": {},
          "baseline_subusers": [{"tracking": {"open": {"enabled": True}}, "name": "legacy-relay"}],
          "baseline_enforced_tls": {"require_tls": True, "min_tls_version": "1.2"}, "baseline_include_parent": True}
SUMMARY = {"source": "https://api.sendgrid.com", "accounts": 3, "subusers": 2, "discovered": 2, "excluded": None,
           "families": ["enforced_tls", "tracking"], "overridden_accounts": ["legacy-relay"], "overrides": 1,
           "left_out": ["mail_settings.footer.html_content"],
           "notes": ["api_keys: the audit today's keys pass; their secrets are shown once, when created, never again"]}


def run(args: dict, check_mode: bool = False, diff: bool = False, answer=None) -> dict:
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=diff,
                     action="mailops.sendgrid.sendgrid_baseline_export")
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = plugin.ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    action._execute_module = MagicMock(return_value=dict(answer or dict(changed=False, policy=POLICY, summary=SUMMARY)))
    return action.run(task_vars={})


def test_the_file_is_commented_yaml_that_e_at_file_takes_sorted_with_a_subuser_s_name_first(tmp_path):
    dest = tmp_path / "policy.yml"
    result = run({"dest": str(dest)})
    text = dest.read_text(encoding="utf-8")
    assert result["changed"] and result["dest"] == str(dest) and result["content"] == text
    assert yaml.safe_load(text) == POLICY
    lines = text.splitlines()
    assert lines[0] == "---" and all(line.startswith("#") for line in lines[1:lines.index("")])
    said = " ".join(line[1:].strip() for line in lines if line.startswith("#"))
    assert "from the parent account at https://api.sendgrid.com" in said
    assert "Accounts: 3 accounts (the parent and 2 subusers); discovery found 2 subusers." in said
    assert "1 account differs, with 1 overridden field in baseline_parent and baseline_subusers" in said
    assert "- mail_settings.footer.html_content (leave_out: left to each account)" in said
    assert "secrets are shown once" in said
    assert max(len(line) for line in lines) <= plugin.WIDTH
    variables = [line.split(":")[0] for line in lines if line and line[0].isalpha()]
    assert variables == sorted(POLICY)
    assert "- name: legacy-relay\n  tracking:" in text


def test_a_second_export_of_the_same_estate_is_no_change_and_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / "policy.yml"
    assert run({"dest": str(dest)}, check_mode=True)["changed"] and not dest.exists()
    first = run({"dest": str(dest)})["content"]
    again = run({"dest": str(dest)}, diff=True)
    assert not again["changed"] and "diff" not in again and dest.read_text(encoding="utf-8") == first
    changed_policy = dict(POLICY, baseline_tracking={"open": {"enabled": True}})
    diffed = run({"dest": str(dest)}, check_mode=True, diff=True,
                 answer=dict(changed=False, policy=changed_policy, summary=SUMMARY))
    assert diffed["changed"] and diffed["diff"]["before"] == first and "enabled: true" in diffed["diff"]["after"]
    assert dest.read_text(encoding="utf-8") == first, "check mode wrote the file"


def test_without_dest_nothing_is_written_and_the_content_is_returned(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run({})
    assert result["dest"] is None and not result["changed"] and yaml.safe_load(result["content"]) == POLICY
    assert os.listdir(tmp_path) == []


def test_a_failed_module_is_returned_as_it_is_and_nothing_is_written(tmp_path):
    failed = dict(failed=True, msg="Reading 1 of 3 accounts failed", policy=None, summary=None)
    result = run({"dest": str(tmp_path / "policy.yml")}, answer=failed)
    assert result["failed"] and "content" not in result and not (tmp_path / "policy.yml").exists()


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check mode"])
def test_a_directory_that_does_not_exist_fails_naming_it_in_check_mode_too(tmp_path, check_mode):
    with pytest.raises(AnsibleActionFail, match="the directory %s does not exist" % (tmp_path / "nope")):
        run({"dest": str(tmp_path / "nope" / "policy.yml")}, check_mode=check_mode)


def test_text_jinja_would_run_is_tagged_unsafe_keys_too_and_read_back_as_it_is():
    """A footer (or a key's name) anyone with a subuser's settings may write must never run on the controller when
    the role takes the file: Ansible does not template !unsafe text."""
    hostile = "<p>{{ lookup('ansible.builtin.env', 'SENDGRID_API_KEY') }}</p>"
    policy = {"baseline_mail_settings": {"footer": {"html_content": hostile, "plain_content": "{% raw %}"}},
              "baseline_teammates": {"members": {"{{x}}@example.com": "admin", "ops@example.com": "admin"}},
              "baseline_api_keys": {"allowed_control_keys": ["{# ci #}", "ci"]}}
    text = plugin.render(policy, SUMMARY, "2026-12-07T10:00:00Z")
    assert "html_content: !unsafe '<p>{{ lookup(''ansible.builtin.env'', ''SENDGRID_API_KEY'') }}</p>'" in text
    assert "plain_content: !unsafe '{% raw %}'" in text and "  - !unsafe '{# ci #}'\n  - ci\n" in text
    assert "!unsafe '{{x}}@example.com': admin" in text and "    ops@example.com: admin" in text
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("!unsafe", lambda load, node: load.construct_scalar(node))
    assert yaml.load(text, Loader=loader) == policy  # noqa: S506 (a SafeLoader)
    from ansible.parsing.yaml.loader import AnsibleLoader  # pylint: disable=import-outside-toplevel
    assert yaml.load(text, Loader=AnsibleLoader) == policy  # noqa: S506 (Ansible's, as -e @file reads it)


def test_the_header_counts_a_lone_parent_and_names_the_ties():
    summary = dict(SUMMARY, accounts=1, subusers=0, discovered=None, overridden_accounts=[], overrides=0,
                   ties=["tracking.open.enabled"], left_out=[], notes=[])
    said = " ".join(line[1:].strip() for line in plugin.header(summary, "T"))
    assert "Accounts: 1 account (the parent)." in said and "0 accounts differ, with 0 overridden fields" in said
    assert "Ties (as many accounts one way as the other; the policy took the parent's value, else the first in sort " \
           "order): tracking.open.enabled." in said


def test_the_time_of_export_alone_is_no_change():
    text = plugin.render(POLICY, SUMMARY, "2026-12-07T10:00:00Z")
    later = plugin.render(POLICY, SUMMARY, "2026-12-08T10:00:00Z")
    assert text != later and plugin.without_time(text) == plugin.without_time(later)
