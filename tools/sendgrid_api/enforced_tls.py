"""Enforced TLS (tsg_enforced_tls_v3).

    GET     /v3/user/settings/enforced_tls    user.settings.enforced_tls.read
    PATCH   /v3/user/settings/enforced_tls    user.settings.enforced_tls.update

Kept per account (parent, every subuser, every customer account); a new one starts as
{"require_tls": false, "require_valid_cert": false, "version": 1.1}.  GET and PATCH as every setting object
(common.py: PATCH is partial, a bad field is a 400 naming it and nothing is stored): require_tls and
require_valid_cert are JSON booleans, version one of the numbers 1.1, 1.2, 1.3.

It is the setting state() and set_state() reach when none is named (TLS_SETTING), and the one an account's
"state" in the accounts file sets with bare fields ({"require_tls": true}).
"""

from .common import Family, Setting, boolean, is_number, setting_routes, validate_object

# The setting's key: what state() and set_state() reach when no setting is named.
TLS_SETTING = "user/settings/enforced_tls"
TLS_PATH = "/v3/" + TLS_SETTING
SCOPE_TLS_READ = "user.settings.enforced_tls.read"
SCOPE_TLS_UPDATE = "user.settings.enforced_tls.update"

TLS_VERSIONS = (1.1, 1.2, 1.3)
SETTING_FIELDS = ("require_tls", "require_valid_cert", "version")
DEFAULT_SETTINGS = {"require_tls": False, "require_valid_cert": False, "version": 1.1}


def _version(value):
    return None if is_number(value) and value in TLS_VERSIONS else "must be one of the numbers 1.1, 1.2, 1.3"


def validate_settings(doc):
    """Check a PATCH body; return (changes, errors) where errors is a list of error items."""
    return validate_object(doc, {"require_tls": boolean, "require_valid_cert": boolean, "version": _version})


ENFORCED_TLS = Setting(TLS_SETTING, DEFAULT_SETTINGS, validate_settings, title="Enforced TLS")

FAMILY = Family("enforced_tls", setting_routes(ENFORCED_TLS, SCOPE_TLS_READ, SCOPE_TLS_UPDATE), [ENFORCED_TLS])
