# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mail settings family (bounce purge, forwarding, footer, legacy template, address whitelist), described (and
documented) once for the settings engine.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import (
    Field, Setting, SettingsFamily, Summary, check_addresses_or_domains, check_email, check_emails, email_key,
    email_set_key, stripped, stripped_items, within,
)

SUMMARY = Summary("/v3/mail_settings", "mail_settings.read", "the mail settings")
# SendGrid's spec and docs give the purge ages as integers without bounds. Ten years is ours: an age beyond it purges
# nothing a person will ever look for, and 5000 is more likely a typo for 500 than a policy.
MAX_PURGE_DAYS = 3650
BODY_TAG = "<% body %>"


def _setting(name: str, title: str, description: str, enabled: str, fields: list, idle=None) -> Setting:
    return Setting("mail_settings." + name, title, "/v3/mail_settings/" + name, "mail_settings." + name,
                   [Field("enabled", "bool", enabled)] + fields, SUMMARY, idle=idle, description=description)


def _text(name: str, description: str) -> Field:
    return Field(name, "str", description)


def _days(name: str, kind: str) -> Field:
    # The API's null (no purge by age) is the option's 0, so that null keeps meaning "not managed".
    return Field(name, "int", [
        "Days after which %s bounce records are purged, from 0 to 3650. SendGrid states no bound; ten years is this "
        "collection's, so that a typo (5000 for 500) fails before any request." % kind,
        "V(0) means none (the API's C(null)); the API returns C(null) as V(0) too."],
        check=within(0, MAX_PURGE_DAYS, " days (0 for none)"), to_api=lambda days: days or None,
        from_api=lambda days: days or 0)


def _enabled_with(field: str, empty, reason: str):
    """An idle rule: enabled: true with ``field`` given as ``empty`` does nothing."""
    return lambda desired: {field: reason} if desired.get("enabled") is True and desired.get(field) == empty else {}


def _bounce_purge_idle(desired: dict) -> dict:
    if desired.get("enabled") is not True:
        return {}
    if desired.get("soft_bounces") == 0 and desired.get("hard_bounces") == 0:
        return {"": "enabled: true with soft_bounces and hard_bounces 0 (none): it purges nothing"}
    return {name: "0 (none) with enabled: true: %s bounces are never purged; give the days after which to purge them"
            % name.split("_", maxsplit=1)[0] for name in ("soft_bounces", "hard_bounces") if desired.get(name) == 0}


def _footer_idle(desired: dict) -> dict:
    if desired.get("enabled") is True and desired.get("html_content") == "" and desired.get("plain_content") == "":
        return {"": "enabled: true with html_content and plain_content empty: it adds nothing"}
    return {}


def _template_idle(desired: dict) -> dict:
    content = desired.get("html_content")
    if desired.get("enabled") is True and content == "":
        return {"html_content": "empty with enabled: true: the template wraps nothing around the message"}
    if content and BODY_TAG not in content.replace("<%body%>", BODY_TAG):
        return {"html_content": "has no %s tag, where SendGrid puts the message's own content" % BODY_TAG}
    return {}


def _split_addresses(text) -> list:
    """SendGrid's comma-separated string of addresses as a list."""
    return [address.strip() for address in (text or "").split(",") if address.strip()]


# One string of comma-separated addresses in the API; a list here, compared as a set of addresses.
SPAM_ADDRESSES = Field("email", "list", [
    "The addresses to forward to. The API keeps them as one comma-separated string; they are compared as a set, "
    "ignoring order, case and spaces, and sent whole when they differ.",
    "V([]) means none."],
    elements="str", check=check_emails, normal=stripped_items, to_api=", ".join, from_api=_split_addresses,
    key=email_set_key)
# "" is no address: the API's null.
BOUNCE_ADDRESS = Field("email", "str", [
    "The address to forward to, compared ignoring case and spaces.",
    "V(\"\") means none (the API's C(null))."],
    check=check_email, normal=stripped, to_api=lambda address: address or None,
    from_api=lambda address: address or "", key=email_key)
# SendGrid replaces the whole list with any list it is sent, so the list always goes whole.
WHITELIST = Field("list", "list", [
    "The addresses and domains. Compared as a set, ignoring order, case and spaces; when it differs it is sent whole, "
    "since SendGrid replaces the list with the one it is sent.",
    "V([]) empties it."],
    elements="str", check=check_addresses_or_domains, normal=stripped_items,
    from_api=lambda entries: list(entries or []), key=email_set_key)

BOUNCE_PURGE = _setting("bounce_purge", "the bounce purge settings", "Purging bounce records after a number of days.",
                        "Whether bounce records are purged.", [_days("soft_bounces", "soft"), _days("hard_bounces", "hard")],
                        idle=_bounce_purge_idle)
FORWARD_SPAM = _setting("forward_spam", "the spam report forwarding settings",
                        "Forwarding spam reports, and mail to the C(abuse@) and C(postmaster@) addresses of "
                        "authenticated domains.", "Whether spam reports are forwarded.", [SPAM_ADDRESSES],
                        idle=_enabled_with("email", [], "empty with enabled: true: no spam report is forwarded"))
FORWARD_BOUNCE = _setting("forward_bounce", "the bounce forwarding settings", "Forwarding bounce reports.",
                          "Whether bounce reports are forwarded.", [BOUNCE_ADDRESS],
                          idle=_enabled_with("email", "", "\"\" (none) with enabled: true: no bounce is forwarded"))
FOOTER = _setting("footer", "the footer settings", "A footer added to every message.", "Whether the footer is added.",
                  [_text("html_content", "The footer of HTML messages."),
                   _text("plain_content", "The footer of plain-text messages.")], idle=_footer_idle)
TEMPLATE = _setting("template", "the legacy template settings", "The legacy template wrapped around every HTML message.",
                    "Whether the template is used.",
                    [_text("html_content", "The template's HTML; C(<% body %>) marks where the message goes.")],
                    idle=_template_idle)
ADDRESS_WHITELIST = _setting("address_whitelist", "the address whitelist settings",
                             "Addresses and domains whose mail is never suppressed.", "Whether the whitelist applies.",
                             [WHITELIST], idle=_enabled_with("list", [], "empty with enabled: true: no address or "
                                                                         "domain is whitelisted"))

MAIL_SETTINGS = [BOUNCE_PURGE, FORWARD_SPAM, FORWARD_BOUNCE, FOOTER, TEMPLATE, ADDRESS_WHITELIST]

FAMILY = SettingsFamily(
    "mail_settings", "mail settings",
    "The mail settings, one section per setting, as M(mailops.sendgrid.sendgrid_mail_settings) manages them (and "
    "compares them, addresses as sets and V(0) days as none). A section left out is neither read nor changed.",
    MAIL_SETTINGS, result="mail_settings", module="sendgrid_mail_settings")
