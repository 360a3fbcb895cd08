"""Benchmark: mailops.sendgrid versus the two ansible.builtin.uri tasks a user writes without it.

Run it with ``bash scripts/benchmark.sh`` (or ``python benchmark/benchmark.py`` in the activated .venv).
It starts tools/sendgrid_api_server.py with a latency added to every API answer and measures, in one run:

1. the requests one account costs with sendgrid_enforced_tls (in sync, drifted, check mode) and with the
   uri pair, counted from the server's request log;
2. the TCP connections each run opened (``/__control__/connections``);
3. the wall time of ``ansible-playbook`` for N accounts (subusers) with the role mailops.sendgrid.enforced_tls
   and with the uri pair, accounts in sync and drifted, and their ratio;
4. the time per account as N grows, and the requests each run sent against the minimum;
5. the full security baseline (every section of the role mailops.sendgrid.baseline: Enforced TLS, tracking, mail
   settings, IP allow list, API keys) on N accounts (the parent and N - 1 subusers, default 100), in sync and
   drifted, against its hand-written uri equivalent (a GET per setting per account, a PATCH or POST when it
   differs): requests against the documented floor (exactly), wall time above an empty play against the bound
   2 x (requests / concurrency x latency), and the ratio to the uri equivalent;
6. the soak: the role mailops.sendgrid.baseline (Enforced TLS and open tracking) on the parent and its N - 1
   discovered subusers (default 1000 accounts), with the server limiting the key to 600 requests a minute per
   endpoint and failing 5 % of the requests (503 or a dropped connection), drifted and then in sync: the accounts
   converged on the server, the 429s the client caused, the faults it survived, and the wall time against the
   rate-limit floor (the busiest endpoint's requests / 600 a minute);
7. the scale: the same role and policy over 1,000, 3,000 and 10,000 discovered accounts with its report
   (baseline_report.json, .md and .xml), against a server with no latency and no rate limit, drifted and then in
   sync: the SendGrid work's seconds (the server's first request to its last), the seconds after it (the module's
   result, the role's tasks after it, the report), their share, the controller's peak memory and the report's sizes.

Every playbook runs the same way: ``ansible-playbook -i localhost, --forks F PLAYBOOK -e @vars.json``, local
connection, the venv's Python as interpreter, against the same server. Times for N accounts are medians of up
to --repeat runs (fewer when a run is long, see --max-seconds), role and uri runs interleaved; the one-account
requests and connections are counted on one run each. Results: benchmark/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = ROOT / "benchmark" / "playbooks"
RESULTS = ROOT / "benchmark" / "results"
SERVER = ROOT / "tools" / "sendgrid_api_server.py"
ROLE_TASKS = ROOT / "roles" / "enforced_tls" / "tasks" / "main.yml"

API_KEY = "SG.benchmark-local-key"
# The policy every playbook applies, as the API stores it; the server starts every account at DRIFTED.
POLICY = {"require_tls": True, "require_valid_cert": True, "version": 1.2}
DRIFTED = {"require_tls": False, "require_valid_cert": False, "version": 1.1}
TARGET_RATIO = 0.5
TARGET_N = 100

LABELS = {"role": "role", "module": "sendgrid_enforced_tls", "uri": "uri pair", "empty": "empty play",
          "baseline": "baseline role", "baseline_uri": "uri equivalent"}

# The full baseline (playbooks/vars/baseline_policy.yml) as the API stores it: what every account has in sync and after
# an apply run. Drifted is the server's start state (TLS not required, TLS 1.1, open tracking on, an empty allow
# list) with spam forwarding switched on, and a key that can make keys on every FLAGGED_EVERY-th account.
BASELINE_SETTINGS = {
    None: POLICY,   # Enforced TLS (the control endpoint's default setting)
    "tracking_settings/open": {"enabled": False},
    "mail_settings/forward_spam": {"enabled": False},
}
BASELINE_ALLOW_LIST = ["127.0.0.1/32", "203.0.113.0/24"]
DRIFTED_FORWARD_SPAM = {"enabled": True, "email": "abuse@example.com"}
FLAGGED_KEY = {"name": "deploy-bot", "scopes": ["mail.send", "api_keys.create"]}
FLAGGED_EVERY = 10
BASELINE_BOUND_FACTOR = 2
TLS_API = "/v3/user/settings/enforced_tls"
WHITELIST_API = "/v3/access_settings/whitelist"
KEYS_API = "/v3/api_keys"

# The soak (playbooks/vars/soak_policy.yml): Enforced TLS and open tracking, as the API stores them, on the parent and
# every discovered subuser; the server's start state is drifted in both. SendGrid's limit is per key and endpoint
# (GET and PATCH of a path share it); SOAK_FAULTS are what a failed request meets, in turn.
SOAK_SETTINGS = {None: POLICY, "tracking_settings/open": {"enabled": False}}
SOAK_RATE_LIMIT = 600
SOAK_RATE_WINDOW_S = 60.0
SOAK_FAULTS = ({"kind": "error", "status": 503}, {"kind": "drop"})
SOAK_FEED_SECONDS = 0.2
SOAK_FEED_AHEAD = 10
SOAK_FLOOR_TARGET = 1.1
# The scale: no rate limit that binds (the server's budget per window), and what the controller may add to the work.
SCALE_RATE_LIMIT = 10 ** 9
SCALE_SHARE_TARGET = 0.10
SCALE_RSS_TARGET_MB = 200
SCALE_SAMPLE_S = 0.1
# The play recap's line for localhost: ok, changed, unreachable, failed.
RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--latency", type=float, default=50.0, metavar="MS",
                        help="latency the server adds to every API answer, in ms (default 50)")
    parser.add_argument("--sizes", default="1,10,100", metavar="N,N,...", help="numbers of accounts (default 1,10,100)")
    parser.add_argument("--repeat", type=int, default=3, metavar="R",
                        help="runs per timed measurement; the median is reported (default 3)")
    parser.add_argument("--max-seconds", type=float, default=100.0, metavar="S",
                        help="stop repeating a measurement once another run would take it past S seconds (default 100)")
    parser.add_argument("--forks", type=int, default=5, help="ansible-playbook --forks, the same for every run (default 5)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="enforced_tls_concurrency given to the role (default 8, the role's default)")
    parser.add_argument("--output", type=Path, default=RESULTS, metavar="DIR",
                        help="where to write latest.json and latest.md (default benchmark/results)")
    parser.add_argument("--baseline-accounts", type=int, default=100, metavar="N",
                        help="accounts of the full-baseline measurement: the parent and N - 1 subusers (default 100)")
    parser.add_argument("--baseline-only", action="store_true",
                        help="measure the full baseline (and the empty play) only, not the enforced_tls scenarios")
    parser.add_argument("--skip-baseline", action="store_true", help="leave the full-baseline measurement out")
    parser.add_argument("--soak-accounts", type=int, default=1000, metavar="N",
                        help="accounts of the soak: the parent and N - 1 discovered subusers (default 1000)")
    parser.add_argument("--soak-faults", type=float, default=0.05, metavar="SHARE",
                        help="share of the soak's requests that fail, as a 503 or a dropped connection (default 0.05)")
    parser.add_argument("--soak-only", action="store_true",
                        help="run the soak only (rate limit and faults; several minutes at 1000 accounts)")
    parser.add_argument("--skip-soak", action="store_true", help="leave the soak out")
    parser.add_argument("--scale-sizes", default="1000,3000,10000", metavar="N,N,...",
                        help="accounts of the scale scenario: the parent and N - 1 discovered subusers (default "
                             "1000,3000,10000)")
    parser.add_argument("--scale-only", action="store_true",
                        help="run the scale scenario only (no latency, no rate limit; about 10 minutes)")
    parser.add_argument("--skip-scale", action="store_true", help="leave the scale scenario out")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: sizes 1,10, a baseline of 10 accounts, a soak of 20, a scale of 50, one run "
                             "each")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: write latest.md again from the latest.json in --output, and print it")
    args = parser.parse_args(argv)
    args.sizes = sorted({int(n) for n in args.sizes.split(",") if n.strip()})
    args.scale_sizes = sorted({int(n) for n in args.scale_sizes.split(",") if n.strip()})
    if args.quick:
        args.sizes = [n for n in args.sizes if n <= 10] or [1]
        args.baseline_accounts = min(args.baseline_accounts, 10)
        args.soak_accounts = min(args.soak_accounts, 20)
        args.scale_sizes = [50]
        args.repeat = 1
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1:
        parser.error("--sizes needs numbers >= 1 and --repeat a number >= 1")
    if args.baseline_accounts < 1:
        parser.error("--baseline-accounts needs a number >= 1 (the parent alone)")
    if args.soak_accounts < 1 or not 0 <= args.soak_faults < 1:
        parser.error("--soak-accounts needs a number >= 1 and --soak-faults a share from 0 to below 1")
    if not args.scale_sizes or min(args.scale_sizes) < 1:
        parser.error("--scale-sizes needs numbers >= 1")
    if sum((args.baseline_only, args.soak_only, args.scale_only)) > 1 or (args.baseline_only and args.skip_baseline) \
            or (args.soak_only and args.skip_soak) or (args.scale_only and args.skip_scale):
        parser.error("--baseline-only, --soak-only and --scale-only exclude each other, and each its own --skip- option")
    # what runs: the Enforced TLS scenarios, the full baseline, the soak, the scale
    only = args.baseline_only or args.soak_only or args.scale_only
    args.run_tls = not only
    args.run_baseline = not (args.skip_baseline or only and not args.baseline_only)
    args.run_soak = not (args.skip_soak or only and not args.soak_only)
    args.run_scale = not (args.skip_scale or only and not args.scale_only)
    return args


# ----------------------------------------------------------------------------- the API server

class Server:
    """tools/sendgrid_api_server.py in its own process, and its control endpoint."""

    def __init__(self, workdir: Path, latency_ms: float, subusers: int):
        ready = workdir / "server.url"
        self.log_path = workdir / "server.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, str(SERVER), "--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready),
                 "--key", API_KEY, "--subusers", str(subusers), "--latency", str(latency_ms)],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text(encoding="utf-8").strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the local API server did not start:\n" + self.log_path.read_text(encoding="utf-8"))
            time.sleep(0.05)
        self.url = ready.read_text(encoding="utf-8").strip()
        self.accounts = [s["username"] for s in self.control("GET", "subusers")]

    def control(self, method: str, name: str, doc=None):
        data = None if doc is None else json.dumps(doc).encode()
        request = urllib.request.Request(self.url + "/__control__/" + name, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def prepare(self, accounts: list, drifted: bool) -> None:
        """Start state of a run: every account drifted, or the given accounts in sync; an empty request log."""
        self.control("POST", "reset")
        if not drifted:
            for account in accounts:
                self.control("PUT", "state", {"account": account, "settings": POLICY})
        self.control("DELETE", "requests")

    def prepare_baseline(self, accounts: list, drifted: bool) -> None:
        """Start state of a full-baseline run (see BASELINE_SETTINGS) for the accounts ("parent" included)."""
        self.control("POST", "reset")
        for number, account in enumerate(accounts):
            if drifted:
                self.control("PUT", "state", {"account": account, "setting": "mail_settings/forward_spam",
                                              "settings": DRIFTED_FORWARD_SPAM})
                if number % FLAGGED_EVERY == 0:
                    self.control("PUT", "state", {"account": account, "setting": "api_keys", "settings": [FLAGGED_KEY]})
                continue
            for setting, settings in BASELINE_SETTINGS.items():
                self.control("PUT", "state", {"account": account, "setting": setting, "settings": settings})
            self.control("PUT", "state", {"account": account, "setting": "access_settings/whitelist",
                                          "settings": BASELINE_ALLOW_LIST, "replace": True})
        self.control("DELETE", "requests")

    def baseline_state_ok(self, accounts: list) -> bool:
        """Whether every account has the baseline's settings and exactly its allow list."""
        if self.not_converged(accounts, BASELINE_SETTINGS):
            return False
        lists = self.control("GET", "state?setting=access_settings/whitelist")
        return all(sorted(rule["ip"] for rule in lists[a]) == sorted(BASELINE_ALLOW_LIST) for a in accounts)

    def not_converged(self, accounts: list, settings: dict) -> list:
        """The accounts whose settings on the server differ from these ({setting: fields}, None: Enforced TLS)."""
        states = [(wanted, self.control("GET", "state" + ("?setting=" + setting if setting else "")))
                  for setting, wanted in settings.items()]
        return [a for a in accounts if any({k: state[a].get(k) for k in wanted} != wanted for wanted, state in states)]

    def prepare_soak(self, drifted: bool) -> None:
        """Start state of a soak run: drifted, the server's start state, or as the last run left it; SendGrid's rate
        limit with fresh windows (a run that starts a minute after the last one), no faults, an empty request log."""
        if drifted:
            self.control("POST", "reset")
        self.control("PUT", "config", {"rate_limit": SOAK_RATE_LIMIT, "rate_window": SOAK_RATE_WINDOW_S})
        self.control("DELETE", "faults")
        self.control("DELETE", "requests")

    def prepare_scale(self, drifted: bool) -> None:
        """Start state of a scale run: drifted (the server's start state) or as the last run left it; no rate limit
        that binds, no faults, an empty request log."""
        if drifted:
            self.control("POST", "reset")
        self.control("PUT", "config", {"rate_limit": SCALE_RATE_LIMIT})
        self.control("DELETE", "faults")
        self.control("DELETE", "requests")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class FaultFeeder(threading.Thread):
    """Makes a share of the API requests fail while a run goes on, each failure after a random gap of requests (mean
    1 / share), the kinds of SOAK_FAULTS in turn. The server's faults fire in the order they were queued, on the next
    requests that arrive: a harmless one (a delay of 0 s) counts the gap off, then the failure fires; the queue is
    kept SOAK_FEED_AHEAD failures deep, so failures never pile up on the few requests at the end of a run."""

    def __init__(self, server: Server, share: float, seed: int):
        super().__init__(daemon=True)
        self.server = server
        self.share = share
        self.random = random.Random(seed)
        self.stopping = threading.Event()
        self.queued = 0     # failures queued, for their kinds' turns

    def run(self) -> None:
        while self.share and not self.stopping.is_set():
            pending = self.server.control("GET", "faults")
            for dummy in range(SOAK_FEED_AHEAD - sum(fault["kind"] != "delay" for fault in pending)):
                gap = max(1, round(self.random.expovariate(self.share)))
                if gap > 1:
                    self.server.control("POST", "faults", {"kind": "delay", "seconds": 0, "count": gap - 1})
                self.server.control("POST", "faults", SOAK_FAULTS[self.queued % len(SOAK_FAULTS)])
                self.queued += 1
            self.stopping.wait(SOAK_FEED_SECONDS)

    def stop(self) -> None:
        """Stop feeding and drop the faults that did not fire (the server's state is read next)."""
        self.stopping.set()
        self.join()
        self.server.control("DELETE", "faults")


# ----------------------------------------------------------------------------- running playbooks

class PeakMemory(threading.Thread):
    """The peak resident memory (VmHWM) of a process tree while it runs, sampled every SCALE_SAMPLE_S seconds: of the
    controller (ansible-playbook and the workers it forks, whose command line is its own) and of the module's
    process (every other process of the tree: the module's Python, its shell). A worker that ends between two samples
    is missed; the module task's worker lives as long as the module and is sampled throughout."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = {"controller": 0, "module": 0}
        self._stop_event = threading.Event()

    @staticmethod
    def _parents() -> dict:
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry, encoding="utf-8") as stat:
                        parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    pass
        return parents

    def sample(self) -> None:
        parents = self._parents()
        tree, added = {self.pid}, True
        while added:
            grown = {pid for pid, parent in parents.items() if parent in tree} - tree
            added = bool(grown)
            tree |= grown
        for pid in tree:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
                    kind = "controller" if b"ansible-playbook" in cmdline.read() else "module"
                with open("/proc/%d/status" % pid, encoding="utf-8") as status:
                    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            except (OSError, StopIteration, ValueError):
                continue
            self.peak[kind] = max(self.peak[kind], peak_kb)

    def run(self) -> None:
        while not self._stop_event.wait(SCALE_SAMPLE_S):
            self.sample()

    def stop(self) -> dict:
        """{controller: MB, module: MB}."""
        self._stop_event.set()
        self.join()
        return {kind: round(kb / 1024.0, 1) for kind, kb in self.peak.items()}


class Runner:
    """Runs the benchmark playbooks, all the same way, and checks each run against the server."""

    def __init__(self, args, server: Server, workdir: Path):
        self.args = args
        self.server = server
        self.workdir = workdir
        collections_dir = workdir / "collections"
        (collections_dir / "ansible_collections" / "mailops").mkdir(parents=True)
        (collections_dir / "ansible_collections" / "mailops" / "sendgrid").symlink_to(ROOT)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SENDGRID_"))}
        self.env.update(ANSIBLE_COLLECTIONS_PATH=str(collections_dir), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                        ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"))
        self.ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
        if not os.path.exists(self.ansible_playbook):
            self.ansible_playbook = shutil.which("ansible-playbook") or "ansible-playbook"
        self.many_playbook = "role.yml"
        self.runs = 0

    def command(self, playbook: str, check: bool) -> list:
        return ([self.ansible_playbook, "-i", "localhost,", "--forks", str(self.args.forks), str(PLAYBOOKS / playbook),
                 "-e", "@" + str(self.workdir / "vars.json")] + (["--check"] if check else []))

    def execute(self, playbook: str, check: bool = False, memory: dict | None = None):
        """Run one playbook with the vars.json in place: (completed process, wall seconds, CPU seconds). ``memory``, a
        dict, receives the peak memory of the controller and of the module (PeakMemory)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        with subprocess.Popen(self.command(playbook, check), env=self.env, cwd=self.workdir, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as process:
            sampler = PeakMemory(process.pid) if memory is not None else None
            if sampler:
                sampler.start()
            stdout, stderr = process.communicate()
            if sampler:
                memory.update(sampler.stop())
        proc = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.runs += 1
        return proc, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def run_baseline(self, variant: str, subusers: list, drifted: bool) -> dict:
        """One measured run of the full baseline on the parent and the subusers ("baseline" or "baseline_uri")."""
        playbook = {"baseline": "baseline_role.yml", "baseline_uri": "baseline_uri.yml"}[variant]
        accounts = ["parent"] + list(subusers)
        extra = {"api_url": self.server.url, "api_key": API_KEY, "accounts": list(subusers),
                 "concurrency": self.args.concurrency}
        (self.workdir / "vars.json").write_text(json.dumps(extra), encoding="utf-8")
        self.server.prepare_baseline(accounts, drifted)
        proc, wall, cpu = self.execute(playbook)
        sent = collections.Counter(request_key(entry) for entry in self.server.control("GET", "requests"))
        floor = baseline_floor(variant, accounts, drifted)
        recap = RECAP.search(proc.stdout)
        sample = dict(
            variant=variant, accounts=len(accounts), state="drifted" if drifted else "in sync",
            wall_s=round(wall, 3), cpu_s=round(cpu, 3), rc=proc.returncode,
            changed_tasks=int(recap.group(2)) if recap else None,
            requests=sum(sent.values()), by_method=dict(collections.Counter(m for m, dummy, dummy2 in sent.elements())),
            floor=sum(floor.values()), floor_by_method=dict(collections.Counter(m for m, dummy, dummy2 in floor.elements())),
            at_floor=sent == floor, floor_difference=floor_difference(sent, floor),
            connections=self.server.control("GET", "connections")["opened"],
            state_ok=self.server.baseline_state_ok(accounts),
        )
        if proc.returncode != 0 or recap is None:
            raise SystemExit("%s run failed (rc %s):\n%s\n%s"
                             % (variant, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        return sample

    def run_soak(self, server: Server, drifted: bool, seed: int) -> dict:
        """One soak run on its own server: the baseline of SOAK_SETTINGS on the parent and every subuser discovered,
        under SendGrid's rate limit, with --soak-faults of the requests failing; what it sent, met and left there."""
        accounts = ["parent"] + server.accounts
        extra = {"api_url": server.url, "api_key": API_KEY, "accounts": [], "discover": True,
                 "policy": "soak_policy", "concurrency": self.args.concurrency}
        (self.workdir / "vars.json").write_text(json.dumps(extra), encoding="utf-8")
        server.prepare_soak(drifted)
        feeder = FaultFeeder(server, self.args.soak_faults, seed)
        feeder.start()
        started = time.time()
        try:
            proc, wall, cpu = self.execute("baseline_role.yml")
        finally:
            feeder.stop()
        log = server.control("GET", "requests")
        # kept for a closer look (when each request came, what it met): results/soak-<state>.requests.json
        self.args.output.mkdir(parents=True, exist_ok=True)
        (self.args.output / ("soak-%s.requests.json" % ("drifted" if drifted else "in-sync"))).write_text(
            json.dumps([{k: entry[k] for k in ("seq", "time", "connection", "method", "path", "account", "status", "fault")}
                        for entry in log]) + "\n", encoding="utf-8")
        recap = RECAP.search(proc.stdout)
        # the server counts a request against its endpoint's budget unless the connection was dropped on arrival
        counted = collections.Counter(entry["path"].split("?", 1)[0] for entry in log if entry["fault"] != "drop")
        busiest, busiest_requests = counted.most_common(1)[0] if counted else ("", 0)
        arrivals = sorted(entry["time"] for entry in log if entry["path"].split("?", 1)[0] == busiest)
        # where the API time went: the busiest endpoint's pauses (longer than a second) are its waits for a reset
        waits = [later - earlier for earlier, later in zip(arrivals, arrivals[1:]) if later - earlier > 1.0]
        floor_s = busiest_requests / SOAK_RATE_LIMIT * SOAK_RATE_WINDOW_S
        not_converged = server.not_converged(accounts, SOAK_SETTINGS)
        sample = dict(
            state="drifted" if drifted else "in sync", accounts=len(accounts),
            wall_s=round(wall, 3), cpu_s=round(cpu, 3), rc=proc.returncode,
            changed_tasks=int(recap.group(2)) if recap else None,
            requests=len(log), by_method=dict(collections.Counter(entry["method"] for entry in log)),
            by_endpoint=dict(counted), busiest_endpoint=busiest, busiest_requests=busiest_requests,
            answered_429=sum(entry["status"] == 429 for entry in log),
            answered_503=sum(entry["fault"] == "error" for entry in log),
            dropped=sum(entry["fault"] == "drop" for entry in log),
            retries_warned=len(re.findall(r";\s+retry\s+\d+\s+of\s+\d+\s+in", proc.stdout + proc.stderr)),
            api_span_s=round(max(e["time"] for e in log) - min(e["time"] for e in log), 2) if log else 0.0,
            # ansible-playbook's time before the first request (start-up, the role's tasks, the module's start) and
            # after the last (the module's result, the role's tasks after it)
            before_api_s=round(min(e["time"] for e in log) - started, 2) if log else None,
            after_api_s=round(started + wall - max(e["time"] for e in log), 2) if log else None,
            busiest_waits_s=[round(wait, 2) for wait in waits],
            floor_s=round(floor_s, 2), ratio=round(wall / floor_s, 3) if floor_s else None,
            # a fixed window lets a limit's worth go at once: the last window need not be waited out
            window_bound_s=(math.ceil(busiest_requests / SOAK_RATE_LIMIT) - 1) * SOAK_RATE_WINDOW_S,
            connections=server.control("GET", "connections")["opened"],
            converged=len(accounts) - len(not_converged), not_converged=not_converged[:10],
        )
        if proc.returncode != 0 or recap is None:
            sample["error"] = "soak run failed (rc %s):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
        return sample

    def run_scale(self, server: Server, drifted: bool, report_dir: Path) -> dict:
        """One scale run on its own server: the baseline of SOAK_SETTINGS on the parent and every subuser discovered,
        with the report; where the time went (before the first request, the SendGrid work, after the last), the peak
        memory, the report's sizes."""
        accounts = ["parent"] + server.accounts
        shutil.rmtree(report_dir, ignore_errors=True)
        extra = {"api_url": server.url, "api_key": API_KEY, "accounts": [], "discover": True,
                 "policy": "soak_policy", "concurrency": self.args.concurrency, "report_dir": str(report_dir)}
        (self.workdir / "vars.json").write_text(json.dumps(extra), encoding="utf-8")
        server.prepare_scale(drifted)
        memory = {}
        started = time.time()
        proc, wall, cpu = self.execute("baseline_role.yml", memory=memory)
        log = server.control("GET", "requests")
        recap = RECAP.search(proc.stdout)
        first, last = (min(e["time"] for e in log), max(e["time"] for e in log)) if log else (started, started)
        work, after = last - first, started + wall - last
        files = {path.suffix.lstrip("."): path.stat().st_size for path in sorted(report_dir.glob("baseline_report.*"))}
        report = json.loads((report_dir / "baseline_report.json").read_text(encoding="utf-8")) if "json" in files else {}
        not_converged = server.not_converged(accounts, SOAK_SETTINGS)
        sample = dict(
            state="drifted" if drifted else "in sync", accounts=len(accounts), wall_s=round(wall, 2), cpu_s=round(cpu, 2),
            rc=proc.returncode, changed_tasks=int(recap.group(2)) if recap else None, requests=len(log),
            by_method=dict(collections.Counter(entry["method"] for entry in log)),
            before_s=round(first - started, 2), work_s=round(work, 2), after_s=round(after, 2),
            share=round(after / work, 3) if work > 0 else None,
            peak_controller_mb=memory.get("controller"), peak_module_mb=memory.get("module"),
            report_bytes=files, report_accounts=len(report.get("accounts") or []),
            converged=len(accounts) - len(not_converged),
        )
        if proc.returncode != 0 or recap is None:
            sample["error"] = "scale run failed (rc %s):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
        return sample

    def run(self, variant: str, accounts: list, drifted: bool, check: bool = False, fail_hard: bool = True) -> dict:
        """One measured run; returns wall and CPU seconds, requests, connections and the checks."""
        playbook = {"role": self.many_playbook, "module": "single_module.yml", "uri": "uri_pair.yml",
                    "empty": "empty.yml"}[variant]
        extra = {"api_url": self.server.url, "api_key": API_KEY, "accounts": accounts,
                 "account_items": [{"name": a} for a in accounts], "concurrency": self.args.concurrency}
        (self.workdir / "vars.json").write_text(json.dumps(extra), encoding="utf-8")
        self.server.prepare(accounts, drifted)
        proc, wall, cpu = self.execute(playbook, check)
        log = self.server.control("GET", "requests")
        opened = self.server.control("GET", "connections")["opened"]
        state = self.server.control("GET", "state")

        methods = collections.Counter(entry["method"] for entry in log)
        per_account = collections.Counter((entry["method"], entry["account"]) for entry in log)
        n = len(accounts) if variant != "empty" else 0
        expect_patch = drifted and not check
        minimum = {"GET": n, "PATCH": n if expect_patch else 0}
        exact = (dict(methods) == {k: v for k, v in minimum.items() if v}
                 and all(per_account[("GET", a)] == 1 and per_account[("PATCH", a)] == int(expect_patch)
                         for a in accounts[:n]))
        wanted = DRIFTED if (check and drifted) else POLICY
        state_ok = all(state.get(a) == wanted for a in accounts[:n])
        recap = RECAP.search(proc.stdout)
        changed = int(recap.group(2)) if recap else None
        sample = dict(
            variant=variant, accounts=n, state="drifted" if drifted else "in sync", check_mode=check,
            wall_s=round(wall, 3), cpu_s=round(cpu, 3), rc=proc.returncode, changed_tasks=changed, get=methods.get("GET", 0), patch=methods.get("PATCH", 0),
            other_requests=sum(v for k, v in methods.items() if k not in ("GET", "PATCH")),
            minimum_get=minimum["GET"], minimum_patch=minimum["PATCH"], requests_minimal=exact,
            connections=opened, state_ok=state_ok,
            idempotent=(changed == 0) if (not drifted and variant != "empty") else None,
        )
        if proc.returncode != 0 or (recap is None and variant != "empty"):
            message = "%s run failed (rc %s):\n%s\n%s" % (variant, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
            if fail_hard:
                raise SystemExit(message)
            sample["error"] = message
        return sample


def median(values):
    return statistics.median(values) if values else None


def summarize(samples: list) -> dict:
    walls = [s["wall_s"] for s in samples]
    first = samples[0]
    return dict(
        runs=len(samples), wall_median_s=round(median(walls), 3), wall_min_s=round(min(walls), 3),
        wall_samples_s=walls, cpu_median_s=round(median([s["cpu_s"] for s in samples]), 3),
        get=first["get"], patch=first["patch"], other_requests=first["other_requests"],
        minimum_get=first["minimum_get"], minimum_patch=first["minimum_patch"],
        requests_minimal=all(s["requests_minimal"] for s in samples),
        requests_same_every_run=len({(s["get"], s["patch"], s["other_requests"]) for s in samples}) == 1,
        connections=first["connections"], state_ok=all(s["state_ok"] for s in samples),
        idempotent=None if first["idempotent"] is None else all(s["idempotent"] for s in samples),
    )


def request_key(entry: dict) -> tuple:
    """(method, path without query and with a key's id as {id}, account) of a logged request."""
    path = entry["path"].split("?", 1)[0]
    if path.startswith(KEYS_API + "/"):
        path = KEYS_API + "/{id}"
    return entry["method"], path, entry["account"]


def baseline_floor(variant: str, accounts: list, drifted: bool) -> collections.Counter:
    """The requests the full baseline must send, each (method, path, account) counted.

    The role, as sendgrid_baseline documents its floor: per account one GET of Enforced TLS, one of
    /v3/tracking_settings and one of /v3/mail_settings (sections given with enabled alone read the summary), one of
    the allow list, one of the key list and one per key; then one PATCH per setting that differs and one POST of the
    missing networks (no activity GET: the policy gives client_addresses). The uri equivalent: a GET of each
    setting itself instead of the summaries, the same writes.
    """
    summaries = ["/v3/tracking_settings", "/v3/mail_settings"]
    settings = ["/v3/tracking_settings/open", "/v3/mail_settings/forward_spam"]
    reads = [TLS_API] + (summaries if variant == "baseline" else settings) + [WHITELIST_API, KEYS_API]
    floor = collections.Counter()
    for number, account in enumerate(accounts):
        for path in reads:
            floor[("GET", path, account)] += 1
        # the parent lists the server's one start key; drifted, every FLAGGED_EVERY-th account holds one more
        keys = (account == "parent") + (drifted and number % FLAGGED_EVERY == 0)
        if keys:
            floor[("GET", KEYS_API + "/{id}", account)] += keys
        if drifted:
            for path in [TLS_API] + settings:
                floor[("PATCH", path, account)] += 1
            floor[("POST", WHITELIST_API, account)] += 1
    return floor


def floor_difference(sent: collections.Counter, floor: collections.Counter) -> str:
    """What a run sent beyond the floor and what it left out, by method and path ("" when exactly the floor)."""
    def by_path(counter):
        out = collections.Counter()
        for (method, path, dummy), count in counter.items():
            out[(method, path)] += count
        return out

    extra, missing = by_path(sent - floor), by_path(floor - sent)
    return "; ".join(["%d more %s %s" % (n, m, p) for (m, p), n in sorted(extra.items())]
                     + ["%d fewer %s %s" % (n, m, p) for (m, p), n in sorted(missing.items())])


def summarize_baseline(samples: list) -> dict:
    walls = [s["wall_s"] for s in samples]
    first = samples[0]
    return dict(
        runs=len(samples), wall_median_s=round(median(walls), 3), wall_samples_s=walls,
        cpu_median_s=round(median([s["cpu_s"] for s in samples]), 3),
        requests=first["requests"], by_method=first["by_method"], floor=first["floor"],
        floor_by_method=first["floor_by_method"], at_floor=all(s["at_floor"] for s in samples),
        floor_difference=next((s["floor_difference"] for s in samples if s["floor_difference"]), ""),
        connections=first["connections"], state_ok=all(s["state_ok"] for s in samples),
        changed_tasks=[s["changed_tasks"] for s in samples],
    )


# ----------------------------------------------------------------------------- the scenarios

class Benchmark:
    def __init__(self, args, runner: Runner):
        self.args = args
        self.runner = runner
        self.accounts = runner.server.accounts
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        print("[%5.0fs] %s" % (time.monotonic() - self.started, text), flush=True)

    def describe(self, sample: dict) -> str:
        return "%6.2f s  cpu %5.2f s  %d GET + %d PATCH  %d connection(s)%s" % (
            sample["wall_s"], sample["cpu_s"], sample["get"], sample["patch"], sample["connections"],
            "" if sample["requests_minimal"] and sample["state_ok"] else "  (NOT MINIMAL OR WRONG STATE)")

    def choose_many_playbook(self) -> dict:
        """Use the role when it exists and works on one account, else the accounts module directly."""
        reason = "roles/enforced_tls/tasks/main.yml does not exist"
        if ROLE_TASKS.exists():
            sample = self.runner.run("role", self.accounts[:1], drifted=True, fail_hard=False)
            if "error" not in sample and sample["requests_minimal"] and sample["state_ok"]:
                self.say("warm-up: role on 1 drifted account: " + self.describe(sample))
                return dict(via="role mailops.sendgrid.enforced_tls", playbook="role.yml")
            reason = sample.get("error", "the role did not send the minimum requests or set the policy")[:2000]
        self.say("the role is not usable (%s): using sendgrid_enforced_tls_accounts directly" % reason.splitlines()[0])
        self.runner.many_playbook = "accounts_module.yml"
        self.runner.run("role", self.accounts[:1], drifted=True)
        return dict(via="sendgrid_enforced_tls_accounts (role not usable: %s)" % reason.splitlines()[0],
                    playbook="accounts_module.yml")

    def one_account(self) -> list:
        """Scenarios 1 and 2: requests and connections for one account, module and uri pair."""
        rows = []
        account = self.accounts[:1]
        for case, drifted, check, floor in (("in sync", False, False, 1), ("drifted", True, False, 2),
                                            ("check mode, drifted", True, True, 1)):
            row = dict(case=case, floor=floor)
            for variant in ("module", "uri"):
                # Requests and connections do not vary from run to run: one run each.
                sample = self.runner.run(variant, account, drifted, check)
                self.say("1 account  %-20s %-22s %s" % (case, LABELS[variant], self.describe(sample)))
                summary = summarize([sample])
                summary["requests"] = summary["get"] + summary["patch"] + summary["other_requests"]
                summary["at_floor"] = summary["requests"] == floor and summary["requests_minimal"]
                row[variant] = summary
            rows.append(row)
        return rows

    def many_accounts(self) -> list:
        """Scenarios 3 and 4: wall time for N accounts, role and uri pair interleaved, in sync and drifted."""
        rows = []
        for n in self.args.sizes:
            accounts = self.accounts[:n]
            for state, drifted in (("in sync", False), ("drifted", True)):
                samples = {"role": [], "uri": []}
                for dummy in range(self.args.repeat):
                    for variant, runs in samples.items():
                        spent = sum(s["wall_s"] for s in runs)
                        if runs and spent + runs[-1]["wall_s"] > self.args.max_seconds:
                            continue
                        sample = self.runner.run(variant, accounts, drifted)
                        runs.append(sample)
                        self.say("%3d accounts %-8s %-9s run %d: %s" % (n, state, LABELS[variant], len(runs),
                                                                        self.describe(sample)))
                role, uri = summarize(samples["role"]), summarize(samples["uri"])
                rows.append(dict(accounts=n, state=state, role=role, uri=uri,
                                 ratio=round(role["wall_median_s"] / uri["wall_median_s"], 3)))
        return rows

    def baseline(self, empty_s: float) -> list:
        """Scenario 5: the full baseline on the parent and N - 1 subusers, role and uri equivalent interleaved."""
        subusers = self.accounts[:self.args.baseline_accounts - 1]
        n = len(subusers) + 1
        latency_s = self.args.latency / 1000.0
        # not measured: the first run of a role pays for caches the others find warm
        self.runner.run_baseline("baseline", subusers[:1], drifted=True)
        rows = []
        for state, drifted in (("in sync", False), ("drifted", True)):
            samples = {"baseline": [], "baseline_uri": []}
            for dummy in range(self.args.repeat):
                for variant, runs in samples.items():
                    if runs and sum(s["wall_s"] for s in runs) + runs[-1]["wall_s"] > self.args.max_seconds:
                        continue
                    sample = self.runner.run_baseline(variant, subusers, drifted)
                    runs.append(sample)
                    self.say("baseline %3d accounts %-8s %-14s run %d: %6.2f s  cpu %6.2f s  %d requests (floor %d%s)%s"
                             % (n, state, LABELS[variant], len(runs), sample["wall_s"], sample["cpu_s"],
                                sample["requests"], sample["floor"],
                                "" if sample["at_floor"] else ": NOT THE FLOOR, " + sample["floor_difference"],
                                "" if sample["state_ok"] else "  (WRONG STATE AFTER THE RUN)"))
            role, uri = summarize_baseline(samples["baseline"]), summarize_baseline(samples["baseline_uri"])
            above = role["wall_median_s"] - empty_s
            bound = BASELINE_BOUND_FACTOR * role["floor"] / self.args.concurrency * latency_s
            rows.append(dict(accounts=n, state=state, role=role, uri=uri, above_empty_s=round(above, 3),
                             bound_s=round(bound, 3), bound_met=above <= bound,
                             requests_met=role["at_floor"] and role["state_ok"],
                             ratio=round(role["wall_median_s"] / uri["wall_median_s"], 3)))
            self.say("baseline %d accounts %s: requests %d, floor %d (%s); %.2f s above an empty play, bound "
                     "%g x (%d requests / %d x %g ms) = %.2f s (%s); role / uri = %.3f"
                     % (n, state, role["requests"], role["floor"], "exact" if role["at_floor"] else "NOT EXACT",
                        above, BASELINE_BOUND_FACTOR, role["floor"], self.args.concurrency, self.args.latency, bound,
                        "holds" if above <= bound else "MISSED", rows[-1]["ratio"]))
        return rows

    def soak(self) -> list:
        """Scenario 6: the soak, a drifted run and then one in sync, under SendGrid's rate limit and failing requests."""
        # its own server: discovery finds every subuser there, and the soak's number may differ from the others'
        workdir = self.runner.workdir / "soak"
        workdir.mkdir()
        server = Server(workdir, self.args.latency, self.args.soak_accounts - 1)
        try:
            return [self.soak_run(server, state, drifted, number)
                    for number, (state, drifted) in enumerate((("drifted", True), ("in sync", False)))]
        finally:
            server.stop()

    def soak_run(self, server: Server, state: str, drifted: bool, number: int) -> dict:
        self.say("soak %d accounts %s: running (the rate limit makes it long: floor about %.0f s)" % (
            self.args.soak_accounts, state,
            (2 if drifted else 1) * self.args.soak_accounts / SOAK_RATE_LIMIT * SOAK_RATE_WINDOW_S))
        sample = self.runner.run_soak(server, drifted, seed=number)
        sample["met"] = dict(
            converged=sample["converged"] == sample["accounts"], no_429=sample["answered_429"] == 0,
            ran=("error" not in sample and (drifted or sample["changed_tasks"] == 0)
                 and (drifted or not sample["by_method"].get("PATCH"))),
            # within one window the limit never binds: start-up and latency bound the run, not the floor
            floor=sample["busiest_requests"] <= SOAK_RATE_LIMIT or sample["ratio"] <= SOAK_FLOOR_TARGET)
        self.say("soak %d accounts %s: %.1f s (floor %.1f s: %d requests on %s, ratio %.2f), %d requests, %d 429, "
                 "%d x 503 and %d dropped survived, %d of %d accounts converged%s%s"
                 % (sample["accounts"], state, sample["wall_s"], sample["floor_s"], sample["busiest_requests"],
                    sample["busiest_endpoint"], sample["ratio"] or 0, sample["requests"], sample["answered_429"],
                    sample["answered_503"], sample["dropped"], sample["converged"], sample["accounts"],
                    "" if all(sample["met"].values()) else "  (MISSED: %s)"
                    % ", ".join(k for k, v in sample["met"].items() if not v),
                    "\n" + sample["error"] if "error" in sample else ""))
        return sample

    def scale(self) -> list:
        """Scenario 7: the scale, per size a drifted run and then one in sync, each on a server of its own size."""
        rows = []
        for size in self.args.scale_sizes:
            workdir = self.runner.workdir / ("scale-%d" % size)
            workdir.mkdir()
            server = Server(workdir, 0.0, size - 1)
            try:
                for state, drifted in (("drifted", True), ("in sync", False)):
                    sample = self.runner.run_scale(server, drifted, workdir / "report")
                    sample["met"] = dict(
                        ran="error" not in sample and sample["converged"] == sample["accounts"]
                        and sample["report_accounts"] == sample["accounts"] and (drifted or sample["changed_tasks"] == 0),
                        share=sample["share"] is not None and sample["share"] <= SCALE_SHARE_TARGET,
                        memory=(sample["peak_controller_mb"] or 0) <= SCALE_RSS_TARGET_MB)
                    rows.append(sample)
                    self.say("scale %d accounts %s: %.1f s (%.1f before, %.1f SendGrid work, %.1f after: %.1f %%), "
                             "%d requests, controller peak %.0f MB (module %.0f MB), report %s%s%s"
                             % (sample["accounts"], state, sample["wall_s"], sample["before_s"], sample["work_s"],
                                sample["after_s"], 100 * (sample["share"] or 0), sample["requests"],
                                sample["peak_controller_mb"] or 0, sample["peak_module_mb"] or 0,
                                ", ".join("%s %.1f MB" % (kind, size_ / 1e6) for kind, size_ in sample["report_bytes"].items()),
                                "" if all(sample["met"].values()) else "  (MISSED: %s)"
                                % ", ".join(k for k, v in sample["met"].items() if not v),
                                "\n" + sample["error"] if "error" in sample else ""))
            finally:
                server.stop()
        return rows

    def empty_play(self) -> dict:
        samples = [self.runner.run("empty", [], drifted=True) for dummy in range(self.args.repeat)]
        summary = summarize(samples)
        self.say("empty play (ansible-playbook start-up): %.2f s median" % summary["wall_median_s"])
        return summary


def growth(rows: list) -> list:
    """Cost of each extra account between consecutive sizes, per variant and state (start-up cancels out)."""
    out = []
    for state in ("in sync", "drifted"):
        mine = [r for r in rows if r["state"] == state]
        for low, high in zip(mine, mine[1:]):
            extra = high["accounts"] - low["accounts"]
            out.append(dict(state=state, from_accounts=low["accounts"], to_accounts=high["accounts"], **{
                variant + "_ms_per_extra_account": round(
                    1000 * (high[variant]["wall_median_s"] - low[variant]["wall_median_s"]) / extra, 1)
                for variant in ("role", "uri")}))
    return out


def targets(rows: list) -> list:
    out = []
    for row in rows:
        if row["accounts"] != TARGET_N:
            continue
        out.append(dict(state=row["state"], ratio=row["ratio"], ratio_met=row["ratio"] <= TARGET_RATIO,
                        requests_met=row["role"]["requests_minimal"] and row["role"]["state_ok"],
                        role_requests="%d GET + %d PATCH" % (row["role"]["get"], row["role"]["patch"]),
                        minimum="%d GET + %d PATCH" % (row["role"]["minimum_get"], row["role"]["minimum_patch"])))
    return out


# ----------------------------------------------------------------------------- machine and report

def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        from ansible.release import __version__ as ansible_core  # pylint: disable=import-outside-toplevel
    except ImportError:
        ansible_core = "not installed"
    return dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(), ansible_core=ansible_core,
                system="%s %s" % (platform.system(), platform.release()))


def loadavg() -> str:
    try:
        return "%.2f" % os.getloadavg()[0]
    except OSError:
        return "n/a"


def table(headers: list, rows: list) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def seconds_text(summary: dict) -> str:
    """The median, with the range of the runs when there were several."""
    if summary["runs"] == 1:
        return "%.2f" % summary["wall_median_s"]
    return "%.2f (%.2f-%.2f)" % (summary["wall_median_s"], min(summary["wall_samples_s"]), max(summary["wall_samples_s"]))


def requests_text(summary: dict) -> str:
    text = "%d GET" % summary["get"]
    if summary["patch"]:
        text += " + %d PATCH" % summary["patch"]
    if summary["other_requests"]:
        text += " + %d other" % summary["other_requests"]
    return text


def minimum_text(summary: dict) -> str:
    return requests_text(dict(get=summary["minimum_get"], patch=summary["minimum_patch"], other_requests=0))


def markdown(result: dict) -> str:
    meta, cfg = result["machine"], result["config"]
    out = ["## Benchmark: mailops.sendgrid against the ansible.builtin.uri pair", ""]
    out += [
        "- Date: %s" % result["date"],
        "- Machine: %s, %d cores, %s; Python %s, ansible-core %s; load average %s at start, %s at end"
        % (meta["cpu"], meta["cores"], meta["system"], meta["python"], meta["ansible_core"],
           result["load_start"], result["load_end"]),
        "- API: local server tools/sendgrid_api_server.py with **%g ms latency** added to every API answer"
        % cfg["latency_ms"],
        "- Every run: `ansible-playbook -i localhost, --forks %d PLAYBOOK -e @vars.json` (local connection, same server). "
        "Times are the wall time of the whole ansible-playbook run, **median** of up to %d runs (role and uri runs "
        "interleaved); CPU is user+sys of ansible-playbook and all its processes. An empty play takes %.2f s."
        % (cfg["forks"], cfg["repeat"], result["empty_play"]["wall_median_s"]),
    ]
    if result["many_accounts"]:
        out.append("- Many accounts: %s, concurrency %d, against a loop of uri GET and a loop of uri PATCH `when:` the "
                   "settings differ (benchmark/playbooks/)." % (result["many_accounts_via"], cfg["concurrency"]))
    out.append("- Total benchmark time: %.0f s, %d ansible-playbook runs."
               % (result["total_seconds"], result["playbook_runs"]))
    if result["one_account"] or result["many_accounts"]:
        out += enforced_tls_markdown(result)
    if result.get("baseline"):
        out += baseline_markdown(result)
    if result.get("soak"):
        out += soak_markdown(result)
    if result.get("scale"):
        out += scale_markdown(result)
    return "\n".join(out) + "\n"


def enforced_tls_markdown(result: dict) -> list:
    out = ["", "### One account: requests and TCP connections per run (one run each; times indicative)", ""]
    rows = []
    for row in result["one_account"]:
        module, uri = row["module"], row["uri"]
        rows.append([row["case"], row["floor"],
                     "%s%s" % (requests_text(module), "" if module["at_floor"] else " (above floor)"),
                     module["connections"], requests_text(uri), uri["connections"],
                     "%.2f" % module["wall_median_s"], "%.2f" % uri["wall_median_s"]])
    out.append(table(["case", "floor", "sendgrid_enforced_tls requests", "connections", "uri pair requests",
                      "connections", "module s", "uri pair s"], rows))
    out += ["", "### N accounts: wall time, time per account, requests sent", ""]
    rows = []
    for row in result["many_accounts"]:
        role, uri = row["role"], row["uri"]
        rows.append([row["accounts"], row["state"], seconds_text(role), seconds_text(uri),
                     "%.2f" % row["ratio"], "%.0f" % (1000 * role["wall_median_s"] / row["accounts"]),
                     "%.0f" % (1000 * uri["wall_median_s"] / row["accounts"]),
                     requests_text(role) + ("" if role["requests_minimal"] else " (NOT minimal)"),
                     requests_text(uri) + ("" if uri["requests_minimal"] else " (NOT minimal)"),
                     minimum_text(role), "%d / %d" % (role["connections"], uri["connections"]),
                     "%.2f / %.2f" % (role["cpu_median_s"], uri["cpu_median_s"]),
                     "%d / %d" % (role["runs"], uri["runs"])])
    out.append(table(["N", "accounts", "role s (min-max)", "uri pair s (min-max)", "role / uri", "role ms/account", "uri ms/account",
                      "role requests", "uri requests", "minimum", "connections role / uri", "CPU s role / uri",
                      "runs role / uri"], rows))
    if result["growth"]:
        out += ["", "### Cost of each extra account (difference of the medians between sizes: start-up cancels out, "
                "run-to-run noise does not)", ""]
        out.append(table(["accounts", "N", "role ms per extra account", "uri pair ms per extra account"], [
            [g["state"], "%d -> %d" % (g["from_accounts"], g["to_accounts"]), "%.0f" % g["role_ms_per_extra_account"],
             "%.0f" % g["uri_ms_per_extra_account"]] for g in result["growth"]]))
    out += ["", "### Targets (N = %d): role at most %.1f x the uri pair's time, exactly the minimum requests" % (
        TARGET_N, TARGET_RATIO), ""]
    if not result["targets"]:
        out.append("- not measured (N = %d was not among the sizes)" % TARGET_N)
    for t in result["targets"]:
        out.append("- %s: role / uri = %.2f (%s); requests %s, minimum %s (%s)" % (
            t["state"], t["ratio"], "met" if t["ratio_met"] else "MISSED", t["role_requests"], t["minimum"],
            "met" if t["requests_met"] else "MISSED"))
    return out


def methods_text(by_method: dict) -> str:
    order = ("GET", "PATCH", "POST", "PUT", "DELETE")
    return " + ".join("%d %s" % (by_method[m], m)
                      for m in sorted(by_method, key=lambda m: order.index(m) if m in order else len(order)))


def baseline_markdown(result: dict) -> list:
    cfg = result["config"]
    rows = result["baseline"]
    n = rows[0]["accounts"]
    out = ["", "### The full baseline: %d accounts (the parent and %d subusers), every section" % (n, n - 1), "",
           "The role `mailops.sendgrid.baseline` (playbooks/baseline_role.yml: one sendgrid_baseline run, concurrency %d, "
           "no report) against its hand-written `uri` equivalent (playbooks/baseline_uri.yml: a GET per setting per "
           "account, a PATCH or POST when it differs, each key read), with one setting in each section "
           "(playbooks/vars/baseline_policy.yml): Enforced TLS, open tracking, spam forwarding, the IP allow list (with "
           "`client_addresses`), the API key audit. Drifted: every setting differs on every account and every %dth "
           "account holds a key that can make keys (flagged, read, never changed). The floor is the module's documented "
           "one; the bound is %g x (requests / concurrency x latency) for the wall time above an empty play (%.2f s)."
           % (cfg["concurrency"], FLAGGED_EVERY, BASELINE_BOUND_FACTOR, result["empty_play"]["wall_median_s"]), ""]
    table_rows = []
    for row in rows:
        role, uri = row["role"], row["uri"]
        table_rows.append([
            row["state"], "%d%s" % (role["requests"], "" if row["requests_met"] else " (NOT the floor)"),
            "%d (%s)" % (role["floor"], methods_text(role["floor_by_method"])),
            seconds_text(role), "%.2f" % row["above_empty_s"], "%.2f" % row["bound_s"],
            "yes" if row["bound_met"] else "NO", seconds_text(uri),
            "%d%s" % (uri["requests"], "" if uri["at_floor"] else " (not its floor)"),
            "%.3f" % row["ratio"], "%.2f / %.2f" % (role["cpu_median_s"], uri["cpu_median_s"]),
            "%d / %d" % (role["connections"], uri["connections"]), "%d / %d" % (role["runs"], uri["runs"])])
    out.append(table(["accounts", "role requests", "floor", "role s (min-max)", "above empty play s", "bound s",
                      "bound holds", "uri s", "uri requests", "role / uri", "CPU s role / uri",
                      "connections role / uri", "runs role / uri"], table_rows))
    return out


def soak_markdown(result: dict) -> list:
    cfg = result["config"]
    rows = result["soak"]
    n = rows[0]["accounts"]
    out = ["", "### The soak: %d accounts (the parent and %d discovered subusers), rate limited, %g %% of requests failing"
           % (n, n - 1, 100 * cfg["soak_faults"]), "",
           "The role `mailops.sendgrid.baseline` (playbooks/baseline_role.yml with playbooks/vars/soak_policy.yml: Enforced "
           "TLS and open tracking, discover_subusers, concurrency %d) against the server limiting the key to %d requests "
           "per %g s per endpoint (fixed windows, X-RateLimit-Limit/-Remaining/-Reset on every answer, 429 beyond) and "
           "failing %g %% of the requests it receives, a 503 and a dropped connection in turn. The first run starts "
           "drifted, the second in sync (as the first left it), each with fresh rate windows. Converged is read on the "
           "server. The floor is the busiest endpoint's requests (what the server counted against its budget, retries "
           "included) / %d per minute; the window bound is the whole windows a fixed-window limit makes a run wait out. The wall "
           "time splits into ansible-playbook's time before the first request, the API time (first request to last) and "
           "the time after the last; pauses are the busiest endpoint's pauses of more than a second (its waits for a "
           "reset, or a retry's backoff when it was the last request)."
           % (cfg["concurrency"], SOAK_RATE_LIMIT, cfg["soak_rate_window_s"], 100 * cfg["soak_faults"], SOAK_RATE_LIMIT),
           ""]
    table_rows = []
    for row in rows:
        table_rows.append([
            row["state"], "%d of %d" % (row["converged"], row["accounts"]),
            "%d%s" % (row["answered_429"], "" if row["met"]["no_429"] else " (NOT 0)"),
            "%d x 503 + %d dropped" % (row["answered_503"], row["dropped"]), row["retries_warned"],
            "%d (%s)" % (row["requests"], methods_text(row["by_method"])),
            "%d %s" % (row["busiest_requests"], row["busiest_endpoint"]),
            "%.1f" % row["wall_s"], "%.1f + %.1f + %.1f" % (row["before_api_s"], row["api_span_s"], row["after_api_s"]),
            "%d, %.0f s" % (len(row["busiest_waits_s"]), sum(row["busiest_waits_s"])),
            "%.1f" % row["floor_s"], "%.0f" % row["window_bound_s"],
            "%.2f%s" % (row["ratio"], "" if row["met"]["floor"] else " (above %.1f)" % SOAK_FLOOR_TARGET)
            if row["busiest_requests"] > SOAK_RATE_LIMIT else "%.2f (one window: not bound)" % row["ratio"],
            row["changed_tasks"], "%.1f" % row["cpu_s"], row["connections"]])
    out.append(table(["accounts", "converged on the server", "429s", "faults survived", "retries warned", "requests",
                      "busiest endpoint", "wall s", "before + API + after s", "pauses", "floor s", "window bound s", "wall / floor", "changed tasks",
                      "CPU s", "connections"], table_rows))
    return out


def scale_markdown(result: dict) -> list:
    cfg = result["config"]
    out = ["", "### The scale: up to %d accounts, no latency, no rate limit, with the report" % max(cfg["scale_sizes"]),
           "",
           "The role `mailops.sendgrid.baseline` (playbooks/baseline_role.yml with playbooks/vars/soak_policy.yml: Enforced "
           "TLS and open tracking, discover_subusers, concurrency %d, `baseline_report_dir` set: baseline_report.json, "
           ".md and .xml) on the parent and every subuser of a server with no latency and no rate limit that binds, "
           "first drifted, then in sync. The SendGrid work is the server's first request to its last; after is the "
           "rest of the run (the module's result, the role's tasks after it, the report); the share is after / work "
           "(target at most %d %%). Peak memory is the highest resident set (VmHWM) of ansible-playbook and its workers "
           "(target at most %d MB), and of the module's process, sampled every %g s."
           % (cfg["concurrency"], 100 * SCALE_SHARE_TARGET, SCALE_RSS_TARGET_MB, SCALE_SAMPLE_S), ""]
    rows = []
    for row in result["scale"]:
        rows.append([
            row["accounts"], row["state"], "%d (%s)" % (row["requests"], methods_text(row["by_method"])),
            "%.1f" % row["wall_s"], "%.1f" % row["before_s"], "%.1f" % row["work_s"], "%.1f" % row["after_s"],
            "%.1f %%%s" % (100 * (row["share"] or 0), "" if row["met"]["share"] else " (above %d %%)" % (100 * SCALE_SHARE_TARGET)),
            "%.0f%s" % (row["peak_controller_mb"] or 0, "" if row["met"]["memory"] else " (above %d)" % SCALE_RSS_TARGET_MB),
            "%.0f" % (row["peak_module_mb"] or 0),
            " / ".join("%.2f" % (row["report_bytes"].get(kind, 0) / 1e6) for kind in ("json", "md", "xml")),
            "%d of %d" % (row["converged"], row["accounts"]), row["changed_tasks"], "%.1f" % row["cpu_s"]])
    out.append(table(["accounts", "state", "requests", "wall s", "before s", "SendGrid work s", "after s",
                      "after / work", "controller peak MB", "module peak MB", "report MB (json / md / xml)",
                      "converged", "changed tasks", "CPU s"], rows))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        text = markdown(json.loads((args.output / "latest.json").read_text(encoding="utf-8")))
        (args.output / "latest.md").write_text(text, encoding="utf-8")
        print(text)
        return 0
    started = time.monotonic()
    load_start = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="mailops-benchmark."))
    server = Server(workdir, args.latency, max(args.sizes + [args.baseline_accounts - 1]))
    try:
        runner = Runner(args, server, workdir)
        bench = Benchmark(args, runner)
        bench.say("server %s, %g ms latency, %d subusers; sizes %s, repeat %d (median), forks %d"
                  % (server.url, args.latency, len(server.accounts), args.sizes, args.repeat, args.forks))
        via, one, many, baseline, soak, scale = dict(via=None, playbook=None), [], [], [], [], []
        if args.run_tls:
            via = bench.choose_many_playbook()
            runner.run("uri", server.accounts[:1], drifted=True)  # warm-up of the baseline, not measured
        empty = bench.empty_play()
        if args.run_tls:
            one = bench.one_account()
            many = bench.many_accounts()
        if args.run_baseline:
            baseline = bench.baseline(empty["wall_median_s"])
        if args.run_soak:
            soak = bench.soak()
        if args.run_scale:
            scale = bench.scale()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    result = dict(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(), load_start=load_start, load_end=loadavg(),
        config=dict(latency_ms=args.latency, sizes=args.sizes, repeat=args.repeat, max_seconds=args.max_seconds,
                    forks=args.forks, concurrency=args.concurrency, statistic="median",
                    baseline_accounts=args.baseline_accounts if args.run_baseline else None,
                    soak_accounts=args.soak_accounts if args.run_soak else None, soak_faults=args.soak_faults,
                    soak_rate_limit=SOAK_RATE_LIMIT, soak_rate_window_s=SOAK_RATE_WINDOW_S,
                    scale_sizes=args.scale_sizes if args.run_scale else None),
        many_accounts_via=via["via"], many_accounts_playbook=via["playbook"], empty_play=empty,
        one_account=one, many_accounts=many, growth=growth(many), targets=targets(many), baseline=baseline, soak=soak,
        scale=scale,
        total_seconds=round(time.monotonic() - started, 1), playbook_runs=runner.runs,
    )
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "latest.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = markdown(result)
    (args.output / "latest.md").write_text(text, encoding="utf-8")
    print("\n" + text)
    print("written: %s, %s" % (args.output / "latest.json", args.output / "latest.md"))
    missed = [t for t in result["targets"] if not (t["ratio_met"] and t["requests_met"])]
    missed += [row for row in baseline if not (row["requests_met"] and row["bound_met"])]
    missed += [row for row in soak if not all(row["met"].values())]
    missed += [row for row in scale if not all(row["met"].values())]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
