"""Configuration of the local SendGrid-compatible API server: start options, accounts file, runtime settings, CLI.

A server is defined at start (build_config(), from start_server() options or the command line) and goes back to
that definition on reset():

- keys: {KEY: [scopes]}, [{"key", "scopes"}] or "KEY=scope1,scope2" strings (--key; KEY alone grants ALL_SCOPES,
  KEY= none).  Without any key anywhere, the demo key SG.local-demo-key with ALL_SCOPES.  They are the parent's
  "start keys"; while serving, POST /v3/api_keys creates more keys that authenticate, and a PUT or DELETE of a start
  key changes or revokes it until reset() (api_keys.py).
- subusers: "NAME[:REGION][:disabled]" strings or {"username", "region", "disabled", "id", "email"} (--subuser),
  generated ones subuser-001... (--subusers N, the last --eu-subusers M pinned to eu).  Without any subuser
  source, the demo's marketing, billing and eu-newsletter (eu).  Ids are given from 10001 on.
- account_ids: customer accounts, reached with on-behalf-of "account-id <id>" (--account-id).
- state: {"<account key>": settings}, an account's initial state: Enforced TLS fields ({"require_tls": true})
  and/or entries "<family>/<name>": {fields} for other settings ({"mail_settings/footer": {"enabled": true}}),
  merged into the defaults, unvalidated; a setting kept as a list takes its own form (its family's load():
  "access_settings/whitelist": ["1.2.3.4", "10.0.0.0/8"], "api_keys": [{"name", "scopes"}]).
- accounts_file (--accounts-file): JSON {"keys": {KEY: [scopes]}, "subusers": [...], "account_ids": ["123"],
  "state": {...}, "dns_resolver": "127.0.0.1:5353"} (every part optional), merged with the options above (an
  explicit dns_resolver wins over the file's).  Two instances started with the same
  file (--region global and --region eu) play the two hosts.
- faults (--fault): see faults.py.
- runtime settings, also read and changed while serving (GET/PUT /__control__/config, set_config()):
  rate_limit (--rate-limit, 10000 per window, key and endpoint), rate_window (--rate-window, 60 s), latency_ms
  (--latency, 0), max_page_size (--max-page-size, none), rate_reset (--rate-reset epoch|seconds),
  endpoint_rate_limits (--endpoint-rate-limit PATH=N), trust_forwarded_for (--trust-forwarded-for, access.py),
  api_key_answer (--api-key-answer result|object, api_keys.py), domain_answer (--domain-answer array|object,
  domains.py), dns_resolver (--dns-resolver IP[:PORT], "dns_resolver" of the accounts file: the one resolver the
  validation routes look records up with, dns_check.py; none by default).

Plain HTTP by default; with --tls-cert FILE --tls-key FILE (PEM; the key may also sit in the certificate file)
the server speaks HTTPS only (make_ssl_context()).
"""

import argparse
import copy
import json
import os
import re
import signal
import ssl
import sys
import threading

from . import ALL_SCOPES, SETTINGS
from .api_keys import ANSWER_SETTING, ANSWER_SHAPES
from .common import FIRST_SUBUSER_ID, PARENT, RATE_RESET_FORMATS, REGIONS, is_int, is_number
from .dns_check import check_resolver
from .domains import DOMAIN_ANSWER_SETTING, DOMAIN_ANSWER_SHAPES
from .enforced_tls import TLS_SETTING
from .faults import kinds_help, make_fault

ACCOUNT_ID_RE = re.compile(r"^account-id\s+(\S+)$", re.IGNORECASE)

DEMO_KEY = "SG.local-demo-key"
DEMO_SUBUSERS = ({"username": "marketing"}, {"username": "billing"}, {"username": "eu-newsletter", "region": "eu"})


# ----------------------------------------------------------------------------- keys, subusers, accounts

def normalise_subuser(spec):
    """Turn ``NAME[:REGION][:disabled]`` or a dict into a subuser dict (id may still be None)."""
    if isinstance(spec, str):
        name, *flags = spec.split(":")
        spec = {"username": name}
        for flag in flags:
            if flag in REGIONS:
                spec["region"] = flag
            elif flag in ("disabled", "enabled"):
                spec["disabled"] = flag == "disabled"
            else:
                raise ValueError(f"subuser {name!r}: unknown flag {flag!r} (expected global, eu or disabled)")
    if not isinstance(spec, dict):
        raise ValueError("a subuser must be a string or an object")
    unknown = set(spec) - {"username", "id", "email", "disabled", "region"}
    if unknown:
        raise ValueError(f"subuser: unknown fields {sorted(unknown)}")
    name = spec.get("username")
    if not isinstance(name, str) or not name or name.strip() != name or name == PARENT or ACCOUNT_ID_RE.match(name):
        raise ValueError(f"invalid subuser username {name!r}")
    region = spec.get("region", "global")
    if region not in REGIONS:
        raise ValueError(f"subuser {name!r}: region must be global or eu")
    disabled = spec.get("disabled", False)
    if not isinstance(disabled, bool):
        raise ValueError(f"subuser {name!r}: disabled must be a boolean")
    sub_id = spec.get("id")
    if sub_id is not None and (not isinstance(sub_id, int) or isinstance(sub_id, bool) or sub_id <= 0):
        raise ValueError(f"subuser {name!r}: id must be a positive integer")
    return {"username": name, "id": sub_id, "email": spec.get("email") or f"{name}@example.com",
            "disabled": disabled, "region": region}


def assign_subuser_ids(existing, new):
    """Give ids to new subusers and check names and ids are unique; return the new list."""
    names = {s["username"] for s in existing}
    ids = {s["id"] for s in existing}
    # explicit ids are reserved first so an automatic one never takes them
    for sub in new:
        if sub["id"] is not None:
            if sub["id"] in ids:
                raise ValueError(f"duplicate subuser id {sub['id']}")
            ids.add(sub["id"])
    next_id = max(ids | {FIRST_SUBUSER_ID - 1}) + 1
    result = []
    for sub in new:
        sub = dict(sub)
        if sub["username"] in names:
            raise ValueError(f"duplicate subuser {sub['username']!r}")
        if sub["id"] is None:
            sub["id"] = next_id
            next_id += 1
        names.add(sub["username"])
        result.append(sub)
    return result


def normalise_keys(keys):
    """Accept {key: scopes}, [{"key", "scopes"}] or ["KEY=scope1,scope2"]; return {key: frozenset}."""
    result = {}
    if isinstance(keys, dict):
        items = list(keys.items())
    else:
        items = []
        for item in keys:
            if isinstance(item, dict):
                items.append((item.get("key"), item.get("scopes", ALL_SCOPES)))
            elif isinstance(item, str):
                # KEY alone grants every scope; KEY= grants none (useful for 403 tests)
                key, sep, scopes = item.partition("=")
                items.append((key, [s for s in scopes.split(",") if s] if sep else ALL_SCOPES))
            else:
                raise ValueError("a key must be a string or an object")
    for key, scopes in items:
        if not isinstance(key, str) or not key or any(c.isspace() for c in key):
            # never echo the key itself: it is a secret
            raise ValueError("invalid API key definition")
        if isinstance(scopes, str):
            scopes = [s for s in scopes.split(",") if s]
        result[key] = frozenset(scopes)
    return result


def account_key(account):
    """The key of an account in state and activity: "" and None, like "parent", name the parent."""
    return PARENT if account in ("", None) else str(account)


def split_account_state(account, values):
    """An account's initial state, {"<family>/<name>": {...}} entries and/or Enforced TLS fields, as {setting key: fields}."""
    if not isinstance(values, dict):
        raise ValueError(f"initial state of account {account!r} must be an object")
    split = {}
    for name, value in values.items():
        if "/" in name or name in SETTINGS:
            if name not in SETTINGS:
                raise ValueError(f"initial state of account {account!r}: unknown setting {name!r} "
                                 f"(expected one of {', '.join(SETTINGS)})")
            if SETTINGS[name].load is not None:
                # not a dict of fields: the setting's load() takes the value when the state is put in place
                split[name] = copy.deepcopy(value)
                continue
            if not isinstance(value, dict):
                raise ValueError(f"initial state of account {account!r}: {name} must be an object")
            split.setdefault(name, {}).update(copy.deepcopy(value))
        else:
            split.setdefault(TLS_SETTING, {})[name] = copy.deepcopy(value)
    return split


# ----------------------------------------------------------------------------- runtime settings

# Settings that can change at runtime (PUT /__control__/config): a check and what a valid value must be.
RUNTIME_SETTINGS = {
    "rate_limit": (lambda v: is_int(v) and v >= 1, "a positive integer"),
    "rate_window": (lambda v: is_number(v) and v > 0, "a positive number of seconds"),
    "latency_ms": (lambda v: is_number(v) and v >= 0, "a number of milliseconds >= 0"),
    "max_page_size": (lambda v: v is None or (is_int(v) and v >= 1), "null or a positive integer"),
    "rate_reset": (lambda v: isinstance(v, str) and v in RATE_RESET_FORMATS, "'epoch' or 'seconds'"),
    "endpoint_rate_limits": (lambda v: isinstance(v, dict) and all(
        isinstance(p, str) and p.startswith("/") and "?" not in p and is_int(n) and n >= 1 for p, n in v.items()),
        "an object mapping request paths (\"/v3/...\", no query) to positive integers"),
    "trust_forwarded_for": (lambda v: isinstance(v, bool), "a boolean"),
    ANSWER_SETTING: (lambda v: v in ANSWER_SHAPES, " or ".join(repr(shape) for shape in ANSWER_SHAPES)),
    DOMAIN_ANSWER_SETTING: (lambda v: v in DOMAIN_ANSWER_SHAPES, " or ".join(repr(s) for s in DOMAIN_ANSWER_SHAPES)),
    # checked (and normalised) by check_resolver(): see check_setting()
    "dns_resolver": (lambda v: True, "null or an IP address with an optional port"),
}
# Runtime settings for which null is a value (no cap, no resolver), not "leave it unchanged".
NULLABLE_SETTINGS = ("max_page_size", "dns_resolver")


def check_setting(name, value):
    """Validate one runtime setting; return it normalised (floats for times, a copy of a dict)."""
    if name == "dns_resolver":
        return check_resolver(value)
    valid, expected = RUNTIME_SETTINGS[name]
    if not valid(value):
        raise ValueError(f"{name} must be {expected}")
    if name == "endpoint_rate_limits":
        return dict(value)
    return float(value) if name in ("rate_window", "latency_ms") else value


def check_changes(changes):
    """Validate runtime setting changes (PUT /__control__/config); return the changes to make.

    None leaves a setting unchanged (it is dropped here), except max_page_size where it removes the cap and
    dns_resolver where it removes the resolver.
    """
    unknown = set(changes) - set(RUNTIME_SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)} (expected {', '.join(RUNTIME_SETTINGS)})")
    return {name: check_setting(name, value) for name, value in changes.items()
            if value is not None or name in NULLABLE_SETTINGS}


def parse_endpoint_rate_limits(items):
    """Turn ``PATH=N`` strings (the --endpoint-rate-limit option) into {path: N}."""
    limits = {}
    for item in items or ():
        path, sep, number = item.rpartition("=")
        if not sep or not path:
            raise ValueError(f"invalid --endpoint-rate-limit {item!r} (expected PATH=N)")
        try:
            limits[path] = int(number)
        except ValueError:
            raise ValueError(f"invalid --endpoint-rate-limit {item!r}: N must be an integer") from None
    return check_setting("endpoint_rate_limits", limits)


# ----------------------------------------------------------------------------- the definition of one host

class Config:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """The start-time definition of one host; reset() goes back to it."""

    def __init__(self, *, region="global", keys=None, subusers=None, account_ids=None, state=None,  # pylint: disable=too-many-arguments
                 rate_limit=10000, rate_window=60.0, latency_ms=0.0, faults=None, max_page_size=None, rate_reset="epoch",
                 endpoint_rate_limits=None, trust_forwarded_for=False, api_key_answer="result", domain_answer="array",
                 dns_resolver=None):
        if region not in REGIONS:
            raise ValueError("region must be global or eu")
        self.runtime = {name: check_setting(name, value) for name, value in (
            ("rate_limit", rate_limit), ("rate_window", rate_window), ("latency_ms", latency_ms),
            ("max_page_size", max_page_size), ("rate_reset", rate_reset),
            ("endpoint_rate_limits", endpoint_rate_limits or {}), ("trust_forwarded_for", trust_forwarded_for),
            (ANSWER_SETTING, api_key_answer), (DOMAIN_ANSWER_SETTING, domain_answer), ("dns_resolver", dns_resolver))}
        self.region = region
        self.keys = normalise_keys(keys or {})
        self.subusers = assign_subuser_ids([], [normalise_subuser(s) for s in subusers or ()])
        self.account_ids = [str(a) for a in account_ids or ()]
        # {account: {setting key: fields}}
        self.state = {account_key(k): split_account_state(k, v) for k, v in (state or {}).items()}
        self.faults = [make_fault(f) for f in faults or ()]


def build_config(*, region="global", keys=None, subusers=None, generate_subusers=0, eu_subusers=0,  # pylint: disable=too-many-arguments,too-many-locals
                 account_ids=None, accounts_file=None, state=None, rate_limit=10000, rate_window=60.0,
                 latency_ms=0.0, faults=None, max_page_size=None, rate_reset="epoch", endpoint_rate_limits=None,
                 trust_forwarded_for=False, api_key_answer="result", domain_answer="array", dns_resolver=None):
    """Merge an accounts file, explicit options and demo defaults into a Config.

    The demo key is used when no key is given anywhere; the demo subusers when no
    subuser source is given (no subusers, no generated ones, no "subusers" in the file).
    """
    all_keys = {}
    all_subusers = None
    all_ids = []
    all_state = {}
    if accounts_file:
        with open(accounts_file, encoding="utf-8") as handle:
            doc = json.load(handle)
        if not isinstance(doc, dict):
            raise ValueError("the accounts file must hold a JSON object")
        all_keys.update(normalise_keys(doc.get("keys", {})))
        if "subusers" in doc:
            all_subusers = list(doc["subusers"])
        all_ids.extend(doc.get("account_ids", ()))
        all_state.update(doc.get("state", {}))
        if dns_resolver is None:
            dns_resolver = doc.get("dns_resolver")
    if keys:
        all_keys.update(normalise_keys(keys))
    if subusers is not None:
        all_subusers = (all_subusers or []) + list(subusers)
    if generate_subusers:
        if not 0 <= eu_subusers <= generate_subusers:
            raise ValueError("--eu-subusers must be between 0 and --subusers")
        width = max(3, len(str(generate_subusers)))
        # the last eu_subusers generated ones are pinned to the EU region
        all_subusers = (all_subusers or []) + [
            {"username": f"subuser-{i:0{width}d}", "region": "eu" if i > generate_subusers - eu_subusers else "global"}
            for i in range(1, generate_subusers + 1)]
    all_ids.extend(account_ids or ())
    all_state.update(state or {})
    return Config(region=region, keys=all_keys or {DEMO_KEY: ALL_SCOPES},
                  subusers=list(DEMO_SUBUSERS) if all_subusers is None else all_subusers,
                  account_ids=list(dict.fromkeys(str(a) for a in all_ids)), state=all_state,
                  rate_limit=rate_limit, rate_window=rate_window, latency_ms=latency_ms, faults=faults,
                  max_page_size=max_page_size, rate_reset=rate_reset, endpoint_rate_limits=endpoint_rate_limits,
                  trust_forwarded_for=trust_forwarded_for, api_key_answer=api_key_answer, domain_answer=domain_answer,
                  dns_resolver=dns_resolver)


def _no_passphrase():
    raise ValueError("the TLS key is encrypted: give an unencrypted PEM key")


def make_ssl_context(tls_cert=None, tls_key=None):
    """A server-side TLS context from PEM files (the key may sit in the certificate file); None without a cert."""
    if tls_cert is None:
        if tls_key is not None:
            raise ValueError("a TLS key needs a TLS certificate (--tls-cert)")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # HTTP/1.1 is all this server speaks: say so to clients that offer h2
    context.set_alpn_protocols(["http/1.1"])
    try:
        # a passphrase would make OpenSSL prompt on the terminal: refuse instead of hanging
        context.load_cert_chain(tls_cert, tls_key, password=_no_passphrase)
    except ssl.SSLError as exc:
        raise ValueError(f"cannot use the TLS certificate/key: {exc}") from None
    return context


# ----------------------------------------------------------------------------- command line

def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="Local SendGrid-compatible API server (enforced TLS, subusers, "
                                                 "tracking settings, mail settings, IP access management, API keys, "
                                                 "teammates, scopes, domain authentication, link branding, event "
                                                 "webhooks).",
                                     epilog="The /__control__/ endpoint is described in tools/sendgrid_api_server.py, "
                                            "what each fault kind does in tools/sendgrid_api/faults.py.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--region", choices=REGIONS, default="global", help="host to play: global (api.sendgrid.com) or eu")
    parser.add_argument("--key", action="append", default=[], metavar="KEY[=SCOPE,...]",
                        help="API key and its scopes; KEY alone grants all, KEY= none (repeatable)")
    parser.add_argument("--subuser", action="append", default=None, metavar="NAME[:REGION][:disabled]",
                        help="a subuser (repeatable)")
    parser.add_argument("--subusers", type=int, default=0, metavar="N", help="generate N subusers subuser-001...")
    parser.add_argument("--eu-subusers", type=int, default=0, metavar="M", help="pin the last M generated subusers to eu")
    parser.add_argument("--account-id", action="append", default=[], metavar="ID", help="a customer account (repeatable)")
    parser.add_argument("--accounts-file", metavar="PATH",
                        help='JSON {"keys": {KEY: [scopes]}, "subusers": [...], "account_ids": [...], "state": {...}}')
    parser.add_argument("--rate-limit", type=int, default=10000, metavar="N",
                        help="requests per window per key and endpoint (10000)")
    parser.add_argument("--endpoint-rate-limit", action="append", default=[], metavar="PATH=N",
                        help="another limit for one endpoint path, e.g. /v3/mail_settings/footer=5 (repeatable)")
    parser.add_argument("--rate-window", type=float, default=60.0, metavar="S", help="rate-limit window in seconds (60)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS", help="delay added to every API answer (0)")
    parser.add_argument("--rate-reset", choices=RATE_RESET_FORMATS, default="epoch",
                        help="X-RateLimit-Reset as the epoch second the window ends (default) or the seconds until then")
    parser.add_argument("--max-page-size", type=int, default=None, metavar="N",
                        help="at most N subusers per page of GET /v3/subusers, whatever limit asks (default: no cap)")
    parser.add_argument("--trust-forwarded-for", action="store_true",
                        help="take the client address from the first address of X-Forwarded-For (IP Access Management)")
    parser.add_argument("--api-key-answer", choices=ANSWER_SHAPES, default="result",
                        help="GET /v3/api_keys/{id} answers {\"result\": [key]} (the spec's schema, default) or the bare key")
    parser.add_argument("--domain-answer", choices=DOMAIN_ANSWER_SHAPES, default="array",
                        help="PATCH /v3/whitelabel/domains/{id} and GET .../domains/default answer a list (the spec's "
                             "schema, default) or the bare object")
    parser.add_argument("--dns-resolver", metavar="IP[:PORT]",
                        help="the DNS resolver domain and link validation looks records up with, e.g. 127.0.0.1:5353 "
                             "(tools/dns_server.py); without one every record is answered invalid, never looked up "
                             "on the system's resolver")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (chain)")
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert (if not in that file)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND[:COUNT[:METHOD]][,NAME=VALUE...]",
                        help=f"inject a fault (repeatable). {kinds_help()}")
    parser.add_argument("--ready-file", metavar="PATH", help="write the URL there once listening")
    parser.add_argument("--verbose", action="store_true", help="access log on stderr (never headers or keys)")
    return parser.parse_args(argv)


def run_command(argv, start_server, stop_server):
    """The command: start a server (start_server/stop_server of the core) and serve until SIGTERM or SIGINT.

    Return the exit status: 0 after a signal, 2 when the options or the ready file are refused.
    """
    args = parse_args(argv)
    try:
        server, thread = start_server(
            host=args.host, port=args.port, verbose=args.verbose, region=args.region, keys=args.key,
            subusers=args.subuser, generate_subusers=args.subusers, eu_subusers=args.eu_subusers,
            account_ids=args.account_id, accounts_file=args.accounts_file, rate_limit=args.rate_limit,
            rate_window=args.rate_window, latency_ms=args.latency, faults=args.fault, rate_reset=args.rate_reset,
            max_page_size=args.max_page_size, tls_cert=args.tls_cert, tls_key=args.tls_key,
            endpoint_rate_limits=parse_endpoint_rate_limits(args.endpoint_rate_limit),
            trust_forwarded_for=args.trust_forwarded_for, api_key_answer=args.api_key_answer,
            domain_answer=args.domain_answer, dns_resolver=args.dns_resolver)
    except (OSError, ValueError) as exc:
        print(f"sendgrid_api_server: error: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(_signum, _frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.ready_file:
        # written atomically, and before the stdout line, so whoever sees either can rely on both
        tmp = f"{args.ready_file}.tmp{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(server.url + "\n")
            os.replace(tmp, args.ready_file)
        except OSError as exc:
            stop_server(server, thread)
            print(f"sendgrid_api_server: error: cannot write the ready file: {exc}", file=sys.stderr)
            return 2
    print(f"SendGrid-compatible API server listening on {server.url} (region {server.region})", flush=True)
    while not stopping.wait(0.5):
        pass
    stop_server(server, thread)
    return 0
