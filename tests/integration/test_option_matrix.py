"""Every documented option of every module and role, alone, null and as an -e string, on every available ansible-core.

Cases are generated from the argument specs when the tests are collected (option_matrix.py): a new option gets
cases without a test being written, and an option whose valid value can come neither from its type nor from
option_matrix.SAMPLES fails test_every_option_has_a_generated_or_sample_value. Version 1.0 shipped a role whose
documented defaults failed validation and whose -e strings were misread, because every test passed a full, typed
policy: here each option is given alone, at its defaults, as null and as a string.

Each case runs against its own fresh servers (SENDGRID_API_URL and SENDGRID_EU_API_URL point there through the
play's environment; the API key comes from SENDGRID_API_KEY) and is judged on what the servers received, against
option_matrix's model of the documentation. The cases of every source, accepted and rejected, share a few
ansible-playbook runs per ansible-core (a module's start-up is most of a case's cost and ansible-playbook's about two
cases': cases are kept few, runs fewer): one play per case, each on its own inventory host (with a do-nothing
"sentinel" host beside it, because ansible-playbook stops every later play once all hosts of a play have failed). The
runs happen once per session, all of them at the start, three at a time; under pytest-xdist the first worker runs them
and the other reads the results from a shared file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import trustme
import yaml
from filelock import FileLock

import option_matrix as om
from conftest import (
    COLLECTIONS_ROOT, CRASH_MARKERS, DEFAULT_SETTINGS, KEY, REPO_ROOT, SECRETS, SENTINEL, SENTINEL_LEAVES, batch_tasks,
    playbook_env, run_playbook, sg,
)

# A key that only the servers of an api_key case know: the case passes only if the option beats SENDGRID_API_KEY.
OPTION_KEY = "SG.integration-SECRET-5e8a1c3f7b.option-key-Rt4"
ALL_SECRETS = SECRETS + (OPTION_KEY,) + om.SECRET_SAMPLES
OPTION_KEY_TEMPLATE = "{{ lookup('ansible.builtin.env', 'IT_OPTION_KEY') }}"
BATCH_TIMEOUT = 900
# The most cases one ansible-playbook run holds (about 0.8 s each): few enough that three runs at a time end together.
RUN_SIZE = 45

SOURCES = {source.label: source for source in om.load_sources(
    REPO_ROOT, playbook_env({"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_ROOT}))}
MODULE_OPTIONS = {source.name: source.options for source in SOURCES.values() if source.kind == "module"}
ROLES = [source for source in SOURCES.values() if source.kind == "role"]
CASES = om.generate_cases(SOURCES.values())
CORES = om.available_cores(REPO_ROOT)


def core_params(items, ids, on_every_core=lambda item: True):
    """Each item on the first core, and on every other core those ``on_every_core`` picks; the cores that are absent
    are skipped, saying how to create them."""
    params = []
    for number, core in enumerate(CORES):
        marks = [pytest.mark.skip(reason=core.missing)] if core.missing else []
        params += [pytest.param(core, item, id="%s:%s" % (core.label, ids(item)), marks=marks) for item in items
                   if number == 0 or on_every_core(item)]
    return params


def core_sensitive(case) -> bool:
    """Whether a case checks what may differ between ansible-core versions, and so runs on every core.

    A role's defaults, nulls and refusals go through the core's role argument-spec validation and templating: every
    core. A module's documented defaults: every core (AnsibleModule applies them). What a module makes of a value
    given (sent as the request model says, or refused naming the option with nothing sent) is the module's own doing,
    the same on every core: first core only. The matrix is the suite's largest cost (each case is a module run, about
    half a CPU-second), and the suite must stay under 8 minutes on 2 cores."""
    if SOURCES[case.source].kind == "role":
        return case.kind != "alone"
    return case.kind == "defaults"


ACCEPTED = [case for case in CASES if case.kind in ("defaults", "alone", "null")]
REJECTED = [case for case in CASES if case.kind == "rejected"]
EXTRA_VARS = {role.label: om.extra_var_values(role) for role in ROLES}
EXTRA_VAR_ITEMS = [(role.label, name) for role in ROLES for name in EXTRA_VARS[role.label]]


# ----------------------------------------------------------------------------- the generation itself

def test_every_option_has_a_generated_or_sample_value():
    """A new option whose valid value the type cannot give needs a sample, or it would go untested."""
    missing = ["%s: %s (type %s)" % (source.label, option.name, option.type)
               for source in SOURCES.values() for option in om.valued_options(source)
               if om.generated_values(source, option) is None]
    assert not missing, "no generator and no sample (add one to option_matrix.SAMPLES):\n" + "\n".join(missing)


def test_every_required_option_is_given():
    """An option documented as required (but the connection's: the API key comes from the environment) has a value in
    REQUIRED, else every case of its module fails on its absence; and REQUIRED names documented options only."""
    missing = ["%s: %s" % (source.name, option.name) for source in SOURCES.values() if source.kind == "module"
               for option in source.options.values() if option.required and option.name not in om.CONNECTION_OPTIONS
               and option.name not in [name for name, _value, _state in om.REQUIRED.get(source.name, ())]]
    assert not missing, "required options without a value in option_matrix.REQUIRED: %s" % missing
    unknown = ["%s: %s" % (module, name) for module, values in om.REQUIRED.items() for name, _value, _state in values
               if name not in MODULE_OPTIONS.get(module, {})]
    assert not unknown, "REQUIRED names options no module documents: %s" % unknown


def test_the_tables_name_documented_options_only():
    module_options = {option.name for source in SOURCES.values() if source.kind == "module"
                      for option in list(source.options.values()) + om.valued_options(source)}
    role_variables = {name for role in ROLES for name in role.options}
    assert sorted(set(om.SAMPLES) - module_options) == [], "SAMPLES names options no module documents"
    assert sorted(set(om.INVALID_SAMPLES) - module_options) == [], "INVALID_SAMPLES names options no module documents"
    assert sorted(set(om.ROLE_ONLY) - role_variables) == [], "ROLE_ONLY names variables no role documents"
    assert sorted(set(om.NOT_AS_EXTRA_VAR) - role_variables) == [], "NOT_AS_EXTRA_VAR names unknown variables"


def test_every_source_is_read_and_has_a_model():
    """Guards the matrix against passing vacuously: every module and role is a source with options and a model."""
    assert sorted(s.name for s in SOURCES.values() if s.kind == "module") == om.module_names(REPO_ROOT)
    assert set(om.NOT_IN_MATRIX) <= set(om.all_module_names(REPO_ROOT)), "NOT_IN_MATRIX names no module"
    assert all((REPO_ROOT / test_file).is_file() for test_file, _why in om.NOT_IN_MATRIX.values()), om.NOT_IN_MATRIX
    assert sorted(r.name for r in ROLES) == sorted(p.name for p in (REPO_ROOT / "roles").iterdir() if p.is_dir())
    assert all(source.options for source in SOURCES.values())
    assert sorted(set(s.module for s in SOURCES.values()) - set(om.MODELS)) == [], "a module has no model"
    # the model's fresh account is the server's
    assert om.FRESH_SETTINGS == DEFAULT_SETTINGS == sg.DEFAULT_SETTINGS
    for family, sections in om.FRESH_SECTIONS.items():
        for section, fresh in sections.items():
            assert fresh == sg.SETTINGS["%s/%s" % (family, section)].default, (family, section)
    # every setting sendgrid_settings_info names is one the server keeps (the server may keep more)
    assert set(om.INFO_SETTINGS.values()) <= {setting.path for setting in sg.SETTINGS.values()}
    # the allow list: a fresh account's is the server's, at the paths the server serves
    assert om.FRESH_ALLOW_LIST == sg.SETTINGS["access_settings/whitelist"].default
    assert om.ALLOW_LIST_PATH == sg.SETTINGS["access_settings/whitelist"].path
    assert sg.match_path(om.ACTIVITY_PATH)[0] == om.ACTIVITY_PATH
    # every section of a settings module is a setting the model knows, and the reverse
    for module, family in om.SECTION_FAMILIES.items():
        sections = sorted(name for name, option in MODULE_OPTIONS[module].items() if option.suboptions)
        assert sections == sorted(om.FRESH_SECTIONS[family]), module


def test_every_role_variable_reaches_the_module_or_has_its_own_check():
    for role in ROLES:
        unhandled = sorted(set(role.options) - set(role.to_module) - set(om.ROLE_ONLY))
        assert not unhandled, "%s: variables neither handed to %s nor in ROLE_ONLY: %s" % (role.name, role.module, unhandled)


def readme_defaults(role) -> dict:
    """The default column of the role README's variable table, parsed as YAML; "(none)" is no default."""
    table = {}
    for line in (REPO_ROOT / "roles" / role.name / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*`(\w+)`\s*\|\s*(.*?)\s*\|", line)
        if match:
            cell = match.group(2)
            table[match.group(1)] = om.MISSING if cell == "(none)" else yaml.safe_load(cell.strip("`"))
    return table


@pytest.mark.parametrize("role, name", [(role, name) for role in ROLES for name in role.options],
                         ids=["%s:%s:documented-default" % (role.label, name) for role in ROLES for name in role.options])
def test_role_documented_defaults_agree(role, name):
    """README table, defaults/main.yml and the argument spec give one default (the spec may omit it)."""
    defaults = om.role_defaults(REPO_ROOT / "roles" / role.name)
    spec = yaml.safe_load((REPO_ROOT / "roles" / role.name / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    spec_option = spec["argument_specs"][om.ROLE_ENTRY_POINT]["options"][name]
    readme = readme_defaults(role)
    assert name in readme, "the README's variable table has no row for %s" % name
    assert readme[name] == defaults.get(name, om.MISSING), "README says %r, defaults/main.yml %r" % (
        readme[name], defaults.get(name, "(not set)"))
    if "default" in spec_option:
        assert spec_option["default"] == defaults.get(name, om.MISSING), "argument spec says %r, defaults/main.yml %r" % (
            spec_option["default"], defaults.get(name, "(not set)"))


# ----------------------------------------------------------------------------- running the cases

class Context:
    """What a case needs from its servers, worked out from the values it gives (before they are resolved)."""

    def __init__(self, source, given: dict):
        to_module = {om.module_option(source, name): value for name, value in given.items()}
        self.option_server = to_module.get("api_url") == om.SAMPLES["api_url"][0]
        self.option_eu_server = to_module.get("eu_api_url") == om.SAMPLES["eu_api_url"][0]
        self.option_key = to_module.get("api_key") == om.SAMPLES["api_key"][0]
        # verification off, or a CA of our own: only an HTTPS server with an untrusted CA shows the option works
        self.https = to_module.get("validate_certs") is False or to_module.get("ca_path") is not None

    def servers(self, tls_files):
        keys = {OPTION_KEY: sg.ALL_SCOPES} if self.option_key else {KEY: sg.ALL_SCOPES}
        return om.Servers(sg, keys, tls_files if self.https else None, self.option_server, self.option_eu_server)


def resolve(value, servers, tls_files, workdir: Path, context):
    if value == om.SAMPLES["api_key"][0]:
        return OPTION_KEY_TEMPLATE
    if value == om.CALLING_KEY_ID:
        return om.key_id_of(OPTION_KEY if context.option_key else KEY)
    if value == om.SAMPLES["api_url"][0]:
        return servers.url("O")
    if value == om.SAMPLES["eu_api_url"][0]:
        return servers.url("OE")
    if value == om.SAMPLES["ca_path"][0]:
        return tls_files["ca"]
    if value == om.NEW_DIRECTORY:
        return str(Path(tempfile.mkdtemp(dir=workdir)) / "new")
    return value


def case_env(core) -> dict:
    """The key in the environment, as a vault-less user would export it; never in a playbook or on the command line."""
    # ansible-core 2.21 keeps a module's converted arguments ("invocation") out of results unless asked
    return dict(core.env(), SENDGRID_API_KEY=KEY, IT_OPTION_KEY=OPTION_KEY, ANSIBLE_INJECT_INVOCATION="1")


def play_for(source, case_id: str, host: str, given: dict, servers) -> dict:
    if source.kind == "role":
        task = {"name": case_id, "ansible.builtin.include_role": {"name": source.fqcn}}
        if given:
            task["vars"] = given
    else:
        task = {"name": case_id, source.fqcn: given}
    return {"name": case_id, "hosts": [host, SENTINEL], "gather_facts": False,
            "environment": {"SENDGRID_API_URL": servers.url("G"), "SENDGRID_EU_API_URL": servers.url("E")},
            "tasks": [SENTINEL_LEAVES, task]}


def write_inventory(path: Path, hosts) -> str:
    # localhost too: run_playbook passes "-i localhost," and the role delegates its report to localhost
    inventory = {"all": {"hosts": {host: {"ansible_connection": "local"}
                                   for host in list(hosts) + [SENTINEL, "localhost"]}}}
    path.write_text(json.dumps(inventory), encoding="utf-8")
    return str(path)


def reports(given_resolved: dict) -> dict:
    """The report files found in a report directory the case gave (role-only effect)."""
    found = {}
    for name, what in om.ROLE_ONLY.items():
        directory = given_resolved.get(name)
        if what == "report" and directory:
            report = Path(directory) / "enforced_tls_report.json"
            found[name] = {"json": json.loads(report.read_text(encoding="utf-8")) if report.exists() else None,
                           "md": (Path(directory) / "enforced_tls_report.md").exists()}
    return found


def play_output(stdout: str, case_id: str) -> str:
    start = stdout.find("PLAY [%s]" % case_id)
    if start < 0:
        return stdout[-4000:]
    end = stdout.find("\nPLAY [", start + 1)
    return stdout[start:end if end > 0 else len(stdout)][-6000:]


def run_batch(core, cases, tls_files, workdir: Path) -> dict:
    """One ansible-playbook run: a play per case, each on its own host and servers."""
    workdir.mkdir(parents=True, exist_ok=True)
    plays, started, resolved = [], {}, {}
    hosts = {case.id: "c%03d" % index for index, case in enumerate(cases)}
    result = {"cases": {}, "rc": None, "error": None}
    try:
        for case in cases:
            context = Context(SOURCES[case.source], case.given)
            servers = started[case.id] = context.servers(tls_files)
            resolved[case.id] = {name: resolve(value, servers, tls_files, workdir, context)
                                 for name, value in case.given.items()}
            plays.append(play_for(SOURCES[case.source], case.id, hosts[case.id], resolved[case.id], servers))
        playbook = workdir / "playbook.yml"
        playbook.write_text(json.dumps(plays, indent=1), encoding="utf-8")
        inventory = write_inventory(workdir / "inventory.json", hosts.values())
        started_at = time.monotonic()
        run = run_playbook(str(playbook), env=case_env(core), args=("-i", inventory), timeout=BATCH_TIMEOUT,
                           secrets=ALL_SECRETS)
        result.update(rc=run.rc, seconds=round(time.monotonic() - started_at, 1), stderr=run.stderr[-3000:])
        hosts_failed = sorted({t["host"] for t in run.tasks if t["status"] in ("failed", "unreachable")})
        for case in cases:
            result["cases"][case.id] = {
                "tasks": batch_tasks(run, hosts[case.id]),
                "output": play_output(run.stdout, case.id),
                "hosts_failed": hosts_failed,
                "host": hosts[case.id]}
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # a secret in the output, a timeout: every case of the batch fails with it
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        for case in cases:
            servers = started.get(case.id)
            entry = result["cases"].setdefault(case.id, {"tasks": [], "output": "", "hosts_failed": [], "host": None})
            entry["given"] = resolved.get(case.id, {})
            entry["servers"] = servers.record() if servers else {}
            entry["reports"] = reports(entry["given"]) if SOURCES[case.source].kind == "role" else {}
            if servers:
                servers.stop()
    return result


def run_extra_vars(core, role, typed: bool, tls_files, workdir: Path) -> dict:
    """The role once with every variable of EXTRA_VARS: as -e key=value strings, or typed in one -e JSON."""
    workdir.mkdir(parents=True, exist_ok=True)
    values = EXTRA_VARS[role.label]
    context = Context(role, values)
    servers = context.servers(tls_files)
    result = {"rc": None, "error": None}
    given = {name: resolve(value, servers, tls_files, workdir, context) for name, value in values.items()}
    try:
        play = play_for(role, "role from extra vars", "extra", {}, servers)
        playbook = workdir / "playbook.yml"
        playbook.write_text(json.dumps([play], indent=1), encoding="utf-8")
        args = ["-i", write_inventory(workdir / "inventory.json", ["extra"])]
        if not typed:
            for name, value in given.items():
                args += ["-e", "%s=%s" % (name, om.extra_var_text(value))]
        run = run_playbook(str(playbook), extra_vars=given if typed else None, env=case_env(core),
                           args=tuple(args), timeout=BATCH_TIMEOUT, secrets=ALL_SECRETS)
        result.update(rc=run.rc, tasks=batch_tasks(run, "extra"), output=run.stdout[-8000:],
                      command=" ".join(run.command))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        result.update(given=given, servers=servers.record(), reports=reports(given))
        servers.stop()
    return result


def batch_key(core, name: str) -> str:
    return "%s|%s" % (core.label, name)


def runs_of(cases: list) -> list:
    """The cases of one core in runs of at most RUN_SIZE: each source's cases together where they fit (first fit, the
    largest first), so that a run's plays are alike and the runs few."""
    by_source = {}
    for case in cases:
        by_source.setdefault(case.source, []).append(case)
    chunks = [group[start:start + RUN_SIZE] for group in by_source.values() for start in range(0, len(group), RUN_SIZE)]
    runs = []
    for chunk in sorted(chunks, key=len, reverse=True):
        run = next((run for run in runs if len(run) + len(chunk) <= RUN_SIZE), None)
        if run is None:
            runs.append(list(chunk))
        else:
            run.extend(chunk)
    return runs


def wanted_jobs(items) -> dict:
    """The runs the selected tests need: {key: (core, what)}; the case runs hold only the selected cases; nothing for
    skipped or broken cores."""
    jobs, cases = {}, {}
    for item in items:
        if Path(str(item.path)) != Path(__file__):
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        core = params.get("core")
        if core is None or core.missing or core.broken:
            continue
        if "case" in params:
            cases.setdefault(core.label, (core, {}))[1][params["case"].id] = params["case"]
        if "role_variable" in params or "role_label" in params:
            label = params.get("role_label") or params["role_variable"][0]
            for typed in (False, True):
                jobs[batch_key(core, "%s:extra-vars:%s" % (label, "typed" if typed else "strings"))] = (
                    core, ("extra", label, typed))
    for core, selected in cases.values():
        for number, run in enumerate(runs_of(list(selected.values())), 1):
            jobs[batch_key(core, "cases %d" % number)] = (core, ("batch", run))
    return jobs


def run_jobs(jobs: dict, directory: Path) -> dict:
    tls_dir = directory / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    tls_files = {name: str(tls_dir / ("%s.pem" % name)) for name in ("ca", "cert", "key")}
    authority.cert_pem.write_to_path(tls_files["ca"])
    for pem in issued.cert_chain_pems:
        pem.write_to_path(tls_files["cert"], append=True)
    issued.private_key_pem.write_to_path(tls_files["key"])

    def one(key):
        core, what = jobs[key]
        workdir = directory / re.sub(r"[^\w.-]+", "_", key)
        started_at = time.monotonic()
        if what[0] == "batch":
            result = run_batch(core, what[1], tls_files, workdir)
        else:
            result = run_extra_vars(core, SOURCES[what[1]], what[2], tls_files, workdir)
        result["wall"] = round(time.monotonic() - started_at, 1)
        return key, result

    # the biggest runs first; one more run than cores, since some cases wait (retries) rather than compute
    order = sorted(jobs, key=lambda key: -len(jobs[key][1][1]) if jobs[key][1][0] == "batch" else 0)
    started_at = time.monotonic()
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) + 1) as pool:
        results = dict(pool.map(one, order))
    # the run of each case's play: core|case id -> the run's key
    results["_runs"] = {batch_key(jobs[key][0], case.id): key for key in jobs if jobs[key][1][0] == "batch"
                        for case in jobs[key][1][1]}
    results["_timing"] = {"wall": round(time.monotonic() - started_at, 1),
                          "per_core": {core.label: round(sum(r["wall"] for k, r in results.items()
                                                             if k.startswith(core.label + "|")), 1) for core in CORES}}
    return results


@pytest.fixture(name="matrix", scope="session")
def fixture_matrix(request, tmp_path_factory):
    """Every run the selected tests need, done once: by this process, or read from the other xdist worker's file."""
    jobs = wanted_jobs(request.session.items)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    results_file = root / "option-matrix-results.json"
    with FileLock(str(results_file) + ".lock"):
        if results_file.exists():
            results = json.loads(results_file.read_text(encoding="utf-8"))
        else:
            directory = root / "option-matrix"
            results = run_jobs(jobs, directory)
            results_file.write_text(json.dumps(results, default=str), encoding="utf-8")
            shutil.rmtree(directory, ignore_errors=True)
            timing = results["_timing"]
            print("\noption matrix: %d runs in %.1f s wall; ansible-playbook seconds per core: %s" % (
                len(jobs), timing["wall"], timing["per_core"]))
    return results


def case_result(matrix, core, case) -> dict:
    if core.broken:
        pytest.fail(core.broken)
    batch = matrix[matrix["_runs"][batch_key(core, case.id)]]
    assert batch["error"] is None, batch["error"]
    return dict(batch["cases"][case.id], rc=batch["rc"])


# ----------------------------------------------------------------------------- the oracle

def expected_for(source, given: dict, record: dict):
    """The model's expectation (om.Refused when it says the task fails), with the case's servers and keys."""
    env = {"SENDGRID_API_URL": record["G"]["url"], "SENDGRID_EU_API_URL": record["E"]["url"], "SENDGRID_API_KEY": KEY}
    params = om.effective_module_params(source, given, MODULE_OPTIONS[source.module])
    if params.get("api_key") == OPTION_KEY_TEMPLATE:
        params["api_key"] = OPTION_KEY
    return om.MODELS[source.module](params, env, om.subusers())


def sent(record: dict) -> list:
    return [c for label in sorted(record) for c in om.logged_calls(record[label])]


def readable(calls) -> str:
    return "\n".join("  %s %s%s obo=%s body=%s%s" % (c[1], c[0], c[2], c[3], c[4], " query=%s" % c[5] if c[5] else "")
                     for c in calls) or "  (nothing)"


def assert_sent_as_modelled(actual: list, expected, explain: str):
    missing = Counter(expected.calls) - Counter(actual)
    extra = Counter(actual) - Counter(expected.calls)
    assert not missing and not extra, "requests differ from the model\nexpected but not sent:\n%s\nsent but not " \
        "expected:\n%s\n%s" % (readable(missing.elements()), readable(extra.elements()), explain)
    problems = om.in_order(actual, expected.calls)
    assert not problems, "%s\n%s" % (problems, explain)


def is_task(record: dict, name: str) -> bool:
    # ansible-core 2.21 names a role's task "<role> : <name>"
    return record["task"] == name or record["task"].endswith(" : " + name)


def module_task(source, tasks: list, case_id: str):
    name = source.task if source.kind == "role" else case_id
    return next((task for task in tasks if is_task(task, name)), None)


def explain_case(result) -> str:
    return "--- this case's play (tail)\n%s" % result["output"]


@pytest.mark.parametrize("core, case", core_params(ACCEPTED, lambda case: case.id, core_sensitive))
def test_accepted(core, case, matrix):
    """Defaults, one option alone, or one option null: no task fails, and exactly what the model says is sent. Where
    the model says the task fails (a guard, a value the task needs: the documentation's own refusals), it fails naming
    why, having sent the reads the model says and nothing else."""
    result = case_result(matrix, core, case)
    source = SOURCES[case.source]
    explain = explain_case(result)
    task = module_task(source, result["tasks"], case.id)
    try:
        expected = expected_for(source, result["given"], result["servers"])
    except om.Refused as refusal:
        assert_refused(task, result, refusal, explain)
        return
    failed = [(t["task"], t["result"].get("msg")) for t in result["tasks"] if t["status"] in ("failed", "unreachable")]
    assert not failed, "failed: %s\n%s" % (failed, explain)
    assert task is not None and task["status"] in ("ok", "changed"), explain
    # rc 0, or the run failed (2) or lost a host (4) only because of other cases: each case has its own host
    assert result["rc"] == 0 or (result["rc"] in (2, 4) and result["hosts_failed"]
                                 and result["host"] not in result["hosts_failed"]), explain

    assert_sent_as_modelled(sent(result["servers"]), expected, explain)
    assert_outcome(task, result["reports"], expected, explain)


def assert_refused(task, result: dict, refusal, explain: str):
    """The task failed with a message naming what the model says, no crash, and only the model's reads were sent."""
    assert task is not None and task["status"] == "failed", "the model says the task fails: %s\n%s" % (refusal, explain)
    assert result["rc"] == 2 and result["host"] in result["hosts_failed"], explain
    message = task["result"].get("msg") or ""
    assert not any(marker in message for marker in CRASH_MARKERS) and "module_stderr" not in task["result"], explain
    unnamed = [word for word in refusal.words if word.lower() not in message.lower()]
    assert not unnamed, "%r does not name %s (the model: %s)\n%s" % (message, unnamed, refusal, explain)
    assert refusal.after_writes or not any(c[1] in om.WRITES for c in refusal.calls), refusal.calls
    assert_sent_as_modelled(sent(result["servers"]), om.Expectation(refusal.calls), explain)


def assert_outcome(task: dict, reports_found: dict, expected, explain: str):
    """changed exactly when something was written; the result hidden only when the model says so (a new key's
    secret), else what the model says is returned; the warnings it names; what the info module lists; the report,
    when one was asked for."""
    assert (task["status"] == "changed") == expected.changed, explain
    if expected.censored:
        assert "censored" in task["result"] and not {"secret", "key"} & set(task["result"]), \
            "a new key's secret: the result must be hidden\n%s" % explain
    else:
        assert "censored" not in task["result"], "the result is hidden, though it holds no secret\n%s" % explain
    for word in expected.warned:
        assert any(word in warning for warning in task["warnings"]), "no warning names %s: %s\n%s" % (
            word, task["warnings"], explain)
    for key, value in (expected.returned or {}).items():
        # what a settings module returns: the settings after the task and the changes, in option names and forms;
        # the allow list modules: the entries as networks, what was added and removed, the activity
        if value is om.NOT_RETURNED:
            assert key not in task["result"], "%s returned, though not asked for\n%s" % (key, explain)
            continue
        assert key in task["result"], "%s not returned\n%s" % (key, explain)
        found = task["result"][key]
        if key in expected.projected and isinstance(found, list):
            fields = expected.projected[key]
            kept = [{name: item.get(name) for name in fields} if isinstance(item, dict) else item for item in found]
            found = list({json.dumps(item, sort_keys=True): item for item in kept}.values())
        elif key in expected.projected and isinstance(found, dict):
            found = {name: found.get(name) for name in expected.projected[key]}
        assert om.comparable_result(found) == value, "%s: returned %r, expected %r%s\n%s" % (
            key, task["result"][key], value, " (compared on %s)" % ", ".join(expected.projected[key])
            if key in expected.projected else "", explain)
    if expected.listed is not None:
        found = task["result"]
        assert (found["total"], [s["username"] for s in found["subusers"]]) == (expected.total, expected.listed), explain
    for report in reports_found.values():
        # the report names every account the module handled, after a real (not dry) run
        assert report["json"] is not None and report["md"], "no report written\n" + explain
        assert report["json"]["dry_run"] is False
        assert [a["name"] for a in report["json"]["accounts"]] == expected.accounts, explain


def names_the_option(source, option: str, message: str) -> bool:
    """The message names the option (a suboption: section.suboption, or both names, as AnsibleModule says "argument
    'enabled' ... found in 'click'")."""
    if "." in option:
        return option in message or all(re.search(r"\b%s\b" % re.escape(part), message) for part in option.split("."))
    target = om.module_option(source, option)
    return option in message or (target is not None and re.search(r"\b%s\b" % re.escape(target), message) is not None)


@pytest.mark.parametrize("core, case", core_params(REJECTED, lambda case: case.id, core_sensitive))
def test_rejected(core, case, matrix):
    """An invalid generated value fails with a message naming the option, no crash, and nothing reaches a server."""
    result = case_result(matrix, core, case)
    source = SOURCES[case.source]
    explain = explain_case(result)
    failed = [t for t in result["tasks"] if t["status"] == "failed"]
    assert failed, "accepted %r\n%s" % (case.given, explain)
    message = failed[0]["result"].get("msg") or ""
    assert names_the_option(source, case.option, message), "%r does not name %s\n%s" % (message, case.option, explain)
    assert not any(marker in message for marker in CRASH_MARKERS) and "module_stderr" not in failed[0]["result"], explain
    for label, record in result["servers"].items():
        assert record["requests"] == [] and record["connections"]["opened"] == 0, "server %s was reached\n%s" % (
            label, explain)


# ----------------------------------------------------------------------------- -e key=value strings

def extra_result(matrix, core, label: str, typed: bool, succeeded: bool) -> dict:
    """One of the two runs; ``succeeded``: it must have passed (else only: the module ran)."""
    if core.broken:
        pytest.fail(core.broken)
    result = matrix[batch_key(core, "%s:extra-vars:%s" % (label, "typed" if typed else "strings"))]
    assert result["error"] is None, result["error"]
    task = next((t for t in result["tasks"] if is_task(t, SOURCES[label].task)), None)
    failed = [(t["task"], t["result"].get("msg")) for t in result["tasks"] if t["status"] == "failed"]
    what = "typed JSON" if typed else "-e strings"
    assert task is not None, "%s run: the module never ran; failed %s\n%s" % (what, failed, result.get("output", ""))
    if succeeded:
        assert result["rc"] == 0 and not failed, "%s run: rc %s, failed %s\n%s" % (
            what, result["rc"], failed, result.get("output", ""))
    return dict(result, task=task)


def by_label(result: dict) -> Counter:
    """The calls with each server's URL replaced by its role (G, E, O, OE): runs on different ports compare."""
    labels = {record["url"]: label for label, record in result["servers"].items()}
    return Counter((labels[c[0]],) + c[1:] for c in sent(result["servers"]))


def extra_var_id(item) -> str:
    label, name = item
    return "%s:%s=%s:-e-string" % (label, name, om.extra_var_text(EXTRA_VARS[label][name]))


@pytest.mark.parametrize("core, role_variable", core_params(EXTRA_VAR_ITEMS, extra_var_id))
def test_extra_var_string_means_what_the_typed_value_means(core, role_variable, matrix):
    """-e NAME=TEXT reaches the module as the typed value would, and changes what is sent as the typed value does."""
    label, name = role_variable
    role = SOURCES[label]
    # only this variable's effects: whether the run as a whole passed is the all-variables test's business
    strings, typed = extra_result(matrix, core, label, False, False), extra_result(matrix, core, label, True, False)
    option = role.to_module.get(name)
    for run, what in ((strings, "-e %s=%s" % (name, om.extra_var_text(strings["given"][name]))), (typed, "typed JSON")):
        explain = "%s\n%s" % (run.get("command", ""), run.get("output", ""))
        if option is not None:
            # what the module worked with, after its own conversion: the typed value, converted by type
            received = run["task"]["result"]["invocation"]["module_args"][option]
            assert received == run["given"][name], "%s: the module got %s=%r, not %r\n%s" % (
                what, option, received, run["given"][name], explain)
        # the requests this variable adds or removes, compared with leaving it at its default
        everything = expected_for(role, run["given"], run["servers"]).calls
        without = dict(run["given"])
        without.pop(name)
        baseline = expected_for(role, without, run["servers"]).calls
        actual = Counter(sent(run["servers"]))
        added, removed = Counter(everything) - Counter(baseline), Counter(baseline) - Counter(everything)
        assert not added - actual, "%s: these requests were not sent:\n%s\n%s" % (
            what, readable((added - actual).elements()), explain)
        sent_anyway = [c for c in removed if actual[c] > Counter(everything)[c]]
        assert not sent_anyway, "%s: sent anyway:\n%s\n%s" % (what, readable(sent_anyway), explain)
        if name in run["reports"]:
            assert run["reports"][name]["json"] is not None, "%s: no report in the directory given\n%s" % (what, explain)


@pytest.mark.parametrize("core, role_label", core_params([role.label for role in ROLES],
                                                         lambda label: "%s:all-variables:-e-string" % label))
def test_extra_var_strings_send_exactly_what_typed_json_sends(core, role_label, matrix):
    """Every variable at once as -e strings: the same requests as the same values typed, and as the model says."""
    role = SOURCES[role_label]
    strings, typed = extra_result(matrix, core, role_label, False, True), extra_result(matrix, core, role_label, True, True)
    assert by_label(strings) == by_label(typed), "strings:\n%s\ntyped:\n%s" % (
        readable(sorted(by_label(strings).elements())), readable(sorted(by_label(typed).elements())))
    for run in (strings, typed):
        explain = "%s\n%s" % (run["command"], run["output"])
        expected = expected_for(role, run["given"], run["servers"])
        assert_sent_as_modelled(sent(run["servers"]), expected, explain)
        assert_outcome(run["task"], run["reports"], expected, explain)
