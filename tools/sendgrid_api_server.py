#!/usr/bin/env python
"""A local SendGrid-compatible API server for tests, demos and benchmarks.

It plays one SendGrid API host (``--region global`` for https://api.sendgrid.com,
``--region eu`` for https://api.eu.sendgrid.com) and implements, faithfully to the
official OpenAPI description, the endpoints the collection uses:

    GET    /v3/user/settings/enforced_tls            scope user.settings.enforced_tls.read
    PATCH  /v3/user/settings/enforced_tls            scope user.settings.enforced_tls.update
    GET    /v3/subusers                              scope subusers.read
    GET    /v3/tracking_settings                     scope tracking_settings.read
    GET    /v3/tracking_settings/NAME                scope tracking_settings.NAME.read
    PATCH  /v3/tracking_settings/NAME                scope tracking_settings.NAME.update
           NAME: click, google_analytics, open, subscription
    GET    /v3/mail_settings                         scope mail_settings.read
    GET    /v3/mail_settings/NAME                    scope mail_settings.NAME.read
    PATCH  /v3/mail_settings/NAME                    scope mail_settings.NAME.update
           NAME: address_whitelist, bounce_purge, footer, forward_bounce, forward_spam, template
    GET    /v3/access_settings/whitelist             scope access_settings.whitelist.read
    POST   /v3/access_settings/whitelist             scope access_settings.whitelist.create
    DELETE /v3/access_settings/whitelist             scope access_settings.whitelist.delete
    GET    /v3/access_settings/whitelist/{rule_id}   scope access_settings.whitelist.read
    DELETE /v3/access_settings/whitelist/{rule_id}   scope access_settings.whitelist.delete
    GET    /v3/access_settings/activity              scope access_settings.activity.read
    GET    /v3/api_keys                              scope api_keys.read
    GET    /v3/api_keys/{api_key_id}                 scope api_keys.read
    GET    /v3/scopes                                no scope: any known key (the spec names none)

The core (this file) does HTTP, authentication, IP access enforcement and activity, scopes, on-behalf-of,
faults, rate limits, the request log and the control endpoint.  Each endpoint family is one file of
tools/sendgrid_api/ (enforced_tls.py, subusers.py, tracking_settings.py, mail_settings.py, ip_access.py,
api_keys.py, scopes.py) declaring its routes (path, method -> scope or None, handler; a path may hold {name}
parameters), its per-account default state and its body validation; tools/sendgrid_api/__init__.py holds the
ROUTE_TABLE, one entry per family.

Authentication is ``Authorization: Bearer <key>``; keys and their scopes are given at
start (ALL_SCOPES: every scope above).  The ``on-behalf-of`` header selects the account: none for
the parent, ``<subuser name>`` for a subuser, ``account-id <id>`` for a customer account; an
unknown one is a 404.  A subuser pinned to the other region is refused with 403 naming the host
to use.  Every route answers 404 for an unknown path, 405 (with Allow) for another method, 401
without a known key, 403 from a client address the IP Access Management allow lists do not permit
(below), 403 without the route's scope (when it needs one), then the 404/403 of an unknown or other-region on-behalf-of
account, in that order.

Settings, kept per account (parent, every subuser, every customer account), each reached in tests
by its key, the API path after /v3/ (e.g. ``tracking_settings/click``), and starting as:

    user/settings/enforced_tls       {"require_tls": false, "require_valid_cert": false, "version": 1.1}
    tracking_settings/click          {"enable_text": false, "enabled": true}
    tracking_settings/open           {"enabled": true}
    tracking_settings/google_analytics  {"enabled": false, "utm_source": "", "utm_medium": "", "utm_term": "",
                                     "utm_content": "", "utm_campaign": ""}
    tracking_settings/subscription   {"enabled": false, "html_content": "", "plain_content": "", "landing": "",
                                     "replace": "", "url": ""}
    mail_settings/address_whitelist  {"enabled": false, "list": []}
    mail_settings/bounce_purge       {"enabled": false, "soft_bounces": null, "hard_bounces": null}
    mail_settings/footer             {"enabled": false, "html_content": "", "plain_content": ""}
    mail_settings/forward_bounce     {"enabled": false, "email": null}
    mail_settings/forward_spam       {"enabled": false, "email": ""}
    mail_settings/template           {"enabled": false, "html_content": ""}
    access_settings/whitelist        []  (a list of rules {"id", "ip", "created_at", "updated_at"}, see below)
    api_keys                         []  (the keys planted on the account, see below)

GET answers the stored object.  PATCH is partial (fields left out keep their value), needs a JSON
object and answers 200 with the whole resulting object; a wrong type, an unknown field, a read-only
one or an invalid value is a 400 ``{"errors": [{"field", "message"}]}`` naming the field, and
nothing is stored.  Booleans must be JSON booleans, integers JSON integers.  Per setting:
Enforced TLS version is one of the numbers 1.1, 1.2, 1.3; click's ``enable_text`` is read-only
(its PATCH takes ``enabled`` alone); google_analytics' utm_* and subscription's html_content,
plain_content, landing, replace, url are strings; address_whitelist ``list`` is an array of e-mail
addresses or domains, and a PATCH carrying it replaces the whole list; bounce_purge soft_bounces
and hard_bounces are integers or null; footer and template contents are strings; forward_bounce
``email`` is one address, "" or null; forward_spam ``email`` is ONE string of comma-separated
addresses ("a@example.com, b@example.com"), stored as given, "" for none.
``GET /v3/tracking_settings`` answers ``{"result": [{"name", "title", "description", "enabled"}]}``
for click, google_analytics, open, subscription; ``GET /v3/mail_settings`` answers ``{"result":
[{"title", "enabled", "name", "description"}]}`` for address_whitelist, bounce_purge, footer,
forward_bounce, forward_spam, template, paged by ``limit`` (an integer >= 1, default: all) and
``offset`` (an integer >= 0, default 0).  Both reflect each setting's stored ``enabled``.

``GET /v3/subusers`` lists every subuser on both hosts (``region`` filters them); on
behalf of a subuser or customer account it lists none.  Its ``limit`` (default 100) must be an
integer >= 1 and ``offset`` one >= 0; the spec documents no maximum for ``limit``, and none is
enforced unless ``--max-page-size N`` is given: then a page silently holds at most N subusers
whatever ``limit`` asked for, as a real server may do.

IP Access Management (details in tools/sendgrid_api/ip_access.py).  Each account keeps its own allow
list.  POST checks every entry before storing any (a bad one is a 400 naming it, e.g. ``ips[1].ip``) and
stores them canonical as SendGrid does: 192.168.1.1 -> 192.168.1.1/32, 2001:db8::1 -> 2001:db8::1/128,
10.1.2.3/8 -> 10.0.0.0/8 (IPv6 compressed), 192.*.*.* / 192.168.*.* / 192.168.1.* -> the /8, /16, /24
network; a network already on the list is not added twice (its existing rule is what the 201 result shows
for it).  Rule ids come from one counter per server and are never reused, not even after a reset.  DELETE
(by ``{"ids": [...]}`` or by rule id) answers 204 without a body; an id not on the list is a 404 naming it
and nothing is removed.  GET of one rule answers ``{"result": [rule]}`` as the spec has it.

ENFORCEMENT: the client address of an API request is its TCP peer address (an IPv4-mapped IPv6 one as
IPv4) or, with ``--trust-forwarded-for`` (runtime: ``trust_forwarded_for``), the first address of its
``X-Forwarded-For`` header when that starts with one, so tests can play proxies, NAT and other clients
from 127.0.0.1.  When the parent's allow list is non-empty and none of its rules covers the address, or
the request targets another account (on-behalf-of) whose list is non-empty and none of its rules covers
it, the request is refused with 403 ``{"errors": [{"field": null, "message": "access forbidden: IP address
1.2.3.4 is not allowed to access this account (IP Access Management)"}]}`` ("subuser 'NAME'", "customer
account ID" when the targeted account's list refuses it), after the 401 of an unknown key and before the
scope check.  An empty list permits every address.  The control endpoint is never restricted.

ACTIVITY: every API request (never a control request), whatever answers it (refusals, faults and 429s
included), is recorded on arrival in the access activity of the parent and of the account it targets when
on-behalf-of names a known one: one entry ``{"allowed", "auth_method", "first_at", "ip", "last_at",
"location"}`` per (ip, allowed, auth_method), first_at and last_at in epoch seconds; ``allowed`` is false for
an unknown key or a refused address, ``auth_method`` is "API Key", ``location`` "".  ``GET
/v3/access_settings/activity?limit=N`` (an integer >= 1, default 20) answers the targeted account's entries,
most recent last_at first.

API keys (details in tools/sendgrid_api/api_keys.py), read only.  Each account has its own keys: the parent's
are the keys the server was started with (listed in the order given as ``{"name": "start key N", "api_key_id":
"start-key-N"}`` with their scopes, never their secret), then any planted on it; a subuser's or customer
account's are those planted on it.  A planted key ``{"name", "scopes", "api_key_id"?}`` (id ``key-N`` when
missing) is listed only: it authenticates nothing.  ``GET /v3/api_keys?limit=N`` (an integer >= 1, default
all) answers ``{"result": [{"name", "api_key_id"}]}``; ``GET /v3/api_keys/{api_key_id}`` answers the key's
``{"name", "api_key_id", "scopes"}`` wrapped as ``{"result": [key]}`` (the spec's schema; default) or bare, as
``--api-key-answer result|object`` (runtime: ``api_key_answer``) says; another id is a 404.

Scopes (details in tools/sendgrid_api/scopes.py).  ``GET /v3/scopes`` answers ``{"scopes": [...]}``, the
calling key's scopes, sorted, whatever account on-behalf-of targets; the spec names no scope for it, so any
known key may call it (a key without scopes gets ``{"scopes": []}``).

Every API answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` from a fixed-window limit per API key AND endpoint, as on SendGrid: the
bucket is (key, request path without query), so spending one endpoint's budget leaves the others'
whole (GET and PATCH of one path share one); for a route with a parameter the endpoint is the declared
path (``/v3/access_settings/whitelist/{rule_id}``: every rule id shares one bucket).  ``--rate-limit`` is every endpoint's budget per
window unless ``--endpoint-rate-limit PATH=N`` (runtime: ``endpoint_rate_limits``) gives that path
another.  ``--rate-reset epoch`` (default) makes the reset the epoch second the window ends,
``--rate-reset seconds`` the whole number of seconds until then, rounded up (SendGrid is seen
sending both).

Plain HTTP by default; with ``--tls-cert FILE --tls-key FILE`` (PEM; the key may also sit in
the certificate file) it speaks HTTPS only and its URL is ``https://HOST:PORT``.

Two instances started with the same ``--accounts-file`` play the two hosts; the file is
``{"keys": {KEY: [scopes]}, "subusers": [{"username", "region", "disabled", "id", "email"}],
"account_ids": ["123"], "state": {"<account key>": settings}}`` (every part optional).  An
account's ``settings`` holds Enforced TLS fields (``{"require_tls": true}``) and/or entries
``"<family>/<name>": {fields}`` for other settings (``{"mail_settings/footer": {"enabled": true}}``);
both are merged into the defaults, unvalidated.  ``"access_settings/whitelist": ["1.2.3.4", "10.0.0.0/8"]``
gives an account's allow list (strings canonicalised, rule objects taken as they are); ``"api_keys": [{"name",
"scopes"}]`` plants keys on an account.

Standard library only, Python 3.9+.  Run it as a command::

    python tools/sendgrid_api_server.py --port 0 --key SG.k=user.settings.enforced_tls.read
    python tools/sendgrid_api_server.py --tls-cert server.pem --tls-key server.key --rate-reset seconds
    python tools/sendgrid_api_server.py --rate-limit 600 --endpoint-rate-limit /v3/mail_settings/footer=5
    python tools/sendgrid_api_server.py --trust-forwarded-for
    python tools/sendgrid_api_server.py --api-key-answer object

or use it in-process::

    with running_server(keys={"SG.k": ALL_SCOPES}, max_page_size=50) as srv:
        requests.get(srv.url + "/v3/user/settings/enforced_tls", ...)
        srv.requests(); srv.state(); srv.add_fault("error", status=503)
        srv.state("mail_settings/footer"); srv.set_state("marketing", {"enabled": True}, setting="tracking_settings/open")
        srv.set_state("parent", ["10.0.0.0/8"], setting="access_settings/whitelist", replace=True); srv.activity("parent")
        srv.set_state("marketing", [{"name": "ci", "scopes": ["api_keys.create"]}], setting="api_keys")

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
                                      (Enforced TLS); ?setting=<family>/<name> for another setting,
                                      e.g. ?setting=mail_settings/footer
    PUT    /__control__/state         {"account": "<key>", "settings": {...}, "replace": false, "setting": null}
                                      (not validated, so tests can create any drift; "setting" as above).
                                      For "access_settings/whitelist", "settings" is a list of IP strings
                                      (canonicalised, given new ids, a network on the list skipped) and/or
                                      rules (stored as given, an id added when missing; ids stay unique), or
                                      {"result": [...]}; added to the list, or replacing it with "replace".
                                      For "api_keys", a list of keys {"name", "scopes", "api_key_id"?} planted
                                      on the account (added, or replacing its planted keys with "replace")
    GET    /__control__/activity      ?account=<key> (default parent): that account's IP access activity,
                                      every entry, most recent first
    DELETE /__control__/activity      forget every account's activity
    GET    /__control__/subusers      every subuser, region included
    POST   /__control__/subusers      add subusers: [{"username", "region", "disabled", "id"?, "email"?}, ...]
    GET    /__control__/config        {"region", "rate_limit", "rate_window", "latency_ms", "max_page_size",
                                       "rate_reset", "endpoint_rate_limits", "trust_forwarded_for",
                                       "api_key_answer"}
    PUT    /__control__/config        change any of them but region at runtime ("max_page_size": null removes
                                      the cap; null leaves the others as they are; "endpoint_rate_limits"
                                      replaces the whole {path: limit} map); rate windows restart
    POST   /__control__/reset         back to the start state (everything above: allow lists, activity too)

In-process, the server object offers the same: requests(), clear_requests(), connections(),
faults(), add_fault(kind, count=1, method=None, path=None, **params), clear_faults(),
state(setting=None), set_state(account, settings, replace=False, setting=None), subusers(),
add_subusers(subusers), activity(account="parent"), clear_activity(), set_config(**changes), reset().

A logged request is {"seq", "time", "connection" (id, to see reuse), "method", "path" (with
query), "headers" (as received, Authorization included), "body" (parsed JSON, else text),
"body_is_json", "status" (null when dropped), "account" (targeted account key, once past the key, IP
and scope checks), "fault", "client_ip" (the client address as IP Access Management saw it)}.
The 429s a client got are the entries with status 429.

Faults apply to the next COUNT matching API requests (COUNT -1 or "*": until cleared),
optionally only to one METHOD and/or paths starting with PATH, on every route alike.  Kinds and
parameters:

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

# The endpoint families live in tools/sendgrid_api/, next to this file: importable from any cwd, also when this
# file is loaded with importlib.util.spec_from_file_location.
_TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TOOLS_DIR not in sys.path:
    sys.path.insert(0, _TOOLS_DIR)

# pylint: disable=wrong-import-position
from sendgrid_api import ALL_SCOPES, ROUTE_INDEX, ROUTE_TABLE, SETTINGS, match_path  # noqa: E402
from sendgrid_api.api_keys import ANSWER_SETTING, ANSWER_SHAPES, SCOPE_READ as SCOPE_API_KEYS_READ  # noqa: E402
from sendgrid_api.common import PARENT, REGIONS, Answer as _Answer, Request, error as _error, error_body  # noqa: E402
from sendgrid_api.common import is_int as _is_int, is_number as _is_number, parse_json  # noqa: E402
from sendgrid_api.enforced_tls import (DEFAULT_SETTINGS, SCOPE_TLS_READ, SCOPE_TLS_UPDATE, SETTING_FIELDS,  # noqa: E402
                                       TLS_PATH, TLS_VERSIONS, validate_settings)
from sendgrid_api.ip_access import (AUTH_METHOD_API_KEY, LOCATION, SCOPE_ACTIVITY_READ, SCOPE_WHITELIST_CREATE,  # noqa: E402
                                    SCOPE_WHITELIST_DELETE, SCOPE_WHITELIST_READ, WHITELIST_KEY, forwarded_address,
                                    permitted)
from sendgrid_api.ip_access import client_address as shown_address  # noqa: E402
from sendgrid_api.mail_settings import SCOPE_READ as SCOPE_MAIL_SETTINGS_READ  # noqa: E402
from sendgrid_api.subusers import SCOPE_SUBUSERS_READ, SUBUSERS_DEFAULT_LIMIT, SUBUSERS_PATH  # noqa: E402
from sendgrid_api.tracking_settings import SCOPE_READ as SCOPE_TRACKING_SETTINGS_READ  # noqa: E402
# pylint: enable=wrong-import-position

CONTROL_PREFIX = "/__control__/"

# The Enforced TLS settings: what state() and set_state() reach when no setting is named.
TLS_SETTING = "user/settings/enforced_tls"

# Scope needed per path and method, from the route table; the keys of each entry also make the Allow header of a 405.
ROUTES = {path: {method: route.scope for method, route in methods.items()} for path, methods in ROUTE_INDEX.items()}

REGION_HOSTS = {"global": "https://api.sendgrid.com", "eu": "https://api.eu.sendgrid.com"}
ACCOUNT_ID_RE = re.compile(r"^account-id\s+(\S+)$", re.IGNORECASE)

FIRST_SUBUSER_ID = 10001
RATE_RESET_FORMATS = ("epoch", "seconds")

DEMO_KEY = "SG.local-demo-key"
DEMO_SUBUSERS = ({"username": "marketing"}, {"username": "billing"}, {"username": "eu-newsletter", "region": "eu"})

# Parameters each fault kind accepts, with their defaults: the one table of fault kinds.
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
FAULT_KINDS = tuple(FAULT_PARAMS)
HTML_PAGE = ("<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n<center><h1>{code} {phrase}</h1></center>\r\n"
             "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")

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
    "ALL_SCOPES", "SCOPE_TLS_READ", "SCOPE_TLS_UPDATE", "SCOPE_SUBUSERS_READ", "SCOPE_TRACKING_SETTINGS_READ",
    "SCOPE_MAIL_SETTINGS_READ", "SCOPE_WHITELIST_READ", "SCOPE_WHITELIST_CREATE", "SCOPE_WHITELIST_DELETE",
    "SCOPE_ACTIVITY_READ", "SCOPE_API_KEYS_READ", "WHITELIST_KEY", "DEFAULT_SETTINGS", "SETTING_FIELDS", "TLS_VERSIONS", "TLS_PATH", "SUBUSERS_PATH",
    "SUBUSERS_DEFAULT_LIMIT", "ROUTES", "ROUTE_TABLE", "SETTINGS", "TLS_SETTING", "PARENT", "REGIONS", "DEMO_KEY",
    "error_body", "parse_json", "validate_settings", "build_config", "make_fault", "start_server", "stop_server",
    "running_server", "SendGridAPIServer", "main",
]


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
    "endpoint_rate_limits": (lambda v: isinstance(v, dict) and all(
        isinstance(p, str) and p.startswith("/") and "?" not in p and _is_int(n) and n >= 1 for p, n in v.items()),
        "an object mapping request paths (\"/v3/...\", no query) to positive integers"),
    "trust_forwarded_for": (lambda v: isinstance(v, bool), "a boolean"),
    ANSWER_SETTING: (lambda v: v in ANSWER_SHAPES, " or ".join(repr(shape) for shape in ANSWER_SHAPES)),
}


def check_setting(name, value):
    """Validate one runtime setting; return it normalised (floats for times, a copy of a dict)."""
    valid, expected = RUNTIME_SETTINGS[name]
    if not valid(value):
        raise ValueError(f"{name} must be {expected}")
    if name == "endpoint_rate_limits":
        return dict(value)
    return float(value) if name in ("rate_window", "latency_ms") else value


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


class Config:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """The start-time definition of one host; reset() goes back to it."""

    def __init__(self, *, region="global", keys=None, subusers=None, account_ids=None, state=None,  # pylint: disable=too-many-arguments
                 rate_limit=10000, rate_window=60.0, latency_ms=0.0, faults=None, max_page_size=None, rate_reset="epoch",
                 endpoint_rate_limits=None, trust_forwarded_for=False, api_key_answer="result"):
        if region not in REGIONS:
            raise ValueError("region must be global or eu")
        self.runtime = {name: check_setting(name, value) for name, value in (
            ("rate_limit", rate_limit), ("rate_window", rate_window), ("latency_ms", latency_ms),
            ("max_page_size", max_page_size), ("rate_reset", rate_reset),
            ("endpoint_rate_limits", endpoint_rate_limits or {}), ("trust_forwarded_for", trust_forwarded_for),
            (ANSWER_SETTING, api_key_answer))}
        self.region = region
        self.keys = normalise_keys(keys or {})
        self.subusers = assign_subuser_ids([], [normalise_subuser(s) for s in subusers or ()])
        self.account_ids = [str(a) for a in account_ids or ()]
        # {account: {setting key: fields}}
        self.state = {_state_key(k): split_account_state(k, v) for k, v in (state or {}).items()}
        self.faults = [make_fault(f) for f in faults or ()]


def build_config(*, region="global", keys=None, subusers=None, generate_subusers=0, eu_subusers=0,  # pylint: disable=too-many-arguments,too-many-locals
                 account_ids=None, accounts_file=None, state=None, rate_limit=10000, rate_window=60.0,
                 latency_ms=0.0, faults=None, max_page_size=None, rate_reset="epoch", endpoint_rate_limits=None,
                 trust_forwarded_for=False, api_key_answer="result"):
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
                  max_page_size=max_page_size, rate_reset=rate_reset, endpoint_rate_limits=endpoint_rate_limits,
                  trust_forwarded_for=trust_forwarded_for, api_key_answer=api_key_answer)


# ----------------------------------------------------------------------------- state

class Access:  # pylint: disable=too-few-public-methods
    """How an API request was judged on arrival (Backend.check_access).

    account is the targeted account (None when on-behalf-of names none: problem is then (status, message));
    address the client address; refused_by the account whose allow list does not permit it, or None.
    """

    def __init__(self, account, problem, address, refused_by):
        self.account = account
        self.problem = problem
        self.address = address
        self.refused_by = refused_by

    def refusal(self):
        """The 403 message of a refused address."""
        if self.refused_by == PARENT:
            whose = "this account"
        elif self.refused_by.startswith("account-id "):
            whose = f"customer account {self.refused_by.split(' ', 1)[1]}"
        else:
            whose = f"subuser '{self.refused_by}'"
        return (f"access forbidden: IP address {self.address} is not allowed to access {whose} "
                f"(IP Access Management)")


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
        # {counter name: last id given}: ids a server hands out (allow-list rules) are never reused, even after reset()
        self._last_ids = {}
        self.reset()

    def reset(self):
        """Return to the start state."""
        with self._lock:
            cfg = self.config
            self.subusers = [dict(s) for s in cfg.subusers]
            # {setting key: {account: object}}, every account in the same (creation) order
            self.store = {key: {} for key in SETTINGS}
            for account in [PARENT] + [s["username"] for s in self.subusers] + [f"account-id {a}" for a in cfg.account_ids]:
                self._add_account(account)
            for account, settings in cfg.state.items():
                if account not in self.store[TLS_SETTING]:
                    raise ValueError(f"initial state for unknown account {account!r}")
                for key, values in settings.items():
                    self._put_state(account, key, values, replace=False)
            self.runtime = dict(cfg.runtime)
            self.faults = copy.deepcopy(cfg.faults)
            self.buckets = {}
            self.clear_activity()
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
        """One runtime setting (see RUNTIME_SETTINGS)."""
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
                if account not in self.store[TLS_SETTING]:
                    return None, (404, f"customer account {match.group(1)} not found")
                return account, None
            sub = next((s for s in self.subusers if s["username"] == value), None)
        if sub is None:
            return None, (404, f"subuser '{value}' not found")
        if sub["region"] != self.config.region:
            return None, (403, f"subuser '{value}' belongs to the {sub['region']} region: "
                               f"send its requests to {REGION_HOSTS[sub['region']]}")
        return value, None

    def _add_account(self, account):
        """Give a new account every setting's default object (under the lock)."""
        for key, setting in SETTINGS.items():
            self.store[key][account] = setting.fresh()

    @staticmethod
    def setting_key(setting):
        """The key of a setting, TLS_SETTING for None; ValueError for an unknown one."""
        key = TLS_SETTING if setting is None else setting
        if key not in SETTINGS:
            raise ValueError(f"unknown setting {setting!r} (expected one of {', '.join(SETTINGS)})")
        return key

    def get_setting(self, account, key):
        """One account's object of one setting."""
        with self._lock:
            return copy.deepcopy(self.store[key][account])

    def patch_setting(self, account, key, changes, apply=True):
        """Apply changes to one account's setting (unless told not to) and return the stored object."""
        with self._lock:
            if apply:
                self.store[key][account] = dict(self.store[key][account], **copy.deepcopy(changes))
            return copy.deepcopy(self.store[key][account])

    def get_settings(self, account):
        """Return one account's Enforced TLS settings."""
        return self.get_setting(account, TLS_SETTING)

    def patch_settings(self, account, changes, apply=True):
        """Apply Enforced TLS changes (unless told not to) and return the stored settings."""
        return self.patch_setting(account, TLS_SETTING, changes, apply)

    def modify_setting(self, account, key, change):
        """Read-modify-write of one account's object under the lock: change(copy) -> (new object, result); return result."""
        with self._lock:
            new, result = change(copy.deepcopy(self.store[key][account]))
            self.store[key][account] = copy.deepcopy(new)
            return copy.deepcopy(result)

    def next_id(self, name):
        """The next id of a counter (1, 2, ...): never reused, reset() included."""
        with self._lock:
            self._last_ids[name] = self._last_ids.get(name, 0) + 1
            return self._last_ids[name]

    def note_id(self, name, value):
        """An id given explicitly (state put in place by a test): the counter goes on after it."""
        with self._lock:
            self._last_ids[name] = max(self._last_ids.get(name, 0), value)

    def state(self, setting=None):
        """{account: object} of one setting for every account (Enforced TLS when setting is None)."""
        key = self.setting_key(setting)
        with self._lock:
            return copy.deepcopy(self.store[key])

    def _put_state(self, account, key, value, replace):
        """Put a value into one account's object of one setting, by the setting's load() or as fields (under the lock)."""
        load = SETTINGS[key].load
        if load is not None:
            self.store[key][account] = copy.deepcopy(load(self, account, copy.deepcopy(value), replace))
            return
        if not isinstance(value, dict):
            raise ValueError("settings must be an object")
        if replace:
            self.store[key][account] = {}
        self.store[key][account].update(copy.deepcopy(value))

    def set_state(self, account, settings, replace=False, setting=None):
        """Overwrite (part of) one account's object of one setting (Enforced TLS by default), unvalidated; return it.

        For access_settings/whitelist, settings is a list of IP strings and/or rules (see ip_access.load_rules)
        added to the list, or replacing it with replace.
        """
        account = _state_key(account)
        key = self.setting_key(setting)
        if SETTINGS[key].load is None and not isinstance(settings, dict):
            raise ValueError("settings must be an object")
        with self._lock:
            if account not in self.store[key]:
                raise KeyError(account)
            self._put_state(account, key, settings, replace)
            return copy.deepcopy(self.store[key][account])

    # -- IP access: enforcement and activity

    def check_access(self, key, on_behalf_of, address):
        """Judge an API request on arrival and record it as activity; return an Access.

        The request is allowed when its key is known and the address is permitted by the parent's allow list and
        by that of the account it targets (an empty list permits every address).  It is recorded, allowed or not,
        in the activity of the parent and of the targeted account (when on-behalf-of names a known one).
        """
        authenticated = self.scopes_for(key) is not None
        account, problem = self.resolve_account(on_behalf_of)
        accounts = [PARENT] if account in (None, PARENT) else [PARENT, account]
        with self._lock:
            refused_by = next((name for name in accounts if not permitted(self.store[WHITELIST_KEY][name], address)), None)
            self._record_activity(accounts, address, authenticated and refused_by is None, AUTH_METHOD_API_KEY)
        return Access(account, problem, address, refused_by)

    def _record_activity(self, accounts, address, allowed, auth_method):
        now = int(time.time())
        seq = next(self._activity_seq)
        for account in accounts:
            book = self._activity.setdefault(account, {})
            item = book.get((address, allowed, auth_method))
            if item is None:
                item = book[(address, allowed, auth_method)] = [seq, {
                    "allowed": allowed, "auth_method": auth_method, "first_at": now, "ip": address, "last_at": now,
                    "location": LOCATION}]
            item[0] = seq
            item[1]["last_at"] = now

    def activity(self, account=PARENT):
        """One account's access activity, most recent last_at first (latest request first within one second)."""
        account = _state_key(account)
        with self._lock:
            if account not in self.store[TLS_SETTING]:
                raise KeyError(account)
            items = sorted(self._activity.get(account, {}).values(), key=lambda item: (item[1]["last_at"], item[0]),
                           reverse=True)
            return [dict(entry) for dummy, entry in items]

    def clear_activity(self):
        """Forget every account's access activity."""
        with self._lock:
            self._activity = {}
            self._activity_seq = itertools.count(1)

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
                self._add_account(sub["username"])
            return [dict(s) for s in added]


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

    def _client_address(self):
        """The TCP peer address, or with trust_forwarded_for the first address of X-Forwarded-For when it has one."""
        if self.server.backend.setting("trust_forwarded_for"):
            forwarded = forwarded_address(self.headers.get("X-Forwarded-For"))
            if forwarded:
                return forwarded
        return shown_address(self.client_address[0])

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
        address = self._client_address()
        entry = backend.log_request({
            "time": time.time(), "connection": self.connection_id, "method": self.command, "path": self.path,
            "headers": headers, "body": logged_body, "body_is_json": is_json, "status": None, "account": None,
            "fault": None, "client_ip": address})
        # judged (and recorded as access activity) on arrival, whatever answers it
        access = backend.check_access(self._bearer_key(), self.headers.get("on-behalf-of"), address)
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
        # the endpoint: the request path, or the declared path of a route with parameters
        rate = backend.consume_rate(self._bearer_key() or "", match_path(url.path)[0] or url.path)
        rate_headers = {"X-RateLimit-Limit": rate["limit"], "X-RateLimit-Remaining": rate["remaining"],
                        "X-RateLimit-Reset": rate["reset"]}
        if fault:
            answer = self._fault_answer(fault, rate_headers, backend)
        elif rate["over"]:
            answer = _error(429, "too many requests")
        else:
            answer = self._route(url, body, entry, access)
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
            fault = backend.take_fault(self.command, url.path, ("not_applied",))
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
                    return _Answer(201, server.backend.add_fault(doc))
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
        self.backend.clear_activity()

    def add_subusers(self, subusers):
        """Add subusers (dicts or NAME[:region][:disabled] strings); return them."""
        return self.backend.add_subusers(subusers)

    def set_config(self, **changes):
        """Change runtime settings: rate_limit, rate_window, latency_ms, max_page_size, rate_reset, endpoint_rate_limits,
        trust_forwarded_for, api_key_answer."""
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
    rate_reset, endpoint_rate_limits, trust_forwarded_for, api_key_answer.  Stop it with server.stop().
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

def fault_kinds_help():
    """The fault kinds the server accepts, with their parameters, from FAULT_PARAMS (for --help)."""
    kinds = ", ".join(f"{kind} ({', '.join(params)})" if params else kind for kind, params in FAULT_PARAMS.items())
    return f"KIND (NAME=VALUE parameters): {kinds}; or an HTTP status: 429 for rate_limit, another for error"


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="Local SendGrid-compatible API server (enforced TLS, subusers, "
                                                 "tracking settings, mail settings, IP access management, API keys, "
                                                 "scopes).",
                                     epilog="See the module docstring for the /__control__/ endpoint and what each fault kind does.")
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
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (chain)")
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert (if not in that file)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND[:COUNT[:METHOD]][,NAME=VALUE...]",
                        help=f"inject a fault (repeatable). {fault_kinds_help()}")
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
            max_page_size=args.max_page_size, tls_cert=args.tls_cert, tls_key=args.tls_key,
            endpoint_rate_limits=parse_endpoint_rate_limits(args.endpoint_rate_limit),
            trust_forwarded_for=args.trust_forwarded_for, api_key_answer=args.api_key_answer)
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
