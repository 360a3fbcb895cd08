"""API keys (tsg_api_keys_v3), read only: the keys of an account, with their names, ids and scopes.

    GET     /v3/api_keys?limit=N          api_keys.read
    GET     /v3/api_keys/{api_key_id}     api_keys.read

Each account (parent, subuser, customer account) has its own keys; none is planted on a new one.  The parent's are, first, the keys the server
was started with (--key, "keys" of an accounts file: the keys requests authenticate with), listed in the order
given as {"name": "start key N", "api_key_id": "start-key-N"} with their scopes, then any planted on it.  Keys
planted on an account (set_state(account, [keys], setting="api_keys"), PUT /__control__/state with "setting":
"api_keys", or "api_keys": [keys] in an account's "state" of the accounts file) are listed only: they have no
secret and authenticate nothing.  A planted key is {"name": str, "scopes": [str], "api_key_id": str?}, nothing
else; without an id it gets "key-N" from a counter never reused; ids are unique across the server.

GET /v3/api_keys answers {"result": [{"name", "api_key_id"}]} (names and ids only, as the spec's ApiKeyResponse),
at most limit of them (an integer >= 1; the spec documents no default and no offset: default all).  GET of one key
answers its {"name", "api_key_id", "scopes"}: wrapped as {"result": [key]} (the spec's schema for this operation,
the default) or as the bare object (the shape of the spec's examples of the other single-key answers), as the
runtime setting api_key_answer ("result" or "object"; --api-key-answer) says.  An id that is not one of the
account's keys is a 404.  No answer ever holds a key's secret: the API gives it only when a key is created.
"""

import re

from .common import PARENT, Answer, Family, Route, Setting, error, invalid, query_integer

KEYS_KEY = "api_keys"
KEYS_PATH = "/v3/" + KEYS_KEY
KEY_PATH = KEYS_PATH + "/{api_key_id}"
SCOPE_READ = "api_keys.read"

# The runtime setting choosing the single-key answer's shape, and its values.
ANSWER_SETTING = "api_key_answer"
ANSWER_SHAPES = ("result", "object")
# The name of the planted key id counter (Backend.next_id).
KEY_IDS = "api_keys"
_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
PLANTED_FIELDS = ("name", "api_key_id", "scopes")


def start_keys(backend):
    """The parent's keys the server was started with, as the API lists them (never the secret itself)."""
    return [{"name": f"start key {number}", "api_key_id": f"start-key-{number}", "scopes": sorted(scopes)}
            for number, scopes in enumerate(backend.config.keys.values(), 1)]


def account_keys(backend, account):
    """Every key of an account: the start keys for the parent, then those planted on it."""
    return (start_keys(backend) if account == PARENT else []) + backend.get_setting(account, KEYS_KEY)


def list_keys(request):
    """GET: {"result": [{"name", "api_key_id"}]}, at most limit (>= 1, default all)."""
    errors = []
    limit = query_integer(request.params(), "limit", 1, errors)
    if errors:
        return invalid(errors)
    keys = account_keys(request.backend, request.account)
    return Answer(200, {"result": [{"name": key["name"], "api_key_id": key["api_key_id"]} for key in keys[:limit]]})


def get_key(request):
    """GET of one key: its name, id and scopes, wrapped in a result list or bare (api_key_answer); 404 when unknown."""
    key_id = request.path_params["api_key_id"]
    key = next((key for key in account_keys(request.backend, request.account) if key["api_key_id"] == key_id), None)
    if key is None:
        return error(404, f"no API key with id {key_id} on this account", field="api_key_id")
    shown = {"name": key["name"], "api_key_id": key["api_key_id"], "scopes": list(key["scopes"])}
    return Answer(200, {"result": [shown]} if request.backend.setting(ANSWER_SETTING) == "result" else shown)


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
    taken = {key["api_key_id"] for key in start_keys(backend)}
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
    Route(KEY_PATH, "GET", SCOPE_READ, get_key),
], [KEYS])
