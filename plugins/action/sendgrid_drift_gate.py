# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The drift gate of a plan: one exit code per verdict, so that a pipeline tells drift from a run that did not run.

ansible-playbook exits 2 for any failed task, 4 when a host is unreachable, and other codes for its own errors. The
gate makes a drift the one failed task (exit 2) and a plan that did not complete an unreachable host (exit 4): a
failed task before it already failed the host, and a host that is also unreachable exits 4, so no failure other than
drift can exit 2.
"""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import first_few, plural
from ansible_collections.mailops.sendgrid.plugins.module_utils._families import A_FLAGGED
from ansible_collections.mailops.sendgrid.plugins.plugin_utils import _baseline_report
from ansible_collections.mailops.sendgrid.plugins.plugin_utils._controller import ControllerAction

ARGUMENT_SPEC = dict(
    result=dict(type='dict', required=True),
    variable=dict(type='str', required=True),
    report_dir=dict(type='path'),
)
NOT_RUN = "the role stopped before the module ran; see the failed task above"
EXCERPT = 300


def drifted(result: dict) -> list:
    """[(account, [setting, ...])]: a baseline's drift (flagged keys named), or the accounts of an Enforced TLS run
    that changed or would change, with the fields that differ."""
    if 'drift' in result:
        return _baseline_report.drifted(result)
    return [(account['name'], list(account.get('changes') or {})) for account in result.get('accounts') or []
            if account.get('changed')]


def verdict(result: dict, variable: str, report_dir: str | None, host: str | None = None) -> dict:
    """The gate's task result: ok (in sync), failed (drift) or unreachable (no verdict: the run failed). ``host``, the
    inventory host (one parent account of many), is named in the message."""
    where = " The report is in %s." % report_dir if report_dir else ""
    gate = "(%s)%s" % (variable, " on %s" % host if host else "")
    if result.get('failed'):
        reason = str(result.get('msg') or NOT_RUN)
        reason = reason if len(reason) <= EXCERPT else reason[:EXCERPT] + "..."
        return dict(unreachable=True, changed=False, msg=(
            "No verdict %s: the plan did not complete, so it cannot say whether any account drifted (exit code 4, "
            "not 2). %s%s" % (gate, reason, where)))
    found = drifted(result)
    total = (result.get('summary') or {}).get('accounts', len(result.get('accounts') or []))
    what = "would change or have %s" % A_FLAGGED if 'drift' in result else "would change"
    if found:
        return dict(failed=True, changed=False, msg="Drift %s: %d of %s %s: %s.%s" % (
            gate, len(found), plural(total, "account"), what,
            first_few(["%s (%s)" % (account, ", ".join(settings)) for account, settings in found], "; ",
                      "every one in the report" if report_dir else "every one in the task's result"), where))
    return dict(changed=False, msg="In sync %s: none of the %s %s." % (gate, plural(total, "account"), what))


class ActionModule(ControllerAction):
    """Decides the plan's exit code from the module's registered result; sends nothing, writes nothing."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args: dict, task_vars: dict) -> dict:
        # Many parent accounts run as one inventory host each: their messages must say which one. localhost is the
        # one-account play of every example, and names nothing.
        host = task_vars.get('inventory_hostname')
        return verdict(args['result'], args['variable'], args['report_dir'], None if host == 'localhost' else host)
