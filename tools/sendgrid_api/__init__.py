"""The endpoint families of the local SendGrid-compatible API server (tools/sendgrid_api_server.py).

ROUTE_TABLE holds one entry per family, each declared in its own file: its routes (path, method -> scope,
handler), the settings it keeps per account (default object, body validation).  To serve a new family,
write tools/sendgrid_api/<family>.py with a FAMILY and add it here; the server core derives from this
table the paths it serves, the scopes (ALL_SCOPES) and the per-account state.  A route path may hold
{name} parameters (one path segment each); match_path() finds the route of a request path (a plain path first:
/v3/teammates/pending is that route, not /v3/teammates/{username}).

The other files are no family but the server's own parts, used by its core: common.py (what families share),
config.py (start options, runtime settings, the command line), faults.py, access.py (IP access enforcement and
activity), accounts.py (the accounts' state) and transport.py (sockets and threads); whitelabel.py (what domains.py
and links.py share) and dns_check.py (their real DNS lookups, with dnspython) serve two families.
"""

from . import (api_keys, domains, enforced_tls, ip_access, links, mail_settings, scopes, subusers, teammates,
               tracking_settings, webhooks)

ROUTE_TABLE = (
    enforced_tls.FAMILY,
    subusers.FAMILY,
    tracking_settings.FAMILY,
    mail_settings.FAMILY,
    ip_access.FAMILY,
    api_keys.FAMILY,
    teammates.FAMILY,
    domains.FAMILY,
    links.FAMILY,
    webhooks.FAMILY,
    scopes.FAMILY,
)

# {path: {method: Route}}, methods in declaration order (they make the Allow header of a 405); a path with
# parameters is there as declared, e.g. "/v3/access_settings/whitelist/{rule_id}"
ROUTE_INDEX = {}
for _family in ROUTE_TABLE:
    for _route in _family.routes:
        if _route.method in ROUTE_INDEX.setdefault(_route.path, {}):
            raise ValueError(f"route {_route.method} {_route.path} declared twice")
        ROUTE_INDEX[_route.path][_route.method] = _route

# (declared path, compiled pattern) of the paths with parameters, tried in declaration order after the plain paths
ROUTE_PATTERNS = tuple((path, next(iter(methods.values())).pattern) for path, methods in ROUTE_INDEX.items()
                       if next(iter(methods.values())).pattern is not None)
_DECLARED_PATTERNS = frozenset(path for path, dummy in ROUTE_PATTERNS)


def match_path(path):
    """The declared path serving a request path and its parameters: (path, {name: value}), or (None, {})."""
    if path in ROUTE_INDEX and path not in _DECLARED_PATTERNS:
        return path, {}
    for declared, pattern in ROUTE_PATTERNS:
        match = pattern.match(path)
        if match:
            return declared, match.groupdict()
    return None, {}


# {setting key: Setting}, e.g. "user/settings/enforced_tls", "tracking_settings/click"
SETTINGS = {setting.key: setting for family in ROUTE_TABLE for setting in family.settings}

# Every scope some route needs, family by family (a route needing none, such as GET /v3/scopes, adds nothing).
ALL_SCOPES = tuple(dict.fromkeys(scope for family in ROUTE_TABLE for scope in family.scopes))

__all__ = ["ROUTE_TABLE", "ROUTE_INDEX", "ROUTE_PATTERNS", "SETTINGS", "ALL_SCOPES", "match_path", "enforced_tls",
           "subusers", "tracking_settings", "mail_settings", "ip_access", "api_keys", "teammates", "domains", "links",
           "webhooks", "scopes"]
