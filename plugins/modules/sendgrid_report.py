#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sendgrid_report
short_description: Write a compliance report (JSON, Markdown, JUnit) on the controller
version_added: 1.1.0
description:
  - Writes O(report) as C(<name>.json) and, when given, O(markdown) as C(<name>.md) into the directory O(path) on
    the Ansible controller, creating the directory when it is missing. Each file is replaced whole (written beside
    it, then renamed), with mode C(0644).
  - An action plugin that runs on the controller for whichever host the task runs for, without a module process;
    it takes milliseconds where C(ansible.builtin.copy) and C(ansible.builtin.template) take four module runs.
    Use it with C(run_once) to write one report for a play.
  - The report is an artifact, not managed state. It is written in check mode too, so that a dry run (a pipeline's
    plan job) produces it, and writing it is never a change, so that a second run stays at C(changed=0).
  - The roles C(mailops.sendgrid.enforced_tls) and C(mailops.sendgrid.baseline) write their reports with it. It
    sends nothing to SendGrid and takes no API key.
author:
  - Mailops maintainers (@mailops)
extends_documentation_fragment:
  - mailops.sendgrid.attributes.controller
options:
  path:
    description:
      - The directory on the controller, created when missing (with its parents, mode C(0755)).
      - A relative path is relative to the directory ansible-playbook runs in.
    type: path
    required: true
  name:
    description:
      - The files' name without extension, such as V(baseline_report). A file name, not a path.
    type: str
    required: true
  report:
    description:
      - The report, written as indented JSON in the order given, with a final newline.
    type: dict
    required: true
  result_variable:
    description:
      - 'The name of the variable that holds a module''s registered result, which O(layout) adds to O(report). With
        V(baseline), the result of M(mailops.sendgrid.sendgrid_baseline) (C(discovered), C(excluded), C(summary),
        C(drift), C(written), C(failed), C(msg), C(accounts), in this order after the keys of O(report)); a skipped
        task''s result, or a result that is neither a failure nor has C(summary) and C(accounts), is refused.'
      - The variable is read as it is, not templated. A result passed in O(report) as C({{ result }}) is copied value
        by value by Ansible's templating, which takes seconds and a hundred megabytes at thousands of accounts.
      - Requires O(layout). V(null) adds nothing.
    type: str
    version_added: 1.2.0
  markdown:
    description:
      - The report for people, written as given. Render a template with P(ansible.builtin.template#lookup).
      - V(null) writes no Markdown file. Mutually exclusive with O(layout).
    type: str
  layout:
    description:
      - Render the report's other files from O(report) itself, in Python, instead of from O(markdown).
      - V(baseline) takes the report the role C(mailops.sendgrid.baseline) gathers (a result of
        M(mailops.sendgrid.sendgrid_baseline) with C(generated_at) and C(dry_run)). The JSON starts with the
        verdict, C(outcome) (V(in_sync), V(drift) (a plan found changes, or items only a person can fix are
        flagged), V(changed) (an apply wrote what differed and nothing is left flagged), V(failed) when an account or
        setting failed, or V(incomplete) when the run stopped before any account) and C(complete).
      - With V(baseline), C(<name>.md) says that verdict first, then the counts, one line per account that drifted
        or failed, then a table of every account and setting; and C(<name>.xml) is JUnit XML with a test case per
        account and setting, a drift (would change, flagged event webhook, API key or teammate) a C(failure), anything that failed an
        C(error), and a run that stopped before any account one test case in error.
      - With V(baseline), a report whose C(inventory_host) is set (one parent account of many, a host each) names it
        in the Markdown's title, the JUnit suite's name and C(hostname), and each test case's class,
        C(<host>/<account>).
      - V(null) renders nothing; only the JSON is written, and O(markdown) when given.
    type: str
    choices: [baseline]
    version_added: 1.1.0
attributes:
  check_mode:
    support: partial
    details: Writes the report in check mode too; it is an artifact on the controller, never a change.
seealso:
  - module: mailops.sendgrid.sendgrid_baseline
  - module: mailops.sendgrid.sendgrid_enforced_tls_accounts
"""

EXAMPLES = r"""
- name: Check every account against the baseline
  mailops.sendgrid.sendgrid_baseline:
    api_key: "{{ vault_sendgrid_api_key }}"
    discover_subusers: true
    enforced_tls:
      require_tls: true
  register: baseline

- name: Write the baseline's report, verdict first, as the role does, in JSON, Markdown and JUnit XML
  mailops.sendgrid.sendgrid_report:
    path: reports
    name: baseline_report
    layout: baseline
    result_variable: baseline   # read as registered, however many accounts
    report:
      generated_at: "{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ') }}"
      dry_run: "{{ ansible_check_mode }}"
      policy: "{{ baseline.policy }}"

- name: Write what it found, also in check mode
  mailops.sendgrid.sendgrid_report:
    path: reports
    name: sendgrid_baseline
    report:
      summary: "{{ baseline.summary }}"
      drift: "{{ baseline.drift }}"
    markdown: |
      # SendGrid baseline

      {{ baseline.summary.accounts }} accounts, {{ baseline.drift | length }} drifted.
  run_once: true
"""

RETURN = r"""
files:
  description: The files written, as absolute paths on the controller (the JSON file first).
  returned: success
  type: list
  elements: str
  sample:
    - /home/ops/reports/sendgrid_baseline.json
    - /home/ops/reports/sendgrid_baseline.md
    - /home/ops/reports/sendgrid_baseline.xml
"""
