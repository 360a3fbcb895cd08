# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running a module's main() in-process, as Ansible would, for the module unit tests."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import _internal
from ansible.module_utils.testing import patch_module_args


def run_module(module, capsys, **args) -> dict:
    """Run ``module.main()`` with these arguments; return its JSON result, checked to hold no API key."""
    # once a test has imported controller code (an action plugin), module code would hand its warnings to the
    # controller's display instead of its result: run it as on a managed host
    controller, _internal.is_controller = _internal.is_controller, False
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
    finally:
        _internal.is_controller = controller
    output = capsys.readouterr().out
    if args.get("api_key"):
        assert args["api_key"] not in output
    return json.loads(output)
