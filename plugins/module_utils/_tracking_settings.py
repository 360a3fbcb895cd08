# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tracking family (open, click, subscription and Google Analytics tracking), described (and documented) once for
the settings engine.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import Field, Setting, SettingsFamily, Summary

SUMMARY = Summary("/v3/tracking_settings", "tracking_settings.read", "the tracking settings")
# Where SendGrid puts the unsubscribe link: "<% %>", or "<% click here %>" whose words become the link.
LINK_TAG = re.compile(r"<%.*?%>", re.DOTALL)
URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


def _setting(name: str, title: str, description: str, enabled: str, fields: list, idle=None) -> Setting:
    return Setting("tracking_settings." + name, title, "/v3/tracking_settings/" + name, "tracking_settings." + name,
                   [Field("enabled", "bool", enabled)] + fields, SUMMARY, idle=idle, description=description)


def _text(name: str, description: str, check=None) -> Field:
    return Field(name, "str", description, check=check)


def _check_url(url: str) -> str | None:
    return None if url == "" or URL.match(url) else "must be an http:// or https:// URL, or \"\" for none"


def _subscription_idle(desired: dict) -> dict:
    """The spec: without the <% %> tag in the content, the reader has no link to unsubscribe with."""
    if desired.get("enabled") is False:
        return {}
    return {name: "has no <%% %%> tag: SendGrid puts the unsubscribe link there, so without it %s mail carries none"
            % ("HTML" if name == "html_content" else "plain-text")
            for name in ("html_content", "plain_content") if desired.get(name) and not LINK_TAG.search(desired[name])}


CLICK = _setting("click", "the click tracking settings", [
    "Click tracking, which rewrites the links of each message to count clicks.",
    "SendGrid also reports C(enable_text) (whether plain-text mail is click-tracked), but its API does not let it be "
    "set. M(mailops.sendgrid.sendgrid_settings_info) returns it."], "Whether links are rewritten to track clicks.",
    # Whether plain-text mail is click-tracked too: SendGrid reports it, but its PATCH takes only enabled.
    [Field("enable_text", "bool", read_only=True)])
OPEN = _setting("open", "the open tracking settings",
                "Open tracking, which adds an invisible image to each message to count opens.",
                "Whether opens are tracked.", [])
SUBSCRIPTION = _setting("subscription", "the subscription tracking settings",
                        "Subscription tracking, which adds an unsubscribe link to each message.",
                        "Whether the unsubscribe link is added.", [
                            _text("html_content", "The HTML of the unsubscribe text; C(<% %>) marks the link."),
                            _text("plain_content", "The plain-text unsubscribe text; C(<% %>) marks the link."),
                            _text("landing", "The HTML of the page shown after unsubscribing, hosted by SendGrid."),
                            _text("replace", "A tag that, in a message, is replaced by the unsubscribe link."),
                            _text("url", "A page of your own (an http:// or https:// URL) to send unsubscribing "
                                         "recipients to, instead of SendGrid's; V(\"\") for none.",
                                  check=_check_url)],
                        idle=_subscription_idle)
GOOGLE_ANALYTICS = _setting("google_analytics", "the Google Analytics settings",
                            "Google Analytics tracking, which adds C(utm_*) parameters to the links of each message.",
                            "Whether the parameters are added.", [
                                _text("utm_source", "The referrer source."),
                                _text("utm_medium", "The marketing medium, such as C(email)."),
                                _text("utm_term", "Paid keywords."),
                                _text("utm_content", "What tells ads apart."),
                                _text("utm_campaign", "The campaign name.")])

TRACKING_SETTINGS = [CLICK, OPEN, SUBSCRIPTION, GOOGLE_ANALYTICS]

FAMILY = SettingsFamily(
    "tracking", "tracking",
    "The tracking settings, one section per setting, as M(mailops.sendgrid.sendgrid_tracking_settings) manages them. "
    "A section left out is neither read nor changed.",
    TRACKING_SETTINGS, result="tracking_settings", module="sendgrid_tracking_settings")
