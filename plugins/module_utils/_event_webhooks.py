# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The event webhooks family (a collection, with an audit that may enforce): the webhooks SendGrid posts an account's
mail events to, several per account, each known by its id.

A webhook is identified by its friendly name, or by its URL when no name is given. Its OAuth client secret is
write-only: SendGrid never answers it, so it is sent on creation (or always, when asked) and never compared, shown or
put in a message. The audit flags every webhook that is not https (events, with recipients' addresses, cross the
network in clear text), not signed (its receiver cannot tell SendGrid's posts from anyone's), or whose host no allowed
pattern matches; enforcing it turns signing on, the one fix that changes nothing a receiver relies on.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from urllib.parse import quote, unquote, urlsplit

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, account_from_module, as_text, connection_argument_spec, option_name, sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import (
    ANY, COMPLIANT, FLAGGED, WOULD_CHANGE, Family, Option, failure, status, unexpected,
)

PATH = "/v3/user/webhooks/event/settings"
ALL_PATH = PATH + "/all"
SIGNED_PATH = PATH + "/signed"
READ_SCOPE = "user.webhooks.event.settings.read"
# A full-access key holds no settings.create or .delete: creating and deleting a webhook need .update.
UPDATE_SCOPE = "user.webhooks.event.settings.update"
LIST = Operation("Listing the event webhooks", READ_SCOPE)
CREATE = Operation("Creating an event webhook", UPDATE_SCOPE, creates=True)
UPDATE = Operation("Updating an event webhook", UPDATE_SCOPE)
DELETE = Operation("Deleting an event webhook", UPDATE_SCOPE)
SIGN = Operation("Turning an event webhook's signature verification on or off", UPDATE_SCOPE)
# The event booleans of the spec's EventWebhookRequest, in its order.
EVENTS = ("group_resubscribe", "delivered", "group_unsubscribe", "spam_report", "bounce", "deferred", "unsubscribe",
          "processed", "open", "click", "dropped")
SETTINGS = ("friendly_name", "url", "enabled", "events", "oauth_client_id", "oauth_token_url")
HIDDEN = "********"
# scheme://userinfo@: the netloc runs to the first /, ? or #, and its userinfo to its last @ (as urlsplit reads it)
USERINFO = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")
NETLOC = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")


# ----------------------------------------------------------------------------- basic-auth passwords in URLs

def masked(url):
    """A URL as every output shows it: the password of its basic-auth credentials (https://user:pass@host/, SendGrid's
    documented way to protect a webhook) as ********; the real URL is compared and sent, never shown."""
    match = USERINFO.match(url) if isinstance(url, str) else None
    if not match or ":" not in match.group(2):
        return url
    return "%s%s:%s@%s" % (match.group(1), match.group(2).split(":", 1)[0], HIDDEN, url[match.end():])


def url_passwords(url) -> list:
    """The basic-auth password of a URL as written and as decoded ([] without one): Ansible's no_log values."""
    match = USERINFO.match(url) if isinstance(url, str) else None
    password = match.group(2).split(":", 1)[1] if match and ":" in match.group(2) else ""
    return [text for text in dict.fromkeys((password, unquote(password))) if text]


def hide_passwords(text: str, urls) -> str:
    """A message with every URL's password masked: the masked URL first, then any password left (an answer may
    quote it decoded or alone)."""
    for url in urls:
        if isinstance(url, str) and url_passwords(url):
            text = text.replace(url, masked(url))
            for password in url_passwords(url):
                text = text.replace(password, HIDDEN)
    return text


def comparable(url):
    """A URL as compared: its scheme and host without case (HTTPS://HOOKS.example.com/x is https://hooks.example.com/x),
    its credentials, path and query as they are."""
    match = NETLOC.match(url) if isinstance(url, str) else None
    if not match:
        return url
    userinfo, at, host = match.group(2).rpartition("@")
    return "%s://%s%s%s%s" % (match.group(1).strip().lower(), userinfo, at, host.lower(), url[match.end():])


def same_url(one, other) -> bool:
    return comparable(one) == comparable(other)


# ----------------------------------------------------------------------------- checks

def check_url(url, option: str, allow_http: bool = False) -> str:
    """An absolute https URL (http too when allowed) with a host and no spaces; refused before any request."""
    text = url.strip() if isinstance(url, str) else None
    try:
        parts = urlsplit(text) if text and not any(char.isspace() for char in text) else None
        host = parts.hostname if parts is not None else None
    except ValueError:   # "https://[bad": no host to read
        parts = host = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise SendGridError("value of %s must be an absolute URL such as https://hooks.example.com/sendgrid, got: %s."
                            % (option_name(option), as_text(url) if not isinstance(url, str) else repr(masked(url))))
    if parts.scheme.lower() == "http" and not allow_http:
        raise SendGridError("value of %s must be an https:// URL: over http:// the events, with the recipients' "
                            "addresses, cross the network in clear text. Got %r; set %s: true to allow it on purpose."
                            % (option_name(option), masked(text), option_name("allow_http")))
    return text


def check_name(name, option: str):
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise SendGridError("value of %s must be non-empty text (the webhook's friendly name), got: %s."
                            % (option_name(option), repr(name) if isinstance(name, str) else as_text(name)))
    return name.strip()


def check_events(events, option: str):
    """The events as a sorted list, each one of EVENTS; null is left out. A bad item is named by its place."""
    if events is None:
        return None
    if not isinstance(events, (list, tuple)):
        raise SendGridError("value of %s must be a list of events, each one of: %s; got: %s."
                            % (option_name(option), ", ".join(sorted(EVENTS)), as_text(events)))
    for index, event in enumerate(events):
        where = option_name("%s[%d]" % (option, index))
        if isinstance(event, str) and not event.strip():
            raise SendGridError("%s is empty: each item must be one of: %s." % (where, ", ".join(sorted(EVENTS))))
        if event not in EVENTS:
            raise SendGridError("value of %s must be one of: %s, got: %s." % (
                where, ", ".join(sorted(EVENTS)), repr(event) if isinstance(event, str) else as_text(event)))
    return sorted(set(events))


def check_hosts(patterns, option: str) -> None:
    """Host patterns (hooks.example.com, *.example.com): non-empty, no spaces, no scheme, path or port."""
    if patterns is None:
        return
    if not isinstance(patterns, (list, tuple)):
        raise SendGridError("value of %s must be a list of host names or patterns such as *.example.com, got: %s."
                            % (option_name(option), as_text(patterns)))
    bad = [pattern for pattern in patterns if not isinstance(pattern, str) or not pattern.strip()
           or any(char.isspace() or char in "/:@" for char in pattern.strip())]
    if bad:
        raise SendGridError("value of %s must hold host names or shell-style patterns of them (hooks.example.com, "
                            "*.example.com), without scheme, port or path, got: %s."
                            % (option_name(option), ", ".join(repr(item) for item in bad)))


def check_oauth(params: dict) -> None:
    """OAuth's client id and token URL come together (V("") for both removes it), the secret only with them."""
    client_id, token_url, secret = params["oauth_client_id"], params["oauth_token_url"], params["oauth_client_secret"]
    if client_id is None and token_url is None:
        if secret is not None:
            raise SendGridError("%s needs %s and %s." % (
                option_name("oauth_client_secret"), option_name("oauth_client_id"), option_name("oauth_token_url")))
        return
    if client_id is None or token_url is None or bool(client_id.strip()) != bool(token_url.strip()):
        raise SendGridError("%s and %s go together: give both (or both as \"\" to remove OAuth)."
                            % (option_name("oauth_client_id"), option_name("oauth_token_url")))
    if token_url.strip():
        # allow_http is for the events' URL: the token URL gets the client secret, which must never travel in clear
        if urlsplit(check_url(token_url, "oauth_token_url", allow_http=True)).scheme.lower() != "https":
            raise SendGridError("value of %s must be an https:// URL: SendGrid sends the OAuth client secret to it, "
                                "which over http:// would cross the network in clear text. Got %r."
                                % (option_name("oauth_token_url"), masked(token_url.strip())))
    elif secret is not None:
        raise SendGridError("%s cannot be given while removing OAuth (%s: \"\")."
                            % (option_name("oauth_client_secret"), option_name("oauth_client_id")))


# ----------------------------------------------------------------------------- reading

def _webhook(item: dict) -> dict:
    """A webhook as the modules show it: never a secret (SendGrid answers none)."""
    public_key = item.get("public_key") or None
    return dict(id=item["id"], friendly_name=item.get("friendly_name") or None, url=item.get("url"),
                enabled=bool(item.get("enabled")), events=sorted(event for event in EVENTS if item.get(event) is True),
                signed=public_key is not None, public_key=public_key,
                oauth_client_id=item.get("oauth_client_id") or None, oauth_token_url=item.get("oauth_token_url") or None)


def read_webhooks(account) -> list:
    """Every event webhook of the account, oldest first, each with its public key when signed: one GET of the list
    (the spec's list holds public_key). Items without an id are skipped: an account without webhooks answers [{}]."""
    return read_list(account)[0]


def read_list(account) -> tuple:
    """(the webhooks as read_webhooks() reads them, the list's max_allowed, None when it has none)."""
    answer = account.request("GET", ALL_PATH, LIST)
    items = answer.get("webhooks") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise SendGridError("SendGrid answered the list of event webhooks with %r, without a list of webhooks."
                            % (answer,))
    webhooks = []
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        if not isinstance(item["id"], str) or not isinstance(item.get("url"), str):
            raise SendGridError("SendGrid listed an event webhook without an id or a URL: %r." % (item,))
        webhooks.append(_webhook(item))
    limit = answer.get("max_allowed")
    return webhooks, limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def label(webhook: dict) -> str:
    """A webhook in a list of them: its name (or URL) and id, as names need not be unique."""
    return "%s (id %s)" % (webhook.get("friendly_name") or masked(webhook["url"]), webhook["id"])


def find(webhooks: list, name, url):
    """The webhook named so (or, with no name, at that URL), None when there is none; two is an error naming both."""
    found = [hook for hook in webhooks if (hook["friendly_name"] == name if name is not None
                                           else same_url(hook["url"], url))]
    if len(found) > 1:
        raise SendGridError("%d event webhooks are %s (ids %s): give the friendly_name of one that has its own, or "
                            "delete the others." % (len(found), "named %r" % name if name is not None else
                                                    "at %s" % masked(url), ", ".join(hook["id"] for hook in found)))
    return found[0] if found else None


# ----------------------------------------------------------------------------- planning (pure)

def desired_state(current, params: dict) -> dict:
    """The webhook as the task leaves it (its settings; id and public key as known)."""
    base = dict(current) if current else dict(id=None, friendly_name=None, url=None, enabled=True, events=[],
                                              signed=False, public_key=None, oauth_client_id=None, oauth_token_url=None)
    for name in ("friendly_name", "url", "enabled", "events"):
        if params.get(name) is not None and not (name == "url" and same_url(params[name], base["url"])):
            base[name] = params[name]
    if params.get("oauth_client_id") is not None:
        base["oauth_client_id"] = params["oauth_client_id"].strip() or None
        base["oauth_token_url"] = params["oauth_token_url"].strip() or None
    if params.get("signed") is not None:
        base["signed"] = params["signed"]
        base["public_key"] = base["public_key"] if params["signed"] else None
    return base


def create_body(wanted: dict, secret) -> dict:
    """The POST body: every event given as a boolean, OAuth with its secret."""
    body = dict(url=wanted["url"], enabled=wanted["enabled"])
    body.update({event: event in wanted["events"] for event in EVENTS})
    if wanted["friendly_name"] is not None:
        body["friendly_name"] = wanted["friendly_name"]
    if wanted["oauth_client_id"]:
        body.update(oauth_client_id=wanted["oauth_client_id"], oauth_token_url=wanted["oauth_token_url"],
                    oauth_client_secret=secret)
    return body


def update_body(current: dict, wanted: dict, secret, send_secret: bool):
    """The PATCH body with only what differs (url always: SendGrid requires it), or None when nothing does."""
    body = {}
    for name in ("friendly_name", "url", "enabled"):
        if wanted[name] != current[name]:
            body[name] = wanted[name]
    body.update({event: event in wanted["events"] for event in EVENTS
                 if (event in wanted["events"]) != (event in current["events"])})
    oauth_changed = (wanted["oauth_client_id"], wanted["oauth_token_url"]) != (current["oauth_client_id"],
                                                                               current["oauth_token_url"])
    if oauth_changed or (send_secret and wanted["oauth_client_id"]):
        body.update(oauth_client_id=wanted["oauth_client_id"] or "", oauth_token_url=wanted["oauth_token_url"] or "")
        if secret is not None and wanted["oauth_client_id"]:
            body["oauth_client_secret"] = secret
    if not body:
        return None
    body["url"] = wanted["url"]
    return body


def shown(webhook):
    """A webhook as results and diffs show it (None: absent)."""
    if webhook is None:
        return None
    result = {name: webhook[name] for name in ("id",) + SETTINGS + ("signed", "public_key")}
    return dict(result, url=masked(result["url"]), oauth_token_url=masked(result["oauth_token_url"]))


# ----------------------------------------------------------------------------- writing

def _one_path(webhook_id: str) -> str:
    return "%s/%s" % (PATH, quote(webhook_id, safe=""))


def sign(account, webhook_id: str, enabled: bool):
    """Turn signing on or off; the public key when on."""
    answer = account.request("PATCH", "%s/%s" % (SIGNED_PATH, quote(webhook_id, safe="")), SIGN,
                             body=dict(enabled=enabled))
    public_key = answer.get("public_key") if isinstance(answer, dict) else None
    if enabled and (not isinstance(public_key, str) or not public_key):
        raise SendGridError("SendGrid turned signing on for the event webhook %s without answering its public key: %r."
                            % (webhook_id, answer))
    return public_key or None


# ----------------------------------------------------------------------------- the audit

def audit(webhooks: list, require_https: bool, require_signed: bool, allowed_hosts) -> list:
    """The webhooks beyond the policy: [{id, name, url, http, unsigned, host_not_allowed}], in the account's order."""
    flagged = []
    for hook in webhooks:
        scheme, host = _scheme_and_host(hook["url"])
        http = require_https and scheme != "https"
        unsigned = require_signed and not hook["signed"]
        outside = allowed_hosts is not None and not (host and any(fnmatchcase(host, _host(pattern))
                                                                  for pattern in allowed_hosts))
        if http or unsigned or outside:
            flagged.append(dict(id=hook["id"], name=hook["friendly_name"], url=masked(hook["url"]), http=http,
                                unsigned=unsigned, host_not_allowed=outside))
    return flagged


def _host(host: str) -> str:
    """A host or host pattern as compared: without case, and without the final dot of a fully qualified name
    (hooks.example.com. is hooks.example.com)."""
    host = host.strip().lower()
    return host[:-1] if host.endswith(".") else host


def _scheme_and_host(url: str) -> tuple:
    """A URL's scheme and host, as _host() compares it; ("", "") for one SendGrid kept that cannot be read
    ("https://[bad"): it is then neither https nor on an allowed host."""
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), _host(parts.hostname or "")
    except ValueError:
        return "", ""


def why(item: dict) -> str:
    """One flagged webhook, and why: "deliveries (id 1a2b) is not https; and is not signed"."""
    reasons = (["is not https (%s)" % item["url"]] if item["http"] else []) + (
        ["is not signed"] if item["unsigned"] else []) + (
        ["posts to a host allowed_hosts does not match (%s)" % item["url"]] if item["host_not_allowed"] else [])
    return "the event webhook %s %s" % (label(dict(item, friendly_name=item["name"])), "; and ".join(reasons))


def audit_message(webhooks: list, flagged: list) -> str:
    count = "1 event webhook" if len(webhooks) == 1 else "%d event webhooks" % len(webhooks)
    if not flagged:
        return "%s, none beyond the policy." % count
    return "%d of %s beyond the policy: %s." % (len(flagged), count, " | ".join(why(item) for item in flagged))


# ----------------------------------------------------------------------------- the family contract

AUDIT_OPTIONS = [
    Option("require_https", "bool", [
        "Flag every webhook whose URL is not C(https://): its events, with the recipients' addresses, cross the "
        "network in clear text."], default=True),
    Option("require_signed", "bool", [
        "Flag every webhook without signature verification: its receiver cannot tell SendGrid's posts from anyone "
        "else's."], default=True),
    Option("allowed_hosts", "list", [
        "The hosts webhooks may post to, as host names or shell-style patterns of them (V(hooks.example.com), "
        "V(*.example.com)), compared ignoring case and the final dot of a fully qualified name (V(hooks.example.com.) "
        "is V(hooks.example.com)). A webhook whose URL's host matches none is flagged. V(null) checks no hosts.",
        "Each is a host without scheme, port or path; another value fails before any request."], elements="str"),
]

OPTIONS = AUDIT_OPTIONS + [
    Option("enforce", "bool", [
        "Turn signature verification on for every webhook flagged as unsigned (O(@require_signed)) with C(PATCH "
        "/v3/user/webhooks/event/settings/signed/{id}), the one fix that changes nothing its events go to: a "
        "webhook's URL is never changed, and a webhook flagged for its URL or host stays flagged. The receiver must "
        "then verify the signature with the webhook's public key (see M(mailops.sendgrid.sendgrid_event_webhook_info)). "
        "In check mode, the webhooks that would be signed (the report says C(would sign)). The drift, and the gate's "
        "message, name the webhooks signed or to sign as they name the flagged ones.",
        "Needs the scope C(user.webhooks.event.settings.update). V(false) only audits."], default=False),
]

MODULE_OPTIONS = [
    Option("friendly_name", "str", [
        "The webhook's friendly name, which identifies it. Left out, the webhook is identified by O(@url), and its name "
        "is left as it is. Two webhooks matching is an error naming both ids."]),
    Option("url", "str", [
        "The absolute URL SendGrid posts the events to. Needed to create a webhook, and to identify one when "
        "O(@friendly_name) is left out; given with O(@friendly_name), the webhook's URL is changed to it. Compared with "
        "its scheme and host ignoring case.",
        "Must be C(https://) unless O(@allow_http) is V(true).",
        "Basic-auth credentials in it (C(https://user:password@hooks.example.com/x), SendGrid's way to protect a "
        "webhook) are sent and compared as given, but the password is shown as C(********) in every result, diff and "
        "message, and is a no_log value, which Ansible censors wherever it would show."]),
    Option("allow_http", "bool", [
        "Allow an C(http://) O(@url). Events hold recipients' addresses, and over http they cross the network in clear "
        "text: leave it V(false) but for a receiver on a private network."], default=False),
    Option("state", "str", [
        "V(present) creates the webhook (C(POST)) when there is none, and updates what differs (one C(PATCH) with "
        "only the fields that differ, and one to the signed endpoint when O(@signed) differs). Creating one when the "
        "account already has as many as the list's C(max_allowed) fails before any write, in check mode too.",
        "V(absent) deletes it (C(DELETE))."], choices=["present", "absent"], default="present"),
    Option("enabled", "bool", [
        "Whether SendGrid posts events to the webhook. Left out: V(true) when creating, unchanged otherwise."]),
    Option("events", "list", [
        "The events posted to the webhook, compared as a set; every other event is off. Left out (or V(null)): none "
        "when creating, unchanged otherwise.",
        "An item that is not one of the choices (or is empty) fails naming its place, before any request."],
        elements="str", choices=sorted(EVENTS)),
    Option("signed", "bool", [
        "Whether SendGrid signs each post (signature verification); V(true) returns the webhook's RV(webhook.public_key), "
        "which the receiver verifies the signature with. Left out: unsigned when creating, unchanged otherwise."]),
    Option("oauth_client_id", "str", [
        "The OAuth client id SendGrid gets a token with before posting. Given with O(@oauth_token_url); V(\"\") for "
        "both removes OAuth."]),
    Option("oauth_token_url", "str", [
        "The URL SendGrid gets the OAuth token from. Given with O(@oauth_client_id).",
        "Must be C(https://), whatever O(@allow_http) says: SendGrid sends the client secret to it."], no_log=False),
    Option("oauth_client_secret", "str", [
        "The OAuth client secret, write-only: SendGrid never shows it, so it is never compared, returned or shown. "
        "Needed when OAuth is first configured, and when O(@oauth_client_id) or O(@oauth_token_url) change (else "
        "SendGrid would pair the secret it keeps with the new values: the task fails before any write); sent as "
        "O(@update_secret) says."], no_log=True),
    Option("update_secret", "str", [
        "V(on_create) sends O(@oauth_client_secret) when the webhook is created or its OAuth client id or token URL "
        "changes, and otherwise not: the secret cannot be read back to compare.",
        "V(always) sends it on every run, which then always reports a change (to rotate the secret)."],
        choices=["on_create", "always"], default="on_create", no_log=False),
]


class EventWebhooksFamily(Family):
    """The event webhooks as a family: its section (an audit, with an opt-in signing of the unsigned), its module
    (one webhook) and its info module (every webhook, with the audit)."""

    kind = "collection"
    flags = "event webhook"
    module = "sendgrid_event_webhook"
    export_note = ("event_webhooks: the audit today's webhooks pass (https, signed, their hosts); the webhooks "
                   "themselves are sendgrid_event_webhook's, and their OAuth client secrets are write-only: SendGrid "
                   "never shows them")

    def __init__(self):
        super().__init__(
            "event_webhooks", "the event webhooks",
            "An audit of the account's event webhooks, as M(mailops.sendgrid.sendgrid_event_webhook_info) does it, and "
            "with enforce the signing of the unsigned (M(mailops.sendgrid.sendgrid_event_webhook) manages them one by "
            "one). A webhook that is not https, not signed, or whose host allowed_hosts does not match is flagged: "
            "drift that a person fixes (the URL is never changed here), or for the unsigned, enforce.",
            OPTIONS, MODULE_OPTIONS)
        self.audit_options = AUDIT_OPTIONS   # sendgrid_event_webhook_info's

    def check(self, values: dict, where: str = "") -> list:
        check_hosts(values["allowed_hosts"], where + "allowed_hosts")
        return []

    def apply(self, account, values: dict, check_mode: bool) -> dict:
        signed = []
        try:
            webhooks = read_webhooks(account)
            flagged = audit(webhooks, values["require_https"], values["require_signed"], values["allowed_hosts"])
            if values.get("enforce"):
                signed = [item for item in flagged if item["unsigned"]]
                for item in signed if not check_mode else ():
                    sign(account, item["id"], True)
                    item["done"] = True
        except Exception as exc:  # pylint: disable=broad-exception-caught
            done = [label(dict(item, friendly_name=item["name"])) for item in signed if item.get("done")]
            return {self.name: failure(str(unexpected(account, exc)), webhooks=None, flagged=[], signed=[],
                                       changes=dict(signed=done) if done else {})}
        signed = [dict(id=item["id"], name=item["name"], url=item["url"]) for item in signed]
        left = [dict(item, unsigned=False) if any(done["id"] == item["id"] for done in signed) else item
                for item in flagged]
        left = [item for item in left if item["http"] or item["unsigned"] or item["host_not_allowed"]]
        outcome = dict(status=status(True, check_mode) if signed else FLAGGED if left else COMPLIANT,
                       webhooks=len(webhooks), flagged=left, signed=signed)
        if signed:
            outcome["before"] = {self.label(item): dict(signed=False) for item in signed}
            outcome["after"] = {self.label(item): dict(signed=True) for item in signed}
        return {self.name: outcome}

    def export(self, account) -> dict:
        """The audit today's webhooks pass: https and signed when every one is, the hosts they post to. An account
        without webhooks fits any audit."""
        webhooks = read_webhooks(account)
        if not webhooks:
            return dict(require_https=ANY, require_signed=ANY, allowed_hosts=ANY, enforce=ANY)
        places = [_scheme_and_host(hook["url"]) for hook in webhooks]
        return dict(require_https=all(scheme == "https" for scheme, _host in places),
                    require_signed=all(hook["signed"] for hook in webhooks),
                    allowed_hosts=sorted({host for _scheme, host in places if host}), enforce=ANY)

    def write_scopes(self, key: str, outcome: dict) -> list:
        return [SIGN.scope] if outcome.get("signed") else []

    def describe(self, key: str, outcome: dict, cell) -> str:
        count = outcome.get("webhooks")
        parts = [("1 webhook" if count == 1 else "%d webhooks" % count)] if count is not None else []
        # a plan's cell says what would be done, never "signed" as if it were
        verb = "would sign" if outcome.get("status") == WOULD_CHANGE else "signed"
        parts += ["%s %s" % (verb, cell(self.label(item))) for item in outcome.get("signed") or []]
        parts += ["flagged %s: %s" % (cell(self.label(item)), ", ".join(name for name, flag in (
            ("not https", item["http"]), ("not signed", item["unsigned"]), ("host not allowed", item["host_not_allowed"]))
            if flag)) for item in outcome.get("flagged") or []]
        return "; ".join(parts)

    def explain(self, item: dict) -> str:
        return why(item)

    def named(self, outcome: dict) -> list:
        # the webhooks enforce signs (or would) are the drift too: name them, as an audit without enforce names them
        labels = [self.label(item) for item in (outcome.get("signed") or []) + (outcome.get("flagged") or [])]
        return list(dict.fromkeys(labels))

    def label(self, item: dict) -> str:
        return label(dict(item, friendly_name=item.get("name")))

    def run_module(self) -> None:
        """The whole of sendgrid_event_webhook."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **self.module_argument_spec()),
                                 supports_check_mode=True)
        params = module.params
        secret = params["oauth_client_secret"]
        urls = [params["url"], params["oauth_token_url"]]
        _no_log(module, urls)

        def hidden(text: str) -> str:
            # no answer holds the secret; this keeps it so should one ever echo a request
            text = text.replace(secret, HIDDEN) if secret else text
            return hide_passwords(text, urls)

        try:
            wanted_params = _checked(params)
        except SendGridError as exc:
            module.fail_json(msg=hidden(str(exc)))
        account = account_from_module(module)
        try:
            webhooks, limit = read_list(account)
            urls += [url for hook in webhooks for url in (hook["url"], hook["oauth_token_url"])]
            _no_log(module, urls)
            current = find(webhooks, wanted_params["friendly_name"],
                           wanted_params["url"] if wanted_params["friendly_name"] is None else None)
            _guard_url(webhooks, current, wanted_params)
            if current is None and wanted_params["state"] == "present" and limit is not None \
                    and len(webhooks) >= limit:
                # SendGrid would refuse the POST: say so in check mode too, and before the write
                raise SendGridError("The account has %d event webhooks, the most SendGrid allows it (max_allowed): "
                                    "delete one before creating another. Nothing was changed." % len(webhooks))
            after, changed = self._plan_and_write(account, module.check_mode, current, wanted_params, secret)
        except SendGridError as exc:
            module.fail_json(msg=hidden(str(exc)), status=exc.status)
        result = dict(changed=changed, webhook=shown(after))
        if module._diff:
            result["diff"] = dict(before=dict(webhook=shown(current)), after=dict(webhook=shown(after)))
        module.exit_json(**result)

    @staticmethod
    def _plan_and_write(account, check_mode: bool, current, params: dict, secret) -> tuple:
        """(the webhook after the task, whether it changed): the writes that make it so, none in check mode."""
        if params["state"] == "absent":
            if current is not None and not check_mode:
                account.request("DELETE", _one_path(current["id"]), DELETE)
            return None, current is not None
        wanted = desired_state(current, params)
        if current is None:
            if wanted["url"] is None:
                raise SendGridError("No event webhook is named %r: give %s to create it."
                                    % (params["friendly_name"], option_name("url")))
            if wanted["oauth_client_id"] and secret is None:
                raise SendGridError("Creating an event webhook with OAuth needs %s."
                                    % option_name("oauth_client_secret"))
            if not check_mode:
                answer = account.request("POST", PATH, CREATE, body=create_body(wanted, secret))
                if not isinstance(answer, dict) or not isinstance(answer.get("id"), str) or not answer["id"]:
                    raise SendGridError("SendGrid answered the creation of the event webhook at %s without an id: %r. "
                                        "It may exist now: run the task again." % (masked(wanted["url"]), answer))
                wanted["id"] = answer["id"]
                if wanted["signed"]:
                    wanted["public_key"] = sign(account, wanted["id"], True)
            return wanted, True
        send_secret = params["update_secret"] == "always" and secret is not None
        body = update_body(current, wanted, secret, send_secret)
        if body is not None and body.get("oauth_client_id") and "oauth_client_secret" not in body \
                and not current["oauth_client_id"]:
            raise SendGridError("Configuring OAuth on the event webhook %s needs %s."
                                % (label(current), option_name("oauth_client_secret")))
        if body is not None and body.get("oauth_client_id") and "oauth_client_secret" not in body:
            # SendGrid would keep the old secret with the new client id or token URL: a pair that cannot work
            changed_names = [option_name(name) for name in ("oauth_client_id", "oauth_token_url")
                             if wanted[name] != current[name]]
            raise SendGridError("Changing %s of the event webhook %s needs %s: SendGrid would pair the secret it keeps "
                                "with the new value. Nothing was changed."
                                % (" and ".join(changed_names), label(current), option_name("oauth_client_secret")))
        sign_change = wanted["signed"] != current["signed"]
        if not check_mode:
            if body is not None:
                account.request("PATCH", _one_path(current["id"]), UPDATE, body=body)
            if sign_change:
                wanted["public_key"] = sign(account, current["id"], wanted["signed"])
        return wanted, body is not None or sign_change

    def run_info_module(self) -> None:
        """The whole of sendgrid_event_webhook_info: every webhook, and the audit."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(),
                                                    **{option.name: option.argument_spec() for option in AUDIT_OPTIONS}),
                                 supports_check_mode=True)
        params = module.params
        try:
            check_hosts(params["allowed_hosts"], "allowed_hosts")
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        account = account_from_module(module)
        try:
            webhooks = read_webhooks(account)
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status)
        _no_log(module, [url for hook in webhooks for url in (hook["url"], hook["oauth_token_url"])])
        flagged = audit(webhooks, params["require_https"], params["require_signed"], params["allowed_hosts"])
        # msg names every flagged webhook and why, so that a failed_when on flagged says more than "Unknown error"
        module.exit_json(changed=False, webhooks=[shown(hook) for hook in webhooks], flagged=flagged,
                         msg=audit_message(webhooks, flagged))


def _no_log(module, urls) -> None:
    """The URLs' basic-auth passwords as no_log values, so that Ansible censors them wherever they would show (the
    module masks them itself too)."""
    for url in urls:
        module.no_log_values.update(url_passwords(url))


def _guard_url(webhooks: list, current, params: dict) -> None:
    """SendGrid keeps one webhook per URL: refuse, before any write, to create or move one onto another's URL (the
    API would refuse it too, without saying which webhook has the URL or what to do)."""
    if params["state"] == "absent" or params["url"] is None:
        return
    other = next((hook for hook in webhooks if same_url(hook["url"], params["url"]) and hook is not current), None)
    if other is not None:
        how = ("by its name (%s: %s)" % (option_name("friendly_name"), other["friendly_name"])
               if other["friendly_name"] else "by its URL alone (leave %s out)" % option_name("friendly_name"))
        raise SendGridError("The event webhook %s already posts to %s, and SendGrid keeps one webhook per URL: manage "
                            "it %s, or give another URL. Nothing was changed." % (label(other), masked(params["url"]), how))


def _checked(params: dict) -> dict:
    """The module's parameters checked before any request: names, URLs, events, OAuth, what identifies the webhook."""
    checked = dict(params)
    checked["friendly_name"] = check_name(params["friendly_name"], "friendly_name")
    if params["url"] is not None:
        # deleting an http webhook by its URL is the fix, not the risk
        checked["url"] = check_url(params["url"], "url", params["allow_http"] or params["state"] == "absent")
    checked["events"] = check_events(params["events"], "events")
    if checked["friendly_name"] is None and checked["url"] is None:
        raise SendGridError("Give %s or %s: they identify the event webhook."
                            % (option_name("friendly_name"), option_name("url")))
    check_oauth(params)
    if params["update_secret"] == "always" and params["oauth_client_secret"] is None:
        raise SendGridError("%s: always needs %s." % (option_name("update_secret"), option_name("oauth_client_secret")))
    return checked


FAMILY = EventWebhooksFamily()


def run_info_module() -> None:
    FAMILY.run_info_module()
