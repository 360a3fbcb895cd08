# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The security baseline: overrides merged onto the policy, checks before any request, one account's requests with
every setting isolated from the others' failures, and the result's statuses, summary and drift."""

from __future__ import annotations

import copy
import json

import pytest
import responses
from ansible.module_utils import basic

from ansible_collections.mailops.sendgrid.plugins.module_utils import _baseline
from ansible_collections.mailops.sendgrid.plugins.module_utils._baseline import (
    account_warnings, apply, check, conform, desired_for, diffs, drift, merge, policy_argument_spec, summarize,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError, shape_problems
from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import reconcile
from ansible_collections.mailops.sendgrid.plugins.module_utils._mail_settings import FOOTER, FORWARD_SPAM
from ansible_collections.mailops.sendgrid.plugins.module_utils._tracking_settings import CLICK, OPEN
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_baseline
from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module

KEY = "SG.baseline-unit-SECRET"
SPEC = policy_argument_spec()

# A fresh account, in the API's names and forms, per path.
FRESH = {
    "/v3/user/settings/enforced_tls": {"require_tls": False, "require_valid_cert": False, "version": 1.1},
    "/v3/tracking_settings/click": {"enable_text": False, "enabled": True},
    "/v3/tracking_settings/open": {"enabled": True},
    "/v3/mail_settings/forward_spam": {"enabled": False, "email": ""},
    "/v3/mail_settings/footer": {"enabled": False, "html_content": "", "plain_content": ""},
}
SUMMARIES = ("/v3/tracking_settings", "/v3/mail_settings")
ALLOW_LIST = "/v3/access_settings/whitelist"
ACTIVITY = "/v3/access_settings/activity"
KEYS = "/v3/api_keys"

# The whole baseline, every section (tracking and mail sections with enabled alone but the footer).
POLICY = {
    "enforced_tls": {"require_tls": True, "require_valid_cert": None, "min_tls_version": "1.2"},
    "tracking": {"click": {"enabled": False}, "open": {"enabled": False}},
    "mail_settings": {"forward_spam": {"enabled": False}, "footer": {"enabled": True, "plain_content": "Example Ltd"}},
    "ip_access": {"entries": ["127.0.0.1", "203.0.113.0/24"]},
    "api_keys": {"allowed_scopes": ["mail.send", "user.settings.*"]},
}


class FakeAccount:
    """Answers like SendGrid for one account (settings, summaries, allow list, activity, API keys); records requests.

    ``fail`` maps (method, path) to the SendGridError that request raises.
    """

    def __init__(self, settings=None, rules=(), keys=(), fail=None, on_behalf_of=None):
        self.on_behalf_of = on_behalf_of
        self.settings = copy.deepcopy(settings or FRESH)
        self.rules = [{"id": number, "ip": ip} for number, ip in enumerate(rules, 1)]
        self.keys = list(keys)
        self.fail = fail or {}
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, body))
        if (method, path) in self.fail:
            raise self.fail[(method, path)]
        if path in SUMMARIES:
            return {"result": [{"name": name.rsplit("/", 1)[1], "enabled": value["enabled"]}
                               for name, value in self.settings.items() if name.startswith(path + "/")]}
        if path == ALLOW_LIST:
            if method == "POST":
                added = [{"id": 100 + n, "ip": item["ip"]} for n, item in enumerate(body["ips"])]
                self.rules += added
                return {"result": added}
            if method == "DELETE":
                self.rules = [rule for rule in self.rules if rule["id"] not in body["ids"]]
                return None
            return {"result": list(self.rules)}
        if path == ACTIVITY:
            return {"result": [{"allowed": True, "ip": "127.0.0.1", "last_at": 200}]}
        if path == KEYS:
            return {"result": [{"name": key["name"], "api_key_id": key["api_key_id"]} for key in self.keys]}
        if path.startswith(KEYS + "/"):
            return next(key for key in self.keys if path.endswith("/" + key["api_key_id"]))
        if method == "PATCH":
            self.settings[path].update(body)
        return dict(self.settings[path])


def in_sync() -> FakeAccount:
    """An account that already follows POLICY, with one key inside the allowed scopes."""
    settings = copy.deepcopy(FRESH)
    settings["/v3/user/settings/enforced_tls"].update(require_tls=True, version=1.2)
    settings["/v3/tracking_settings/click"]["enabled"] = False
    settings["/v3/tracking_settings/open"]["enabled"] = False
    settings["/v3/mail_settings/footer"].update(enabled=True, plain_content="Example Ltd")
    return FakeAccount(settings, rules=["127.0.0.1/32", "203.0.113.0/24"],
                       keys=[{"name": "mailer", "api_key_id": "k1", "scopes": ["mail.send"]}])


def full() -> dict:
    return desired_for(POLICY)


# ----------------------------------------------------------------------------- merging overrides

def test_an_override_replaces_the_fields_it_gives_and_keeps_the_policy_s_others():
    merged = desired_for(POLICY, {"enforced_tls": {"require_valid_cert": True, "min_tls_version": None},
                                  "mail_settings": {"footer": {"plain_content": "Example GmbH"}}})
    assert merged["enforced_tls"] == {"require_tls": True, "require_valid_cert": True, "min_tls_version": "1.2"}
    assert merged["mail_settings"]["footer"] == {"enabled": True, "html_content": None, "plain_content": "Example GmbH"}
    assert merged["mail_settings"]["forward_spam"] == {"enabled": False, "email": None}
    assert merged["tracking"]["click"] == {"enabled": False}


def test_an_override_list_replaces_the_policy_s_list_whole():
    merged = desired_for(POLICY, {"ip_access": {"entries": ["198.51.100.7"]},
                                  "api_keys": {"allowed_scopes": ["mail.*"]}})
    assert merged["ip_access"]["entries"] == ["198.51.100.7"]
    assert merged["api_keys"]["allowed_scopes"] == ["mail.*"]


def test_sections_neither_manages_stay_null_and_a_section_only_an_override_gives_is_managed_with_defaults():
    merged = desired_for({"enforced_tls": {"require_tls": True}}, {"ip_access": {"entries": ["127.0.0.1"]}})
    assert merged["tracking"] is None and merged["mail_settings"] is None and merged["api_keys"] is None
    assert merged["ip_access"] == {"entries": ["127.0.0.1"], "state": "present", "purge": False, "allow_lockout": False,
                                   "allow_any_address": False, "client_addresses": None}
    # a family the policy manages: a setting only the override names is managed for that account only
    merged = desired_for(POLICY, {"tracking": {"subscription": {"enabled": True}}})
    assert merged["tracking"]["subscription"]["enabled"] is True and merged["tracking"]["click"] == {"enabled": False}


def test_a_null_override_field_keeps_the_policy_s_value():
    assert merge(SPEC["enforced_tls"]["options"], {"require_tls": True}, {"require_tls": None}) == {
        "require_tls": True, "require_valid_cert": None, "min_tls_version": None}


# ----------------------------------------------------------------------------- checks before any request

def test_an_override_is_typed_as_the_policy_is():
    typed = conform(SPEC["mail_settings"]["options"], {"footer": {"enabled": "yes"}, "bounce_purge": {"soft_bounces": "30"},
                                                       "forward_spam": {"email": "a@example.com,b@example.com"}},
                    "accounts[0].mail_settings")
    assert typed["footer"]["enabled"] is True
    assert typed["bounce_purge"]["soft_bounces"] == 30
    assert typed["forward_spam"]["email"] == ["a@example.com", "b@example.com"]
    assert typed["template"] is None


@pytest.mark.parametrize("section, value, message", [
    ("mail_settings", {"footer": {"enabled": "maybe"}},
     "value of accounts[2].mail_settings.footer.enabled must be true or false, got: maybe."),
    ("mail_settings", {"footer": "on"},
     "value of accounts[2].mail_settings.footer must be a dictionary, got: on."),
    ("tracking", {"clik": {"enabled": False}},
     "accounts[2].tracking has the unknown key clik; it may hold click, open, subscription, google_analytics."),
    ("ip_access", {"state": "gone"},
     "value of accounts[2].ip_access.state must be one of: present, absent, disabled, got: gone."),
    ("mail_settings", {"bounce_purge": {"hard_bounces": "many"}},
     "value of accounts[2].mail_settings.bounce_purge.hard_bounces must be a whole number, got: many."),
    ("api_keys", {"allowed_scopes": {"mail": "send"}},
     'value of accounts[2].api_keys.allowed_scopes must be a list of text, got: {"mail": "send"}.'),
])
def test_a_bad_override_fails_naming_its_path(section, value, message):
    with pytest.raises(SendGridError) as failure:
        conform(SPEC[section]["options"], value, "accounts[2].%s" % section)
    assert str(failure.value) == message


@pytest.mark.parametrize("policy, where, named", [
    ({"enforced_tls": {"min_tls_version": "1.0"}}, "", "value of enforced_tls.min_tls_version must be one of"),
    ({"tracking": {"click": {"enabled": True}}, "mail_settings": {"forward_spam": {"email": ["abuse"]}}}, "accounts[1].",
     "value of accounts[1].mail_settings.forward_spam.email must hold e-mail addresses only"),
    ({"ip_access": {"entries": ["203.*.113.*"]}}, "", "value of ip_access.entries must hold IPv4 or IPv6 addresses"),
    ({"ip_access": {"entries": ["127.0.0.1"], "client_addresses": ["127.0.0.0/8"]}}, "accounts[0].",
     "value of accounts[0].ip_access.client_addresses must hold IP addresses"),
    ({"ip_access": {"entries": ["127.0.0.1"], "state": "disabled"}}, "",
     "ip_access.state: disabled empties the allow list: leave ip_access.entries out"),
    ({"ip_access": {"purge": True, "state": "absent"}}, "", "ip_access.purge applies to state: present only"),
    ({"api_keys": {"allowed_scopes": ["mail send"]}}, "accounts[3].", "value of accounts[3].api_keys.allowed_scopes"),
    ({"ip_access": {"entries": ["127.0.0.1", "::/0"]}}, "",
     "value of ip_access.entries must not hold a network of every IPv4 or IPv6 address unless "
     "ip_access.allow_any_address is true"),
    ({"ip_access": {"entries": ["10.1.2.3/8"]}}, "accounts[2].",
     "value of accounts[2].ip_access.entries holds 10.1.2.3/8, which has host bits set: give 10.1.2.3 for that one "
     "address, or 10.0.0.0/8 for the whole network."),
])
def test_a_bad_value_fails_naming_the_option_path(policy, where, named):
    with pytest.raises(SendGridError) as failure:
        check(desired_for(policy), where)
    assert str(failure.value).startswith(named), str(failure.value)


def test_the_full_policy_passes_the_checks_without_a_warning():
    assert check(full()) == []


WIDE = ("value of %s holds %s, wider than /16 (the widest IPv4 entry taken without this warning): every address it "
        "covers may reach the account. Narrow it unless that is meant.")


def test_a_wide_entry_of_the_policy_warns_naming_the_policy_s_path():
    assert check(desired_for({"ip_access": {"entries": ["127.0.0.1", "10.*.*.*"]}})) == [
        WIDE % ("ip_access.entries", "10.*.*.* (10.0.0.0/8)")]


def test_an_override_s_own_wide_entry_warns_under_its_path_and_an_inherited_one_under_the_policy_s():
    policy = {"ip_access": {"entries": ["127.0.0.1", "10.0.0.0/8"]}}
    own = {"ip_access": {"entries": ["172.16.0.0/12"]}}
    assert account_warnings(policy, own, "accounts[2].") == [WIDE % ("accounts[2].ip_access.entries", "172.16.0.0/12")]
    # entries the account does not give are the policy's: their warning is the policy's, said once by run_module
    inherited = {"ip_access": {"purge": True}}
    assert account_warnings(policy, inherited, "accounts[3].") == []


def test_any_address_allowed_by_the_policy_passes_and_still_warns():
    policy = {"ip_access": {"entries": ["127.0.0.1", "0.0.0.0/0"], "allow_any_address": True}}
    assert check(desired_for(policy)) == [WIDE % ("ip_access.entries", "0.0.0.0/0")]
    # an account that takes the permission back refuses the policy's entry, naming both paths
    override = {"ip_access": {"allow_any_address": False}}
    with pytest.raises(SendGridError, match=r"^value of accounts\[0\]\.ip_access\.entries must not hold .* unless "
                                            r"accounts\[0\]\.ip_access\.allow_any_address is true"):
        check(desired_for(policy, override), "accounts[0].")


def test_a_settings_section_inside_a_section_that_is_not_a_dictionary_is_found_before_ansiblemodule_sees_it():
    spec = _baseline.argument_spec()
    params = {"api_key": KEY, "tracking": {"click": "off", "open": {"enabled": False}}, "mail_settings": "footer=x",
              "enforced_tls": None}
    assert shape_problems(spec, params) == [
        ("tracking", "value of tracking.click must be a dictionary of its fields (such as enabled: true), got: off"),
        ("mail_settings", "value of mail_settings.footer must be a dictionary of its fields (such as enabled: true), "
                          "got: x")]


# ----------------------------------------------------------------------------- one account's requests

def test_the_full_baseline_in_sync_costs_the_documented_floor_of_gets_only():
    account = in_sync()
    outcomes = apply(account, full(), check_mode=False)
    assert sorted(account.sent, key=str) == sorted([
        ("GET", "/v3/user/settings/enforced_tls", None),
        ("GET", "/v3/tracking_settings", None),             # click and open: enabled alone, one summary
        ("GET", "/v3/mail_settings", None),                 # forward_spam: enabled alone
        ("GET", "/v3/mail_settings/footer", None),          # a field besides enabled: read whole
        ("GET", ALLOW_LIST, None),
        ("GET", KEYS, None), ("GET", KEYS + "/k1", None),  # the list, then one GET per key
    ], key=str)
    assert list(outcomes) == ["enforced_tls", "tracking.click", "tracking.open", "mail_settings.forward_spam",
                              "mail_settings.footer", "ip_access", "api_keys"]
    assert {key: outcome["status"] for key, outcome in outcomes.items()} == dict.fromkeys(outcomes, "compliant")
    assert outcomes["api_keys"] == {"status": "compliant", "keys": 1, "flagged": [], "cut": []}


def test_a_fresh_account_gets_one_minimal_write_per_setting_that_differs_and_the_allow_list_last():
    account = FakeAccount(keys=[{"name": "ops", "api_key_id": "k2", "scopes": ["mail.send", "api_keys.read"]}])
    outcomes = apply(account, full(), check_mode=False)
    writes = [call for call in account.sent if call[0] != "GET"]
    assert writes == [
        ("PATCH", "/v3/user/settings/enforced_tls", {"require_tls": True, "version": 1.2}),
        ("PATCH", "/v3/tracking_settings/click", {"enabled": False}),
        ("PATCH", "/v3/tracking_settings/open", {"enabled": False}),
        ("PATCH", "/v3/mail_settings/footer", {"enabled": True, "plain_content": "Example Ltd"}),
        ("POST", ALLOW_LIST, {"ips": [{"ip": "127.0.0.1/32"}, {"ip": "203.0.113.0/24"}]}),
    ]
    assert account.sent[-3:] == [("GET", ALLOW_LIST, None), ("GET", ACTIVITY, None), writes[-1]]
    assert outcomes["enforced_tls"] == {
        "status": "changed", "changes": {"require_tls": True, "min_tls_version": "1.2"},
        "before": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"},
        "after": {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.2"}}
    assert outcomes["ip_access"] == {"status": "changed", "before": [], "after": ["127.0.0.1/32", "203.0.113.0/24"],
                                     "changes": {"added": ["127.0.0.1/32", "203.0.113.0/24"]}}
    assert outcomes["mail_settings.forward_spam"]["status"] == "compliant"
    assert outcomes["api_keys"] == {"status": "flagged", "keys": 1, "flagged": [
        {"name": "ops", "api_key_id": "k2", "excess_scopes": [], "control_scopes": ["api_keys.read"], "name_shared": False}], "cut": []}


def test_check_mode_reads_everything_writes_nothing_and_says_would_change():
    account = FakeAccount()
    outcomes = apply(account, full(), check_mode=True)
    assert all(call[0] == "GET" for call in account.sent)
    assert outcomes["tracking.click"] == {"status": "would_change", "before": {"enabled": True},
                                          "after": {"enabled": False}, "changes": {"enabled": False}}
    assert outcomes["ip_access"]["status"] == "would_change"


def test_a_setting_that_fails_to_write_is_reported_and_every_other_setting_is_still_handled():
    account = FakeAccount(fail={("PATCH", "/v3/mail_settings/footer"): SendGridError("Updating the footer failed.", 400)})
    outcomes = apply(account, full(), check_mode=False)
    assert outcomes["mail_settings.footer"] == {"status": "failed", "before": None, "after": None, "changes": {},
                                                "msg": "Updating the footer failed."}
    assert [key for key, outcome in outcomes.items() if outcome["status"] == "changed"] == [
        "enforced_tls", "tracking.click", "tracking.open", "ip_access"]
    assert ("POST", ALLOW_LIST, {"ips": [{"ip": "127.0.0.1/32"}, {"ip": "203.0.113.0/24"}]}) in account.sent


def test_a_summary_that_fails_fails_the_settings_it_was_to_give_and_no_others():
    account = FakeAccount(fail={("GET", "/v3/tracking_settings"): SendGridError("Reading the tracking settings failed.")})
    outcomes = apply(account, full(), check_mode=False)
    assert {key: outcome["status"] for key, outcome in outcomes.items()} == {
        "enforced_tls": "changed", "tracking.click": "failed", "tracking.open": "failed",
        "mail_settings.forward_spam": "compliant", "mail_settings.footer": "changed", "ip_access": "changed",
        "api_keys": "compliant"}
    # no GET of its own instead: the failure is reported, not worked around at a cost
    assert not [call for call in account.sent if call[1].startswith("/v3/tracking_settings/")]


def test_the_allow_list_and_the_keys_fail_alone():
    account = FakeAccount(fail={("GET", ALLOW_LIST): SendGridError("Reading the allow list failed.", 403),
                                ("GET", KEYS): SendGridError("Listing the API keys failed.", 403)})
    outcomes = apply(account, full(), check_mode=False)
    assert outcomes["ip_access"] == {"status": "failed", "before": None, "after": None, "changes": {},
                                     "msg": "Reading the allow list failed."}
    assert outcomes["api_keys"] == {"status": "failed", "keys": None, "flagged": [], "cut": [], "changes": {},
                                    "msg": "Listing the API keys failed."}
    assert outcomes["enforced_tls"]["status"] == "changed"


def test_the_lockout_guard_refusal_is_that_setting_s_failure_with_nothing_written_to_the_list():
    desired = desired_for(dict(POLICY, ip_access={"entries": ["203.0.113.0/24"]}))
    account = FakeAccount()
    outcomes = apply(account, desired, check_mode=False)
    assert outcomes["ip_access"]["status"] == "failed"
    assert "would lock this machine out" in outcomes["ip_access"]["msg"]
    assert not [call for call in account.sent if call[1] == ALLOW_LIST and call[0] != "GET"]
    assert outcomes["tracking.click"]["status"] == "changed"


def test_an_absent_entry_a_wider_one_still_covers_is_a_warning_of_the_allow_list_outcome():
    account = FakeAccount(rules=["127.0.0.1/32", "203.0.113.0/24"])
    outcomes = apply(account, desired_for({"ip_access": {"entries": ["203.0.113.5"], "state": "absent"}}), check_mode=True)
    assert outcomes["ip_access"] == {
        "status": "compliant", "before": ["127.0.0.1/32", "203.0.113.0/24"], "after": ["127.0.0.1/32", "203.0.113.0/24"],
        "changes": {}, "warnings": [
            # a whole sentence naming the account: the baseline gives it as it is
            "parent: 203.0.113.5 is not on the allow list as an entry of its own, but 203.0.113.0/24 covers it: it keeps "
            "access. Remove 203.0.113.0/24 to take it away."]}
    assert account.sent == [("GET", ALLOW_LIST, None)]


def test_an_allowed_any_address_entry_is_posted():
    account = FakeAccount(rules=["127.0.0.1/32"])
    outcomes = apply(account, desired_for({"ip_access": {"entries": ["0.0.0.0/0"], "allow_any_address": True,
                                                         "client_addresses": ["127.0.0.1"]}}), check_mode=False)
    assert account.sent == [("GET", ALLOW_LIST, None), ("POST", ALLOW_LIST, {"ips": [{"ip": "0.0.0.0/0"}]})]
    assert outcomes["ip_access"]["after"] == ["0.0.0.0/0", "127.0.0.1/32"]


def test_an_unforeseen_error_is_the_setting_s_failure_with_the_key_masked():
    class Client:
        @staticmethod
        def redact(text):
            return text.replace(KEY, "********")

    account = FakeAccount(fail={("GET", KEYS): ValueError("something no one foresaw, Bearer %s" % KEY)})
    account.client = Client()
    outcomes = apply(account, full(), check_mode=False)
    # one message for the unforeseen, whether a setting or the whole account met it
    assert outcomes["api_keys"]["msg"] == ("Unexpected ValueError while handling this account: something no one "
                                           "foresaw, Bearer ********")


def test_the_engine_keeps_stopping_at_the_first_failure_unless_isolated():
    fail = {("PATCH", "/v3/tracking_settings/click"): SendGridError("Updating click failed.", 400)}
    desired = {CLICK: {"enabled": False}, OPEN: {"enabled": False}, FORWARD_SPAM: {"enabled": True}, FOOTER: {}}
    with pytest.raises(SendGridError):
        reconcile(FakeAccount(fail=fail), desired, check_mode=False)
    outcomes = reconcile(FakeAccount(fail=fail), desired, check_mode=False, isolated=True)
    assert outcomes["tracking_settings.click"] == {"changed": False, "changes": {}, "before": None, "after": None,
                                                   "failed": True, "msg": "Updating click failed.", "status": 400}
    assert [outcome["changed"] for outcome in outcomes.values()] == [False, True, True, False]
    assert "failed" not in outcomes["tracking_settings.open"]


# ----------------------------------------------------------------------------- statuses, summary, drift

def entry(name, failed=False, **statuses):
    settings = {key.replace("__", "."): {"status": value, "before": {}, "after": {}} for key, value in statuses.items()}
    return dict(name=name, failed=failed, settings=settings)


def test_the_summary_counts_each_account_under_every_status_it_has_and_compliant_only_with_none():
    accounts = [entry("parent", enforced_tls="compliant"), entry("a", tracking__open="changed", api_keys="flagged"),
                entry("b", failed=True, ip_access="failed", enforced_tls="changed"), entry("c"),
                entry("d", enforced_tls="would_change")]
    assert summarize(accounts) == {"accounts": 5, "compliant": 2, "changed": 2, "would_change": 1, "failed": 1,
                                   "flagged": 1}


def test_drift_names_each_account_with_the_settings_that_changed_would_change_or_are_flagged():
    accounts = [entry("parent", enforced_tls="compliant"), entry("a", tracking__open="would_change", api_keys="flagged"),
                entry("b", failed=True, ip_access="failed", enforced_tls="changed")]
    assert drift(accounts) == [{"account": "a", "settings": ["tracking.open", "api_keys"], "flagged": {}},
                               {"account": "b", "settings": ["enforced_tls"], "flagged": {}}]


def test_the_diff_holds_each_account_s_settings_read_not_the_keys_nor_the_failed():
    accounts = [dict(name="a", failed=False, settings={
        "enforced_tls": {"status": "changed", "before": {"require_tls": False}, "after": {"require_tls": True}},
        "ip_access": {"status": "failed", "before": None, "after": None},
        "api_keys": {"status": "flagged", "keys": 1, "flagged": []}})]
    assert diffs(accounts) == [{"before": {"enforced_tls": {"require_tls": False}},
                                "after": {"enforced_tls": {"require_tls": True}}, "before_header": "a", "after_header": "a"}]


# ----------------------------------------------------------------------------- the module, before any request

@pytest.fixture(name="nothing_sent")
def fixture_nothing_sent():
    """Any request at all fails the test (responses refuses an unregistered URL)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked
        assert not mocked.calls


@pytest.mark.parametrize("args, message", [
    (dict(accounts=["marketing", {"name": "billing", "mail_settings": {"footer": {"enabled": "maybe"}}}]),
     "value of accounts[1].mail_settings.footer.enabled must be true or false, got: maybe."),
    (dict(tracking={"click": "off"}),
     "value of tracking.click must be a dictionary of its fields (such as enabled: true), got: off"),
    (dict(accounts=[{"name": "billing", "min_tls_version": "1.2"}]), "accounts[0] has the unknown key min_tls_version"),
    (dict(enforced_tls={"min_tls_version": "1.0"}), "value of enforced_tls.min_tls_version must be one of: 1.1, 1.2, 1.3"),
    (dict(concurrency=0), "concurrency must be from 1 to 32, got 0."),
    (dict(parent={"tracking": {"open": {"enabled": "maybe"}}}),
     "value of parent.tracking.open.enabled must be true or false, got: maybe."),
    (dict(parent={"name": "parent"}), "parent has the unknown key name; it may hold enforced_tls, tracking"),
])
def test_the_module_refuses_bad_input_naming_it_before_any_request(capsys, nothing_sent, args, message):
    result = run_module(sendgrid_baseline, capsys, **dict({"api_key": KEY}, **args))
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]
    assert KEY not in json.dumps(result)


@pytest.fixture(name="warned")
def fixture_warned(monkeypatch):
    """The module's warnings, in order: in-process, Ansible's controller display takes them, so they are recorded where
    the module gives them."""
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda module, warning: warned.append(warning))
    return warned


def test_the_module_warns_the_policy_s_warning_once_and_each_account_s_own_prefixed_with_its_name(capsys, warned):
    url = "https://api.sendgrid.com" + ALLOW_LIST
    with responses.RequestsMock() as mocked:
        mocked.get(url, json={"result": [{"id": 1, "ip": "127.0.0.1/32"}, {"id": 2, "ip": "10.0.0.0/8"},
                                         {"id": 3, "ip": "203.0.113.0/24"}]})
        result = run_module(sendgrid_baseline, capsys, api_key=KEY, accounts=[
            "billing", {"name": "marketing", "ip_access": {"state": "absent", "entries": ["203.0.113.5"]}}],
            ip_access={"entries": ["127.0.0.1", "10.0.0.0/8"]})
        # the accounts run concurrently: one GET each, in any order
        assert sorted(str(call.request.headers.get("on-behalf-of")) for call in mocked.calls) == [
            "None", "billing", "marketing"]
        assert all(call.request.method == "GET" for call in mocked.calls)
    assert warned == [
        WIDE % ("ip_access.entries", "10.0.0.0/8"),
        "marketing: 203.0.113.5 is not on the allow list as an entry of its own, but 203.0.113.0/24 covers it: it keeps "
        "access. Remove 203.0.113.0/24 to take it away."]
    # given as warnings, not kept in the result
    assert [account["settings"]["ip_access"] for account in result["accounts"]] == [
        {"status": "compliant", "before": ["10.0.0.0/8", "127.0.0.1/32", "203.0.113.0/24"],
         "after": ["10.0.0.0/8", "127.0.0.1/32", "203.0.113.0/24"], "changes": {}}] * 3


@pytest.mark.parametrize("ip_access, message", [
    ({"entries": ["127.0.0.1", "0.0.0.0/0"]}, "value of ip_access.entries must not hold a network of every IPv4 or "
                                              "IPv6 address unless ip_access.allow_any_address is true"),
    ({"entries": ["127.0.0.1", "10.1.2.3/8"]}, "value of ip_access.entries holds 10.1.2.3/8, which has host bits set"),
])
def test_the_module_refuses_an_allow_list_guard_s_entry_before_any_request(capsys, nothing_sent, ip_access, message):
    result = run_module(sendgrid_baseline, capsys, api_key=KEY, ip_access=ip_access)
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


def test_the_parent_s_overrides_are_the_parent_s_alone(capsys, warned):
    """parent (baseline_parent): what the export writes when the parent differs from what most accounts have."""
    url = "https://api.sendgrid.com/v3/user/settings/enforced_tls"
    with responses.RequestsMock() as mocked:
        mocked.get(url, json={"require_tls": True, "require_valid_cert": False, "version": 1.2})
        mocked.patch(url, json={"require_tls": False, "require_valid_cert": False, "version": 1.2})
        result = run_module(sendgrid_baseline, capsys, api_key=KEY, accounts=["billing"],
                            enforced_tls={"require_tls": True, "min_tls_version": "1.2"},
                            parent={"enforced_tls": {"require_tls": False}})
        patched = [(call.request.headers.get("on-behalf-of"), json.loads(call.request.body)) for call in mocked.calls
                   if call.request.method == "PATCH"]
    assert patched == [(None, {"require_tls": False})]
    statuses = {account["name"]: (account["settings"]["enforced_tls"]["status"], account["overrides"])
                for account in result["accounts"]}
    assert statuses == {"parent": ("changed", ["enforced_tls"]), "billing": ("compliant", [])}
    assert warned == []


def test_the_parent_s_overrides_without_the_parent_are_warned_about(capsys, warned):
    url = "https://api.sendgrid.com/v3/user/settings/enforced_tls"
    with responses.RequestsMock() as mocked:
        mocked.get(url, json={"require_tls": True, "require_valid_cert": False, "version": 1.2})
        run_module(sendgrid_baseline, capsys, api_key=KEY, accounts=["billing"], include_parent=False,
                   enforced_tls={"require_tls": True}, parent={"enforced_tls": {"require_tls": False}})
    assert warned == ["parent gives the parent's overrides, but include_parent is false: they are not used."]
