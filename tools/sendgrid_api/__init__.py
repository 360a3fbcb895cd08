"""The endpoint families of the local SendGrid-compatible API server (tools/sendgrid_api_server.py).

ROUTE_TABLE holds one entry per family, each declared in its own file: its routes (path, method -> scope,
handler), the settings it keeps per account (default object, body validation).  To serve a new family,
write tools/sendgrid_api/<family>.py with a FAMILY and add it here; the server core derives from this
table the paths it serves, the scopes (ALL_SCOPES) and the per-account state.
"""

from . import enforced_tls, mail_settings, subusers, tracking_settings

ROUTE_TABLE = (
    enforced_tls.FAMILY,
    subusers.FAMILY,
    tracking_settings.FAMILY,
    mail_settings.FAMILY,
)

# {path: {method: Route}}, methods in declaration order (they make the Allow header of a 405)
ROUTE_INDEX = {}
for _family in ROUTE_TABLE:
    for _route in _family.routes:
        if _route.method in ROUTE_INDEX.setdefault(_route.path, {}):
            raise ValueError(f"route {_route.method} {_route.path} declared twice")
        ROUTE_INDEX[_route.path][_route.method] = _route

# {setting key: Setting}, e.g. "user/settings/enforced_tls", "tracking_settings/click"
SETTINGS = {setting.key: setting for family in ROUTE_TABLE for setting in family.settings}

# Every scope some route needs, family by family.
ALL_SCOPES = tuple(dict.fromkeys(scope for family in ROUTE_TABLE for scope in family.scopes))

__all__ = ["ROUTE_TABLE", "ROUTE_INDEX", "SETTINGS", "ALL_SCOPES", "enforced_tls", "subusers", "tracking_settings",
           "mail_settings"]
