# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mail settings (bounce purge, forwarding, footer, legacy template, address whitelist), described for the engine.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import (
    Field, Setting, Summary, at_least, check_addresses_or_domains, check_email, check_emails, email_key, email_set_key,
)

SUMMARY = Summary("/v3/mail_settings", "mail_settings.read", "the mail settings")


def _setting(name: str, title: str, fields: list) -> Setting:
    return Setting("mail_settings." + name, title, "/v3/mail_settings/" + name, "mail_settings." + name,
                   [Field("enabled", dict(type="bool"))] + fields, SUMMARY)


def _text(name: str) -> Field:
    return Field(name, dict(type="str"))


def _days(name: str) -> Field:
    # The API's null (no purge by age) is the option's 0, so that null keeps meaning "not managed".
    return Field(name, dict(type="int"), check=at_least(0, " (0 for none)"),
                 to_api=lambda days: days or None, from_api=lambda days: days or 0)


def _address_list(addresses: list) -> list:
    return [address.strip() for address in addresses]


def _split_addresses(text) -> list:
    """SendGrid's comma-separated string of addresses as a list."""
    return [address.strip() for address in (text or "").split(",") if address.strip()]


BOUNCE_PURGE = _setting("bounce_purge", "the bounce purge settings", [_days("soft_bounces"), _days("hard_bounces")])
FORWARD_SPAM = _setting("forward_spam", "the spam report forwarding settings", [
    # One string of comma-separated addresses in the API; a list here, compared as a set of addresses.
    Field("email", dict(type="list", elements="str"), check=check_emails,
          to_api=lambda addresses: ", ".join(_address_list(addresses)), from_api=_split_addresses, key=email_set_key),
])
FORWARD_BOUNCE = _setting("forward_bounce", "the bounce forwarding settings", [
    # "" is no address: the API's null.
    Field("email", dict(type="str"), check=check_email, to_api=lambda address: address.strip() or None,
          from_api=lambda address: address or "", key=email_key),
])
FOOTER = _setting("footer", "the footer settings", [_text("html_content"), _text("plain_content")])
TEMPLATE = _setting("template", "the legacy template settings", [_text("html_content")])
ADDRESS_WHITELIST = _setting("address_whitelist", "the address whitelist settings", [
    # SendGrid replaces the whole list with any list it is sent, so the list always goes whole.
    Field("list", dict(type="list", elements="str"), check=check_addresses_or_domains,
          to_api=_address_list, from_api=lambda entries: list(entries or []), key=email_set_key),
])

MAIL_SETTINGS = [BOUNCE_PURGE, FORWARD_SPAM, FORWARD_BOUNCE, FOOTER, TEMPLATE, ADDRESS_WHITELIST]
