"""Teammates (tsg_teammates_v3): the users of an account, and the invitations that are not accepted yet.

    GET     /v3/teammates?limit=&offset=              teammates.read
    POST    /v3/teammates                             teammates.create
    GET     /v3/teammates/{username}                  teammates.read
    PATCH   /v3/teammates/{username}                  teammates.update
    DELETE  /v3/teammates/{username}                  teammates.delete
    GET     /v3/teammates/pending                     teammates.read
    DELETE  /v3/teammates/pending/{token}             teammates.delete
    POST    /v3/teammates/pending/{token}/resend      teammates.create

(The spec names no scope; these are SendGrid's permission names for teammates.  Resending sends an invitation,
hence teammates.create.)  /v3/teammates/pending is that route, never the teammate named "pending".

Each account (parent, subuser, customer account) has its own teammates and invitations.  A new account has one
teammate, its OWNER: username the account's name ("parent", the subuser's username, "account-777" for the customer
account 777), email "<username>@example.com" (a subuser's: its own email), user_type "owner", is_admin true.  A
teammate is {"username", "email", "first_name", "last_name", "user_type" (owner, admin, teammate), "is_admin",
"phone", "website", "address", "address2", "city", "state", "zip", "country"} (profile fields "" unless planted),
plus its "scopes", stored [] for an admin or the owner.

GET /v3/teammates answers {"result": [teammates without scopes]} (the spec's schema; its example says "results"),
the owner first, then in the order they joined, paged by limit (an integer 0..500, default 500, the spec's maximum)
and offset (an integer >= 0, default 0); a bad one is a 400 naming it.  GET of one answers the teammate with
"scopes": an admin's or the owner's are every scope this server serves (SendGrid shows an admin's full list, while
a PATCH must give an admin none); an unknown username is a 404 {"field": "username", "message": "username not
found"} (the spec's), for PATCH and DELETE too.

POST (invite) takes {"email", "scopes", "is_admin"}, all three required (the spec): email a string of 5..255
characters with an @ and a dot after it, scopes an array of scope names, empty when is_admin is true, is_admin a
boolean.  An email that a teammate or a pending invitation of the account already has is a 400.  It creates a
PENDING invitation, not a teammate, and answers 201 {"token", "email", "scopes", "is_admin"}.  An invitation is
{"email", "scopes", "is_admin", "token" (32 hex characters), "expiration_date" (epoch seconds, 7 days after it was
sent)}; GET /v3/teammates/pending answers {"result": [invitations]} in the order sent.  Resend answers 200 {"token",
"email", "scopes", "is_admin"} and restarts the 7 days; DELETE of one answers 204; an unknown token is a 404
{"field": "pending_key", "message": "invalid pending key"} (the spec's).

PATCH takes {"is_admin", "scopes"}, both required (the spec): is_admin true needs scopes [] ("If True, scopes should
be an empty array"), else scopes lists every scope the teammate keeps; it answers 200 with the whole teammate, as
GET does, user_type becoming "admin" or "teammate".  The owner cannot be changed or deleted: a PATCH or DELETE of the
owner is a 403 {"field": "username", "message": ...} (the spec documents no answer for it: SendGrid refuses it, this
is how).  A not_applied fault makes a valid PATCH answer the stored, unchanged teammate.  DELETE answers 204.

STATE PUT IN PLACE BY TESTS (set_state, PUT /__control__/state, "state" of the accounts file), unvalidated beyond
the types, so tests can create drift (a teammate holding scopes a policy forbids, say):

    setting="teammates"          [{"username", fields...}]: a new username is a new teammate (user_type from
                                 is_admin, default false; email "<username>@example.com" unless given; other fields
                                 ""), an existing one has the given fields changed (the owner stays owner and admin).
                                 An item with "token" ACCEPTS that pending invitation: the invitation leaves the
                                 pending list and becomes the teammate "username" with its email, scopes and is_admin
                                 (unless the item gives them).  replace drops every teammate but the owner first.
    setting="teammates/pending"  [{"email", "scopes"?, "is_admin"?, "token"?, "expiration_date"?}]: invitations added
                                 (token: a new one unless given, unique on the account; expiration_date: 7 days from
                                 now unless given); replace drops the others first.

e.g. set_state("parent", [{"token": token, "username": "jane"}], setting="teammates") accepts an invitation.
"""

import re
import secrets
import time

from .common import (PARENT, Answer, Family, Route, Setting, error, invalid, is_int, json_object, no_content,
                     scope_list, unknown_fields)

TEAMMATES_KEY = "teammates"
PENDING_KEY = "teammates/pending"
TEAMMATES_PATH = "/v3/teammates"
TEAMMATE_PATH = TEAMMATES_PATH + "/{username}"
PENDING_PATH = "/v3/teammates/pending"
INVITE_PATH = PENDING_PATH + "/{token}"
RESEND_PATH = INVITE_PATH + "/resend"

SCOPE_READ = "teammates.read"
SCOPE_CREATE = "teammates.create"
SCOPE_UPDATE = "teammates.update"
SCOPE_DELETE = "teammates.delete"

USER_TYPES = ("owner", "admin", "teammate")
# A teammate as GET /v3/teammates lists it (the spec's schema order); GET of one adds "scopes".
LISTED_FIELDS = ("username", "email", "first_name", "last_name", "user_type", "is_admin", "phone", "website", "address",
                 "address2", "city", "state", "zip", "country")
PROFILE_FIELDS = ("first_name", "last_name", "phone", "website", "address", "address2", "city", "state", "zip",
                  "country")
INVITE_FIELDS = ("email", "scopes", "is_admin", "token", "expiration_date")
LIST_DEFAULT_LIMIT = 500
LIST_MAX_LIMIT = 500
INVITE_DAYS = 7
_EMAIL_RE = re.compile(r"^.*@.*\..*")
_USERNAME_RE = re.compile(r"[^/\s]{1,255}")


# ----------------------------------------------------------------------------- teammates and invitations

def owner_username(account):
    """The owner teammate's username: "parent", the subuser's name, "account-<id>" for a customer account."""
    return account.replace("account-id ", "account-", 1) if account.startswith("account-id ") else account


def teammate(username, email, is_admin=False, scopes=(), user_type=None, **profile):
    """A stored teammate."""
    record = {"username": username, "email": email, "first_name": "", "last_name": "",
              "user_type": user_type or ("admin" if is_admin else "teammate"), "is_admin": is_admin}
    record.update({name: "" for name in PROFILE_FIELDS[2:]})
    record.update(profile)
    record["scopes"] = list(scopes)
    return record


def initial_teammates(backend, account):
    """Setting.initial: the account's owner."""
    username = owner_username(account)
    sub = backend.subuser(account) if account != PARENT else None
    email = sub["email"] if sub else f"{username}@example.com"
    return [teammate(username, email, is_admin=True, user_type="owner")]


def _shown(request, record):
    """GET of one teammate: every listed field and the scopes (an admin's or the owner's: every scope served)."""
    shown = {name: record.get(name, "") for name in LISTED_FIELDS}
    shown["scopes"] = sorted(request.backend.all_scopes) if record["is_admin"] else list(record["scopes"])
    return shown


def _find(records, field, value):
    return next((record for record in records if record.get(field) == value), None)


def _username_not_found():
    return error(404, "username not found", field="username")


def _invite_not_found():
    return error(404, "invalid pending key", field="pending_key")


def _new_token():
    return secrets.token_hex(16)


def _expiration():
    return int(time.time()) + INVITE_DAYS * 86400


def _email_problem(value):
    if not isinstance(value, str) or not 5 <= len(value) <= 255 or not _EMAIL_RE.match(value):
        return "email must be an e-mail address of 5 to 255 characters"
    return None


def _permissions_errors(doc):
    """Errors of the required {"scopes", "is_admin"} pair of an invitation or a PATCH."""
    errors = []
    if not isinstance(doc.get("is_admin"), bool):
        errors.append({"field": "is_admin", "message": "is_admin is required: a boolean"})
    if "scopes" not in doc:
        errors.append({"field": "scopes", "message": "scopes is required: an array of scopes, empty for an admin"})
    else:
        problem = scope_list(doc["scopes"])
        if problem:
            errors.append({"field": "scopes", "message": f"scopes {problem}"})
        elif doc.get("is_admin") is True and doc["scopes"]:
            errors.append({"field": "scopes", "message": "scopes must be empty when is_admin is true: an admin has "
                                                         "every scope"})
    return errors


# ----------------------------------------------------------------------------- handlers

def list_teammates(request):
    """GET: one page of teammates, without scopes; limit 0..500 (default 500), offset >= 0."""
    params = request.params()
    errors = []
    values = {}
    for name, default, low, high in (("limit", LIST_DEFAULT_LIMIT, 0, LIST_MAX_LIMIT), ("offset", 0, 0, None)):
        text = params.get(name, str(default)).strip()
        value = int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None
        if value is None or value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            errors.append({"field": name, "message": f"{name} must be an integer {bounds}"})
        values[name] = value
    if errors:
        return invalid(errors)
    records = request.backend.get_setting(request.account, TEAMMATES_KEY)
    page = records[values["offset"]:values["offset"] + values["limit"]]
    return Answer(200, {"result": [{name: record.get(name, "") for name in LISTED_FIELDS} for record in page]})


def get_teammate(request):
    """GET of one teammate, with its scopes; 404 when unknown."""
    record = _find(request.backend.get_setting(request.account, TEAMMATES_KEY), "username", request.path_params["username"])
    return _username_not_found() if record is None else Answer(200, _shown(request, record))


def invite_teammate(request):
    """POST: a pending invitation; 201 {"token", "email", "scopes", "is_admin"}."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, ("email", "scopes", "is_admin"))
    if "email" not in doc:
        errors.append({"field": "email", "message": "email is required"})
    else:
        problem = _email_problem(doc["email"])
        if problem:
            errors.append({"field": "email", "message": problem})
    errors.extend(_permissions_errors(doc))
    if errors:
        return invalid(errors)
    backend = request.backend
    with backend.lock:
        email = doc["email"].lower()
        teammates = backend.store[TEAMMATES_KEY][request.account]
        pending = backend.store[PENDING_KEY][request.account]
        if any(str(record.get("email", "")).lower() == email for record in teammates + pending):
            return error(400, f"{doc['email']} is already a teammate or invited to this account", field="email")
        invite = {"email": doc["email"], "scopes": list(doc["scopes"]), "is_admin": doc["is_admin"],
                  "token": _new_token(), "expiration_date": _expiration()}
        pending.append(invite)
    return Answer(201, {"token": invite["token"], "email": invite["email"], "scopes": list(invite["scopes"]),
                        "is_admin": invite["is_admin"]})


def update_teammate(request):
    """PATCH: is_admin and scopes (both required); 200 with the whole teammate; 403 for the owner."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, ("scopes", "is_admin")) + _permissions_errors(doc)
    if errors:
        return invalid(errors)
    backend = request.backend
    with backend.lock:
        record = _find(backend.store[TEAMMATES_KEY][request.account], "username", request.path_params["username"])
        if record is None:
            return _username_not_found()
        if record["user_type"] == "owner":
            return error(403, "the account owner's permissions cannot be changed", field="username")
        if not request.not_applied():
            record.update(is_admin=doc["is_admin"], user_type="admin" if doc["is_admin"] else "teammate",
                          scopes=[] if doc["is_admin"] else list(doc["scopes"]))
        return Answer(200, _shown(request, record))


def delete_teammate(request):
    """DELETE: 204; 404 when unknown, 403 for the owner."""
    backend = request.backend
    with backend.lock:
        teammates = backend.store[TEAMMATES_KEY][request.account]
        record = _find(teammates, "username", request.path_params["username"])
        if record is None:
            return _username_not_found()
        if record["user_type"] == "owner":
            return error(403, "the account owner cannot be deleted", field="username")
        teammates.remove(record)
    return no_content()


def list_invites(request):
    """GET /v3/teammates/pending: every invitation, in the order sent."""
    return Answer(200, {"result": request.backend.get_setting(request.account, PENDING_KEY)})


def delete_invite(request):
    """DELETE of one invitation: 204, 404 when its token is unknown."""
    backend = request.backend
    with backend.lock:
        pending = backend.store[PENDING_KEY][request.account]
        invite = _find(pending, "token", request.path_params["token"])
        if invite is None:
            return _invite_not_found()
        pending.remove(invite)
    return no_content()


def resend_invite(request):
    """POST .../resend: the 7 days start again; 200 {"token", "email", "scopes", "is_admin"}."""
    backend = request.backend
    with backend.lock:
        invite = _find(backend.store[PENDING_KEY][request.account], "token", request.path_params["token"])
        if invite is None:
            return _invite_not_found()
        invite["expiration_date"] = _expiration()
        return Answer(200, {name: invite[name] for name in ("token", "email", "scopes", "is_admin")})


# ----------------------------------------------------------------------------- state put in place by tests

def _check_types(item, where):
    for name in ("email",) + PROFILE_FIELDS:
        if name in item and not isinstance(item[name], str):
            raise ValueError(f"{where}: {name} must be a string")
    if "is_admin" in item and not isinstance(item["is_admin"], bool):
        raise ValueError(f"{where}: is_admin must be a boolean")
    if "scopes" in item and (not isinstance(item["scopes"], list)
                             or not all(isinstance(scope, str) for scope in item["scopes"])):
        raise ValueError(f"{where}: scopes must be a list of strings")


def load_teammates(backend, account, value, replace):
    """Setting.load: teammates added, changed or accepted from invitations (see the module docstring); return them."""
    if not isinstance(value, list):
        raise ValueError(f'{TEAMMATES_KEY} must be a list of teammates {{"username", ...}}')
    teammates = backend.get_setting(account, TEAMMATES_KEY)
    if replace:
        teammates = [record for record in teammates if record["user_type"] == "owner"]
    pending = backend.get_setting(account, PENDING_KEY)
    accepted = set()
    for item in value:
        known = set(LISTED_FIELDS + ("scopes", "token")) - {"user_type"}
        if not isinstance(item, dict) or set(item) - known or not isinstance(item.get("username"), str) \
                or not _USERNAME_RE.fullmatch(item["username"]):
            raise ValueError(f"{TEAMMATES_KEY}: {item!r} is not a teammate {{\"username\", ...}} (fields: "
                             f"{', '.join(sorted(known))})")
        where = f"{TEAMMATES_KEY}: teammate {item['username']!r}"
        _check_types(item, where)
        fields = {name: item[name] for name in item if name != "token"}
        if "token" in item:
            invite = _find(pending, "token", item["token"])
            if invite is None or item["token"] in accepted:
                raise ValueError(f"{where}: no pending invitation with token {item['token']!r} on account {account!r}")
            accepted.add(item["token"])
            fields = {"email": invite["email"], "scopes": invite["scopes"], "is_admin": invite["is_admin"], **fields}
        record = _find(teammates, "username", item["username"])
        if record is None:
            fields.setdefault("email", f"{item['username']}@example.com")
            teammates.append(teammate(**fields))
        else:
            record.update(fields)
            if record["user_type"] == "owner":
                record["is_admin"] = True
            else:
                record["user_type"] = "admin" if record["is_admin"] else "teammate"
    # the invitations accepted leave the pending list only once every item is known good
    if accepted:
        backend.store[PENDING_KEY][account] = [invite for invite in pending if invite["token"] not in accepted]
    return teammates


def load_invites(backend, account, value, replace):
    """Setting.load: pending invitations added (see the module docstring); return them."""
    if not isinstance(value, list):
        raise ValueError(f'{PENDING_KEY} must be a list of invitations {{"email", "scopes"?, "is_admin"?, "token"?}}')
    pending = [] if replace else backend.get_setting(account, PENDING_KEY)
    for item in value:
        if not isinstance(item, dict) or set(item) - set(INVITE_FIELDS) or not isinstance(item.get("email"), str):
            raise ValueError(f'{PENDING_KEY}: {item!r} is not an invitation {{"email", "scopes"?, "is_admin"?, '
                             '"token"?, "expiration_date"?}}')
        where = f"{PENDING_KEY}: invitation of {item['email']!r}"
        _check_types(item, where)
        token = item.get("token", _new_token())
        if not isinstance(token, str) or not _USERNAME_RE.fullmatch(token) or _find(pending, "token", token):
            raise ValueError(f"{where}: token {token!r} is not a string unused by the account's other invitations")
        expiration = item.get("expiration_date", _expiration())
        if not is_int(expiration):
            raise ValueError(f"{where}: expiration_date must be an integer (epoch seconds)")
        pending.append({"email": item["email"], "scopes": list(item.get("scopes", [])),
                        "is_admin": item.get("is_admin", False), "token": token, "expiration_date": expiration})
    return pending


TEAMMATES = Setting(TEAMMATES_KEY, [], None, title="Teammates", load=load_teammates, initial=initial_teammates)
PENDING = Setting(PENDING_KEY, [], None, title="Pending teammate invitations", load=load_invites)

FAMILY = Family("teammates", [
    Route(TEAMMATES_PATH, "GET", SCOPE_READ, list_teammates),
    Route(TEAMMATES_PATH, "POST", SCOPE_CREATE, invite_teammate),
    Route(TEAMMATE_PATH, "GET", SCOPE_READ, get_teammate),
    Route(TEAMMATE_PATH, "PATCH", SCOPE_UPDATE, update_teammate),
    Route(TEAMMATE_PATH, "DELETE", SCOPE_DELETE, delete_teammate),
    Route(PENDING_PATH, "GET", SCOPE_READ, list_invites),
    Route(INVITE_PATH, "DELETE", SCOPE_DELETE, delete_invite),
    Route(RESEND_PATH, "POST", SCOPE_CREATE, resend_invite),
], [TEAMMATES, PENDING])
