# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sendgrid_api_key: one key by name, what is sent for each change, the secret once, the calling-key guard."""

from __future__ import annotations

import json
import re

import pytest
import responses

from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_api_key

CALLING = "SG.callingid.callingsecret"
URL = "https://api.sendgrid.com/v3/api_keys"
NEW_SECRET = "SG.newid.the-new-secret-never-shown"


class Keys:
    """The API key endpoints over {id: (name, scopes)}, as the spec answers them."""

    def __init__(self, keys, calling_scopes=("api_keys.read", "api_keys.update")):
        self.keys = {key_id: (name, list(scopes)) for key_id, (name, scopes) in keys.items()}
        responses.add_callback("GET", URL, callback=self.listing)
        responses.add_callback("POST", URL, callback=self.create)
        responses.add_callback("GET", "https://api.sendgrid.com/v3/scopes",
                               callback=lambda request: (200, {}, json.dumps({"scopes": list(calling_scopes)})))
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            responses.add_callback(method, re.compile(URL + "/.+"), callback=self.one)

    def listing(self, request):
        return 200, {}, json.dumps({"result": [{"name": name, "api_key_id": key_id}
                                               for key_id, (name, dummy) in self.keys.items()]})

    def create(self, request):
        body = json.loads(request.body)
        self.keys["newid"] = (body["name"], body["scopes"])
        return 201, {}, json.dumps({"api_key": NEW_SECRET, "api_key_id": "newid", "name": body["name"],
                                    "scopes": body["scopes"]})

    def one(self, request):
        key_id = request.url.rsplit("/", 1)[1]
        if key_id not in self.keys:
            return 404, {}, json.dumps({"errors": [{"field": None, "message": "unable to find API Key"}]})
        name, scopes = self.keys[key_id]
        if request.method == "DELETE":
            del self.keys[key_id]
            return 204, {}, ""
        if request.method in ("PUT", "PATCH"):
            body = json.loads(request.body)
            self.keys[key_id] = (body["name"], body.get("scopes", scopes))
            name, scopes = self.keys[key_id]
        return 200, {}, json.dumps({"result": [{"name": name, "api_key_id": key_id, "scopes": scopes}]})


def sent():
    """The writes sent: (method, path, JSON body)."""
    return [(call.request.method, call.request.path_url, json.loads(call.request.body) if call.request.body else None)
            for call in responses.calls if call.request.method != "GET"]


def run(capsys, **args):
    return run_module(sendgrid_api_key, capsys, **dict({"api_key": CALLING}, **args))


@responses.activate
def test_a_new_key_is_created_with_its_scopes_and_its_secret_returned_once_never_in_the_diff(capsys):
    Keys({"callingid": ("automation", ["api_keys.read", "api_keys.create"])})
    result = run(capsys, name="webshop", scopes=["mail.send"], _ansible_diff=True)
    assert sent() == [("POST", "/v3/api_keys", {"name": "webshop", "scopes": ["mail.send"]})]
    assert result["changed"] is True and result["secret"] == NEW_SECRET
    assert result["key"] == {"name": "webshop", "api_key_id": "newid", "scopes": ["mail.send"]}
    assert NEW_SECRET not in json.dumps(result["diff"])
    again = run(capsys, name="webshop", scopes=["mail.send"])
    assert again["changed"] is False and "secret" not in again and len(sent()) == 1


@responses.activate
def test_check_mode_creates_nothing_and_returns_no_secret(capsys):
    Keys({})
    result = run(capsys, name="webshop", scopes=["mail.send"], _ansible_check_mode=True)
    assert sent() == [] and result["changed"] is True and "secret" not in result
    assert result["key"] == {"name": "webshop", "api_key_id": None, "scopes": ["mail.send"]}


@responses.activate
def test_scopes_are_compared_as_a_set_ignoring_the_markers_sendgrid_adds(capsys):
    Keys({"k1": ("webshop", ["mail.send", "2fa_required", "stats.read"])})
    assert run(capsys, name="webshop", scopes=["stats.read", "mail.send", "mail.send"])["changed"] is False
    result = run(capsys, name="webshop", scopes=["mail.send"])
    # the marker is sent back: it is SendGrid's, never cut
    assert sent() == [("PUT", "/v3/api_keys/k1", {"name": "webshop", "scopes": ["2fa_required", "mail.send"]})]
    assert result["key"]["scopes"] == ["2fa_required", "mail.send"]


@responses.activate
def test_two_keys_with_the_name_is_an_error_naming_both_ids_and_api_key_id_chooses_one(capsys):
    Keys({"k1": ("dup", ["mail.send"]), "k2": ("dup", ["stats.read"])})
    result = run(capsys, name="dup", scopes=["mail.send"])
    assert result["failed"] and "2 API keys are named 'dup' (ids k1, k2)" in result["msg"] and sent() == []
    result = run(capsys, name="dup", api_key_id="k2", scopes=["mail.send"])
    assert sent() == [("PUT", "/v3/api_keys/k2", {"name": "dup", "scopes": ["mail.send"]})]


@responses.activate
def test_api_key_id_renames_with_a_patch_of_the_name_alone_and_an_unknown_id_creates_nothing(capsys):
    Keys({"k1": ("old", ["mail.send"])})
    run(capsys, name="new", api_key_id="k1", scopes=["mail.send"])
    assert sent() == [("PATCH", "/v3/api_keys/k1", {"name": "new"})]
    result = run(capsys, name="new", api_key_id="nope", scopes=["mail.send"])
    assert result["failed"] and "No API key has the id 'nope'" in result["msg"] and len(sent()) == 1


@responses.activate
def test_absent_deletes_the_key_and_is_ok_when_there_is_none(capsys):
    Keys({"k1": ("gone", ["mail.send"])})
    assert run(capsys, name="gone", state="absent")["changed"] is True
    assert sent() == [("DELETE", "/v3/api_keys/k1", None)]
    assert run(capsys, name="gone", state="absent")["changed"] is False and len(sent()) == 1


@responses.activate
@pytest.mark.parametrize("args, doing", [
    ({"state": "absent"}, "deleting it"),
    ({"scopes": ["mail.send", "api_keys.read"]}, "taking api_keys.create from it"),
])
def test_the_calling_key_is_never_deleted_or_cut_by_accident_named_by_its_id(capsys, args, doing):
    Keys({"callingid": ("automation", ["api_keys.read", "api_keys.create"])})
    result = run(capsys, name="automation", **args)
    assert result["failed"] and sent() == []
    assert "is the key this task authenticates with: %s" % doing in result["msg"]
    assert "protect_calling_key: false" in result["msg"] and "callingsecret" not in result["msg"]
    run(capsys, name="automation", protect_calling_key=False, **args)
    assert len(sent()) == 1


@responses.activate
def test_another_key_is_deleted_and_a_key_not_of_the_sg_form_is_guarded_by_its_scopes(capsys):
    Keys({"k1": ("other", ["api_keys.read", "api_keys.update"]), "k2": ("twin", ["mail.send"])})
    result = run_module(sendgrid_api_key, capsys, api_key="opaque-key", name="other", state="absent")
    assert result["failed"] and "may be the key this task authenticates with (it holds exactly the calling key's " \
                                "scopes)" in result["msg"] and sent() == []
    assert [call.request.path_url for call in responses.calls][-1] == "/v3/scopes"
    run_module(sendgrid_api_key, capsys, api_key="opaque-key", name="twin", state="absent")
    assert sent() == [("DELETE", "/v3/api_keys/k2", None)]


@responses.activate
def test_acting_for_a_subuser_no_key_is_the_callers(capsys):
    Keys({"callingid": ("automation", ["api_keys.read"])})
    run(capsys, name="automation", state="absent", on_behalf_of="marketing")
    assert sent() == [("DELETE", "/v3/api_keys/callingid", None)]
    assert responses.calls[-1].request.headers["on-behalf-of"] == "marketing"


@responses.activate
@pytest.mark.parametrize("args, message", [
    ({"name": "k"}, "state is present but all of the following are missing: scopes"),
    ({"name": "k", "scopes": []}, "value of scopes must be a non-empty list of scopes (such as mail.send), got: []."),
    ({"name": "k", "scopes": ["mail.*"]}, "value of scopes must hold scopes such as mail.send: lower-case letters, "
                                          "digits and _ in words joined by dots, no pattern (*, ?, [), got: mail.*."),
    ({"name": "k", "scopes": ["Mail.Send"]}, "got: Mail.Send."),
    ({"name": "k", "scopes": ["mail send"]}, "got: mail send."),
    ({"name": "  ", "scopes": ["mail.send"]}, "value of name must be the key's name, non-empty text, got: '  '."),
    ({"name": ["a"], "scopes": ["mail.send"]}, "value of name must be text, got a list"),
])
def test_bad_input_fails_naming_the_option_with_nothing_sent(capsys, args, message):
    Keys({})
    result = run(capsys, **args)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert len(responses.calls) == 0
