#!/usr/bin/env python
"""A local SendGrid-compatible API server for tests, demos and benchmarks: the core.

It plays one SendGrid API host (``--region global``: https://api.sendgrid.com, ``--region eu``:
https://api.eu.sendgrid.com) and serves, faithfully to the official OpenAPI description, the endpoints the
collection uses.  Each endpoint family is one file of tools/sendgrid_api/ whose docstring gives its endpoints,
scopes, per-account default state and body validation (the ROUTE_TABLE in __init__.py lists them):

    enforced_tls.py        /v3/user/settings/enforced_tls
    subusers.py            /v3/subusers, /v3/subusers/{subuser_name}
    tracking_settings.py   /v3/tracking_settings, /v3/tracking_settings/NAME
    mail_settings.py       /v3/mail_settings, /v3/mail_settings/NAME
    ip_access.py           /v3/access_settings/whitelist[/{rule_id}], /v3/access_settings/activity
    api_keys.py            /v3/api_keys, /v3/api_keys/{api_key_id}
    teammates.py           /v3/teammates[/{username}], /v3/teammates/pending[/{token}[/resend]]
    domains.py             /v3/whitelabel/domains[/{domain_id}[/validate|/ips|/subuser|/subuser:add]], .../default,
                           .../subuser[/all]
    links.py               /v3/whitelabel/links[/{id}[/validate|/subuser]], .../default, .../subuser
    webhooks.py            /v3/user/webhooks/event/settings[/all|/{id}|/signed[/{id}]], /v3/user/webhooks/event/test
    scopes.py              /v3/scopes

Beside them: common.py (what GET and PATCH of a setting do), config.py (keys, subusers, accounts file, runtime
settings, TLS, the command line), faults.py (fault kinds), access.py (IP access enforcement, client address,
activity), accounts.py (the accounts and their state, drift made by set_state()), transport.py (sockets, TLS,
a thread per connection), whitelabel.py and dns_check.py (the validation of domains and links by real DNS lookups
on the resolver given with --dns-resolver: tools/dns_server.py is the DNS server tests and the demo give it).

This file does HTTP (keep-alive, chunked bodies, HTTPS), authentication, scopes, on-behalf-of, rate limits, the
request log and the control endpoint.  Authentication is ``Authorization: Bearer <key>`` with the keys given at
start (ALL_SCOPES: every scope some route needs) or created since by POST /v3/api_keys, while they are on their
account's list, with the scopes listed there (api_keys.authenticate).  ``on-behalf-of`` selects the account: none
for the key's own account (the parent's for the start keys), ``<subuser name>`` for a subuser, ``account-id <id>``
for a customer account; only a parent's key may send it.  A route answers, in this order:
404 for an unknown path, 405 (with Allow) for another method, 401 without a known key, 403 from a client address
the allow lists refuse (access.py), 403 without the route's scope (when it needs one), then 404 for an unknown
on-behalf-of account, 403 naming the host to use for a subuser pinned to the other region (its own keys included),
or 403 for on-behalf-of sent with a key that is not a parent's.

Every API answer carries ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` from a fixed-window limit per API
key AND endpoint, as on SendGrid: the bucket is (key, request path without query; for a route with a parameter,
its declared path: every rule id of /v3/access_settings/whitelist/{rule_id} shares one), GET and PATCH of a path
share it.  ``--rate-limit`` is every endpoint's budget per window unless ``--endpoint-rate-limit PATH=N`` gives
that path another; ``--rate-reset epoch`` (default) makes the reset the epoch second the window ends, ``seconds``
the whole number of seconds until then, rounded up.

Standard library only, Python 3.9+, but for the DNS lookups of the validation routes (dnspython, needed only
with --dns-resolver).  Run it as a command (``--help``), e.g. ``python tools/sendgrid_api_server.py
--port 0 --key SG.k=user.settings.enforced_tls.read --ready-file url.txt``, or in-process, where the server
object offers what the control endpoint does: requests(), clear_requests(), connections(), faults(),
add_fault(kind, count=1, method=None, path=None, **params), clear_faults(), state(setting=None), set_state(account,
settings, replace=False, setting=None), subusers(), add_subusers(subusers), activity(account="parent"),
clear_activity(), set_config(**changes), reset()::

    with running_server(keys={"SG.k": ALL_SCOPES}, max_page_size=50) as srv:
        requests.get(srv.url + "/v3/user/settings/enforced_tls", ...)
        srv.add_fault("error", status=503); srv.set_state("marketing", {"enabled": True}, setting="tracking_settings/open")

Control endpoint (tests only): JSON in and out, on the same socket, no auth, not rate limited, not logged, no
latency, never refused by an allow list, never faulted::

    GET    /__control__/requests      the API requests received, oldest first
    DELETE /__control__/requests      clear that log and the connection counters
    GET    /__control__/connections   {"opened": TCP connections that carried API requests,
                                       "accepted": all TCP connections, control included}
    GET    /__control__/faults        the faults still pending (kinds and parameters: faults.py)
    POST   /__control__/faults        add one: {"kind": K, "count": 1, "method": null, "path": null, ...params}
    DELETE /__control__/faults        drop all pending faults
    GET    /__control__/state         {"parent": settings, "<subuser>": settings, "account-id <id>": settings}
                                      (Enforced TLS); ?setting=<family>/<name> for another, e.g. mail_settings/footer
    PUT    /__control__/state         {"account": "<key>", "settings": {...}, "replace": false, "setting": null}:
                                      unvalidated drift (accounts.py; a list setting: ip_access.py, api_keys.py,
                                      teammates.py: "teammates" plants teammates or accepts an invitation,
                                      "teammates/pending" plants invitations; domains.py "whitelabel/domains",
                                      links.py "whitelabel/links", webhooks.py "user/webhooks/event/settings")
    GET    /__control__/activity      ?account=<key> (default parent): its IP access activity, most recent first
    DELETE /__control__/activity      forget every account's activity
    GET    /__control__/subusers      every subuser, region included
    POST   /__control__/subusers      add subusers: [{"username", "region", "disabled", "id"?, "email"?}, ...]
    GET    /__control__/config        {"region", "rate_limit", "rate_window", "latency_ms", "max_page_size",
                                       "rate_reset", "endpoint_rate_limits", "trust_forwarded_for", "api_key_answer",
                                       "domain_answer", "dns_resolver"}
    PUT    /__control__/config        change any but region ("max_page_size": null removes the cap, "dns_resolver":
                                      null the resolver, null leaves the others; "endpoint_rate_limits" replaces
                                      the whole map); rate windows restart
    POST   /__control__/reset         back to the start state (allow lists, activity, faults, config included)

A logged request is {"seq", "time", "connection" (id, to see reuse), "method", "path" (with query), "headers"
(as received, Authorization included), "body" (parsed JSON, else text), "body_is_json", "status" (null when
dropped), "account" (targeted account key, once past the key, IP and scope checks), "fault", "client_ip" (the
client address as IP Access Management saw it)}.  The 429s a client got are the entries with status 429.  No
answer body is logged (a created key's secret is only in its POST's answer); the body fields a route declares
masked (a new subuser's password) are logged as "********", and a body of such a route that is not JSON as
MASKED_TEXT.
"""

import contextlib
import copy
import itertools
import math
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

# The endpoint families live in tools/sendgrid_api/, next to this file: importable from any cwd, also when this
# file is loaded with importlib.util.spec_from_file_location.
_TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TOOLS_DIR not in sys.path:
    sys.path.insert(0, _TOOLS_DIR)

# pylint: disable=wrong-import-position
from sendgrid_api import ALL_SCOPES, ROUTE_INDEX, ROUTE_TABLE, SETTINGS, match_path  # noqa: E402
from sendgrid_api.access import IPAccess, request_address  # noqa: E402
from sendgrid_api.accounts import Accounts  # noqa: E402
from sendgrid_api.api_keys import SCOPE_CREATE as SCOPE_API_KEYS_CREATE, SCOPE_DELETE as SCOPE_API_KEYS_DELETE  # noqa: E402
from sendgrid_api.api_keys import SCOPE_READ as SCOPE_API_KEYS_READ, SCOPE_UPDATE as SCOPE_API_KEYS_UPDATE  # noqa: E402
from sendgrid_api.api_keys import authenticate  # noqa: E402
from sendgrid_api.common import (PARENT, REGIONS, Answer as _Answer, Request, error as _error, error_body,  # noqa: E402
                                 masked_body, parse_json)
from sendgrid_api.config import (ACCOUNT_ID_RE, DEMO_KEY, RUNTIME_SETTINGS, account_key, build_config,  # noqa: E402
                                 check_changes, make_ssl_context, run_command)
from sendgrid_api.domains import SCOPE_CREATE as SCOPE_WHITELABEL_CREATE, SCOPE_DELETE as SCOPE_WHITELABEL_DELETE  # noqa: E402
from sendgrid_api.domains import SCOPE_READ as SCOPE_WHITELABEL_READ, SCOPE_UPDATE as SCOPE_WHITELABEL_UPDATE  # noqa: E402
from sendgrid_api.enforced_tls import (DEFAULT_SETTINGS, SCOPE_TLS_READ, SCOPE_TLS_UPDATE, SETTING_FIELDS,  # noqa: E402
                                       TLS_PATH, TLS_SETTING, TLS_VERSIONS, validate_settings)
from sendgrid_api.faults import FAULT_KINDS, FAULT_PARAMS, ON_ARRIVAL, Faults, cut_short, fault_answer, make_fault  # noqa: E402
from sendgrid_api.ip_access import (SCOPE_ACTIVITY_READ, SCOPE_WHITELIST_CREATE, SCOPE_WHITELIST_DELETE,  # noqa: E402
                                    SCOPE_WHITELIST_READ, WHITELIST_KEY)
from sendgrid_api.mail_settings import SCOPE_READ as SCOPE_MAIL_SETTINGS_READ  # noqa: E402
from sendgrid_api.subusers import (SCOPE_SUBUSERS_CREATE, SCOPE_SUBUSERS_DELETE, SCOPE_SUBUSERS_READ,  # noqa: E402
                                   SCOPE_SUBUSERS_UPDATE, SUBUSERS_DEFAULT_LIMIT, SUBUSERS_PATH)
from sendgrid_api.teammates import SCOPE_CREATE as SCOPE_TEAMMATES_CREATE, SCOPE_DELETE as SCOPE_TEAMMATES_DELETE  # noqa: E402
from sendgrid_api.teammates import SCOPE_READ as SCOPE_TEAMMATES_READ, SCOPE_UPDATE as SCOPE_TEAMMATES_UPDATE  # noqa: E402
from sendgrid_api.tracking_settings import SCOPE_READ as SCOPE_TRACKING_SETTINGS_READ  # noqa: E402
from sendgrid_api.transport import ThreadedServer  # noqa: E402
from sendgrid_api.webhooks import SCOPE_READ as SCOPE_WEBHOOKS_READ, SCOPE_TEST as SCOPE_WEBHOOKS_TEST  # noqa: E402
from sendgrid_api.webhooks import SCOPE_UPDATE as SCOPE_WEBHOOKS_UPDATE  # noqa: E402
# pylint: enable=wrong-import-position

CONTROL_PREFIX = "/__control__/"
# What the log shows of a body that is not JSON on a route with masked fields: it may hold one of them.
MASKED_TEXT = "******** (not JSON: not logged, it may hold a masked field)"

# Scope needed per path and method, from the route table; the keys of each entry also make the Allow header of a 405.
ROUTES = {path: {method: route.scope for method, route in methods.items()} for path, methods in ROUTE_INDEX.items()}

REGION_HOSTS = {"global": "https://api.sendgrid.com", "eu": "https://api.eu.sendgrid.com"}

CONTROL_METHODS = {
    "requests": ("GET", "DELETE"),
    "connections": ("GET",),
    "faults": ("GET", "POST", "DELETE"),
    "state": ("GET", "PUT"),
    "subusers": ("GET", "POST"),
    "config": ("GET", "PUT"),
    "activity": ("GET", "DELETE"),
    "reset": ("POST",),
}

__all__ = [
    "ALL_SCOPES", "SCOPE_TLS_READ", "SCOPE_TLS_UPDATE", "SCOPE_SUBUSERS_READ", "SCOPE_SUBUSERS_CREATE",
    "SCOPE_SUBUSERS_UPDATE", "SCOPE_SUBUSERS_DELETE", "SCOPE_TRACKING_SETTINGS_READ", "SCOPE_MAIL_SETTINGS_READ",
    "SCOPE_WHITELIST_READ", "SCOPE_WHITELIST_CREATE", "SCOPE_WHITELIST_DELETE", "SCOPE_ACTIVITY_READ",
    "SCOPE_API_KEYS_READ", "SCOPE_API_KEYS_CREATE", "SCOPE_API_KEYS_UPDATE", "SCOPE_API_KEYS_DELETE",
    "SCOPE_TEAMMATES_READ", "SCOPE_TEAMMATES_CREATE", "SCOPE_TEAMMATES_UPDATE", "SCOPE_TEAMMATES_DELETE", "MASKED_TEXT",
    "SCOPE_WHITELABEL_READ", "SCOPE_WHITELABEL_CREATE", "SCOPE_WHITELABEL_UPDATE", "SCOPE_WHITELABEL_DELETE",
    "SCOPE_WEBHOOKS_READ", "SCOPE_WEBHOOKS_UPDATE", "SCOPE_WEBHOOKS_TEST",
    "WHITELIST_KEY", "DEFAULT_SETTINGS", "SETTING_FIELDS", "TLS_VERSIONS",
    "TLS_PATH", "SUBUSERS_PATH", "SUBUSERS_DEFAULT_LIMIT", "ROUTES", "ROUTE_TABLE", "SETTINGS", "TLS_SETTING", "PARENT",
    "REGIONS", "DEMO_KEY", "FAULT_KINDS", "FAULT_PARAMS", "error_body", "parse_json", "validate_settings", "match_path",
    "build_config", "make_fault", "start_server", "stop_server", "running_server", "SendGridAPIServer", "main",
]


class Backend(Accounts):  # pylint: disable=too-many-instance-attributes
    """All mutable server state: the accounts and their state (accounts.py, behind the lock this class shares), and
    here the request log, connection counters, runtime settings and rate windows; the pending faults (faults.py) and
    the access activity (access.py) sit in objects of their own."""

    def __init__(self, config):
        super().__init__(config)
        self.faults = Faults()
        self.ip_access = IPAccess()
        self._connection_ids = itertools.count(1)
        self.generation = 0
        self.log = []
        self._seq = itertools.count(1)
        self.opened = self.accepted = 0
        self.runtime = {}
        self.buckets = {}
        self.reset()

    def reset(self):
        """Return to the start state."""
        with self._lock:
            super().reset()
            self.runtime = dict(self.config.runtime)
            self.faults.reset(self.config.faults)
            self.buckets = {}
            self.ip_access.clear()
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

    # -- rate limit and runtime settings

    def consume_rate(self, key, path):
        """Count one request against the fixed window of (API key, path); return the header values."""
        with self._lock:
            window = self.runtime["rate_window"]
            # each endpoint has its own budget per key, as on SendGrid
            limit = self.runtime["endpoint_rate_limits"].get(path, self.runtime["rate_limit"])
            now = time.time()
            bucket = self.buckets.get((key, path))
            if bucket is None or now >= bucket[0] + window:
                bucket = self.buckets[(key, path)] = [now, 0]
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
        """One runtime setting (see config.RUNTIME_SETTINGS)."""
        with self._lock:
            return self.runtime[name]

    def get_config(self):
        """Return the region and the runtime settings."""
        with self._lock:
            return {"region": self.config.region, **copy.deepcopy(self.runtime)}

    def set_config(self, **changes):
        """Change runtime settings; None leaves one unchanged, except max_page_size where it removes the cap.

        endpoint_rate_limits replaces the whole {path: limit} map ({} removes every override).
        """
        changes = check_changes(changes)
        with self._lock:
            self.runtime.update(changes)
            # a changed limit or window only makes sense from a fresh window
            self.buckets = {}
            return self.get_config()

    # -- keys, on-behalf-of, IP access

    def identify(self, key):
        """(account the key belongs to, its scopes) for a key that authenticates now, else None (api_keys.py)."""
        return authenticate(self, key)

    def scopes_for(self, key):
        """Return the scopes of a key, None when it is unknown."""
        identity = self.identify(key)
        return None if identity is None else identity[1]

    def resolve_account(self, on_behalf_of, home=PARENT):
        """Map the on-behalf-of header, sent with a key of the account home, to (account key, None) or (None, (status,
        message)).  Without the header the key's own account is targeted; only a parent's key may send it."""
        value = (on_behalf_of or "").strip()
        if not value:
            if home == PARENT or home.startswith("account-id "):
                return home, None
            value = home
        elif home != PARENT:
            return None, (403, "on-behalf-of needs an API key of the parent account")
        match = ACCOUNT_ID_RE.match(value)
        if match:
            account = f"account-id {match.group(1)}"
            if not self.known(account):
                return None, (404, f"customer account {match.group(1)} not found")
            return account, None
        sub = self.subuser(value)
        if sub is None:
            return None, (404, f"subuser '{value}' not found")
        if sub["region"] != self.config.region:
            return None, (403, f"subuser '{value}' belongs to the {sub['region']} region: "
                               f"send its requests to {REGION_HOSTS[sub['region']]}")
        return value, None

    def check_access(self, key, on_behalf_of, address):
        """Judge an API request on arrival by the allow lists and record it as activity (access.py); return an Access."""
        identity = self.identify(key)
        account, problem = self.resolve_account(on_behalf_of, PARENT if identity is None else identity[0])
        return self.ip_access.judge(lambda name: self.get_setting(name, WHITELIST_KEY), identity is not None,
                                    account, problem, address)

    def activity(self, account=PARENT):
        """One account's access activity, most recent first; KeyError for an unknown account."""
        account = account_key(account)
        if not self.known(account):
            raise KeyError(account)
        return self.ip_access.activity(account)


# ----------------------------------------------------------------------------- HTTP

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
            self._send(self._control(url.path[len(CONTROL_PREFIX):], url.query, body))
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
            if answer.content_type is not None:
                self.send_header("Content-Type", answer.content_type)
            if answer.status != 204:
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
        masked = getattr(ROUTE_INDEX.get(match_path(url.path)[0], {}).get(self.command), "masked", ())
        if masked and logged_body is not None:
            logged_body = masked_body(logged_body, masked) if is_json else MASKED_TEXT
        address = request_address(self.client_address[0], self.headers.get("X-Forwarded-For"),
                                  backend.setting("trust_forwarded_for"))
        entry = backend.log_request({
            "time": time.time(), "connection": self.connection_id, "method": self.command, "path": self.path,
            "headers": headers, "body": logged_body, "body_is_json": is_json, "status": None, "account": None,
            "fault": None, "client_ip": address})
        # judged (and recorded as access activity) on arrival, whatever answers it
        access = backend.check_access(self._bearer_key(), self.headers.get("on-behalf-of"), address)
        fault = backend.faults.take(self.command, url.path, ON_ARRIVAL)
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
        # the endpoint: the request path, or the declared path of a route with parameters
        rate = backend.consume_rate(self._bearer_key() or "", match_path(url.path)[0] or url.path)
        rate_headers = {"X-RateLimit-Limit": rate["limit"], "X-RateLimit-Remaining": rate["remaining"],
                        "X-RateLimit-Reset": rate["reset"]}
        if fault:
            answer = fault_answer(fault, rate["limit"], backend.reset_value)
        elif rate["over"]:
            answer = _error(429, "too many requests")
        else:
            answer = self._route(url, body, entry, access)
        answer.headers = {**rate_headers, **answer.headers}
        if truncated:
            cut_short(answer, truncated)
        # recorded before answering so a client reading the log right after sees the status
        backend.update_entry(entry, status=answer.status)
        if self._wait(backend.setting("latency_ms") / 1000.0):
            self._drop()
            return
        self._send(answer)

    def _route(self, url, body, entry, access):  # pylint: disable=too-many-return-statements
        backend = self.server.backend
        declared, path_params = match_path(url.path)
        methods = ROUTE_INDEX.get(declared)
        if methods is None:
            return _error(404, "resource not found")
        route = methods.get(self.command)
        if route is None:
            return _error(405, f"method {self.command} not allowed", headers={"Allow": ", ".join(methods)})
        scopes = backend.scopes_for(self._bearer_key())
        if scopes is None:
            return _error(401, "authorization required")
        if access.refused_by is not None:
            return _error(403, access.refusal())
        if route.scope is not None and route.scope not in scopes:
            return _error(403, "access forbidden")
        account, problem = access.account, access.problem
        backend.update_entry(entry, account=account)
        if problem:
            return _error(*problem)

        def not_applied():
            fault = backend.faults.take(self.command, url.path, ("not_applied",))
            if fault:
                backend.update_entry(entry, fault=fault["kind"])
            return fault is not None

        return route.handler(Request(self.command, url.path, url.query, body, account, backend, not_applied, path_params,
                                     scopes))

    # -- control

    def _control(self, name, query, body):  # pylint: disable=too-many-return-statements,too-many-branches
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
                    return _Answer(201, server.backend.faults.add(doc))
                if self.command == "DELETE":
                    server.clear_faults()
                return _Answer(200, server.faults())
            if name == "state":
                if self.command == "PUT":
                    if not isinstance(doc, dict) or "account" not in doc:
                        raise ValueError('expected {"account": ..., "settings": {...}, "setting": null}')
                    return _Answer(200, server.set_state(doc["account"], doc.get("settings"), bool(doc.get("replace")),
                                                         setting=doc.get("setting")))
                params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
                return _Answer(200, server.state(params.get("setting") or None))
            if name == "subusers":
                if self.command == "POST":
                    return _Answer(201, server.add_subusers(doc))
                return _Answer(200, server.subusers())
            if name == "activity":
                if self.command == "DELETE":
                    server.clear_activity()
                    return _Answer(200, {"cleared": True})
                params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
                return _Answer(200, server.activity(params.get("account") or PARENT))
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


class SendGridAPIServer(ThreadedServer):  # pylint: disable=too-many-public-methods
    """The HTTP server (sockets, TLS and threads: transport.py) plus an in-process API for tests (same operations as
    the control endpoint)."""

    def __init__(self, address, backend, verbose=False, ssl_context=None):
        self.backend = backend
        self.verbose = verbose
        super().__init__(address, Handler, ssl_context)

    @property
    def region(self):
        """The region this host plays."""
        return self.backend.config.region

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
        """Queue a fault (faults.py); return it."""
        return self.backend.faults.add({"kind": kind, "count": count, "method": method, "path": path, **params})

    def faults(self):
        """Pending faults."""
        return self.backend.faults.pending()

    def clear_faults(self):
        """Drop pending faults."""
        self.backend.faults.clear()

    def state(self, setting=None):
        """{account key: settings} for every account: Enforced TLS, or the setting named "<family>/<name>"."""
        return self.backend.state(setting)

    def set_state(self, account, settings, replace=False, setting=None):
        """Change one account's Enforced TLS settings, or the named setting, behind the API's back (drift)."""
        return self.backend.set_state(account, settings, replace, setting)

    def subusers(self):
        """Every subuser, region included."""
        return self.backend.list_subusers()

    def activity(self, account=PARENT):
        """One account's IP access activity ("parent", "<subuser>", "account-id <id>"), most recent first."""
        return self.backend.activity(account)

    def clear_activity(self):
        """Forget every account's IP access activity."""
        self.backend.ip_access.clear()

    def add_subusers(self, subusers):
        """Add subusers (dicts or NAME[:region][:disabled] strings); return them."""
        return self.backend.add_subusers(subusers)

    def set_config(self, **changes):
        """Change runtime settings: rate_limit, rate_window, latency_ms, max_page_size, rate_reset, endpoint_rate_limits,
        trust_forwarded_for, api_key_answer, domain_answer, dns_resolver."""
        return self.backend.set_config(**changes)

    def reset(self):
        """Back to the start state."""
        self.backend.reset()


def start_server(host="127.0.0.1", port=0, verbose=False, tls_cert=None, tls_key=None, **options):
    """Start a server in a background thread; return (server, thread).

    tls_cert and tls_key (PEM file paths) make it serve HTTPS.  options are those of
    build_config(): region, keys, subusers, generate_subusers, eu_subusers, account_ids,
    accounts_file, state, rate_limit, rate_window, latency_ms, faults, max_page_size,
    rate_reset, endpoint_rate_limits, trust_forwarded_for, api_key_answer, domain_answer,
    dns_resolver ("IP:PORT" of the DNS resolver validation asks, e.g. a tools/dns_server.py).  Stop it with
    server.stop().
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


def main(argv=None):
    """The command line (config.py): serve until SIGTERM or SIGINT; return the exit status."""
    return run_command(argv, start_server, stop_server)


if __name__ == "__main__":
    sys.exit(main())
