"""Link branding (tsg_link_branding_v3): branded links, their two CNAME records, real validation.

    GET     /v3/whitelabel/links?limit=                 whitelabel.read
    POST    /v3/whitelabel/links                        whitelabel.create
    GET     /v3/whitelabel/links/{id}                   whitelabel.read
    PATCH   /v3/whitelabel/links/{id}                   whitelabel.update
    DELETE  /v3/whitelabel/links/{id}                   whitelabel.delete
    POST    /v3/whitelabel/links/{id}/validate          whitelabel.update
    GET     /v3/whitelabel/links/default?domain=        whitelabel.read
    POST    /v3/whitelabel/links/{link_id}/subuser      whitelabel.update
    GET     /v3/whitelabel/links/subuser?username=      whitelabel.read
    DELETE  /v3/whitelabel/links/subuser?username=      whitelabel.update

(The spec names no scope: SendGrid's permission names for whitelabel, as in domains.py: create to create, delete to
delete, read to read, update for every other change, validation and subuser association included.)  /default and
/subuser are those routes, never a link id.

A LINK is {"id" (an integer, never given twice by one server), "domain", "subdomain", "username", "user_id",
"default", "valid", "legacy" (false), "dns"} (the spec's LinkBranding200, in its order; username and user_id the
owner account's, see whitelabel.py), its records, for the domain "example.com", subdomain "url", user id 7:

    domain_cname   cname   url.example.com    sendgrid.net
    owner_cname    cname   7.example.com      sendgrid.net

each {"valid", "type", "host", "data"}; "valid" is true only while both are.  Every account (parent, subuser,
customer account) has its own links: unlike domains, the parent does not see its subusers' links (the spec's way
to reach them is on-behalf-of).

GET /v3/whitelabel/links answers a JSON array of the account's links by id, at most limit (an integer >= 1; the spec
documents no default: all, and no offset).  GET of one answers the link; an id that is not one of the account's
is a 404 (PATCH, DELETE, validate too).  POST takes {"domain" (required), "subdomain", "default", "region"} and
answers 201 with the link: domain a domain name (kept lower-case), subdomain DNS labels (default "url<id>"),
default a boolean, region "us" (the default) or "eu": the link spec's words, where the domain spec says global/eu
(kept, not answered).  The subdomain must differ from that of an authenticated domain of the same account and
domain (the spec: "must be different from the subdomain you used for authenticating your domain"): else a 400
naming subdomain; the same domain and subdomain twice is a 400; an account holds at most 3000 links (the domain
spec's introduction: "3,000 link brandings" per user), the POST of the 3001st is a 400.  PATCH takes {"default"}
only (the spec: a branded link's default status), answers 200 with the link (an object, unlike the domains' PATCH);
default true takes the default from the account's other link.  A not_applied fault answers the stored link.
DELETE answers 204.

VALIDATE (POST .../{id}/validate, no body) looks both records up on the configured DNS resolver (whitelabel.py,
dns_check.py) and answers 200 {"id", "valid", "validation_results": {"domain_cname": {"valid", "reason"},
"owner_cname": {"valid", "reason"}}}, reason in the wording of the spec's example, names with their trailing dot:
'Expected CNAME to match "sendgrid.net." but found "example.com.".', '... but found no CNAME record at
"url.example.com.".', '... but found no DNS record at "url.example.com.".'.  The records' validity, the link's
and last_validation_attempt_at (kept, not answered: the link's schema has no such field) are stored.  Without a
resolver both records are invalid (the reason says none is configured); a resolver that gives no answer is a 500
"internal error getting CNAME" (the spec's example) and nothing is stored.

DEFAULT (GET .../default?domain=) follows the spec's order: the account's VALID link marked default (with
domain=NAME: its valid link of that domain, the default one first), else a valid legacy link, else SendGrid's own
branded link, answered as {"id": 0, "domain": "sendgrid.net", "subdomain": "100.ct", "username", "user_id",
"default": true, "valid": true, "legacy": false, "dns": {"domain_cname": {"valid": true, "type": "cname", "host":
"100.ct.sendgrid.net", "data": "sendgrid.net"}}} (the spec names 100.ct.sendgrid.net; the shape is a guess).

SUBUSER ASSOCIATION (parent only: on behalf of another account a 403; an unknown subuser a 400 naming username): a
subuser has at most one of the parent's links (not those of other accounts: 404).  POST .../{link_id}/subuser
{"username"} makes the link the subuser's (replacing the one it had) and answers 200 with the link; GET
.../links/subuser?username= answers the subuser's link (404 when it has none); DELETE .../links/subuser?username=
takes it back, 204 (404 when it has none).  The spec's body does not mark username required; without it: a 400.

STATE PUT IN PLACE BY TESTS (set_state, PUT /__control__/state, "state" of the accounts file), with
setting="whitelabel/links": [{"domain", "subdomain"?, "id"?, "default"?, "valid"?, "legacy"?, "region"?,
"subusers"?: [usernames]}] adds links to the account (replace drops its others first); valid true makes both
records valid.
"""

import re
import time

from .common import (PARENT, Answer, Family, Route, Setting, error, invalid, is_domain, json_object,
                     no_content, unknown_fields)
from .domains import DOMAINS_KEY
from .whitelabel import account_user, check_records, is_labels, load_planted, page, page_params, parent_only, subuser_named

LINKS_KEY = "whitelabel/links"
LINKS_PATH = "/v3/whitelabel/links"
LINK_PATH = LINKS_PATH + "/{id}"
VALIDATE_PATH = LINK_PATH + "/validate"
DEFAULT_PATH = LINKS_PATH + "/default"
ASSOCIATE_PATH = LINKS_PATH + "/{link_id}/subuser"
SUBUSER_PATH = LINKS_PATH + "/subuser"

SCOPE_READ = "whitelabel.read"
SCOPE_CREATE = "whitelabel.create"
SCOPE_UPDATE = "whitelabel.update"
SCOPE_DELETE = "whitelabel.delete"

# The name of the link id counter (Backend.next_id).
LINK_IDS = "whitelabel_links"
MAX_LINKS = 3000
FIELDS = ("id", "domain", "subdomain", "username", "user_id", "default", "valid", "legacy", "dns")
CREATE_FIELDS = ("domain", "subdomain", "default", "region")
REGIONS = ("us", "eu")
PLANTED_FIELDS = CREATE_FIELDS + ("id", "valid", "legacy", "subusers")
TARGET = "sendgrid.net"
# SendGrid's own branded link, the last resort of GET .../default (the spec: "100.ct.sendgrid.net").
SENDGRID_SUBDOMAIN = "100.ct"


def _record(host):
    return {"valid": False, "type": "cname", "host": host, "data": TARGET}


def new_link(backend, owner, fields, link_id):
    """A stored link of an owner account from (checked) fields."""
    username, user_id = account_user(backend, owner)
    domain = fields["domain"].lower()
    subdomain = (fields.get("subdomain") or f"url{link_id}").lower()
    return {"id": link_id, "domain": domain, "subdomain": subdomain, "username": username, "user_id": user_id,
            "default": fields.get("default", False), "valid": False, "legacy": False,
            "dns": {"domain_cname": _record(f"{subdomain}.{domain}"), "owner_cname": _record(f"{user_id}.{domain}")},
            "region": fields.get("region", "us"), "subusers": [], "last_validation_attempt_at": None}


def _shown(link):
    return {name: link[name] for name in FIELDS}


def _links(request, account=None):
    return request.backend.store[LINKS_KEY][account or request.account]


def _find(request, name="id"):
    """The account's stored link of the path's id, or a 404 (call under the backend lock)."""
    value = request.path_params[name]
    if re.fullmatch(r"[0-9]{1,18}", value):
        link = next((link for link in _links(request) if link["id"] == int(value)), None)
        if link is not None:
            return link, None
    return None, error(404, f"branded link {value} not found", field=name)


def _create_errors(doc):
    errors = unknown_fields(doc, CREATE_FIELDS)
    if not isinstance(doc.get("domain"), str) or not is_domain(doc["domain"]) or doc["domain"] != doc["domain"].strip():
        errors.append({"field": "domain", "message": "domain is required: a domain name such as example.com"})
    if "subdomain" in doc and not is_labels(doc["subdomain"]):
        errors.append({"field": "subdomain", "message": "subdomain must be DNS labels such as url or links.mail"})
    if "default" in doc and not isinstance(doc["default"], bool):
        errors.append({"field": "default", "message": "default must be a boolean"})
    if doc.get("region", "us") not in REGIONS:
        errors.append({"field": "region", "message": "region must be us or eu"})
    return errors


def list_links(request):
    """GET: the account's links by id, at most limit."""
    values, problem = page_params(request, ("limit",))
    if problem:
        return problem
    with request.backend.lock:
        return Answer(200, [_shown(link) for link in page(sorted(_links(request), key=lambda l: l["id"]), values)])


def create_link(request):
    """POST: a new link of the account; 201 with the link."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _create_errors(doc)
    if errors:
        return invalid(errors)
    backend = request.backend
    domain, subdomain = doc["domain"].lower(), doc.get("subdomain", "").lower()
    with backend.lock:
        links = _links(request)
        if len(links) >= MAX_LINKS:
            return error(400, f"this account already has the maximum of {MAX_LINKS} branded links")
        if subdomain and any(d["domain"] == domain and d["subdomain"] == subdomain
                             for d in backend.store[DOMAINS_KEY][request.account]):
            return invalid([{"field": "subdomain", "message": f"{subdomain}.{domain} is an authenticated domain of "
                                                              "this account: a branded link needs another subdomain"}])
        if subdomain and any(link["domain"] == domain and link["subdomain"] == subdomain for link in links):
            return error(400, f"{subdomain}.{domain} is already a branded link of this account", field="domain")
        link = new_link(backend, request.account, doc, backend.next_id(LINK_IDS))
        links.append(link)
        if link["default"]:
            for other in links:
                other["default"] = other is link
        return Answer(201, _shown(link))


def get_link(request):
    """GET of one link; 404 when the account has none of that id."""
    with request.backend.lock:
        link, problem = _find(request)
        return problem or Answer(200, _shown(link))


def update_link(request):
    """PATCH: {"default"}; 200 with the link."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, ("default",))
    if "default" in doc and not isinstance(doc["default"], bool):
        errors.append({"field": "default", "message": "default must be a boolean"})
    if errors:
        return invalid(errors)
    with request.backend.lock:
        link, problem = _find(request)
        if problem:
            return problem
        if "default" in doc and not request.not_applied():
            for other in _links(request):
                if other is link:
                    other["default"] = doc["default"]
                elif doc["default"]:
                    other["default"] = False
        return Answer(200, _shown(link))


def delete_link(request):
    """DELETE: 204; 404 when the account has none of that id."""
    with request.backend.lock:
        link, problem = _find(request)
        if problem:
            return problem
        _links(request).remove(link)
    return no_content()


def validate_link(request):
    """POST .../validate: look both records up; 200 {"id", "valid", "validation_results"}; 500 without an answer."""
    backend = request.backend
    with backend.lock:
        link, problem = _find(request)
        if problem:
            return problem
        dns = {name: dict(record) for name, record in link["dns"].items()}
    # looked up outside the lock: a slow resolver must not hold up every other request
    results, problem = check_records(request, dns, "links")
    if problem:
        return problem
    with backend.lock:
        link, problem = _find(request)
        if problem:
            return problem
        for name, result in results.items():
            link["dns"][name]["valid"] = result["valid"]
        link["valid"] = all(record["valid"] for record in link["dns"].values())
        link["last_validation_attempt_at"] = int(time.time())
        return Answer(200, {"id": link["id"], "valid": link["valid"], "validation_results": results})


def _sendgrid_link(request):
    username, user_id = account_user(request.backend, request.account)
    host = f"{SENDGRID_SUBDOMAIN}.{TARGET}"
    return {"id": 0, "domain": TARGET, "subdomain": SENDGRID_SUBDOMAIN, "username": username, "user_id": user_id,
            "default": True, "valid": True, "legacy": False,
            "dns": {"domain_cname": {"valid": True, "type": "cname", "host": host, "data": TARGET}}}


def default_link(request):
    """GET .../default: the valid default link (of ?domain=), else a valid legacy one, else SendGrid's own."""
    wanted = request.params().get("domain", "").strip().lower()
    with request.backend.lock:
        valid = sorted((link for link in _links(request) if link["valid"] and (not wanted or link["domain"] == wanted)),
                       key=lambda link: (not link["default"], link["id"]))
        chosen = next((link for link in valid if link["default"] or wanted), None)
        chosen = chosen or next((link for link in valid if link["legacy"]), None)
        return Answer(200, _shown(chosen) if chosen else _sendgrid_link(request))


def associate(request):
    """POST .../{link_id}/subuser {"username"}: the link is the subuser's (its only one); 200 with the link."""
    refused = parent_only(request)
    if refused:
        return refused
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, ("username",))
    if errors:
        return invalid(errors)
    username, problem = subuser_named(request, doc.get("username"))
    if problem:
        return problem
    with request.backend.lock:
        link, problem = _find(request, "link_id")
        if problem:
            return problem
        for other in _links(request):
            other["subusers"] = [name for name in other["subusers"] if name != username]
        link["subusers"].append(username)
        return Answer(200, _shown(link))


def _held(request):
    """(username, the parent's link associated with it, None), or (..., the answer refusing the request)."""
    refused = parent_only(request)
    if refused:
        return None, None, refused
    username, problem = subuser_named(request, request.params().get("username"))
    if problem:
        return None, None, problem
    link = next((link for link in _links(request, PARENT) if username in link["subusers"]), None)
    if link is None:
        return username, None, error(404, f"subuser {username!r} has no associated branded link", field="username")
    return username, link, None


def subuser_link(request):
    """GET .../links/subuser?username=: the subuser's link; 404 when it has none."""
    with request.backend.lock:
        dummy, link, problem = _held(request)
        return problem or Answer(200, _shown(link))


def disassociate(request):
    """DELETE .../links/subuser?username=: the subuser loses its link; 204, 404 when it had none."""
    with request.backend.lock:
        username, link, problem = _held(request)
        if problem:
            return problem
        link["subusers"].remove(username)
    return no_content()


def load_links(backend, account, value, replace):
    """Setting.load: an account's links planted from [{"domain", ...}] (see the module docstring); return them."""
    return load_planted(backend, account, value, replace, key=LINKS_KEY, ids=LINK_IDS, noun="link",
                        fields=PLANTED_FIELDS, make=lambda item, link_id: new_link(backend, account, item, link_id),
                        create_errors=lambda item: _create_errors({name: item[name] for name in CREATE_FIELDS
                                                                   if name in item}))


LINKS = Setting(LINKS_KEY, [], None, title="Branded links", load=load_links)

FAMILY = Family("links", [
    Route(LINKS_PATH, "GET", SCOPE_READ, list_links),
    Route(LINKS_PATH, "POST", SCOPE_CREATE, create_link),
    Route(DEFAULT_PATH, "GET", SCOPE_READ, default_link),
    Route(SUBUSER_PATH, "GET", SCOPE_READ, subuser_link),
    Route(SUBUSER_PATH, "DELETE", SCOPE_UPDATE, disassociate),
    Route(LINK_PATH, "GET", SCOPE_READ, get_link),
    Route(LINK_PATH, "PATCH", SCOPE_UPDATE, update_link),
    Route(LINK_PATH, "DELETE", SCOPE_DELETE, delete_link),
    Route(VALIDATE_PATH, "POST", SCOPE_UPDATE, validate_link),
    Route(ASSOCIATE_PATH, "POST", SCOPE_UPDATE, associate),
], [LINKS])
