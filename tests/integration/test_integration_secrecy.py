"""The API key never appears in output, on the success path at -vvvv (failure paths: every other test).

run_playbook (conftest.py) runs every playbook with -vvvv and fails the test when any of the test keys shows
up in stdout, stderr or the task results; these tests make sure the key really was in use while hidden.
"""

from __future__ import annotations

import json

from conftest import KEY, SECRETS, calls, header, run_playbook


def test_api_key_never_appears_in_vvvv_output_of_a_successful_apply_with_diff(server):
    run = run_playbook("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True, sg_on_behalf_of="marketing"),
                       diff=True, verbosity=4)

    assert run.rc == 0, run.explain()
    assert run.task("enforce")["status"] == "changed"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout  # -vvvv did print the module arguments
    assert [header(entry, "Authorization") for entry in server.requests()] == ["Bearer " + KEY] * 2
    assert not any(secret in run.stdout + run.stderr for secret in SECRETS)


def test_a_new_keys_secret_is_in_no_output_log_report_or_junit_file_of_the_run_that_created_it(server, tmp_path):
    secret_file, report_dir, junit_dir, log = (tmp_path / "new.key", tmp_path / "reports", tmp_path / "junit",
                                               tmp_path / "ansible.log")
    run = run_playbook("new_key_secrecy.yml", dict(sg_api_url=server.url, sg_secret_file=str(secret_file),
                                                   sg_report_dir=str(report_dir)), diff=True, verbosity=4,
                       env={"ANSIBLE_CALLBACKS_ENABLED": "integration_results,ansible.builtin.junit",
                            "JUNIT_OUTPUT_DIR": str(junit_dir), "ANSIBLE_LOG_PATH": str(log)})
    assert run.rc == 0, run.explain()
    secret = secret_file.read_text(encoding="utf-8")
    assert secret.startswith("SG.") and len(secret) == 69, "the run created no key"
    key_id = secret.split(".")[1]
    # the run did use the new key everywhere it shows: the baseline cut its scopes and reported it, by id
    assert [call.body for call in calls(server) if call.method == "PUT"] == [
        {"name": "wide-key", "scopes": ["mail.send"]}]
    written = {path: path.read_text(encoding="utf-8") for path in
               list(report_dir.iterdir()) + list(junit_dir.iterdir()) + [log]}
    assert {path.suffix for path in written} >= {".json", ".md", ".xml", ".log"}, sorted(written)
    assert key_id in written[report_dir / "baseline_report.json"], "the report does not name the new key"
    # and its secret is nowhere: not in -vvvv, not in the callbacks' results, the log, the reports or JUnit
    places = dict(written, stdout=run.stdout, stderr=run.stderr, results=json.dumps(run.tasks))
    assert [place for place, text in places.items() if secret in text] == []
    assert run.task("new key")["result"].get("censored"), "the creating task's output was not hidden"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout   # -vvvv did print module arguments
