#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_drift_gate
short_description: Turn a dry run's result into the exit code a pipeline reads (0 in sync, 2 drift, 4 no verdict)
version_added: 1.1.0
description:
  - Reads the registered result of M(mailops.sendgrid.sendgrid_baseline) or
    M(mailops.sendgrid.sendgrid_enforced_tls_accounts) and gives the play the outcome a pipeline's plan stage needs,
    the way C(terraform plan -detailed-exitcode) does.
  - B(In sync), the task is ok, and ansible-playbook exits V(0).
  - On B(drift) (an account would change, or holds a flagged event webhook, API key or teammate), the task fails with a short message (the
    count and the first five accounts with their settings and flagged keys; the rest are in the report), and
    ansible-playbook exits V(2).
  - With B(no verdict) (the module failed, or did not run), the host is marked unreachable with the reason, so that
    ansible-playbook exits V(4) even though a task already failed. A pipeline reads V(2) as drift and any other
    non-zero code as "the plan did not run", never the other way round.
  - Run for an inventory host other than C(localhost), as when each of several parent accounts is a host of its own,
    every message names the host after the variable, such as C(on agency-b) in a drift message. With several hosts
    in one run, ansible-playbook exits V(4) when any host got no verdict, else V(2) when any drifted, else V(0); each
    host's message gives its own verdict.
  - Use it in C(always) after the module's task, so that it runs when the module failed. The roles
    C(mailops.sendgrid.baseline) and C(mailops.sendgrid.enforced_tls) run it as their drift gate.
  - An action plugin that runs on the controller; it sends nothing to SendGrid and writes nothing.
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes.controller
options:
  result:
    description:
      - The module's registered result, failed or not. A result with C(failed) gives no verdict.
    type: dict
    required: true
  variable:
    description:
      - What turned the gate on, named in every message, such as V(baseline_fail_on_drift).
    type: str
    required: true
  report_dir:
    description:
      - Where the report was written, named in the message. V(null) names none.
    type: path
attributes:
  check_mode:
    support: full
    details: It changes nothing; a plan runs it in check mode.
seealso:
  - module: mailops.sendgrid.sendgrid_baseline
  - module: mailops.sendgrid.sendgrid_report
"""

EXAMPLES = r"""
- name: Plan every account against the baseline
  block:
    - name: Read every account, write nothing
      mailops.sendgrid.sendgrid_baseline:
        api_key: "{{ vault_sendgrid_api_key }}"
        discover_subusers: true
        tracking:
          open:
            enabled: false
      check_mode: true
      register: plan
  always:
    - name: Exit 0 in sync, 2 on drift, 4 when the plan did not complete
      mailops.sendgrid.sendgrid_drift_gate:
        result: "{{ plan }}"
        variable: the plan
"""

RETURN = r"""
msg:
  description: The verdict in words, naming what turned the gate on.
  returned: always
  type: str
  sample: "Drift (baseline_fail_on_drift): 2 of 40 accounts would change or have a flagged event webhook, API key or teammate: billing
    (api_keys: legacy); marketing (tracking.open). The report is in reports."
"""
