"""Subusers (tsg_subusers_v3): the list every host serves from the shared account definition, and its writes.

    GET     /v3/subusers?limit=&offset=&username=&region=&include_region=    subusers.read
    POST    /v3/subusers                                                     subusers.create
    PATCH   /v3/subusers/{subuser_name}                                      subusers.update
    DELETE  /v3/subusers/{subuser_name}                                      subusers.delete

The subusers are given at start (--subuser NAME[:REGION][:disabled], --subusers N / --eu-subusers M, "subusers"
of the accounts file; by default the demo's marketing, billing and eu-newsletter, see config.py), added at runtime
(add_subusers(), POST /__control__/subusers) or created by the API; each is {"username", "id", "email",
"disabled", "region"}, ids from 10001 on.  Each has its own state of every other family, and is pinned to one
region: on-behalf-of it on the other host is a 403 naming the host to use.  Two hosts started from one accounts
file share the subusers they start with; one created or deleted through the API changes only the host that did it.

GET /v3/subusers lists every subuser on both hosts, in id order, as {"disabled", "email", "id", "username"}
(plus "region" with include_region=true); region=all|global|eu filters them, username=NAME keeps that one.  On
behalf of a subuser or customer account it lists none.  limit (default 100) must be an integer >= 1 and offset
one >= 0; the spec documents no maximum for limit, and none is enforced unless --max-page-size N (runtime:
max_page_size) is given: then a page silently holds at most N subusers whatever limit asked for, as a real server
may do.  A bad parameter is a 400 naming it.

POST takes {"username", "email", "password", "ips", "region"?, "include_region"?} (the first four required, as the
spec says): username 1..64 letters, digits and . _ @ + - (an existing subuser's or "parent" is a 400 "username
exists"), email an e-mail address, password a non-empty string, ips an array of IPv4 addresses (checked, not kept:
this server has no IP pool), region global (default) or eu, include_region a boolean.  It answers 200 (not 201: the
spec's) {"username", "user_id", "email", "credit_allocation": {"type": "unlimited"}} plus "region" with
include_region true.  The subuser then exists: listed by GET, reachable with on-behalf-of (on its region's host),
with fresh default state of every family (its owner teammate has its email).  Its id comes from a counter that
never gives an id twice, even after a delete or a reset.  THE PASSWORD IS NEVER KEPT: not stored, not even as a
digest (no route reads it back), and the request log shows the field as "********" (Route masked).

PATCH takes {"disabled": boolean} and answers 204 without a body; {} is a 400 "no fields provided", an unknown
subuser a 400 "invalid username" (both the spec's messages).  A not_applied fault makes a valid PATCH answer 204
without storing it.  DELETE answers 204 and removes the subuser with its state (its API keys stop authenticating,
on-behalf-of it is a 404 from then on); an unknown one is a 404.  Subusers belong to the parent: any write on
behalf of a subuser or customer account is a 403 (the spec's message).
"""

import ipaddress
import re

from .common import (FIRST_SUBUSER_ID, PARENT, REGIONS, Answer, Family, Route, error, invalid, is_email, json_object,
                     no_content, unknown_fields)

SUBUSERS_PATH = "/v3/subusers"
SUBUSER_PATH = SUBUSERS_PATH + "/{subuser_name}"
SCOPE_SUBUSERS_READ = "subusers.read"
SCOPE_SUBUSERS_CREATE = "subusers.create"
SCOPE_SUBUSERS_UPDATE = "subusers.update"
SCOPE_SUBUSERS_DELETE = "subusers.delete"
SUBUSERS_DEFAULT_LIMIT = 100
# The name of the subuser id counter (Backend.next_id).
SUBUSER_IDS = "subusers"
CREATE_FIELDS = ("username", "email", "password", "ips", "region", "include_region")
# The body fields the request log never shows.
SECRET_FIELDS = ("password",)
_USERNAME_RE = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
NOT_PARENT = "you dont have permission to access this resource"


def list_subusers(request):
    """One page of subusers; limit >= 1 (default 100, no maximum unless max_page_size caps it), offset >= 0."""
    params = request.params()
    errors = []

    def integer(name, default, low):
        try:
            value = int(params.get(name, default))
        except ValueError:
            value = None
        if value is None or value < low:
            errors.append({"field": name, "message": f"{name} must be an integer >= {low}"})
        return value

    # the spec gives limit no maximum; 0 or less cannot make a page
    limit = integer("limit", SUBUSERS_DEFAULT_LIMIT, 1)
    offset = integer("offset", 0, 0)
    region = params.get("region", "all")
    if region not in ("all",) + REGIONS:
        errors.append({"field": "region", "message": "region must be one of all, global, eu"})
    include_region = params.get("include_region", "false").lower()
    if include_region not in ("true", "false"):
        errors.append({"field": "include_region", "message": "include_region must be true or false"})
    if errors:
        return invalid(errors)
    backend = request.backend
    # a subuser or customer account has no subusers of its own here
    subusers = backend.list_subusers() if request.account == PARENT else []
    if "username" in params:
        subusers = [s for s in subusers if s["username"] == params["username"]]
    if region != "all":
        subusers = [s for s in subusers if s["region"] == region]
    fields = ("disabled", "email", "id", "username") + (("region",) if include_region == "true" else ())
    cap = backend.setting("max_page_size")
    size = limit if cap is None else min(limit, cap)
    return Answer(200, [{f: s[f] for f in fields} for s in subusers[offset:offset + size]])


def _parent_only(request):
    """The 403 of a subuser write on behalf of a subuser or customer account, None for the parent."""
    return None if request.account == PARENT else error(403, NOT_PARENT)


def _create_errors(doc):
    errors = unknown_fields(doc, CREATE_FIELDS)
    name = doc.get("username")
    if not isinstance(name, str) or not _USERNAME_RE.fullmatch(name):
        errors.append({"field": "username", "message": "username is required: 1 to 64 letters, digits and . _ @ + -"})
    email = doc.get("email")
    if not isinstance(email, str) or not is_email(email) or email != email.strip():
        errors.append({"field": "email", "message": "email is required: an e-mail address"})
    password = doc.get("password")
    if not isinstance(password, str) or not password:
        # never echo it
        errors.append({"field": "password", "message": "password is required: a non-empty string"})
    ips = doc.get("ips")
    if not isinstance(ips, list):
        errors.append({"field": "ips", "message": "ips is required: an array of IPv4 addresses"})
    else:
        for index, ip in enumerate(ips):
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                errors.append({"field": f"ips[{index}]", "message": f"ips[{index}] {ip!r} is not an IPv4 address"})
    if doc.get("region", "global") not in REGIONS:
        errors.append({"field": "region", "message": "region must be global or eu"})
    if not isinstance(doc.get("include_region", False), bool):
        errors.append({"field": "include_region", "message": "include_region must be a boolean"})
    return errors


def create_subuser(request):
    """POST: a new subuser of the parent; 200 {"username", "user_id", "email", "credit_allocation"} (+ "region")."""
    refused = _parent_only(request)
    if refused:
        return refused
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _create_errors(doc)
    if errors:
        return invalid(errors)
    backend = request.backend
    name, region = doc["username"], doc.get("region", "global")
    with backend.lock:
        subusers = backend.list_subusers()
        if name == PARENT or any(sub["username"] == name for sub in subusers):
            return error(400, "username exists", field="username")
        backend.note_id(SUBUSER_IDS, max([sub["id"] for sub in subusers] + [FIRST_SUBUSER_ID - 1]))
        sub = backend.add_subusers([{"username": name, "email": doc["email"], "region": region,
                                     "id": backend.next_id(SUBUSER_IDS)}])[0]
    answer = {"username": sub["username"], "user_id": sub["id"], "email": sub["email"],
              "credit_allocation": {"type": "unlimited"}}
    if doc.get("include_region"):
        answer["region"] = sub["region"]
    return Answer(200, answer)


def update_subuser(request):
    """PATCH: {"disabled": bool}; 204."""
    refused = _parent_only(request)
    if refused:
        return refused
    doc, problem = json_object(request)
    if problem:
        return problem
    if not doc:
        return error(400, "no fields provided")
    errors = unknown_fields(doc, ("disabled",))
    if "disabled" in doc and not isinstance(doc["disabled"], bool):
        errors.append({"field": "disabled", "message": "disabled must be a boolean"})
    if errors:
        return invalid(errors)
    backend = request.backend
    name = request.path_params["subuser_name"]
    with backend.lock:
        if backend.subuser(name) is None:
            return error(400, "invalid username", field="username")
        if not request.not_applied():
            backend.update_subuser(name, {"disabled": doc["disabled"]})
    return no_content()


def delete_subuser(request):
    """DELETE: the subuser and its state are gone; 204, 404 when there is none of that name."""
    refused = _parent_only(request)
    if refused:
        return refused
    name = request.path_params["subuser_name"]
    if not request.backend.remove_subuser(name):
        return error(404, f"subuser '{name}' not found", field="username")
    return no_content()


FAMILY = Family("subusers", [
    Route(SUBUSERS_PATH, "GET", SCOPE_SUBUSERS_READ, list_subusers),
    Route(SUBUSERS_PATH, "POST", SCOPE_SUBUSERS_CREATE, create_subuser, masked=SECRET_FIELDS),
    Route(SUBUSER_PATH, "PATCH", SCOPE_SUBUSERS_UPDATE, update_subuser),
    Route(SUBUSER_PATH, "DELETE", SCOPE_SUBUSERS_DELETE, delete_subuser),
])
