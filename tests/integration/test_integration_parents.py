"""Many parent accounts, one inventory host each (docs/docsite/rst/guide_pipelines.rst, "Many parent accounts").

The guide's inventory and its two ansible-playbook lines run as written, with ``--forks 3``, against three local
servers, one per parent, each knowing only its parent's key: two keys from the environment, one from a variable
encrypted with ansible-vault in ``host_vars/``, as the inventory says. A second inventory of the test's own only
points each host at its server (``baseline_api_url``). The policy is the pipeline guide's. Three runs, one after the
other, each in a fresh checkout:

1. apply: every parent converged, each server sent exactly its accounts' writes with its own key; three reports, each
   in its parent's directory, naming it first, none overwritten;
2. plan after one subuser of one parent drifted: exit 2, that parent's gate names it, the account and the setting;
   the others are in sync, nothing is written;
3. plan with that drift still there, another parent's key revoked and a fourth parent whose variable the role
   refuses: exit 4 (no verdict for the run), yet each parent's gate and report give its own verdict.

No key may appear in any output, the log, the reports or any file of the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

import doc_examples
from conftest import CALLBACK_PLUGINS, COLLECTIONS_ROOT, KEY, REPO_ROOT, SERVER_KEYS, calls, header

GUIDE = "docs/docsite/rst/guide_pipelines.rst"
INVENTORY_BLOCK = GUIDE + ":many-parent-accounts"
COMMANDS_BLOCK = GUIDE + ":many-parent-accounts:bash"
POLICY_BLOCK = GUIDE + ":the-policy"
POLICY_FILE, INVENTORY_FILE = "sendgrid-baseline.yml", "parents.yml"

# One key per parent; each server knows its parent's key only (with the scopes of the suite's usual key).
KEYS = {"agency_a": "SG.parents-SECRET-a41c.agency-a-Wm3",
        "agency_b": "SG.parents-SECRET-b52d.agency-b-Rt7",
        "agency_c": "SG.parents-SECRET-c63e.agency-c-Hy9"}
REVOKED = "SG.parents-SECRET-d74f.revoked-Pz4"
SECRETS = tuple(KEYS.values()) + (REVOKED, KEY)
VAULT_PASSWORD = "parents-vault-password-8Jd"
# The subusers of each parent; "sandbox-*" is what the guide's policy excludes.
SUBUSERS = {"agency_a": ["marketing", "billing", "sandbox-trial"], "agency_b": ["support", "marketing"],
            "agency_c": ["ops"]}
COVERED = {host: ["parent"] + [name for name in names if not name.startswith("sandbox-")]
           for host, names in SUBUSERS.items()}
# What the guide's policy changes on a fresh account, as SendGrid's API takes it: Enforced TLS, open and click tracking.
POLICY_WRITES = [("PATCH", "/v3/tracking_settings/click", {"enabled": False}),
                 ("PATCH", "/v3/tracking_settings/open", {"enabled": False}),
                 ("PATCH", "/v3/user/settings/enforced_tls",
                  {"require_tls": True, "require_valid_cert": True, "version": 1.2})]
DRIFTED = ("agency_b", "support", "tracking.open")
BAD_HOST = "agency_d"
WRITES = ("PATCH", "POST", "PUT", "DELETE")
ENV_LOOKUP = re.compile(r"^\{\{ lookup\('ansible\.builtin\.env', '([A-Z0-9_]+)'\) \}\}$")
VAULT_VARIABLE = re.compile(r"^\{\{ (vault_[a-z0-9_]+) \}\}$")


def block(block_id: str):
    found = [b for b in doc_examples.all_blocks(REPO_ROOT) if b.id == block_id]
    assert len(found) == 1, "%s has no single block %s: the section moved or was renamed" % (GUIDE, block_id)
    return found[0]


def inventory() -> dict:
    return yaml.safe_load(block(INVENTORY_BLOCK).text)


def key_sources() -> dict:
    """{host: ("env", VARIABLE) or ("vault", variable)}: where the guide's inventory takes each parent's key."""
    sources = {}
    for host, variables in inventory()["sendgrid_parents"]["hosts"].items():
        value = variables["baseline_api_key"]
        env, vault = ENV_LOOKUP.match(value), VAULT_VARIABLE.match(value)
        assert env or vault, "%s: a key neither from the environment nor from a vaulted variable: %s" % (host, value)
        sources[host] = ("env", env.group(1)) if env else ("vault", vault.group(1))
    return sources


def commands() -> tuple:
    """(the names the block exports, the argv of its plan and of its apply)."""
    exported, argvs = [], []
    for line in block(COMMANDS_BLOCK).text.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            exported += words[1:]
        else:
            assert words[0] == "ansible-playbook", "the test does not know how to run %r" % line
            argvs.append(words)
    (plan,) = [argv for argv in argvs if "--check" in argv]
    (apply,) = [argv for argv in argvs if "--check" not in argv]
    return exported, plan, apply


def test_the_guide_s_inventory_gives_each_parent_its_own_key_from_the_environment_or_a_vault():
    parents = inventory()["sendgrid_parents"]
    assert sorted(parents["hosts"]) == sorted(KEYS)
    assert parents["vars"]["ansible_connection"] == "local"
    sources = key_sources()
    assert {kind for kind, _name in sources.values()} == {"env", "vault"}
    assert len({name for _kind, name in sources.values()}) == len(KEYS), "two parents share a key"
    exported, plan, apply = commands()
    for argv in (plan, apply):
        assert argv[1] == "mailops.sendgrid.baseline" and argv[argv.index("-i") + 1] == INVENTORY_FILE, argv
        assert argv[argv.index("--forks") + 1] == "3" and "baseline_hosts=sendgrid_parents" in argv, argv
        assert "@" + POLICY_FILE in argv, argv
        assert not any("KEY" in word or "key" in word for word in argv), argv
    assert {"--check", "--diff", "baseline_fail_on_drift=true"} <= set(plan) and "--check" not in apply
    # every variable the commands need is exported: the parents' keys, the key's name, the vault's password file
    assert set(exported) == {name for kind, name in sources.values() if kind == "env"} | {
        "SENDGRID_API_KEY_NAME", "ANSIBLE_VAULT_PASSWORD_FILE"}, exported
    for block_id in (INVENTORY_BLOCK, COMMANDS_BLOCK):
        assert not re.search(r"\bSG\.", block(block_id).text), block_id


# ----------------------------------------------------------------------------- the three runs

class Run:
    """One ansible-playbook run of the guide's command in a checkout of its own."""

    def __init__(self, checkout: Path, completed: subprocess.CompletedProcess, sent: dict, log: str, tasks: list):
        self.checkout, self.completed, self.sent, self.log, self.tasks = checkout, completed, sent, log, tasks
        self.rc, self.stdout = completed.returncode, completed.stdout

    def explain(self) -> str:
        return "rc %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            self.rc, self.stdout[-8000:], self.completed.stderr[-3000:])

    def reports(self) -> dict:
        """{relative path: text} of every file under reports/."""
        return {path.relative_to(self.checkout / "reports").as_posix(): path.read_text(encoding="utf-8")
                for path in sorted((self.checkout / "reports").rglob("*")) if path.is_file()}

    def report(self, host: str) -> dict:
        return json.loads(self.reports()["%s/baseline_report.json" % host])

    def gate(self, host: str) -> tuple:
        """(status, message) of the role's drift gate on the host, as the test callback recorded them."""
        found = [(task["status"], task["result"].get("msg")) for task in self.tasks
                 if task["host"] == host and task["task"] == "Fail the dry run on drift"
                 and task["status"] != "skipped"]
        assert len(found) == 1, "%s: %s\n%s" % (host, found, self.explain())
        return found[0]

    def recap(self, host: str) -> dict:
        match = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(host),
                          self.stdout, re.MULTILINE)
        assert match, self.explain()
        return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def writes(calls_: list) -> list:
    """(method, path, account, JSON body) of every write, sorted; the parent is the account without On-Behalf-Of."""
    return sorted(((call.method, call.path, call.on_behalf_of or "parent", json.dumps(call.body, sort_keys=True))
                   for call in calls_ if call.method in WRITES))


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    """The three runs, in order, against the same three servers; {name: Run} with each server's requests of the run."""
    servers = {host: module_start_server(keys={key: SERVER_KEYS[KEY]}, subusers=SUBUSERS[host])
               for host, key in KEYS.items()}
    base = tmp_path_factory.mktemp("parents")
    vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    password_file = base / "vault-password"
    password_file.write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
    # points each parent at its local server: the only thing the guide's inventory does not say
    local = base / "local-servers.yml"
    local.write_text(yaml.safe_dump({"all": {"hosts": {host: {"baseline_api_url": server.url}
                                                       for host, server in servers.items()}}}), encoding="utf-8")
    _exported, plan, apply = commands()
    bin_dir = str(Path(sys.executable).parent)
    results = {}

    def run(name: str, argv: list, keys: dict, verbosity: str | None = None, more: Path | None = None) -> Run:
        checkout = base / name
        (checkout / "host_vars").mkdir(parents=True)
        (checkout / POLICY_FILE).write_text(block(POLICY_BLOCK).text, encoding="utf-8")
        (checkout / INVENTORY_FILE).write_text(block(INVENTORY_BLOCK).text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SENDGRID_", "JUNIT_", "PYTEST_"))}
        results_file = base / (name + "-results.json")
        env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,
                   # the suite's test-only callback records each host's task results (the gates' messages)
                   ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_PLUGINS), ANSIBLE_CALLBACKS_ENABLED="integration_results",
                   INTEGRATION_RESULTS_FILE=str(results_file),
                   ANSIBLE_VAULT_PASSWORD_FILE=str(password_file), ANSIBLE_LOG_PATH=str(base / (name + ".log")),
                   ANSIBLE_NOCOLOR="1", SENDGRID_API_KEY_NAME="start key 1")
        for host, (kind, variable) in key_sources().items():
            if kind == "env":
                env[variable] = keys[host]
            else:
                encrypted = vault.encrypt(keys[host]).decode()
                (checkout / "host_vars" / (host + ".yml")).write_text(
                    "%s: !vault |\n  %s\n" % (variable, encrypted.strip().replace("\n", "\n  ")), encoding="utf-8")
        seen = {host: len(server.requests()) for host, server in servers.items()}
        argv = list(argv) + ["-i", str(local)] + (["-i", str(more)] if more else []) + ([verbosity] if verbosity else [])
        completed = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=300,
                                   check=False)
        sent = {host: list(zip(server.requests()[seen[host]:], calls(server)[seen[host]:]))
                for host, server in servers.items()}
        # (the callback writes its file when the playbook ends: an ansible-playbook that died early leaves none)
        recorded = results_file.read_text(encoding="utf-8") if results_file.exists() else '{"tasks": []}'
        result = Run(checkout, completed, sent, (base / (name + ".log")).read_text(encoding="utf-8"),
                     json.loads(recorded)["tasks"])
        # no key, the parents' or the revoked one, anywhere: output, log, results, reports, any file of the checkout
        places = dict(stdout=completed.stdout, stderr=completed.stderr, log=result.log, results=recorded)
        places.update({str(path): path.read_text(encoding="utf-8") for path in checkout.rglob("*") if path.is_file()})
        leaks = [(place, secret[:12]) for place, text in places.items() for secret in SECRETS if secret in text]
        assert leaks == [], leaks
        return result

    results["apply"] = run("apply", apply, KEYS, verbosity="-vvvv")
    host, account, setting = DRIFTED
    servers[host].set_state(account, {"enabled": True}, setting="tracking_settings/open")   # by hand, in the UI
    results["plan"] = run("plan", plan, KEYS)
    # a fourth parent whose own variable the role's argument check refuses: the playbook, not the role, reports it
    fourth = base / "fourth-parent.yml"
    fourth.write_text(yaml.safe_dump({"sendgrid_parents": {"hosts": {BAD_HOST: {"baseline_timeout": "soon"}}}}),
                      encoding="utf-8")
    results["plan with a revoked key"] = run("plan-revoked", plan, dict(KEYS, agency_c=REVOKED), more=fourth)
    results["servers"] = servers
    return results


def test_one_run_converges_every_parent_each_with_its_own_key(runs):
    apply, servers = runs["apply"], runs["servers"]
    assert apply.rc == 0, apply.explain()
    for host, key in KEYS.items():
        sent = apply.sent[host]
        assert sent, host
        # each parent's requests reached its own server only, with its own key, and were answered
        assert {header(entry, "Authorization") for entry, _call in sent} == {"Bearer " + key}, host
        assert all(entry["status"] < 300 for entry, _call in sent), [(e["method"], e["path"], e["status"]) for e, _call in sent]
        assert writes([call for _entry, call in sent]) == sorted(
            (method, path, account, json.dumps(body, sort_keys=True))
            for account in COVERED[host] for method, path, body in POLICY_WRITES), host
        # every covered account was read on its parent's server, and the excluded subuser never was
        assert {call.on_behalf_of or "parent" for _entry, call in sent if call.path == "/v3/user/settings/enforced_tls"
                and call.method == "GET"} == set(COVERED[host]), host
        assert not [call for _entry, call in sent if (call.on_behalf_of or "").startswith("sandbox-")], host
        tls = servers[host].state()
        for account in COVERED[host]:
            assert tls[account] == {"require_tls": True, "require_valid_cert": True, "version": 1.2}, (host, account)
        assert apply.recap(host)["changed"] >= 1 and apply.recap(host)["failed"] == 0, apply.explain()
    # -vvvv printed the module arguments, the key censored
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in apply.stdout


def test_each_parent_writes_its_own_report_naming_it_first(runs):
    apply = runs["apply"]
    assert sorted(apply.reports()) == sorted("%s/baseline_report.%s" % (host, extension)
                                             for host in KEYS for extension in ("json", "md", "xml"))
    for host in KEYS:
        report = apply.report(host)
        assert list(report)[:3] == ["outcome", "complete", "inventory_host"], list(report)
        assert (report["outcome"], report["inventory_host"], report["dry_run"]) == ("changed", host, False)
        assert [account["name"] for account in report["accounts"]] == COVERED[host]
        assert report["summary"]["changed"] == len(COVERED[host]) and report["summary"]["failed"] == 0
        assert report["discovered"] == len(SUBUSERS[host])
        markdown = apply.reports()["%s/baseline_report.md" % host].split("\n")
        assert markdown[0] == "# Security baseline report: %s" % host
        assert markdown[2].startswith("**Applied: %d of %d accounts changed" % (len(COVERED[host]), len(COVERED[host])))
        suite = ET.fromstring(apply.reports()["%s/baseline_report.xml" % host]).find("testsuite")
        assert (suite.get("name"), suite.get("hostname")) == ("mailops.sendgrid.baseline (%s)" % host, host)
        assert {case.get("classname") for case in suite.iter("testcase")} == {
            "%s/%s" % (host, account) for account in COVERED[host]}


def test_a_plan_where_one_parent_drifted_exits_2_and_names_that_parent_account_and_setting(runs):
    plan = runs["plan"]
    host, account, setting = DRIFTED
    assert plan.rc == 2, plan.explain()
    message = ("Drift (baseline_fail_on_drift) on %s: 1 of %d accounts would change or have a flagged event webhook, "
               "API key or teammate: %s (%s). The report is in %s." % (
                   host, len(COVERED[host]), account, setting, plan.checkout / "reports" / host))
    assert plan.gate(host) == ("failed", message)
    # at the default verbosity, the failure's one line does not name the host: the message does
    assert "[ERROR]: Task failed: Action failed: " + message in plan.stdout, plan.explain()
    for other in set(KEYS) - {host}:
        assert plan.gate(other) == ("ok", "In sync (baseline_fail_on_drift) on %s: none of the %d accounts would "
                                          "change or have a flagged event webhook, API key or teammate." % (
                                              other, len(COVERED[other])))
        assert plan.recap(other)["failed"] == 0 and plan.report(other)["outcome"] == "in_sync"
    assert plan.recap(host)["failed"] == 1 and plan.recap(host)["unreachable"] == 0
    assert [call for sent in plan.sent.values() for _entry, call in sent if call.method in WRITES] == []
    assert all(plan.sent.values()), "a parent was not read"
    report = plan.report(host)
    assert (report["outcome"], report["inventory_host"]) == ("drift", host)
    assert report["drift"] == [{"account": account, "settings": [setting], "flagged": {}}]
    cases = ET.fromstring(plan.reports()["%s/baseline_report.xml" % host]).iter("testcase")
    assert [(case.get("classname"), case.get("name")) for case in cases if case.find("failure") is not None] == [
        ("%s/%s" % (host, account), setting)]


def test_a_plan_where_one_parent_fails_exits_4_while_the_others_give_their_own_verdicts(runs):
    plan = runs["plan with a revoked key"]
    host, account, setting = DRIFTED
    assert plan.rc == 4, plan.explain()
    status, message = plan.gate("agency_c")
    assert status == "unreachable" and message.startswith(
        "No verdict (baseline_fail_on_drift) on agency_c: the plan did not complete"), message
    assert "HTTP 401" in message and message.endswith("The report is in %s." % (plan.checkout / "reports" / "agency_c"))
    assert plan.recap("agency_c")["unreachable"] == 1
    assert plan.gate(host) == runs["plan"].gate(host)[:1] + (
        runs["plan"].gate(host)[1].replace("/plan/reports/", "/plan-revoked/reports/"),)
    assert plan.gate("agency_a") == runs["plan"].gate("agency_a")
    assert {h: plan.report(h)["outcome"] for h in list(KEYS) + [BAD_HOST]} == {
        "agency_a": "in_sync", "agency_b": "drift", "agency_c": "incomplete", BAD_HOST: "incomplete"}
    # the fourth parent stopped at the role's argument check: the playbook's own gate and report name it
    status, message = plan.gate(BAD_HOST)
    assert status == "unreachable" and message.startswith(
        "No verdict (baseline_fail_on_drift) on %s: the plan did not complete, so it cannot say whether any account "
        "drifted (exit code 4, not 2). The run stopped before the baseline was applied" % BAD_HOST), message
    assert message.endswith("The report is in %s." % (plan.checkout / "reports" / BAD_HOST))
    assert plan.report(BAD_HOST)["inventory_host"] == BAD_HOST
    output = plan.stdout + plan.completed.stderr
    assert "argument 'baseline_timeout' is of type str" in output, plan.explain()
    assert plan.reports()["agency_c/baseline_report.md"].startswith(
        "# Security baseline report: agency_c\n\n**This run did not complete")
    # the revoked key was sent, and refused, by agency_c's server; nothing was written anywhere
    assert {entry["status"] for entry, _call in plan.sent["agency_c"]} == {401}
    assert [call for sent in plan.sent.values() for _entry, call in sent if call.method in WRITES] == []
