"""API keys (tsg_api_keys_v3): the keys of an account, with their names, ids and scopes; created keys authenticate.

    GET     /v3/api_keys?limit=N          api_keys.read
    POST    /v3/api_keys                  api_keys.create
    GET     /v3/api_keys/{api_key_id}     api_keys.read
    PUT     /v3/api_keys/{api_key_id}     api_keys.update
    PATCH   /v3/api_keys/{api_key_id}     api_keys.update
    DELETE  /v3/api_keys/{api_key_id}     api_keys.delete

Each account (parent, subuser, customer account) has its own keys.  The parent's are, first, the keys the server
was started with (--key, "keys" of an accounts file), listed in the order given as {"name": "start key N",
"api_key_id": ID} with their scopes, then the others.  ID is what SendGrid's keys say: a key of the form
SG.<id>.<secret> (the spec's example: SG.xxxxxxxx.yyyyyyyy has the id xxxxxxxx) has that id, when no earlier start
key took it; any other start key has "start-key-N".  A key is planted on an account (set_state(account,
[keys], setting="api_keys"), PUT /__control__/state with "setting": "api_keys", or "api_keys": [keys] in an
account's "state" of the accounts file) as {"name": str, "scopes": [str], "api_key_id": str?}, nothing else: it is
listed only, it has no secret and authenticates nothing; without an id it gets "key-N" from a counter never
reused; ids are unique across the server (and never those of a created key, even a deleted one).  replace drops the
account's planted and created keys, never the start keys.

GET /v3/api_keys answers {"result": [{"name", "api_key_id"}]} (names and ids only, as the spec's ApiKeyResponse),
at most limit of them (an integer >= 1; the spec documents no default and no offset: default all).  GET of one key
answers its {"name", "api_key_id", "scopes"}: wrapped as {"result": [key]} (the spec's schema for this operation,
the default) or as the bare object (the shape of the spec's examples of the other single-key answers), as the
runtime setting api_key_answer ("result" or "object"; --api-key-answer) says.  An id that is not one of the
account's keys is a 404 (GET, PUT, PATCH, DELETE).

POST takes {"name": non-empty string, "scopes": [scope names]?}: without scopes the key has "Full Access", here
every scope this server serves (ALL_SCOPES); scopes are names of dotted lower-case words, kept sorted, each once.
It answers 201 {"api_key", "api_key_id", "name", "scopes"}: api_key is the SECRET, "SG.<api_key_id>.<43 random
characters>" (69 characters, as SendGrid's; the id is 22 random URL-safe characters), given in this answer only:
no GET, state() or log shows it, and the server keeps only its SHA-256 digest.  An account holds at most 100 keys
(start keys included): the POST of the 101st is a 403 and creates nothing.  PUT takes {"name", "scopes"} (both
required, scopes non-empty, as the spec's description says) and replaces both; PATCH takes {"name"} only (any other
field is a 400 naming it); both answer 200 {"api_key_id", "name"} (PUT with "scopes").  A not_applied fault makes a
valid PATCH answer the stored, unchanged key.  DELETE answers 204 without a body.  Every write applies to start
keys too (a PUT changes what a start key may do; a DELETE revokes it).

AUTHENTICATION (authenticate(), used by the core for every API request): the bearer key's SHA-256 digest names a
start key or a created key, which authenticates while it is on its account's list, with the scopes listed there
now: a PUT changes them at once, a DELETE revokes the key (the next request with it is a 401: a calling key that
deletes itself locks itself out), a subuser's removal revokes its keys, reset() brings back the start keys and
forgets every created one.  A key belongs to the account it was created on: without on-behalf-of its requests
target that account; only a parent's key may send on-behalf-of (core: resolve_account).
"""

import base64
import hashlib
import re
import secrets

from .common import (PARENT, Answer, Family, Route, Setting, error, invalid, json_object, no_content, query_integer,
                     scope_list, unknown_fields)

KEYS_KEY = "api_keys"
KEYS_PATH = "/v3/" + KEYS_KEY
KEY_PATH = KEYS_PATH + "/{api_key_id}"
SCOPE_READ = "api_keys.read"
SCOPE_CREATE = "api_keys.create"
SCOPE_UPDATE = "api_keys.update"
SCOPE_DELETE = "api_keys.delete"

# The most keys one account may hold (the spec: "If the number of maximum keys, 100, is reached, a 403").
MAX_KEYS = 100
# The runtime setting choosing the single-key answer's shape, and its values.
ANSWER_SETTING = "api_key_answer"
ANSWER_SHAPES = ("result", "object")
# The name of the planted key id counter (Backend.next_id).
KEY_IDS = "api_keys"
_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
PLANTED_FIELDS = ("name", "api_key_id", "scopes")
SECRET_PREFIX = "SG."


def digest(secret):
    """What the server keeps of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _random_text(size):
    """size random URL-safe characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).decode("ascii").rstrip("=")[:size]


# ----------------------------------------------------------------------------- the key ring (private state)

def new_keyring(backend):
    """Family.private: the start keys as the API lists them and {secret digest: (account, api_key_id)} of every key
    that authenticates (the start keys' and those created since the last reset)."""
    start, digests = [], {}
    for number, (secret, scopes) in enumerate(backend.config.keys.items(), 1):
        key_id = _own_id(secret, {key["api_key_id"] for key in start}) or f"start-key-{number}"
        start.append({"name": f"start key {number}", "api_key_id": key_id, "scopes": sorted(scopes)})
        digests[digest(secret)] = (PARENT, key_id)
    return {"start": start, "digests": digests}


def _own_id(secret, taken):
    """The id a key of the form SG.<id>.<secret> names (what a client may read off its own key), None otherwise."""
    parts = secret.split(".")
    if len(parts) == 3 and parts[0] == "SG" and parts[2] and _ID_RE.fullmatch(parts[1]) and parts[1] not in taken:
        return parts[1]
    return None


def _ring(backend):
    return backend.private[KEYS_KEY]


def start_keys(backend):
    """The parent's start keys still there, as the API lists them (never the secret itself)."""
    with backend.lock:
        return [dict(key, scopes=list(key["scopes"])) for key in _ring(backend)["start"]]


def account_keys(backend, account):
    """Every key of an account: the start keys for the parent, then those planted on it or created there."""
    with backend.lock:
        return (start_keys(backend) if account == PARENT else []) + backend.get_setting(account, KEYS_KEY)


def authenticate(backend, secret):
    """(account, frozenset of scopes) of the key with this secret while it is on its account's list; else None."""
    if not secret:
        return None
    with backend.lock:
        owner = _ring(backend)["digests"].get(digest(secret))
        if owner is None or not backend.known(owner[0]):
            return None
        key = next((key for key in account_keys(backend, owner[0]) if key["api_key_id"] == owner[1]), None)
        return None if key is None else (owner[0], frozenset(key["scopes"]))


def _change_key(backend, account, key_id, change):
    """Apply change(key) -> new key (None: remove it) to one of the account's keys under the lock; return the key as it
    was, None when the account has no key of that id."""
    with backend.lock:
        ring = _ring(backend)
        lists = [ring["start"]] if account == PARENT else []
        # the setting's own list, written back below
        own = backend.store[KEYS_KEY][account]
        for keys in lists + [own]:
            for index, key in enumerate(keys):
                if key["api_key_id"] == key_id:
                    before = dict(key, scopes=list(key["scopes"]))
                    new = change(dict(before))
                    if new is None:
                        del keys[index]
                    else:
                        keys[index] = new
                    return before
        return None


# ----------------------------------------------------------------------------- handlers

def list_keys(request):
    """GET: {"result": [{"name", "api_key_id"}]}, at most limit (>= 1, default all)."""
    errors = []
    limit = query_integer(request.params(), "limit", 1, errors)
    if errors:
        return invalid(errors)
    keys = account_keys(request.backend, request.account)
    return Answer(200, {"result": [{"name": key["name"], "api_key_id": key["api_key_id"]} for key in keys[:limit]]})


def _not_found(request):
    return error(404, f"no API key with id {request.path_params['api_key_id']} on this account", field="api_key_id")


def get_key(request):
    """GET of one key: its name, id and scopes, wrapped in a result list or bare (api_key_answer); 404 when unknown."""
    key_id = request.path_params["api_key_id"]
    key = next((key for key in account_keys(request.backend, request.account) if key["api_key_id"] == key_id), None)
    if key is None:
        return _not_found(request)
    shown = {"name": key["name"], "api_key_id": key["api_key_id"], "scopes": list(key["scopes"])}
    return Answer(200, {"result": [shown]} if request.backend.setting(ANSWER_SETTING) == "result" else shown)


def _check_body(doc, fields, scopes_required):
    """Errors of a POST (fields name, scopes), PUT (name, scopes required) or PATCH (name) body."""
    errors = unknown_fields(doc, fields)
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append({"field": "name", "message": "name is required: a non-empty string"})
    if "scopes" in fields:
        if "scopes" not in doc:
            if scopes_required:
                errors.append({"field": "scopes", "message": "scopes is required: an array of at least one scope"})
        else:
            problem = scope_list(doc["scopes"])
            if problem is None and scopes_required and not doc["scopes"]:
                problem = "must hold at least one scope"
            if problem:
                errors.append({"field": "scopes", "message": f"scopes {problem}"})
    return errors


def create_key(request):
    """POST: a new key on the account; 201 with its secret (this answer only), 403 beyond MAX_KEYS."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _check_body(doc, ("name", "scopes"), False)
    if errors:
        return invalid(errors)
    backend = request.backend
    scopes = sorted(set(doc["scopes"] if "scopes" in doc else backend.all_scopes))
    with backend.lock:
        if len(account_keys(backend, request.account)) >= MAX_KEYS:
            return error(403, f"cannot create more API keys: this account holds the maximum of {MAX_KEYS}")
        ring = _ring(backend)
        key_id = _random_text(22)
        secret = f"{SECRET_PREFIX}{key_id}.{_random_text(43)}"
        key = {"name": doc["name"], "api_key_id": key_id, "scopes": scopes}
        backend.store[KEYS_KEY][request.account].append(dict(key, scopes=list(scopes)))
        ring["digests"][digest(secret)] = (request.account, key_id)
    return Answer(201, {"api_key": secret, **key})


def replace_key(request):
    """PUT: new name and scopes (both required); 200 {"api_key_id", "name", "scopes"}."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _check_body(doc, ("name", "scopes"), True)
    if errors:
        return invalid(errors)
    scopes = sorted(set(doc["scopes"]))
    key_id = request.path_params["api_key_id"]
    before = _change_key(request.backend, request.account, key_id, lambda key: dict(key, name=doc["name"], scopes=scopes))
    if before is None:
        return _not_found(request)
    return Answer(200, {"api_key_id": key_id, "name": doc["name"], "scopes": scopes})


def rename_key(request):
    """PATCH: a new name only; 200 {"api_key_id", "name"} (the stored one when a not_applied fault fires)."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _check_body(doc, ("name",), False)
    if errors:
        return invalid(errors)
    key_id = request.path_params["api_key_id"]
    with request.backend.lock:
        # looked up before the fault: a PATCH of an unknown key does not use it up
        if not any(key["api_key_id"] == key_id for key in account_keys(request.backend, request.account)):
            return _not_found(request)
        if request.not_applied():
            before = _change_key(request.backend, request.account, key_id, lambda key: key)
            return Answer(200, {"api_key_id": key_id, "name": before["name"]})
        _change_key(request.backend, request.account, key_id, lambda key: dict(key, name=doc["name"]))
    return Answer(200, {"api_key_id": key_id, "name": doc["name"]})


def delete_key(request):
    """DELETE: revoke the key; 204, 404 when the account has none of that id."""
    before = _change_key(request.backend, request.account, request.path_params["api_key_id"], lambda key: None)
    return _not_found(request) if before is None else no_content()


# ----------------------------------------------------------------------------- state put in place by tests

def _planted(item, backend, taken):
    if not isinstance(item, dict) or set(item) - set(PLANTED_FIELDS) or not isinstance(item.get("name"), str):
        raise ValueError(f'{KEYS_KEY}: {item!r} is not a key {{"name": "...", "scopes": [...], "api_key_id": "..."?}} '
                         "(no other field: a planted key has no secret)")
    scopes = item.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise ValueError(f"{KEYS_KEY}: the scopes of key {item['name']!r} must be a list of strings")
    key_id = item.get("api_key_id")
    if key_id is None:
        key_id = f"key-{backend.next_id(KEY_IDS)}"
    elif not isinstance(key_id, str) or not _ID_RE.fullmatch(key_id) or key_id in taken:
        raise ValueError(f"{KEYS_KEY}: api_key_id {key_id!r} is not an id (letters, digits, _ . -) unused by other keys")
    return {"name": item["name"], "api_key_id": key_id, "scopes": list(scopes)}


def load_keys(backend, account, value, replace):
    """Setting.load: an account's planted keys from [keys] (see the module docstring), added or replacing; return them."""
    if not isinstance(value, list):
        raise ValueError(f"{KEYS_KEY} must be a list of keys {{\"name\", \"scopes\", \"api_key_id\"?}}")
    keys = [] if replace else backend.get_setting(account, KEYS_KEY)
    # a created key's id stays taken after it is gone: a planted key must never revive its secret
    taken = {key_id for dummy, key_id in _ring(backend)["digests"].values()}
    taken.update(key["api_key_id"] for key in start_keys(backend))
    taken.update(key["api_key_id"] for other, listed in backend.state(KEYS_KEY).items() if other != account
                 for key in listed)
    taken.update(key["api_key_id"] for key in keys)
    for item in value:
        key = _planted(item, backend, taken)
        taken.add(key["api_key_id"])
        keys.append(key)
    return keys


KEYS = Setting(KEYS_KEY, [], None, title="API keys", load=load_keys)

FAMILY = Family("api_keys", [
    Route(KEYS_PATH, "GET", SCOPE_READ, list_keys),
    Route(KEYS_PATH, "POST", SCOPE_CREATE, create_key),
    Route(KEY_PATH, "GET", SCOPE_READ, get_key),
    Route(KEY_PATH, "PUT", SCOPE_UPDATE, replace_key),
    Route(KEY_PATH, "PATCH", SCOPE_UPDATE, rename_key),
    Route(KEY_PATH, "DELETE", SCOPE_DELETE, delete_key),
], [KEYS], private=new_keyring)
