# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The export (issue 24): each family's section of an account as it is, and the policy most accounts share with each
account's differences as its override."""

from __future__ import annotations

import copy
import json

import pytest
import responses

from ansible_collections.mailops.sendgrid.plugins.module_utils import _export
from ansible_collections.mailops.sendgrid.plugins.module_utils._baseline import desired_for
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._families import BY_NAME, POLICY
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import ANY, COMPLIANT, Family
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_baseline_export
from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module

KEY = "SG.export-unit-SECRET"

SETTINGS = [BY_NAME[name] for name in ("enforced_tls", "tracking", "mail_settings")]

# Every settings object of an account, in the API's names and forms, per path (the local server's fresh account).
FRESH = {
    "/v3/user/settings/enforced_tls": {"require_tls": False, "require_valid_cert": False, "version": 1.1},
    "/v3/tracking_settings/click": {"enable_text": False, "enabled": True},
    "/v3/tracking_settings/open": {"enabled": True},
    "/v3/tracking_settings/subscription": {"enabled": False, "html_content": "", "plain_content": "", "landing": "",
                                           "replace": "", "url": ""},
    "/v3/tracking_settings/google_analytics": {"enabled": False, "utm_source": "", "utm_medium": "", "utm_term": "",
                                               "utm_content": "", "utm_campaign": ""},
    "/v3/mail_settings/bounce_purge": {"enabled": False, "soft_bounces": None, "hard_bounces": None},
    "/v3/mail_settings/forward_spam": {"enabled": False, "email": ""},
    "/v3/mail_settings/forward_bounce": {"enabled": False, "email": None},
    "/v3/mail_settings/footer": {"enabled": False, "html_content": "", "plain_content": ""},
    "/v3/mail_settings/template": {"enabled": False, "html_content": ""},
    "/v3/mail_settings/address_whitelist": {"enabled": False, "list": []},
}


class Account:
    """One account's settings as SendGrid answers them (a summary per family); records requests."""

    def __init__(self, **changes):
        self.settings = copy.deepcopy(FRESH)
        for path, fields in changes.items():
            self.settings["/v3/" + path.replace("__", "/")].update(fields)
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path))
        if path in ("/v3/tracking_settings", "/v3/mail_settings"):
            return {"result": [{"name": name.rsplit("/", 1)[1], "enabled": value["enabled"]}
                               for name, value in self.settings.items() if name.startswith(path + "/")]}
        if method == "PATCH":
            self.settings[path].update(body)
        return dict(self.settings[path])


def exported(account) -> dict:
    return {family.name: family.export(account) for family in SETTINGS}


# ----------------------------------------------------------------------------- each family's section

def test_every_family_of_the_policy_exports():
    for family in POLICY:
        assert type(family).export is not Family.export, "%s cannot be exported" % family.name


def test_a_settings_section_exported_is_every_field_read_and_applied_it_changes_nothing():
    account = Account(user__settings__enforced_tls={"require_tls": True, "version": 1.2},
                      tracking_settings__open={"enabled": False},
                      mail_settings__forward_spam={"enabled": True, "email": "a@example.com, b@example.com"},
                      mail_settings__footer={"enabled": True, "html_content": "<p>Example Ltd</p>"})
    sections = exported(account)
    assert sections["enforced_tls"] == {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.2"}
    assert sections["tracking"]["open"] == {"enabled": False} and sections["tracking"]["click"] == {"enabled": True}
    assert sections["mail_settings"]["forward_spam"] == {"enabled": True, "email": ["a@example.com", "b@example.com"]}
    # the tracking sections of enabled alone come from the summary: 1 + 1 + 2 + 6 GETs, no write
    assert len(account.sent) == 10 and {method for method, _path in account.sent} == {"GET"}
    for family in SETTINGS:
        outcomes = family.apply(account, desired_for(sections)[family.name], check_mode=False)
        assert {key: outcome["status"] for key, outcome in outcomes.items()} == dict.fromkeys(outcomes, COMPLIANT)
    assert {method for method, _path in account.sent} == {"GET"}


# ----------------------------------------------------------------------------- the policy most accounts share

def test_each_field_takes_the_value_most_accounts_have_and_each_account_keeps_only_its_differences():
    accounts = [Account(user__settings__enforced_tls={"require_tls": True}),
                Account(user__settings__enforced_tls={"require_tls": True, "version": 1.2}),
                Account(), Account(user__settings__enforced_tls={"require_tls": True})]
    policy, overrides = _export.export(SETTINGS, [exported(account) for account in accounts], [])
    assert policy["enforced_tls"] == {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.1"}
    assert overrides[0] == {} and overrides[3] == {}
    assert overrides[1] == {"enforced_tls": {"min_tls_version": "1.2"}}
    assert overrides[2] == {"enforced_tls": {"require_tls": False}}
    # each account's merged policy is what it has: the baseline would change nothing
    for account, override in zip(accounts, overrides):
        for family in SETTINGS:
            outcomes = family.apply(account, desired_for(policy, override)[family.name], check_mode=True)
            assert {outcome["status"] for outcome in outcomes.values()} == {COMPLIANT}


def test_a_tie_goes_to_the_parent_s_value_else_the_first_in_sort_order_whatever_the_order_read_and_is_named():
    two = [exported(Account(tracking_settings__open={"enabled": False})), exported(Account())]
    ties = []
    policy, overrides = _export.export(SETTINGS, two, [], ties)
    assert policy["tracking"]["open"] == {"enabled": False} and overrides[1] == {"tracking": {"open": {"enabled": True}}}
    assert ties == [("tracking", "open", "enabled")]
    # subusers alone (the parent not exported): the same policy whichever was read first
    strict = exported(Account(user__settings__enforced_tls={"require_tls": True, "version": 1.2}))
    loose = exported(Account())
    one_way = _export.export(SETTINGS, [strict, loose], [], parent_first=False)[0]
    assert one_way == _export.export(SETTINGS, [loose, strict], [], parent_first=False)[0]
    assert one_way["enforced_tls"] == {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"}


def test_a_field_some_account_has_no_value_for_is_left_to_the_accounts_that_have_one():
    # an override cannot give null (it would mean "the policy's"), so null cannot be the policy's value either
    tls = BY_NAME["enforced_tls"]
    sections = [{"enforced_tls": dict(require_tls=True, require_valid_cert=False, min_tls_version=version)}
                for version in ("1.2", None, "1.2")]
    policy, overrides = _export.export([tls], sections, [])
    assert policy == {"enforced_tls": {"require_tls": True, "require_valid_cert": False}}
    assert overrides == [{"enforced_tls": {"min_tls_version": "1.2"}}, {}, {"enforced_tls": {"min_tls_version": "1.2"}}]


def test_any_value_fits_asks_for_nothing_and_a_field_every_account_leaves_open_is_left_out():
    audit = BY_NAME["api_keys"]
    sections = [{"api_keys": dict(allowed_scopes=["mail.send"], allowed_control_keys=[], enforce=ANY)},
                {"api_keys": dict(allowed_scopes=ANY, allowed_control_keys=ANY, enforce=ANY)},
                {"api_keys": dict(allowed_scopes=["mail.send", "stats.read"], allowed_control_keys=[], enforce=ANY)},
                {"api_keys": dict(allowed_scopes=["mail.send"], allowed_control_keys=[], enforce=ANY)}]
    policy, overrides = _export.export([audit], sections, [])
    assert policy == {"api_keys": {"allowed_scopes": ["mail.send"], "allowed_control_keys": []}}
    assert overrides == [{}, {}, {"api_keys": {"allowed_scopes": ["mail.send", "stats.read"]}}, {}]
    # a section no account gives anything for is in the policy as {}: the section's defaults
    policy, overrides = _export.export([audit], [sections[1]], [])
    assert policy == {"api_keys": {}} and overrides == [{}]


def test_what_is_left_out_is_in_neither_the_policy_nor_any_override():
    accounts = [Account(mail_settings__footer={"enabled": True, "html_content": "<p>%s</p>" % name})
                for name in ("parent", "marketing", "billing")]
    left_out = _export.check_left_out(["mail_settings.footer.html_content", "tracking"], SETTINGS)
    policy, overrides = _export.export(SETTINGS, [exported(account) for account in accounts], left_out)
    assert policy["mail_settings"]["footer"] == {"enabled": True, "plain_content": ""}
    assert "tracking" not in policy and overrides == [{}, {}, {}]
    without = _export.export(SETTINGS, [exported(account) for account in accounts], [])[1]
    assert [override["mail_settings"]["footer"]["html_content"] for override in without[1:]] == [
        "<p>marketing</p>", "<p>billing</p>"]


@pytest.mark.parametrize("path", ["mail_settings.footer.html", "tracking.clicks", "teammates", "footer"])
def test_a_path_to_leave_out_that_names_nothing_exported_is_refused_naming_the_option_and_the_paths(path):
    with pytest.raises(SendGridError) as raised:
        _export.check_left_out([path], SETTINGS)
    message = str(raised.value)
    assert message.startswith("leave_out names %s, which is no section, setting or field" % path)
    assert "mail_settings.footer.html_content" in message and "enforced_tls.min_tls_version" in message


# ----------------------------------------------------------------------------- the role's variables

def test_the_file_s_variables_give_the_parent_s_differences_and_list_only_the_subusers_that_differ():
    accounts = [dict(name="parent", on_behalf_of=None), dict(name="marketing", on_behalf_of="marketing"),
                dict(name="billing", on_behalf_of="billing"), dict(name="eu-news", on_behalf_of="eu-news")]
    overrides = [{"enforced_tls": {"require_tls": False}}, {}, {"tracking": {"open": {"enabled": False}}}, {}]
    listed = [dict(on_behalf_of="eu-news", region="eu", given=True), dict(on_behalf_of="marketing"),
              dict(on_behalf_of="billing")]
    params = dict(include_parent=True, discover_subusers=True, exclude=["sandbox-*"], include_disabled=False)
    variables = _export.role_variables(params, SETTINGS[:2], {"enforced_tls": {"require_tls": True}, "tracking": {}},
                                       accounts, overrides, listed)
    assert variables == {
        "baseline_enforced_tls": {"require_tls": True}, "baseline_tracking": {},
        "baseline_include_parent": True, "baseline_discover_subusers": True, "baseline_exclude": ["sandbox-*"],
        "baseline_include_disabled": False, "baseline_parent": {"enforced_tls": {"require_tls": False}},
        # a listed account always (with its region), a discovered one only with an override
        "baseline_subusers": [{"name": "billing", "tracking": {"open": {"enabled": False}}},
                              {"name": "eu-news", "region": "eu"}]}


def test_a_value_the_baseline_would_refuse_is_named_with_its_account():
    accounts = [dict(name="parent"), dict(name="relay")]
    problems = _export.refusals({"enforced_tls": {"min_tls_version": "1.2"}}, accounts,
                                [{}, {"enforced_tls": {"min_tls_version": "1.0"}}])
    assert len(problems) == 1 and problems[0].startswith("relay: value of enforced_tls.min_tls_version")


@pytest.mark.parametrize("path", ["ip_access.entries", "teammates.members"])
def test_a_section_whose_fields_mean_something_together_is_left_out_whole_or_not_at_all(path):
    families = [BY_NAME["ip_access"], BY_NAME["teammates"]]
    with pytest.raises(SendGridError, match=r"leave_out names %s: %s is left out whole or not at all" % (
            path, path.split(".")[0])):
        _export.check_left_out([path], families)
    assert _export.check_left_out([path.split(".")[0]], families) == [(path.split(".")[0],)]


def test_a_section_left_out_whole_is_not_in_the_file_so_the_role_leaves_it_alone():
    audit = BY_NAME["event_webhooks"]
    section = dict(require_https=False, require_signed=True, allowed_hosts=["hooks.example.com"], enforce=ANY)
    tls = dict(require_tls=True, require_valid_cert=True, min_tls_version="1.2")
    policy, overrides = _export.export([audit, BY_NAME["enforced_tls"]], [{"event_webhooks": section, "enforced_tls": tls}],
                                       [("event_webhooks",)])
    assert "event_webhooks" not in policy and overrides == [{}]


@pytest.mark.parametrize("args, message", [
    (dict(families=[]), "families names no section: give at least one, or leave it out (null) to export every one."),
    (dict(leave_out=["tracking.clicks"]), "leave_out names tracking.clicks, which is no section"),
    (dict(leave_out=["ip_access.entries"]), "leave_out names ip_access.entries: ip_access is left out whole"),
    (dict(families=["tracking", "nope"]), "value of families[1] must be one of"),
    (dict(concurrency=0), "concurrency must be from 1 to 32, got 0."),
])
def test_the_module_refuses_bad_input_naming_it_before_any_request(capsys, args, message):
    with responses.RequestsMock() as mocked:
        result = run_module(sendgrid_baseline_export, capsys, **dict({"api_key": KEY}, **args))
        assert len(mocked.calls) == 0
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert KEY not in json.dumps(result)
