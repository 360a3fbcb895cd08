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

import ipaddress
import json
import os
import random
import re
import threading
import time
import traceback

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.common.validation import check_type_dict

COLLECTION_VERSION = "1.0.0"
BASE_URLS = {
    "global": "https://api.sendgrid.com",
    "eu": "https://api.eu.sendgrid.com",
}

# 429 is retried after the wait SendGrid asks for; 500/502/503/504 are the transient answers of
# SendGrid and of the proxies in front of it. Other statuses are answers, not accidents.
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
# An X-RateLimit-Reset above this is an epoch timestamp, below it a number of seconds to wait.
EPOCH_THRESHOLD = 10 ** 9
BACKOFF_BASE_SECONDS = 1.0
# A refused connection means nothing listens at the address (a wrong api_url, a server that is down): retrying it with
# backoff only delays the failure by half a minute. One retry covers a server that is restarting.
REFUSED_RETRIES = 1
EXCERPT_LENGTH = 200


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
    """The AnsibleModule of every module here: a connection option set to null falls back to its environment variable.

    Ansible applies a fallback only to an option left out; the documentation says "if not set", and null is not set
    (module_defaults and role variables often pass null).
    """
    not_dicts = _sections_not_dicts(argument_spec)
    if not_dicts:
        # AnsibleModule would fail on them while listing the no_log values, and so show the API key in the failure's
        # invocation: take them as they are, so the key is hidden, and fail naming them.
        relaxed = dict(argument_spec, **{name: dict(type="raw") for name in not_dicts})
        module = AnsibleModule(argument_spec=relaxed, **arguments)
        module.fail_json(msg="; ".join(
            "value of %s must be a dictionary of its fields (such as enabled: true), got: %s" % (name, as_text(value))
            for name, value in sorted(not_dicts.items())))
    module = AnsibleModule(argument_spec=argument_spec, **arguments)
    for name, variable in ENVIRONMENT.items():
        if name in module.params and module.params[name] is None:
            module.params[name] = os.environ.get(variable) or None
    if module.params.get("api_key") is None:
        module.fail_json(msg="missing required arguments: api_key (or the environment variable %s)" % ENVIRONMENT["api_key"])
    return module


def _sections_not_dicts(argument_spec: dict) -> dict:
    """The dict options with suboptions given a value that cannot be read as a dictionary: {name: value}."""
    try:
        params = basic._load_params()  # cached by Ansible; AnsibleModule reads the same
    except Exception:  # pylint: disable=broad-exception-caught
        return {}  # AnsibleModule reports unreadable parameters itself
    not_dicts = {}
    for name, spec in argument_spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if spec.get("type") == "dict" and spec.get("options") and value is not None and not isinstance(value, dict):
            try:
                check_type_dict(value)
            except TypeError:
                not_dicts[name] = value
    return not_dicts


class SendGridError(Exception):
    """A failure explained for the person running the playbook (never contains the API key)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Operation:
    """What a request does, in words used by error messages, and the API key scope it needs."""

    def __init__(self, description: str, scope: str):
        self.description = description
        self.scope = scope


def check_base_url(url: str, option: str = "api_url") -> str:
    """Return the URL without a trailing slash, refusing to send a key in clear text off this host."""
    match = re.match(r"^(https?)://(\[[^\]]+\]|[^/:?#]+)(:\d+)?(/[^?#]*)?$", url or "", re.IGNORECASE)
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


def check_header_value(option: str, value: str | None) -> None:
    """Refuse, before any request, header values that requests or SendGrid would refuse with a traceback or a 404."""
    if value is None:
        return
    if not value.strip() or re.search(r"[\x00-\x1f\x7f]", value):
        raise SendGridError("%s must be a non-empty value without line breaks or control characters." % option)
    if value != value.strip():
        raise SendGridError("%s must not start or end with spaces, got %r." % (option, value))


def plural(count: int, noun: str) -> str:
    """'1 account', '2 accounts'."""
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


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

    def __init__(self, sleep=time.sleep, clock=time.time, endpoint: str | None = None):
        self.endpoint = endpoint
        self._lock = threading.Condition()
        self._sleep = sleep
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
                    "retry_max_wait (%s seconds) allows: raise retry_max_wait, lower concurrency, or run again later."
                    % (delay, " on %s" % self.endpoint if self.endpoint else "", _utc_time(self._clock() + delay),
                       _number_text(max_wait + waited)), 429)
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

    def __init__(self, sleep=time.sleep, clock=time.time):
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._budgets: dict = {}

    def endpoint(self, path: str) -> RateLimit:
        """The budget of the endpoint at this path (query strings are not part of an endpoint)."""
        path = path.split("?", 1)[0]
        with self._lock:
            if path not in self._budgets:
                self._budgets[path] = RateLimit(sleep=self._sleep, clock=self._clock, endpoint=path)
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


class SendGridClient:
    """A requests.Session bound to one SendGrid host, with bounded retries.

    Not thread-safe (requests.Session is not): give each thread its own client and share one RateLimits.
    """

    def __init__(self, api_key: str, base_url: str, validate_certs: bool = True, ca_path: str | None = None,
                 timeout: float = 30, retries: int = 5, retry_max_wait: float = 120, warn=None, rate_limits=None,
                 sleep=time.sleep, clock=time.time):
        check_header_value("api_key", api_key)
        if retries < 0 or retry_max_wait < 0 or timeout <= 0:
            raise SendGridError("retries and retry_max_wait must be zero or more, and timeout more than zero.")
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self.retries = retries
        self.retry_max_wait = retry_max_wait
        self.rate_limits = rate_limits or RateLimits(sleep=sleep, clock=clock)
        self._api_key = api_key
        self._warn = warn or (lambda message: None)
        self._sleep = sleep
        self._clock = clock
        if validate_certs and ca_path and not os.path.isfile(ca_path):
            raise SendGridError("ca_path %s is not a readable file: give the PEM file of the CA certificates that sign "
                                "the API host's certificate (a TLS-inspecting proxy's CA, say)." % ca_path)
        # Passed with every request, not set on the session: requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE
        # override Session.verify, and the task's validate_certs and ca_path must decide.
        self.verify = ca_path if (validate_certs and ca_path) else validate_certs
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": "Bearer %s" % api_key,
            "Accept": "application/json",
            "User-Agent": "mailops.sendgrid/%s (+https://github.com/mailops/sendgrid) python-requests/%s"
                          % (COLLECTION_VERSION, requests.__version__),
        })

    def account(self, on_behalf_of: str | None = None) -> "Account":
        """This client acting for the parent account (None) or for a subuser or customer account."""
        check_header_value("on_behalf_of", on_behalf_of)
        return Account(self, on_behalf_of)

    def request(self, method: str, path: str, operation: Operation, body: dict | None = None, params: dict | None = None,
                on_behalf_of: str | None = None):
        """Send one API request, retrying transient failures, and return the decoded JSON answer."""
        url = self.base_url + path
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
            except requests.exceptions.Timeout:
                response, reason = None, "gave no answer within %s seconds" % self.timeout
                failure = SendGridError("%s %s %s: SendGrid gave no answer within the timeout of %s seconds (option "
                                        "timeout); raise timeout, or run again later."
                                        % (operation.description, method, url, self.timeout))
            except requests.exceptions.SSLError as exc:
                raise SendGridError("%s %s %s: the TLS connection failed (%s). Check validate_certs and ca_path."
                                    % (operation.description, method, url, self.redact(str(exc))))
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # ChunkedEncodingError is an answer cut off mid-body (IncompleteRead): as transient as a dropped connection.
                response, reason = None, "failed with a connection error"
                refused = is_refused(exc)
                if refused:
                    refusals += 1
                    reason = "failed: the connection was refused (nothing listens there)"
                failure = SendGridError("%s %s %s: the connection to the API was lost or refused (%s). Check api_url, "
                                        "the network and any proxy between this host and SendGrid, then run again."
                                        % (operation.description, method, url, self.redact(str(exc))))
            except requests.exceptions.RequestException as exc:
                raise SendGridError("%s %s %s: the request could not be sent (%s: %s)."
                                    % (operation.description, method, url, type(exc).__name__, self.redact(str(exc))))
            else:
                if response.status_code not in RETRY_STATUSES:
                    return self._decode(response, method, url, operation, on_behalf_of)
                reason = "answered HTTP %s" % response.status_code
                failure = self._error(response, method, url, operation, on_behalf_of)

            delay = self._retry_delay(rate_limit, response, attempt)
            if response is not None and response.status_code == 429 and waited + delay > self.retry_max_wait:
                raise SendGridError("%s SendGrid's rate limit resets in %.0f seconds (at %s), beyond retry_max_wait (%s "
                                    "seconds): raise retry_max_wait, lower concurrency, or run again later."
                                    % (str(failure).rstrip(".") + ".", delay, _utc_time(self._clock() + delay),
                                       _number_text(self.retry_max_wait)), 429)
            if refused and refusals > REFUSED_RETRIES and attempt < self.retries:
                raise SendGridError("%s (refused again after %s and %.1f seconds of waiting: a refused connection is "
                                    "retried %s only, whatever retries says)"
                                    % (str(failure).rstrip("."), "1 retry" if attempt == 1 else "%d retries" % attempt,
                                       waited, "once" if REFUSED_RETRIES == 1 else "%d times" % REFUSED_RETRIES))
            if attempt >= self.retries or waited + delay > self.retry_max_wait:
                if attempt:
                    failure = SendGridError("%s (gave up after %d retries and %.1f seconds of waiting; options retries and "
                                            "retry_max_wait)" % (str(failure).rstrip("."), attempt, waited), failure.status)
                raise failure
            attempt += 1
            # Retrying a PATCH is safe: it sets absolute values, so sending it twice has the effect of once.
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

    def _decode(self, response, method: str, url: str, operation: Operation, on_behalf_of: str | None):
        if response.status_code >= 400:
            raise self._error(response, method, url, operation, on_behalf_of)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SendGridError("%s %s %s: SendGrid answered HTTP %s with a body that is not JSON: %s. A proxy may have "
                                "answered instead of SendGrid, or the answer was cut off: check api_url (the API's base URL, "
                                "such as https://api.sendgrid.com) and any proxy, then run again."
                                % (operation.description, method, url, response.status_code, self._excerpt(response)),
                                response.status_code)

    def _error(self, response, method: str, url: str, operation: Operation, on_behalf_of: str | None) -> SendGridError:
        """Turn an error answer into a message that says what to do about it."""
        status = response.status_code
        api_messages = self._api_messages(response)
        said = ("HTTP %s: %s" % (status, api_messages)) if api_messages else ("HTTP %s, body %s" % (status, self._excerpt(response)))
        prefix = "%s %s %s failed (%s)." % (operation.description, method, url, said)
        if status == 401:
            advice = "SendGrid rejected the API key: check api_key (or SENDGRID_API_KEY) and that the key is not revoked."
        elif status == 403 and "region" in api_messages.lower():
            advice = ("The account is pinned to another SendGrid region than the host asked: set region (accounts[].region "
                      "for many accounts) to the account's region, or api_url to that region's host.")
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
            advice = ("Nothing answers at %s: check that api_url is the API's base URL, such as https://api.sendgrid.com "
                      "(without /v3 or any other path SendGrid does not have)." % url)
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

    def __init__(self, client: SendGridClient, on_behalf_of: str | None):
        self.client = client
        self.on_behalf_of = on_behalf_of

    def request(self, method: str, path: str, operation: Operation, body: dict | None = None, params: dict | None = None):
        return self.client.request(method, path, operation, body=body, params=params, on_behalf_of=self.on_behalf_of)


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

    def __init__(self, factory):
        self._factory = factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._rate_limits: dict = {}

    def client(self, base_url: str) -> SendGridClient:
        clients = self._local.__dict__.setdefault("clients", {})
        if base_url not in clients:
            with self._lock:
                rate_limits = self._rate_limits.setdefault(base_url, RateLimits())
            clients[base_url] = self._factory(base_url, rate_limits)
        return clients[base_url]


def client_from_module(module, base_url: str | None = None, rate_limits: RateLimits | None = None) -> SendGridClient:
    """Build a client from a module's connection options; fails the module on a bad one, before any request."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
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
    try:
        return client.account(module.params["on_behalf_of"])
    except SendGridError as exc:
        module.fail_json(msg=str(exc))
