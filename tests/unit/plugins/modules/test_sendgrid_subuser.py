# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sendgrid_subuser: one subuser created, enabled or disabled, deleted only when confirmed; the password write-only."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_subuser

KEY = "SG.parentid.parentsecret"
URL = "https://api.sendgrid.com/v3/subusers"
PASSWORD = "correct-horse-battery-staple"


class Subusers:
    """The subuser endpoints over {username: subuser}, as the spec answers them."""

    def __init__(self, *subusers):
        self.subusers = {subuser["username"]: dict(subuser) for subuser in subusers}
        responses.add_callback("GET", URL, callback=self.lookup)
        responses.add_callback("POST", URL, callback=self.create)
        for method in ("PATCH", "DELETE"):
            responses.add_callback(method, re.compile(URL + "/.+"), callback=self.one)

    def lookup(self, request):
        wanted = parse_qs(urlparse(request.url).query).get("username", [""])[0]
        # a prefix filter, as a server may have it: the module must match exactly
        return 200, {}, json.dumps([subuser for name, subuser in self.subusers.items() if name.startswith(wanted)])

    def create(self, request):
        body = json.loads(request.body)
        self.subusers[body["username"]] = dict(username=body["username"], id=99, email=body["email"], disabled=False,
                                               region=body.get("region", "global"))
        return 200, {}, json.dumps({"username": body["username"], "user_id": 99, "email": body["email"]})

    def one(self, request):
        name = request.url.rsplit("/", 1)[1]
        if request.method == "DELETE":
            del self.subusers[name]
        else:
            self.subusers[name]["disabled"] = json.loads(request.body)["disabled"]
        return 204, {}, ""


def sent():
    return [(call.request.method, call.request.path_url, json.loads(call.request.body) if call.request.body else None)
            for call in responses.calls if call.request.method != "GET"]


def run(capsys, **args):
    result = run_module(sendgrid_subuser, capsys, **dict({"api_key": KEY}, **args))
    assert PASSWORD not in json.dumps(result)
    return result


MARKETING = dict(username="marketing", email="m@example.com", password=PASSWORD, ips=["192.0.2.10"])


@responses.activate
def test_a_new_subuser_is_created_once_with_its_password_then_left_alone(capsys):
    Subusers({"username": "marketing-eu", "id": 1, "email": "x@example.com", "disabled": False, "region": "eu"})
    result = run(capsys, _ansible_diff=True, **MARKETING)
    assert sent() == [("POST", "/v3/subusers", {"username": "marketing", "email": "m@example.com", "password": PASSWORD,
                                                "ips": ["192.0.2.10"], "include_region": True})]
    assert result["changed"] is True and result["changes"] == {"created": "marketing"}
    assert result["subuser"] == {"username": "marketing", "id": 99, "email": "m@example.com", "disabled": False,
                                 "region": "global"}
    assert result["diff"]["before"] == {"subuser": None}
    lookup = parse_qs(urlparse(responses.calls[0].request.url).query)
    assert lookup == {"username": ["marketing"], "include_region": ["true"]}
    other_password = {**MARKETING, "password": "another-password"}
    again = run(capsys, **other_password)
    assert again["changed"] is False and len(sent()) == 1   # the password is never compared


@responses.activate
def test_disabled_is_one_patch_and_a_subuser_created_disabled_is_created_then_disabled(capsys):
    Subusers({"username": "old", "id": 2, "email": "o@example.com", "disabled": False, "region": "global"})
    assert run(capsys, username="old", disabled=True)["changes"] == {"disabled": "old"}
    assert run(capsys, username="old", disabled=True)["changed"] is False
    run(capsys, disabled=True, **MARKETING)
    assert sent() == [("PATCH", "/v3/subusers/old", {"disabled": True}),
                      ("POST", "/v3/subusers", {"username": "marketing", "email": "m@example.com", "password": PASSWORD,
                                                "ips": ["192.0.2.10"], "include_region": True}),
                      ("PATCH", "/v3/subusers/marketing", {"disabled": True})]


@responses.activate
def test_check_mode_sends_no_write(capsys):
    Subusers()
    result = run(capsys, _ansible_check_mode=True, subuser_region="eu", **MARKETING)
    assert sent() == [] and result["changed"] is True and result["subuser"]["region"] == "eu"


@responses.activate
def test_deleting_needs_the_username_repeated_and_sends_nothing_without_it(capsys):
    Subusers({"username": "old", "id": 2, "email": "o@example.com", "disabled": True, "region": "global"})
    for confirm in (None, "yes", "ol"):
        result = run(capsys, username="old", state="absent", confirm_delete=confirm)
        assert result["failed"] and "set confirm_delete: old to confirm" in result["msg"]
    assert len(responses.calls) == 0
    assert run(capsys, username="old", state="absent", confirm_delete="old")["changes"] == {"deleted": "old"}
    assert sent() == [("DELETE", "/v3/subusers/old", None)]
    assert run(capsys, username="old", state="absent", confirm_delete="old")["changed"] is False


@responses.activate
def test_an_existing_subuser_in_another_region_fails_and_another_email_warns(capsys):
    Subusers({"username": "news", "id": 3, "email": "n@example.com", "disabled": False, "region": "eu"})
    result = run(capsys, username="news", subuser_region="global")
    assert result["failed"] and "is in the region eu, which cannot change" in result["msg"]
    result = run(capsys, username="news", email="other@example.com")
    assert result["changed"] is False and "SendGrid has no API to change it" in json.dumps(result["warnings"])
    assert sent() == []


@responses.activate
@pytest.mark.parametrize("args, message", [
    (dict(username="new", email="n@example.com", ips=[]), "Creating the subuser new needs password"),
    (dict(username="new", password=PASSWORD), "Creating the subuser new needs email and ips"),
])
def test_creating_without_what_the_spec_requires_fails_after_the_lookup_only(capsys, args, message):
    Subusers()
    result = run(capsys, **args)
    assert result["failed"] and message in result["msg"] and sent() == []


@responses.activate
@pytest.mark.parametrize("args, message", [
    (dict(username=" "), "value of username must be a subuser's username"),
    (dict(username="a/b"), "value of username must be a subuser's username"),
    (dict(MARKETING, ips=["192.0.2.300"]), "value of ips must hold IPv4 addresses (such as 192.0.2.10"),
    (dict(MARKETING, ips=["2001:db8::1"]), "got: 2001:db8::1."),
    (dict(MARKETING, email="not-an-address"), "value of email must be an e-mail address, got: not-an-address."),
    (dict(MARKETING, password=""), "value of password must not be empty."),
    (dict(MARKETING, password=["a-listed-password"]), "value of password must be text, got a list: (hidden: no_log)"),
    (dict(MARKETING, disabled="maybe"), "value of disabled must be true or false, got: maybe"),
    (dict(MARKETING, subuser_region="us"), "value of subuser_region must be one of: global, eu, got: us"),
])
def test_bad_input_fails_naming_the_option_with_nothing_sent(capsys, args, message):
    Subusers()
    result = run(capsys, **args)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert len(responses.calls) == 0
