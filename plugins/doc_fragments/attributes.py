# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What each attribute means; modules say how far they support it.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  action_group:
    description: Use C(group/mailops.sendgrid.sendgrid) in C(module_defaults) to set defaults for this module.
    membership:
      - mailops.sendgrid.sendgrid
"""

    # The action plugins that run on the controller and never talk to SendGrid; each says how it supports check mode.
    CONTROLLER = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  action:
    description: Runs on the controller as an action plugin; it sends nothing to SendGrid and takes no API key.
    support: full
"""
