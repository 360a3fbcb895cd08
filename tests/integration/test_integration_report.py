# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The baseline report does not change by accident (issue 26): the role writes it from the registered result read by
its name (sendgrid_report's result_variable) instead of a templated copy of it, and its JSON with json instead of
AnsibleJSONEncoder; the same 200-account result, written by the role and by the writer before it
(playbooks/report_writers.yml), gives the same files, in a dry run and in an apply. The accounts are of every kind the
report tells apart: compliant, drifted, a key flagged, and failed (EU subusers, whose requests went to the global
host)."""

from __future__ import annotations

import json

import pytest

from conftest import KEY, SERVER_KEYS, run_playbook

ACCOUNTS = 200
SUBUSERS = ["acct-%03d" % number for number in range(1, ACCOUNTS)]
EU = {"acct-050", "acct-150"}


def state() -> dict:
    """Every fourth account compliant, every seventh with a key the audit flags, the others drifted."""
    found = {}
    for number, name in enumerate(["parent"] + SUBUSERS):
        compliant = number % 4 == 0
        found[name] = {"require_tls": compliant, "version": 1.2 if compliant else 1.1,
                       "tracking_settings/open": {"enabled": not compliant}}
        if number % 7 == 0:
            found[name]["api_keys"] = [{"name": "deploy-%s" % name, "scopes": ["mail.send", "api_keys.create"]}]
    return found


@pytest.fixture(name="written", scope="module", params=["dry run", "apply"])
def fixture_written(request, module_start_server, tmp_path_factory):
    server = module_start_server(keys={KEY: SERVER_KEYS[KEY]}, state=state(),
                                 subusers=[name + (":eu" if name in EU else "") for name in SUBUSERS])
    directory = tmp_path_factory.mktemp("reports")
    run = run_playbook("report_writers.yml", {"sg_api_url": server.url, "new_dir": str(directory / "new"),
                                              "old_dir": str(directory / "old")},
                       check=request.param == "dry run", verbosity=0, timeout=300)
    assert run.rc == 0, run.explain()
    files = {writer: {extension: (directory / writer / ("baseline_report." + extension)).read_text(encoding="utf-8")
                      for extension in ("json", "md", "xml")} for writer in ("new", "old")}
    return request.param, files


def test_the_role_and_the_writer_before_it_give_the_same_report_files(written):
    what, files = written
    old, new = json.loads(files["old"]["json"]), json.loads(files["new"]["json"])
    assert len(new["accounts"]) == ACCOUNTS and new["summary"]["accounts"] == ACCOUNTS
    assert new["outcome"] == "failed" and new["summary"]["failed"] == len(EU)
    assert new["summary"]["flagged"] > 0 and new["summary"]["compliant"] > 0
    assert new["dry_run"] is (what == "dry run")
    assert new["summary"]["would_change" if what == "dry run" else "changed"] > 100
    # the one difference: when each writer ran, to the second
    when = {writer: report.pop("generated_at") for writer, report in (("old", old), ("new", new))}
    assert new == old
    assert list(new) == list(old), "the keys in the same order"
    for extension in ("json", "md", "xml"):
        assert files["new"][extension] == files["old"][extension].replace(when["old"], when["new"]), extension
