"""What the two whitelabel families of the local SendGrid-compatible API server share (domains.py, links.py).

No family itself: the identity SendGrid shows of an account (the "username" and "user_id" of a domain or a link),
the validation of a record set by real DNS lookups (dns_check.py), the subuser association's checks and the
list paging of both families.

IDENTITY: an account's username is the one its owner teammate has (teammates.py: "parent", the subuser's username,
"account-777" for the customer account 777); its user_id is PARENT_USER_ID for the parent, a subuser's id (10001...)
and the number of a customer account (a non-numeric customer account id: a stable number made of it).

VALIDATION (check_records()): every record of a dns object ({"mail_cname": {"valid", "type", "host", "data"}, ...})
is looked up at its host with its type (cname, txt, mx) on the configured resolver.  A CNAME record is valid when
the name's CNAME target is its data, whatever the case and the trailing dot; an MX record when one of the name's
mail exchangers is its data (same comparison); a TXT record when one of the name's TXT records (its strings joined)
is its data, spaces collapsed.  Each record gets {"valid", "reason"}: reason null when valid, else what was found,
in the wording of the family's spec (see reason()).  Without a resolver every record is invalid, its reason
dns_check.NO_RESOLVER; a resolver that gives no answer makes the whole validation a 500 {"errors": [{"field": null,
"message": "internal error getting CNAME"}]} (the specs' example), and nothing is stored.
"""

import re
import zlib

from .common import PARENT, error, invalid, is_int
from .dns_check import NO_RESOLVER, LookupFailed, lookup, same_name
from .teammates import owner_username

# The user_id of the parent account (subusers' ids start at 10001, see common.FIRST_SUBUSER_ID).
PARENT_USER_ID = 10000
NOT_PARENT = "you dont have permission to access this resource"
# Reason wordings: "domains" as tsg_domain_authentication_v3's validate example, "links" as tsg_link_branding_v3's.
STYLES = ("domains", "links")
_LABELS_RE = re.compile(r"^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
                        re.IGNORECASE)


def account_user(backend, account):
    """(username, user_id) SendGrid shows for an account."""
    if account == PARENT:
        return owner_username(account), PARENT_USER_ID
    sub = backend.subuser(account)
    if sub is not None:
        return sub["username"], sub["id"]
    number = account.split(" ", 1)[-1]
    return owner_username(account), int(number) if number.isdigit() else zlib.crc32(number.encode()) % 10 ** 9


def is_labels(text):
    """One or more DNS labels (a subdomain such as "em" or "news.mail")."""
    return isinstance(text, str) and bool(_LABELS_RE.match(text))


def parent_only(request):
    """The 403 of a parent-only route called on behalf of a subuser or customer account; None for the parent."""
    return None if request.account == PARENT else error(403, NOT_PARENT)


def subuser_named(request, value, field="username"):
    """(the subuser's username, None) when value names a subuser, else (None, a 400 naming the field)."""
    if not isinstance(value, str) or not value:
        return None, invalid([{"field": field, "message": f"{field} is required: a subuser's username"}])
    if request.backend.subuser(value) is None:
        return None, invalid([{"field": field, "message": f"{field} {value!r} is not a subuser of this account"}])
    return value, None


def page_params(request, names):
    """limit (>= 1, default all) and, when named, offset (>= 0, default 0): ({name: value}, None) or (None, a 400)."""
    params = request.params()
    values, errors = {}, []
    for name, low, default in (("limit", 1, None), ("offset", 0, 0)):
        if name not in names:
            continue
        text = params.get(name)
        if text is None:
            values[name] = default
        elif re.fullmatch(r"\s*\+?[0-9]+\s*", text) and int(text) >= low:
            values[name] = int(text)
        else:
            errors.append({"field": name, "message": f"{name} must be an integer >= {low}"})
    return (None, invalid(errors)) if errors else (values, None)


def page(items, values):
    """The page of items limit and offset select."""
    start = values.get("offset", 0)
    return items[start:] if values["limit"] is None else items[start:start + values["limit"]]


# ----------------------------------------------------------------------------- validation

def _shown(text, style):
    """A name as the reason shows it: with its trailing dot in the links' wording, without it in the domains'."""
    return text.rstrip(".") + "." if style == "links" else text.rstrip(".")


def reason(record, result, style):
    """Why a record is invalid, from what the lookup found (None when it is valid)."""
    kind = record["type"].upper()
    if kind == "TXT":
        expected, found = record["data"], [f'"{text}"' for text in result.records]
    else:
        expected, found = _shown(record["data"], style), [f'"{_shown(text, style)}"' for text in result.records]
    host = _shown(record["host"], style)
    if result.status == "nxdomain":
        what = f'no DNS record at "{host}"'
    elif result.status == "noanswer":
        what = f'no {kind} record at "{host}"'
    else:
        what = ", ".join(found)
    if style == "links":
        return f'Expected {kind} to match "{expected}" but found {what}.'
    return f'Expected your {kind} record to be "{expected}" but found {what}.'


def record_valid(record, result):
    """Whether what the lookup found is the record."""
    if result.status != "found":
        return False
    if record["type"].upper() == "TXT":
        wanted = " ".join(record["data"].split())
        return any(" ".join(text.split()) == wanted for text in result.records)
    return any(same_name(text, record["data"]) for text in result.records)


def check_records(request, dns, style):
    """({record name: {"valid", "reason"}}, None), or (None, the 500 of a resolver that gave no answer)."""
    resolver = request.backend.setting("dns_resolver")
    results = {}
    for name, record in dns.items():
        if resolver is None:
            results[name] = {"valid": False, "reason": NO_RESOLVER}
            continue
        try:
            found = lookup(resolver, record["host"], record["type"].upper())
        except LookupFailed:
            return None, error(500, f"internal error getting {record['type'].upper()}")
        valid = record_valid(record, found)
        results[name] = {"valid": valid, "reason": None if valid else reason(record, found, style)}
    return results, None


# pylint: disable-next=too-many-arguments
def load_planted(backend, account, value, replace, *, key, ids, noun, fields, create_errors, make):
    """Setting.load of domains and links alike: an account's items planted from [{"domain", ...}]; return them.
    ``create_errors(doc)`` checks the fields a POST takes, ``make(item, id)`` builds one item as a POST would."""
    if not isinstance(value, list):
        raise ValueError(f'{key} must be a list of {noun}s {{"domain", ...}}')
    items = [] if replace else backend.get_setting(account, key)
    taken = {held["id"] for other, kept in backend.store[key].items() for held in kept
             if not (replace and other == account)}
    for item in value:
        if not isinstance(item, dict) or set(item) - set(fields) or not isinstance(item.get("domain"), str):
            raise ValueError(f"{key}: {item!r} is not a {noun} {{\"domain\", ...}} (fields: {', '.join(fields)})")
        errors = create_errors(item)
        for name in ("valid", "legacy"):
            if not isinstance(item.get(name, False), bool):
                errors.append({"message": f"{name} must be a boolean"})
        subusers = item.get("subusers", [])
        if not isinstance(subusers, list) or not all(isinstance(name, str) for name in subusers):
            errors.append({"message": "subusers must be a list of usernames"})
        if errors:
            raise ValueError(f"{key}: {noun} {item['domain']!r}: {errors[0]['message']}")
        item_id = item.get("id")
        if item_id is None:
            item_id = backend.next_id(ids)
        elif not is_int(item_id) or item_id <= 0 or item_id in taken:
            raise ValueError(f"{key}: id {item_id!r} is not a positive integer unused by other {noun}s")
        else:
            backend.note_id(ids, item_id)
        taken.add(item_id)
        planted = make(item, item_id)
        planted.update(legacy=item.get("legacy", False), subusers=list(subusers))
        if item.get("valid"):
            for record in planted["dns"].values():
                record["valid"] = True
            planted["valid"] = True
        if planted["default"]:
            for other in items:
                other["default"] = False
        items.append(planted)
    return items
