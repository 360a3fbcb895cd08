# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The second half of the documented YAML examples (test_doc_examples.py runs the first and says what each run
asserts): a file of its own, so that pytest-xdist's --dist loadfile gives the two halves to both workers."""

from __future__ import annotations

import pytest

# pylint: disable-next=unused-import
from test_doc_examples import (  # noqa: F401  (fixtures, found by pytest in this module's names)
    assert_example_runs_dry_then_for_real_then_changes_nothing, example_cases, fixture_dns, fixture_servers,
    fixture_workdir,
)


@pytest.mark.parametrize(**example_cases(1))
def test_example_runs_dry_then_for_real_then_changes_nothing(block, servers, workdir, dns):
    assert_example_runs_dry_then_for_real_then_changes_nothing(block, servers, workdir, dns)
