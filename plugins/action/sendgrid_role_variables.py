# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Warn on variables that look like a role's (its prefix) but are none of its options: a misspelled
baseline_exlude is otherwise silently ignored, and the subusers it meant to leave out are changed. Also on words an
-e key=value string lost: ansible-playbook splits it at spaces, so in -e 'baseline_exclude=team-*, sandbox-*' the
variable holds "team-*," and "sandbox-*" lands in _raw_params, a variable no role reads."""

from __future__ import annotations

import difflib

from ansible_collections.mailops.sendgrid.plugins.plugin_utils._controller import ControllerAction

ARGUMENT_SPEC = dict(
    prefix=dict(type='str', required=True),
    known=dict(type='list', elements='str', required=True),
    role=dict(type='str', required=True),
)


def unknown_variables(names, prefix: str, known: list) -> list:
    """The names that start with the prefix and are not known, sorted."""
    known = set(known)
    return sorted(name for name in names if isinstance(name, str) and name.startswith(prefix) and name not in known)


def lost_words(task_vars: dict, prefix: str) -> str | None:
    """The warning on words -e key=value put in _raw_params, naming the role's variables that end with a comma."""
    words = task_vars.get('_raw_params')
    if not isinstance(words, str) or not words.strip():
        return None
    cut = sorted(name for name, value in task_vars.items()
                 if isinstance(name, str) and name.startswith(prefix) and isinstance(value, str) and value.endswith(','))
    return ("An -e key=value string held words without a variable name (%s): ansible-playbook splits key=value at "
            "spaces, so they are in no variable%s. Write a list without spaces (-e %s=a,b) or as JSON "
            "(-e '{\"%s\": [\"a\", \"b\"]}')." % (
                words.strip(), ", and %s was cut at the first space" % " and ".join(cut) if cut else "",
                cut[0] if cut else prefix + "...", cut[0] if cut else prefix + "..."))


def warning(name: str, known: list, role: str) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return "%s is not a variable of the role %s, so it has no effect%s" % (
        name, role, ": did you mean %s?" % close[0] if close else " (see the role's argument specs for its variables).")


class ActionModule(ControllerAction):
    """Reads the names of the variables the task sees; sends nothing, changes nothing."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args: dict, task_vars: dict) -> dict:
        unknown = unknown_variables(task_vars, args['prefix'], args['known'])
        warnings = [warning(name, args['known'], args['role']) for name in unknown]
        lost = lost_words(task_vars, args['prefix'])
        if lost:
            warnings.append(lost)
        return dict(changed=False, unknown=unknown, **(dict(warnings=warnings) if warnings else {}))
