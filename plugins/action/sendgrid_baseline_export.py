# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs the module sendgrid_baseline_export, then writes the policy it returns as a YAML file on the controller (option
dest), commented at the top, as the baseline role's report is written: the module only reads, on the host the task
runs on (which may be a remote one whose address SendGrid's allow list admits), and the controller has the YAML
library a remote host may lack."""

from __future__ import annotations

import os
import textwrap
import time

import yaml
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import plural
from ansible_collections.mailops.sendgrid.plugins.plugin_utils._controller import write_whole

EXPORTED_AT = "# Exported at "
WIDTH = 110


def header(summary: dict, exported_at: str) -> list:
    """The comment lines at the top of the file: when and from where, how many accounts and overrides, what is left
    out and why, and how to use it."""
    subusers = summary["subusers"]
    parts = ["the parent"] if summary["accounts"] > subusers else []
    parts += [plural(subusers, "subuser")] if subusers else []
    accounts = "%s (%s)" % (plural(summary["accounts"], "account"), " and ".join(parts))
    if summary.get("discovered") is not None:
        accounts += "; discovery found %s" % plural(summary["discovered"], "subuser")
    overridden = summary["overridden_accounts"]
    lines = [
        "Security baseline policy for the role mailops.sendgrid.baseline, exported from the estate as it was.",
        "Use: ansible-playbook mailops.sendgrid.baseline -e @<this file> (add --check --diff for a plan).",
        "%s%s by mailops.sendgrid.sendgrid_baseline_export, from the parent account at %s." % (
            EXPORTED_AT[2:], exported_at, summary["source"]),
        "Accounts: %s." % accounts,
        "Sections: %s." % ", ".join(summary["families"]),
        "Each field holds the value most accounts have; %s %s, with %s in baseline_parent and baseline_subusers "
        "(each only its differences)%s." % (
            plural(len(overridden), "account"), "differs" if len(overridden) == 1 else "differ",
            plural(summary["overrides"], "overridden field"),
            ": " + ", ".join(overridden[:10]) + (" and %d more" % (len(overridden) - 10) if len(overridden) > 10 else "")
            if overridden else ""),
    ]
    if summary.get("ties"):
        lines.append("Ties (as many accounts one way as the other; the policy took the parent's value, else the first in "
                     "sort order): %s." % ", ".join(summary["ties"]))
    left_out = ["%s (leave_out: left to each account)" % path for path in summary["left_out"]] + summary["notes"]
    if left_out:
        lines.append("Left out:")
        lines += ["  - %s" % note for note in left_out]
    wrapped = []
    for line in lines:
        indent = "    " if line.startswith("  - ") else ""
        wrapped += textwrap.wrap(line, WIDTH - 2, subsequent_indent=indent, break_on_hyphens=False,
                                 break_long_words=False)
    return ["# " + line for line in wrapped]


class Unsafe(str):
    """Text read from SendGrid that Jinja would take for a template ({{ }}, {% %}, {# #}): written with the tag !unsafe,
    so that the role taking the file with -e @file sends it as it is instead of running it on the controller (a footer
    holding "{{ lookup('env', 'SENDGRID_API_KEY') }}" would otherwise put the key in every mail)."""


class Dumper(yaml.SafeDumper):
    """YAML as a person reads it, with text Jinja would take for a template tagged !unsafe."""


Dumper.add_representer(Unsafe, lambda dumper, text: dumper.represent_scalar("!unsafe", str(text), style="'"))


def ordered(value, first: str | None = None):
    """Every mapping with its keys sorted (``first`` before the others): a file a person reads, and a diff between two
    exports that shows only what changed; every text (keys too) that holds a Jinja delimiter made Unsafe."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (key != first, key))
        return {safe(key): ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [ordered(item, first="name") for item in value]
    return safe(value)


def safe(value):
    return Unsafe(value) if isinstance(value, str) and "{" in value else value


def render(policy: dict, summary: dict, exported_at: str) -> str:
    """The file's text: the header, then the variables, sorted (a subuser's name first), in block style."""
    body = yaml.dump(ordered(policy), Dumper=Dumper, default_flow_style=False, sort_keys=False, width=WIDTH,
                     allow_unicode=True)
    return "---\n" + "\n".join(header(summary, exported_at)) + "\n\n" + body


def without_time(text: str | None) -> str | None:
    """The file without the line saying when it was exported: what decides whether it changed."""
    if text is None:
        return None
    return "\n".join(line for line in text.splitlines() if not line.startswith(EXPORTED_AT))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        result.update(self._execute_module(task_vars=task_vars, wrap_async=False))
        if result.get("failed") or result.get("policy") is None:
            return result
        dest = self._task.args.get("dest")
        exported_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        content = render(result["policy"], result["summary"], exported_at)
        result.update(content=content, dest=None, changed=False)
        if not dest:
            return result
        path = os.path.abspath(os.path.expanduser(to_text(dest, errors="surrogate_or_strict")))
        try:
            with open(path, encoding="utf-8") as stream:
                before = stream.read()
        except FileNotFoundError:
            before = None
        except (OSError, UnicodeError) as exc:
            raise AnsibleActionFail("Could not read %s, to compare the export with it: %s" % (path, to_native(exc)))
        changed = without_time(before) != without_time(content)
        if not os.path.isdir(os.path.dirname(path)):
            # in check mode too: a plan must fail where the run would
            raise AnsibleActionFail("Could not write the export to %s: the directory %s does not exist."
                                    % (path, os.path.dirname(path)))
        if changed and not self._task.check_mode:
            try:
                write_whole(path, content)
            except (OSError, UnicodeError) as exc:
                raise AnsibleActionFail("Could not write the export to %s: %s" % (path, to_native(exc)))
        result.update(dest=path, changed=changed)
        if self._task.diff and changed:
            result["diff"] = dict(before=before or "", after=content, before_header=path, after_header=path)
        return result
