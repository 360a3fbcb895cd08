# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The teammates family: reading the team, planning only what differs, the guards, the audit, the writes."""

from __future__ import annotations

import pytest

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils._teammates import (
    FAMILY, audit, body, check_members, plan, read_team, why, write,
)

OWNER = {"username": "parent", "email": "owner@example.com", "user_type": "owner", "is_admin": True}
ADMIN = {"username": "ops", "email": "ops@example.com", "user_type": "admin", "is_admin": True}
DEV = {"username": "dev", "email": "Dev@Example.com", "user_type": "teammate", "is_admin": False}


class FakeAccount:
    """An account's team as SendGrid answers it; records requests."""

    def __init__(self, teammates=(OWNER, ADMIN, DEV), scopes=None, pending=(), fail=None):
        self.on_behalf_of = None
        self.teammates = [dict(person) for person in teammates]
        self.scopes = scopes or {"dev": ["mail.send", "stats.read"]}
        self.pending = [dict(invite) for invite in pending]
        self.fail = fail or {}
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, body, params))
        if (method, path) in self.fail:
            raise self.fail[(method, path)]
        if method == "GET" and path == "/v3/teammates":
            offset = params["offset"]
            return {"result": self.teammates[offset:offset + params["limit"]]}
        if method == "GET" and path == "/v3/teammates/pending":
            return {"result": self.pending}
        if method == "GET":
            return {"username": path.rsplit("/", 1)[-1], "scopes": self.scopes.get(path.rsplit("/", 1)[-1], [])}
        return {} if method != "DELETE" else None


def team(**kwargs):
    return read_team(FakeAccount(**kwargs))


def test_the_team_is_read_in_pages_with_each_teammates_scopes_but_not_the_owners_or_admins():
    account = FakeAccount(pending=[{"email": "new@example.com", "scopes": ["stats.read"], "is_admin": False,
                                    "token": "t-1", "expiration_date": 1}])
    read = read_team(account)
    assert [(method, path) for method, path, _body, _params in account.sent] == [
        ("GET", "/v3/teammates"), ("GET", "/v3/teammates/dev"), ("GET", "/v3/teammates/pending")]
    assert account.sent[0][3] == {"limit": 500, "offset": 0}
    assert [person["email"] for person in read["teammates"]] == ["Dev@Example.com", "ops@example.com",
                                                                 "owner@example.com"]
    assert read["teammates"][0]["scopes"] == ["mail.send", "stats.read"]
    assert read["pending"] == [{"email": "new@example.com", "token": "t-1", "is_admin": False, "scopes": ["stats.read"],
                                "expiration_date": 1}]


def test_members_in_sync_plan_nothing_and_emails_compare_ignoring_case():
    members = check_members({"dev@example.com": ["stats.read", " mail.send"], "ops@example.com": "admin"}, "members")
    assert plan(team(), members, purge=False) == []


def test_a_new_member_is_invited_a_changed_one_updated_and_an_invite_with_other_access_replaced():
    current = team(pending=[{"email": "new@example.com", "scopes": ["stats.read"], "is_admin": False, "token": "t-1"}])
    steps = plan(current, {"dev@example.com": "admin", "new@example.com": ["mail.send"], "x@example.com": ["stats.read"]},
                 purge=False)
    assert [(action, person["email"], wanted) for action, person, wanted in steps] == [
        ("update", "Dev@Example.com", "admin"), ("replace", "new@example.com", ["mail.send"]),
        ("invite", "x@example.com", ["stats.read"])]


def test_purge_removes_the_unlisted_and_cancels_their_invites_but_never_the_owner():
    current = team(pending=[{"email": "old@example.com", "scopes": [], "is_admin": True, "token": "t-9"}])
    steps = plan(current, {"ops@example.com": "admin"}, purge=True)
    assert [(action, person["email"]) for action, person, _wanted in steps] == [
        ("remove", "Dev@Example.com"), ("cancel", "old@example.com")]


@pytest.mark.parametrize("members, purge, absent, message", [
    ({"owner@example.com": ["mail.send"]}, False, (), "owner@example.com is the account's owner, whose access is never "
                                                      "changed"),
    ({}, False, ("owner@example.com",), "owner@example.com is the account's owner, which is never removed."),
    ({"ops@example.com": ["mail.send"]}, False, (), "This would remove or demote ops@example.com, the last admin of the "
                                                    "account (besides its owner): nothing was changed."),
    ({"dev@example.com": ["mail.send"]}, True, (), "This would remove or demote ops@example.com, the last admin"),
])
def test_the_guards_refuse_before_any_write(members, purge, absent, message):
    with pytest.raises(SendGridError) as failure:
        plan(team(), members, purge, absent)
    assert str(failure.value).startswith(message), str(failure.value)


def test_an_admins_scopes_are_never_sent():
    assert body("a@example.com", "admin") == {"email": "a@example.com", "is_admin": True, "scopes": []}
    assert body(None, ["mail.send"]) == {"is_admin": False, "scopes": ["mail.send"]}


def test_the_writes_are_one_request_each_a_replaced_invite_two_and_a_failure_names_what_was_written():
    current = team(pending=[{"email": "new@example.com", "scopes": ["stats.read"], "is_admin": False, "token": "t 1"}])
    steps = plan(current, {"dev@example.com": "admin", "new@example.com": ["mail.send"], "x@example.com": ["a.b"]},
                 purge=False)
    refused = SendGridError("Inviting a teammate POST ... failed (HTTP 400).", 400)
    account = FakeAccount(fail={("POST", "/v3/teammates"): refused})
    with pytest.raises(SendGridError) as failure:
        write(account, steps)
    assert [(method, path, sent) for method, path, sent, _params in account.sent] == [
        ("PATCH", "/v3/teammates/dev", {"is_admin": True, "scopes": []}),
        ("DELETE", "/v3/teammates/pending/t%201", None),
        ("POST", "/v3/teammates", {"email": "new@example.com", "is_admin": False, "scopes": ["mail.send"]})]
    # the replaced invite's DELETE went through before its POST failed: written too
    assert str(failure.value).endswith("Written before the failure: update Dev@Example.com, cancel new@example.com.")
    assert failure.value.written == {"updated": ["Dev@Example.com"], "cancelled": ["new@example.com"]}


def test_the_audit_flags_admins_and_scopes_beyond_the_patterns_never_the_owner():
    flagged = audit(team(), ["mail.*"], ["*@ops.example.com"])
    assert flagged == [
        {"name": "Dev@Example.com", "excess_scopes": ["stats.read"], "admin": False, "pending": False},
        {"name": "ops@example.com", "excess_scopes": [], "admin": True, "pending": False}]
    assert why(flagged[1]) == "ops@example.com is admin (allowed_admins does not match)"
    assert audit(team(), None, None) == []


@pytest.mark.parametrize("members, message", [
    ({"not-an-address": "admin"}, "value of members must be keyed by e-mail addresses, got: not-an-address."),
    ({"a@example.com": "owner"}, 'value of members["a@example.com"] must be "admin" or a non-empty list of scopes'),
    ({"a@example.com": []}, 'value of members["a@example.com"] must be "admin" or a non-empty list of scopes'),
    ({"a@example.com": "admin", "A@example.com": "admin"}, "value of members names A@example.com twice"),
    (["a@example.com"], "value of members must be a dictionary of e-mail addresses"),
])
def test_bad_members_are_refused_naming_the_option(members, message):
    with pytest.raises(SendGridError) as failure:
        check_members(members, "members")
    assert str(failure.value).startswith(message), str(failure.value)


def test_the_family_outcome_changes_and_flags_at_once():
    account = FakeAccount()
    outcome = FAMILY.apply(account, {"members": {"new@example.com": "admin"}, "purge": False, "allowed_scopes": None,
                                     "allowed_admins": ["ops@example.com"]}, check_mode=True)["teammates"]
    assert outcome["status"] == "would_change" and outcome["changes"] == {"invited": ["new@example.com"]}
    assert [item["name"] for item in outcome["flagged"]] == ["new@example.com"]
    assert outcome["after"]["new@example.com"] == {"invited": "admin"}
    assert [method for method, _path, _body, _params in account.sent] == ["GET", "GET", "GET"]


def test_a_teammate_made_admin_by_the_same_steps_keeps_the_account_an_admin():
    steps = plan(team(), {"dev@example.com": "admin", "owner@example.com": "admin"}, purge=True)
    assert [(action, person["email"]) for action, person, _wanted in steps] == [
        ("update", "Dev@Example.com"), ("remove", "ops@example.com")]


def test_a_failed_re_invite_says_the_old_invite_was_deleted_and_counts_it_as_written():
    current = team(pending=[{"email": "new@example.com", "scopes": ["stats.read"], "is_admin": False, "token": "t1"}])
    steps = plan(current, {"new@example.com": ["mail.send"]}, purge=False)
    account = FakeAccount(fail={("POST", "/v3/teammates"): SendGridError("Inviting a teammate failed (HTTP 400).", 400)})
    with pytest.raises(SendGridError) as failure:
        write(account, steps)
    assert str(failure.value) == ("Inviting a teammate failed (HTTP 400). The pending invite of new@example.com was "
                                  "deleted before: invite them again. Written before the failure: cancel "
                                  "new@example.com.")
    assert failure.value.written == {"cancelled": ["new@example.com"]}


@pytest.mark.parametrize("scopes", [["stats.*"], ["Mail.Send"], ["mail send"]])
def test_a_member_s_scopes_are_scopes_as_sendgrid_names_them_checked_before_any_request(scopes):
    with pytest.raises(SendGridError, match="must hold scopes such as mail.send: lower-case letters"):
        check_members({"a@example.com": scopes}, "members")


# ----------------------------------------------------------------------------- the export

def test_the_export_lists_every_teammate_but_the_owner_and_every_invite_exactly():
    account = FakeAccount(pending=[{"email": "new@example.com", "scopes": ["stats.read"], "is_admin": False,
                                    "token": "t-1", "expiration_date": 1}])
    exported = FAMILY.export(account)
    assert exported["members"] == {"ops@example.com": "admin", "Dev@Example.com": ["mail.send", "stats.read"],
                                   "new@example.com": ["stats.read"]}
    assert exported["purge"] is True and [method for method, *_rest in account.sent] == ["GET"] * 3
    # applied to the account it describes, it changes nothing (and the owner is never touched)
    assert plan(read_team(account), check_members(exported["members"], "members"), exported["purge"]) == []
