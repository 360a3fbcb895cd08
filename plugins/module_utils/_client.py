# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one SendGrid v3 API client of mailops.sendgrid.

For internal use by this collection's modules only: names here may change without notice.
It owns the HTTP session, base URL, headers, retries and the translation of API errors into
messages a person running a playbook can act on. It never puts the API key in a message.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import random
import re
import threading
import time

# requests is imported by the first client made, not with this file: the controller's plugins (the report, the drift
# gate, the export's file) use this file's texts and the families' names and send nothing, nor does a module refused on
# its arguments; importing requests costs each such process about a tenth of a CPU-second (measured).
HAS_REQUESTS = importlib.util.find_spec("requests") is not None

from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.common.validation import (
    check_type_bool, check_type_dict, check_type_float, check_type_int,
)

COLLECTION_VERSION = "1.0.0"
BASE_URLS = {
    "global": "https://api.sendgrid.com",
    "eu": "https://api.eu.sendgrid.com",
}

# 429 is retried after the wait SendGrid asks for; 500/502/503/504 are the transient answers of
# SendGrid and of the proxies in front of it. Other statuses are answers, not accidents.
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
# Answers that say the request was not processed (rate limited; unavailable): a create may be sent again after them.
NOT_PROCESSED = frozenset((429, 503))
# An X-RateLimit-Reset above this is an epoch timestamp, below it a number of seconds to wait.
EPOCH_THRESHOLD = 10 ** 9
BACKOFF_BASE_SECONDS = 1.0
# A refused connection means nothing listens at the address (a wrong api_url, a server that is down): retrying it with
# backoff only delays the failure by half a minute. One retry covers a server that is restarting.
REFUSED_RETRIES = 1
EXCERPT_LENGTH = 200


# How messages name options, {option: name}: a role sets it (option_names) to its variables' names, so that a message
# points at what the person wrote (baseline_timeout, baseline_subusers[0]); a module run on its own names its options.
# One module runs per process, so this is set once, before any message is made.
OPTION_NAMES: dict = {}
OPTION_HEAD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def option_name(path: str) -> str:
    """An option's path (timeout, accounts[2].tracking.click) as messages name it."""
    head = OPTION_HEAD.match(path or "")
    if head is None or head.group(0) not in OPTION_NAMES:
        return path
    return OPTION_NAMES[head.group(0)] + path[head.end():]


# The options whose value came from their environment variable (ENVIRONMENT) in this run: a message about the value
# names the variable, which is where the person set it.
FROM_ENVIRONMENT: set = set()


def option_label(option: str) -> str:
    """How a message names where a value was set: the option (as option_name says), or its environment variable."""
    return ENVIRONMENT[option] if option in FROM_ENVIRONMENT else option_name(option)


def option_names_argument_spec() -> dict:
    """The option of the modules a role runs: how its messages name the options (documented in each module)."""
    return dict(option_names=dict(type="dict"))


# Connection options and the environment variables that stand in for them.
ENVIRONMENT = {"api_key": "SENDGRID_API_KEY", "api_url": "SENDGRID_API_URL", "eu_api_url": "SENDGRID_EU_API_URL"}


def connection_argument_spec(on_behalf_of: bool = True) -> dict:
    """Options shared by every module; documented once in the mailops.sendgrid.connection fragment.

    Modules that manage one account also take on_behalf_of (fragment mailops.sendgrid.connection.on_behalf_of).
    """
    spec = dict(
        api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, [ENVIRONMENT["api_key"]])),
        region=dict(type="str", default="global", choices=["global", "eu"]),
        api_url=dict(type="str", fallback=(env_fallback, [ENVIRONMENT["api_url"]])),
        eu_api_url=dict(type="str", fallback=(env_fallback, [ENVIRONMENT["eu_api_url"]])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30),
        retries=dict(type="int", default=5),
        retry_max_wait=dict(type="float", default=120),
    )
    if on_behalf_of:
        spec["on_behalf_of"] = dict(type="str")
    return spec


def sendgrid_module(argument_spec: dict, **arguments) -> AnsibleModule:
    """The AnsibleModule of every module here: every value's shape checked first, and a connection option set to null
    falls back to its environment variable.

    AnsibleModule turns a list given for a text option into its Python text (``['a@example.com']``) and a dict into
    its repr, and would send that to SendGrid; such a value is refused here, naming the option, before any request.
    Ansible applies a fallback only to an option left out; the documentation says "if not set", and null or empty text
    is not set (module_defaults and role variables often pass null, templates an empty default).
    """
    try:
        params = basic._load_params()  # cached by Ansible; AnsibleModule reads the same
    except Exception:  # pylint: disable=broad-exception-caught
        params = None  # AnsibleModule reports unreadable parameters itself
    names = params.get("option_names") if isinstance(params, dict) and "option_names" in argument_spec else None
    OPTION_NAMES.clear()
    if isinstance(names, dict):
        OPTION_NAMES.update({str(key): str(value) for key, value in names.items() if isinstance(value, str) and value})
    problems = shape_problems(argument_spec, params) if isinstance(params, dict) else []
    if problems:
        # AnsibleModule would fail on some of them while listing the no_log values, and so show the API key in the
        # failure's invocation: take the options holding them as they are, so the key is hidden, and fail naming them.
        relaxed = dict(argument_spec, **{root: _as_raw(argument_spec[root]) for root, dummy in problems})
        module = AnsibleModule(argument_spec=relaxed, **arguments)
        module.fail_json(msg="; ".join(problem for dummy, problem in problems))
    module = AnsibleModule(argument_spec=_choices_checked(argument_spec, params), **arguments)
    FROM_ENVIRONMENT.clear()
    for name, variable in ENVIRONMENT.items():
        # "" is not set either: a template's default('') or an empty -e value means "not given", never "no URL"
        if name in module.params and (module.params[name] is None or not str(module.params[name]).strip()):
            module.params[name] = os.environ.get(variable) or None
        given = params.get(name) if isinstance(params, dict) else None
        if given is None and name in module.params and module.params[name] and module.params[name] == os.environ.get(variable):
            FROM_ENVIRONMENT.add(name)
    if module.params.get("api_key") is None:
        module.fail_json(msg="missing required arguments: %s (or the environment variable %s)"
                         % (option_name("api_key"), ENVIRONMENT["api_key"]))
    strip_split_lists(argument_spec, params, module.params)
    return module


# What a text option or element may be given as: text, or a number written without quotes (min_tls_version: 1.2).
TEXT_TYPES = ("str", "path")


def shape_problems(spec: dict, params: dict, path: str = "", root: str | None = None) -> list:
    """[(top-level option, message)] for every value whose shape its option cannot take without turning it into something
    else: a list, dict or boolean for text, a boolean for a number (Python's True is 1), a value that is no boolean or
    number for one, a value outside the choices, an element of the wrong shape in a list of texts, a value that is not a
    dictionary for a dict of fields. Nested dictionaries (settings sections) and lists of dictionaries are walked, and
    each message names the option's path as the person wrote it (option_name), where AnsibleModule would name only the
    last part ("argument 'enabled' ... found in 'tracking -> open'").
    """
    problems = []
    aliases = {alias: name for name, option in spec.items() for alias in option.get("aliases", ())}
    for given, value in params.items():
        name = aliases.get(given, given)
        option = spec.get(name)
        if option is None or value is None:
            continue
        where, top = option_name(path + given), root or name
        kind = option.get("type", "str")
        shown = "(hidden: no_log)" if option.get("no_log") else as_text(value)
        if kind in TEXT_TYPES and not _is_text(value):
            problems.append((top, "value of %s must be text, got %s: %s" % (where, shape(value), shown)))
        elif kind in SCALARS and not _converts(kind, value):
            problems.append((top, "value of %s must be %s, got: %s" % (where, SCALARS[kind][1], shown)))
        elif option.get("choices") and kind in TEXT_TYPES and str(value) not in [str(c) for c in option["choices"]]:
            problems.append((top, "value of %s must be one of: %s, got: %s"
                             % (where, ", ".join(str(c) for c in option["choices"]), shown)))
        elif kind == "list" and option.get("choices") and option.get("elements") in TEXT_TYPES \
                and isinstance(value, (str, list, tuple)):
            problems += [(top, problem) for problem in _choice_problems(option, value, path + given)]
        elif kind == "list" and isinstance(value, (list, tuple)):
            elements = option.get("elements")
            for index, item in enumerate(value):
                item_where = "%s[%d]" % (path + given, index)
                if elements in TEXT_TYPES and not _is_text(item):
                    problems.append((top, "value of %s must be text, got %s: %s"
                                     % (option_name(item_where), shape(item), as_text(item))))
                elif elements == "dict" and option.get("options") and isinstance(item, dict):
                    problems += shape_problems(option["options"], item, item_where + ".", top)
        elif kind == "list" and isinstance(value, str) and not value.replace(",", "").strip():
            # AnsibleModule makes "" an empty list, and an empty list removes every item: an unset variable
            # (-e subs=) must not take every association or address away
            problems.append((top, "value of %s is empty text, which would mean no items: give [] for none, or leave "
                                  "it out (null) to keep what there is" % where))
        elif kind == "list" and isinstance(value, dict):
            problems.append((top, "value of %s must be a list, got a dictionary: %s" % (where, as_text(value))))
        elif kind == "dict" and option.get("options"):
            try:
                value = check_type_dict(value)
            except TypeError:
                problems.append((top, "value of %s must be a dictionary of its fields (such as enabled: true), got: %s"
                                 % (where, as_text(value))))
                continue
            problems += shape_problems(option["options"], value, path + given + ".", top)
    return problems


def _choice_problems(option: dict, value, path: str) -> list:
    """A list of choices, each item named by its place: AnsibleModule names no item, checks a comma-separated text's
    items before their spaces are stripped, and prints Python's None for a null list."""
    allowed = ", ".join(sorted(str(choice) for choice in option["choices"]))
    items = [item.strip() for item in value.split(",")] if isinstance(value, str) else list(value)
    problems = []
    for index, item in enumerate(items):
        where = option_name("%s[%d]" % (path, index))
        if not _is_text(item):
            problems.append("value of %s must be text, got %s: %s" % (where, shape(item), as_text(item)))
        elif not str(item).strip():
            problems.append("%s is empty: each item must be one of: %s" % (where, allowed))
        elif str(item) not in [str(choice) for choice in option["choices"]]:
            problems.append("value of %s must be one of: %s, got: %r" % (where, allowed, str(item)))
    return problems


def _choices_checked(spec: dict, params) -> dict:
    """The argument spec without the choices of the list options given (checked by shape_problems, null being left
    out), so that AnsibleModule does not check them again, worse."""
    if not isinstance(params, dict):
        return spec
    return dict(spec, **{name: {key: value for key, value in option.items() if key != "choices"}
                         for name, option in spec.items() if name in params and option.get("type") == "list"
                         and option.get("choices") and option.get("elements") in TEXT_TYPES})


# The scalar types checked before AnsibleModule: how a value converts, and what the message asks for.
SCALARS = {
    "bool": (check_type_bool, "true or false"),
    "int": (check_type_int, "a whole number"),
    "float": (check_type_float, "a number"),
}


def _converts(kind: str, value) -> bool:
    if kind != "bool" and isinstance(value, bool):
        return False  # True would be sent as 1 day, 1 retry...
    try:
        SCALARS[kind][0](value)
    except (TypeError, ValueError):
        return False
    return True


def _as_raw(option: dict) -> dict:
    """An option taken as given, its no_log and fallback kept."""
    return dict({key: value for key, value in option.items() if key in ("no_log", "fallback", "aliases")}, type="raw")


def check_text(value) -> str:
    """A text option's value as text; TypeError for a list, dict or boolean, which AnsibleModule would turn into their
    Python text. A number becomes its text (min_tls_version: 1.2 is "1.2")."""
    if not _is_text(value):
        raise TypeError("%s is not text" % shape(value))
    return value if isinstance(value, str) else str(value)


def _is_text(value) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def shape(value) -> str:
    """What a value is, in YAML's words, for messages ("got a list"); Ansible's tagged types are named as what they
    stand for."""
    for base, name in ((bool, "a boolean"), (dict, "a dictionary"), (list, "a list"), (tuple, "a list"), (str, "text"),
                       (int, "a number"), (float, "a number")):
        if isinstance(value, base):
            return name
    return "null" if value is None else type(value).__name__


def strip_split_lists(spec: dict, given, params: dict) -> None:
    """A list of texts given as one comma-separated text ("team-*, sandbox-*", as -e gives it) is split by
    AnsibleModule but keeps the spaces after the commas: strip them, so that the second pattern is not " sandbox-*"."""
    if not isinstance(given, dict) or not isinstance(params, dict):
        return
    for name, option in spec.items():
        value, raw = params.get(name), given.get(name)
        if option.get("type") == "list" and option.get("elements") in TEXT_TYPES and isinstance(raw, str) \
                and isinstance(value, list):
            params[name] = [item.strip() for item in value if item.strip()]
        elif option.get("type") == "dict" and option.get("options") and isinstance(value, dict):
            strip_split_lists(option["options"], raw if isinstance(raw, dict) else None, value)


class SendGridError(Exception):
    """A failure explained for the person running the playbook (never contains the API key). ``written`` is what was
    written before it, when anything was: the play recap does not count a failed task's changes."""

    def __init__(self, message: str, status: int | None = None, written=None):
        super().__init__(message)
        self.status = status
        self.written = written


class Operation:
    """What a request does, in words used by error messages, and the API key scope it needs.

    ``creates``: the request makes something new each time it is processed (a key, an invite, a subuser, allow-list
    entries). Sent twice, it makes two: it is retried only when SendGrid did not process it (a 429 or a 503, a refused
    connection), never after an answer that may have been lost (a timeout, a dropped connection, a 500, 502 or 504).
    """

    def __init__(self, description: str, scope: str, creates: bool = False):
        self.description = description
        self.scope = scope
        self.creates = creates


def check_base_url(url: str, option: str = "api_url") -> str:
    """Return the URL without a trailing slash, refusing to send a key in clear text off this host."""
    match = re.match(r"^(https?)://(\[[^\]]+\]|[^/:?#]+)(:\d+)?(/[^?#]*)?$", url or "", re.IGNORECASE)
    option = option_label(option)
    if not match:
        raise SendGridError("%s must be an http:// or https:// URL such as https://api.sendgrid.com, got %r." % (option, url))
    scheme, host, path = match.group(1).lower(), match.group(2).strip("[]"), (match.group(4) or "").rstrip("/")
    if re.search(r"/v3$", path, re.IGNORECASE):
        raise SendGridError("%s must be the API's base URL without /v3 (the modules add /v3/...), such as "
                            "https://api.sendgrid.com, got %r." % (option, url))
    if scheme == "http" and not is_loopback(host):
        raise SendGridError(
            "%s %s uses plain http:// to a host that is not this machine: the API key would cross the network "
            "unencrypted. Use https://, or http:// only with 127.0.0.1, ::1 or localhost." % (option, url)
        )
    return scheme + url[len(scheme):].rstrip("/")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# An account a task names for on-behalf-of: a subuser's username (letters, digits and . _ @ + -, as SendGrid's subuser
# creation takes them), or a customer account as "account-id <number>".
ACCOUNT_NAME = re.compile(r"account-id [0-9]+|[A-Za-z0-9._@+-]{1,64}")


def check_account_name(option: str, value: str | None) -> None:
    """Refuse, before any request, an account name no account can have (a space, a slash, a query)."""
    check_header_value(option, value)
    if value is not None and not ACCOUNT_NAME.fullmatch(value):
        raise SendGridError("value of %s must be a subuser's username (letters, digits and . _ @ + -) or account-id "
                            "followed by a customer account's number, got: %s." % (option_name(option), value))


def check_header_value(option: str, value: str | None) -> None:
    """Refuse, before any request, header values that requests or SendGrid would refuse with a traceback or a 404."""
    if value is None:
        return
    option = option_name(option)
    if not value.strip() or re.search(r"[\x00-\x1f\x7f]", value):
        raise SendGridError("%s must be a non-empty value without line breaks or control characters." % option)
    if value != value.strip():
        raise SendGridError("%s must not start or end with spaces, got %r." % (option, value))


def plural(count: int, noun: str) -> str:
    """'1 account', '2 accounts'."""
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def first_few(items: list, separator: str, rest: str, shown: int = 5) -> str:
    """The first items joined, and how many more there are and where: a message stays short at 200 accounts."""
    text = separator.join(items[:shown])
    return text if len(items) <= shown else "%s%s... and %d more (%s)" % (text, separator, len(items) - shown, rest)


def as_text(value) -> str:
    """A value as a playbook author writes it: true, false, null, 1.2 (not Python's True and None)."""
    return json.dumps(value) if value is None or isinstance(value, (bool, dict, list)) else str(value)


def result_list(answer, what: str) -> list:
    """The ``result`` list SendGrid wraps list answers in (summaries, the allow list, activity); else a clear error."""
    listed = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(listed, list):
        raise SendGridError("SendGrid answered with %r where %s (a result list) was expected." % (answer, what))
    return listed


class RateLimit:
    """SendGrid's request budget for one API key on one endpoint, shared by every client and thread that uses the key.

    Each answer's X-RateLimit-Remaining and X-RateLimit-Reset say how many requests are left until when;
    a request is only sent while the budget lasts, counting the requests still in flight, so concurrent
    workers wait for the reset instead of causing 429s. When a window resets, the new budget is the
    X-RateLimit-Limit seen before (not "unknown", which would let every waiting worker go at once).
    """

    # Two resets closer than this are one window: a reset given in seconds to wait moves with each answer.
    SAME_WINDOW_SECONDS = 1.0

    def __init__(self, sleep=time.sleep, clock=time.time, endpoint: str | None = None, on_wait=None):
        self.endpoint = endpoint
        self._lock = threading.Condition()
        self._sleep = sleep
        self._on_wait = on_wait or (lambda seconds, endpoint: None)
        self._clock = clock
        self._answered = False      # an answer came in this window, so the budget is known (or not limited)
        self._in_flight = 0
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None

    def wait_turn(self, max_wait: float) -> float:
        """Block until a request may be sent, and count it as in flight; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._renew_if_reset()
                delay = self._seconds_to_wait()
                if delay is None:
                    # Only an answer can tell the budget (or its reset): send nothing more before it comes.
                    self._lock.wait(1.0)
                    continue
                if delay <= 0:
                    self._in_flight += 1
                    if self._remaining is not None:
                        self._remaining -= 1
                    return waited
            if waited + delay > max_wait:
                raise SendGridError(
                    "SendGrid's rate limit for this API key is spent for another %.0f seconds%s (until %s), longer than "
                    "%s (%s seconds) allows: raise %s, lower %s, or run again later."
                    % (delay, " on %s" % self.endpoint if self.endpoint else "", _utc_time(self._clock() + delay),
                       option_name("retry_max_wait"), _number_text(max_wait + waited), option_name("retry_max_wait"),
                       option_name("concurrency")), 429)
            self._on_wait(delay, self.endpoint)
            self._sleep(delay)
            waited += delay

    def _renew_if_reset(self) -> None:
        if self._remaining is None or self._remaining > 0 or self._reset_at is None or self._clock() < self._reset_at:
            return
        # A new window: its budget is the limit (the requests still in flight were counted in the window just over);
        # the next answer tells when it resets.
        self._reset_at = None
        if self._limit is None:
            self._remaining, self._answered = None, False
        else:
            self._remaining = self._limit

    def _seconds_to_wait(self) -> float | None:
        """0 to send now, seconds to sleep until the reset, or None to wait for an answer."""
        if self._remaining is None:
            return None if (self._in_flight and not self._answered) else 0.0
        if self._remaining > 0:
            return 0.0
        if self._reset_at is None:
            return None
        return self._reset_at - self._clock()

    def seconds_to_reset(self) -> float | None:
        """How long until the budget is renewed, when it is spent and SendGrid said when."""
        with self._lock:
            if self._remaining is None or self._remaining > 0 or self._reset_at is None:
                return None
            return max(0.0, self._reset_at - self._clock())

    def done(self, response) -> None:
        """A request sent after wait_turn() ended, with this answer (None when there was none)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if response is not None:
                self._answered = True
                self._learn(response)
            self._lock.notify_all()

    def _learn(self, response) -> None:
        """Take the budget from an answer's headers; a 429 spends it until the time it asks to wait."""
        limit = _number(response.headers.get("X-RateLimit-Limit"))
        remaining = _number(response.headers.get("X-RateLimit-Remaining"))
        reset = _number(response.headers.get("X-RateLimit-Reset"))
        if limit is not None and limit > 0:
            self._limit = int(limit)
        if response.status_code == 429:
            remaining = 0
            reset = _number(response.headers.get("Retry-After"), reset)
        if remaining is None:
            return
        reset_at = None if reset is None else (reset if reset > EPOCH_THRESHOLD else self._clock() + reset)
        known = self._reset_at
        if reset_at is not None and (reset_at <= self._clock() or
                                     (known is not None and reset_at < known - self.SAME_WINDOW_SECONDS)):
            return  # an answer from a window already over, arriving late
        if self._remaining is not None and (reset_at is None or known is None
                                            or abs(reset_at - known) < self.SAME_WINDOW_SECONDS):
            # Same window: our count already includes what was sent since; answers can arrive out of order.
            self._remaining = min(int(remaining), self._remaining)
            self._reset_at = known if known is not None else reset_at
        else:
            # A new window: the requests still in flight may count against it.
            self._remaining = int(remaining) - self._in_flight
            self._reset_at = reset_at


class RateLimits:
    """One RateLimit per endpoint: SendGrid gives each endpoint its own budget per API key ("depending on the
    endpoint ... a specific number of allowed requests per refresh period"), and each answer's X-RateLimit-* headers
    describe the budget of the endpoint that answered. One spent endpoint must neither stall the others nor be
    taken for theirs."""

    def __init__(self, sleep=time.sleep, clock=time.time, on_wait=None):
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._budgets: dict = {}
        # on_wait(seconds, endpoint): told of every wait for a reset (a spent budget, a 429), before it starts
        self.on_wait = on_wait or (lambda seconds, endpoint: None)

    def _waiting(self, seconds: float, endpoint: str | None) -> None:
        # looked up at each wait: on_wait may be set after the budgets are made
        self.on_wait(seconds, endpoint)

    def endpoint(self, path: str) -> RateLimit:
        """The budget of the endpoint at this path (query strings are not part of an endpoint)."""
        path = path.split("?", 1)[0]
        with self._lock:
            if path not in self._budgets:
                self._budgets[path] = RateLimit(sleep=self._sleep, clock=self._clock, endpoint=path,
                                                on_wait=self._waiting)
            return self._budgets[path]


def _utc_time(epoch: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))


def iso_utc(epoch) -> str | None:
    """Epoch seconds as UTC ISO 8601 text (2026-12-07T15:08:29Z, fractions dropped); None for null or a non-number."""
    if not isinstance(epoch, (int, float)) or isinstance(epoch, bool):
        return None
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return None  # beyond what the platform's clock can express: no text rather than a traceback


def with_iso_times(item: dict, fields) -> dict:
    """A copy of an API item with a <field>_iso sibling (iso_utc) next to each epoch field; the epoch stays as it is."""
    copied = dict(item)
    for field in fields:
        copied[field + "_iso"] = iso_utc(item.get(field))
    return copied


def is_refused(exc: BaseException) -> bool:
    """Whether a connection error is a refused connection (nothing listens there), not one lost mid-answer or timed out.

    requests wraps urllib3's MaxRetryError, whose reason is a NewConnectionError caused by the ConnectionRefusedError.
    A NewConnectionError for another reason (a name that does not resolve, an unreachable network) is not a refusal.
    """
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(current.args)
    return False


def _number_text(value: float) -> str:
    return ("%.1f" % value).rstrip("0").rstrip(".")


def _number(value, default: float | None = None) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _requests():
    """The requests module, imported on first use (see HAS_REQUESTS)."""
    import requests  # pylint: disable=import-outside-toplevel
    return requests


class SendGridClient:
    """A requests.Session bound to one SendGrid host, with bounded retries.

    Not thread-safe (requests.Session is not): give each thread its own client and share one RateLimits.
    """

    def __init__(self, api_key: str, base_url: str, validate_certs: bool = True, ca_path: str | None = None,
                 timeout: float = 30, retries: int = 5, retry_max_wait: float = 120, warn=None, rate_limits=None,
                 sleep=time.sleep, clock=time.time):
        check_header_value("api_key", api_key)
        if retries < 0 or retry_max_wait < 0 or timeout <= 0:
            raise SendGridError("%s and %s must be zero or more, and %s more than zero."
                                % (option_name("retries"), option_name("retry_max_wait"), option_name("timeout")))
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self.retries = retries
        self.retry_max_wait = retry_max_wait
        self.rate_limits = rate_limits or RateLimits(sleep=sleep, clock=clock)
        self._api_key = api_key
        self._warn = warn or (lambda message: None)
        self._sleep = sleep
        self._clock = clock
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            # requests takes the bundle of these variables when ca_path is not given, and fails without naming them
            bundle = os.environ.get(variable)
            if validate_certs and not ca_path and bundle and not os.path.exists(bundle):
                raise SendGridError("The environment variable %s names %s, which does not exist: requests would verify "
                                    "the API host's certificate with it. Fix or unset it, or set %s."
                                    % (variable, bundle, option_name("ca_path")))
            if bundle:
                break   # requests reads REQUESTS_CA_BUNDLE first
        if validate_certs and ca_path and not os.path.isfile(ca_path):
            raise SendGridError(option_name("ca_path") + " %s is not a readable file: give the PEM file of the CA certificates that sign "
                                "the API host's certificate (a TLS-inspecting proxy's CA, say)." % ca_path)
        # Passed with every request, not set on the session: requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE
        # override Session.verify, and the task's validate_certs and ca_path must decide.
        self.verify = ca_path if (validate_certs and ca_path) else validate_certs
        self._requests = requests = _requests()
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": "Bearer %s" % api_key,
            "Accept": "application/json",
            "User-Agent": "mailops.sendgrid/%s (+https://github.com/mailops/sendgrid) python-requests/%s"
                          % (COLLECTION_VERSION, requests.__version__),
        })

    @property
    def calling_key_id(self) -> str | None:
        """The api_key_id of the key this client authenticates with, when the key has SendGrid's form
        SG.<api_key_id>.<secret> (the spec's example: api_key SG.xxxxxxxx.yyyyyyyy has the api_key_id xxxxxxxx);
        None otherwise. The id is no secret: the key list shows it."""
        parts = (self._api_key or "").split(".")
        return parts[1] if len(parts) == 3 and parts[0] == "SG" and parts[1] and parts[2] else None

    def account(self, on_behalf_of: str | None = None, region_advice: str | None = None) -> "Account":
        """This client acting for the parent account (None) or for a subuser or customer account."""
        check_header_value("on_behalf_of", on_behalf_of)
        return Account(self, on_behalf_of, region_advice)

    def request(self, method: str, path: str, operation: Operation, body: dict | None = None, params: dict | None = None,
                on_behalf_of: str | None = None, region_advice: str | None = None):
        """Send one API request, retrying transient failures, and return the decoded JSON answer.

        ``region_advice`` replaces the generic advice of a 403 for the wrong region (see region_advice())."""
        url = self.base_url + path
        exceptions = self._requests.exceptions
        headers = {"on-behalf-of": on_behalf_of} if on_behalf_of else None
        rate_limit = self.rate_limits.endpoint(path)
        waited = 0.0
        attempt = 0
        refusals = 0
        while True:
            waited += rate_limit.wait_turn(self.retry_max_wait - waited)
            refused = False
            try:
                response = self._send(rate_limit, method, url, json=body, params=params, headers=headers)
            except exceptions.Timeout:
                response, reason = None, "gave no answer within %s seconds" % self.timeout
                failure = SendGridError("%s %s %s: SendGrid gave no answer within the timeout of %s seconds (option %s); "
                                        "raise %s, or run again later."
                                        % (operation.description, method, url, self.timeout, option_name("timeout"),
                                           option_name("timeout")))
            except exceptions.SSLError as exc:
                raise SendGridError("%s %s %s: the TLS connection failed (%s). Check %s and %s."
                                    % (operation.description, method, url, self.redact(str(exc)),
                                       option_name("validate_certs"), option_name("ca_path")))
            except (exceptions.ConnectionError, exceptions.ChunkedEncodingError) as exc:
                # ChunkedEncodingError is an answer cut off mid-body (IncompleteRead): as transient as a dropped connection.
                response, reason = None, "failed with a connection error"
                refused = is_refused(exc)
                if refused:
                    refusals += 1
                    reason = "failed: the connection was refused (nothing listens there)"
                failure = SendGridError("%s %s %s: the connection to the API was lost or refused (%s). Check %s, "
                                        "the network and any proxy between this host and SendGrid, then run again."
                                        % (operation.description, method, url, self.redact(str(exc)),
                                           option_name("api_url")))
            except exceptions.RequestException as exc:
                raise SendGridError("%s %s %s: the request could not be sent (%s: %s)."
                                    % (operation.description, method, url, type(exc).__name__, self.redact(str(exc))))
            else:
                if response.status_code not in RETRY_STATUSES:
                    return self._decode(response, method, url, operation, on_behalf_of, region_advice)
                reason = "answered HTTP %s" % response.status_code
                failure = self._error(response, method, url, operation, on_behalf_of, region_advice)

            if operation.creates and not refused and (response is None or response.status_code not in NOT_PROCESSED):
                raise SendGridError("%s It is not known whether SendGrid made it, so it was not sent again (twice would "
                                    "make two). Run the task again: it reads first, and makes only what is missing."
                                    % (str(failure).rstrip(".") + "."), failure.status)
            delay = self._retry_delay(rate_limit, response, attempt)
            if response is not None and response.status_code == 429 and waited + delay > self.retry_max_wait:
                raise SendGridError("%s SendGrid's rate limit resets in %.0f seconds (at %s), beyond %s (%s seconds): "
                                    "raise %s, lower %s, or run again later."
                                    % (str(failure).rstrip(".") + ".", delay, _utc_time(self._clock() + delay),
                                       option_name("retry_max_wait"), _number_text(self.retry_max_wait),
                                       option_name("retry_max_wait"), option_name("concurrency")), 429)
            if refused and refusals > REFUSED_RETRIES and attempt < self.retries:
                raise SendGridError("%s (refused again after %s and %.1f seconds of waiting: a refused connection is "
                                    "retried %s only, whatever %s says)"
                                    % (str(failure).rstrip("."), "1 retry" if attempt == 1 else "%d retries" % attempt,
                                       waited, "once" if REFUSED_RETRIES == 1 else "%d times" % REFUSED_RETRIES,
                                       option_name("retries")))
            if attempt >= self.retries or waited + delay > self.retry_max_wait:
                if attempt:
                    failure = SendGridError("%s (gave up after %d retries and %.1f seconds of waiting; options %s and %s)"
                                            % (str(failure).rstrip("."), attempt, waited, option_name("retries"),
                                               option_name("retry_max_wait")), failure.status)
                raise failure
            attempt += 1
            if response is not None and response.status_code == 429:
                self.rate_limits.on_wait(delay, rate_limit.endpoint)
            # Retrying a PATCH, PUT or DELETE is safe: sent twice, it has the effect of once (a create is not retried).
            self._warn("SendGrid %s %s%s %s; retry %d of %d in %.1f seconds."
                       % (method, path, " for %r" % on_behalf_of if on_behalf_of else "", reason, attempt,
                          # a refusal's retry is the last one should it be refused again
                          attempt if refused else self.retries, delay))
            self._sleep(delay)
            waited += delay

    def _send(self, rate_limit: RateLimit, method: str, url: str, **arguments):
        response = None
        try:
            response = self.session.request(method, url, timeout=self.timeout, verify=self.verify, **arguments)
            return response
        finally:
            rate_limit.done(response)

    @staticmethod
    def _retry_delay(rate_limit: RateLimit, response, attempt: int) -> float:
        """Seconds to wait: what a 429 asks for, else exponential backoff with jitter."""
        if response is not None and response.status_code == 429:
            asked = rate_limit.seconds_to_reset()
            if asked is not None:
                return asked
        backoff = BACKOFF_BASE_SECONDS * (2 ** attempt)
        return backoff / 2 + random.uniform(0, backoff / 2)

    def _decode(self, response, method: str, url: str, operation: Operation, on_behalf_of: str | None,
                region_advice: str | None = None):
        if response.status_code >= 400:
            raise self._error(response, method, url, operation, on_behalf_of, region_advice)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SendGridError("%s %s %s: SendGrid answered HTTP %s with a body that is not JSON: %s. A proxy may have "
                                "answered instead of SendGrid, or the answer was cut off: check %s (the API's base URL, "
                                "such as https://api.sendgrid.com) and any proxy, then run again."
                                % (operation.description, method, url, response.status_code, self._excerpt(response),
                                   option_name("api_url")), response.status_code)

    def _error(self, response, method: str, url: str, operation: Operation, on_behalf_of: str | None,
               region_advice: str | None = None) -> SendGridError:
        """Turn an error answer into a message that says what to do about it."""
        status = response.status_code
        api_messages = self._api_messages(response)
        said = ("HTTP %s: %s" % (status, api_messages)) if api_messages else ("HTTP %s, body %s" % (status, self._excerpt(response)))
        prefix = "%s %s %s failed (%s)." % (operation.description, method, url, said)
        if status == 401:
            advice = "SendGrid rejected the API key: check %s (or %s) and that the key is not revoked." % (
                option_name("api_key"), ENVIRONMENT["api_key"])
        elif status == 403 and "region" in api_messages.lower() and region_advice:
            advice = region_advice
        elif status == 403 and "region" in api_messages.lower():
            advice = ("The account is pinned to another SendGrid region than the host asked: set %s (%s for many "
                      "accounts) to the account's region, or %s to that region's host."
                      % (option_name("region"), option_name("accounts[].region"), option_name("api_url")))
        elif status == 403 and "ip address" in api_messages.lower():
            advice = ("SendGrid's IP Access Management refused this machine's address: the account's allow list does not "
                      "cover it. Add it to the list from an address the list allows, or in the SendGrid web app.")
        elif status == 403:
            advice = "The API key lacks the scope %s needed for %s." % (
                operation.scope, operation.description[0].lower() + operation.description[1:])
            if on_behalf_of:
                advice += " The request was made on behalf of %r (on_behalf_of): the parent's key must be allowed to act for it." \
                          % on_behalf_of
        elif status == 404 and on_behalf_of:
            advice = "SendGrid does not know the subuser or account %r given in on_behalf_of for this parent account." \
                     % on_behalf_of
        elif status == 404:
            advice = ("Nothing answers at %s: check that %s is the API's base URL, such as https://api.sendgrid.com "
                      "(without /v3 or any other path SendGrid does not have)." % (url, option_name("api_url")))
        elif status == 429:
            advice = "SendGrid is rate limiting this API key."
        elif status >= 500:
            advice = "SendGrid or a proxy in front of it failed; try again later."
        else:
            advice = ""
        return SendGridError(self.redact((prefix + " " + advice).strip()), status)

    @staticmethod
    def _api_messages(response) -> str:
        try:
            errors = response.json().get("errors")
            messages = ["%s: %s" % (e["field"], e["message"]) if e.get("field") else str(e["message"]) for e in errors]
        except (ValueError, AttributeError, TypeError, KeyError):
            return ""
        return "; ".join(messages)

    def _excerpt(self, response) -> str:
        """A short single-line excerpt of a body that is not the JSON we expect (HTML from a proxy, say)."""
        text = re.sub(r"<[^>]*>", " ", response.text or "")
        text = re.sub(r"\s+", " ", text).strip()
        if len(text) > EXCERPT_LENGTH:
            text = text[:EXCERPT_LENGTH] + "..."
        content_type = response.headers.get("Content-Type", "no content type")
        return "(%s) %r" % (content_type, self.redact(text))

    def redact(self, text: str) -> str:
        """The text with the API key masked."""
        return text.replace(self._api_key, "********") if self._api_key else text


class Account:
    """A client seen as one account: every request carries that account's on-behalf-of header."""

    def __init__(self, client: SendGridClient, on_behalf_of: str | None, region_advice: str | None = None):
        self.client = client
        self.on_behalf_of = on_behalf_of
        self.region_advice = region_advice

    def request(self, method: str, path: str, operation: Operation, body: dict | None = None, params: dict | None = None):
        return self.client.request(method, path, operation, body=body, params=params, on_behalf_of=self.on_behalf_of,
                                   region_advice=self.region_advice)


def region_advice(region: str, api_url: str | None, eu_api_url: str | None) -> str | None:
    """What to do when SendGrid refuses an EU regional account's request for its region, when that request went to
    api_url only because eu_api_url is not set: set eu_api_url, not region (which is already right)."""
    if region != "eu" or not api_url or eu_api_url:
        return None
    return ("The account is an EU regional subuser, and its requests went to %s (%s) because %s is not set: set %s (or "
            "%s) to the EU API host, such as %s; %s serves the global region."
            % (option_name("api_url"), api_url, option_name("eu_api_url"), option_name("eu_api_url"),
               ENVIRONMENT["eu_api_url"], BASE_URLS["eu"], option_name("api_url")))


def base_url_for(region: str, api_url: str | None = None, eu_api_url: str | None = None) -> str:
    """The host serving a region, checked: EU regional accounts live on the EU host. The one rule of every module:
    eu_api_url (or SENDGRID_EU_API_URL), else api_url (or SENDGRID_API_URL), else the region's SendGrid host."""
    if region == "eu" and eu_api_url:
        return check_base_url(eu_api_url, "eu_api_url")
    if api_url:
        return check_base_url(api_url, "api_url")
    return BASE_URLS[region]


class ClientPool:
    """One client per thread and host (a requests.Session is not thread-safe), one set of endpoint budgets per host.

    A thread keeps its client, so its requests reuse one connection per host.
    """

    def __init__(self, factory, on_wait=None):
        self._factory = factory
        self._on_wait = on_wait
        self._local = threading.local()
        self._lock = threading.Lock()
        self._rate_limits: dict = {}

    def client(self, base_url: str) -> SendGridClient:
        clients = self._local.__dict__.setdefault("clients", {})
        if base_url not in clients:
            with self._lock:
                rate_limits = self._rate_limits.setdefault(base_url, RateLimits(on_wait=self._on_wait))
            clients[base_url] = self._factory(base_url, rate_limits)
        return clients[base_url]


def client_from_module(module, base_url: str | None = None, rate_limits: RateLimits | None = None) -> SendGridClient:
    """Build a client from a module's connection options; fails the module on a bad one, before any request."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    params = module.params
    try:
        return SendGridClient(
            api_key=params["api_key"],
            base_url=base_url or base_url_for(params["region"], params["api_url"], params["eu_api_url"]),
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            timeout=params["timeout"],
            retries=params["retries"],
            retry_max_wait=params["retry_max_wait"],
            warn=module.warn,
            rate_limits=rate_limits,
        )
    except SendGridError as exc:
        module.fail_json(msg=str(exc))


def account_from_module(module) -> Account:
    """The one account a single-account module manages: the parent, or on_behalf_of."""
    client = client_from_module(module)
    params = module.params
    try:
        advice = region_advice(params["region"], params["api_url"], params["eu_api_url"])
        check_account_name("on_behalf_of", params["on_behalf_of"])
        return client.account(params["on_behalf_of"], advice)
    except SendGridError as exc:
        module.fail_json(msg=str(exc))
