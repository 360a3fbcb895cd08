# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The registry and the family contract (issue 21): every family declared once, and nothing that loops over the
registry names a family."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.mailops.sendgrid.plugins.module_utils import _baseline
from ansible_collections.mailops.sendgrid.plugins.module_utils._families import A_FLAGGED, BY_NAME, POLICY, REGISTRY, family_of
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import Family, Option

KINDS = ("settings", "collection", "audit")


def words_of(family) -> list:
    """What would name a family in code: its name, its module, its result key, the words of its title."""
    return [family.name, family.module, getattr(family, "result", family.name)]


PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(_baseline.__file__)))


# read, not imported: importing controller code (an action plugin) changes how module code's warnings are collected
@pytest.mark.parametrize("source", ["module_utils/_baseline.py", "module_utils/_export.py",
                                    "plugin_utils/_baseline_report.py", "action/sendgrid_drift_gate.py"])
def test_the_baseline_engine_the_report_writer_and_the_drift_gate_name_no_family(source):
    with open(os.path.join(PLUGINS, source), encoding="utf-8") as handle:
        text = handle.read()
    # the subusers family is a module only; "subusers" is also what the discovery finds, which the engine names
    for family in POLICY:
        for word in words_of(family):
            assert not re.search(r"\b%s\b" % re.escape(word), text), "%s names %s" % (source, word)


def test_each_family_is_registered_once_with_a_kind_and_its_module():
    assert len({family.name for family in REGISTRY}) == len(REGISTRY)
    for family in REGISTRY:
        assert isinstance(family, Family) and family.kind in KINDS, family.name
        assert family.module and family.module.startswith("sendgrid_"), family.name
        assert BY_NAME[family.name] is family and family_of(family.name) is family


def test_every_option_of_every_family_is_documented_and_its_spec_comes_from_it():
    def walk(options, path):
        for option in options:
            assert isinstance(option, Option), path + option.name
            assert option.description and all(option.description), "%s%s has no description" % (path, option.name)
            assert option.argument_spec()["type"] == option.type
            walk(option.suboptions or [], path + option.name + ".")
    for family in REGISTRY:
        walk(family.options, family.name + ".")
        assert list(family.argument_spec()) == [option.name for option in family.options]


def test_only_one_family_runs_last_and_it_is_a_collection_whose_change_may_lock_this_machine_out():
    assert [family.kind for family in REGISTRY if family.runs_last] == ["collection"]


def test_the_audits_say_what_they_flag_for_the_messages():
    audits = [family for family in REGISTRY if family.flags]
    assert all(family.flags for family in REGISTRY if family.kind == "audit")
    # the last two joined by "or", the others by commas: "a flagged event webhook, API key or teammate"
    assert A_FLAGGED == "a flagged %s or %s" % (", ".join(family.flags for family in audits[:-1]), audits[-1].flags)
    assert [family.flags for family in audits] == ["event webhook", "API key", "teammate"]


def test_a_result_key_belongs_to_its_family():
    settings = [family for family in REGISTRY if family.kind == "settings" and not family.single]
    for family in settings:
        for setting in family.settings:
            assert family_of(family.key(setting)) is family


def test_a_family_that_is_a_module_only_is_no_section_of_the_policy_and_no_variable_of_the_role():
    module_only = [family.name for family in REGISTRY if not family.in_policy]
    assert module_only == ["subusers", "domain_authentication", "link_branding"]
    assert "subusers" not in _baseline.policy_argument_spec() and "subusers" not in _baseline.SECTIONS
    assert [family.name for family in POLICY] == list(_baseline.SECTIONS)
