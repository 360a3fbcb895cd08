# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sendgrid_event_webhook and its info module: one webhook by name or URL, exactly what is sent for each change, the
signing, the write-only OAuth secret, check and diff mode, bad input refused with nothing sent."""

from __future__ import annotations

import json
import re

import pytest
import responses

from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_event_webhook, sendgrid_event_webhook_info

KEY = "SG.callingid.callingsecret"
BASE = "https://api.sendgrid.com/v3/user/webhooks/event/settings"
SECRET = "oauth-SECRET-never-shown-5d1e"
EVENTS = ("group_resubscribe", "delivered", "group_unsubscribe", "spam_report", "bounce", "deferred", "unsubscribe",
          "processed", "open", "click", "dropped")
PUBLIC_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEpublic"


def hook(webhook_id, url, name=None, events=(), enabled=True, signed=False, oauth=None):
    item = {"enabled": enabled, "url": url}
    item.update({event: event in events for event in EVENTS})
    item.update(friendly_name=name, id=webhook_id, created_date="2026-01-01T00:00:00Z",
                updated_date="2026-01-01T00:00:00Z")
    if oauth:
        item.update(oauth_client_id=oauth[0], oauth_token_url=oauth[1])
    if signed:
        item["public_key"] = PUBLIC_KEY
    return item


class Hooks:
    """The event webhook endpoints over a list of webhooks, as the spec answers them."""

    def __init__(self, *webhooks):
        self.webhooks = [dict(item) for item in webhooks]
        responses.add_callback("GET", BASE + "/all", callback=lambda request: (200, {}, json.dumps(
            {"max_allowed": 5, "webhooks": self.webhooks or [{}]})))
        responses.add_callback("POST", BASE, callback=self.create)
        responses.add_callback("PATCH", re.compile(BASE + "/signed/.+"), callback=self.sign)
        for method in ("PATCH", "DELETE"):
            responses.add_callback(method, re.compile(BASE + "/[^/]+$"), callback=self.one)

    def create(self, request):
        body = json.loads(request.body)
        oauth = (body["oauth_client_id"], body["oauth_token_url"]) if body.get("oauth_client_id") else None
        created = hook("new-1", body["url"], body.get("friendly_name"), [e for e in EVENTS if body.get(e)],
                       body["enabled"], oauth=oauth)
        self.webhooks.append(created)
        return 201, {}, json.dumps(created)

    def sign(self, request):
        webhook_id = request.url.rsplit("/", 1)[1]
        found = next(item for item in self.webhooks if item["id"] == webhook_id)
        on = json.loads(request.body)["enabled"]
        found.pop("public_key", None)
        if on:
            found["public_key"] = PUBLIC_KEY
        return 200, {}, json.dumps({"id": webhook_id, "public_key": PUBLIC_KEY if on else ""})

    def one(self, request):
        webhook_id = request.url.rsplit("/", 1)[1]
        found = next((item for item in self.webhooks if item["id"] == webhook_id), None)
        if found is None:
            return 404, {}, json.dumps({"errors": [{"field": "id", "message": "Invalid id provided."}]})
        if request.method == "DELETE":
            self.webhooks.remove(found)
            return 204, {}, ""
        body = json.loads(request.body)
        found.update({name: value for name, value in body.items() if name != "oauth_client_secret"})
        return 200, {}, json.dumps(found)


def sent():
    """Every request: (method, path, on-behalf-of, JSON body)."""
    return [(call.request.method, call.request.path_url, call.request.headers.get("on-behalf-of"),
             json.loads(call.request.body) if call.request.body else None) for call in responses.calls]


def writes():
    return [call for call in sent() if call[0] != "GET"]


def run(capsys, module=sendgrid_event_webhook, **args):
    result = run_module(module, capsys, **dict({"api_key": KEY}, **args))
    assert SECRET not in json.dumps(result)
    return result


LIST = ("GET", "/v3/user/webhooks/event/settings/all", None, None)


@responses.activate
def test_a_new_webhook_is_created_with_every_event_as_a_boolean_then_signed_and_its_public_key_returned(capsys):
    Hooks()
    result = run(capsys, friendly_name="deliveries", url="https://hooks.example.com/d", events=["delivered", "bounce"],
                 signed=True, on_behalf_of="marketing", _ansible_diff=True)
    body = dict({event: event in ("delivered", "bounce") for event in EVENTS}, url="https://hooks.example.com/d",
                enabled=True, friendly_name="deliveries")
    assert sent() == [
        ("GET", "/v3/user/webhooks/event/settings/all", "marketing", None),
        ("POST", "/v3/user/webhooks/event/settings", "marketing", body),
        ("PATCH", "/v3/user/webhooks/event/settings/signed/new-1", "marketing", {"enabled": True})]
    assert result["changed"] is True
    assert result["webhook"] == {"id": "new-1", "friendly_name": "deliveries", "url": "https://hooks.example.com/d",
                                 "enabled": True, "events": ["bounce", "delivered"], "oauth_client_id": None,
                                 "oauth_token_url": None, "signed": True, "public_key": PUBLIC_KEY}
    assert result["diff"]["before"] == {"webhook": None} and result["diff"]["after"]["webhook"] == result["webhook"]
    again = run(capsys, friendly_name="deliveries", url="https://hooks.example.com/d", events=["bounce", "delivered"],
                signed=True, on_behalf_of="marketing")
    assert again["changed"] is False and len(writes()) == 2


@responses.activate
def test_an_update_patches_only_what_differs_with_the_url_spec_requires(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d", "deliveries", ["delivered", "bounce"]))
    result = run(capsys, friendly_name="deliveries", events=["delivered", "open"], enabled=False)
    assert writes() == [("PATCH", "/v3/user/webhooks/event/settings/h1", None,
                         {"url": "https://hooks.example.com/d", "enabled": False, "bounce": False, "open": True})]
    assert result["changed"] is True and result["webhook"]["events"] == ["delivered", "open"]


@responses.activate
def test_the_name_identifies_the_webhook_so_its_url_can_change_and_without_a_name_the_url_does(capsys):
    Hooks(hook("h1", "https://old.example.com/d", "deliveries"), hook("h2", "https://hooks.example.com/x"))
    run(capsys, friendly_name="deliveries", url="https://new.example.com/d")
    run(capsys, url="https://hooks.example.com/x", enabled=False)
    assert writes() == [
        ("PATCH", "/v3/user/webhooks/event/settings/h1", None, {"url": "https://new.example.com/d"}),
        ("PATCH", "/v3/user/webhooks/event/settings/h2", None, {"url": "https://hooks.example.com/x", "enabled": False})]


@responses.activate
def test_two_webhooks_matching_is_an_error_naming_both_ids_and_nothing_is_written(capsys):
    Hooks(hook("h1", "https://a.example.com/", "dup"), hook("h2", "https://b.example.com/", "dup"))
    result = run(capsys, friendly_name="dup", enabled=False)
    assert result["failed"] and "2 event webhooks are named 'dup' (ids h1, h2)" in result["msg"]
    assert sent() == [LIST]


@responses.activate
def test_a_url_another_webhook_has_is_refused_naming_it_before_any_write(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d", "deliveries"), hook("h2", "https://hooks.example.com/e"))
    created = run(capsys, friendly_name="new", url="https://hooks.example.com/d")
    moved = run(capsys, friendly_name="deliveries", url="https://hooks.example.com/e")
    assert created["failed"] and "The event webhook deliveries (id h1) already posts to https://hooks.example.com/d" \
        in created["msg"] and "manage it by its name (friendly_name: deliveries)" in created["msg"]
    assert moved["failed"] and "https://hooks.example.com/e (id h2) already posts" in moved["msg"]
    assert "by its URL alone (leave friendly_name out)" in moved["msg"] and writes() == []


@responses.activate
def test_signing_is_turned_off_at_the_signed_endpoint_and_the_public_key_goes(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d", "deliveries", signed=True))
    result = run(capsys, friendly_name="deliveries", signed=False)
    assert writes() == [("PATCH", "/v3/user/webhooks/event/settings/signed/h1", None, {"enabled": False})]
    assert result["webhook"]["signed"] is False and result["webhook"]["public_key"] is None


@responses.activate
def test_check_mode_sends_no_write_and_says_what_would_change(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d", "deliveries"))
    result = run(capsys, friendly_name="deliveries", events=["open"], signed=True, _ansible_check_mode=True,
                 _ansible_diff=True)
    assert sent() == [LIST] and result["changed"] is True
    assert result["diff"]["before"]["webhook"]["events"] == [] and result["webhook"]["events"] == ["open"]
    assert result["webhook"]["signed"] is True
    created = run(capsys, friendly_name="new", url="https://hooks.example.com/n", _ansible_check_mode=True)
    assert created["changed"] is True and created["webhook"]["id"] is None and len(sent()) == 2


@responses.activate
def test_absent_deletes_by_id_and_is_ok_when_there_is_none_even_for_an_http_url(capsys):
    Hooks(hook("h1", "http://hooks.example.com/d"))
    result = run(capsys, url="http://hooks.example.com/d", state="absent", _ansible_diff=True)
    assert writes() == [("DELETE", "/v3/user/webhooks/event/settings/h1", None, None)]
    assert result["changed"] is True and result["webhook"] is None and result["diff"]["after"] == {"webhook": None}
    assert run(capsys, url="http://hooks.example.com/d", state="absent")["changed"] is False and len(writes()) == 1


@responses.activate
def test_oauth_is_created_with_its_secret_which_is_then_never_sent_again_unless_update_secret_always(capsys):
    Hooks()
    oauth = dict(oauth_client_id="client", oauth_token_url="https://auth.example.com/token", oauth_client_secret=SECRET)
    run(capsys, friendly_name="o", url="https://hooks.example.com/o", **oauth)
    assert writes()[0][3]["oauth_client_secret"] == SECRET and writes()[0][3]["oauth_client_id"] == "client"
    assert run(capsys, friendly_name="o", **oauth)["changed"] is False and len(writes()) == 1
    result = run(capsys, friendly_name="o", update_secret="always", _ansible_diff=True, **oauth)
    assert result["changed"] is True
    assert writes()[1] == ("PATCH", "/v3/user/webhooks/event/settings/new-1", None, {
        "url": "https://hooks.example.com/o", "oauth_client_id": "client",
        "oauth_token_url": "https://auth.example.com/token", "oauth_client_secret": SECRET})


@responses.activate
def test_a_new_token_url_sends_the_pair_and_the_secret_and_empty_texts_remove_oauth(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d", "d", oauth=("client", "https://auth.example.com/token")))
    run(capsys, friendly_name="d", oauth_client_id="client", oauth_token_url="https://auth.example.com/v2",
        oauth_client_secret=SECRET)
    run(capsys, friendly_name="d", oauth_client_id="", oauth_token_url="")
    assert writes() == [
        ("PATCH", "/v3/user/webhooks/event/settings/h1", None, {
            "url": "https://hooks.example.com/d", "oauth_client_id": "client",
            "oauth_token_url": "https://auth.example.com/v2", "oauth_client_secret": SECRET}),
        ("PATCH", "/v3/user/webhooks/event/settings/h1", None, {
            "url": "https://hooks.example.com/d", "oauth_client_id": "", "oauth_token_url": ""})]


@responses.activate
def test_an_error_answer_never_shows_the_secret(capsys):
    responses.add("GET", BASE + "/all", status=400, json={"errors": [{"field": "x", "message": "bad " + SECRET}]})
    result = run(capsys, friendly_name="o", url="https://hooks.example.com/o", oauth_client_id="c",
                 oauth_token_url="https://auth.example.com/t", oauth_client_secret=SECRET)
    assert result["failed"] and "bad ********" in result["msg"]


@responses.activate
@pytest.mark.parametrize("args, words", [
    ({"url": "http://hooks.example.com/d"}, "value of url must be an https:// URL"),
    ({"url": "hooks.example.com/d"}, "value of url must be an absolute URL"),
    ({"url": "https:// spaced.example.com"}, "value of url must be an absolute URL"),
    ({"friendly_name": "  "}, "value of friendly_name must be non-empty text"),
    ({"url": "https://h.example.com/", "events": ["delivered", "opened"]}, "opened"),
    ({"enabled": True}, "Give friendly_name or url"),
    ({"url": "https://h.example.com/", "oauth_client_id": "c"}, "oauth_client_id and oauth_token_url go together"),
    ({"url": "https://h.example.com/", "oauth_client_id": "c", "oauth_token_url": "ftp://auth"},
     "value of oauth_token_url must be an absolute URL"),
    ({"url": "https://h.example.com/", "oauth_client_secret": SECRET}, "oauth_client_secret needs oauth_client_id"),
    ({"url": "https://h.example.com/", "update_secret": "always"}, "update_secret: always needs oauth_client_secret"),
    ({"url": ["https://h.example.com/"]}, "value of url must be text"),
])
def test_bad_input_is_refused_naming_the_option_before_any_request(capsys, args, words):
    result = run(capsys, **args)
    assert result["failed"] and words in result["msg"], result["msg"]
    assert len(responses.calls) == 0


@responses.activate
def test_http_is_allowed_on_purpose(capsys):
    Hooks()
    run(capsys, url="http://10.0.0.5/hooks", allow_http=True)
    assert writes()[0][3]["url"] == "http://10.0.0.5/hooks"


@responses.activate
def test_oauth_on_an_existing_webhook_needs_the_secret_and_nothing_is_written(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d", "d"))
    result = run(capsys, friendly_name="d", oauth_client_id="c", oauth_token_url="https://auth.example.com/t")
    assert result["failed"] and "needs oauth_client_secret" in result["msg"] and writes() == []


@responses.activate
def test_the_info_module_lists_every_webhook_skipping_the_empty_item_and_flags_http_unsigned_and_hosts(capsys):
    Hooks(hook("h1", "http://hooks.example.com/d", "plain"), hook("h2", "https://hooks.example.com/s", signed=True),
          hook("h3", "https://elsewhere.net/s", "far", signed=True))
    result = run(capsys, sendgrid_event_webhook_info, on_behalf_of="billing", allowed_hosts=["*.example.com"])
    assert sent() == [("GET", "/v3/user/webhooks/event/settings/all", "billing", None)]
    assert [(item["id"], item["signed"], item["public_key"]) for item in result["webhooks"]] == [
        ("h1", False, None), ("h2", True, PUBLIC_KEY), ("h3", True, PUBLIC_KEY)]
    assert result["flagged"] == [
        {"id": "h1", "name": "plain", "url": "http://hooks.example.com/d", "http": True, "unsigned": True,
         "host_not_allowed": False},
        {"id": "h3", "name": "far", "url": "https://elsewhere.net/s", "http": False, "unsigned": False,
         "host_not_allowed": True}]
    assert result["msg"].startswith("2 of 3 event webhooks beyond the policy: the event webhook plain (id h1) is not "
                                    "https (http://hooks.example.com/d); and is not signed | ")


@responses.activate
def test_an_account_without_webhooks_lists_none(capsys):
    Hooks()
    result = run(capsys, sendgrid_event_webhook_info)
    assert result["webhooks"] == [] and result["flagged"] == [] and result["msg"] == "0 event webhooks, none beyond the policy."


@responses.activate
def test_the_info_module_refuses_a_url_given_as_a_host_pattern(capsys):
    result = run(capsys, sendgrid_event_webhook_info, allowed_hosts=["https://hooks.example.com"])
    assert result["failed"] and "value of allowed_hosts must hold host names" in result["msg"]
    assert len(responses.calls) == 0


# ----------------------------------------------------------------------------- a URL's basic-auth password

PASSWORD = "hunter2-basic-b7f0"
AUTH_URL = "https://user:%s@hooks.example.com/x" % PASSWORD
SHOWN_URL = "https://user:********@hooks.example.com/x"


@responses.activate
def test_a_basic_auth_password_is_sent_but_masked_in_the_result_the_diff_and_ansibles_own_censoring(capsys):
    Hooks()
    created = run(capsys, url=AUTH_URL, events=["delivered"], _ansible_diff=True)
    assert writes()[0][3]["url"] == AUTH_URL   # the real URL is sent
    assert created["webhook"]["url"] == SHOWN_URL and created["diff"]["after"]["webhook"]["url"] == SHOWN_URL
    # no_log semantics: Ansible censors the module's arguments too (ansible-core 2.21 no longer returns them)
    assert created.get("invocation", {"module_args": {"url": SHOWN_URL}})["module_args"]["url"] == SHOWN_URL
    # known by its URL, compared with the real one: nothing to change
    again = run(capsys, url=AUTH_URL, events=["delivered"], _ansible_diff=True)
    assert again["changed"] is False and len(writes()) == 1
    changed = run(capsys, url=AUTH_URL, events=["open"], _ansible_diff=True)
    assert writes()[1][3] == {"url": AUTH_URL, "delivered": False, "open": True}
    assert changed["diff"]["before"]["webhook"]["url"] == SHOWN_URL
    taken = run(capsys, friendly_name="other", url=AUTH_URL)
    assert taken["failed"] and "already posts to %s" % SHOWN_URL in taken["msg"]
    for result in (created, again, changed, taken):
        assert PASSWORD not in json.dumps(result)


@responses.activate
def test_a_password_the_module_reads_is_masked_too_in_results_messages_and_the_info_module(capsys):
    Hooks(hook("h1", AUTH_URL), hook("h2", "https://u:%s@hooks.example.com/t" % PASSWORD, "t",
                                     oauth=("c", "https://id:%s@auth.example.com/token" % PASSWORD)))
    info = run(capsys, sendgrid_event_webhook_info, allowed_hosts=["elsewhere.example.org"])
    assert [hook["url"] for hook in info["webhooks"]] == [SHOWN_URL, "https://u:********@hooks.example.com/t"]
    assert info["webhooks"][1]["oauth_token_url"] == "https://id:********@auth.example.com/token"
    assert [item["url"] for item in info["flagged"]] == [SHOWN_URL, "https://u:********@hooks.example.com/t"]
    assert "the event webhook %s (id h1) is not signed" % SHOWN_URL in info["msg"]
    deleted = run(capsys, friendly_name="t", state="absent", _ansible_diff=True)
    assert deleted["diff"]["before"]["webhook"]["url"] == "https://u:********@hooks.example.com/t"
    bad = run(capsys, url="http://user:%s@hooks.example.com/y" % PASSWORD)
    assert bad["failed"] and "'http://user:********@hooks.example.com/y'" in bad["msg"]
    for result in (info, deleted, bad):
        assert PASSWORD not in json.dumps(result)


@responses.activate
def test_an_answer_quoting_the_password_is_masked(capsys):
    responses.add("GET", BASE + "/all", status=400, json={"errors": [{"field": "url", "message": "bad " + PASSWORD}]})
    result = run(capsys, url=AUTH_URL)
    assert result["failed"] and "bad ********" in result["msg"] and PASSWORD not in json.dumps(result)


# ----------------------------------------------------------------------------- OAuth, events, limits, case

@responses.activate
def test_an_http_token_url_is_refused_for_the_secret_it_would_carry_never_suggesting_allow_http(capsys):
    result = run(capsys, url="https://h.example.com/", oauth_client_id="c", oauth_token_url="http://auth.example.com/t",
                 oauth_client_secret=SECRET, allow_http=True)
    assert result["failed"] and result["msg"].startswith("value of oauth_token_url must be an https:// URL: SendGrid "
                                                         "sends the OAuth client secret to it")
    assert "allow_http" not in result["msg"] and len(responses.calls) == 0


@responses.activate
def test_events_null_is_left_out_like_every_other_option(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d", "d", ["open"]))
    result = run(capsys, friendly_name="d", events=None, enabled=True)
    assert "failed" not in result and result["changed"] is False and result["webhook"]["events"] == ["open"]
    assert writes() == []


@responses.activate
@pytest.mark.parametrize("events, words", [
    (["bounce", ""], "events[1] is empty: each item must be one of: bounce, click, deferred, delivered, dropped, "
                     "group_resubscribe, group_unsubscribe, open, processed, spam_report, unsubscribe"),
    ("bounce,,delivered", "events[1] is empty"),
    (["delivered", "opened"], "value of events[1] must be one of: bounce, click, deferred, delivered, dropped, "
                              "group_resubscribe, group_unsubscribe, open, processed, spam_report, unsubscribe, "
                              "got: 'opened'"),
    (["delivered", " open"], "value of events[1] must be one of: bounce, click, deferred, delivered, dropped, "
                             "group_resubscribe, group_unsubscribe, open, processed, spam_report, unsubscribe, "
                             "got: ' open'"),
])
def test_a_bad_event_is_named_by_its_place_with_the_allowed_sorted(capsys, events, words):
    result = run(capsys, url="https://h.example.com/", events=events)
    assert result["failed"] and words in result["msg"], result["msg"]
    assert "None" not in result["msg"] and len(responses.calls) == 0


@responses.activate
def test_events_as_one_comma_separated_text_are_its_items_stripped(capsys):
    Hooks()
    run(capsys, url="https://h.example.com/", events="bounce, delivered")
    assert sorted(name for name, value in writes()[0][3].items() if value is True) == ["bounce", "delivered", "enabled"]


@responses.activate
@pytest.mark.parametrize("oauth, names", [
    (dict(oauth_client_id="new-client", oauth_token_url="https://auth.example.com/token"), "oauth_client_id"),
    (dict(oauth_client_id="client", oauth_token_url="https://auth.example.com/v2"), "oauth_token_url"),
    (dict(oauth_client_id="new-client", oauth_token_url="https://auth.example.com/v2"),
     "oauth_client_id and oauth_token_url"),
])
def test_a_new_oauth_client_id_or_token_url_without_the_secret_is_refused_before_any_write(capsys, oauth, names):
    Hooks(hook("h1", "https://hooks.example.com/d", "d", oauth=("client", "https://auth.example.com/token")))
    result = run(capsys, friendly_name="d", **oauth)
    assert result["failed"] and result["msg"] == (
        "Changing %s of the event webhook d (id h1) needs oauth_client_secret: SendGrid would pair the secret it keeps "
        "with the new value. Nothing was changed." % names)
    assert writes() == []


@responses.activate
def test_a_url_differing_only_in_the_case_of_its_scheme_and_host_is_the_same(capsys):
    Hooks(hook("h1", "https://hooks.example.com/d/Path"))
    result = run(capsys, url="HTTPS://HOOKS.example.com/d/Path", enabled=True)
    assert result["changed"] is False and writes() == []
    assert run(capsys, url="https://hooks.example.com/d/path")["changed"] is True   # a path keeps its case


@responses.activate
def test_creating_beyond_max_allowed_fails_in_check_mode_as_the_real_run_would(capsys):
    Hooks(*[hook("h%d" % index, "https://hooks.example.com/%d" % index) for index in range(5)])
    for check in (True, False):
        result = run(capsys, url="https://hooks.example.com/new", _ansible_check_mode=check)
        assert result["failed"] and result["msg"] == (
            "The account has 5 event webhooks, the most SendGrid allows it (max_allowed): delete one before creating "
            "another. Nothing was changed.")
    assert writes() == []
    assert run(capsys, url="https://hooks.example.com/1", enabled=False)["changed"] is True   # an update is not a creation
