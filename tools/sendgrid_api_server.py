#!/usr/bin/env python
"""A local SendGrid-compatible API server for tests, demos and benchmarks.

It plays one SendGrid API host (``--region global`` for https://api.sendgrid.com,
``--region eu`` for https://api.eu.sendgrid.com) and implements, faithfully to the
official OpenAPI description, the endpoints the collection uses:

    GET   /v3/user/settings/enforced_tls   scope user.settings.enforced_tls.read
    PATCH /v3/user/settings/enforced_tls   scope user.settings.enforced_tls.update
    GET   /v3/subusers                     scope subusers.read

Authentication is ``Authorization: Bearer <key>``; keys and their scopes are given at
start.  The ``on-behalf-of`` header selects the account: none for the parent,
``<subuser name>`` for a subuser, ``account-id <id>`` for a customer account.  Every
account starts with ``{"require_tls": false, "require_valid_cert": false, "version": 1.1}``.
A subuser pinned to the other region is refused with 403 naming the host to use.
``GET /v3/subusers`` lists every subuser on both hosts (``region`` filters them); on
behalf of a subuser or customer account it lists none.  Its ``limit`` (default 100) must be an
integer >= 1 and ``offset`` one >= 0; the spec documents no maximum for ``limit``, and none is
enforced unless ``--max-page-size N`` is given: then a page silently holds at most N subusers
whatever ``limit`` asked for, as a real server may do.
Every API answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` from a fixed-window limit per API key; ``--rate-reset epoch`` (default)
makes the reset the epoch second the window ends, ``--rate-reset seconds`` the whole number of
seconds until then, rounded up (SendGrid is seen sending both).

Plain HTTP by default; with ``--tls-cert FILE --tls-key FILE`` (PEM; the key may also sit in
the certificate file) it speaks HTTPS only and its URL is ``https://HOST:PORT``.

Two instances started with the same ``--accounts-file`` play the two hosts; the file is
``{"keys": {KEY: [scopes]}, "subusers": [{"username", "region", "disabled", "id", "email"}],
"account_ids": ["123"], "state": {"<account key>": settings}}`` (every part optional).

Standard library only, Python 3.9+.  Run it as a command::

    python tools/sendgrid_api_server.py --port 0 --key SG.k=user.settings.enforced_tls.read
    python tools/sendgrid_api_server.py --tls-cert server.pem --tls-key server.key --rate-reset seconds

or use it in-process::

    with running_server(keys={"SG.k": ALL_SCOPES}, max_page_size=50) as srv:
        requests.get(srv.url + "/v3/user/settings/enforced_tls", ...)
        srv.requests(); srv.state(); srv.add_fault("error", status=503)

Control endpoint (tests only): JSON in and out, served on the same socket, no auth,
not rate limited, not logged, no latency::

    GET    /__control__/requests      the API requests received, oldest first
    DELETE /__control__/requests      clear that log and the connection counters
    GET    /__control__/connections   {"opened": TCP connections that carried API requests,
                                       "accepted": all TCP connections, control included}
    GET    /__control__/faults        the faults still pending
    POST   /__control__/faults        add one: {"kind": K, "count": 1, "method": null, "path": null, ...params}
    DELETE /__control__/faults        drop all pending faults
    GET    /__control__/state         {"parent": settings, "<subuser>": settings, "account-id <id>": settings}
    PUT    /__control__/state         {"account": "<key>", "settings": {...}, "replace": false}
                                      (not validated, so tests can create any drift)
    GET    /__control__/subusers      every subuser, region included
    POST   /__control__/subusers      add subusers: [{"username", "region", "disabled", "id"?, "email"?}, ...]
    GET    /__control__/config        {"region", "rate_limit", "rate_window", "latency_ms", "max_page_size",
                                       "rate_reset"}
    PUT    /__control__/config        change any of them but region at runtime ("max_page_size": null removes
                                      the cap; null leaves the others as they are); rate windows restart
    POST   /__control__/reset         back to the start state (everything above)

A logged request is {"seq", "time", "connection" (id, to see reuse), "method", "path" (with
query), "headers" (as received, Authorization included), "body" (parsed JSON, else text),
"body_is_json", "status" (null when dropped), "account" (targeted account key), "fault"}.
The 429s a client got are the entries with status 429.

Faults apply to the next COUNT matching API requests (COUNT -1 or "*": until cleared),
optionally only to one METHOD and/or paths starting with PATH.  Kinds and parameters:

    rate_limit      429; reset="epoch"|"seconds" (form of X-RateLimit-Reset; default: the server's
                    --rate-reset), wait=1 (seconds until the reset), retry_after=None (adds
                    Retry-After).  Alias: "429".
    error           status=500 (any 4xx/5xx) with the JSON errors body, message=...  Alias: "503" etc.
    html            status=502 with a text/html proxy error page.
    malformed_json  status=200 with a truncated JSON body.
    drop            close the connection without answering.
    delay           seconds=5, then answer normally (to trigger client timeouts).
    truncated       the answer the request gets anyway (200 and a stored PATCH when it is valid), with
                    the Content-Length of its whole body, but only bytes=N bytes of that body (default
                    half, never all of it) before the connection is closed: an incomplete read.
    not_applied     a valid PATCH is acknowledged (200) but not stored: the answer shows the stored,
                    unchanged settings, as when a write is lost behind the API.

On the command line: ``--fault KIND[:COUNT[:METHOD]][,NAME=VALUE...]``, e.g.
``--fault 429:2:PATCH,reset=seconds,retry_after=1`` or ``--fault error,status=503``.
"""

# pylint: disable=too-many-lines
import argparse
import contextlib
import copy
import itertools
import json
import math
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TLS_PATH = "/v3/user/settings/enforced_tls"
SUBUSERS_PATH = "/v3/subusers"
CONTROL_PREFIX = "/__control__/"

SCOPE_TLS_READ = "user.settings.enforced_tls.read"
SCOPE_TLS_UPDATE = "user.settings.enforced_tls.update"
SCOPE_SUBUSERS_READ = "subusers.read"
ALL_SCOPES = (SCOPE_TLS_READ, SCOPE_TLS_UPDATE, SCOPE_SUBUSERS_READ)

# Scope needed per path and method; the keys of each entry also make the Allow header of a 405.
ROUTES = {
    TLS_PATH: {"GET": SCOPE_TLS_READ, "PATCH": SCOPE_TLS_UPDATE},
    SUBUSERS_PATH: {"GET": SCOPE_SUBUSERS_READ},
}

REGIONS = ("global", "eu")
REGION_HOSTS = {"global": "https://api.sendgrid.com", "eu": "https://api.eu.sendgrid.com"}
TLS_VERSIONS = (1.1, 1.2, 1.3)
SETTING_FIELDS = ("require_tls", "require_valid_cert", "version")
DEFAULT_SETTINGS = {"require_tls": False, "require_valid_cert": False, "version": 1.1}
PARENT = "parent"
ACCOUNT_ID_RE = re.compile(r"^account-id\s+(\S+)$", re.IGNORECASE)

SUBUSERS_DEFAULT_LIMIT = 100
FIRST_SUBUSER_ID = 10001
RATE_RESET_FORMATS = ("epoch", "seconds")

DEMO_KEY = "SG.local-demo-key"
DEMO_SUBUSERS = ({"username": "marketing"}, {"username": "billing"}, {"username": "eu-newsletter", "region": "eu"})

FAULT_KINDS = ("rate_limit", "error", "html", "malformed_json", "drop", "delay", "not_applied", "truncated")
# Parameters each fault kind accepts, with their defaults.
FAULT_PARAMS = {
    # reset None: the server's rate_reset format
    "rate_limit": {"reset": None, "wait": 1, "retry_after": None},
    "error": {"status": 500, "message": None},
    "html": {"status": 502},
    "malformed_json": {"status": 200, "body": '{"require_tls": true, "require_valid_cert": '},
    "drop": {},
    "delay": {"seconds": 5},
    "not_applied": {},
    # bytes None: half the body
    "truncated": {"bytes": None},
}
HTML_PAGE = ("<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n<center><h1>{code} {phrase}</h1></center>\r\n"
             "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")

CONTROL_METHODS = {
    "requests": ("GET", "DELETE"),
    "connections": ("GET",),
    "faults": ("GET", "POST", "DELETE"),
    "state": ("GET", "PUT"),
    "subusers": ("GET", "POST"),
    "config": ("GET", "PUT"),
    "reset": ("POST",),
}


def error_body(message, field=None):
    """Build the SendGrid errors document."""
    return {"errors": [{"field": field, "message": message}]}


def _is_number(value):
    # bool is an int subclass in Python but not a JSON number
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw):
    """Parse strict JSON (no NaN/Infinity); raise ValueError when it is not."""
    return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw, parse_constant=_reject_constant)


def validate_settings(doc):
    """Check a PATCH body; return (changes, errors) where errors is a list of error items."""
    if not isinstance(doc, dict):
        return None, [{"field": None, "message": "request body must be a JSON object"}]
    errors = []
    for name, value in doc.items():
        if name in ("require_tls", "require_valid_cert"):
            if not isinstance(value, bool):
                errors.append({"field": name, "message": f"{name} must be a boolean"})
        elif name == "version":
            if not _is_number(value) or value not in TLS_VERSIONS:
                errors.append({"field": name, "message": "version must be one of the numbers 1.1, 1.2, 1.3"})
        else:
            errors.append({"field": name, "message": f"unknown field '{name}'"})
    return (None, errors) if errors else (dict(doc), [])


# ----------------------------------------------------------------------------- configuration

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


def _state_key(account):
    # "" and "parent" both name the parent account
    return PARENT if account in ("", None) else str(account)


def parse_fault_spec(text):
    """Parse ``KIND[:COUNT[:METHOD]][,NAME=VALUE...]`` into a fault dict (not validated yet)."""
    head, *params = text.split(",")
    kind, *rest = head.split(":")
    fault = {"kind": kind}
    if rest and rest[0]:
        fault["count"] = rest[0]
    if len(rest) > 1 and rest[1]:
        fault["method"] = rest[1]
    if len(rest) > 2:
        raise ValueError(f"invalid fault {text!r}")
    for param in params:
        name, sep, value = param.partition("=")
        if not sep:
            raise ValueError(f"invalid fault parameter {param!r} (expected NAME=VALUE)")
        for convert in (int, float):
            with contextlib.suppress(ValueError):
                value = convert(value)
                break
        fault[name] = value
    return fault


def make_fault(spec):
    """Validate a fault (dict or CLI string) and return its normalised dict."""
    spec = dict(parse_fault_spec(spec) if isinstance(spec, str) else spec)
    kind = str(spec.pop("kind", ""))
    if kind.isdigit():
        status = int(kind)
        kind = "rate_limit" if status == 429 else "error"
        if kind == "error":
            spec.setdefault("status", status)
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r} (expected one of {', '.join(FAULT_KINDS)})")
    count = spec.pop("count", None)
    count = 1 if count is None else count
    count = -1 if count in ("*", -1, "-1") else count
    try:
        count = int(count)
    except (TypeError, ValueError):
        raise ValueError("fault count must be a positive integer, -1 or '*'") from None
    if count == 0 or count < -1:
        raise ValueError("fault count must be a positive integer, -1 or '*'")
    method = spec.pop("method", None)
    method = method.upper() if isinstance(method, str) and method else None
    if kind == "not_applied":
        if method not in (None, "PATCH"):
            raise ValueError("not_applied only applies to PATCH")
        method = "PATCH"
    path = spec.pop("path", None) or None
    unknown = set(spec) - set(FAULT_PARAMS[kind])
    if unknown:
        raise ValueError(f"fault {kind}: unknown parameters {sorted(unknown)}")
    fault = {"kind": kind, "count": count, "method": method, "path": path}
    fault.update(FAULT_PARAMS[kind])
    fault.update(spec)
    _check_fault_params(fault)
    return fault


def _check_fault_params(fault):
    kind = fault["kind"]
    if kind == "rate_limit":
        if fault["reset"] is not None and fault["reset"] not in RATE_RESET_FORMATS:
            raise ValueError("rate_limit reset must be 'epoch' or 'seconds'")
        if not _is_number(fault["wait"]) or fault["wait"] < 0:
            raise ValueError("rate_limit wait must be a number >= 0")
        if fault["retry_after"] is not None and not _is_number(fault["retry_after"]):
            raise ValueError("rate_limit retry_after must be a number")
    elif kind in ("error", "html", "malformed_json"):
        low = 200 if kind == "malformed_json" else 400
        if not isinstance(fault["status"], int) or not low <= fault["status"] <= 599:
            raise ValueError(f"{kind} status must be an integer between {low} and 599")
    elif kind == "delay" and (not _is_number(fault["seconds"]) or fault["seconds"] < 0):
        raise ValueError("delay seconds must be a number >= 0")
    elif kind == "truncated" and fault["bytes"] is not None and not (_is_int(fault["bytes"]) and fault["bytes"] >= 0):
        raise ValueError("truncated bytes must be an integer >= 0")


# Settings that can change at runtime (PUT /__control__/config): a check and what a valid value must be.
RUNTIME_SETTINGS = {
    "rate_limit": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "rate_window": (lambda v: _is_number(v) and v > 0, "a positive number of seconds"),
    "latency_ms": (lambda v: _is_number(v) and v >= 0, "a number of milliseconds >= 0"),
    "max_page_size": (lambda v: v is None or (_is_int(v) and v >= 1), "null or a positive integer"),
    "rate_reset": (lambda v: isinstance(v, str) and v in RATE_RESET_FORMATS, "'epoch' or 'seconds'"),
}


def check_setting(name, value):
    """Validate one runtime setting; return it normalised (floats for times)."""
    valid, expected = RUNTIME_SETTINGS[name]
    if not valid(value):
        raise ValueError(f"{name} must be {expected}")
    return float(value) if name in ("rate_window", "latency_ms") else value


class Config:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """The start-time definition of one host; reset() goes back to it."""

    def __init__(self, *, region="global", keys=None, subusers=None, account_ids=None, state=None,  # pylint: disable=too-many-arguments
                 rate_limit=10000, rate_window=60.0, latency_ms=0.0, faults=None, max_page_size=None, rate_reset="epoch"):
        if region not in REGIONS:
            raise ValueError("region must be global or eu")
        self.runtime = {name: check_setting(name, value) for name, value in (
            ("rate_limit", rate_limit), ("rate_window", rate_window), ("latency_ms", latency_ms),
            ("max_page_size", max_page_size), ("rate_reset", rate_reset))}
        self.region = region
        self.keys = normalise_keys(keys or {})
        self.subusers = assign_subuser_ids([], [normalise_subuser(s) for s in subusers or ()])
        self.account_ids = [str(a) for a in account_ids or ()]
        self.state = {_state_key(k): dict(v) for k, v in (state or {}).items()}
        self.faults = [make_fault(f) for f in faults or ()]


def build_config(*, region="global", keys=None, subusers=None, generate_subusers=0, eu_subusers=0,  # pylint: disable=too-many-arguments,too-many-locals
                 account_ids=None, accounts_file=None, state=None, rate_limit=10000, rate_window=60.0,
                 latency_ms=0.0, faults=None, max_page_size=None, rate_reset="epoch"):
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
                  max_page_size=max_page_size, rate_reset=rate_reset)


# ----------------------------------------------------------------------------- state

class Backend:  # pylint: disable=too-many-instance-attributes,too-many-public-methods
    """All mutable server state behind one lock: accounts, log, faults, rate limits, counters."""

    def __init__(self, config):
        self.config = config
        self._lock = threading.RLock()
        self._connection_ids = itertools.count(1)
        self.generation = 0
        self.log = []
        self._seq = itertools.count(1)
        self.opened = self.accepted = 0
        self.reset()

    def reset(self):
        """Return to the start state."""
        with self._lock:
            cfg = self.config
            self.subusers = [dict(s) for s in cfg.subusers]
            self.settings = {PARENT: dict(DEFAULT_SETTINGS)}
            self.settings.update((s["username"], dict(DEFAULT_SETTINGS)) for s in self.subusers)
            self.settings.update((f"account-id {a}", dict(DEFAULT_SETTINGS)) for a in cfg.account_ids)
            for account, values in cfg.state.items():
                if account not in self.settings:
                    raise ValueError(f"initial state for unknown account {account!r}")
                self.settings[account].update(values)
            self.runtime = dict(cfg.runtime)
            self.faults = copy.deepcopy(cfg.faults)
            self.buckets = {}
            self.clear_requests()

    # -- log and connections

    def clear_requests(self):
        """Forget logged requests and restart the connection counters."""
        with self._lock:
            self.log = []
            self._seq = itertools.count(1)
            self.opened = 0
            self.accepted = 0
            # connections opened before now count again when they carry their next API request
            self.generation += 1

    def connection_accepted(self):
        """Count an accepted TCP connection and return its id."""
        with self._lock:
            self.accepted += 1
            return next(self._connection_ids)

    def note_api_connection(self, seen_generation):
        """Count a connection once per generation; return the current generation."""
        with self._lock:
            if seen_generation != self.generation:
                self.opened += 1
            return self.generation

    def log_request(self, entry):
        """Append a log entry (a dict updated later with status and account)."""
        with self._lock:
            entry["seq"] = next(self._seq)
            self.log.append(entry)
            return entry

    def update_entry(self, entry, **values):
        """Set fields of a log entry under the lock."""
        with self._lock:
            entry.update(values)

    def requests(self):
        """Return a copy of the request log."""
        with self._lock:
            return copy.deepcopy(self.log)

    def connections(self):
        """Return the connection counters."""
        with self._lock:
            return {"opened": self.opened, "accepted": self.accepted}

    # -- faults

    def add_fault(self, spec):
        """Validate and queue a fault; return it."""
        fault = make_fault(spec)
        with self._lock:
            self.faults.append(fault)
        return dict(fault)

    def pending_faults(self):
        """Return the faults still to fire."""
        with self._lock:
            return copy.deepcopy(self.faults)

    def clear_faults(self):
        """Drop every pending fault."""
        with self._lock:
            self.faults = []

    def take_fault(self, method, path, kinds):
        """Consume one firing of the first pending fault of these kinds matching the request."""
        with self._lock:
            for fault in self.faults:
                if fault["kind"] not in kinds or fault["method"] not in (None, method):
                    continue
                if fault["path"] and not path.startswith(fault["path"]):
                    continue
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                return dict(fault)
            return None

    # -- rate limit

    def consume_rate(self, key):
        """Count one request against the key's fixed window; return the header values."""
        with self._lock:
            limit, window = self.runtime["rate_limit"], self.runtime["rate_window"]
            now = time.time()
            bucket = self.buckets.get(key)
            if bucket is None or now >= bucket[0] + window:
                bucket = self.buckets[key] = [now, 0]
            bucket[1] += 1
            return {"limit": limit, "remaining": max(0, limit - bucket[1]),
                    "reset": self.reset_value(bucket[0] + window, now), "over": bucket[1] > limit}

    def reset_value(self, end, now, form=None):
        """X-RateLimit-Reset for a window ending at epoch time end, in this form or the server's rate_reset."""
        if (form or self.setting("rate_reset")) == "epoch":
            return int(math.ceil(end))
        # never 0 while the window still runs
        return int(math.ceil(end - now))

    def setting(self, name):
        """One runtime setting (see RUNTIME_SETTINGS)."""
        with self._lock:
            return self.runtime[name]

    def get_config(self):
        """Return the region and the runtime settings."""
        with self._lock:
            return {"region": self.config.region, **self.runtime}

    def set_config(self, **changes):
        """Change runtime settings; None leaves one unchanged, except max_page_size where it removes the cap."""
        unknown = set(changes) - set(RUNTIME_SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)} (expected {', '.join(RUNTIME_SETTINGS)})")
        changes = {name: check_setting(name, value) for name, value in changes.items()
                   if value is not None or name == "max_page_size"}
        with self._lock:
            self.runtime.update(changes)
            # a changed limit or window only makes sense from a fresh window
            self.buckets = {}
            return self.get_config()

    # -- accounts

    def scopes_for(self, key):
        """Return the scopes of a key, None when it is unknown."""
        return self.config.keys.get(key) if key else None

    def resolve_account(self, on_behalf_of):
        """Map the on-behalf-of header to (account key, None) or (None, (status, message))."""
        value = (on_behalf_of or "").strip()
        if not value:
            return PARENT, None
        match = ACCOUNT_ID_RE.match(value)
        with self._lock:
            if match:
                account = f"account-id {match.group(1)}"
                if account not in self.settings:
                    return None, (404, f"customer account {match.group(1)} not found")
                return account, None
            sub = next((s for s in self.subusers if s["username"] == value), None)
        if sub is None:
            return None, (404, f"subuser '{value}' not found")
        if sub["region"] != self.config.region:
            return None, (403, f"subuser '{value}' belongs to the {sub['region']} region: "
                               f"send its requests to {REGION_HOSTS[sub['region']]}")
        return value, None

    def get_settings(self, account):
        """Return one account's settings."""
        with self._lock:
            return dict(self.settings[account])

    def patch_settings(self, account, changes, apply=True):
        """Apply changes (unless told not to) and return the stored settings."""
        with self._lock:
            if apply:
                self.settings[account] = dict(self.settings[account], **changes)
            return dict(self.settings[account])

    def state(self):
        """Return every account's settings."""
        with self._lock:
            return copy.deepcopy(self.settings)

    def set_state(self, account, settings, replace=False):
        """Overwrite (part of) one account's settings, unvalidated; return them."""
        account = _state_key(account)
        if not isinstance(settings, dict):
            raise ValueError("settings must be an object")
        with self._lock:
            if account not in self.settings:
                raise KeyError(account)
            if replace:
                self.settings[account] = {}
            self.settings[account].update(copy.deepcopy(settings))
            return dict(self.settings[account])

    def list_subusers(self):
        """Return every subuser in the stable (id) order."""
        with self._lock:
            return sorted((dict(s) for s in self.subusers), key=lambda s: s["id"])

    def add_subusers(self, specs):
        """Add subusers at runtime (fresh default settings each); return them."""
        if isinstance(specs, (dict, str)):
            specs = [specs]
        if not isinstance(specs, list):
            raise ValueError("expected a list of subusers")
        normalised = [normalise_subuser(s) for s in specs]
        with self._lock:
            added = assign_subuser_ids(self.subusers, normalised)
            self.subusers.extend(added)
            for sub in added:
                self.settings[sub["username"]] = dict(DEFAULT_SETTINGS)
            return [dict(s) for s in added]


# ----------------------------------------------------------------------------- HTTP

class _Answer:  # pylint: disable=too-few-public-methods
    """One HTTP answer: status, body bytes, content type, extra headers."""

    def __init__(self, status, payload=None, content_type="application/json", raw=None, headers=None):
        self.status = status
        self.body = raw if raw is not None else json.dumps(payload).encode("utf-8")
        self.content_type = content_type
        self.headers = dict(headers or {})
        # body bytes actually sent before closing (truncated fault); None: all of them
        self.sent = None


def _error(status, message, field=None, headers=None):
    return _Answer(status, error_body(message, field), headers=headers)


class Handler(BaseHTTPRequestHandler):
    """One keep-alive client connection."""

    protocol_version = "HTTP/1.1"
    server_version = "sendgrid-local/1.0"
    sys_version = ""
    # idle keep-alive connections are closed after this many seconds
    timeout = 120

    def setup(self):
        super().setup()
        # headers and body are two writes: without NODELAY, Nagle plus delayed ACK cost ~40 ms per answer
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_id = self.server.backend.connection_accepted()
        self._generation = None
        if isinstance(self.connection, ssl.SSLSocket):
            # here, in the connection's own thread, so a slow or refusing client never holds up accept
            self.connection.do_handshake()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        # the request line carries no secret, but stay quiet unless asked
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _dispatch(self):
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        if url.path.startswith(CONTROL_PREFIX):
            self._send(self._control(url.path[len(CONTROL_PREFIX):], body))
        else:
            self._api(url, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    # -- plumbing

    def _read_body(self):
        """Read the request body (Content-Length or chunked); None after a framing error."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline(65537).split(b";", 1)[0].strip() or b"x", 16)
                    if size == 0:
                        # skip trailers up to the blank line
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
            return self.rfile.read(length) if length else b""
        except ValueError:
            # the stream position is unknown now: answer and close
            self.close_connection = True
            self._send(_error(400, "malformed request framing"))
            return None

    def _send(self, answer):
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, str(value))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body if answer.sent is None else answer.body[:answer.sent])
            if answer.sent is not None:
                # closing short of the promised Content-Length is what the client sees as an incomplete read
                self.close_connection = True
        except OSError:
            # the client went away (e.g. it timed out during a delay fault)
            self.close_connection = True

    def _wait(self, seconds):
        """Sleep; True when cut short because the server stops (delays never hold up shutdown)."""
        return seconds > 0 and self.server.stop_event.wait(seconds)

    def _drop(self):
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _bearer_key(self):
        scheme, dummy, key = (self.headers.get("Authorization") or "").strip().partition(" ")
        return key.strip() if scheme.lower() == "bearer" else None

    # -- API

    def _api(self, url, body):
        backend = self.server.backend
        self._generation = backend.note_api_connection(self._generation)
        headers = {}
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        try:
            logged_body, is_json = (parse_json(body), True) if body else (None, False)
        except ValueError:
            logged_body, is_json = body.decode("utf-8", "replace"), False
        entry = backend.log_request({
            "time": time.time(), "connection": self.connection_id, "method": self.command, "path": self.path,
            "headers": headers, "body": logged_body, "body_is_json": is_json, "status": None, "account": None,
            "fault": None})
        fault = backend.take_fault(self.command, url.path, ("rate_limit", "error", "html", "malformed_json", "drop", "delay",
                                                            "truncated"))
        truncated = None
        if fault and fault["kind"] == "truncated":
            # the answer is the one the request gets anyway (a valid PATCH is stored), only cut short
            backend.update_entry(entry, fault="truncated")
            truncated, fault = fault, None
        if fault:
            backend.update_entry(entry, fault=fault["kind"])
            if fault["kind"] == "drop":
                self._drop()
                return
            if fault["kind"] == "delay":
                if self._wait(fault["seconds"]):
                    self._drop()
                    return
                fault = None
        rate = backend.consume_rate(self._bearer_key() or "")
        rate_headers = {"X-RateLimit-Limit": rate["limit"], "X-RateLimit-Remaining": rate["remaining"],
                        "X-RateLimit-Reset": rate["reset"]}
        if fault:
            answer = self._fault_answer(fault, rate_headers, backend)
        elif rate["over"]:
            answer = _error(429, "too many requests")
        else:
            answer = self._route(url, body, entry)
        answer.headers = {**rate_headers, **answer.headers}
        if truncated:
            # never the whole body, or the read would be complete
            size = len(answer.body) // 2 if truncated["bytes"] is None else truncated["bytes"]
            answer.sent = max(0, min(size, len(answer.body) - 1))
        # recorded before answering so a client reading the log right after sees the status
        backend.update_entry(entry, status=answer.status)
        if self._wait(backend.setting("latency_ms") / 1000.0):
            self._drop()
            return
        self._send(answer)

    @staticmethod
    def _fault_answer(fault, rate_headers, backend):
        kind = fault["kind"]
        if kind == "rate_limit":
            now = time.time()
            reset = backend.reset_value(now + fault["wait"], now, fault["reset"])
            headers = {"X-RateLimit-Limit": rate_headers["X-RateLimit-Limit"], "X-RateLimit-Remaining": 0,
                       "X-RateLimit-Reset": reset}
            if fault["retry_after"] is not None:
                headers["Retry-After"] = fault["retry_after"]
            return _error(429, "too many requests", headers=headers)
        status = fault["status"]
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        if kind == "error":
            return _error(status, fault["message"] or phrase.lower())
        if kind == "html":
            return _Answer(status, raw=HTML_PAGE.format(code=status, phrase=phrase).encode(), content_type="text/html")
        return _Answer(status, raw=str(fault["body"]).encode())

    def _route(self, url, body, entry):  # pylint: disable=too-many-return-statements
        backend = self.server.backend
        methods = ROUTES.get(url.path)
        if methods is None:
            return _error(404, "resource not found")
        if self.command not in methods:
            return _error(405, f"method {self.command} not allowed", headers={"Allow": ", ".join(methods)})
        scopes = backend.scopes_for(self._bearer_key())
        if scopes is None:
            return _error(401, "authorization required")
        if methods[self.command] not in scopes:
            return _error(403, "access forbidden")
        account, problem = backend.resolve_account(self.headers.get("on-behalf-of"))
        backend.update_entry(entry, account=account)
        if problem:
            return _error(*problem)
        if url.path == SUBUSERS_PATH:
            return self._list_subusers(url.query, account)
        if self.command == "GET":
            return _Answer(200, backend.get_settings(account))
        try:
            doc = parse_json(body)
        except (UnicodeDecodeError, ValueError):
            return _error(400, "request body is not valid JSON")
        changes, errors = validate_settings(doc)
        if errors:
            return _Answer(400, {"errors": errors})
        # looked up only now so a rejected PATCH does not use up the fault
        fault = backend.take_fault(self.command, url.path, ("not_applied",))
        if fault:
            backend.update_entry(entry, fault=fault["kind"])
        return _Answer(200, backend.patch_settings(account, changes, apply=fault is None))

    def _list_subusers(self, query, account):
        params = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
        errors = []

        def integer(name, default, low, high):
            try:
                value = int(params.get(name, default))
            except ValueError:
                value = None
            if value is None or value < low or (high is not None and value > high):
                bounds = f"between {low} and {high}" if high is not None else f">= {low}"
                errors.append({"field": name, "message": f"{name} must be an integer {bounds}"})
            return value

        # the spec gives limit no maximum; 0 or less cannot make a page
        limit = integer("limit", SUBUSERS_DEFAULT_LIMIT, 1, None)
        offset = integer("offset", 0, 0, None)
        region = params.get("region", "all")
        if region not in ("all",) + REGIONS:
            errors.append({"field": "region", "message": "region must be one of all, global, eu"})
        include_region = params.get("include_region", "false").lower()
        if include_region not in ("true", "false"):
            errors.append({"field": "include_region", "message": "include_region must be true or false"})
        if errors:
            return _Answer(400, {"errors": errors})
        # a subuser or customer account has no subusers of its own here
        subusers = self.server.backend.list_subusers() if account == PARENT else []
        if "username" in params:
            subusers = [s for s in subusers if s["username"] == params["username"]]
        if region != "all":
            subusers = [s for s in subusers if s["region"] == region]
        fields = ("disabled", "email", "id", "username") + (("region",) if include_region == "true" else ())
        cap = self.server.backend.setting("max_page_size")
        size = limit if cap is None else min(limit, cap)
        return _Answer(200, [{f: s[f] for f in fields} for s in subusers[offset:offset + size]])

    # -- control

    def _control(self, name, body):  # pylint: disable=too-many-return-statements,too-many-branches
        server = self.server
        if name not in CONTROL_METHODS:
            return _error(404, "unknown control endpoint")
        if self.command not in CONTROL_METHODS[name]:
            return _error(405, f"method {self.command} not allowed", headers={"Allow": ", ".join(CONTROL_METHODS[name])})
        try:
            doc = parse_json(body) if body else None
        except (UnicodeDecodeError, ValueError):
            return _error(400, "request body is not valid JSON")
        try:
            if name == "requests":
                if self.command == "DELETE":
                    server.clear_requests()
                    return _Answer(200, {"cleared": True})
                return _Answer(200, server.requests())
            if name == "connections":
                return _Answer(200, server.connections())
            if name == "faults":
                if self.command == "POST":
                    if not isinstance(doc, dict):
                        raise ValueError("expected a fault object")
                    return _Answer(201, server.backend.add_fault(doc))
                if self.command == "DELETE":
                    server.clear_faults()
                return _Answer(200, server.faults())
            if name == "state":
                if self.command == "PUT":
                    if not isinstance(doc, dict) or "account" not in doc:
                        raise ValueError('expected {"account": ..., "settings": {...}}')
                    return _Answer(200, server.set_state(doc["account"], doc.get("settings"), bool(doc.get("replace"))))
                return _Answer(200, server.state())
            if name == "subusers":
                if self.command == "POST":
                    return _Answer(201, server.add_subusers(doc))
                return _Answer(200, server.subusers())
            if name == "config":
                if self.command == "PUT":
                    if not isinstance(doc, dict):
                        raise ValueError(f"expected an object with some of {', '.join(RUNTIME_SETTINGS)}")
                    return _Answer(200, server.set_config(**doc))
                return _Answer(200, server.backend.get_config())
            server.reset()
            return _Answer(200, {"reset": True})
        except KeyError as exc:
            return _error(404, f"unknown account {exc.args[0]!r}", field="account")
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))


class SendGridAPIServer(ThreadingHTTPServer):  # pylint: disable=too-many-instance-attributes,too-many-public-methods
    """The HTTP server plus an in-process API for tests (same operations as the control endpoint)."""

    daemon_threads = True

    def __init__(self, address, backend, verbose=False, ssl_context=None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.backend = backend
        self.verbose = verbose
        self.ssl_context = ssl_context
        self.stop_event = threading.Event()
        self.serving_thread = None
        self._open = {}
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    # -- socketserver hooks

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on a sandbox without DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        request, client_address = super().get_request()
        if self.ssl_context is not None:
            try:
                # no handshake yet: Handler.setup does it in the connection's thread
                request = self.ssl_context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            except OSError:
                request.close()
                raise
        return request, client_address

    def process_request(self, request, client_address):
        # own daemon threads, tracked so stop() can close idle keep-alive connections and join them
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"sendgrid-{self.port}-conn-{client_address[1]}", daemon=True)
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def shutdown_request(self, request):
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # clients vanishing mid-answer (timeouts, drop faults) or refusing the certificate are expected: no traceback
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout, ssl.SSLError)):
            return
        super().handle_error(request, client_address)

    # -- lifecycle

    @property
    def host(self):
        """The address the socket is bound to."""
        return self.server_address[0]

    @property
    def port(self):
        """The port actually bound (useful with port 0)."""
        return self.server_address[1]

    @property
    def region(self):
        """The region this host plays."""
        return self.backend.config.region

    @property
    def url(self):
        """Base URL, e.g. http://127.0.0.1:40123 (https://... when serving TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'http' if self.ssl_context is None else 'https'}://{host}:{self.port}"

    def stop(self, timeout=5.0):
        """Stop serving, close open connections, join their threads and close the socket."""
        self.stop_event.set()
        if self.serving_thread is not None:
            self.shutdown()
            self.serving_thread.join(timeout)
            self.serving_thread = None
        with self._open_lock:
            open_connections = list(self._open.items())
        for sock, dummy in open_connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for dummy, thread in open_connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.server_close()

    # -- in-process test API

    def requests(self):
        """Logged API requests, oldest first."""
        return self.backend.requests()

    def clear_requests(self):
        """Clear the log and the connection counters."""
        self.backend.clear_requests()

    def connections(self):
        """{"opened": API connections, "accepted": all TCP connections} since the last clear."""
        return self.backend.connections()

    def add_fault(self, kind, count=1, method=None, path=None, **params):
        """Queue a fault (see the module docstring); return it."""
        return self.backend.add_fault({"kind": kind, "count": count, "method": method, "path": path, **params})

    def faults(self):
        """Pending faults."""
        return self.backend.pending_faults()

    def clear_faults(self):
        """Drop pending faults."""
        self.backend.clear_faults()

    def state(self):
        """{account key: settings} for every account."""
        return self.backend.state()

    def set_state(self, account, settings, replace=False):
        """Change one account's settings behind the API's back (drift)."""
        return self.backend.set_state(account, settings, replace)

    def subusers(self):
        """Every subuser, region included."""
        return self.backend.list_subusers()

    def add_subusers(self, subusers):
        """Add subusers (dicts or NAME[:region][:disabled] strings); return them."""
        return self.backend.add_subusers(subusers)

    def set_config(self, **changes):
        """Change runtime settings: rate_limit, rate_window, latency_ms, max_page_size, rate_reset."""
        return self.backend.set_config(**changes)

    def reset(self):
        """Back to the start state."""
        self.backend.reset()


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


def start_server(host="127.0.0.1", port=0, verbose=False, tls_cert=None, tls_key=None, **options):
    """Start a server in a background thread; return (server, thread).

    tls_cert and tls_key (PEM file paths) make it serve HTTPS.  options are those of
    build_config(): region, keys, subusers, generate_subusers, eu_subusers, account_ids,
    accounts_file, state, rate_limit, rate_window, latency_ms, faults, max_page_size,
    rate_reset.  Stop it with server.stop().
    """
    ssl_context = make_ssl_context(tls_cert, tls_key)
    server = SendGridAPIServer((host, port), Backend(build_config(**options)), verbose=verbose, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"sendgrid-{server.port}-accept", daemon=True)
    server.serving_thread = thread
    thread.start()
    return server, thread


def stop_server(server, thread=None, timeout=5.0):
    """Stop a server started by start_server()."""
    server.stop(timeout)
    if thread is not None:
        thread.join(timeout)


@contextlib.contextmanager
def running_server(**options):
    """Context manager: yield a started server, stop it on exit."""
    server, thread = start_server(**options)
    try:
        yield server
    finally:
        stop_server(server, thread)


# ----------------------------------------------------------------------------- command line

def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="Local SendGrid-compatible API server (enforced TLS settings, subusers).",
                                     epilog="See the module docstring for the /__control__/ endpoint and fault kinds.")
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
    parser.add_argument("--rate-limit", type=int, default=10000, metavar="N", help="requests per window per key (10000)")
    parser.add_argument("--rate-window", type=float, default=60.0, metavar="S", help="rate-limit window in seconds (60)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS", help="delay added to every API answer (0)")
    parser.add_argument("--rate-reset", choices=RATE_RESET_FORMATS, default="epoch",
                        help="X-RateLimit-Reset as the epoch second the window ends (default) or the seconds until then")
    parser.add_argument("--max-page-size", type=int, default=None, metavar="N",
                        help="at most N subusers per page of GET /v3/subusers, whatever limit asks (default: no cap)")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (chain)")
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert (if not in that file)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND[:COUNT[:METHOD]][,NAME=VALUE...]",
                        help="inject a fault (repeatable)")
    parser.add_argument("--ready-file", metavar="PATH", help="write the URL there once listening")
    parser.add_argument("--verbose", action="store_true", help="access log on stderr (never headers or keys)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run until SIGTERM or SIGINT; return the exit status."""
    args = parse_args(argv)
    try:
        server, thread = start_server(
            host=args.host, port=args.port, verbose=args.verbose, region=args.region, keys=args.key,
            subusers=args.subuser, generate_subusers=args.subusers, eu_subusers=args.eu_subusers,
            account_ids=args.account_id, accounts_file=args.accounts_file, rate_limit=args.rate_limit,
            rate_window=args.rate_window, latency_ms=args.latency, faults=args.fault, rate_reset=args.rate_reset,
            max_page_size=args.max_page_size, tls_cert=args.tls_cert, tls_key=args.tls_key)
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


if __name__ == "__main__":
    sys.exit(main())
