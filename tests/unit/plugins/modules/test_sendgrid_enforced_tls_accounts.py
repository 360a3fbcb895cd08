# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Many accounts in one module run: routing per region, overrides, check mode, partial failure."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_enforced_tls_accounts

KEY = "SG.accounts-test-secret"
GLOBAL = "https://api.sendgrid.com/v3/user/settings/enforced_tls"
EU = "https://api.eu.sendgrid.com/v3/user/settings/enforced_tls"


class Accounts:
    """A responses callback holding settings per (host, on-behalf-of), recording what was sent."""

    def __init__(self):
        self.settings = {}
        self.sent = []

    def __call__(self, request):
        account = (request.url.split("/v3/")[0], request.headers.get("on-behalf-of"))
        body = json.loads(request.body) if request.body else None
        self.sent.append((request.method, account, body))
        current = self.settings.setdefault(account, {"require_tls": False, "require_valid_cert": False, "version": 1.1})
        if account[1] == "ghost":
            return 404, {}, json.dumps({"errors": [{"field": None, "message": "not found"}]})
        if account[1] == "cursed":
            raise ValueError("something no one foresaw, with the key %s" % KEY)
        if request.method == "PATCH":
            current.update(body)
        return 200, {}, json.dumps(current)


@pytest.fixture
def api():
    accounts = Accounts()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        for url in (GLOBAL, EU):
            for method in ("GET", "PATCH"):
                mocked.add_callback(method, url, callback=accounts, content_type="application/json")
        yield accounts


def run(capsys, **args):
    return run_module(sendgrid_enforced_tls_accounts, capsys, **dict({"api_key": KEY}, **args))


def test_parent_and_subusers_each_get_one_get_and_one_minimal_patch(api, capsys):
    result = run(capsys, require_tls=True, accounts=[{"name": "marketing"}, {"name": "billing"}])
    assert sorted(api.sent, key=str) == sorted([
        ("GET", ("https://api.sendgrid.com", None), None),
        ("PATCH", ("https://api.sendgrid.com", None), {"require_tls": True}),
        ("GET", ("https://api.sendgrid.com", "marketing"), None),
        ("PATCH", ("https://api.sendgrid.com", "marketing"), {"require_tls": True}),
        ("GET", ("https://api.sendgrid.com", "billing"), None),
        ("PATCH", ("https://api.sendgrid.com", "billing"), {"require_tls": True}),
    ], key=str)
    assert [a["name"] for a in result["accounts"]] == ["parent", "marketing", "billing"]
    assert result["changed"] is True
    assert result["summary"] == {"accounts": 3, "changed": 3, "in_sync": 0, "failed": 0}


def test_second_run_sends_only_gets(api, capsys):
    run(capsys, require_tls=True, accounts=[{"name": "marketing"}])
    api.sent.clear()
    result = run(capsys, require_tls=True, accounts=[{"name": "marketing"}])
    assert [method for method, _account, _body in api.sent] == ["GET", "GET"]
    assert result["changed"] is False


def test_eu_subuser_is_managed_on_the_eu_host_only(api, capsys):
    result = run(capsys, include_parent=False, require_tls=True, accounts=[{"name": "eu-news", "region": "eu"}])
    assert {account for _method, account, _body in api.sent} == {("https://api.eu.sendgrid.com", "eu-news")}
    assert result["accounts"][0]["api_url"] == "https://api.eu.sendgrid.com"


def test_api_url_and_eu_api_url_override_the_hosts(capsys):
    with responses.RequestsMock() as mocked:
        mocked.get("http://127.0.0.1:1/v3/user/settings/enforced_tls", json={"require_tls": True})
        mocked.get("http://127.0.0.1:2/v3/user/settings/enforced_tls", json={"require_tls": True})
        run(capsys, api_url="http://127.0.0.1:1", eu_api_url="http://127.0.0.1:2", require_tls=True,
            accounts=[{"name": "eu-news", "region": "eu"}])
        assert [(c.request.url, c.request.headers.get("on-behalf-of")) for c in mocked.calls] in (
            [("http://127.0.0.1:1/v3/user/settings/enforced_tls", None), ("http://127.0.0.1:2/v3/user/settings/enforced_tls", "eu-news")],
            [("http://127.0.0.1:2/v3/user/settings/enforced_tls", "eu-news"), ("http://127.0.0.1:1/v3/user/settings/enforced_tls", None)],
        )


def test_per_account_overrides_win_over_the_policy(api, capsys):
    run(capsys, include_parent=False, require_tls=True, min_tls_version="1.2",
        accounts=[{"name": "legacy", "min_tls_version": "1.1", "require_valid_cert": True}])
    assert api.sent[1] == ("PATCH", ("https://api.sendgrid.com", "legacy"), {"require_tls": True, "require_valid_cert": True})


def test_check_mode_sends_no_patch_and_diffs_every_account(api, capsys):
    result = run(capsys, require_tls=True, accounts=[{"name": "marketing"}], _ansible_check_mode=True, _ansible_diff=True)
    assert [method for method, _account, _body in api.sent] == ["GET", "GET"]
    assert result["changed"] is True
    assert [d["before_header"] for d in result["diff"]] == ["parent", "marketing"]
    assert result["diff"][1]["after"]["require_tls"] is True and result["diff"][1]["before"]["require_tls"] is False


def test_one_failing_account_does_not_stop_the_others(api, capsys):
    result = run(capsys, require_tls=True, accounts=[{"name": "ghost"}, {"name": "marketing"}])
    assert result["failed"] is True
    assert result["msg"].startswith("1 of 3 accounts failed: ghost: ")
    assert "does not know the subuser or account 'ghost'" in result["msg"]
    assert result["accounts"][2]["changed"] is True
    assert ("PATCH", ("https://api.sendgrid.com", "marketing"), {"require_tls": True}) in api.sent


@pytest.mark.parametrize("args,expected", [
    ({"accounts": [{"name": "a"}, {"name": "a"}]}, "accounts lists 'a' more than once"),
    ({"accounts": [{"name": "a\nb"}]}, "accounts[0].name must be a non-empty value"),
    ({"accounts": ["marketing", " billing"]}, "accounts[1].name must not start or end with spaces, got ' billing'."),
    ({"accounts": [{"on_behalf_of": "a", "nme": "b"}]}, "accounts[0] has the unknown key nme; an account is a subuser's name"),
    ({"accounts": [["a"]]}, "accounts[0] is [\"a\"]; an account is a subuser's name, or a dictionary"),
    ({"accounts": ["a", {"name": "a"}]}, "accounts lists 'a' more than once"),
    ({"api_url": "https://api.sendgrid.com/v3"}, "api_url must be the API's base URL without /v3"),
    ({"min_tls_version": "1.0"}, "value of min_tls_version must be one of: 1.1, 1.2, 1.3, got: 1.0 (leave it out"),
    ({"accounts": [{"name": "a", "min_tls_version": 1.4}]}, "value of accounts[0].min_tls_version must be one of: 1.1"),
    ({"accounts": [{"name": "a", "region": "us"}]}, "region"),
    ({"accounts": [{"name": "a", "colour": "red"}]}, "colour"),
    ({"concurrency": 0}, "concurrency must be from 1 to 32"),
    ({"eu_api_url": "http://eu.example.com", "accounts": [{"name": "a", "region": "eu"}]}, "plain http://"),
])
def test_bad_input_fails_before_any_request(api, capsys, args, expected):
    result = run(capsys, require_tls=True, **args)
    assert result["failed"] is True
    assert expected in result["msg"]
    assert api.sent == []


def test_an_unforeseen_exception_is_that_accounts_failure_and_the_others_results_are_kept(api, capsys):
    result = run(capsys, require_tls=True, concurrency=1, accounts=["marketing", "cursed", "billing"])
    assert result["failed"] is True
    assert [(a["name"], a["changed"], a["failed"]) for a in result["accounts"]] == [
        ("parent", True, False), ("marketing", True, False), ("cursed", False, True), ("billing", True, False)]
    assert result["accounts"][2]["msg"] == ("Unexpected ValueError while handling this account: something no one "
                                            "foresaw, with the key ********")
    assert result["summary"] == {"accounts": 4, "changed": 3, "in_sync": 0, "failed": 1}
    assert result["msg"].startswith("1 of 4 accounts failed: cursed: Unexpected ValueError")
    assert KEY not in json.dumps(result)


def test_null_min_tls_version_is_not_managed(api, capsys):
    result = run(capsys, require_tls=True, min_tls_version=None, accounts=[{"name": "marketing", "min_tls_version": None}])
    assert not result.get("failed") and result["summary"] == {"accounts": 2, "changed": 2, "in_sync": 0, "failed": 0}
    assert [body for method, dummy, body in api.sent if method == "PATCH"] == [{"require_tls": True}] * 2
