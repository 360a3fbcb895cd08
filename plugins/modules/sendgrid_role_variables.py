#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_role_variables
short_description: Warn on variables that look like a role's but are none of its options
version_added: 1.1.0
description:
  - Ansible ignores a variable no task reads, so a misspelled role variable (C(baseline_exlude) for
    C(baseline_exclude)) silently changes nothing, and the subusers it meant to exclude are changed. This warns on
    every variable the task sees whose name starts with O(prefix) and is not in O(known), suggesting the closest
    known name.
  - It also warns when an C(-e key=value) string held words without a name. ansible-playbook splits such a string
    at spaces, so C(-e 'baseline_exclude=team-*, sandbox-*') sets C(baseline_exclude) to V(team-*,) and puts
    C(sandbox-*) in no variable; the warning names the variable that was cut and how to write the list.
  - The roles C(mailops.sendgrid.baseline) and C(mailops.sendgrid.enforced_tls) run it first, with their argument
    specs' options as O(known).
  - An action plugin that runs on the controller; it sends nothing and changes nothing.
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes.controller
options:
  prefix:
    description: The prefix of the role's variables, such as V(baseline_).
    type: str
    required: true
  known:
    description: Every variable of the role (its options, and the facts it sets).
    type: list
    elements: str
    required: true
  role:
    description: The role's name, for the warnings.
    type: str
    required: true
attributes:
  check_mode:
    support: full
seealso:
  - module: mailops.sendgrid.sendgrid_baseline
"""

EXAMPLES = r"""
- name: Warn on misspelled variables of my role
  mailops.sendgrid.sendgrid_role_variables:
    prefix: myrole_
    known: [myrole_accounts, myrole_report_dir]
    role: my.collection.myrole
"""

RETURN = r"""
unknown:
  description: The variables with the prefix that the role does not know, sorted; each got a warning.
  returned: always
  type: list
  elements: str
  sample: [baseline_exlude]
"""
