# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading an account's API keys with their scopes, and the audit of those scopes, over a recording fake account."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.mailops.sendgrid.plugins.module_utils._api_keys import (
    CONTROL_SCOPES, FAMILY, audit, check_names, check_patterns, read_keys, why,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridClient, SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import ANY

SECRET = "SG.never-shown.secret"


class FakeAccount:
    """Answers the API key endpoints from {id: (name, scopes)}; records requests. wrapped: the single key in
    {"result": [key]} as the spec has it, else the bare object."""

    def __init__(self, keys, wrapped=True, answers=None):
        self.keys = keys
        self.wrapped = wrapped
        self.answers = answers or {}
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, params, operation.scope))
        if path in self.answers:
            return self.answers[path]
        if path == "/v3/api_keys":
            return {"result": [{"name": name, "api_key_id": key_id} for key_id, (name, dummy) in self.keys.items()]}
        key_id = path.rsplit("/", 1)[1]
        name, scopes = self.keys[key_id]
        key = {"name": name, "api_key_id": key_id, "scopes": scopes}
        return {"result": [key]} if self.wrapped else key


KEYS = {"k2": ("sender", ["mail.send", "2fa_required"]), "k1": ("admin", ["api_keys.read", "mail.send"]),
        "k3": ("admin", ["teammates.create"])}


@pytest.mark.parametrize("wrapped", [True, False], ids=["result-list", "bare-object"])
def test_one_list_then_one_get_per_key_either_answer_shape(wrapped):
    account = FakeAccount(KEYS, wrapped=wrapped)
    assert read_keys(account) == [
        {"name": "admin", "api_key_id": "k1", "scopes": ["api_keys.read", "mail.send"]},
        {"name": "admin", "api_key_id": "k3", "scopes": ["teammates.create"]},
        {"name": "sender", "api_key_id": "k2", "scopes": ["2fa_required", "mail.send"]},
    ]
    assert account.sent == [("GET", "/v3/api_keys", {"limit": 100}, "api_keys.read"),
                            ("GET", "/v3/api_keys/k2", None, "api_keys.read"),
                            ("GET", "/v3/api_keys/k1", None, "api_keys.read"),
                            ("GET", "/v3/api_keys/k3", None, "api_keys.read")]


def test_no_keys_costs_one_request():
    account = FakeAccount({})
    assert read_keys(account) == []
    assert len(account.sent) == 1


def test_a_key_id_is_quoted_in_the_path():
    account = FakeAccount({"a/b c": ("odd", [])}, answers={"/v3/api_keys/a%2Fb%20c": {"scopes": []}})
    assert read_keys(account) == [{"name": "odd", "api_key_id": "a/b c", "scopes": []}]


def test_a_key_deleted_between_the_list_and_its_read_is_left_out_and_other_failures_are_not():
    class Deleted(FakeAccount):
        def request(self, method, path, operation, body=None, params=None):
            if path.endswith("/k2"):
                self.sent.append((method, path, params, operation.scope))
                raise SendGridError("gone", self.status)
            return super().request(method, path, operation, body, params)

    account = Deleted(KEYS)
    account.status = 404
    assert [key["api_key_id"] for key in read_keys(account)] == ["k1", "k3"]
    assert len(account.sent) == 4
    account.status = 403
    with pytest.raises(SendGridError, match="gone"):
        read_keys(account)


def test_a_secret_in_an_answer_is_neither_returned_nor_shown():
    key = {"name": "leaky", "api_key_id": "k1", "scopes": ["mail.send"], "api_key": SECRET}
    assert read_keys(FakeAccount({"k1": ("leaky", [])}, answers={"/v3/api_keys/k1": key})) == [
        {"name": "leaky", "api_key_id": "k1", "scopes": ["mail.send"]}]
    broken = dict(key, scopes="mail.send")
    with pytest.raises(SendGridError, match="without a list of scopes") as failure:
        read_keys(FakeAccount({"k1": ("leaky", [])}, answers={"/v3/api_keys/k1": broken}))
    assert SECRET not in str(failure.value)


@pytest.mark.parametrize("answer, message", [
    ([{"name": "a", "api_key_id": "k1"}], r"where the API keys \(a result list\) was expected"),
    ({"result": [{"name": "a"}]}, "without a name or an api_key_id"),
    ({"result": [{"name": "a", "api_key_id": ""}]}, "without a name or an api_key_id"),
    ({"result": [{"name": 1, "api_key_id": "k1"}]}, "without a name or an api_key_id"),
    ({"result": [{"name": "a", "api_key_id": "k1"}, {"name": "b", "api_key_id": "k1"}]}, "id 'k1' twice"),
])
def test_a_malformed_list_fails_clearly_before_reading_any_key(answer, message):
    account = FakeAccount({}, answers={"/v3/api_keys": answer})
    with pytest.raises(SendGridError, match=message):
        read_keys(account)
    assert len(account.sent) == 1


@pytest.mark.parametrize("answer, message", [
    ({"result": []}, r"where the API key 'k1' \(an object with its scopes, or a result list holding it\)"),
    ({"result": [{"scopes": []}, {"scopes": []}]}, "where the API key 'k1'"),
    (None, "where the API key 'k1'"),
    ({"name": "a", "api_key_id": "k1"}, "without a list of scopes"),
    ({"result": [{"api_key_id": "k1", "scopes": ["mail.send", 7]}]}, "without a list of scopes"),
    ({"api_key_id": "k9", "scopes": []}, "with another key"),
    ({"name": None, "scopes": []}, "a name that is not text"),
])
def test_a_malformed_key_fails_naming_it(answer, message):
    account = FakeAccount({"k1": ("a", [])}, answers={"/v3/api_keys/k1": answer})
    with pytest.raises(SendGridError, match=message):
        read_keys(account)


@responses.activate
def test_a_key_without_api_keys_read_fails_naming_the_scope():
    responses.get("https://api.sendgrid.com/v3/api_keys", status=403,
                  json={"errors": [{"field": None, "message": "access forbidden"}]})
    client = SendGridClient(api_key="SG.unit", base_url="https://api.sendgrid.com")
    with pytest.raises(SendGridError, match="lacks the scope api_keys.read needed for listing the API keys"):
        read_keys(client.account("marketing"))
    assert responses.calls[0].request.headers["on-behalf-of"] == "marketing"
    assert responses.calls[0].request.url.endswith("/v3/api_keys?limit=100")


@pytest.mark.parametrize("patterns", [None, [], ["mail.send", "user.settings.*", "[a-z]*"]])
def test_good_patterns_pass(patterns):
    check_patterns(patterns, "allowed_scopes")


@pytest.mark.parametrize("patterns, shown", [
    ([""], "''"), (["mail.send", " mail.send"], "' mail.send'"), (["mail send"], "'mail send'"), ([7], "7"),
    ([None], "None"),
])
def test_bad_patterns_are_refused_naming_the_option(patterns, shown):
    with pytest.raises(SendGridError, match=r"value of allowed_scopes must hold scopes or fnmatch patterns .* got: "
                                            + shown.replace("[", r"\[") + r"\.$"):
        check_patterns(patterns, "allowed_scopes")


def test_patterns_that_are_not_a_list_are_refused():
    with pytest.raises(SendGridError, match="value of allowed_control_keys must be a list"):
        check_patterns("admin", "allowed_control_keys")


def test_key_names_may_hold_spaces_but_not_be_empty():
    check_names(["My API Key", "admin"], "allowed_control_keys")
    with pytest.raises(SendGridError, match=r"value of allowed_control_keys must hold API key names, each non-empty "
                                            r"text, got: '', ' '\.$"):
        check_names(["ok", "", " "], "allowed_control_keys")
    with pytest.raises(SendGridError, match="value of allowed_control_keys must be a list of API key names"):
        check_names("admin", "allowed_control_keys")


def key(name, *scopes, key_id=None):
    return {"name": name, "api_key_id": key_id or name + "-id", "scopes": sorted(scopes)}


def test_control_scopes_are_the_account_control_families():
    assert CONTROL_SCOPES == ("api_keys.*", "teammates.*", "access_settings.*")


def test_control_scopes_are_flagged_even_without_a_scope_policy():
    keys = [key("ci", "mail.send", "teammates.read", "api_keys.create"), key("plain", "mail.send", "stats.read")]
    assert audit(keys, None, []) == [{"name": "ci", "api_key_id": "ci-id", "excess_scopes": [],
                                      "control_scopes": ["api_keys.create", "teammates.read"], "name_shared": False}]


def test_scopes_no_pattern_allows_are_excess():
    keys = [key("app", "mail.send", "user.settings.enforced_tls.read", "stats.read", "2fa_required")]
    assert audit(keys, ["mail.send", "user.settings.*"], []) == [
        {"name": "app", "api_key_id": "app-id", "excess_scopes": ["2fa_required", "stats.read"], "control_scopes": [], "name_shared": False}]


def test_patterns_match_case_sensitively_and_whole():
    keys = [key("app", "Mail.Send", "mail.send.extra")]
    assert audit(keys, ["mail.send"], [])[0]["excess_scopes"] == ["Mail.Send", "mail.send.extra"]


def test_a_key_allowed_by_name_keeps_its_control_scopes_without_them_being_excess():
    keys = [key("admin", "api_keys.read", "access_settings.whitelist.read", "stats.read"),
            key("intruder", "api_keys.read", key_id="x1")]
    assert audit(keys, ["mail.send"], ["admin"]) == [
        {"name": "admin", "api_key_id": "admin-id", "excess_scopes": ["stats.read"], "control_scopes": [], "name_shared": False},
        {"name": "intruder", "api_key_id": "x1", "excess_scopes": [], "control_scopes": ["api_keys.read"], "name_shared": False}]


def test_keys_within_the_policy_are_not_flagged():
    keys = [key("admin", "api_keys.read"), key("app", "mail.send"), key("empty")]
    assert audit(keys, ["mail.send"], ["admin"]) == []
    assert audit(keys, [], ["admin"]) == [
        {"name": "app", "api_key_id": "app-id", "excess_scopes": ["mail.send"], "control_scopes": [], "name_shared": False}]


def test_flagged_keys_keep_the_order_of_keys_and_same_named_keys_stay_apart():
    keys = [key("dup", "teammates.read", key_id="a"), key("dup", "mail.send", key_id="b"),
            key("dup", "teammates.read", key_id="c")]
    assert [flag["api_key_id"] for flag in audit(keys, ["mail.send"], [])] == ["a", "c"]


def test_a_name_allowed_for_control_scopes_that_several_keys_share_allows_none_of_them_but_an_id_allows_one():
    """Key names are not unique: allowing "admin" must not let a second key named "admin" through."""
    keys = [key("admin", "api_keys.read", key_id="a1"), key("admin", "teammates.create", key_id="a2")]
    flagged = audit(keys, None, ["admin"])
    assert [(flag["api_key_id"], flag["name_shared"]) for flag in flagged] == [("a1", True), ("a2", True)]
    assert why(flagged[1]) == ("admin (id a2) holds account-control scopes teammates.create (allowed_control_keys names "
                               "'admin', which several keys share: give the api_key_id of the one to allow)")
    assert [flag["api_key_id"] for flag in audit(keys, None, ["a1"])] == ["a2"]


class Caller:
    """The client of an account as the guard sees it: the calling key's id, and its scopes at GET /v3/scopes."""

    base_url = "https://api.sendgrid.com"

    def __init__(self, calling_key_id, scopes=()):
        self.calling_key_id = calling_key_id
        self.scopes = list(scopes)

    def request(self, method, path, operation, **kwargs):
        return {"scopes": self.scopes}


class Enforced(FakeAccount):
    """A parent account whose key writes are recorded too."""

    def __init__(self, keys, calling_key_id="k9", on_behalf_of=None, scopes=()):
        super().__init__(keys)
        self.client = Caller(calling_key_id, scopes)
        self.on_behalf_of = on_behalf_of
        self.written = []

    def request(self, method, path, operation, body=None, params=None):
        if method != "GET":
            self.written.append((method, path, body))
            return {}
        return super().request(method, path, operation, body, params)


ENFORCED = dict(allowed_scopes=["mail.*", "stats.read"], allowed_control_keys=["ops"], enforce=True)


def test_enforce_cuts_each_flagged_keys_excess_and_control_scopes_keeping_its_allowed_ones():
    account = Enforced({"k1": ("ci", ["mail.send", "api_keys.create", "templates.read"]), "k2": ("ok", ["mail.send"])})
    outcome = FAMILY.apply(account, ENFORCED, check_mode=False)["api_keys"]
    assert account.written == [("PUT", "/v3/api_keys/k1", {"name": "ci", "scopes": ["mail.send"]})]
    assert outcome == {"status": "changed", "keys": 2, "flagged": [], "cut": [
        {"name": "ci", "api_key_id": "k1", "removed": ["api_keys.create", "templates.read"], "scopes": ["mail.send"]}],
        # diff mode shows each key cut, by name and id
        "before": {"ci (id k1)": ["api_keys.create", "mail.send", "templates.read"]},
        "after": {"ci (id k1)": ["mail.send"]}}
    assert FAMILY.write_scopes("api_keys", outcome) == ["api_keys.update"]
    assert "cut ci (k1): api_keys.create, templates.read" in FAMILY.describe("api_keys", outcome, str)


def test_enforce_in_check_mode_says_what_would_be_cut_and_writes_nothing():
    account = Enforced({"k1": ("ci", ["mail.send", "templates.read"])})
    outcome = FAMILY.apply(account, ENFORCED, check_mode=True)["api_keys"]
    assert account.written == [] and outcome["status"] == "would_change"
    assert outcome["cut"][0]["removed"] == ["templates.read"]


@pytest.mark.parametrize("keys, calling, why_kept", [
    ({"k1": ("ops", ["mail.send", "templates.read"])}, "k9", "allowed_control_keys names it"),
    ({"k1": ("ci", ["templates.read"])}, "k9", "the cut would leave it no scope"),
    ({"k1": ("ci", ["mail.send", "2fa_required"])}, "k9", "only markers SendGrid sets"),
    ({"k1": ("ci", ["mail.send", "api_keys.read"])}, "k1", "it may be the key this run authenticates with"),
])
def test_enforce_never_cuts_a_named_key_the_calling_key_a_key_it_would_empty_or_markers(keys, calling, why_kept):
    account = Enforced(keys, calling_key_id=calling)
    outcome = FAMILY.apply(account, dict(ENFORCED, allowed_scopes=["mail.*"]), check_mode=False)["api_keys"]
    assert account.written == [] and outcome["status"] == "flagged" and outcome["cut"] == []
    assert outcome["flagged"][0]["not_cut"].startswith(why_kept)
    assert "(not cut: %s" % why_kept in FAMILY.explain(outcome["flagged"][0])


def test_enforce_for_a_subuser_cuts_even_api_keys_scopes_no_key_there_is_the_callers():
    account = Enforced({"k1": ("ci", ["mail.send", "api_keys.read"])}, calling_key_id="k1", on_behalf_of="marketing")
    FAMILY.apply(account, ENFORCED, check_mode=False)
    assert account.written == [("PUT", "/v3/api_keys/k1", {"name": "ci", "scopes": ["mail.send"]})]


def test_without_enforce_the_audit_only_flags():
    account = Enforced({"k1": ("ci", ["mail.send", "templates.read"])})
    outcome = FAMILY.apply(account, dict(ENFORCED, enforce=False), check_mode=False)["api_keys"]
    assert account.written == [] and outcome["status"] == "flagged" and "not_cut" not in outcome["flagged"][0]


def test_enforce_cuts_keys_sharing_an_allowed_name_which_allows_none_of_them_and_keeps_the_markers():
    account = Enforced({"k1": ("ci", ["api_keys.read", "mail.send", "2fa_required"]), "k2": ("ci", ["api_keys.read"])})
    outcome = FAMILY.apply(account, dict(ENFORCED, allowed_scopes=["mail.*"], allowed_control_keys=["ci"]),
                           check_mode=False)["api_keys"]
    assert account.written == [("PUT", "/v3/api_keys/k1", {"name": "ci", "scopes": ["2fa_required", "mail.send"]})]
    # the other would be left without a scope: flagged, saying so, and shown with its id
    assert [(item["api_key_id"], item["name_shared"], item["not_cut"][:28]) for item in outcome["flagged"]] == [
        ("k2", True, "the cut would leave it no sc")]


# ----------------------------------------------------------------------------- the export

def test_the_export_is_the_audit_today_s_keys_pass_naming_a_shared_name_s_keys_by_id():
    exported = FAMILY.export(FakeAccount(KEYS))
    # two keys named admin hold control scopes: a shared name would allow both, so each is named by its id
    assert exported["allowed_control_keys"] == ["k1", "k3"]
    assert exported["allowed_scopes"] == ["2fa_required", "mail.send"]
    assert audit(read_keys(FakeAccount(KEYS)), exported["allowed_scopes"], exported["allowed_control_keys"]) == []
    one = FAMILY.export(FakeAccount({"k1": ("ci", ["mail.send", "api_keys.read"])}))
    assert one["allowed_control_keys"] == ["ci"] and one["allowed_scopes"] == ["mail.send"]
    assert FAMILY.export(FakeAccount({}))["allowed_scopes"] is ANY
