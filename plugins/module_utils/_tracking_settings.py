# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tracking settings (open, click, subscription and Google Analytics tracking), described for the settings engine.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import Field, Setting, Summary

SUMMARY = Summary("/v3/tracking_settings", "tracking_settings.read", "the tracking settings")
# Where SendGrid puts the unsubscribe link: "<% %>", or "<% click here %>" whose words become the link.
LINK_TAG = re.compile(r"<%.*?%>", re.DOTALL)
URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


def _setting(name: str, title: str, fields: list, idle=None) -> Setting:
    return Setting("tracking_settings." + name, title, "/v3/tracking_settings/" + name, "tracking_settings." + name,
                   [Field("enabled", dict(type="bool"))] + fields, SUMMARY, idle=idle)


def _text(name: str, check=None) -> Field:
    return Field(name, dict(type="str"), check=check)


def _check_url(url: str) -> str | None:
    return None if url == "" or URL.match(url) else "must be an http:// or https:// URL, or \"\" for none"


def _subscription_idle(desired: dict) -> dict:
    """The spec: without the <% %> tag in the content, the reader has no link to unsubscribe with."""
    if desired.get("enabled") is False:
        return {}
    return {name: "has no <%% %%> tag: SendGrid puts the unsubscribe link there, so without it %s mail carries none"
            % ("HTML" if name == "html_content" else "plain-text")
            for name in ("html_content", "plain_content") if desired.get(name) and not LINK_TAG.search(desired[name])}


CLICK = _setting("click", "the click tracking settings",
                 # Whether plain-text mail is click-tracked too: SendGrid reports it, but its PATCH takes only enabled.
                 [Field("enable_text", dict(type="bool"), read_only=True)])
OPEN = _setting("open", "the open tracking settings", [])
SUBSCRIPTION = _setting("subscription", "the subscription tracking settings",
                        [_text(name) for name in ("html_content", "plain_content", "landing", "replace")]
                        + [_text("url", check=_check_url)], idle=_subscription_idle)
GOOGLE_ANALYTICS = _setting("google_analytics", "the Google Analytics settings",
                            [_text(name) for name in ("utm_source", "utm_medium", "utm_term", "utm_content", "utm_campaign")])

TRACKING_SETTINGS = [CLICK, OPEN, SUBSCRIPTION, GOOGLE_ANALYTICS]
