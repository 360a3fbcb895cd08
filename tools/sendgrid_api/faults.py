"""Faults of the local SendGrid-compatible API server: what they are, how they are given, how they fire.

A fault applies to the next COUNT matching API requests (COUNT -1 or "*": until cleared), optionally only to one
METHOD and/or paths starting with PATH, on every route alike; never to a control request.  Kinds and parameters
(FAULT_PARAMS, the one table of them):

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
    not_applied     a valid PATCH is acknowledged (200, or 204 where the route answers without a body)
                    but not stored: the answer shows the stored, unchanged object, as when a write is
                    lost behind the API.

Faults are given at start (``--fault KIND[:COUNT[:METHOD]][,NAME=VALUE...]``, e.g.
``--fault 429:2:PATCH,reset=seconds,retry_after=1`` or ``--fault error,status=503``; start_server(faults=[...])
takes those strings or dicts), with add_fault(kind, count=1, method=None, path=None, **params) or with POST
/__control__/faults {"kind": K, "count": 1, "method": null, "path": null, ...params}.  The request log shows
which fault each request met ("fault").

Every kind but not_applied fires when the request arrives (ON_ARRIVAL), before the rate limit answers; a
not_applied fault fires only when a valid PATCH is about to be stored, so a rejected PATCH leaves it pending.
"""

import contextlib
import copy
import threading
import time
from http import HTTPStatus

from .common import RATE_RESET_FORMATS, Answer, error, is_int, is_number

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
# The kinds that fire when a request arrives; not_applied waits for the write it stops.
ON_ARRIVAL = tuple(kind for kind in FAULT_KINDS if kind != "not_applied")
HTML_PAGE = ("<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n<center><h1>{code} {phrase}</h1></center>\r\n"
             "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


# ----------------------------------------------------------------------------- parsing and validation

def kinds_help():
    """The fault kinds the server accepts, with their parameters, from FAULT_PARAMS (for --help)."""
    kinds = ", ".join(f"{kind} ({', '.join(params)})" if params else kind for kind, params in FAULT_PARAMS.items())
    return f"KIND (NAME=VALUE parameters): {kinds}; or an HTTP status: 429 for rate_limit, another for error"


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
        if not is_number(fault["wait"]) or fault["wait"] < 0:
            raise ValueError("rate_limit wait must be a number >= 0")
        if fault["retry_after"] is not None and not is_number(fault["retry_after"]):
            raise ValueError("rate_limit retry_after must be a number")
    elif kind in ("error", "html", "malformed_json"):
        low = 200 if kind == "malformed_json" else 400
        if not isinstance(fault["status"], int) or not low <= fault["status"] <= 599:
            raise ValueError(f"{kind} status must be an integer between {low} and 599")
    elif kind == "delay" and (not is_number(fault["seconds"]) or fault["seconds"] < 0):
        raise ValueError("delay seconds must be a number >= 0")
    elif kind == "truncated" and fault["bytes"] is not None and not (is_int(fault["bytes"]) and fault["bytes"] >= 0):
        raise ValueError("truncated bytes must be an integer >= 0")


# ----------------------------------------------------------------------------- pending faults and firing

class Faults:
    """The faults still to fire on one server, behind their own lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = []

    def reset(self, faults):
        """Replace every pending fault by these (already validated) ones."""
        with self._lock:
            self._pending = copy.deepcopy(list(faults))

    def add(self, spec):
        """Validate and queue a fault; return it."""
        fault = make_fault(spec)
        with self._lock:
            self._pending.append(fault)
        return dict(fault)

    def pending(self):
        """The faults still to fire."""
        with self._lock:
            return copy.deepcopy(self._pending)

    def clear(self):
        """Drop every pending fault."""
        with self._lock:
            self._pending = []

    def take(self, method, path, kinds):
        """Consume one firing of the first pending fault of these kinds matching the request; None when none does."""
        with self._lock:
            for fault in self._pending:
                if fault["kind"] not in kinds or fault["method"] not in (None, method):
                    continue
                if fault["path"] and not path.startswith(fault["path"]):
                    continue
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._pending.remove(fault)
                return dict(fault)
            return None


def fault_answer(fault, limit, reset_value):
    """The answer of a rate_limit, error, html or malformed_json fault.

    limit is the request's X-RateLimit-Limit; reset_value(end, now, form) gives X-RateLimit-Reset for a window
    ending at epoch time end, in the form asked (None: the server's).
    """
    kind = fault["kind"]
    if kind == "rate_limit":
        now = time.time()
        headers = {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": 0,
                   "X-RateLimit-Reset": reset_value(now + fault["wait"], now, fault["reset"])}
        if fault["retry_after"] is not None:
            headers["Retry-After"] = fault["retry_after"]
        return error(429, "too many requests", headers=headers)
    status = fault["status"]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if kind == "error":
        return error(status, fault["message"] or phrase.lower())
    if kind == "html":
        return Answer(status, raw=HTML_PAGE.format(code=status, phrase=phrase).encode(), content_type="text/html")
    return Answer(status, raw=str(fault["body"]).encode())


def cut_short(answer, fault):
    """Make an answer stop short of its body as a truncated fault says (never all of it, or the read would be complete)."""
    size = len(answer.body) // 2 if fault["bytes"] is None else fault["bytes"]
    answer.sent = max(0, min(size, len(answer.body) - 1))
