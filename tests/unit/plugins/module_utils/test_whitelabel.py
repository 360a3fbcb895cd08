# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The sender identity engine (_whitelabel): the records as DNS modules take them, the checks, the plan, validation
with its polling, and the scopes each change needs."""

from __future__ import annotations

import pytest

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._families import BY_NAME, POLICY
from ansible_collections.mailops.sendgrid.plugins.module_utils._whitelabel import (
    DOMAIN_FAMILY, LINK_FAMILY, changes_of, dns_records, planned_changes,
)

AUTOMATIC = {
    "id": 12, "domain": "example.com", "subdomain": "em", "username": "parent", "automatic_security": True,
    "custom_spf": False, "default": False, "ips": [], "valid": False, "subusers": [{"user_id": 10001, "username": "billing"}],
    "dns": {"mail_cname": {"valid": False, "type": "cname", "host": "em.example.com", "data": "u7.wl.sendgrid.net"},
            "dkim1": {"valid": True, "type": "cname", "host": "s1._domainkey.example.com",
                      "data": "s1.domainkey.u7.wl.sendgrid.net"}},
}
MANUAL_DNS = {
    "mail_server": {"valid": False, "type": "mx", "host": "em.example.com", "data": "mx.sendgrid.net"},
    "subdomain_spf": {"valid": False, "type": "txt", "host": "em.example.com", "data": "v=spf1 include:sendgrid.net ~all"},
    "dkim": {"valid": False, "type": "txt", "host": "abc._domainkey.example.com", "data": "k=rsa; t=s; p=KEY"},
}


def params(**given):
    values = dict(domain="example.com", subdomain="em", state="present", automatic_security=None, custom_spf=None,
                  custom_dkim_selector=None, ips=None, default=None, subusers=None, recreate=False, validate=False,
                  wait_timeout=0, poll_interval=10, on_behalf_of=None, region="global")
    values.update(given)
    return values


class Account:
    """Answers validations from a list, one per request; records every request."""

    on_behalf_of = None

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, body, params, operation.scope))
        return self.answers.pop(0)


# ----------------------------------------------------------------------------- records

def test_records_come_in_sendgrids_order_with_types_in_capitals_and_absolute_names():
    assert dns_records(AUTOMATIC["dns"]) == [
        {"name": "mail_cname", "type": "CNAME", "host": "em.example.com.", "data": "u7.wl.sendgrid.net.", "valid": False},
        {"name": "dkim1", "type": "CNAME", "host": "s1._domainkey.example.com.",
         "data": "s1.domainkey.u7.wl.sendgrid.net.", "valid": True}]


def test_an_mx_record_gets_its_priority_and_a_txt_record_keeps_its_text():
    records = {record["name"]: record for record in dns_records(MANUAL_DNS)}
    assert records["mail_server"]["data"] == "10 mx.sendgrid.net."
    assert records["subdomain_spf"] == {"name": "subdomain_spf", "type": "TXT", "host": "em.example.com.",
                                        "data": "v=spf1 include:sendgrid.net ~all", "valid": False}


def test_no_dns_object_is_no_records():
    assert dns_records(None) == [] and dns_records({}) == []


# ----------------------------------------------------------------------------- checks, before any request

@pytest.mark.parametrize("given, expected", [
    (dict(domain="example"), "value of domain must be a domain name such as example.com, got: example."),
    (dict(domain="exa mple.com"), "value of domain must be a domain name such as example.com, got: exa mple.com."),
    (dict(subdomain="em_1"), "value of subdomain must be DNS labels such as em (letters, digits and hyphens), got: em_1."),
    (dict(subdomain="-em"), "value of subdomain must be DNS labels such as em"),
    (dict(custom_dkim_selector="abcd"), "value of custom_dkim_selector must be 1 to 3 letters or digits (such as abc), "
                                        "got: abcd."),
    (dict(custom_dkim_selector="a-b"), "value of custom_dkim_selector must be 1 to 3 letters or digits"),
    (dict(ips=["192.0.2.1", "2001:db8::1"]), "value of ips must hold IPv4 addresses (such as 192.0.2.10), got: "
                                             "2001:db8::1."),
    (dict(ips=["192.0.2.300"]), "value of ips must hold IPv4 addresses"),
    (dict(subusers=["bad name"]), "value of subusers[0] must be a subuser's username"),
    (dict(subusers=["account-id 777"]), "value of subusers must hold subusers' usernames; account-id 777 is a customer "
                                        "account"),
    (dict(subusers=["billing"], on_behalf_of="marketing"), "subusers associates the parent's authenticated domain with "
                                                           "its subusers: leave subusers out when on_behalf_of is set"),
    (dict(wait_timeout=-1), "value of wait_timeout must be zero or more seconds, got: -1."),
    (dict(poll_interval=0), "value of poll_interval must be one second or more, got: 0."),
    (dict(custom_spf=True, automatic_security=True), "custom_spf: true needs automatic_security: false"),
])
def test_a_value_of_the_wrong_shape_is_refused_naming_the_option(given, expected):
    with pytest.raises(SendGridError) as raised:
        DOMAIN_FAMILY.checked(params(**given))
    assert str(raised.value).startswith(expected), str(raised.value)


def test_checked_values_are_normalised_and_the_contracts_check_gives_no_warning():
    checked = DOMAIN_FAMILY.checked(params(domain=" Example.COM ", subdomain="EM", ips=[" 192.0.2.1", "192.0.2.1"],
                                           subusers=["billing", "billing"], custom_dkim_selector="Ab1"))
    assert (checked["domain"], checked["subdomain"], checked["ips"], checked["subusers"],
            checked["custom_dkim_selector"]) == ("example.com", "em", ["192.0.2.1"], ["billing"], "Ab1")
    assert DOMAIN_FAMILY.check(params()) == []


def test_a_link_subdomain_is_checked_alike_and_named_with_its_own_example():
    with pytest.raises(SendGridError, match=r"^value of subdomain must be DNS labels such as links"):
        LINK_FAMILY.checked(dict(params(), subdomain="links!"))


# ----------------------------------------------------------------------------- planning

def test_a_difference_patch_cannot_make_is_refused_naming_the_option_and_recreate():
    with pytest.raises(SendGridError) as raised:
        DOMAIN_FAMILY.plan(None, params(automatic_security=False, custom_dkim_selector="abc"), AUTOMATIC)
    message = str(raised.value)
    assert "automatic_security true, not false; custom_dkim_selector s1, not abc" in message
    assert "SendGrid cannot change automatic_security or custom_dkim_selector of an existing authenticated domain" in message
    assert "Set recreate: true" in message and "Nothing was changed." in message


def test_recreate_deletes_and_creates_with_what_the_domain_had_and_its_associations_again():
    plan = DOMAIN_FAMILY.plan(None, params(automatic_security=False, recreate=True), dict(AUTOMATIC, default=True,
                                                                                          ips=["192.0.2.1"]))
    assert plan["recreate"] and not plan["patch"]
    assert plan["steps"] == [("subusers_added", "billing")]
    assert DOMAIN_FAMILY.create_body(params(automatic_security=False), dict(AUTOMATIC, default=True, ips=["192.0.2.1"])) == {
        "domain": "example.com", "subdomain": "em", "automatic_security": False, "custom_spf": False,
        "ips": ["192.0.2.1"], "default": True, "region": "global"}


def test_only_what_differs_is_patched_and_ips_and_subusers_are_compared_as_sets():
    current = dict(AUTOMATIC, automatic_security=False, ips=["192.0.2.1", "192.0.2.2"])
    plan = DOMAIN_FAMILY.plan(None, params(default=True, custom_spf=False, ips=["192.0.2.2", "192.0.2.3"],
                                           subusers=["marketing"]), current)
    assert plan["patch"] == {"default": True}
    assert plan["steps"] == [("ips_added", "192.0.2.3"), ("ips_removed", "192.0.2.1"),
                             ("subusers_added", "marketing"), ("subusers_removed", "billing")]
    assert planned_changes(current, plan) == {"updated": {"default": True}, "ips_added": ["192.0.2.3"],
                                              "ips_removed": ["192.0.2.1"], "subusers_added": ["marketing"],
                                              "subusers_removed": ["billing"]}


def test_custom_spf_on_an_automatic_security_domain_is_refused_before_any_write():
    with pytest.raises(SendGridError, match="custom_spf: true needs a domain of manual security"):
        DOMAIN_FAMILY.plan(None, params(custom_spf=True), AUTOMATIC)


def test_the_selector_is_read_from_the_dkim_records_name():
    assert DOMAIN_FAMILY.selector(AUTOMATIC) == "s1"
    assert DOMAIN_FAMILY.selector({"dns": MANUAL_DNS}) == "abc"
    assert DOMAIN_FAMILY.fixed_differences(params(custom_dkim_selector="ABC"), {"dns": MANUAL_DNS}) == []


def test_changes_of_a_recreation_name_the_new_id_only():
    assert changes_of([("deleted", 12), ("recreated", 13), ("subusers_added", "billing")]) == {
        "recreated": 13, "subusers_added": ["billing"]}


# ----------------------------------------------------------------------------- validation

class Clock:
    def __init__(self):
        self.now, self.slept = 100.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


INVALID = {"id": 12, "valid": False, "validation_results": {
    "mail_cname": {"valid": False, "reason": "Expected your CNAME record to be \"u7.wl.sendgrid.net\" but found no DNS "
                                             "record at \"em.example.com\"."},
    "dkim1": {"valid": True, "reason": None}}}
VALID = {"id": 12, "valid": True, "validation_results": {"mail_cname": {"valid": True, "reason": None},
                                                         "dkim1": {"valid": True, "reason": None}}}


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(DOMAIN_FAMILY, "clock", clock)
    monkeypatch.setattr(DOMAIN_FAMILY, "sleep", clock.sleep)
    return clock


def test_validation_polls_every_interval_until_valid(clock):
    account = Account([INVALID, INVALID, VALID])
    outcome = DOMAIN_FAMILY.validate(account, AUTOMATIC, params(wait_timeout=60, poll_interval=15))
    assert outcome["valid"] is True and outcome["attempts"] == 3
    assert clock.slept == [15, 15]
    assert [sent[:4] for sent in account.sent] == [("POST", "/v3/whitelabel/domains/12/validate", None, None)] * 3
    assert {sent[4] for sent in account.sent} == {"whitelabel.update"}


def test_validation_stops_when_the_next_attempt_would_be_past_the_timeout(clock):
    account = Account([INVALID] * 5)
    outcome = DOMAIN_FAMILY.validate(account, AUTOMATIC, params(wait_timeout=25, poll_interval=10))
    assert (outcome["valid"], outcome["attempts"], clock.slept) == (False, 3, [10, 10])
    assert outcome["results"]["mail_cname"]["reason"].startswith("Expected your CNAME record")


def test_a_wait_timeout_of_zero_validates_once(clock):
    account = Account([INVALID])
    outcome = DOMAIN_FAMILY.validate(account, AUTOMATIC, params())
    assert (outcome["attempts"], clock.slept, len(account.sent)) == (1, [], 1)


def test_a_validation_answer_without_results_is_an_error(clock):
    with pytest.raises(SendGridError, match="where validation_results were expected"):
        DOMAIN_FAMILY.validate(Account([{"id": 12}]), AUTOMATIC, params())


# ----------------------------------------------------------------------------- the contract

def test_the_families_are_modules_only_registered_once():
    for family in (DOMAIN_FAMILY, LINK_FAMILY):
        assert BY_NAME[family.name] is family and family not in POLICY
        assert family.kind == "collection" and family.options == []


@pytest.mark.parametrize("changes, scopes", [
    ({"created": 1}, ["whitelabel.create"]),
    ({"deleted": 1}, ["whitelabel.delete"]),
    ({"recreated": 2, "subusers_added": ["billing"]}, ["whitelabel.create", "whitelabel.delete", "whitelabel.update"]),
    ({"updated": {"default": True}, "validated": True}, ["whitelabel.update"]),
    ({}, []),
])
def test_write_scopes_name_what_each_change_needs(changes, scopes):
    assert DOMAIN_FAMILY.write_scopes("domain_authentication", {"changes": changes}) == scopes
    assert LINK_FAMILY.write_scopes("link_branding", {"changes": changes}) == scopes


def test_describe_writes_each_change_in_a_cell():
    assert DOMAIN_FAMILY.describe("domain_authentication", {"changes": {"created": 3, "ips_added": ["192.0.2.1"]}},
                                  str) == 'created 3; ips_added ["192.0.2.1"]'
