# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write a report (JSON, and Markdown when given) into a directory on the controller, without a module run.

Written with ansible.builtin.copy and template, a report cost four module runs (a stat and a copy per file): about
two CPU-seconds per role call, more than the SendGrid work of a small account list. With layout: baseline, the
Markdown and a JUnit file are rendered here, in Python, from the report itself (plugin_utils._baseline_report).

result_variable names the variable that holds the module's registered result, which is read from the task's variables
as it is: a task argument is templated, and Ansible's templating copies every value of a result it is given (at
10,000 accounts, about ten seconds and a hundred megabytes for each copy; measured).
"""

from __future__ import annotations

import json
import os
from collections import namedtuple
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import shape
from ansible_collections.mailops.sendgrid.plugins.plugin_utils import _baseline_report
from ansible_collections.mailops.sendgrid.plugins.plugin_utils._controller import ControllerAction, write_whole

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    name=dict(type='str', required=True),
    report=dict(type='dict', required=True),
    result_variable=dict(type='str'),
    markdown=dict(type='str'),
    # no choices: the argument spec would refuse null, which means "no layout"; report_files() checks the name
    layout=dict(type='str'),
)
# What each layout renders from the report: its verdict first in the JSON, and {extension: text}; and how a module's
# result (result_variable) adds to the report.
Layout = namedtuple('Layout', 'complete renderers with_result')
LAYOUTS = {
    'baseline': Layout(_baseline_report.with_verdict, {'md': _baseline_report.markdown, 'xml': _baseline_report.junit},
                       _baseline_report.with_result),
}
DIRECTORY_MODE = 0o755
EXCERPT = 80


def as_json_type(value):
    """A value json does not know (an encrypted string, a date), as AnsibleJSONEncoder writes it. Ansible's tagged
    strings, numbers, dicts and lists are subclasses of JSON's own types, which json writes as they are: so the report
    is written by json alone, without AnsibleJSONEncoder's visit of every value first (about a second at 10,000
    accounts; measured)."""
    return json.loads(json.dumps(value, cls=AnsibleJSONEncoder))


def report_files(directory: str, name: str, report: dict, markdown, layout=None) -> dict:
    """{file path: text} of a report: <name>.json always, <name>.md when there is Markdown (given, or rendered by the
    layout), and whatever else the layout renders (<name>.xml, JUnit, for the baseline)."""
    if not name or name in ('.', '..') or os.sep in name or (os.altsep and os.altsep in name):
        raise AnsibleActionFail("name must be a file name without a directory, such as baseline_report; got %r" % name)
    if layout is not None and markdown is not None:
        raise AnsibleActionFail("give markdown or layout, not both: layout %s renders the Markdown itself" % layout)
    rendered = {}
    if layout is not None and layout not in LAYOUTS:
        raise AnsibleActionFail("value of layout must be one of: %s, got: %s" % (", ".join(LAYOUTS), layout))
    if layout is not None:
        report = LAYOUTS[layout].complete(report)
        rendered = {extension: render(report) for extension, render in LAYOUTS[layout].renderers.items()}
    files = {os.path.join(directory, name + '.json'):
             json.dumps(report, indent=2, separators=(',', ': '), default=as_json_type) + '\n'}
    if markdown is not None:
        files[os.path.join(directory, name + '.md')] = markdown
    for extension, text in rendered.items():
        files[os.path.join(directory, name + '.' + extension)] = text
    return files


class ActionModule(ControllerAction):
    """The report is an artifact on the controller, not state of a managed host: written in check mode too, and never
    a change, so that a dry run produces it and a second run stays at changed=0."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args: dict, task_vars: dict) -> dict:
        if not args['path']:
            raise AnsibleActionFail('path must name a directory; got an empty string')
        report = args['report']
        if args['result_variable'] is not None:
            if args['layout'] not in LAYOUTS:
                raise AnsibleActionFail("result_variable needs layout (one of: %s), which says what the report takes from "
                                        "the result" % ", ".join(LAYOUTS))
            try:
                report = LAYOUTS[args['layout']].with_result(report, self.result_of(args['result_variable'], task_vars))
            except ValueError as exc:
                raise AnsibleActionFail("result_variable: %s holds %s" % (args['result_variable'], exc)) from exc
        directory = os.path.abspath(args['path'])
        files = report_files(directory, args['name'], report, args['markdown'], args['layout'])
        try:
            os.makedirs(directory, mode=DIRECTORY_MODE, exist_ok=True)
            for path, text in files.items():
                write_whole(path, text)
        except (OSError, UnicodeError) as exc:
            raise AnsibleActionFail('Could not write the report into %s: %s' % (directory, to_native(exc))) from exc
        return dict(changed=False, files=list(files))

    def result_of(self, name: str, task_vars: dict) -> Mapping:
        """The variable's value as registered, not templated; a value that is a template (a variable defined as
        "{{ other }}") is rendered once."""
        if not name or name not in task_vars:
            raise AnsibleActionFail("result_variable: there is no variable %r; register the module's result under that "
                                    "name" % name[:EXCERPT])
        value = task_vars[name]
        if not isinstance(value, Mapping):
            value = self._templar.template(value)
        if not isinstance(value, Mapping):
            raise AnsibleActionFail("result_variable: %s holds %s, not a module's result (a dict)" % (name, shape(value)))
        return value
