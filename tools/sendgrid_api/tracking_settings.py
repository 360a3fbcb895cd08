"""Tracking settings (tsg_tracking_settings_v3).

    GET         /v3/tracking_settings                    tracking_settings.read
    GET, PATCH  /v3/tracking_settings/click              tracking_settings.click.read / .update
    GET, PATCH  /v3/tracking_settings/google_analytics   tracking_settings.google_analytics.read / .update
    GET, PATCH  /v3/tracking_settings/open               tracking_settings.open.read / .update
    GET, PATCH  /v3/tracking_settings/subscription       tracking_settings.subscription.read / .update

Kept per account; a new one starts as:

    tracking_settings/click             {"enable_text": false, "enabled": true}
    tracking_settings/google_analytics  {"enabled": false, "utm_source": "", "utm_medium": "", "utm_term": "",
                                         "utm_content": "", "utm_campaign": ""}
    tracking_settings/open              {"enabled": true}
    tracking_settings/subscription      {"enabled": false, "html_content": "", "plain_content": "", "landing": "",
                                         "replace": "", "url": ""}

GET and PATCH of one setting as every setting object (common.py: PATCH is partial, a bad field is a 400 naming
it and nothing is stored).  enabled is a JSON boolean; google_analytics' utm_* and subscription's html_content,
plain_content, landing, replace, url are strings.  click's enable_text is read-only (its PATCH body holds enabled
alone): a PATCH carrying it is a 400.

GET /v3/tracking_settings answers {"result": [{"name", "title", "description", "enabled"}]} for click,
google_analytics, open, subscription, each enabled as stored.
"""

from .common import Answer, Family, Route, Setting, boolean, setting_routes, string, validator

SUMMARY_PATH = "/v3/tracking_settings"
SCOPE_READ = "tracking_settings.read"

UTM_FIELDS = ("utm_source", "utm_medium", "utm_term", "utm_content", "utm_campaign")
SUBSCRIPTION_FIELDS = ("html_content", "plain_content", "landing", "replace", "url")

# In the summary's order (by name).
SETTINGS = (
    Setting("tracking_settings/click", {"enable_text": False, "enabled": True},
            validator({"enabled": boolean}, read_only=("enable_text",)), title="Click Tracking",
            description="Overrides every link in your emails so that clicks on them are tracked."),
    Setting("tracking_settings/google_analytics", dict({"enabled": False}, **{name: "" for name in UTM_FIELDS}),
            validator(dict({"enabled": boolean}, **{name: string for name in UTM_FIELDS})), title="Google Analytics",
            description="Adds Google Analytics utm_ parameters to the links in your emails."),
    Setting("tracking_settings/open", {"enabled": True}, validator({"enabled": boolean}), title="Open Tracking",
            description="Adds an invisible image to your emails to track when they are opened."),
    Setting("tracking_settings/subscription", dict({"enabled": False}, **{name: "" for name in SUBSCRIPTION_FIELDS}),
            validator(dict({"enabled": boolean}, **{name: string for name in SUBSCRIPTION_FIELDS})),
            title="Subscription Tracking",
            description="Adds unsubscribe links to the bottom of your emails."),
)


def scope(setting, action):
    """tracking_settings.<name>.<action>."""
    return f"tracking_settings.{setting.name}.{action}"


def summary(request):
    """Every tracking setting of the account with its enabled flag."""
    result = []
    for setting in SETTINGS:
        stored = request.backend.get_setting(request.account, setting.key)
        result.append({"name": setting.name, "title": setting.title, "description": setting.description,
                       "enabled": stored.get("enabled")})
    return Answer(200, {"result": result})


ROUTES = [Route(SUMMARY_PATH, "GET", SCOPE_READ, summary)]
for _setting in SETTINGS:
    ROUTES.extend(setting_routes(_setting, scope(_setting, "read"), scope(_setting, "update")))

FAMILY = Family("tracking_settings", ROUTES, SETTINGS)
