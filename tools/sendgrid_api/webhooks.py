"""Event webhooks (tsg_webhooks_v3, the Event Webhook part): several webhooks per account, by id; signing; OAuth.

    POST    /v3/user/webhooks/event/settings                 user.webhooks.event.settings.update
    GET     /v3/user/webhooks/event/settings/all?include=    user.webhooks.event.settings.read
    GET     /v3/user/webhooks/event/settings/{id}?include=   user.webhooks.event.settings.read
    PATCH   /v3/user/webhooks/event/settings/{id}?include=   user.webhooks.event.settings.update
    DELETE  /v3/user/webhooks/event/settings/{id}            user.webhooks.event.settings.update
    GET     /v3/user/webhooks/event/settings/signed/{id}     user.webhooks.event.settings.read
    PATCH   /v3/user/webhooks/event/settings/signed/{id}     user.webhooks.event.settings.update
    POST    /v3/user/webhooks/event/test                     user.webhooks.event.test.create
    GET     /v3/user/webhooks/event/settings?include=        user.webhooks.event.settings.read    (no id: the oldest)
    PATCH   /v3/user/webhooks/event/settings?include=        user.webhooks.event.settings.update  (no id: the oldest)
    GET     /v3/user/webhooks/event/settings/signed          user.webhooks.event.settings.read    (no id: the oldest)
    PATCH   /v3/user/webhooks/event/settings/signed          user.webhooks.event.settings.update  (no id: the oldest)

(The spec names no scope.  SendGrid's API key permissions for the Event Webhook are user.webhooks.event.settings.read
and .update and user.webhooks.event.test.create, .read and .update; a full-access key holds no settings.create or
settings.delete, so creating and deleting a webhook need settings.update, and sending a test needs test.create.)
The routes without an id are what the spec's descriptions say ("If you do not pass a webhook ID ... your oldest
webhook by created_date") for GET and PATCH of a webhook and of its signing; DELETE needs an id (the spec: it
"will return an error if you do not pass it an ID": a 405 here).  /all and /signed are those routes, never an id.
Inbound parse and the webhook security policies of the same spec are not served.

A WEBHOOK is {"enabled", "url", "account_status_change", the events "group_resubscribe", "delivered",
"group_unsubscribe", "spam_report", "bounce", "deferred", "unsubscribe", "processed", "open", "click", "dropped",
"friendly_name" (null unless given), "id" (a UUID string), "created_date", "updated_date" (ISO 8601 UTC,
"2023-01-01T12:00:00Z"), "oauth_client_id", "oauth_token_url", "public_key"}, answered in that order with these
parts left out as the spec says:

    account_status_change      only with ?include=account_status_change (the spec's include parameter)
    oauth_client_id, _token_url only for a webhook with OAuth configured
    public_key                 only for a webhook with signature verification on, and only where the spec's schema
                               has it: the list (EventWebhookSignedResponse) and GET of one
    created_date, updated_date only where the spec's schema has them: POST, PATCH and the list, not GET of one
                               (EventWebhookNoDatesResponse)

oauth_client_secret is WRITE-ONLY: accepted, never answered, never in the request log ("********", Route masked);
the state keeps only its SHA-256 ("oauth_client_secret_sha256", so tests can check what was sent).

GET .../settings/all answers {"max_allowed": 5, "webhooks": [webhooks, oldest first]}; an account without any
answers {"max_allowed": 5, "webhooks": [{}]}: the spec's example "Zero Webhooks", a list holding ONE EMPTY OBJECT
(a client must skip items without an id).  GET of one answers the webhook; an id the account does not have is a 404
{"errors": [{"field": "id", "message": "Invalid id provided."}]} (the spec's message; PATCH, DELETE, signed too),
as is a route without an id on an account without webhooks.

POST takes the spec's EventWebhookRequest: "url" (required: an http or https URL with a host), "enabled" and the
event booleans (false when left out), "friendly_name", "oauth_client_id", "oauth_client_secret", "oauth_token_url"
(strings, or null for none), and "account_status_change" (a boolean: not in the spec's request schema, but its
include parameter says the update operation enables it).  It answers 201 with the webhook.  OAuth: oauth_client_id
and oauth_token_url come together (each "you must also include" the other), oauth_client_secret only with both, and
a new OAuth configuration needs all three; else a 400 naming the field.  The 400s of the spec: a URL another
webhook of the account has ({"field": "url", "id": <that webhook's id>, "message": "Webhook at 'URL' already exists.
Please provide a unique URL.", "url": URL}), the sixth webhook ("You have reached the maximum number of webhooks per
your current billing plan."), a bad URL ("'URL' is not a valid url").

PATCH takes the same body, "url" REQUIRED (the spec's schema: EventWebhookRequest), every other field optional:
a field left out (or null) keeps its value.  OAuth is changed by oauth_client_id and oauth_token_url together
(the kept secret stays unless a new one is given; with no secret kept one is needed) and removed by "" for each
(the spec: "To disable OAuth, pass an empty string ... for each of the OAuth properties"), the secret with them.
It answers 200 with the webhook, updated_date now.  A not_applied fault answers the stored, unchanged webhook.
DELETE answers 204.

SIGNING: PATCH .../signed/{id} {"enabled": boolean, required} turns signature verification on or off and answers
{"id", "public_key"}: the webhook's public key (a base64 DER P-256 public key, made once per webhook and kept) when
on, "" when off (the spec).  GET .../signed/{id} answers the same for the webhook as it is.  Without an id both
work on the oldest webhook and answer "id": "" (the spec's example "No ID").

TEST (POST .../event/test) takes {"url" (required), "id", "oauth_client_id", "oauth_client_secret",
"oauth_token_url"} and answers 204 (this server sends nothing anywhere).  An id names one of the account's webhooks
(404 otherwise); OAuth as for POST, but oauth_client_id and oauth_token_url without a secret need the webhook of
that id to keep one (the spec: "we will pull the secret for you").

STATE PUT IN PLACE BY TESTS (set_state, PUT /__control__/state, "state" of the accounts file), with
setting="user/webhooks/event/settings": [{"url", the event booleans?, "enabled"?, "friendly_name"?, "id"?,
"account_status_change"?, "oauth_client_id"?, "oauth_token_url"?, "oauth_client_secret"? (kept as its digest),
"signed"?, "created_date"? (null: a legacy webhook, the oldest), "updated_date"?}] adds webhooks to the account
(replace drops its others first); the limit of five and the URL uniqueness are not enforced there.
"""

import base64
import datetime
import hashlib
import re
import secrets
import uuid
from urllib.parse import urlsplit

from .common import Answer, Family, Route, Setting, error, invalid, json_object, no_content, unknown_fields

WEBHOOKS_KEY = "user/webhooks/event/settings"
SETTINGS_PATH = "/v3/user/webhooks/event/settings"
ALL_PATH = SETTINGS_PATH + "/all"
WEBHOOK_PATH = SETTINGS_PATH + "/{id}"
SIGNED_PATH = SETTINGS_PATH + "/signed"
SIGNED_ONE_PATH = SIGNED_PATH + "/{id}"
TEST_PATH = "/v3/user/webhooks/event/test"

SCOPE_READ = "user.webhooks.event.settings.read"
SCOPE_UPDATE = "user.webhooks.event.settings.update"
SCOPE_TEST = "user.webhooks.event.test.create"

# The most webhooks one account may hold (the spec's examples: "max_allowed": 5).
MAX_WEBHOOKS = 5
EVENTS = ("group_resubscribe", "delivered", "group_unsubscribe", "spam_report", "bounce", "deferred", "unsubscribe",
          "processed", "open", "click", "dropped")
OAUTH_FIELDS = ("oauth_client_id", "oauth_client_secret", "oauth_token_url")
BODY_FIELDS = ("enabled", "url", "account_status_change") + EVENTS + ("friendly_name",) + OAUTH_FIELDS
TEST_FIELDS = ("id", "url") + OAUTH_FIELDS
PLANTED_FIELDS = BODY_FIELDS + ("id", "signed", "created_date", "updated_date")
# The body fields the request log never shows.
SECRET_FIELDS = ("oauth_client_secret",)
INCLUDE_STATUS = "account_status_change"
NOT_FOUND = "Invalid id provided."
MAX_REACHED = "You have reached the maximum number of webhooks per your current billing plan."
# The DER header of a P-256 public key (SubjectPublicKeyInfo), before the 65 bytes of its point.
_P256_HEADER = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


# ----------------------------------------------------------------------------- webhooks

def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(secret):
    """What the state keeps of an OAuth client secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _public_key():
    return base64.b64encode(_P256_HEADER + b"\x04" + secrets.token_bytes(64)).decode("ascii")


def is_url(value):
    """An http or https URL with a host and no spaces."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _shown(request, webhook, dates=True, public_key=False):
    """A webhook as a route answers it (see the module docstring)."""
    shown = {"enabled": webhook["enabled"], "url": webhook["url"]}
    if request.params().get("include") == INCLUDE_STATUS:
        shown[INCLUDE_STATUS] = webhook[INCLUDE_STATUS]
    shown.update({event: webhook[event] for event in EVENTS})
    shown.update(friendly_name=webhook["friendly_name"], id=webhook["id"])
    if dates:
        shown.update(created_date=webhook["created_date"], updated_date=webhook["updated_date"])
    if webhook["oauth_client_id"]:
        shown.update(oauth_client_id=webhook["oauth_client_id"], oauth_token_url=webhook["oauth_token_url"])
    if public_key and webhook["signed"]:
        shown["public_key"] = webhook["public_key"]
    return shown


def _webhooks(request):
    return request.backend.store[WEBHOOKS_KEY][request.account]


def _oldest_first(webhooks):
    """Oldest by created_date (null, a legacy webhook, first), creation order within one second."""
    order = {id(webhook): index for index, webhook in enumerate(webhooks)}
    return sorted(webhooks, key=lambda w: (w["created_date"] is not None, w["created_date"] or "", order[id(w)]))


def _find(request):
    """The account's stored webhook of the path's id, or its oldest when the route has none; or a 404 (under the lock)."""
    webhooks = _webhooks(request)
    if "id" not in request.path_params:
        found = _oldest_first(webhooks)[0] if webhooks else None
    else:
        found = next((webhook for webhook in webhooks if webhook["id"] == request.path_params["id"]), None)
    return (found, None) if found else (None, error(404, NOT_FOUND, field="id"))


# ----------------------------------------------------------------------------- bodies

def _body_errors(doc, fields):
    """Type and shape errors of a POST, PATCH or test body ("url" required in all three)."""
    errors = unknown_fields(doc, fields)
    if "url" not in doc:
        errors.append({"field": "url", "message": "url is required: the URL the webhook posts events to"})
    elif not is_url(doc["url"]):
        errors.append({"field": "url", "message": f"'{doc['url']}' is not a valid url"})
    for name in ("enabled", "account_status_change") + EVENTS:
        if name in fields and doc.get(name) is not None and not isinstance(doc[name], bool):
            errors.append({"field": name, "message": f"{name} must be a boolean"})
    for name in ("id", "friendly_name") + OAUTH_FIELDS:
        if name in fields and doc.get(name) is not None and not isinstance(doc[name], str):
            errors.append({"field": name, "message": f"{name} must be a string or null"})
    token_url = doc.get("oauth_token_url")
    if isinstance(token_url, str) and token_url and not is_url(token_url):
        errors.append({"field": "oauth_token_url", "message": f"'{token_url}' is not a valid url"})
    return errors


def _oauth_errors(doc, secret_kept, new):
    """Errors of the OAuth fields of a body: id and token URL together, the secret only with both; a new
    configuration (new: POST) needs the secret, a changed one a secret given or kept."""
    given = {name: doc.get(name) for name in OAUTH_FIELDS if doc.get(name) is not None}
    if not given:
        return []
    client_id, token_url, secret = (given.get(name, "") for name in ("oauth_client_id", "oauth_token_url",
                                                                     "oauth_client_secret"))
    if not client_id and not token_url:
        if secret:
            return [{"field": "oauth_client_secret", "message": "oauth_client_secret needs oauth_client_id and "
                                                                "oauth_token_url"}]
        # "" for each: OAuth removed
        return [] if "oauth_client_id" in given and "oauth_token_url" in given else [
            {"field": "oauth_client_id", "message": "to remove OAuth, give oauth_client_id and oauth_token_url as \"\""}]
    if not client_id or not token_url:
        missing = "oauth_token_url" if client_id else "oauth_client_id"
        return [{"field": missing, "message": f"{missing} is required with "
                                              f"{'oauth_client_id' if client_id else 'oauth_token_url'}"}]
    if not secret and (new or not secret_kept):
        return [{"field": "oauth_client_secret", "message": "oauth_client_secret is required: no secret is kept for "
                                                            "this webhook"}]
    return []


def _duplicate(request, url, webhook=None):
    """The 400 of a URL another webhook of the account has (the spec's "Exists"), None otherwise."""
    other = next((w for w in _webhooks(request) if w["url"] == url and w is not webhook), None)
    if other is None:
        return None
    return Answer(400, {"errors": [{"field": "url", "id": other["id"], "url": url,
                                    "message": f"Webhook at '{url}' already exists. Please provide a unique URL."}]})


def _apply(webhook, doc):
    """Store a checked body's fields in a webhook: null and left-out fields keep their value."""
    for name in ("enabled", "url", "account_status_change", "friendly_name") + EVENTS:
        if doc.get(name) is not None:
            webhook[name] = doc[name]
    if doc.get("oauth_client_id") is not None:
        if doc["oauth_client_id"]:
            webhook.update(oauth_client_id=doc["oauth_client_id"], oauth_token_url=doc["oauth_token_url"])
            if doc.get("oauth_client_secret"):
                webhook["oauth_client_secret_sha256"] = digest(doc["oauth_client_secret"])
        else:
            webhook.update(oauth_client_id=None, oauth_token_url=None, oauth_client_secret_sha256=None)


def new_webhook(webhook_id=None):
    """A webhook with every event off and nothing configured, created now."""
    now = _now()
    webhook = {"id": webhook_id or str(uuid.uuid4()), "enabled": False, "url": "", INCLUDE_STATUS: False}
    webhook.update(dict.fromkeys(EVENTS, False))
    webhook.update(friendly_name=None, oauth_client_id=None, oauth_token_url=None, oauth_client_secret_sha256=None,
                   signed=False, public_key=None, created_date=now, updated_date=now)
    return webhook


# ----------------------------------------------------------------------------- handlers

def create_webhook(request):
    """POST: a new webhook; 201 with it (no public key: signing is turned on separately)."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _body_errors(doc, BODY_FIELDS) or _oauth_errors(doc, False, True)
    if errors:
        return invalid(errors)
    with request.backend.lock:
        webhooks = _webhooks(request)
        if len(webhooks) >= MAX_WEBHOOKS:
            return error(400, MAX_REACHED)
        duplicate = _duplicate(request, doc["url"])
        if duplicate:
            return duplicate
        webhook = new_webhook()
        _apply(webhook, doc)
        webhooks.append(webhook)
        return Answer(201, _shown(request, webhook))


def list_webhooks(request):
    """GET .../all: {"max_allowed": 5, "webhooks": [...]} ([{}] without any, the spec's example)."""
    with request.backend.lock:
        webhooks = [_shown(request, webhook, public_key=True) for webhook in _oldest_first(_webhooks(request))]
    return Answer(200, {"max_allowed": MAX_WEBHOOKS, "webhooks": webhooks or [{}]})


def get_webhook(request):
    """GET of one webhook (the oldest without an id), without dates; 404 when unknown."""
    with request.backend.lock:
        webhook, problem = _find(request)
        return problem or Answer(200, _shown(request, webhook, dates=False, public_key=True))


def update_webhook(request):
    """PATCH: url required, the rest partial; 200 with the webhook."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _body_errors(doc, BODY_FIELDS)
    if errors:
        return invalid(errors)
    with request.backend.lock:
        webhook, problem = _find(request)
        if problem:
            return problem
        errors = _oauth_errors(doc, bool(webhook["oauth_client_secret_sha256"]), False)
        if errors:
            return invalid(errors)
        duplicate = _duplicate(request, doc["url"], webhook)
        if duplicate:
            return duplicate
        if not request.not_applied():
            _apply(webhook, doc)
            webhook["updated_date"] = _now()
        return Answer(200, _shown(request, webhook))


def delete_webhook(request):
    """DELETE: 204; 404 when unknown."""
    with request.backend.lock:
        webhook, problem = _find(request)
        if problem:
            return problem
        _webhooks(request).remove(webhook)
    return no_content()


def _signing(request, webhook):
    return {"id": request.path_params.get("id", ""), "public_key": webhook["public_key"] if webhook["signed"] else ""}


def get_signing(request):
    """GET .../signed[/{id}]: {"id", "public_key"} ("" when signing is off; "id" "" without one in the path)."""
    with request.backend.lock:
        webhook, problem = _find(request)
        return problem or Answer(200, _signing(request, webhook))


def update_signing(request):
    """PATCH .../signed[/{id}] {"enabled"}: signing on (a key made once) or off; 200 {"id", "public_key"}."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, ("enabled",))
    if not isinstance(doc.get("enabled"), bool):
        errors.append({"field": "enabled", "message": "enabled is required: a boolean"})
    if errors:
        return invalid(errors)
    with request.backend.lock:
        webhook, problem = _find(request)
        if problem:
            return problem
        if not request.not_applied():
            webhook["signed"] = doc["enabled"]
            webhook["public_key"] = webhook["public_key"] or (_public_key() if doc["enabled"] else None)
            webhook["updated_date"] = _now()
        return Answer(200, _signing(request, webhook))


def test_webhook(request):
    """POST .../event/test: the test is "sent" (nothing leaves this server); 204."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _body_errors(doc, TEST_FIELDS)
    if errors:
        return invalid(errors)
    with request.backend.lock:
        webhook = None
        if doc.get("id") is not None:
            webhook = next((w for w in _webhooks(request) if w["id"] == doc["id"]), None)
            if webhook is None:
                return error(404, NOT_FOUND, field="id")
        errors = _oauth_errors(doc, bool(webhook and webhook["oauth_client_secret_sha256"]), False)
    return invalid(errors) if errors else no_content()


# ----------------------------------------------------------------------------- state put in place by tests

_DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def load_webhooks(backend, account, value, replace):
    """Setting.load: an account's webhooks planted from [{"url", ...}] (see the module docstring); return them."""
    if not isinstance(value, list):
        raise ValueError(f'{WEBHOOKS_KEY} must be a list of webhooks {{"url", ...}}')
    webhooks = [] if replace else backend.get_setting(account, WEBHOOKS_KEY)
    for item in value:
        if not isinstance(item, dict) or set(item) - set(PLANTED_FIELDS) or not is_url(item.get("url")):
            raise ValueError(f"{WEBHOOKS_KEY}: {item!r} is not a webhook {{\"url\": an http(s) URL, ...}} (fields: "
                             f"{', '.join(PLANTED_FIELDS)})")
        where = f"{WEBHOOKS_KEY}: webhook {item['url']!r}"
        errors = _body_errors({name: item[name] for name in BODY_FIELDS if name in item}, BODY_FIELDS)
        if errors:
            raise ValueError(f"{where}: {errors[0]['message']}")
        if not isinstance(item.get("signed", False), bool):
            raise ValueError(f"{where}: signed must be a boolean")
        for name in ("created_date", "updated_date"):
            if item.get(name) is not None and not (isinstance(item[name], str) and _DATE_RE.match(item[name])):
                raise ValueError(f"{where}: {name} must be null or an ISO 8601 UTC date such as 2023-01-01T12:00:00Z")
        webhook_id = item.get("id")
        if webhook_id is not None and (not isinstance(webhook_id, str) or not webhook_id or "/" in webhook_id or
                                       any(w["id"] == webhook_id for w in webhooks)):
            raise ValueError(f"{where}: id {webhook_id!r} is not a string unused by the account's other webhooks")
        webhook = new_webhook(webhook_id)
        if "created_date" in item:
            webhook["created_date"] = item["created_date"]
        webhook["updated_date"] = item.get("updated_date") or webhook["updated_date"]
        for name in ("enabled", "url", INCLUDE_STATUS, "friendly_name") + EVENTS:
            if name in item:
                webhook[name] = item[name]
        if item.get("oauth_client_id"):
            webhook.update(oauth_client_id=item["oauth_client_id"], oauth_token_url=item.get("oauth_token_url"))
        if item.get("oauth_client_secret"):
            webhook["oauth_client_secret_sha256"] = digest(item["oauth_client_secret"])
        if item.get("signed"):
            webhook.update(signed=True, public_key=_public_key())
        webhooks.append(webhook)
    return webhooks


WEBHOOKS = Setting(WEBHOOKS_KEY, [], None, title="Event webhooks", load=load_webhooks)

FAMILY = Family("webhooks", [
    Route(ALL_PATH, "GET", SCOPE_READ, list_webhooks),
    Route(SETTINGS_PATH, "GET", SCOPE_READ, get_webhook),
    Route(SETTINGS_PATH, "POST", SCOPE_UPDATE, create_webhook, masked=SECRET_FIELDS),
    Route(SETTINGS_PATH, "PATCH", SCOPE_UPDATE, update_webhook, masked=SECRET_FIELDS),
    Route(SIGNED_PATH, "GET", SCOPE_READ, get_signing),
    Route(SIGNED_PATH, "PATCH", SCOPE_UPDATE, update_signing),
    Route(SIGNED_ONE_PATH, "GET", SCOPE_READ, get_signing),
    Route(SIGNED_ONE_PATH, "PATCH", SCOPE_UPDATE, update_signing),
    Route(WEBHOOK_PATH, "GET", SCOPE_READ, get_webhook),
    Route(WEBHOOK_PATH, "PATCH", SCOPE_UPDATE, update_webhook, masked=SECRET_FIELDS),
    Route(WEBHOOK_PATH, "DELETE", SCOPE_UPDATE, delete_webhook),
    Route(TEST_PATH, "POST", SCOPE_TEST, test_webhook, masked=SECRET_FIELDS),
], [WEBHOOKS])
