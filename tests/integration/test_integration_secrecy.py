"""The API key never appears in output, on the success path at -vvvv (failure paths: every other test).

run_playbook (conftest.py) runs every playbook with -vvvv and fails the test when any of the test keys shows
up in stdout, stderr or the task results; these tests make sure the key really was in use while hidden.
"""

from __future__ import annotations

from conftest import KEY, SECRETS, header, run_playbook


def test_api_key_never_appears_in_vvvv_output_of_a_successful_apply_with_diff(server):
    run = run_playbook("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True, sg_on_behalf_of="marketing"),
                       diff=True, verbosity=4)

    assert run.rc == 0, run.explain()
    assert run.task("enforce")["status"] == "changed"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout  # -vvvv did print the module arguments
    assert [header(entry, "Authorization") for entry in server.requests()] == ["Bearer " + KEY] * 2
    assert not any(secret in run.stdout + run.stderr for secret in SECRETS)
