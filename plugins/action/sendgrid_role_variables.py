# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Warn on variables that look like a role's (its prefix) but are none of its options: a misspelled
baseline_exlude is otherwise silently ignored, and the subusers it meant to leave out are changed."""

from __future__ import annotations

import difflib

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = dict(
    prefix=dict(type='str', required=True),
    known=dict(type='list', elements='str', required=True),
    role=dict(type='str', required=True),
)


def unknown_variables(names, prefix: str, known: list) -> list:
    """The names that start with the prefix and are not known, sorted."""
    known = set(known)
    return sorted(name for name in names if isinstance(name, str) and name.startswith(prefix) and name not in known)


def warning(name: str, known: list, role: str) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return "%s is not a variable of the role %s, so it has no effect%s." % (
        name, role, ": did you mean %s?" % close[0] if close else " (see the role's argument specs for its variables)")


class ActionModule(ActionBase):
    """Reads the names of the variables the task sees; sends nothing, changes nothing."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        unknown = unknown_variables(task_vars or {}, args['prefix'], args['known'])
        result.update(changed=False, unknown=unknown)
        if unknown:
            result['warnings'] = [warning(name, args['known'], args['role']) for name in unknown]
        return result
