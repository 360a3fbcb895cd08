"""Adopting an existing estate (docs/docsite/rst/guide_export.rst): export it, and the baseline agrees with it.

Two local servers (the global and the EU host) hold an estate of 55 accounts configured by hand: the parent and 54
subusers, two of them EU, with mixed settings in every section of the baseline (Enforced TLS, tracking, mail settings
with a footer naming each account, event webhooks, allow lists, API keys, teammates and invites). The guide's commands
run as written, in a fresh checkout:

1. the export, leaving the footers to each account: a commented, sorted YAML file that ``-e @file`` takes;
2. the baseline applied with it: ``changed=0``, every account compliant, and nothing written to SendGrid;
3. the guide's plan: in sync (exit 0);
4. one account changed behind the role's back, the plan again: exit 2, naming exactly that account and setting.

No key may appear in any output or any file of the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import doc_examples
from conftest import CALLBACK_PLUGINS, COLLECTIONS_ROOT, KEY, REPO_ROOT, SECRETS, SERVER_KEYS, calls

GUIDE = "docs/docsite/rst/guide_export.rst"
COMMANDS_BLOCK = GUIDE + ":export-then-plan:bash"
EXCERPT_BLOCK = GUIDE + ":what-the-file-holds"
POLICY_FILE = "sendgrid-baseline.yml"
WRITES = ("PATCH", "POST", "PUT", "DELETE")
SUBUSERS = ["acct-%02d" % index for index in range(1, 53)] + ["eu-acct-53", "eu-acct-54"]
EU = {"eu-acct-53", "eu-acct-54"}
DRIFTED = ("acct-17", "tracking_settings/open", "tracking.open")


def injected(name: str) -> str:
    """Jinja that, run, would leave a file behind and put the key in the text."""
    return "<p>{{ lookup('ansible.builtin.pipe', 'touch INJECTED-" + name + "') }}{{ lookup('ansible.builtin.env', " \
           "'SENDGRID_API_KEY') }}<% %></p>"


class FileLoader(yaml.SafeLoader):
    """The exported file as -e @file reads it: !unsafe text is text (that Ansible never templates)."""


FileLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def account_state(index: int, name: str) -> dict:
    """One hand-configured account: most share each setting, some differ, the footer names the account."""
    state = {
        "require_tls": index % 9 != 0, "require_valid_cert": index % 2 == 0, "version": 1.1 if index % 11 == 0 else 1.2,
        "tracking_settings/open": {"enabled": index % 4 == 0},
        "tracking_settings/click": {"enabled": index % 5 != 0},
        "mail_settings/footer": {"enabled": True, "html_content": "<p>Sent by %s</p>" % name,
                                 "plain_content": "Sent by %s" % name},
    }
    if index % 7 == 0:
        state["tracking_settings/subscription"] = {"enabled": True, "html_content": "<p>Unsubscribe: <% %></p>",
                                                   "plain_content": "Unsubscribe: <% %>"}
    if index % 6 == 0:
        state["mail_settings/forward_spam"] = {"enabled": True, "email": "spam@example.com,abuse@example.com"}
    if index % 10 == 0:
        # this machine (127.0.0.1) is on every list: SendGrid, and the local server, refuse it otherwise
        state["access_settings/whitelist"] = ["203.0.113.0/24", "198.51.100.%d" % index, "127.0.0.1"]
    if index % 3 == 0:
        state["api_keys"] = [{"name": "ci-%s" % name, "scopes": ["mail.send", "stats.read"]}]
    if index == 12:
        state["api_keys"].append({"name": "admin-%s" % name, "scopes": ["api_keys.read", "mail.send"]})
    if index % 8 == 0:
        state["teammates"] = [{"username": "dev-%s" % name, "email": "dev-%s@example.com" % name,
                               "scopes": ["stats.read"]}]
    if index % 13 == 0:
        state["teammates/pending"] = [{"email": "new-%s@example.com" % name, "scopes": ["mail.send"]}]
    if index % 5 == 0:
        state["user/webhooks/event/settings"] = [{"url": "https://hooks.example.com/sendgrid/%s" % name,
                                                  "friendly_name": "events", "enabled": True, "signed": True,
                                                  "delivered": True}]
    if index == 25:
        state["user/webhooks/event/settings"].append({"url": "http://legacy.example.net/events",
                                                      "friendly_name": "legacy", "enabled": True})
    if index == 14:
        # text anyone with a subuser's settings may write, which Jinja would run on the controller: it must be sent
        # back as it is, never run (the file tags it !unsafe)
        state["tracking_settings/subscription"] = {"enabled": True, "html_content": injected("subscription"),
                                                   "plain_content": "Unsubscribe: <% %>"}
        state.setdefault("api_keys", []).append({"name": injected("key"), "scopes": ["api_keys.read"]})
    if index == 40:
        # an allow list open to every address: exported as it is (allow_any_address), and warned about
        state["access_settings/whitelist"] = ["127.0.0.1", "0.0.0.0/0"]
    return state


def estate() -> dict:
    state = {name: account_state(index, name) for index, name in enumerate(SUBUSERS, start=1)}
    state["parent"] = dict(account_state(60, "parent"), teammates=[
        {"username": "ops", "email": "ops@example.com", "is_admin": True}])
    return state


def block(block_id: str):
    found = [b for b in doc_examples.all_blocks(REPO_ROOT) if b.id == block_id]
    assert len(found) == 1, "%s has no single block %s: the section moved or was renamed" % (GUIDE, block_id)
    return found[0]


def commands() -> tuple:
    """(the export's argv, the plan's argv), as the guide writes them."""
    argvs = []
    for line in block(COMMANDS_BLOCK).text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] != "export":
            assert words[0] == "ansible-playbook", "the test does not know how to run %r" % line
            argvs.append(words)
    (export,) = [argv for argv in argvs if "mailops.sendgrid.export" in argv]
    (plan,) = [argv for argv in argvs if "mailops.sendgrid.baseline" in argv]
    return export, plan


def apply_of(plan: list) -> list:
    """The pipeline's apply: its plan without --check and the drift gate (guide_pipelines.rst)."""
    argv = [word for word in plan if word != "--check"]
    index = argv.index("baseline_fail_on_drift=true")
    return argv[:index - 1] + argv[index + 1:]


class Run:
    def __init__(self, completed: subprocess.CompletedProcess, sent: list, tasks: list):
        self.completed, self.sent, self.tasks = completed, sent, tasks
        self.rc, self.stdout = completed.returncode, completed.stdout

    def explain(self) -> str:
        return "rc %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            self.rc, self.stdout[-8000:], self.completed.stderr[-3000:])

    def recap(self) -> dict:
        match = re.search(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                          self.stdout, re.MULTILINE)
        assert match, self.explain()
        return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))

    def result(self, task: str) -> dict:
        (found,) = [entry["result"] for entry in self.tasks if entry["task"] == task]
        return found


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    state = estate()
    options = dict(keys={KEY: SERVER_KEYS[KEY]}, subusers=[name + (":eu" if name in EU else "") for name in SUBUSERS],
                   state=state)
    servers = [module_start_server(**options), module_start_server(region="eu", **options)]
    checkout = tmp_path_factory.mktemp("export")
    export, plan = commands()
    bin_dir = str(Path(sys.executable).parent)

    def run(name: str, argv: list) -> Run:
        results_file = checkout.parent / ("%s-results.json" % name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SENDGRID_", "PYTEST_"))}
        env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,
                   ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_PLUGINS), ANSIBLE_CALLBACKS_ENABLED="integration_results",
                   INTEGRATION_RESULTS_FILE=str(results_file), ANSIBLE_NOCOLOR="1", SENDGRID_API_KEY=KEY,
                   SENDGRID_API_URL=servers[0].url, SENDGRID_EU_API_URL=servers[1].url, PYTHONWARNINGS="ignore")
        seen = [len(server.requests()) for server in servers]
        completed = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=300,
                                   check=False)
        sent = [call for server, count in zip(servers, seen) for call in calls(server)[count:]]
        recorded = results_file.read_text(encoding="utf-8") if results_file.exists() else '{"tasks": []}'
        places = dict(stdout=completed.stdout, stderr=completed.stderr, results=recorded)
        places.update({str(path): path.read_text(encoding="utf-8") for path in checkout.rglob("*") if path.is_file()})
        leaks = [(place, secret[:12]) for place, text in places.items() for secret in SECRETS if secret in text]
        assert leaks == [], leaks
        return Run(completed, sent, json.loads(recorded)["tasks"])

    runs = {"export": run("export", export)}
    assert runs["export"].rc == 0, runs["export"].explain()
    runs["file"] = (checkout / POLICY_FILE).read_text(encoding="utf-8")
    runs["apply"] = run("apply", apply_of(plan))
    runs["plan"] = run("plan", plan)
    account, setting, _key = DRIFTED
    servers[0].set_state(account, {"enabled": not state[account][setting]["enabled"]}, setting=setting)  # by hand
    runs["drifted plan"] = run("drifted plan", plan)
    runs["report"] = json.loads((checkout / "reports" / "baseline_report.json").read_text(encoding="utf-8"))
    runs["checkout"] = checkout
    return runs


def test_the_guide_runs_the_export_then_the_pipeline_s_plan_with_its_file():
    export, plan = commands()
    assert export[1] == "mailops.sendgrid.export" and "export_dest=" + POLICY_FILE in export, export
    assert plan[1] == "mailops.sendgrid.baseline" and "@" + POLICY_FILE in plan, plan
    assert {"--check", "--diff", "baseline_fail_on_drift=true"} <= set(plan), plan
    assert not any("SG." in word or "api_key" in word for word in export + plan)


def test_the_export_writes_a_commented_sorted_file_that_e_at_file_takes(runs):
    run, text = runs["export"], runs["file"]
    assert run.rc == 0 and run.recap()["changed"] == 1, run.explain()
    assert text.startswith("---\n# Security baseline policy for the role mailops.sendgrid.baseline"), text[:300]
    header = [line for line in text.splitlines() if line.startswith("#")]
    said = " ".join(line[1:].strip() for line in header)   # the header's words, however it is wrapped
    assert any(line.startswith("# Exported at ") and re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line)
               for line in header), header
    assert "Accounts: 55 accounts (the parent and 54 subusers); discovery found 54 subusers." in said, said
    policy = yaml.load(text, Loader=FileLoader)  # noqa: S506 (a SafeLoader)
    result = run.result("Read every account and write the policy")
    assert result["policy"] == policy and result["summary"]["accounts"] == 55
    assert not [warning for warning in result.get("warnings", []) if "would refuse" in warning], result["warnings"]
    # the header's counts are the file's
    overridden = [entry["name"] for entry in policy["baseline_subusers"]]
    overridden += ["parent"] if policy["baseline_parent"] else []
    assert sorted(result["summary"]["overridden_accounts"]) == sorted(overridden)
    assert "%d accounts differ, with %d overridden fields" % (len(overridden), result["summary"]["overrides"]) in said
    # sorted: the variables, and every mapping in them, in key order (a subuser's name first)

    def sorted_everywhere(value):
        if isinstance(value, dict):
            keys = [key for key in value if key != "name"]
            return keys == sorted(keys) and all(sorted_everywhere(item) for item in value.values())
        return all(sorted_everywhere(item) for item in value) if isinstance(value, list) else True
    assert sorted_everywhere(policy) and list(policy) == sorted(policy)
    assert all(list(entry)[0] == "name" for entry in policy["baseline_subusers"])
    assert max(len(line) for line in header) <= 110, header
    # the footers were left to the accounts, and the file says so; nothing secret is in it
    assert "footer" not in json.dumps(policy["baseline_mail_settings"]) or \
        "html_content" not in json.dumps(policy["baseline_mail_settings"]["footer"])
    assert not any("footer" in json.dumps(entry) and "Sent by" in json.dumps(entry) for entry in policy["baseline_subusers"])
    assert "- mail_settings.footer.html_content (leave_out" in said, said
    assert "OAuth client secrets are write-only" in said and "secrets are shown once" in said, said
    # what most accounts have is the policy; what few have is an override of theirs
    # 28 of 55 require a valid certificate (the parent and the even subusers): the policy; the others override it
    assert policy["baseline_enforced_tls"] == {"require_tls": True, "require_valid_cert": True,
                                               "min_tls_version": "1.2"}
    by_name = {entry["name"]: entry for entry in policy["baseline_subusers"]}
    assert by_name["acct-09"]["enforced_tls"] == {"require_tls": False, "require_valid_cert": False}
    assert by_name["acct-11"]["enforced_tls"] == {"min_tls_version": "1.1", "require_valid_cert": False}
    assert by_name["acct-25"]["event_webhooks"] == {"allowed_hosts": ["hooks.example.com", "legacy.example.net"],
                                                    "require_https": False, "require_signed": False}
    assert by_name["acct-12"]["api_keys"]["allowed_control_keys"] == ["admin-acct-12"]
    assert policy["baseline_parent"]["teammates"]["members"] == {"ops@example.com": "admin"}
    assert by_name["acct-13"]["teammates"]["members"] == {"new-acct-13@example.com": ["mail.send"]}
    assert "eu-acct-53" not in by_name or "region" not in by_name["eu-acct-53"], "discovery gives the region"
    # the excerpt the guide shows holds variables a real file has
    assert set(yaml.safe_load(block(EXCERPT_BLOCK).text)) <= set(policy)
    # text Jinja would run is written tagged !unsafe, and taken back as it is
    assert "html_content: !unsafe '<p>{{ lookup(''ansible.builtin.pipe'', ''touch INJECTED-subscription'') }}" in text
    assert by_name["acct-14"]["tracking"]["subscription"]["html_content"] == injected("subscription")
    assert injected("key") in by_name["acct-14"]["api_keys"]["allowed_control_keys"]
    # an allow list open to every address is what it is, allowed so that the plan is in sync, and said
    assert by_name["acct-40"]["ip_access"]["allow_any_address"] is True
    assert any(warning.startswith("acct-40: its allow list lets every address in (0.0.0.0/0)")
               for warning in result["warnings"]), result["warnings"]
    # reading wrote nothing to SendGrid
    assert [call for call in run.sent if call.method in WRITES] == []


def test_the_baseline_with_the_exported_file_changes_nothing_on_any_account(runs):
    run = runs["apply"]
    assert run.rc == 0 and run.recap()["changed"] == 0 and run.recap()["failed"] == 0, run.explain()
    result = run.result("Apply the baseline to every account in one run")
    assert result["summary"]["accounts"] == 55 and result["summary"]["compliant"] == 55, result["summary"]
    assert result["drift"] == []
    assert [call for call in run.sent if call.method in WRITES] == []


def test_nothing_read_from_sendgrid_ran_on_the_controller(runs):
    assert not list(runs["checkout"].rglob("INJECTED-*")), "Jinja read from SendGrid ran on the controller"
    for name in ("apply", "plan", "drifted plan"):
        assert "INJECTED" not in runs[name].completed.stderr, runs[name].explain()


def test_the_plan_is_in_sync_until_one_account_changes_then_names_exactly_it(runs):
    assert runs["plan"].rc == 0, runs["plan"].explain()
    drifted = runs["drifted plan"]
    assert drifted.rc == 2, drifted.explain()
    account, _setting, key = DRIFTED
    assert [(item["account"], item["settings"]) for item in runs["report"]["drift"]] == [(account, [key])]
    assert [call for call in drifted.sent if call.method in WRITES] == []
