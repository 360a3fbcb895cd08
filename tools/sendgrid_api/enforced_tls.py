"""Enforced TLS: GET/PATCH /v3/user/settings/enforced_tls (tsg_enforced_tls_v3)."""

from .common import Family, Setting, boolean, is_number, setting_routes, validate_object

TLS_PATH = "/v3/user/settings/enforced_tls"
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


ENFORCED_TLS = Setting("user/settings/enforced_tls", DEFAULT_SETTINGS, validate_settings, title="Enforced TLS")

FAMILY = Family("enforced_tls", setting_routes(ENFORCED_TLS, SCOPE_TLS_READ, SCOPE_TLS_UPDATE), [ENFORCED_TLS])
