"""Domain authentication (tsg_domain_authentication_v3): authenticated domains, their DNS records, real validation.

    GET     /v3/whitelabel/domains?limit=&offset=&exclude_subusers=&username=&domain=   whitelabel.read
    POST    /v3/whitelabel/domains                                                    whitelabel.create
    GET     /v3/whitelabel/domains/{domain_id}                                        whitelabel.read
    PATCH   /v3/whitelabel/domains/{domain_id}                                        whitelabel.update
    DELETE  /v3/whitelabel/domains/{domain_id}                                        whitelabel.delete
    POST    /v3/whitelabel/domains/{id}/validate                                      whitelabel.update
    POST    /v3/whitelabel/domains/{id}/ips                                           whitelabel.update
    DELETE  /v3/whitelabel/domains/{id}/ips/{ip}                                      whitelabel.update
    GET     /v3/whitelabel/domains/default?domain=                                    whitelabel.read
    POST    /v3/whitelabel/domains/{domain_id}/subuser                                whitelabel.update
    POST    /v3/whitelabel/domains/{domain_id}/subuser:add                            whitelabel.update
    DELETE  /v3/whitelabel/domains/{domain_id}/subuser?username=                      whitelabel.update
    GET     /v3/whitelabel/domains/subuser?username=                                  whitelabel.read
    DELETE  /v3/whitelabel/domains/subuser?username=                                  whitelabel.update
    GET     /v3/whitelabel/domains/subuser/all?username=                              whitelabel.read

(The spec names no scope.  These are SendGrid's permission names for "Domain Authentication (formerly Whitelabel)",
which has only whitelabel.create/read/update/delete: creating a domain needs create, deleting it delete, reading
read, and every other change of an existing domain update: PATCH, validation (it stores the records' validity),
adding or removing an IP, associating a domain with a subuser or taking it back.)  The path parameter is
{domain_id} or {id} as the spec names it; /default and /subuser are those routes, never a domain id.  The spec's
POST /v3/whitelabel/dns/email (mailing the records to a co-worker) is not served.

A DOMAIN is {"id" (an integer, never given twice by one server, reset() included), "user_id", "subdomain", "domain",
"username", "ips", "custom_spf", "default", "legacy" (false), "automatic_security", "valid", "dns"}: username and
user_id are the owner account's (whitelabel.py: "parent" and 10000 for the parent, a subuser's username and id).
"dns" holds its records, each {"valid", "type", "host", "data"}, for the domain "example.com", subdomain "em", user
id 7:

    automatic_security true      mail_cname   cname  em.example.com               u7.wl.sendgrid.net
                                 dkim1        cname  s1._domainkey.example.com    s1.domainkey.u7.wl.sendgrid.net
                                 dkim2        cname  s2._domainkey.example.com    s2.domainkey.u7.wl.sendgrid.net
    automatic_security false     mail_server  mx     em.example.com               mx.sendgrid.net
                                 subdomain_spf txt   em.example.com               v=spf1 include:sendgrid.net ~all
                                                                                  (custom_spf: v=spf1 ip4:IP ... -all)
                                 domain_spf   txt    example.com                  v=spf1 include:em.example.com -all
                                 dkim         txt    s1._domainkey.example.com    k=rsa; t=s; p=<a key of the domain>

A custom_dkim_selector "abc" makes the DKIM hosts abc._domainkey and abc2._domainkey (and the targets abc.domainkey...,
abc2.domainkey...).  A change of custom_spf or of the IPs rebuilds the records: a changed record is invalid again.
The domain's "valid" is true only while every record is.

GET /v3/whitelabel/domains answers a JSON array of domains, by id, each with "subusers" (the subusers it is
associated with, [{"user_id", "username"}]) and, once validated, "last_validation_attempt_at" (epoch seconds): the
account's own domains and, for the parent, those its subusers own unless exclude_subusers=true; username=NAME keeps
the domains of that username, domain=TEXT those whose domain contains TEXT (any case); then offset (>= 0, default 0)
and limit (>= 1, default all: the spec documents no default page size).  GET of one answers the domain (without
"subusers"), for the parent also one a subuser owns; an id that is not one the account sees is a 404.

POST takes {"domain" (required), "subdomain", "username", "ips", "custom_spf", "default", "automatic_security",
"custom_dkim_selector", "region"} and answers 201 with the domain: domain a domain name (kept lower-case),
subdomain DNS labels (default "em<id>"), ips IPv4 addresses, custom_dkim_selector 1 to 3 letters or digits, region
global (default) or eu (kept, not answered: the spec's answer has no region), automatic_security default true,
custom_spf default false and only with automatic_security false (the spec: "only available to authenticated
domains set up for manual security").  username, sent by the parent, creates the domain for that subuser (its own
domain, which its list shows), or for the parent when it is the parent's username; sent on behalf of another
account it must be that account's own username (else 403).  The same domain and subdomain twice on one account is a
400; an account holds at most 3000 domains (the spec), the POST of the 3001st is a 400.  default true takes the
default from the account's other domain, PATCH too.

PATCH takes {"default", "custom_spf"} (both optional booleans: all the spec lets PATCH change; any other field is
a 400 naming it, custom_spf true on an automatic_security domain too) and answers 200 with the domain in a JSON
ARRAY, [domain]: the spec's schema for this operation (DomainAuthentication200, the list's).  The runtime setting
domain_answer ("array", default, or "object"; --domain-answer) makes it the bare domain instead, as a client should
be ready for.  A not_applied fault answers the stored, unchanged domain.  DELETE answers 204.

VALIDATE (POST .../{id}/validate, no body) looks every record up on the configured DNS resolver (whitelabel.py,
dns_check.py) and answers 200 {"id", "valid", "validation_results": {record name: {"valid", "reason"}}}, one entry
per record of the domain (the spec's example, for an automatic_security domain, also shows "spf", which no record
of the domain backs: it is not answered).  reason is null for a valid record, else in the wording of the spec's
example: 'Expected your CNAME record to be "u7.wl.sendgrid.net" but found "other.example.net".', '... but found no
CNAME record at "em.example.com".' (the name has other records), '... but found no DNS record at "em.example.com".'
(it has none), several TXT records found listed.  The records' validity, the domain's and last_validation_attempt_at
are stored.  Without a resolver every record is invalid (the reason says none is configured); a resolver that gives
no answer is a 500 "internal error getting CNAME" (or TXT, MX: the spec's example) and nothing is stored.

DEFAULT (GET .../default?domain=) answers, as PATCH does, [domain] or [] (domain_answer "object": the domain or
{}): with domain=NAME the account's domain of that name (its default one first, else the lowest id), else the
account's default domain.  The spec says only that "general information" comes without a default: [] here.

IPS: POST .../{id}/ips {"ip": IPv4} adds an IP (once) and DELETE .../{id}/ips/{ip} removes one (404 when the domain
does not have it); both answer 200 with the domain, its SPF record rebuilt.

SUBUSER ASSOCIATION (parent only: on behalf of another account a 403): the parent's own domains (not those its
subusers own: 404) are associated with its subusers (an unknown one is a 400 naming username).  POST
.../{domain_id}/subuser {"username"} makes that domain the subuser's only one (the older, one-domain model) and
POST .../{domain_id}/subuser:add {"username"} adds it to the subuser's (at most five domains per subuser: the sixth
is a 400); both answer 201 with the domain.  DELETE .../{domain_id}/subuser?username= takes that domain back (404
when it is not associated); DELETE .../domains/subuser?username= takes every domain back from the subuser (404
when it has none); both 204.  GET .../domains/subuser?username= answers the subuser's first associated domain
(lowest id; 404 when none), GET .../domains/subuser/all?username= all of them (a JSON array, [] when none).  The
spec says the parent "must first authenticate and validate the domain", but its own example associates an invalid
one: validity is not required here.

STATE PUT IN PLACE BY TESTS (set_state, PUT /__control__/state, "state" of the accounts file), with
setting="whitelabel/domains": [{"domain", "subdomain"?, "id"?, "automatic_security"?, "custom_spf"?, "ips"?,
"default"?, "valid"?, "legacy"?, "custom_dkim_selector"?, "region"?, "subusers"?: [usernames],
"last_validation_attempt_at"?}] adds domains to the account (replace drops its others first); valid true makes
every record valid.  state("whitelabel/domains") shows each account's domains as stored ("subusers" as usernames,
region and custom_dkim_selector included).
"""

import base64
import hashlib
import ipaddress
import re
import time

from .common import (PARENT, Answer, Family, Route, Setting, error, invalid, is_domain, json_object,
                     no_content, unknown_fields)
from .whitelabel import (NOT_PARENT, account_user, check_records, is_labels, load_planted, page, page_params, parent_only,
                         subuser_named)

DOMAINS_KEY = "whitelabel/domains"
DOMAINS_PATH = "/v3/whitelabel/domains"
DOMAIN_PATH = DOMAINS_PATH + "/{domain_id}"
VALIDATE_PATH = DOMAINS_PATH + "/{id}/validate"
IPS_PATH = DOMAINS_PATH + "/{id}/ips"
IP_PATH = IPS_PATH + "/{ip}"
DEFAULT_PATH = DOMAINS_PATH + "/default"
ASSOCIATE_PATH = DOMAIN_PATH + "/subuser"
ADD_PATH = DOMAIN_PATH + "/subuser:add"
SUBUSER_PATH = DOMAINS_PATH + "/subuser"
SUBUSER_ALL_PATH = SUBUSER_PATH + "/all"

SCOPE_READ = "whitelabel.read"
SCOPE_CREATE = "whitelabel.create"
SCOPE_UPDATE = "whitelabel.update"
SCOPE_DELETE = "whitelabel.delete"

# The runtime setting choosing the shape of PATCH's and /default's answer, and its values.
DOMAIN_ANSWER_SETTING = "domain_answer"
DOMAIN_ANSWER_SHAPES = ("array", "object")
# The name of the domain id counter (Backend.next_id).
DOMAIN_IDS = "whitelabel_domains"
# The most domains one account may hold (the spec's introduction: 3,000 per user, each subuser its own).
MAX_DOMAINS = 3000
# The most domains one subuser may be associated with (the spec: "up to five").
MAX_ASSOCIATED = 5
# A domain as every route answers it (the spec's AuthenticatedDomain, in its order); the list adds LISTED_EXTRA.
FIELDS = ("id", "user_id", "subdomain", "domain", "username", "ips", "custom_spf", "default", "legacy",
          "automatic_security", "valid", "dns")
CREATE_FIELDS = ("domain", "subdomain", "username", "ips", "custom_spf", "default", "automatic_security",
                 "custom_dkim_selector", "region")
PATCH_FIELDS = ("default", "custom_spf")
REGIONS = ("global", "eu")
PLANTED_FIELDS = tuple(name for name in CREATE_FIELDS if name != "username") + ("id", "valid", "legacy", "subusers", "last_validation_attempt_at")
MAIL_SERVER = "mx.sendgrid.net"
_SELECTOR_RE = re.compile(r"^[A-Za-z0-9]{1,3}$")


# ----------------------------------------------------------------------------- records

def _record(kind, host, data):
    return {"valid": False, "type": kind, "host": host, "data": data}


def _dkim_key(domain_id):
    """The public key in a manual domain's DKIM record: made of its id, so it never changes."""
    digest = b"".join(hashlib.sha512(f"dkim-{domain_id}-{part}".encode()).digest() for part in range(3))
    return base64.b64encode(digest[:162]).decode("ascii")


def build_dns(domain):
    """The records a domain asks for (see the module docstring), valid where the stored record was and is unchanged."""
    name, host, uid = domain["domain"], f"{domain['subdomain']}.{domain['domain']}", domain["user_id"]
    selector = domain.get("custom_dkim_selector")
    first, second = (selector, f"{selector}2") if selector else ("s1", "s2")
    if domain["automatic_security"]:
        target = f"u{uid}.wl.sendgrid.net"
        records = {"mail_cname": _record("cname", host, target),
                   "dkim1": _record("cname", f"{first}._domainkey.{name}", f"{first}.domainkey.{target}"),
                   "dkim2": _record("cname", f"{second}._domainkey.{name}", f"{second}.domainkey.{target}")}
    else:
        spf = ("v=spf1 " + "".join(f"ip4:{ip} " for ip in domain["ips"]) + "-all" if domain["custom_spf"]
               else "v=spf1 include:sendgrid.net ~all")
        records = {"mail_server": _record("mx", host, MAIL_SERVER),
                   "subdomain_spf": _record("txt", host, spf),
                   "domain_spf": _record("txt", name, f"v=spf1 include:{host} -all"),
                   "dkim": _record("txt", f"{first}._domainkey.{name}", f"k=rsa; t=s; p={_dkim_key(domain['id'])}")}
    before = domain.get("dns") or {}
    for key, record in records.items():
        old = before.get(key)
        record["valid"] = bool(old and old["valid"] and (old["type"], old["host"], old["data"]) ==
                               (record["type"], record["host"], record["data"]))
    return records


def _refresh(domain):
    """Rebuild a domain's records (after a change of custom_spf or of its IPs) and its validity."""
    domain["dns"] = build_dns(domain)
    domain["valid"] = all(record["valid"] for record in domain["dns"].values())


def _shown(domain):
    return {name: domain[name] for name in FIELDS}


def _listed(backend, domain):
    shown = _shown(domain)
    shown["subusers"] = [{"user_id": account_user(backend, name)[1], "username": name}
                         for name in _associated(backend, domain)]
    if domain.get("last_validation_attempt_at") is not None:
        shown["last_validation_attempt_at"] = domain["last_validation_attempt_at"]
    return shown


def _associated(backend, domain):
    """The subusers a domain is associated with, that still exist."""
    return [name for name in domain.get("subusers", []) if backend.subuser(name) is not None]


def _answer_one(request, domain, status=200):
    """PATCH's and /default's answer: [domain] or the bare domain ([] or {} for none), as domain_answer says."""
    if request.backend.setting(DOMAIN_ANSWER_SETTING) == "array":
        return Answer(status, [] if domain is None else [_shown(domain)])
    return Answer(status, {} if domain is None else _shown(domain))


# ----------------------------------------------------------------------------- lookups

def _visible(backend, account):
    """[(owner account, domain)] an account sees, by id: its own, and for the parent those of its subusers."""
    owners = [account] + ([sub["username"] for sub in backend.list_subusers()] if account == PARENT else [])
    found = [(owner, domain) for owner in owners for domain in backend.store[DOMAINS_KEY].get(owner, [])]
    return sorted(found, key=lambda item: item[1]["id"])


def _not_found(value):
    return error(404, f"authenticated domain {value} not found", field="domain_id")


def _find(request, name="domain_id", own=False):
    """(owner, the stored domain) of the path's id among those the account sees (own: only its own), or (None, a 404).

    Call under the backend lock: the domain is the stored object, changed in place by the caller."""
    value = request.path_params[name]
    if re.fullmatch(r"[0-9]{1,18}", value):
        for owner, domain in _visible(request.backend, request.account):
            if domain["id"] == int(value) and (not own or owner == request.account):
                return owner, domain
    return None, _not_found(value)


def _take_default(backend, owner, domain):
    """Make domain the owner's only default one."""
    for other in backend.store[DOMAINS_KEY][owner]:
        other["default"] = other is domain


# ----------------------------------------------------------------------------- handlers

def list_domains(request):
    """GET: a page of the domains the account sees, with their subusers (see the module docstring)."""
    values, problem = page_params(request, ("limit", "offset"))
    if problem:
        return problem
    params = request.params()
    exclude = params.get("exclude_subusers", "false").lower()
    if exclude not in ("true", "false"):
        return invalid([{"field": "exclude_subusers", "message": "exclude_subusers must be true or false"}])
    backend = request.backend
    with backend.lock:
        found = [(owner, domain) for owner, domain in _visible(backend, request.account)
                 if not (exclude == "true" and owner != request.account)]
        if "username" in params:
            found = [(owner, domain) for owner, domain in found if domain["username"] == params["username"]]
        if params.get("domain"):
            found = [(owner, domain) for owner, domain in found if params["domain"].lower() in domain["domain"]]
        return Answer(200, [_listed(backend, domain) for dummy, domain in page(found, values)])


def _create_errors(doc):
    errors = unknown_fields(doc, CREATE_FIELDS)
    if not isinstance(doc.get("domain"), str) or not is_domain(doc["domain"]) or doc["domain"] != doc["domain"].strip():
        errors.append({"field": "domain", "message": "domain is required: a domain name such as example.com"})
    if "subdomain" in doc and not is_labels(doc["subdomain"]):
        errors.append({"field": "subdomain", "message": "subdomain must be DNS labels such as em or news.mail"})
    if "username" in doc and (not isinstance(doc["username"], str) or not doc["username"]):
        errors.append({"field": "username", "message": "username must be a non-empty string"})
    ips = doc.get("ips", [])
    if not isinstance(ips, list):
        errors.append({"field": "ips", "message": "ips must be an array of IPv4 addresses"})
    else:
        for index, ip in enumerate(ips):
            if not _is_ipv4(ip):
                errors.append({"field": f"ips[{index}]", "message": f"ips[{index}] {ip!r} is not an IPv4 address"})
    for name in ("custom_spf", "default", "automatic_security"):
        if name in doc and not isinstance(doc[name], bool):
            errors.append({"field": name, "message": f"{name} must be a boolean"})
    selector = doc.get("custom_dkim_selector")
    if "custom_dkim_selector" in doc and not (isinstance(selector, str) and _SELECTOR_RE.match(selector)):
        errors.append({"field": "custom_dkim_selector", "message": "custom_dkim_selector must be 1 to 3 letters or digits"})
    if doc.get("region", "global") not in REGIONS:
        errors.append({"field": "region", "message": "region must be global or eu"})
    if doc.get("custom_spf") is True and doc.get("automatic_security", True) is not False:
        errors.append({"field": "custom_spf", "message": "custom_spf is only available to a domain with "
                                                         "automatic_security false (manual security)"})
    return errors


def _is_ipv4(value):
    try:
        ipaddress.IPv4Address(value)
    except (ValueError, TypeError):
        return False
    return True


def _owner(request, username):
    """(the account a new domain belongs to, None), or (None, a 400 or 403) for a username naming no allowed one."""
    own_name = account_user(request.backend, request.account)[0]
    if username is None or username == own_name:
        return request.account, None
    if request.account != PARENT:
        return None, error(403, NOT_PARENT, field="username")
    if request.backend.subuser(username) is None:
        return None, invalid([{"field": "username", "message": f"username {username!r} is not this account's nor "
                                                               "one of its subusers'"}])
    return username, None


def new_domain(backend, owner, fields, domain_id):
    """A stored domain of an owner account from (checked) fields."""
    username, user_id = account_user(backend, owner)
    domain = {"id": domain_id, "user_id": user_id, "subdomain": fields.get("subdomain") or f"em{domain_id}",
              "domain": fields["domain"].lower(), "username": username, "ips": list(fields.get("ips", [])),
              "custom_spf": fields.get("custom_spf", False), "default": fields.get("default", False), "legacy": False,
              "automatic_security": fields.get("automatic_security", True), "valid": False, "dns": {},
              "custom_dkim_selector": fields.get("custom_dkim_selector"), "region": fields.get("region", "global"),
              "subusers": [], "last_validation_attempt_at": None}
    domain["subdomain"] = domain["subdomain"].lower()
    _refresh(domain)
    return domain


def create_domain(request):
    """POST: a new domain of the account (or of the subuser username names); 201 with the domain."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = _create_errors(doc)
    if errors:
        return invalid(errors)
    backend = request.backend
    owner, problem = _owner(request, doc.get("username"))
    if problem:
        return problem
    with backend.lock:
        domains = backend.store[DOMAINS_KEY][owner]
        if len(domains) >= MAX_DOMAINS:
            return error(400, f"this account already has the maximum of {MAX_DOMAINS} authenticated domains")
        subdomain = doc.get("subdomain")
        if subdomain and any(d["domain"] == doc["domain"].lower() and d["subdomain"] == subdomain.lower()
                             for d in domains):
            return error(400, f"{subdomain}.{doc['domain']} is already an authenticated domain of this account",
                         field="domain")
        domain = new_domain(backend, owner, doc, backend.next_id(DOMAIN_IDS))
        domains.append(domain)
        if domain["default"]:
            _take_default(backend, owner, domain)
        return Answer(201, _shown(domain))


def get_domain(request):
    """GET of one domain; 404 when the account does not see it."""
    with request.backend.lock:
        dummy, found = _find(request)
        return found if isinstance(found, Answer) else Answer(200, _shown(found))


def update_domain(request):
    """PATCH: default and custom_spf; 200 with [domain] (or the domain, as domain_answer says)."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, PATCH_FIELDS)
    errors += [{"field": name, "message": f"{name} must be a boolean"}
               for name in PATCH_FIELDS if name in doc and not isinstance(doc[name], bool)]
    if errors:
        return invalid(errors)
    backend = request.backend
    with backend.lock:
        owner, domain = _find(request)
        if owner is None:
            return domain
        if doc.get("custom_spf") is True and domain["automatic_security"]:
            return invalid([{"field": "custom_spf", "message": "custom_spf is only available to a domain with "
                                                               "automatic_security false (manual security)"}])
        if not request.not_applied():
            if "custom_spf" in doc and doc["custom_spf"] != domain["custom_spf"]:
                domain["custom_spf"] = doc["custom_spf"]
                _refresh(domain)
            if doc.get("default") is True:
                _take_default(backend, owner, domain)
            elif doc.get("default") is False:
                domain["default"] = False
        return _answer_one(request, domain)


def delete_domain(request):
    """DELETE: 204; 404 when the account does not see it."""
    backend = request.backend
    with backend.lock:
        owner, domain = _find(request)
        if owner is None:
            return domain
        backend.store[DOMAINS_KEY][owner].remove(domain)
    return no_content()


def validate_domain(request):
    """POST .../validate: look every record up; 200 {"id", "valid", "validation_results"}; 500 without an answer."""
    backend = request.backend
    with backend.lock:
        owner, domain = _find(request, "id")
        if owner is None:
            return domain
        dns = {name: dict(record) for name, record in domain["dns"].items()}
    # looked up outside the lock: a slow resolver must not hold up every other request
    results, problem = check_records(request, dns, "domains")
    if problem:
        return problem
    with backend.lock:
        owner, domain = _find(request, "id")
        if owner is None:
            return domain
        for name, result in results.items():
            if name in domain["dns"] and domain["dns"][name]["data"] == dns[name]["data"]:
                domain["dns"][name]["valid"] = result["valid"]
        domain["valid"] = all(record["valid"] for record in domain["dns"].values())
        domain["last_validation_attempt_at"] = int(time.time())
        return Answer(200, {"id": domain["id"], "valid": all(r["valid"] for r in results.values()),
                            "validation_results": results})


def default_domain(request):
    """GET .../default: the account's default domain, or its domain named by ?domain=; [] / {} without one."""
    wanted = request.params().get("domain", "").strip().lower()
    backend = request.backend
    with backend.lock:
        own = backend.store[DOMAINS_KEY][request.account]
        if wanted:
            named = sorted((d for d in own if d["domain"] == wanted), key=lambda d: (not d["default"], d["id"]))
            return _answer_one(request, named[0] if named else None)
        return _answer_one(request, next((d for d in own if d["default"]), None))


def add_ip(request):
    """POST .../ips {"ip"}: the IP is the domain's (once); 200 with the domain."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, ("ip",))
    if not _is_ipv4(doc.get("ip")):
        errors.append({"field": "ip", "message": "ip is required: an IPv4 address"})
    if errors:
        return invalid(errors)
    with request.backend.lock:
        owner, domain = _find(request, "id")
        if owner is None:
            return domain
        if doc["ip"] not in domain["ips"]:
            domain["ips"].append(doc["ip"])
            _refresh(domain)
        return Answer(200, _shown(domain))


def remove_ip(request):
    """DELETE .../ips/{ip}: 200 with the domain; 404 when the domain does not have the IP."""
    with request.backend.lock:
        owner, domain = _find(request, "id")
        if owner is None:
            return domain
        ip = request.path_params["ip"]
        if ip not in domain["ips"]:
            return error(404, f"IP {ip} is not one of authenticated domain {domain['id']}'s", field="ip")
        domain["ips"].remove(ip)
        _refresh(domain)
        return Answer(200, _shown(domain))


def _association_body(request):
    """(username, None) of a POST association body, or (None, the answer refusing it)."""
    refused = parent_only(request)
    if refused:
        return None, refused
    doc, problem = json_object(request)
    if problem:
        return None, problem
    errors = unknown_fields(doc, ("username",))
    if errors:
        return None, invalid(errors)
    return subuser_named(request, doc.get("username"))


def _parent_domains(backend):
    return backend.store[DOMAINS_KEY][PARENT]


def associate(request):
    """POST .../{domain_id}/subuser: the domain is the subuser's only associated one; 201 with the domain."""
    username, problem = _association_body(request)
    if problem:
        return problem
    backend = request.backend
    with backend.lock:
        owner, domain = _find(request, own=True)
        if owner is None:
            return domain
        for other in _parent_domains(backend):
            other["subusers"] = [name for name in other.get("subusers", []) if name != username]
        domain["subusers"].append(username)
        return Answer(201, _shown(domain))


def associate_more(request):
    """POST .../{domain_id}/subuser:add: one more domain of the subuser (five at most); 201 with the domain."""
    username, problem = _association_body(request)
    if problem:
        return problem
    backend = request.backend
    with backend.lock:
        owner, domain = _find(request, own=True)
        if owner is None:
            return domain
        if username not in domain["subusers"]:
            held = sum(username in _associated(backend, other) for other in _parent_domains(backend))
            if held >= MAX_ASSOCIATED:
                return invalid([{"field": "username", "message": f"subuser {username!r} already has the maximum of "
                                                                 f"{MAX_ASSOCIATED} associated authenticated domains"}])
            domain["subusers"].append(username)
        return Answer(201, _shown(domain))


def _query_subuser(request):
    """(username, None) of the ?username= of a parent-only association route, or (None, the answer refusing it)."""
    refused = parent_only(request)
    if refused:
        return None, refused
    return subuser_named(request, request.params().get("username"))


def disassociate(request):
    """DELETE .../{domain_id}/subuser?username=: the subuser loses that domain; 204, 404 when it did not have it."""
    username, problem = _query_subuser(request)
    if problem:
        return problem
    with request.backend.lock:
        owner, domain = _find(request, own=True)
        if owner is None:
            return domain
        if username not in domain["subusers"]:
            return error(404, f"authenticated domain {domain['id']} is not associated with subuser {username!r}",
                         field="username")
        domain["subusers"].remove(username)
    return no_content()


def disassociate_all(request):
    """DELETE .../domains/subuser?username=: the subuser loses every associated domain; 204, 404 when it had none."""
    username, problem = _query_subuser(request)
    if problem:
        return problem
    with request.backend.lock:
        held = [domain for domain in _parent_domains(request.backend) if username in domain["subusers"]]
        if not held:
            return error(404, f"subuser {username!r} has no associated authenticated domain", field="username")
        for domain in held:
            domain["subusers"].remove(username)
    return no_content()


def subuser_domain(request):
    """GET .../domains/subuser?username=: the subuser's first associated domain; 404 when none."""
    username, problem = _query_subuser(request)
    if problem:
        return problem
    with request.backend.lock:
        held = [domain for domain in _parent_domains(request.backend) if username in domain["subusers"]]
        if not held:
            return error(404, f"subuser {username!r} has no associated authenticated domain", field="username")
        return Answer(200, _shown(min(held, key=lambda domain: domain["id"])))


def subuser_domains(request):
    """GET .../domains/subuser/all?username=: every domain associated with the subuser, by id."""
    username, problem = _query_subuser(request)
    if problem:
        return problem
    with request.backend.lock:
        held = sorted((d for d in _parent_domains(request.backend) if username in d["subusers"]), key=lambda d: d["id"])
        return Answer(200, [_shown(domain) for domain in held])


# ----------------------------------------------------------------------------- state put in place by tests

def load_domains(backend, account, value, replace):
    """Setting.load: an account's domains planted from [{"domain", ...}] (see the module docstring); return them."""
    def make(item, domain_id):
        domain = new_domain(backend, account, item, domain_id)
        domain["last_validation_attempt_at"] = item.get("last_validation_attempt_at")
        return domain
    return load_planted(backend, account, value, replace, key=DOMAINS_KEY, ids=DOMAIN_IDS, noun="domain",
                        fields=PLANTED_FIELDS, make=make,
                        create_errors=lambda item: _create_errors({name: item[name] for name in CREATE_FIELDS
                                                                   if name in item}))


DOMAINS = Setting(DOMAINS_KEY, [], None, title="Authenticated domains", load=load_domains)

FAMILY = Family("domains", [
    Route(DOMAINS_PATH, "GET", SCOPE_READ, list_domains),
    Route(DOMAINS_PATH, "POST", SCOPE_CREATE, create_domain),
    Route(DEFAULT_PATH, "GET", SCOPE_READ, default_domain),
    Route(SUBUSER_PATH, "GET", SCOPE_READ, subuser_domain),
    Route(SUBUSER_PATH, "DELETE", SCOPE_UPDATE, disassociate_all),
    Route(SUBUSER_ALL_PATH, "GET", SCOPE_READ, subuser_domains),
    Route(DOMAIN_PATH, "GET", SCOPE_READ, get_domain),
    Route(DOMAIN_PATH, "PATCH", SCOPE_UPDATE, update_domain),
    Route(DOMAIN_PATH, "DELETE", SCOPE_DELETE, delete_domain),
    Route(VALIDATE_PATH, "POST", SCOPE_UPDATE, validate_domain),
    Route(IPS_PATH, "POST", SCOPE_UPDATE, add_ip),
    Route(IP_PATH, "DELETE", SCOPE_UPDATE, remove_ip),
    Route(ASSOCIATE_PATH, "POST", SCOPE_UPDATE, associate),
    Route(ASSOCIATE_PATH, "DELETE", SCOPE_UPDATE, disassociate),
    Route(ADD_PATH, "POST", SCOPE_UPDATE, associate_more),
], [DOMAINS])
