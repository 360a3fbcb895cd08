"""sendgrid_event_webhook and sendgrid_event_webhook_info, run by ansible-playbook against the local API server.

One run (playbooks/event_webhooks.yml, every case one loop item, in order, each against the state the cases before it
left) proves from the server's request log and the task results: a signed webhook with OAuth planned in check mode
(nothing written), created (POST with every event as a boolean, then the signed endpoint), left alone when in sync,
updated with only what differs (PATCH, its URL always), its secret sent again only with update_secret: always,
unsigned, deleted by id (check mode first); the parent's webhook known by URL alone; two webhooks of one name refused
naming both ids; bad input refused with nothing sent; the info module's list with public keys and its audit.

The OAuth client secret comes from the environment of ansible-playbook (a lookup on the controller, as from a vault):
run_playbook fails the test if it, or any API key, shows in stdout, stderr or the results of this -vvvv run, and the
server's log and state must hold it only masked and as its digest.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import SECRETS, calls, case_outcomes, explained, run_playbook

ALL = "/v3/user/webhooks/event/settings/all"
ONE = "/v3/user/webhooks/event/settings/%s"
SIGNED = "/v3/user/webhooks/event/settings/signed/%s"
SETTING = "user/webhooks/event/settings"
SECRET = "oauth-SECRET-webhook-91c7e2"
# a URL's basic-auth password, from the environment: sent, and shown nowhere (masked, and no_log for Ansible)
URL_PASSWORD = "basic-PW-webhook-5a08"
AUTH_URL = "https://user:@@URL_PASSWORD@@@hooks.example.com/auth"
AUTH_SENT = AUTH_URL.replace("@@URL_PASSWORD@@", URL_PASSWORD)
AUTH_SHOWN = AUTH_URL.replace("@@URL_PASSWORD@@", "********")
EVENTS = ("group_resubscribe", "delivered", "group_unsubscribe", "spam_report", "bounce", "deferred", "unsubscribe",
          "processed", "open", "click", "dropped")
URL = "https://hooks.example.com/sendgrid/deliveries"
OAUTH = {"oauth_client_id": "sendgrid", "oauth_token_url": "https://auth.example.com/token"}
DELIVERIES = dict(OAUTH, friendly_name="deliveries", url=URL, events=["delivered", "bounce"], signed=True,
                  oauth_secret=True, on_behalf_of="marketing")
# planted on billing: two webhooks of one name, one plain http and unsigned, one signed on another host
BILLING = [{"id": "dup-1", "url": "http://hooks.example.com/a", "friendly_name": "dup", "delivered": True},
           {"id": "dup-2", "url": "https://elsewhere.net/b", "friendly_name": "dup", "signed": True}]
M = "marketing"


def get(on_behalf_of=None) -> tuple:
    return ("GET", ALL, on_behalf_of, None)


def events(*on) -> dict:
    return {event: event in on for event in EVENTS}


@pytest.fixture(name="batch", scope="module")
def fixture_batch(module_start_server):
    server = module_start_server()
    server.set_state("billing", BILLING, setting=SETTING, replace=True)
    cases = [
        dict(DELIVERIES, case="plan create", check=True, diff=True),
        dict(DELIVERIES, case="create", diff=True),
        dict(DELIVERIES, case="again"),
        {"case": "events changed", "on_behalf_of": M, "friendly_name": "deliveries", "events": ["delivered", "open"],
         "enabled": False},
        dict(OAUTH, case="rotate secret", on_behalf_of=M, friendly_name="deliveries", oauth_secret=True,
             update_secret="always"),
        {"case": "unsign", "on_behalf_of": M, "friendly_name": "deliveries", "signed": False},
        {"case": "new client id without secret", "on_behalf_of": M, "friendly_name": "deliveries",
         "oauth_client_id": "other", "oauth_token_url": OAUTH["oauth_token_url"]},
        {"case": "parent by url", "url": "https://hooks.example.com/parent", "events": ["processed"]},
        {"case": "two of one name", "on_behalf_of": "billing", "friendly_name": "dup", "enabled": False},
        {"case": "http", "on_behalf_of": M, "url": "http://hooks.example.com/x"},
        {"case": "unknown event", "on_behalf_of": M, "url": URL, "events": ["delivered", "opened"]},
        {"case": "empty event", "on_behalf_of": M, "url": URL, "events": ["delivered", ""]},
        {"case": "http token url", "on_behalf_of": M, "url": URL, "oauth_client_id": "sendgrid",
         "oauth_token_url": "http://auth.example.com/token", "oauth_secret": True},
        {"case": "secret alone", "on_behalf_of": M, "url": URL, "oauth_secret": True},
        {"case": "no identity", "on_behalf_of": M, "enabled": True},
        {"case": "plan delete", "on_behalf_of": M, "friendly_name": "deliveries", "state": "absent", "check": True},
        {"case": "delete", "on_behalf_of": M, "friendly_name": "deliveries", "state": "absent", "diff": True},
        {"case": "delete again", "on_behalf_of": M, "friendly_name": "deliveries", "state": "absent"},
        {"case": "basic auth", "on_behalf_of": M, "url": AUTH_URL, "events": ["delivered"], "diff": True},
        # the same URL, its scheme and host in capitals; events null is left out
        {"case": "basic auth again", "on_behalf_of": M, "url": AUTH_URL.replace("https://", "HTTPS://").replace(
            "hooks.example.com", "HOOKS.Example.com"), "events": None, "diff": True},
    ]
    info = [{"case": "parent"},
            {"case": "billing", "on_behalf_of": "billing", "allowed_hosts": ["*.example.com"]},
            {"case": "billing, https only", "on_behalf_of": "billing", "require_signed": False},
            {"case": "bad pattern", "allowed_hosts": ["https://hooks.example.com"]},
            # the host compared without case or the final dot of a fully qualified name
            {"case": "marketing, basic auth", "on_behalf_of": M, "allowed_hosts": ["HOOKS.example.com."]}]
    run = run_playbook("event_webhooks.yml", dict(sg_api_url=server.url, sg_webhook_cases=cases, sg_info_cases=info),
                       env={"IT_OAUTH_SECRET": SECRET, "IT_URL_PASSWORD": URL_PASSWORD},
                       secrets=SECRETS + (SECRET, URL_PASSWORD))
    assert run.rc == 0, run.explain()
    return run, server


def test_a_signed_webhook_with_oauth_is_planned_created_kept_updated_and_deleted_sending_exactly_what_differs(batch):
    run, server = batch
    results = case_outcomes(run, "webhook")
    hook_id = results["create"]["webhook"]["id"]
    assert hook_id
    created = dict(events("delivered", "bounce"), url=URL, enabled=True, friendly_name="deliveries",
                   oauth_client_secret="********", **OAUTH)
    assert calls(server) == [
        get(M),                                                                           # plan create
        get(M), ("POST", "/v3/user/webhooks/event/settings", M, created),                 # create
        ("PATCH", SIGNED % hook_id, M, {"enabled": True}),
        get(M),                                                                           # again
        get(M), ("PATCH", ONE % hook_id, M, {"url": URL, "enabled": False, "bounce": False, "open": True}),
        get(M), ("PATCH", ONE % hook_id, M, dict(OAUTH, url=URL, oauth_client_secret="********")),   # rotate
        get(M), ("PATCH", SIGNED % hook_id, M, {"enabled": False}),                       # unsign
        get(M),                                                                           # new client id, no secret
        get(), ("POST", "/v3/user/webhooks/event/settings", None, dict(                   # parent by url
            events("processed"), url="https://hooks.example.com/parent", enabled=True)),
        get("billing"),                                                                   # two of one name
        # http, unknown event, empty event, http token url, secret alone, no identity: nothing sent
        get(M),                                                                           # plan delete
        get(M), ("DELETE", ONE % hook_id, M, None),                                       # delete
        get(M),                                                                           # delete again
        get(M), ("POST", "/v3/user/webhooks/event/settings", M, dict(                      # basic auth
            events("delivered"), url=AUTH_SENT, enabled=True)),
        get(M),                                                                           # basic auth again
        get(), get("billing"), get("billing"), get(M),                                    # info
    ]

    plan = results["plan create"]
    assert plan["changed"] is True and plan["webhook"]["id"] is None and plan["webhook"]["public_key"] is None
    assert plan["diff"]["before"] == {"webhook": None}
    made = results["create"]
    assert made["changed"] is True and made["webhook"] == {
        "id": hook_id, "friendly_name": "deliveries", "url": URL, "enabled": True, "events": ["bounce", "delivered"],
        "signed": True, "public_key": made["webhook"]["public_key"], "oauth_client_id": "sendgrid",
        "oauth_token_url": "https://auth.example.com/token"}
    assert made["webhook"]["public_key"].startswith("MFkw") and made["diff"]["after"]["webhook"] == made["webhook"]
    assert results["again"]["changed"] is False and results["again"]["webhook"] == made["webhook"]
    assert results["events changed"]["webhook"]["events"] == ["delivered", "open"]
    assert results["rotate secret"]["changed"] is True
    assert results["unsign"]["webhook"]["signed"] is False and results["unsign"]["webhook"]["public_key"] is None
    assert results["parent by url"]["webhook"]["friendly_name"] is None
    assert results["plan delete"]["changed"] is True and results["delete"]["changed"] is True
    assert results["delete"]["webhook"] is None and results["delete"]["diff"]["after"] == {"webhook": None}
    assert results["delete again"]["changed"] is False
    # the basic-auth password: sent as it is, shown masked (the secrets of run_playbook hold it: shown nowhere)
    auth = results["basic auth"]
    assert auth["changed"] is True and auth["webhook"]["url"] == AUTH_SHOWN
    assert auth["diff"]["after"]["webhook"]["url"] == AUTH_SHOWN
    assert auth["invocation"]["module_args"]["url"] == AUTH_SHOWN   # Ansible's own censoring: a no_log value
    again = results["basic auth again"]
    assert again["changed"] is False and again["webhook"]["url"] == AUTH_SHOWN
    assert again["webhook"]["events"] == ["delivered"]
    assert [hook["url"] for hook in server.state(SETTING)[M]] == [AUTH_SENT]


def test_the_secret_is_only_ever_in_the_request_that_sets_it_stored_as_its_digest(batch):
    run, server = batch
    assert SECRET not in json.dumps(server.requests())
    # the parent's webhook remains, with no OAuth; the marketing one was deleted, but its secret reached the server:
    # the request log masks it, and the rotate case sent it again, which the log shows masked too
    sent = [call.body for call in calls(server) if call.body and "oauth_client_secret" in call.body]
    assert [body["oauth_client_secret"] for body in sent] == ["********", "********"]
    assert hashlib.sha256(SECRET.encode()).hexdigest() not in json.dumps(run.tasks)
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout   # -vvvv did print the module arguments


def test_two_webhooks_of_one_name_and_bad_input_fail_naming_why_with_nothing_written(batch):
    run, server = batch
    results = case_outcomes(run, "webhook")
    assert "2 event webhooks are named 'dup' (ids dup-1, dup-2)" in explained(results["two of one name"])
    assert [hook["enabled"] for hook in server.state(SETTING)["billing"]] == [False, False]
    assert explained(results["http"]).startswith(
        "value of url must be an https:// URL: over http:// the events, with the recipients' addresses, cross the "
        "network in clear text. Got 'http://hooks.example.com/x'; set allow_http: true")
    assert "opened" in explained(results["unknown event"]) and "events" in explained(results["unknown event"])
    assert explained(results["secret alone"]) == "oauth_client_secret needs oauth_client_id and oauth_token_url."
    assert explained(results["empty event"]).startswith("events[1] is empty: each item must be one of: bounce, click, ")
    assert explained(results["http token url"]).startswith(
        "value of oauth_token_url must be an https:// URL: SendGrid sends the OAuth client secret to it")
    assert "allow_http" not in explained(results["http token url"])
    assert explained(results["new client id without secret"]) == (
        "Changing oauth_client_id of the event webhook deliveries (id %s) needs oauth_client_secret: SendGrid would "
        "pair the secret it keeps with the new value. Nothing was changed." % results["create"]["webhook"]["id"])
    assert explained(results["no identity"]) == "Give friendly_name or url: they identify the event webhook."


def test_the_info_module_lists_each_webhook_with_its_public_key_and_flags_http_unsigned_and_foreign_hosts(batch):
    run, server = batch
    results = case_outcomes(run, "info")
    parent = results["parent"]
    assert parent["changed"] is False and [hook["url"] for hook in parent["webhooks"]] == ["https://hooks.example.com/parent"]
    assert parent["flagged"] == [{"id": parent["webhooks"][0]["id"], "name": None, "url": "https://hooks.example.com/parent",
                                  "http": False, "unsigned": True, "host_not_allowed": False}]
    billing = results["billing"]
    stored = {hook["id"]: hook for hook in server.state(SETTING)["billing"]}
    assert [(hook["id"], hook["signed"], hook["public_key"]) for hook in billing["webhooks"]] == [
        ("dup-1", False, None), ("dup-2", True, stored["dup-2"]["public_key"])]
    assert billing["flagged"] == [
        {"id": "dup-1", "name": "dup", "url": "http://hooks.example.com/a", "http": True, "unsigned": True,
         "host_not_allowed": False},
        {"id": "dup-2", "name": "dup", "url": "https://elsewhere.net/b", "http": False, "unsigned": False,
         "host_not_allowed": True}]
    assert billing["msg"] == (
        "2 of 2 event webhooks beyond the policy: the event webhook dup (id dup-1) is not https "
        "(http://hooks.example.com/a); and is not signed | the event webhook dup (id dup-2) posts to a host "
        "allowed_hosts does not match (https://elsewhere.net/b).")
    assert [item["id"] for item in results["billing, https only"]["flagged"]] == ["dup-1"]
    assert "value of allowed_hosts must hold host names" in explained(results["bad pattern"])
    auth = results["marketing, basic auth"]
    assert [hook["url"] for hook in auth["webhooks"]] == [AUTH_SHOWN]
    assert [(item["url"], item["unsigned"], item["host_not_allowed"]) for item in auth["flagged"]] == [
        (AUTH_SHOWN, True, False)]
    assert auth["msg"] == "1 of 1 event webhook beyond the policy: the event webhook %s (id %s) is not signed." % (
        AUTH_SHOWN, auth["webhooks"][0]["id"])
