"""IP Access Management (tsg_ip_access_management_v3): the addresses allowed to use an account, and its access activity.

    GET     /v3/access_settings/whitelist              access_settings.whitelist.read
    POST    /v3/access_settings/whitelist              access_settings.whitelist.create
    DELETE  /v3/access_settings/whitelist              access_settings.whitelist.delete
    GET     /v3/access_settings/whitelist/{rule_id}    access_settings.whitelist.read
    DELETE  /v3/access_settings/whitelist/{rule_id}    access_settings.whitelist.delete
    GET     /v3/access_settings/activity?limit=N       access_settings.activity.read

Each account (parent, subuser, customer account) has its own allow list of rules {"id", "ip", "created_at",
"updated_at"} (ids: integers from one counter per server, never reused, not even after a reset; times: epoch
seconds); it starts empty, and an empty list permits every address.  GET answers {"result": [rules]} in id order; GET of one rule {"result": [rule]} (the spec's
IpAccessManagement2xx shape), 404 for an id that is not on the account's list.

POST takes {"ips": [{"ip": "..."}, ...]} (a non-empty array; nothing else in the body or its items) and
checks every entry before storing any: a bad one is a 400 naming it ("ips[2].ip") and nothing is stored.  An
entry is stored canonical, as SendGrid does: an address is its one-address network (192.168.1.1 ->
192.168.1.1/32, 2001:db8::1 -> 2001:db8::1/128), a CIDR network loses its host bits (10.1.2.3/8 ->
10.0.0.0/8, IPv6 compressed and lower case) and the IPv4 wildcards 192.*.*.*, 192.168.*.*, 192.168.1.* are
the /8, /16 and /24 networks.  Other wildcards, netmask prefixes (/255.0.0.0), zone ids and surrounding
spaces are refused.  It answers 201 {"result": [rules]}, one rule per distinct network asked for, in the
order asked.  DUPLICATES: an entry whose network is already on the list (however it was written) is not
added again: its existing rule (id, created_at, updated_at unchanged) is what the result shows for it, so a
client repeating a POST gets the same ids back and the list never holds one network twice.

DELETE takes {"ids": [integers]} (non-empty) and answers 204 without a body; any other ids is a 400; an id not
on the account's list is a 404 naming it, and then nothing is removed.  DELETE of one rule: 204, or 404.

GET /v3/access_settings/activity answers {"result": [{"allowed", "auth_method", "first_at", "ip", "last_at",
"location"}]}, most recent last_at first, at most limit entries (an integer >= 1, default 20; no maximum).
Every API request is recorded there, for the account it targets and for the parent: one entry per (ip,
allowed, auth_method).  How the lists are enforced on every route, which client address counts
(--trust-forwarded-for) and how activity is recorded: access.py.

Tests put lists in place with set_state(account, ["1.2.3.4", ...], setting="access_settings/whitelist"), PUT
/__control__/state with that "setting", or "access_settings/whitelist": [...] in an account's "state" of the
accounts file (see load_rules: strings canonicalised, rule objects taken as they are).
"""

import ipaddress
import itertools
import re
import time

from .common import Answer, Family, Route, Setting, error, invalid, is_int, json_object, no_content, query_integer, unknown_fields

WHITELIST_KEY = "access_settings/whitelist"
WHITELIST_PATH = "/v3/" + WHITELIST_KEY
RULE_PATH = WHITELIST_PATH + "/{rule_id}"
ACTIVITY_PATH = "/v3/access_settings/activity"

SCOPE_WHITELIST_READ = "access_settings.whitelist.read"
SCOPE_WHITELIST_CREATE = "access_settings.whitelist.create"
SCOPE_WHITELIST_DELETE = "access_settings.whitelist.delete"
SCOPE_ACTIVITY_READ = "access_settings.activity.read"

ACTIVITY_DEFAULT_LIMIT = 20
# What activity entries say of API requests: every one authenticates (or fails to) with an API key; no geolocation here.
AUTH_METHOD_API_KEY = "API Key"
LOCATION = ""
# The name of the rule id counter (Backend.next_id).
RULE_IDS = "access_settings/whitelist"

_PREFIX_RE = re.compile(r"[0-9]{1,3}")
_BRACKETED_RE = re.compile(r"\[([^\]]+)\](?::[0-9]+)?")
_RULE_ID_RE = re.compile(r"[0-9]{1,18}")
BAD_ENTRY = "is not an IP address, a CIDR network or a wildcard address (a.*.*.*, a.b.*.*, a.b.c.*)"


# ----------------------------------------------------------------------------- addresses and networks

def parse_network(text):
    """The network an allow-list entry names (see the module docstring); ValueError when it names none."""
    if not isinstance(text, str):
        raise ValueError("must be a string")
    bad = ValueError(f"{text!r} {BAD_ENTRY}")
    if not text or text != text.strip() or "%" in text:
        raise bad
    address, slash, prefix = text.partition("/")
    if "*" in address:
        parts = address.split(".")
        fixed = list(itertools.takewhile(lambda part: part != "*", parts))
        if slash or len(parts) != 4 or not 1 <= len(fixed) <= 3 or "*" in "".join(fixed) or set(parts[len(fixed):]) != {"*"}:
            raise bad
        address, slash, prefix = ".".join(fixed + ["0"] * (4 - len(fixed))), "/", str(8 * len(fixed))
    if slash and not _PREFIX_RE.fullmatch(prefix):
        raise bad
    try:
        return ipaddress.ip_network(address + slash + prefix, strict=False)
    except ValueError:
        raise bad from None


def canonical(text):
    """The canonical form SendGrid stores for an entry: "192.168.1.1" -> "192.168.1.1/32"; ValueError when invalid."""
    return str(parse_network(text))


def rule_network(rule):
    """The network of a stored rule, None when its ip (drift put there by a test) names none."""
    try:
        return parse_network(rule.get("ip")) if isinstance(rule, dict) else None
    except ValueError:
        return None


def parse_address(text):
    """An IP address (an IPv4-mapped IPv6 one as the IPv4 address), None when text is not one."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(text):
    """How a client address is shown and matched: "::ffff:10.0.0.1" -> "10.0.0.1"; text as it is when not an address."""
    address = parse_address(text)
    return text if address is None else str(address)


def forwarded_address(header):
    """The first address of an X-Forwarded-For value (without a port after it), None when it starts with no address."""
    first = (header or "").split(",", 1)[0].strip()
    bracketed = _BRACKETED_RE.fullmatch(first)
    if bracketed:
        first = bracketed.group(1)
    elif first.count(":") == 1:
        first = first.partition(":")[0]
    address = parse_address(first)
    return None if address is None else str(address)


def covers(rules, address):
    """Whether some rule's network holds the address (a string)."""
    parsed = parse_address(address)
    if parsed is None:
        return False
    for rule in rules:
        network = rule_network(rule)
        if network is not None and network.version == parsed.version and parsed in network:
            return True
    return False


def permitted(rules, address):
    """Whether an allow list lets the address in: an empty list lets everyone in (the feature is off)."""
    return not rules or covers(rules, address)


# ----------------------------------------------------------------------------- handlers

def _rule(rule_id, network, now):
    return {"id": rule_id, "ip": network, "created_at": now, "updated_at": now}


def _by_id(rules):
    return sorted(rules, key=lambda rule: rule["id"])


def _requested_networks(doc):
    """The networks a POST body asks for, distinct, in order; or (None, errors)."""
    errors = unknown_fields(doc, ("ips",))
    ips = doc.get("ips")
    if not isinstance(ips, list) or not ips:
        errors.append({"field": "ips", "message": 'ips is required: a non-empty array of {"ip": "..."} objects'})
        return None, errors
    networks = []
    for index, item in enumerate(ips):
        where = f"ips[{index}]"
        if not isinstance(item, dict) or "ip" not in item:
            errors.append({"field": where, "message": f'{where} must be an object {{"ip": "..."}}'})
            continue
        errors.extend(unknown_fields(item, ("ip",), where + "."))
        try:
            networks.append(parse_network(item["ip"]))
        except ValueError as exc:
            errors.append({"field": f"{where}.ip", "message": f"{where}.ip {exc}"})
    return (None, errors) if errors else (list(dict.fromkeys(networks)), [])


def list_rules(request):
    """GET: the account's allow list, in id order."""
    return Answer(200, {"result": _by_id(request.backend.get_setting(request.account, WHITELIST_KEY))})


def add_rules(request):
    """POST: validate every entry, then add the networks not on the list yet; 201 with the rules of every entry."""
    doc, problem = json_object(request)
    if problem:
        return problem
    networks, errors = _requested_networks(doc)
    if errors:
        return invalid(errors)
    backend = request.backend

    def add(rules):
        now = int(time.time())
        result = []
        for network in networks:
            rule = next((rule for rule in rules if rule_network(rule) == network), None)
            if rule is None:
                rule = _rule(backend.next_id(RULE_IDS), str(network), now)
                rules.append(rule)
            result.append(rule)
        return rules, result

    return Answer(201, {"result": backend.modify_setting(request.account, WHITELIST_KEY, add)})


def delete_rules(request):
    """DELETE: remove the rules of every id given, or none when one is not on the list (404)."""
    doc, problem = json_object(request)
    if problem:
        return problem
    errors = unknown_fields(doc, ("ids",))
    ids = doc.get("ids")
    if not isinstance(ids, list) or not ids or not all(is_int(rule_id) for rule_id in ids):
        errors.append({"field": "ids", "message": "ids is required: a non-empty array of integer rule ids"})
    if errors:
        return invalid(errors)

    def remove(rules):
        present = {rule["id"] for rule in rules}
        missing = [rule_id for rule_id in dict.fromkeys(ids) if rule_id not in present]
        if missing:
            return rules, missing
        return [rule for rule in rules if rule["id"] not in ids], []

    missing = request.backend.modify_setting(request.account, WHITELIST_KEY, remove)
    if missing:
        listed = ", ".join(map(str, missing))
        return error(404, f"no allowed IP with id {listed} on this account: nothing was removed", field="ids")
    return no_content()


def _find_rule(request, rules):
    text = request.path_params["rule_id"]
    rule_id = int(text) if _RULE_ID_RE.fullmatch(text) else None
    return next((rule for rule in rules if rule_id is not None and rule["id"] == rule_id), None)


def _rule_not_found(request):
    return error(404, f"no allowed IP with id {request.path_params['rule_id']} on this account")


def get_rule(request):
    """GET of one rule: {"result": [rule]}, 404 when its id is not on the list."""
    rule = _find_rule(request, request.backend.get_setting(request.account, WHITELIST_KEY))
    return _rule_not_found(request) if rule is None else Answer(200, {"result": [rule]})


def delete_rule(request):
    """DELETE of one rule: 204, 404 when its id is not on the list."""

    def remove(rules):
        rule = _find_rule(request, rules)
        return [other for other in rules if other is not rule], rule

    removed = request.backend.modify_setting(request.account, WHITELIST_KEY, remove)
    return _rule_not_found(request) if removed is None else no_content()


def list_activity(request):
    """GET: the account's access activity, most recent first; limit >= 1 (default 20)."""
    errors = []
    limit = query_integer(request.params(), "limit", 1, errors)
    if errors:
        return invalid(errors)
    return Answer(200, {"result": request.backend.activity(request.account)[:limit or ACTIVITY_DEFAULT_LIMIT]})


# ----------------------------------------------------------------------------- state put in place by tests

def load_rules(backend, account, value, replace):
    """Setting.load: an account's list from [ip strings and/or rule objects] or {"result": [...]}; return it.

    A string is canonicalised (ValueError when invalid) and skipped when its network is on the list already;
    it gets a new id.  A rule object {"ip", "id"?, "created_at"?, "updated_at"?, ...} is stored as given,
    unvalidated (drift: "ip" may be non-canonical or invalid), with a new id unless it has one; an id must be
    a positive integer no other rule of any account holds.  replace drops the list first, else the list grows.
    """
    if isinstance(value, dict) and set(value) == {"result"}:
        value = value["result"]
    if not isinstance(value, list):
        raise ValueError(f'{WHITELIST_KEY} must be a list of IP strings or rules, or {{"result": [rules]}}')
    rules = [] if replace else backend.get_setting(account, WHITELIST_KEY)
    taken = {rule["id"] for other, listed in backend.state(WHITELIST_KEY).items() if other != account for rule in listed}
    taken.update(rule["id"] for rule in rules)
    now = int(time.time())
    for item in value:
        if isinstance(item, str):
            network = parse_network(item)
            if any(rule_network(rule) == network for rule in rules):
                continue
            rule = _rule(backend.next_id(RULE_IDS), str(network), now)
        elif isinstance(item, dict) and isinstance(item.get("ip"), str):
            rule = {"created_at": now, "updated_at": item.get("created_at", now), **item}
            if rule.get("id") is None:
                rule["id"] = backend.next_id(RULE_IDS)
            elif not is_int(rule["id"]) or rule["id"] <= 0 or rule["id"] in taken:
                raise ValueError(f"{WHITELIST_KEY}: rule id {rule['id']!r} is not a positive integer unused by other rules")
            else:
                backend.note_id(RULE_IDS, rule["id"])
        else:
            raise ValueError(f'{WHITELIST_KEY}: {item!r} is neither an IP string nor a rule {{"ip": "...", ...}}')
        taken.add(rule["id"])
        rules.append(rule)
    return rules


WHITELIST = Setting(WHITELIST_KEY, [], None, title="IP Access Management allow list", load=load_rules)

FAMILY = Family("ip_access", [
    Route(WHITELIST_PATH, "GET", SCOPE_WHITELIST_READ, list_rules),
    Route(WHITELIST_PATH, "POST", SCOPE_WHITELIST_CREATE, add_rules),
    Route(WHITELIST_PATH, "DELETE", SCOPE_WHITELIST_DELETE, delete_rules),
    Route(RULE_PATH, "GET", SCOPE_WHITELIST_READ, get_rule),
    Route(RULE_PATH, "DELETE", SCOPE_WHITELIST_DELETE, delete_rule),
    Route(ACTIVITY_PATH, "GET", SCOPE_ACTIVITY_READ, list_activity),
], [WHITELIST])
