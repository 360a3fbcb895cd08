# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The base of this collection's controller-side action plugins (the report writer, the drift gate, the role
variables check): no connection, no module process, never a change to a managed host.

For internal use by this collection's plugins only: names here may change without notice.
"""

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

FILE_MODE = 0o644


class ControllerAction(ActionBase):
    """Validates the task's arguments against ARGUMENT_SPEC, then returns what act() returns."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True   # each one runs in check mode as it does outside it: they change nothing managed
    _supports_async = False
    ARGUMENT_SPEC: dict = {}

    def act(self, args: dict, task_vars: dict) -> dict:
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # the argument spec takes a required option given as null for given, and makes it ''
        nulls = [name for name, spec in self.ARGUMENT_SPEC.items() if spec.get('required') and name in self._task.args
                 and self._task.args[name] is None]
        if nulls:
            raise AnsibleActionFail('%s must not be null' % ', '.join(nulls))
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        result.update(self.act(args, task_vars or {}))
        return result


def write_whole(path: str, text: str) -> None:
    """Replace the file at once (a temporary file in the same directory, renamed): a reader never sees half a file."""
    handle, partial = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(handle, 'wb') as stream:
            stream.write(to_bytes(text, errors='surrogate_or_strict'))
        os.chmod(partial, FILE_MODE)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
