# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The event webhooks family as the baseline runs it: the audit (http, unsigned, hosts), enforce signing the unsigned
and nothing else, check mode, the report cell, the labels, the scopes a plan needs, and the pure planning."""

from __future__ import annotations

import pytest

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._baseline import drift, outcome_message
from ansible_collections.mailops.sendgrid.plugins.module_utils._event_webhooks import (
    EVENTS, FAMILY, audit, check_events, check_hosts, check_url, desired_state, masked, read_webhooks, update_body,
    url_passwords,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import ANY, CHANGED, COMPLIANT, FAILED, FLAGGED, WOULD_CHANGE

POLICY = dict(require_https=True, require_signed=True, allowed_hosts=None, enforce=False)


def item(webhook_id, url, name=None, signed=False):
    listed = dict({event: False for event in EVENTS}, id=webhook_id, url=url, friendly_name=name, enabled=True)
    if signed:
        listed["public_key"] = "PK-" + webhook_id
    return listed


class FakeAccount:
    """An account's webhooks as GET .../all answers them; records requests; fails the listed (method, path)."""

    def __init__(self, *webhooks, fail=None):
        self.on_behalf_of = "marketing"
        self.webhooks = list(webhooks)
        self.fail = fail or {}
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, body))
        if (method, path) in self.fail:
            raise self.fail[(method, path)]
        if method == "GET":
            return {"max_allowed": 5, "webhooks": self.webhooks or [{}]}
        return {"id": path.rsplit("/", 1)[1], "public_key": "PK-new" if body["enabled"] else ""}


PLAIN = item("h1", "http://hooks.example.com/a", "plain")
UNSIGNED = item("h2", "https://hooks.example.com/b")
FAR = item("h3", "https://elsewhere.net/c", "far", signed=True)
GOOD = item("h4", "https://hooks.example.com/d", "good", signed=True)


def test_the_list_is_read_once_skipping_the_empty_item_of_an_account_without_webhooks():
    account = FakeAccount()
    assert read_webhooks(account) == [] and account.sent == [("GET", "/v3/user/webhooks/event/settings/all", None)]
    with pytest.raises(SendGridError, match="without a list of webhooks"):
        read_webhooks(type("Odd", (), {"request": lambda *args, **kwargs: {"webhooks": None}})())


def test_the_audit_flags_http_unsigned_and_hosts_outside_the_patterns_each_as_asked():
    hooks = read_webhooks(FakeAccount(PLAIN, UNSIGNED, FAR, GOOD))
    assert [(f["id"], f["http"], f["unsigned"], f["host_not_allowed"]) for f in audit(hooks, True, True, None)] == [
        ("h1", True, True, False), ("h2", False, True, False)]
    assert [(f["id"], f["host_not_allowed"]) for f in audit(hooks, False, False, ["*.EXAMPLE.com"])] == [("h3", True)]
    assert audit(hooks, False, False, None) == []


def test_a_url_without_a_readable_host_matches_no_allowed_host():
    hooks = read_webhooks(FakeAccount(item("h9", "https://[bad/x", signed=True)))
    assert [(f["id"], f["http"], f["host_not_allowed"]) for f in audit(hooks, True, True, ["*"])] == [
        ("h9", True, True)]


def test_without_enforce_the_audit_only_flags_and_writes_nothing():
    account = FakeAccount(PLAIN, UNSIGNED, GOOD)
    outcome = FAMILY.apply(account, POLICY, check_mode=False)["event_webhooks"]
    assert [method for method, dummy, dummy2 in account.sent] == ["GET"]
    assert outcome["status"] == FLAGGED and outcome["webhooks"] == 3 and outcome["signed"] == []
    assert [FAMILY.label(flagged) for flagged in outcome["flagged"]] == [
        "plain (id h1)", "https://hooks.example.com/b (id h2)"]
    assert FAMILY.explain(outcome["flagged"][0]) == ("the event webhook plain (id h1) is not https "
                                                     "(http://hooks.example.com/a); and is not signed")
    assert FAMILY.write_scopes("event_webhooks", outcome) == []


def test_enforce_signs_the_unsigned_and_never_touches_a_url_so_an_http_webhook_stays_flagged():
    account = FakeAccount(PLAIN, UNSIGNED, GOOD)
    outcome = FAMILY.apply(account, dict(POLICY, enforce=True), check_mode=False)["event_webhooks"]
    assert account.sent[1:] == [("PATCH", "/v3/user/webhooks/event/settings/signed/h1", {"enabled": True}),
                                ("PATCH", "/v3/user/webhooks/event/settings/signed/h2", {"enabled": True})]
    assert outcome["status"] == CHANGED
    assert [(f["id"], f["http"], f["unsigned"]) for f in outcome["flagged"]] == [("h1", True, False)]
    assert outcome["before"] == {"plain (id h1)": {"signed": False}, "https://hooks.example.com/b (id h2)": {"signed": False}}
    assert outcome["after"]["plain (id h1)"] == {"signed": True}
    assert FAMILY.write_scopes("event_webhooks", outcome) == ["user.webhooks.event.settings.update"]
    assert FAMILY.describe("event_webhooks", outcome, lambda text: text.replace("|", "\\|")) == (
        "3 webhooks; signed plain (id h1); signed https://hooks.example.com/b (id h2); flagged plain (id h1): not https")
    outcome = FAMILY.apply(FakeAccount(PLAIN), dict(POLICY, allowed_hosts=["x.example.org"]), False)["event_webhooks"]
    assert FAMILY.describe("event_webhooks", outcome, lambda text: text) == (
        "1 webhook; flagged plain (id h1): not https, not signed, host not allowed")


def test_check_mode_says_what_enforce_would_sign_and_sends_no_write():
    account = FakeAccount(UNSIGNED, GOOD)
    outcome = FAMILY.apply(account, dict(POLICY, enforce=True), check_mode=True)["event_webhooks"]
    assert [method for method, dummy, dummy2 in account.sent] == ["GET"]
    assert outcome["status"] == WOULD_CHANGE and outcome["flagged"] == []
    assert outcome["signed"] == [{"id": "h2", "name": None, "url": "https://hooks.example.com/b"}]


def test_a_compliant_account_is_compliant():
    outcome = FAMILY.apply(FakeAccount(GOOD), dict(POLICY, allowed_hosts=["hooks.example.com"]), False)
    assert outcome["event_webhooks"]["status"] == COMPLIANT and outcome["event_webhooks"]["flagged"] == []


def test_a_failure_part_way_is_the_outcome_naming_what_was_signed_before_it():
    account = FakeAccount(PLAIN, UNSIGNED, fail={
        ("PATCH", "/v3/user/webhooks/event/settings/signed/h2"): SendGridError("refused", 403)})
    outcome = FAMILY.apply(account, dict(POLICY, enforce=True), check_mode=False)["event_webhooks"]
    assert outcome["status"] == FAILED and outcome["msg"] == "refused"
    assert outcome["changes"] == {"signed": ["plain (id h1)"]}


@pytest.mark.parametrize("patterns", [["https://hooks.example.com"], ["hooks.example.com/x"], [""], ["a b"],
                                      ["hooks.example.com:443"], "hooks.example.com"])
def test_host_patterns_are_hosts_only(patterns):
    with pytest.raises(SendGridError, match="allowed_hosts"):
        check_hosts(patterns, "event_webhooks.allowed_hosts")
    assert FAMILY.check(dict(POLICY, allowed_hosts=["*.example.com", "hooks.example.net"]), "event_webhooks.") == []


@pytest.mark.parametrize("url", ["", "https://", "mailto:x@example.com", "/relative", "https://a b.example.com/", None, 5,
                                 "https://[bad/x"])
def test_a_url_must_be_absolute_with_a_host(url):
    with pytest.raises(SendGridError, match="value of url must be an absolute URL"):
        check_url(url, "url")


def test_the_update_body_holds_only_what_differs_and_nothing_when_nothing_does():
    current = read_webhooks(FakeAccount(item("h1", "https://a.example.com/", "n")))[0]
    params = dict(friendly_name="n", url=None, enabled=None, events=["click"], signed=None, oauth_client_id=None,
                  oauth_token_url=None)
    wanted = desired_state(current, params)
    assert update_body(current, wanted, None, False) == {"url": "https://a.example.com/", "click": True}
    assert update_body(current, desired_state(current, dict(params, events=None)), None, False) is None


# ----------------------------------------------------------------------------- the stranger's trial

PASSWORD = "s3cret-basic-4e1a"
AUTH = item("h7", "https://user:%s@hooks.example.com/x" % PASSWORD)


def test_a_url_password_is_masked_in_the_audit_its_message_the_report_cell_and_the_drift():
    account = FakeAccount(AUTH)
    for check_mode, enforce in ((False, False), (True, True), (False, True)):
        outcome = FAMILY.apply(account, dict(POLICY, enforce=enforce, allowed_hosts=["x.example.org"]),
                               check_mode)["event_webhooks"]
        accounts = [dict(name="billing", failed=False, settings={"event_webhooks": outcome})]
        shown = repr((outcome, drift(accounts), outcome_message(accounts, check_mode),
                      [FAMILY.explain(flagged) for flagged in outcome["flagged"]],
                      FAMILY.describe("event_webhooks", outcome, lambda text: text)))
        assert PASSWORD not in shown and "https://user:********@hooks.example.com/x (id h7)" in shown
    # the real URL is what the host is read from, and what signing is asked for
    assert account.sent[-1] == ("PATCH", "/v3/user/webhooks/event/settings/signed/h7", {"enabled": True})


@pytest.mark.parametrize("url, shown", [
    ("https://user:pw@hooks.example.com/x", "https://user:********@hooks.example.com/x"),
    ("https://user:p@ss:w@hooks.example.com:8443/x?a=b@c", "https://user:********@hooks.example.com:8443/x?a=b@c"),
    ("https://user@hooks.example.com/x", "https://user@hooks.example.com/x"),
    ("https://hooks.example.com/x?u=a:b@c", "https://hooks.example.com/x?u=a:b@c"),
    ("https://[bad", "https://[bad"), (None, None),
])
def test_masked_hides_the_password_alone(url, shown):
    assert masked(url) == shown


def test_the_passwords_to_censor_are_the_written_and_the_decoded_form():
    assert url_passwords("https://u:p%40ss@h.example.com/") == ["p%40ss", "p@ss"]
    assert url_passwords("https://u@h.example.com/") == [] and url_passwords("https://u:@h.example.com/") == []


def test_hosts_are_compared_without_case_and_without_a_final_dot_patterns_too():
    hooks = read_webhooks(FakeAccount(item("h1", "https://HOOKS.EXAMPLE.COM./a", signed=True),
                                      item("h2", "https://hooks.example.com/b", signed=True)))
    for patterns in (["hooks.example.com."], ["*.example.com"], ["HOOKS.example.com"], ["*.example.com."]):
        assert audit(hooks, True, True, patterns) == [], patterns
    assert [f["id"] for f in audit(hooks, True, True, ["other.example.com."])] == ["h1", "h2"]


def test_with_enforce_the_drift_names_the_webhook_and_a_plan_says_would_sign():
    outcome = FAMILY.apply(FakeAccount(UNSIGNED, GOOD), dict(POLICY, enforce=True), check_mode=True)["event_webhooks"]
    accounts = [dict(name="billing", failed=False, settings={"event_webhooks": outcome})]
    assert drift(accounts) == [dict(account="billing", settings=["event_webhooks"], flagged={
        "event_webhooks": ["https://hooks.example.com/b (id h2)"]})]
    assert FAMILY.describe("event_webhooks", outcome, lambda text: text) == (
        "2 webhooks; would sign https://hooks.example.com/b (id h2)")
    done = FAMILY.apply(FakeAccount(PLAIN, UNSIGNED), dict(POLICY, enforce=True), check_mode=False)["event_webhooks"]
    assert FAMILY.named(done) == ["plain (id h1)", "https://hooks.example.com/b (id h2)"]   # each once
    assert FAMILY.describe("event_webhooks", done, lambda text: text).startswith("2 webhooks; signed plain (id h1)")


@pytest.mark.parametrize("events, words", [
    (["bounce", " "], "events[1] is empty"),
    (["opened"], "value of events[0] must be one of: bounce, click, deferred, delivered, dropped, group_resubscribe, "
                 "group_unsubscribe, open, processed, spam_report, unsubscribe, got: 'opened'."),
    ([None], "got: null"),
])
def test_check_events_names_the_bad_item_never_python_s_none(events, words):
    with pytest.raises(SendGridError) as raised:
        check_events(events, "events")
    assert words in str(raised.value) and "None" not in str(raised.value)
    assert check_events(None, "events") is None and check_events(["open", "bounce", "open"], "events") == [
        "bounce", "open"]


# ----------------------------------------------------------------------------- the export

def test_the_export_is_the_audit_today_s_webhooks_pass_and_any_audit_fits_an_account_without_any():
    exported = FAMILY.export(FakeAccount(PLAIN, FAR))
    assert {key: exported[key] for key in ("require_https", "require_signed", "allowed_hosts")} == {
        "require_https": False, "require_signed": False, "allowed_hosts": ["elsewhere.net", "hooks.example.com"]}
    assert audit(read_webhooks(FakeAccount(PLAIN, FAR)), exported["require_https"],
                 exported["require_signed"], exported["allowed_hosts"]) == []
    exported = FAMILY.export(FakeAccount(GOOD))
    assert (exported["require_https"], exported["require_signed"], exported["allowed_hosts"]) == (
        True, True, ["hooks.example.com"])
    assert set(FAMILY.export(FakeAccount()).values()) == {ANY}
