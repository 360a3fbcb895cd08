# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Misspelled role variables and -e words lost at spaces are warned about (issue 20, item 12)."""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.action.sendgrid_role_variables import (
    lost_words, unknown_variables, warning,
)

KNOWN = ["baseline_exclude", "baseline_mail_settings", "baseline_result"]


def test_a_misspelled_role_variable_is_found_and_the_warning_says_what_was_meant():
    task_vars = {"baseline_exlude": ["team-*"], "baseline_mail_setting": {}, "baseline_exclude": [], "other": 1}
    assert unknown_variables(task_vars, "baseline_", KNOWN) == ["baseline_exlude", "baseline_mail_setting"]
    assert warning("baseline_exlude", KNOWN, "mailops.sendgrid.baseline") == (
        "baseline_exlude is not a variable of the role mailops.sendgrid.baseline, so it has no effect: did you mean "
        "baseline_exclude?")


def test_an_unknown_variable_without_a_close_name_points_at_the_argument_specs():
    assert warning("baseline_zzz", KNOWN, "r").endswith("(see the role's argument specs for its variables).")


def test_words_an_e_key_value_string_lost_at_a_space_are_warned_about_naming_the_cut_variable():
    text = lost_words({"_raw_params": "sandbox-*", "baseline_exclude": "team-*,"}, "baseline_")
    assert text.startswith("An -e key=value string held words without a variable name (sandbox-*)")
    assert "baseline_exclude was cut at the first space" in text
    assert lost_words({"baseline_exclude": "team-*"}, "baseline_") is None
