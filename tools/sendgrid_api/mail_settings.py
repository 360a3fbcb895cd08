"""Mail settings (tsg_mail_settings_v3).

    GET         /v3/mail_settings?limit=&offset=          mail_settings.read
    GET, PATCH  /v3/mail_settings/address_whitelist       mail_settings.address_whitelist.read / .update
    GET, PATCH  /v3/mail_settings/bounce_purge            mail_settings.bounce_purge.read / .update
    GET, PATCH  /v3/mail_settings/footer                  mail_settings.footer.read / .update
    GET, PATCH  /v3/mail_settings/forward_bounce          mail_settings.forward_bounce.read / .update
    GET, PATCH  /v3/mail_settings/forward_spam            mail_settings.forward_spam.read / .update
    GET, PATCH  /v3/mail_settings/template                mail_settings.template.read / .update

Kept per account; a new one starts as:

    mail_settings/address_whitelist  {"enabled": false, "list": []}
    mail_settings/bounce_purge       {"enabled": false, "soft_bounces": null, "hard_bounces": null}
    mail_settings/footer             {"enabled": false, "html_content": "", "plain_content": ""}
    mail_settings/forward_bounce     {"enabled": false, "email": null}
    mail_settings/forward_spam       {"enabled": false, "email": ""}
    mail_settings/template           {"enabled": false, "html_content": ""}

GET and PATCH of one setting as every setting object (common.py: PATCH is partial, a bad field is a 400 naming
it and nothing is stored).  enabled is a JSON boolean everywhere.  Fields: address_whitelist list (an array of
e-mail addresses or domains; a PATCH with list replaces the whole list); bounce_purge soft_bounces, hard_bounces
(integer or null); footer html_content, plain_content and template html_content (strings); forward_bounce email
(one address, "" or null); forward_spam email (ONE string of comma-separated addresses, "a@example.com,
b@example.com", stored as given, "" for none).

GET /v3/mail_settings answers {"result": [{"title", "enabled", "name", "description"}]} for address_whitelist,
bounce_purge, footer, forward_bounce, forward_spam, template, each enabled as stored, paged by limit (an integer
>= 1, default: all) and offset (an integer >= 0, default 0); a bad one is a 400 naming it.
"""

from .common import (Answer, Family, Route, Setting, boolean, integer_or_null, invalid, is_domain, is_email,
                     query_integer, setting_routes, string, validator)

SUMMARY_PATH = "/v3/mail_settings"
SCOPE_READ = "mail_settings.read"


def address_list(value):
    """Check: a list of e-mail addresses or domains."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return "must be an array of strings"
    bad = [item for item in value if not (is_email(item) or is_domain(item))]
    return f"must hold e-mail addresses or domains only, not {', '.join(map(repr, bad))}" if bad else None


def address_or_null(value):
    """Check: one e-mail address, "" or null."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "must be a string or null"
    return None if is_email(value) else f"must be an e-mail address, \"\" or null, not {value!r}"


def comma_separated_addresses(value):
    """Check: one string of comma-separated e-mail addresses ("" for none)."""
    if not isinstance(value, str):
        return "must be a string (comma-separated e-mail addresses)"
    if value.strip() == "":
        return None
    bad = [item for item in value.split(",") if not is_email(item)]
    return f"must hold comma-separated e-mail addresses only, not {', '.join(map(repr, bad))}" if bad else None


# In the summary's order (by name).
SETTINGS = (
    Setting("mail_settings/address_whitelist", {"enabled": False, "list": []},
            validator({"enabled": boolean, "list": address_list}), title="Address Whitelist",
            description="Never suppress mail to these e-mail addresses or domains."),
    Setting("mail_settings/bounce_purge", {"enabled": False, "soft_bounces": None, "hard_bounces": None},
            validator({"enabled": boolean, "soft_bounces": integer_or_null, "hard_bounces": integer_or_null}),
            title="Bounce Purge", description="Purge contacts from your bounce suppression lists after these many days."),
    Setting("mail_settings/footer", {"enabled": False, "html_content": "", "plain_content": ""},
            validator({"enabled": boolean, "html_content": string, "plain_content": string}), title="Footer",
            description="Insert a custom footer at the bottom of your text and HTML emails."),
    Setting("mail_settings/forward_bounce", {"enabled": False, "email": None},
            validator({"enabled": boolean, "email": address_or_null}), title="Forward Bounce",
            description="Forward bounce reports to this e-mail address."),
    Setting("mail_settings/forward_spam", {"enabled": False, "email": ""},
            validator({"enabled": boolean, "email": comma_separated_addresses}), title="Forward Spam",
            description="Forward spam reports to these e-mail addresses."),
    Setting("mail_settings/template", {"enabled": False, "html_content": ""},
            validator({"enabled": boolean, "html_content": string}), title="Legacy Email Template",
            description="Wrap an HTML template around your email content."),
)


def scope(setting, action):
    """mail_settings.<name>.<action>."""
    return f"mail_settings.{setting.name}.{action}"


def summary(request):
    """A page of the account's mail settings with their enabled flags; limit >= 1 (default: all), offset >= 0."""
    params = request.params()
    errors = []
    limit = query_integer(params, "limit", 1, errors)
    offset = query_integer(params, "offset", 0, errors)
    if errors:
        return invalid(errors)
    offset = offset or 0
    page = SETTINGS[offset:] if limit is None else SETTINGS[offset:offset + limit]
    result = []
    for setting in page:
        stored = request.backend.get_setting(request.account, setting.key)
        result.append({"title": setting.title, "enabled": stored.get("enabled"), "name": setting.name,
                       "description": setting.description})
    return Answer(200, {"result": result})


ROUTES = [Route(SUMMARY_PATH, "GET", SCOPE_READ, summary)]
for _setting in SETTINGS:
    ROUTES.extend(setting_routes(_setting, scope(_setting, "read"), scope(_setting, "update")))

FAMILY = Family("mail_settings", ROUTES, SETTINGS)
