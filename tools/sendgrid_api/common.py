"""What the endpoint families of the local SendGrid-compatible API server and its own parts share.

A family file (enforced_tls.py, subusers.py, ...) declares a Family: its routes (path, method, scope,
handler), the settings it keeps per account (a Setting: key, API path, default object, body validation)
and nothing else.  The server core (tools/sendgrid_api_server.py) does HTTP, authentication, scopes,
on-behalf-of, rate limits and the request log, with IP access enforcement (access.py) and faults
(faults.py), then calls the route's handler with a Request.

A setting object (Enforced TLS, each tracking and mail setting) is served by setting_routes(): GET answers
the account's stored object.  PATCH is partial (fields left out keep their value), needs a JSON object and
answers 200 with the whole resulting object; a wrong type, an unknown field, a read-only one or an invalid
value is a 400 {"errors": [{"field", "message"}]} naming the field, and nothing is stored.  Booleans must be
JSON booleans, integers JSON integers.

Standard library only.
"""

import copy
import json
import re
from urllib.parse import parse_qs

PARENT = "parent"
REGIONS = ("global", "eu")
# Subuser ids are given from here on (config.py at start, subusers.py when the API creates one).
FIRST_SUBUSER_ID = 10001
# X-RateLimit-Reset as the epoch second the window ends, or the seconds until then (SendGrid is seen sending both)
RATE_RESET_FORMATS = ("epoch", "seconds")

# Loose on purpose, like SendGrid's own checks: something@domain.tld, no spaces or commas.
EMAIL_RE = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)


# ----------------------------------------------------------------------------- JSON and answers

def error_body(message, field=None):
    """Build the SendGrid errors document."""
    return {"errors": [{"field": field, "message": message}]}


def is_number(value):
    """A JSON number (bool is an int subclass in Python but not a JSON number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value):
    """A JSON integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw):
    """Parse strict JSON (no NaN/Infinity); raise ValueError when it is not."""
    return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw, parse_constant=_reject_constant)


class Answer:  # pylint: disable=too-few-public-methods
    """One HTTP answer: status, body bytes, content type, extra headers."""

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments
    def __init__(self, status, payload=None, content_type="application/json", raw=None, headers=None):
        self.status = status
        self.body = raw if raw is not None else json.dumps(payload).encode("utf-8")
        self.content_type = content_type
        self.headers = dict(headers or {})
        # body bytes actually sent before closing (truncated fault); None: all of them
        self.sent = None


def error(status, message, field=None, headers=None):
    """An answer with the SendGrid errors body."""
    return Answer(status, error_body(message, field), headers=headers)


def invalid(errors):
    """A 400 answer listing error items ({"field", "message"})."""
    return Answer(400, {"errors": errors})


def no_content():
    """A 204 answer: no body, no Content-Type."""
    return Answer(204, raw=b"", content_type=None)


# ----------------------------------------------------------------------------- declarations

PATH_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def path_pattern(path):
    """The compiled pattern of a path with {name} parameters (one non-empty segment each); None for a plain path."""
    if not PATH_PARAM_RE.search(path):
        return None
    pattern, end = "", 0
    for match in PATH_PARAM_RE.finditer(path):
        pattern += re.escape(path[end:match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        end = match.end()
    return re.compile(pattern + re.escape(path[end:]) + "$")


class Route:  # pylint: disable=too-few-public-methods
    """One API operation: path and method, the scope it needs (None: none, any known key), and handler(request) -> Answer.

    A path may hold parameters, one whole segment each: "/v3/access_settings/whitelist/{rule_id}" matches
    "/v3/access_settings/whitelist/7" and the handler finds "7" in request.path_params["rule_id"].  masked names the
    body fields the request log must never show (a password): see masked_body().
    """

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments
    def __init__(self, path, method, scope, handler, masked=()):
        self.path = path
        self.method = method
        self.scope = scope
        self.handler = handler
        self.masked = tuple(masked)
        self.pattern = path_pattern(path)


class Setting:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """An object the API keeps per account, read with GET and changed with a partial PATCH.

    key is its API path after /v3/ (e.g. "tracking_settings/click"), the name tests use to reach its state;
    validate(doc) returns (changes, errors).  name, title and description are what a family summary lists.

    An object that is not a dict of fields (a list of rules, say) gives load(backend, account, value, replace)
    -> the new object: how set_state() and an accounts file's "state" put a value there (under the state lock).
    Without load, that value must be an object, merged into the stored one (or replacing it).  initial(backend,
    account) -> object, when given, makes a new account's object instead of a copy of default (an object that
    depends on the account, e.g. its owner teammate).
    """

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments
    def __init__(self, key, default, validate, name=None, title=None, description=None, load=None, initial=None):
        self.key = key
        self.path = "/v3/" + key
        self.default = default
        self.validate = validate
        self.name = name or key.rsplit("/", 1)[-1]
        self.title = title
        self.description = description
        self.load = load
        self.initial = initial

    def fresh(self, backend=None, account=None):
        """A new account's object."""
        if self.initial is not None and backend is not None:
            return self.initial(backend, account)
        return copy.deepcopy(self.default)


class Family:  # pylint: disable=too-few-public-methods
    """An endpoint family: its routes, the settings it keeps per account and, optionally, private state.

    private(backend) -> object, when given, is state of the whole server that no state() shows (e.g. the digests of
    the API key secrets): the accounts make it afresh on every reset, before any account's initial state is put in
    place, and keep it as backend.private[name], to be used under backend.lock.
    """

    def __init__(self, name, routes, settings=(), private=None):
        self.name = name
        self.routes = tuple(routes)
        self.settings = tuple(settings)
        self.private = private

    @property
    def scopes(self):
        """Every scope its routes need, in declaration order (a route that needs none adds nothing)."""
        return tuple(dict.fromkeys(route.scope for route in self.routes if route.scope is not None))


class Request:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """What a handler gets: the request, the resolved account and the server state.

    backend offers get_setting(account, key), patch_setting(account, key, changes, apply),
    modify_setting(account, key, change), next_id(name), note_id(name, value), activity(account), known(account),
    list_subusers(), subuser(name), add_subusers(specs), update_subuser(name, changes), remove_subuser(name),
    store and private[family name] (the raw objects), lock (an RLock: hold it for a read-modify-write spanning
    several of those), all_scopes (every scope some route needs) and setting(runtime name); not_applied() consumes
    a pending not_applied fault for this request and says whether one fired (the write must then be acknowledged
    but not stored).  path_params holds the values of the route's {name} path parameters; scopes those of the
    calling API key.
    """

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments
    def __init__(self, method, path, query, body, account, backend, not_applied, path_params=None, scopes=()):
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.account = account
        self.backend = backend
        self.not_applied = not_applied
        self.path_params = dict(path_params or {})
        self.scopes = frozenset(scopes)

    def params(self):
        """Query parameters, the last value of each."""
        return {name: values[-1] for name, values in parse_qs(self.query, keep_blank_values=True).items()}


MASK = "********"


def masked_body(doc, fields):
    """A request body as the log may show it: the value of every field named in fields (at any depth) replaced by MASK."""
    if isinstance(doc, dict):
        return {name: MASK if name in fields else masked_body(value, fields) for name, value in doc.items()}
    if isinstance(doc, list):
        return [masked_body(item, fields) for item in doc]
    return doc


def json_object(request):
    """The request body as a JSON object: (object, None), or (None, a 400 answer)."""
    try:
        doc = parse_json(request.body)
    except (UnicodeDecodeError, ValueError):
        return None, error(400, "request body is not valid JSON")
    if not isinstance(doc, dict):
        return None, error(400, "request body must be a JSON object")
    return doc, None


def unknown_fields(doc, known, where=""):
    """Error items naming the fields of doc that are not in known."""
    return [{"field": f"{where}{name}", "message": f"unknown field '{where}{name}'"} for name in doc if name not in known]


# Loose on purpose: a scope is dotted lower-case words ("mail.send", "2fa_required", "user.settings.enforced_tls.read").
SCOPE_RE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")


def scope_list(value):
    """Check: an array of scope names (see SCOPE_RE)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return "must be an array of strings"
    bad = [item for item in value if not SCOPE_RE.fullmatch(item)]
    return f"holds invalid scopes: {', '.join(map(repr, bad))}" if bad else None


# ----------------------------------------------------------------------------- singleton settings

def get_handler(setting):
    """GET: the account's stored object."""
    def handle(request):
        return Answer(200, request.backend.get_setting(request.account, setting.key))
    return handle


def patch_handler(setting):
    """PATCH: validate, then store the changes (unless a not_applied fault fires) and answer the whole object."""
    def handle(request):
        try:
            doc = parse_json(request.body)
        except (UnicodeDecodeError, ValueError):
            return error(400, "request body is not valid JSON")
        changes, errors = setting.validate(doc)
        if errors:
            return invalid(errors)
        # looked up only now so a rejected PATCH does not use up the fault
        applied = not request.not_applied()
        return Answer(200, request.backend.patch_setting(request.account, setting.key, changes, apply=applied))
    return handle


def setting_routes(setting, read_scope, update_scope):
    """GET and PATCH routes of one setting."""
    return (Route(setting.path, "GET", read_scope, get_handler(setting)),
            Route(setting.path, "PATCH", update_scope, patch_handler(setting)))


# ----------------------------------------------------------------------------- body validation

def validate_object(doc, checks, read_only=()):
    """Check a PATCH body against {field: check(value) -> problem or None}; return (changes, errors).

    Every field is optional (a PATCH is partial); unknown fields and read-only ones are errors naming them.
    """
    if not isinstance(doc, dict):
        return None, [{"field": None, "message": "request body must be a JSON object"}]
    errors = []
    for name, value in doc.items():
        if name in read_only:
            errors.append({"field": name, "message": f"{name} is read-only and cannot be changed"})
        elif name not in checks:
            errors.append({"field": name, "message": f"unknown field '{name}'"})
        else:
            problem = checks[name](value)
            if problem:
                errors.append({"field": name, "message": f"{name} {problem}"})
    return (None, errors) if errors else (copy.deepcopy(doc), [])


def validator(checks, read_only=()):
    """A Setting.validate built from field checks."""
    return lambda doc: validate_object(doc, checks, read_only)


def boolean(value):
    """Check: a JSON boolean."""
    return None if isinstance(value, bool) else "must be a boolean"


def string(value):
    """Check: a JSON string."""
    return None if isinstance(value, str) else "must be a string"


def integer_or_null(value):
    """Check: a JSON integer or null."""
    return None if value is None or is_int(value) else "must be an integer or null"


def is_email(text):
    """An e-mail address (surrounding spaces allowed)."""
    return bool(EMAIL_RE.match(text.strip()))


def is_domain(text):
    """A domain name (surrounding spaces allowed)."""
    return bool(DOMAIN_RE.match(text.strip()))


def query_integer(params, name, low, errors):
    """An optional integer query parameter >= low: its value, None when absent or invalid (then errors has an item)."""
    if name not in params:
        return None
    text = params[name]
    if re.fullmatch(r"[+-]?[0-9]+", text.strip()) and int(text) >= low:
        return int(text)
    errors.append({"field": name, "message": f"{name} must be an integer >= {low}"})
    return None
