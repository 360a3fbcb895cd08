# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs the module sendgrid_api_key, and hides its output from every callback when the result holds a new key's
secret: the registered variable keeps it, the screen, -vvvv and callbacks (JUnit, logs) see the task as no_log."""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        result.update(self._execute_module(task_vars=task_vars, wrap_async=False))
        if result.get("secret") is not None:
            # Ansible's own censoring, as no_log: true on the task gives it; changed, warnings and the like stay shown
            result["_ansible_no_log"] = True
        return result
