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
import random
import re
import time
import traceback

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.basic import env_fallback

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
EXCERPT_LENGTH = 200


def connection_argument_spec() -> dict:
    """Options shared by every module; documented once in the mailops.sendgrid.connection fragment."""
    return dict(
        api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["SENDGRID_API_KEY"])),
        region=dict(type="str", default="global", choices=["global", "eu"]),
        api_url=dict(type="str", fallback=(env_fallback, ["SENDGRID_API_URL"])),
        on_behalf_of=dict(type="str"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30),
        retries=dict(type="int", default=5),
        retry_max_wait=dict(type="float", default=120),
    )


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


def check_base_url(url: str) -> str:
    """Return the URL without a trailing slash, refusing to send a key in clear text off this host."""
    match = re.match(r"^(https?)://(\[[^\]]+\]|[^/:]+)(:\d+)?(/.*)?$", url or "")
    if not match:
        raise SendGridError("api_url must be an http:// or https:// URL such as https://api.sendgrid.com, got %r." % (url,))
    scheme, host = match.group(1), match.group(2).strip("[]")
    if scheme == "http" and not is_loopback(host):
        raise SendGridError(
            "api_url %s uses plain http:// to a host that is not this machine: the API key would cross the network "
            "unencrypted. Use https://, or http:// only with 127.0.0.1, ::1 or localhost." % url
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_header_value(option: str, value: str | None) -> None:
    """Header values with line breaks would be refused by requests with a traceback; say it first."""
    if value is not None and (not value.strip() or re.search(r"[\x00-\x1f\x7f]", value)):
        raise SendGridError("%s must be a non-empty value without line breaks or control characters." % option)


class SendGridClient:
    """A requests.Session bound to one SendGrid host and one account, with bounded retries."""

    def __init__(self, api_key: str, base_url: str, on_behalf_of: str | None = None, validate_certs: bool = True,
                 ca_path: str | None = None, timeout: float = 30, retries: int = 5, retry_max_wait: float = 120,
                 warn=None, sleep=time.sleep, clock=time.time):
        check_header_value("api_key", api_key)
        check_header_value("on_behalf_of", on_behalf_of)
        if retries < 0 or retry_max_wait < 0 or timeout <= 0:
            raise SendGridError("retries and retry_max_wait must be zero or more, and timeout more than zero.")
        self.base_url = check_base_url(base_url)
        self.on_behalf_of = on_behalf_of
        self.timeout = timeout
        self.retries = retries
        self.retry_max_wait = retry_max_wait
        self._api_key = api_key
        self._warn = warn or (lambda message: None)
        self._sleep = sleep
        self._clock = clock
        self.session = requests.Session()
        self.session.verify = ca_path if (validate_certs and ca_path) else validate_certs
        self.session.headers.update({
            "Authorization": "Bearer %s" % api_key,
            "Accept": "application/json",
            "User-Agent": "mailops.sendgrid/%s (+https://github.com/mailops/sendgrid) python-requests/%s"
                          % (COLLECTION_VERSION, requests.__version__),
        })
        if on_behalf_of:
            self.session.headers["on-behalf-of"] = on_behalf_of

    def request(self, method: str, path: str, operation: Operation, body: dict | None = None, params: dict | None = None):
        """Send one API request, retrying transient failures, and return the decoded JSON answer."""
        url = self.base_url + path
        waited = 0.0
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, json=body, params=params, timeout=self.timeout)
            except requests.exceptions.Timeout:
                response, reason = None, "no answer within %s seconds" % self.timeout
                failure = SendGridError("%s %s %s: SendGrid gave no answer within the timeout of %s seconds (option timeout)."
                                        % (operation.description, method, url, self.timeout))
            except requests.exceptions.SSLError as exc:
                raise SendGridError("%s %s %s: the TLS connection failed (%s). Check validate_certs and ca_path."
                                    % (operation.description, method, url, self._redact(str(exc))))
            except requests.exceptions.ConnectionError as exc:
                response, reason = None, "a connection error"
                failure = SendGridError("%s %s %s: could not connect to SendGrid (%s)."
                                        % (operation.description, method, url, self._redact(str(exc))))
            else:
                if response.status_code not in RETRY_STATUSES:
                    return self._decode(response, method, url, operation)
                reason = "HTTP %s" % response.status_code
                failure = self._error(response, method, url, operation)

            delay = self._retry_delay(response, attempt)
            if attempt >= self.retries or waited + delay > self.retry_max_wait:
                if attempt:
                    failure = SendGridError("%s (gave up after %d retries and %.1f seconds of waiting; options retries and "
                                            "retry_max_wait)" % (str(failure).rstrip("."), attempt, waited), failure.status)
                raise failure
            attempt += 1
            # Retrying a PATCH is safe: it sets absolute values, so sending it twice has the effect of once.
            self._warn("SendGrid %s %s answered %s; retry %d of %d in %.1f seconds."
                       % (method, path, reason, attempt, self.retries, delay))
            self._sleep(delay)
            waited += delay

    def _retry_delay(self, response, attempt: int) -> float:
        """Seconds to wait: what a 429 asks for, else exponential backoff with jitter."""
        if response is not None and response.status_code == 429:
            asked = self._asked_wait(response.headers)
            if asked is not None:
                return max(0.0, asked)
        backoff = BACKOFF_BASE_SECONDS * (2 ** attempt)
        return backoff / 2 + random.uniform(0, backoff / 2)

    def _asked_wait(self, headers) -> float | None:
        for name in ("Retry-After", "X-RateLimit-Reset"):
            try:
                value = float(headers.get(name, ""))
            except ValueError:
                continue
            return value - self._clock() if value > EPOCH_THRESHOLD else value
        return None

    def _decode(self, response, method: str, url: str, operation: Operation):
        if response.status_code >= 400:
            raise self._error(response, method, url, operation)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SendGridError("%s %s %s: SendGrid answered HTTP %s with a body that is not JSON: %s"
                                % (operation.description, method, url, response.status_code, self._excerpt(response)),
                                response.status_code)

    def _error(self, response, method: str, url: str, operation: Operation) -> SendGridError:
        """Turn an error answer into a message that says what to do about it."""
        status = response.status_code
        api_messages = self._api_messages(response)
        said = ("HTTP %s: %s" % (status, api_messages)) if api_messages else ("HTTP %s, body %s" % (status, self._excerpt(response)))
        prefix = "%s %s %s failed (%s)." % (operation.description, method, url, said)
        if status == 401:
            advice = "SendGrid rejected the API key: check api_key (or SENDGRID_API_KEY) and that the key is not revoked."
        elif status == 403:
            advice = "The API key lacks the scope %s needed to %s." % (operation.scope, operation.description.lower())
            if self.on_behalf_of:
                advice += " The request was made on behalf of %r (on_behalf_of): the parent's key must be allowed to act for it." \
                          % self.on_behalf_of
        elif status == 404 and self.on_behalf_of:
            advice = "SendGrid does not know the subuser or account %r given in on_behalf_of for this parent account." \
                     % self.on_behalf_of
        elif status == 429:
            advice = "SendGrid is rate limiting this API key."
        elif status >= 500:
            advice = "SendGrid or a proxy in front of it failed; try again later."
        else:
            advice = ""
        return SendGridError(self._redact((prefix + " " + advice).strip()), status)

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
        return "(%s) %r" % (content_type, self._redact(text))

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "********") if self._api_key else text


def client_from_module(module, on_behalf_of: str | None = None, region: str | None = None) -> SendGridClient:
    """Build the client from a module's connection options; fails the module on a bad one, before any request."""
    from ansible.module_utils.basic import missing_required_lib

    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    base_url = params["api_url"] or BASE_URLS[region or params["region"]]
    try:
        return SendGridClient(
            api_key=params["api_key"],
            base_url=base_url,
            on_behalf_of=on_behalf_of if on_behalf_of is not None else params["on_behalf_of"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            timeout=params["timeout"],
            retries=params["retries"],
            retry_max_wait=params["retry_max_wait"],
            warn=module.warn,
        )
    except SendGridError as exc:
        module.fail_json(msg=str(exc))
