# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The settings engine over the tracking and mail settings: which requests reconcile() sends, and with what bodies."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, strategies as st

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._enforced_tls import ENFORCED_TLS
from ansible_collections.mailops.sendgrid.plugins.module_utils._mail_settings import (
    ADDRESS_WHITELIST, BOUNCE_PURGE, FOOTER, FORWARD_BOUNCE, FORWARD_SPAM, MAIL_SETTINGS, TEMPLATE,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import PartlyWritten, read, reconcile, select
from ansible_collections.mailops.sendgrid.plugins.module_utils._tracking_settings import (
    CLICK, GOOGLE_ANALYTICS, OPEN, SUBSCRIPTION, TRACKING_SETTINGS,
)

# What the API holds, in its own names and forms, per path.
API_STATE = {
    "/v3/tracking_settings/click": {"enable_text": False, "enabled": True},
    "/v3/tracking_settings/open": {"enabled": True},
    "/v3/tracking_settings/subscription": {"enabled": False, "html_content": "", "plain_content": "", "landing": "",
                                           "replace": "", "url": ""},
    "/v3/tracking_settings/google_analytics": {"enabled": False, "utm_source": "", "utm_medium": "", "utm_term": "",
                                               "utm_content": "", "utm_campaign": ""},
    "/v3/mail_settings/bounce_purge": {"enabled": False, "soft_bounces": None, "hard_bounces": None},
    "/v3/mail_settings/forward_spam": {"enabled": True, "email": "Abuse@Example.com, postmaster@example.com"},
    "/v3/mail_settings/forward_bounce": {"enabled": False, "email": None},
    "/v3/mail_settings/footer": {"enabled": False, "html_content": "", "plain_content": ""},
    "/v3/mail_settings/template": {"enabled": False, "html_content": ""},
    "/v3/mail_settings/address_whitelist": {"enabled": True, "list": ["example.com", "ops@example.org"]},
    "/v3/user/settings/enforced_tls": {"require_tls": False, "require_valid_cert": False, "version": 1.1},
}
SUMMARIES = {"/v3/tracking_settings": "/v3/tracking_settings/", "/v3/mail_settings": "/v3/mail_settings/"}


class FakeAccount:
    """Answers like the API from API_STATE (summaries included) and records every request."""

    def __init__(self, state=None, summary_leaves_out=()):
        self.state = copy.deepcopy(state or API_STATE)
        self.summary_leaves_out = summary_leaves_out
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, body))
        if path in SUMMARIES:
            prefix = SUMMARIES[path]
            return {"result": [{"name": p[len(prefix):], "title": "...", "description": "...", "enabled": v["enabled"]}
                               for p, v in self.state.items()
                               if p.startswith(prefix) and p[len(prefix):] not in self.summary_leaves_out]}
        if method == "PATCH":
            self.state[path].update(body)
        return dict(self.state[path])


def desired(*pairs) -> dict:
    return {setting: setting.desired(values) for setting, values in pairs}


def test_sections_with_only_enabled_cost_one_summary_get_per_family():
    account = FakeAccount()
    outcomes = reconcile(account, desired((CLICK, {"enabled": True}), (OPEN, {"enabled": True}),
                                          (FORWARD_SPAM, {"enabled": True})), check_mode=False)
    assert account.sent == [("GET", "/v3/tracking_settings", None), ("GET", "/v3/mail_settings", None)]
    assert outcomes["tracking_settings.click"] == dict(changed=False, changes={}, before={"enabled": True},
                                                       after={"enabled": True})


def test_an_enabled_flag_that_differs_is_patched_alone_after_the_summary():
    account = FakeAccount()
    outcomes = reconcile(account, desired((CLICK, {"enabled": False}), (OPEN, {"enabled": True})), check_mode=False)
    assert account.sent == [("GET", "/v3/tracking_settings", None),
                            ("PATCH", "/v3/tracking_settings/click", {"enabled": False})]
    assert outcomes["tracking_settings.click"]["after"] == {"enabled": False}
    assert outcomes["tracking_settings.open"]["changed"] is False


def test_a_section_with_other_fields_is_read_whole_and_only_the_differing_fields_are_sent():
    account = FakeAccount()
    outcomes = reconcile(account, desired((SUBSCRIPTION, {"enabled": True, "plain_content": "Bye: <% %>", "url": ""})),
                         check_mode=False)
    assert account.sent == [("GET", "/v3/tracking_settings/subscription", None),
                            ("PATCH", "/v3/tracking_settings/subscription", {"enabled": True, "plain_content": "Bye: <% %>"})]
    assert outcomes["tracking_settings.subscription"]["after"]["plain_content"] == "Bye: <% %>"


def test_a_setting_the_summary_leaves_out_is_read_on_its_own():
    account = FakeAccount(summary_leaves_out=("open",))
    reconcile(account, desired((CLICK, {"enabled": True}), (OPEN, {"enabled": True})), check_mode=False)
    assert account.sent == [("GET", "/v3/tracking_settings", None), ("GET", "/v3/tracking_settings/open", None)]


def test_check_mode_reads_and_reports_but_never_patches():
    account = FakeAccount()
    outcomes = reconcile(account, desired((GOOGLE_ANALYTICS, {"enabled": True, "utm_source": "sendgrid"})),
                         check_mode=True)
    assert [method for method, _path, _body in account.sent] == ["GET"]
    assert outcomes["tracking_settings.google_analytics"]["changes"] == {"enabled": True, "utm_source": "sendgrid"}
    assert outcomes["tracking_settings.google_analytics"]["after"]["utm_source"] == "sendgrid"


def test_click_enable_text_is_returned_but_never_an_option_nor_sent():
    assert "enable_text" not in CLICK.argument_spec()
    assert CLICK.desired({"enabled": False, "enable_text": True}) == {"enabled": False}
    account = FakeAccount()
    assert read(account, [CLICK]) == {"tracking_settings.click": {"enabled": True, "enable_text": False}}
    reconcile(account, desired((CLICK, {"enabled": False})), check_mode=False)
    assert account.sent[-1] == ("PATCH", "/v3/tracking_settings/click", {"enabled": False})


def test_forward_spam_addresses_compare_as_a_set_ignoring_order_case_and_spaces():
    account = FakeAccount()
    outcomes = reconcile(account, desired((FORWARD_SPAM, {"email": [" postmaster@example.com", "abuse@example.com"]})),
                         check_mode=False)
    assert outcomes["mail_settings.forward_spam"]["changed"] is False
    assert outcomes["mail_settings.forward_spam"]["before"]["email"] == ["Abuse@Example.com", "postmaster@example.com"]
    assert [method for method, _path, _body in account.sent] == ["GET"]


def test_forward_spam_addresses_go_out_as_one_comma_separated_string():
    account = FakeAccount()
    reconcile(account, desired((FORWARD_SPAM, {"email": ["abuse@example.com", "soc@example.net"]})), check_mode=False)
    assert account.sent[-1] == ("PATCH", "/v3/mail_settings/forward_spam", {"email": "abuse@example.com, soc@example.net"})


def test_no_forwarding_address_is_an_empty_list_or_text():
    account = FakeAccount()
    outcomes = reconcile(account, desired((FORWARD_SPAM, {"email": []}), (FORWARD_BOUNCE, {"email": ""})),
                         check_mode=False)
    assert account.sent[-1] == ("PATCH", "/v3/mail_settings/forward_spam", {"email": ""})
    assert outcomes["mail_settings.forward_bounce"]["changed"] is False   # "" and the API's null are both "none"


def test_the_address_whitelist_goes_whole_when_it_differs_and_not_at_all_when_only_order_differs():
    account = FakeAccount()
    reconcile(account, desired((ADDRESS_WHITELIST, {"list": ["OPS@example.org", "example.com"]})), check_mode=False)
    assert [method for method, _path, _body in account.sent] == ["GET"]
    reconcile(account, desired((ADDRESS_WHITELIST, {"list": ["example.com", "ops@example.org", "new.example"]})),
              check_mode=False)
    assert account.sent[-1] == ("PATCH", "/v3/mail_settings/address_whitelist",
                                {"list": ["example.com", "ops@example.org", "new.example"]})


def test_bounce_purge_days_zero_is_the_apis_null():
    account = FakeAccount()
    outcomes = reconcile(account, desired((BOUNCE_PURGE, {"soft_bounces": 0, "hard_bounces": 30})), check_mode=False)
    assert outcomes["mail_settings.bounce_purge"]["before"] == {"enabled": False, "soft_bounces": 0, "hard_bounces": 0}
    assert account.sent[-1] == ("PATCH", "/v3/mail_settings/bounce_purge", {"hard_bounces": 30})
    reconcile(account, desired((BOUNCE_PURGE, {"hard_bounces": 0})), check_mode=False)
    assert account.sent[-1] == ("PATCH", "/v3/mail_settings/bounce_purge", {"hard_bounces": None})


@pytest.mark.parametrize("setting, values, where, message", [
    (FORWARD_SPAM, {"email": ["abuse@example.com", "not an address"]}, "forward_spam.",
     "value of forward_spam.email must hold e-mail addresses only ('not an address' is not one)"),
    (FORWARD_BOUNCE, {"email": "bounces"}, "forward_bounce.", "value of forward_bounce.email must be an e-mail address"),
    (BOUNCE_PURGE, {"soft_bounces": -1}, "bounce_purge.",
     "value of bounce_purge.soft_bounces must be from 0 to 3650 days (0 for none), got: -1"),
    (ADDRESS_WHITELIST, {"list": ["example.com", "@@"]}, "address_whitelist.",
     "value of address_whitelist.list must hold e-mail addresses or domains only ('@@' is neither)"),
    (ENFORCED_TLS, {"min_tls_version": "1.0"}, "", "value of min_tls_version must be one of: 1.1, 1.2, 1.3, got: 1.0"),
])
def test_bad_values_are_refused_naming_the_option_and_what_is_allowed(setting, values, where, message):
    with pytest.raises(SendGridError) as failure:
        setting.check(setting.desired(values), where)
    assert str(failure.value).startswith(message)


# ----------------------------------------------------------------------------- issue 20: values of the wrong shape

@pytest.mark.parametrize("setting, values, where, message", [
    # what AnsibleModule makes of a list given for the text option forward_bounce.email
    (FORWARD_BOUNCE, {"email": "['a@example.com']"}, "forward_bounce.",
     "value of forward_bounce.email must be an e-mail address"),
    (FORWARD_SPAM, {"email": ["['a@example.com']"]}, "forward_spam.",
     "value of forward_spam.email must hold e-mail addresses only (\"['a@example.com']\" is not one)"),
    (ADDRESS_WHITELIST, {"list": ["[example.com]"]}, "address_whitelist.",
     "value of address_whitelist.list must hold e-mail addresses or domains only ('[example.com]' is neither)"),
    (FORWARD_BOUNCE, {"email": "a@example.com'"}, "forward_bounce.",
     "value of forward_bounce.email must be an e-mail address"),
])
def test_an_address_holding_brackets_or_quotes_of_a_list_written_as_text_is_refused(setting, values, where, message):
    with pytest.raises(SendGridError) as failure:
        setting.check(setting.desired(values), where)
    assert str(failure.value).startswith(message), str(failure.value)


@pytest.mark.parametrize("address", ["o'brien@example.com", "first.last+tag@mail.example.co.uk", "x_y@example.io"])
def test_real_addresses_with_quotes_and_plus_signs_are_accepted(address):
    assert FORWARD_BOUNCE.check(FORWARD_BOUNCE.desired({"email": address}), "forward_bounce.") == []


@pytest.mark.parametrize("days, message", [
    (5000, "value of bounce_purge.soft_bounces must be from 0 to 3650 days (0 for none), got: 5000"),
    (-1, "value of bounce_purge.soft_bounces must be from 0 to 3650 days (0 for none), got: -1"),
])
def test_bounce_purge_days_beyond_the_documented_bounds_are_refused(days, message):
    with pytest.raises(SendGridError) as failure:
        BOUNCE_PURGE.check(BOUNCE_PURGE.desired({"soft_bounces": days}), "bounce_purge.")
    assert str(failure.value).startswith(message), str(failure.value)


def test_bounce_purge_days_at_the_bounds_are_accepted():
    assert BOUNCE_PURGE.check(BOUNCE_PURGE.desired({"soft_bounces": 3650, "hard_bounces": 1}), "bounce_purge.") == []


@pytest.mark.parametrize("setting, values, warnings", [
    (BOUNCE_PURGE, {"enabled": True, "soft_bounces": 0, "hard_bounces": 30},
     ["mail_settings.bounce_purge.soft_bounces: 0 (none) with enabled: true: soft bounces are never purged; give the "
      "days after which to purge them"]),
    (BOUNCE_PURGE, {"enabled": True, "soft_bounces": 0, "hard_bounces": 0},
     ["mail_settings.bounce_purge: enabled: true with soft_bounces and hard_bounces 0 (none): it purges nothing"]),
    (FORWARD_SPAM, {"enabled": True, "email": []},
     ["mail_settings.forward_spam.email: empty with enabled: true: no spam report is forwarded"]),
    (FORWARD_BOUNCE, {"enabled": True, "email": " "},
     ["mail_settings.forward_bounce.email: \"\" (none) with enabled: true: no bounce is forwarded"]),
    (ADDRESS_WHITELIST, {"enabled": True, "list": []},
     ["mail_settings.address_whitelist.list: empty with enabled: true: no address or domain is whitelisted"]),
    (FOOTER, {"enabled": True, "html_content": "", "plain_content": ""},
     ["mail_settings.footer: enabled: true with html_content and plain_content empty: it adds nothing"]),
    (TEMPLATE, {"enabled": True, "html_content": "<p>hello</p>"},
     ["mail_settings.template.html_content: has no <% body %> tag, where SendGrid puts the message's own content"]),
    (SUBSCRIPTION, {"enabled": True, "plain_content": "Unsubscribe here", "html_content": "<% click here %>"},
     ["tracking.subscription.plain_content: has no <% %> tag: SendGrid puts the unsubscribe link there, so without it "
      "plain-text mail carries none"]),
])
def test_a_setting_that_would_do_nothing_warns_naming_the_option(setting, values, warnings):
    where = ("mail_settings." if setting in MAIL_SETTINGS else "tracking.") + setting.option + "."
    assert setting.check(setting.desired(values), where) == warnings


@pytest.mark.parametrize("setting, values", [
    (BOUNCE_PURGE, {"enabled": False, "soft_bounces": 0}),
    (BOUNCE_PURGE, {"enabled": True, "soft_bounces": 7, "hard_bounces": 30}),
    (FORWARD_SPAM, {"enabled": False, "email": []}),
    (FORWARD_SPAM, {"enabled": True, "email": ["abuse@example.com"]}),
    (TEMPLATE, {"enabled": True, "html_content": "<html><% body %></html>"}),
    (SUBSCRIPTION, {"enabled": True, "html_content": "<% Unsubscribe %>", "plain_content": "Unsubscribe: <% %>"}),
])
def test_a_setting_that_does_something_does_not_warn(setting, values):
    assert setting.check(setting.desired(values), "x.") == []


def test_subscription_url_must_be_an_http_url():
    with pytest.raises(SendGridError, match=r"value of subscription.url must be an http:// or https:// URL, or \"\" "
                                            r"for none, got: \['https://example.com'\]"):
        SUBSCRIPTION.check(SUBSCRIPTION.desired({"url": "['https://example.com']"}), "subscription.")
    assert SUBSCRIPTION.check(SUBSCRIPTION.desired({"url": "https://example.com/unsubscribe?x=1"}), "s.") == []


def test_a_comma_separated_email_is_kept_without_spaces_in_changes_diff_and_body():
    account = FakeAccount()
    wanted = FORWARD_SPAM.desired({"email": "security@example.com, abuse@example.com".split(",")})
    outcome = reconcile(account, {FORWARD_SPAM: wanted}, check_mode=False)["mail_settings.forward_spam"]
    assert outcome["changes"] == {"email": ["security@example.com", "abuse@example.com"]}
    assert outcome["after"]["email"] == ["security@example.com", "abuse@example.com"]
    assert account.sent[-1] == ("PATCH", "/v3/mail_settings/forward_spam",
                                {"email": "security@example.com, abuse@example.com"})


def test_null_fields_are_not_managed():
    assert FORWARD_SPAM.desired({"enabled": None, "email": None}) == {}
    assert BOUNCE_PURGE.desired({"enabled": False, "soft_bounces": None}) == {"enabled": False}


def test_select_takes_family_names_and_single_settings_in_catalogue_order():
    catalogue = [ENFORCED_TLS] + TRACKING_SETTINGS + MAIL_SETTINGS
    assert select(catalogue, ["mail_settings.footer", "tracking_settings"], "settings") == TRACKING_SETTINGS + [
        MAIL_SETTINGS[3]]
    assert select(catalogue, None, "settings") == catalogue
    with pytest.raises(SendGridError, match="settings holds tracking, which is not a setting: use any of enforced_tls, "):
        select(catalogue, ["tracking"], "settings")


def test_read_returns_every_field_of_each_setting_in_option_names():
    values = read(FakeAccount(), [FORWARD_SPAM, BOUNCE_PURGE])
    assert values == {"mail_settings.forward_spam": {"enabled": True, "email": ["Abuse@Example.com", "postmaster@example.com"]},
                      "mail_settings.bounce_purge": {"enabled": False, "soft_bounces": 0, "hard_bounces": 0}}


ADDRESSES = st.lists(st.sampled_from(["a@example.com", "B@example.com", "c@example.org"]), unique=True, max_size=3)
MAIL_DESIRED = st.fixed_dictionaries({
    "enabled": st.none() | st.booleans(),
    "email": st.none() | ADDRESSES,
})


@given(current=ADDRESSES, enabled=st.booleans(), wanted=MAIL_DESIRED)
def test_reconcile_then_reconcile_again_changes_nothing(current, enabled, wanted):
    state = copy.deepcopy(API_STATE)
    state["/v3/mail_settings/forward_spam"] = {"enabled": enabled, "email": ", ".join(current)}
    account = FakeAccount(state)
    first = reconcile(account, desired((FORWARD_SPAM, wanted)), check_mode=False)["mail_settings.forward_spam"]
    patches = [body for method, _path, body in account.sent if method == "PATCH"]
    assert len(patches) == (1 if first["changed"] else 0)
    if patches:
        assert set(patches[0]) == {"enabled" if name == "enabled" else "email" for name in first["changes"]}
    account.sent.clear()
    second = reconcile(account, desired((FORWARD_SPAM, wanted)), check_mode=False)["mail_settings.forward_spam"]
    assert second["changed"] is False
    assert all(method == "GET" for method, _path, _body in account.sent)


def test_a_failure_after_a_write_names_what_was_written_before_it():
    class RefusingOpen(FakeAccount):
        def request(self, method, path, operation, body=None, params=None):
            if method == "PATCH" and path.endswith("/open"):
                raise SendGridError("Updating the open tracking settings PATCH ... failed (HTTP 403).", 403)
            return super().request(method, path, operation, body=body, params=params)

    account = RefusingOpen()
    with pytest.raises(PartlyWritten) as failure:
        reconcile(account, desired((CLICK, {"enabled": False}), (OPEN, {"enabled": False})), check_mode=False)
    assert str(failure.value) == ("Updating the open tracking settings PATCH ... failed (HTTP 403). Written before the "
                                  "failure: tracking_settings.click (enabled).")
    assert failure.value.status == 403 and list(failure.value.written) == ["tracking_settings.click"]
    assert ("PATCH", "/v3/tracking_settings/click", {"enabled": False}) in account.sent
