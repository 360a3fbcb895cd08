"""sendgrid_tracking_settings, sendgrid_mail_settings and sendgrid_settings_info, run by ansible-playbook against the
local API server.

The request floor of the settings guide (guide_settings.rst, "The fewest requests") request by request, value semantics end to end,
check and diff mode, idempotence, subusers, customer accounts, the EU host, module_defaults, faults, scopes, bad
input, per-endpoint rate limits and the secrecy of the key. Each run serves several checks of one behaviour: the
playbooks settings.yml (one task per module, optionally run twice) and settings_cases.yml (one loop item per case,
every case runs even when one fails) take their sections as extra vars.

The cases run together in one ansible-playbook (conftest.run_cases: each on a host and a server of its own); checks
of the output that only this case's output may satisfy look at its own plays (own_output). The bad input runs on its
own: one of its values, postmaster@localhost, names localhost, which no batched case's play may.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import (
    CRASH_MARKERS, KEY, SECRETS, Cases, PlaybookCase, assert_clear_failure, assert_nothing_sent, calls, case_outcomes,
    explained, header, own_output, run_playbook, sg,
)

CASES = Cases()

TRACKING = "/v3/tracking_settings"
MAIL = "/v3/mail_settings"
TRACKING_NAMES = ("click", "open", "subscription", "google_analytics")
MAIL_NAMES = ("bounce_purge", "forward_spam", "forward_bounce", "footer", "template", "address_whitelist")
# The server's keys for its settings, as state() and set_state() take them.
SETTING_KEYS = ["tracking_settings/" + name for name in TRACKING_NAMES] + ["mail_settings/" + name for name in MAIL_NAMES]

# A key without the two summary scopes and without the right to change spam report forwarding.
NARROW_KEY = "SG.integration-SECRET-3e8a1f6c2d.settings-narrow-Vb7"
NARROW_SCOPES = [scope for scope in sg.ALL_SCOPES
                 if scope not in ("tracking_settings.read", "mail_settings.read", "mail_settings.forward_spam.update")]


def tracking(name: str) -> str:
    return TRACKING + "/" + name


def mail(name: str) -> str:
    return MAIL + "/" + name


def get(path: str, on_behalf_of: str | None = None) -> tuple:
    return ("GET", path, on_behalf_of, None)


def patch(path: str, body: dict, on_behalf_of: str | None = None) -> tuple:
    return ("PATCH", path, on_behalf_of, body)


def settings_state(server, account: str = "parent") -> dict:
    """One account's tracking and mail settings as the server stores them."""
    return {key: server.state(key)[account] for key in SETTING_KEYS}


def log_with_faults(server) -> list:
    """(method, path, on-behalf-of, body, status), with the fault's kind as the status of a request that met one."""
    return [call[:4] + (entry["fault"] or call.status,)
            for call, entry in zip(calls(server, with_status=True), server.requests())]


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, context)}: every case of this file, run once."""
    return CASES.run(module_start_server)


def settings_case(server, check: bool = False, diff: bool = False, **extra_vars) -> PlaybookCase:
    """settings.yml against this server; extra_vars are its sg_* variables without the prefix."""
    variables = {"sg_" + name: value for name, value in extra_vars.items()}
    return PlaybookCase("settings.yml", dict(sg_api_url=server.url, **variables), check=check, diff=diff)


def cases_case(server, api_key: str = KEY, tracking_cases=(), mail_cases=(), info_cases=()) -> PlaybookCase:
    """settings_cases.yml: each case one loop item; a case that fails stops neither the others nor the play."""
    return PlaybookCase("settings_cases.yml", dict(
        sg_api_url=server.url, sg_tracking_cases=list(tracking_cases), sg_mail_cases=list(mail_cases),
        sg_info_cases=list(info_cases)), api_key=api_key)


def cases_run(server, tracking_cases=(), mail_cases=(), info_cases=()):
    """settings_cases.yml in a run of its own (run_playbook), checked as cases_ran checks a batched case."""
    case = cases_case(server, tracking_cases=tracking_cases, mail_cases=mail_cases, info_cases=info_cases)
    run = run_playbook(case.playbook, case.extra_vars)
    assert run.rc == 0, run.explain()
    for marker in CRASH_MARKERS:
        assert marker not in run.stdout + run.stderr, "%r in the output\n%s" % (marker, run.explain())
    return run


def cases_ran(runs, name: str):
    """(run, context) of a settings_cases.yml case, after checking that the play went through and nothing crashed."""
    run, context = runs[name]
    # as rc 0 said of a run of its own: the play went through its three tasks, whose failed items it ignores (the
    # batch's rc of a case is 2 when one of its tasks failed, ignored or not)
    assert run.rc in (0, 2), run.explain()
    assert [task["task"] for task in run.tasks] == ["tracking", "mail", "info"], run.explain()
    for marker in CRASH_MARKERS:
        assert marker not in own_output(run, name) + run.stderr, "%r in the output\n%s" % (marker, run.explain())
    return run, context


@CASES.add("enabled only")
def _enabled_only(start):
    server = start()
    return server, settings_case(server, twice=True, tracking={
        "click": {"enabled": False},                    # default true: differs
        "open": {"enabled": True},
        "subscription": {"enabled": True},              # default false: differs
        "google_analytics": {"enabled": False, "utm_source": None},  # a null field is not managed: still enabled only
    }, mail={
        "bounce_purge": {"enabled": True},              # differs
        "forward_spam": {"enabled": False},
        "forward_bounce": {"enabled": False},
        "footer": {"enabled": True},                    # differs
        "template": {"enabled": False},
        "address_whitelist": {"enabled": False},
    })


def test_enabled_only_sections_cost_one_summary_get_per_module_then_one_patch_per_differing_section(runs):
    run, server = runs["enabled only"]

    assert run.rc == 0, run.explain()
    assert calls(server) == [
        get(TRACKING),
        patch(tracking("click"), {"enabled": False}),
        patch(tracking("subscription"), {"enabled": True}),
        get(MAIL),
        patch(mail("bounce_purge"), {"enabled": True}),
        patch(mail("footer"), {"enabled": True}),
        # the second run, in sync: one GET per module, whatever the number of sections
        get(TRACKING),
        get(MAIL),
    ]
    first, second = run.task("tracking"), run.task("tracking again")
    assert first["status"] == "changed" and second["status"] == "ok"
    assert first["result"]["changes"] == {"click": {"enabled": False}, "subscription": {"enabled": True}}
    assert second["result"]["changes"] == {}
    enabled = {"click": {"enabled": False}, "open": {"enabled": True}, "subscription": {"enabled": True},
               "google_analytics": {"enabled": False}}
    assert first["result"]["tracking_settings"] == second["result"]["tracking_settings"] == enabled
    first, second = run.task("mail"), run.task("mail again")
    assert first["status"] == "changed" and second["status"] == "ok"
    assert first["result"]["changes"] == {"bounce_purge": {"enabled": True}, "footer": {"enabled": True}}
    assert second["result"]["changes"] == {}
    assert first["result"]["mail_settings"] == second["result"]["mail_settings"] == {
        "bounce_purge": {"enabled": True}, "forward_spam": {"enabled": False}, "forward_bounce": {"enabled": False},
        "footer": {"enabled": True}, "template": {"enabled": False}, "address_whitelist": {"enabled": False}}
    state = settings_state(server)
    assert state["tracking_settings/click"] == {"enabled": False, "enable_text": False}
    assert state["tracking_settings/subscription"]["enabled"] is True
    assert state["mail_settings/bounce_purge"] == {"enabled": True, "soft_bounces": None, "hard_bounces": None}
    assert state["mail_settings/footer"] == {"enabled": True, "html_content": "", "plain_content": ""}


@CASES.add("other fields")
def _other_fields(start):
    server = start()
    return server, settings_case(server, twice=True, diff=True, tracking={
        "click": {"enabled": False},
        "subscription": {"enabled": True, "plain_content": "Unsubscribe: <% %>", "html_content": "<p><% Unsubscribe %></p>"},
    }, mail={
        "bounce_purge": {"enabled": True, "soft_bounces": 30},
        "forward_spam": {"enabled": True, "email": ["abuse@example.com", "noc@example.com"]},
        "forward_bounce": {"enabled": False},           # enabled only, in sync: read from the summary, not sent
        "footer": {"plain_content": "Example Ltd, 1 Main Street"},
    })


def test_section_with_other_fields_gets_its_own_get_beside_the_summary_and_diff_shows_each_section(runs):
    run, server = runs["other fields"]

    assert run.rc == 0, run.explain()
    assert calls(server) == [
        get(TRACKING), get(tracking("subscription")),
        patch(tracking("click"), {"enabled": False}),
        patch(tracking("subscription"), {"enabled": True, "plain_content": "Unsubscribe: <% %>",
                                         "html_content": "<p><% Unsubscribe %></p>"}),
        get(MAIL), get(mail("bounce_purge")), get(mail("forward_spam")), get(mail("footer")),
        patch(mail("bounce_purge"), {"enabled": True, "soft_bounces": 30}),
        # one comma-separated string, as the API keeps it
        patch(mail("forward_spam"), {"enabled": True, "email": "abuse@example.com, noc@example.com"}),
        patch(mail("footer"), {"plain_content": "Example Ltd, 1 Main Street"}),
        # the second run, in sync: the same GETs, nothing else
        get(TRACKING), get(tracking("subscription")),
        get(MAIL), get(mail("bounce_purge")), get(mail("forward_spam")), get(mail("footer")),
    ]
    subscription_before = {"enabled": False, "html_content": "", "plain_content": "", "landing": "", "replace": "", "url": ""}
    subscription_after = dict(subscription_before, enabled=True, plain_content="Unsubscribe: <% %>",
                              html_content="<p><% Unsubscribe %></p>")
    result = run.result("tracking")
    assert result["changed"] is True
    assert result["diff"] == {
        "before": {"click": {"enabled": True}, "subscription": subscription_before},
        "after": {"click": {"enabled": False}, "subscription": subscription_after},
    }
    assert result["tracking_settings"] == {"click": {"enabled": False}, "subscription": subscription_after}
    result = run.result("mail")
    assert result["changes"] == {
        "bounce_purge": {"enabled": True, "soft_bounces": 30},
        "forward_spam": {"enabled": True, "email": ["abuse@example.com", "noc@example.com"]},
        "footer": {"plain_content": "Example Ltd, 1 Main Street"},
    }
    assert result["diff"] == {
        "before": {
            "bounce_purge": {"enabled": False, "soft_bounces": 0, "hard_bounces": 0},
            "forward_spam": {"enabled": False, "email": []},
            "forward_bounce": {"enabled": False},
            "footer": {"enabled": False, "html_content": "", "plain_content": ""},
        },
        "after": {
            "bounce_purge": {"enabled": True, "soft_bounces": 30, "hard_bounces": 0},
            "forward_spam": {"enabled": True, "email": ["abuse@example.com", "noc@example.com"]},
            "forward_bounce": {"enabled": False},
            "footer": {"enabled": False, "html_content": "", "plain_content": "Example Ltd, 1 Main Street"},
        },
    }
    assert result["mail_settings"] == result["diff"]["after"]
    for task in ("tracking again", "mail again"):
        again = run.result(task)
        assert again["changed"] is False and again["changes"] == {}
        assert again["diff"]["before"] == again["diff"]["after"]
    # the default callback shows each section's diff to the person running the playbook (in this case's output)
    assert '\n-        "soft_bounces": 0\n+        "soft_bounces": 30\n' in own_output(run, "other fields"), run.explain()
    assert server.state("mail_settings/forward_spam")["parent"] == {
        "enabled": True, "email": "abuse@example.com, noc@example.com"}


@CASES.add("check mode")
def _check_mode(start):
    server = start()
    before = settings_state(server)
    return (server, before), settings_case(server, check=True, diff=True, tracking={
        "click": {"enabled": False},
        "subscription": {"enabled": True, "plain_content": "Unsubscribe: <% %>"},
    }, mail={
        "bounce_purge": {"enabled": True, "soft_bounces": 30},
        "forward_spam": {"email": ["abuse@example.com"]},
        "forward_bounce": {"email": ""},                # "" is the API's null: in sync
        "footer": {"enabled": False},
    })


def test_check_mode_reads_sends_no_patch_and_reports_the_would_be_settings(runs):
    run, (server, before) = runs["check mode"]

    assert run.rc == 0, run.explain()
    assert calls(server) == [
        get(TRACKING), get(tracking("subscription")),
        get(MAIL), get(mail("bounce_purge")), get(mail("forward_spam")), get(mail("forward_bounce")),
    ]
    assert settings_state(server) == before
    task = run.task("tracking")
    assert task["status"] == "changed"
    assert task["result"]["changes"] == {"click": {"enabled": False},
                                         "subscription": {"enabled": True, "plain_content": "Unsubscribe: <% %>"}}
    subscription = {"enabled": False, "html_content": "", "plain_content": "", "landing": "", "replace": "", "url": ""}
    would_be = {"click": {"enabled": False},
                "subscription": dict(subscription, enabled=True, plain_content="Unsubscribe: <% %>")}
    assert task["result"]["tracking_settings"] == would_be
    assert task["result"]["diff"] == {"before": {"click": {"enabled": True}, "subscription": subscription},
                                      "after": would_be}
    task = run.task("mail")
    assert task["status"] == "changed"
    assert task["result"]["changes"] == {"bounce_purge": {"enabled": True, "soft_bounces": 30},
                                         "forward_spam": {"email": ["abuse@example.com"]}}
    would_be = {
        "bounce_purge": {"enabled": True, "soft_bounces": 30, "hard_bounces": 0},
        "forward_spam": {"enabled": False, "email": ["abuse@example.com"]},
        "forward_bounce": {"enabled": False, "email": ""},
        "footer": {"enabled": False},
    }
    assert task["result"]["mail_settings"] == would_be
    assert task["result"]["diff"] == {
        "before": {"bounce_purge": {"enabled": False, "soft_bounces": 0, "hard_bounces": 0},
                   "forward_spam": {"enabled": False, "email": []},
                   "forward_bounce": {"enabled": False, "email": ""},
                   "footer": {"enabled": False}},
        "after": would_be,
    }


@CASES.add("preview then apply")
def _preview_then_apply(start):
    server = start()
    # the mail task runs twice: first in check mode, then for real, with the same options
    return server, settings_case(server, preview=True, mail={
        "forward_spam": {"enabled": True, "email": [" Abuse@Example.com ", "noc@example.com"]},
        "forward_bounce": {"enabled": True, "email": " Bounces@Example.com "},
        "address_whitelist": {"enabled": True, "list": ["example.org ", " ops@example.com"]},
    })


def test_check_mode_reports_the_settings_that_applying_the_same_task_then_leaves(runs):
    run, server = runs["preview then apply"]

    assert run.rc == 0, run.explain()
    reads = [get(mail("forward_spam")), get(mail("forward_bounce")), get(mail("address_whitelist"))]
    assert calls(server)[:3] == reads  # the preview only reads
    assert [c.body for c in calls(server)[6:]] == [
        {"enabled": True, "email": "Abuse@Example.com, noc@example.com"},
        {"enabled": True, "email": "Bounces@Example.com"},
        {"enabled": True, "list": ["example.org", "ops@example.com"]},
    ]
    preview, applied = run.result("mail preview"), run.result("mail")
    assert preview["changed"] is applied["changed"] is True
    # "in check mode, the settings the task would leave" (RETURN of sendgrid_mail_settings)
    assert preview["mail_settings"] == applied["mail_settings"] == {
        "forward_spam": {"enabled": True, "email": ["Abuse@Example.com", "noc@example.com"]},
        "forward_bounce": {"enabled": True, "email": "Bounces@Example.com"},
        "address_whitelist": {"enabled": True, "list": ["example.org", "ops@example.com"]},
    }


@CASES.add("info")
def _info(start):
    server = start()
    return server, cases_case(server, info_cases=[
        {"case": "all"},
        {"case": "some", "on_behalf_of": "support", "settings": ["mail_settings.footer", "tracking_settings"]},
    ])


def test_settings_info_reads_every_setting_with_11_gets_or_exactly_the_ones_named(runs):
    run, server = cases_ran(runs, "info")

    assert calls(server) == [
        get("/v3/user/settings/enforced_tls"),
        get(tracking("click")), get(tracking("open")), get(tracking("subscription")), get(tracking("google_analytics")),
        get(mail("bounce_purge")), get(mail("forward_spam")), get(mail("forward_bounce")), get(mail("footer")),
        get(mail("template")), get(mail("address_whitelist")),
        # the selection, in the settings' own order, for the subuser
        get(tracking("click"), "support"), get(tracking("open"), "support"), get(tracking("subscription"), "support"),
        get(tracking("google_analytics"), "support"), get(mail("footer"), "support"),
    ]
    results = case_outcomes(run, "info")
    utm = {"utm_source": "", "utm_medium": "", "utm_term": "", "utm_content": "", "utm_campaign": ""}
    tracking_settings = {
        "click": {"enabled": True, "enable_text": False},
        "open": {"enabled": True},
        "subscription": {"enabled": False, "html_content": "", "plain_content": "", "landing": "", "replace": "", "url": ""},
        "google_analytics": dict(utm, enabled=False),
    }
    footer = {"enabled": False, "html_content": "", "plain_content": ""}
    assert {key: results["all"][key] for key in ("changed", "enforced_tls", "tracking_settings", "mail_settings")} == {
        "changed": False,
        "enforced_tls": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"},
        "tracking_settings": tracking_settings,
        "mail_settings": {
            "bounce_purge": {"enabled": False, "soft_bounces": 0, "hard_bounces": 0},
            "forward_spam": {"enabled": False, "email": []},
            "forward_bounce": {"enabled": False, "email": ""},
            "footer": footer,
            "template": {"enabled": False, "html_content": ""},
            "address_whitelist": {"enabled": False, "list": []},
        },
    }
    some = results["some"]
    assert "enforced_tls" not in some
    assert (some["changed"], some["tracking_settings"], some["mail_settings"]) == (False, tracking_settings, {"footer": footer})


# ----------------------------------------------------------------------------- values as SendGrid means them

@CASES.add("values")
def _values(start):
    server = start()
    server.set_state("parent", {"enabled": True, "email": "abuse@example.com,Postmaster@Example.com"},
                     setting="mail_settings/forward_spam")
    server.set_state("parent", {"enabled": True, "list": ["ops@example.com", "example.org"]},
                     setting="mail_settings/address_whitelist")
    server.set_state("parent", {"enabled": True, "soft_bounces": None, "hard_bounces": 30}, setting="mail_settings/bounce_purge")
    server.set_state("parent", {"enabled": True, "email": "bounces@example.com"}, setting="mail_settings/forward_bounce")
    server.set_state("parent", {"enabled": True, "enable_text": True}, setting="tracking_settings/click")

    return server, settings_case(server, twice=True, tracking={"click": {"enabled": False}}, mail={
        "bounce_purge": {"soft_bounces": 0, "hard_bounces": 0},                 # 0 is the API's null
        # the same set as the stored string: other order, case and spaces
        "forward_spam": {"enabled": True, "email": [" postmaster@example.com ", "ABUSE@example.com"]},
        "forward_bounce": {"email": ""},                                       # "" is the API's null
        "address_whitelist": {"list": ["EXAMPLE.org", "ops@example.com", "new@example.net"]},
    }, info={"settings": ["tracking_settings.click", "mail_settings"]})


def test_values_are_compared_and_sent_in_the_api_forms_and_read_back_in_the_options_forms(runs):
    run, server = runs["values"]

    assert run.rc == 0, run.explain()
    assert calls(server) == [
        get(TRACKING),
        patch(tracking("click"), {"enabled": False}),           # enable_text is never sent
        get(mail("bounce_purge")), get(mail("forward_spam")), get(mail("forward_bounce")), get(mail("address_whitelist")),
        patch(mail("bounce_purge"), {"hard_bounces": None}),
        patch(mail("forward_bounce"), {"email": None}),
        # the whole list, since SendGrid replaces the list with the one it is sent
        patch(mail("address_whitelist"), {"list": ["EXAMPLE.org", "ops@example.com", "new@example.net"]}),
        get(tracking("click")), get(mail("bounce_purge")), get(mail("forward_spam")), get(mail("forward_bounce")),
        get(mail("footer")), get(mail("template")), get(mail("address_whitelist")),
        # the second run: in sync in the options' forms
        get(TRACKING),
        get(mail("bounce_purge")), get(mail("forward_spam")), get(mail("forward_bounce")), get(mail("address_whitelist")),
    ]
    assert [entry["body_is_json"] for entry in server.requests() if entry["method"] == "PATCH"] == [True] * 4
    result = run.result("mail")
    assert result["changes"] == {"bounce_purge": {"hard_bounces": 0}, "forward_bounce": {"email": ""},
                                 "address_whitelist": {"list": ["EXAMPLE.org", "ops@example.com", "new@example.net"]}}
    mail_settings = {
        "bounce_purge": {"enabled": True, "soft_bounces": 0, "hard_bounces": 0},
        "forward_spam": {"enabled": True, "email": ["abuse@example.com", "Postmaster@Example.com"]},
        "forward_bounce": {"enabled": True, "email": ""},
        "address_whitelist": {"enabled": True, "list": ["EXAMPLE.org", "ops@example.com", "new@example.net"]},
    }
    assert result["mail_settings"] == mail_settings
    assert run.result("tracking")["tracking_settings"] == {"click": {"enabled": False}}
    info = run.result("info")
    assert info["tracking_settings"] == {"click": {"enabled": False, "enable_text": True}}
    assert info["mail_settings"] == dict(mail_settings, footer={"enabled": False, "html_content": "", "plain_content": ""},
                                         template={"enabled": False, "html_content": ""})
    for task in ("tracking again", "mail again"):
        assert run.task(task)["status"] == "ok", run.explain()
    state = settings_state(server)
    assert state["tracking_settings/click"] == {"enabled": False, "enable_text": True}
    assert state["mail_settings/forward_spam"] == {"enabled": True, "email": "abuse@example.com,Postmaster@Example.com"}
    assert state["mail_settings/bounce_purge"] == {"enabled": True, "soft_bounces": None, "hard_bounces": None}
    assert state["mail_settings/forward_bounce"] == {"enabled": True, "email": None}


# ----------------------------------------------------------------------------- accounts, hosts, module_defaults

@CASES.add("module_defaults")
def _module_defaults(start):
    server = start()
    return server, PlaybookCase("settings_module_defaults.yml", dict(
        sg_api_url=server.url, sg_on_behalf_of="marketing", sg_customer_account="account-id 777"))


def test_readme_baseline_with_module_defaults_acts_for_the_subuser_and_the_customer_account_named(runs):
    run, server = runs["module_defaults"]

    assert run.rc == 0, run.explain()
    template = "<html><body><% body %></body></html>"
    assert calls(server) == [
        get(TRACKING, "marketing"),
        patch(tracking("click"), {"enabled": False}, "marketing"),
        patch(tracking("open"), {"enabled": False}, "marketing"),
        patch(tracking("subscription"), {"enabled": True}, "marketing"),
        get(MAIL, "marketing"), get(mail("bounce_purge"), "marketing"),
        patch(mail("bounce_purge"), {"enabled": True, "soft_bounces": 30, "hard_bounces": 30}, "marketing"),
        get(mail("template"), "account-id 777"),
        patch(mail("template"), {"enabled": True, "html_content": template}, "account-id 777"),
        get(tracking("open"), "marketing"), get(mail("bounce_purge"), "marketing"),
    ]
    # every request carried the key given only in module_defaults, and reached the account named
    requests = server.requests()
    assert {header(entry, "Authorization") for entry in requests} == {"Bearer " + KEY}
    assert [entry["account"] for entry in requests] == ["marketing"] * 7 + ["account-id 777"] * 2 + ["marketing"] * 2
    assert run.result("register")["tracking_settings"] == {"open": {"enabled": False}}
    assert run.task("audit")["status"] == "ok"
    assert server.state("tracking_settings/open")["marketing"] == {"enabled": False}
    assert server.state("mail_settings/template")["account-id 777"] == {"enabled": True, "html_content": template}
    # nobody else was touched
    for key, accounts in {key: server.state(key) for key in SETTING_KEYS}.items():
        fresh = sg.SETTINGS[key].default
        untouched = [account for account in accounts if account not in ("marketing", "account-id 777")]
        assert {account: accounts[account] for account in untouched} == {account: fresh for account in untouched}, key


@CASES.add("region eu")
def _region_eu(start):
    server, eu_server = start(), start(region="eu")
    return (server, eu_server), settings_case(
        server, eu_api_url=eu_server.url, region="eu", on_behalf_of="eu-newsletter",
        tracking={"open": {"enabled": False}},
        mail={"footer": {"enabled": True, "plain_content": "Example GmbH, Berlin"}},
        info={"settings": ["tracking_settings.open", "mail_settings.footer"]})


def test_region_eu_sends_every_module_to_the_eu_host(runs):
    run, (server, eu_server) = runs["region eu"]

    assert run.rc == 0, run.explain()
    assert calls(eu_server) == [
        get(TRACKING, "eu-newsletter"), patch(tracking("open"), {"enabled": False}, "eu-newsletter"),
        get(mail("footer"), "eu-newsletter"),
        patch(mail("footer"), {"enabled": True, "plain_content": "Example GmbH, Berlin"}, "eu-newsletter"),
        get(tracking("open"), "eu-newsletter"), get(mail("footer"), "eu-newsletter"),
    ]
    assert_nothing_sent(server)
    assert run.result("info")["mail_settings"] == {
        "footer": {"enabled": True, "html_content": "", "plain_content": "Example GmbH, Berlin"}}
    assert eu_server.state("tracking_settings/open")["eu-newsletter"] == {"enabled": False}


# ----------------------------------------------------------------------------- faults

@CASES.add("transient faults")
def _transient_faults(start):
    server = start()
    server.add_fault("rate_limit", method="GET", path=TRACKING, reset="seconds", wait=1)
    server.add_fault("error", method="PATCH", path=tracking("click"), status=503)
    server.add_fault("drop", method="GET", path=mail("footer"))
    # the PATCH is stored, but its answer is cut off mid-body
    server.add_fault("truncated", method="PATCH", path=mail("bounce_purge"))

    return server, settings_case(server, tracking={"click": {"enabled": False}, "open": {"enabled": False}}, mail={
        "bounce_purge": {"enabled": True, "soft_bounces": 30}, "footer": {"enabled": True, "plain_content": "Example Ltd"}})


def test_transient_faults_on_the_settings_endpoints_are_retried_and_the_run_recovers(runs, tally):
    run, server = runs["transient faults"]

    assert run.rc == 0, run.explain()
    bounce_purge = {"enabled": True, "soft_bounces": 30}
    assert log_with_faults(server) == [
        get(TRACKING) + ("rate_limit",), get(TRACKING) + (200,),
        patch(tracking("click"), {"enabled": False}) + ("error",), patch(tracking("click"), {"enabled": False}) + (200,),
        patch(tracking("open"), {"enabled": False}) + (200,),
        get(mail("bounce_purge")) + (200,), get(mail("footer")) + ("drop",), get(mail("footer")) + (200,),
        patch(mail("bounce_purge"), bounce_purge) + ("truncated",), patch(mail("bounce_purge"), bounce_purge) + (200,),
        patch(mail("footer"), {"enabled": True, "plain_content": "Example Ltd"}) + (200,),
    ]
    task = run.task("tracking")
    assert task["status"] == "changed"
    limited, failed = task["warnings"]
    assert re.fullmatch(r"SendGrid GET %s answered HTTP 429; retry 1 of 5 in (0\.9|1\.0) seconds\." % TRACKING, limited), limited
    assert re.fullmatch(r"SendGrid PATCH %s answered HTTP 503; retry 1 of 5 in (0\.[5-9]|1\.0) seconds\." % tracking("click"),
                        failed), failed
    requests = server.requests()
    assert requests[1]["time"] - requests[0]["time"] >= 0.9  # waited as the 429 asked
    task = run.task("mail")
    assert task["status"] == "changed"
    assert [re.sub(r"in \d\.\d seconds", "in N seconds", warning) for warning in task["warnings"]] == [
        "SendGrid GET %s failed with a connection error; retry 1 of 5 in N seconds." % mail("footer"),
        "SendGrid PATCH %s failed with a connection error; retry 1 of 5 in N seconds." % mail("bounce_purge"),
    ]
    assert task["result"]["mail_settings"]["bounce_purge"] == {"enabled": True, "soft_bounces": 30, "hard_bounces": 0}
    assert server.state("tracking_settings/click")["parent"]["enabled"] is False
    assert server.state("mail_settings/bounce_purge")["parent"] == {"enabled": True, "soft_bounces": 30, "hard_bounces": None}
    assert server.state("mail_settings/footer")["parent"] == {"enabled": True, "html_content": "", "plain_content": "Example Ltd"}
    tally("fault_survived")


FAULT_TEMPLATE = "<html><% body %></html>"


@CASES.add("faults that do not pass")
def _faults_that_do_not_pass(start):
    server = start()
    server.add_fault("html", method="GET", path=TRACKING, status=502)
    server.add_fault("rate_limit", method="GET", path=tracking("google_analytics"), reset="seconds", wait=60)
    server.add_fault("malformed_json", method="GET", path=mail("footer"), body='{"enabled": false, "html_content": ')
    server.add_fault("delay", method="GET", path=mail("forward_spam"), seconds=3)
    server.add_fault("error", count=2, method="PATCH", path=mail("template"), status=503)
    server.add_fault("not_applied", path=mail("bounce_purge"))
    before = settings_state(server)
    template = FAULT_TEMPLATE

    return (server, before), cases_case(server, tracking_cases=[
        {"case": "proxy page", "click": {"enabled": False}, "retries": 0},
        {"case": "eu subuser on the global host", "on_behalf_of": "eu-newsletter", "open": {"enabled": False}},
        {"case": "rate limit beyond retry_max_wait", "google_analytics": {"enabled": True, "utm_source": "sendgrid"},
         "retry_max_wait": 2},
    ], mail_cases=[
        {"case": "malformed json", "footer": {"html_content": "<p>Example</p>"}, "retries": 0},
        {"case": "timeout", "forward_spam": {"email": ["abuse@example.com"]}, "timeout": 1, "retries": 0},
        {"case": "503 until the retries run out", "template": {"enabled": True, "html_content": template}, "retries": 1},
        {"case": "not applied", "bounce_purge": {"enabled": True, "soft_bounces": 30}},
    ])


def test_faults_that_do_not_pass_fail_each_task_with_a_message_naming_the_request_and_what_to_do(runs, tally):
    run, (server, before) = cases_ran(runs, "faults that do not pass")
    template = FAULT_TEMPLATE

    url = server.url
    messages = {case: explained(item) for task in ("tracking", "mail") for case, item in case_outcomes(run, task).items()}
    assert messages["proxy page"] == (
        "Reading the tracking settings GET %s%s failed (HTTP 502, body (text/html) '502 Bad Gateway 502 Bad Gateway "
        "nginx'). SendGrid or a proxy in front of it failed; try again later." % (url, TRACKING))
    assert "subuser 'eu-newsletter' belongs to the eu region: send its requests to https://api.eu.sendgrid.com" in \
        messages["eu subuser on the global host"]
    assert "set region (accounts[].region for many accounts) to the account's region" in messages["eu subuser on the global host"]
    assert re.fullmatch(re.escape(
        "Reading the Google Analytics settings GET %s%s failed (HTTP 429: too many requests). SendGrid is rate limiting "
        "this API key. SendGrid's rate limit resets in " % (url, tracking("google_analytics"))) + r"(59|60) seconds \(at "
        r"\d\d:\d\d:\d\d UTC\), beyond retry_max_wait \(2 seconds\): raise retry_max_wait, lower concurrency, or run "
        r"again later\.", messages["rate limit beyond retry_max_wait"]), messages["rate limit beyond retry_max_wait"]
    assert messages["malformed json"] == (
        "Reading the footer settings GET %s%s: SendGrid answered HTTP 200 with a body that is not JSON: (application/json) "
        "'{\"enabled\": false, \"html_content\":'. A proxy may have answered instead of SendGrid, or the answer was cut "
        "off: check api_url (the API's base URL, such as https://api.sendgrid.com) and any proxy, then run again."
        % (url, mail("footer")))
    assert messages["timeout"] == (
        "Reading the spam report forwarding settings GET %s%s: SendGrid gave no answer within the timeout of 1.0 seconds "
        "(option timeout); raise timeout, or run again later." % (url, mail("forward_spam")))
    assert re.fullmatch(re.escape(
        "Updating the legacy template settings PATCH %s%s failed (HTTP 503: service unavailable). SendGrid or a proxy in "
        "front of it failed; try again later (gave up after 1 retries and " % (url, mail("template")))
        + r"\d\.\d seconds of waiting; options retries and retry_max_wait\)", messages["503 until the retries run out"]), \
        messages["503 until the retries run out"]
    assert messages["not applied"] == (
        "SendGrid acknowledged the update of the bounce purge settings but these fields did not take: enabled (wanted "
        "true, is false), soft_bounces (wanted 30, is 0). Run the task again; if it persists, the account may not allow "
        "them.")
    statuses = {case: item.get("status") for task in ("tracking", "mail") for case, item in case_outcomes(run, task).items()}
    assert statuses == {"proxy page": 502, "eu subuser on the global host": 403, "rate limit beyond retry_max_wait": 429,
                        "malformed json": 200, "timeout": None, "503 until the retries run out": 503, "not applied": None}
    assert log_with_faults(server) == [
        get(TRACKING) + ("html",),
        get(TRACKING, "eu-newsletter") + (403,),
        get(tracking("google_analytics")) + ("rate_limit",),
        get(mail("footer")) + ("malformed_json",),
        get(mail("forward_spam")) + ("delay",),
        get(mail("template")) + (200,),
        patch(mail("template"), {"enabled": True, "html_content": template}) + ("error",),
        patch(mail("template"), {"enabled": True, "html_content": template}) + ("error",),
        get(mail("bounce_purge")) + (200,),
        patch(mail("bounce_purge"), {"enabled": True, "soft_bounces": 30}) + ("not_applied",),
        get(mail("bounce_purge")) + (200,),
    ]
    assert settings_state(server) == before
    tally("failure_reported")


# ----------------------------------------------------------------------------- scopes

@CASES.add("key without a scope")
def _key_without_a_scope(start):
    server = start(keys={NARROW_KEY: NARROW_SCOPES})
    return server, cases_case(server, api_key=NARROW_KEY, tracking_cases=[
        {"case": "summary scope", "click": {"enabled": False}},
        # a section with other fields is read on its own: the summary scope is not needed
        {"case": "no summary needed", "subscription": {"enabled": True, "url": "https://example.com/unsubscribe"}},
    ], mail_cases=[
        {"case": "summary scope", "footer": {"enabled": True}},
        {"case": "update scope", "on_behalf_of": "marketing",
         "forward_spam": {"enabled": True, "email": ["abuse@example.com"]}},
    ], info_cases=[
        {"case": "per-setting read scopes suffice", "settings": ["mail_settings"]},
    ])


def test_key_without_a_scope_fails_naming_the_summary_or_per_setting_scope_it_lacks(runs, tally):
    run, server = cases_ran(runs, "key without a scope")
    # run_cases looks for the keys of SECRETS; this case's own key must not show either
    for text in (run.stdout, run.stderr, json.dumps(run.tasks)):
        assert NARROW_KEY not in text, "the narrow API key appeared in the output\n" + run.explain()

    url = server.url
    tracking_cases, mail_cases = case_outcomes(run, "tracking"), case_outcomes(run, "mail")
    assert explained(tracking_cases["summary scope"]) == (
        "Reading the tracking settings GET %s%s failed (HTTP 403: access forbidden). The API key lacks the scope "
        "tracking_settings.read needed for reading the tracking settings." % (url, TRACKING))
    assert explained(mail_cases["summary scope"]) == (
        "Reading the mail settings GET %s%s failed (HTTP 403: access forbidden). The API key lacks the scope "
        "mail_settings.read needed for reading the mail settings." % (url, MAIL))
    assert explained(mail_cases["update scope"]) == (
        "Updating the spam report forwarding settings PATCH %s%s failed (HTTP 403: access forbidden). The API key lacks "
        "the scope mail_settings.forward_spam.update needed for updating the spam report forwarding settings. The request "
        "was made on behalf of 'marketing' (on_behalf_of): the parent's key must be allowed to act for it."
        % (url, mail("forward_spam")))
    assert [item["status"] for item in (tracking_cases["summary scope"], mail_cases["summary scope"],
                                        mail_cases["update scope"])] == [403] * 3
    assert tracking_cases["no summary needed"]["changed"] is True
    assert case_outcomes(run, "info")["per-setting read scopes suffice"]["failed"] is False
    assert calls(server, with_status=True) == [
        get(TRACKING) + (403,),
        get(tracking("subscription")) + (200,),
        patch(tracking("subscription"), {"enabled": True, "url": "https://example.com/unsubscribe"}) + (200,),
        get(MAIL) + (403,),
        get(mail("forward_spam"), "marketing") + (200,),
        patch(mail("forward_spam"), {"enabled": True, "email": "abuse@example.com"}, "marketing") + (403,),
    ] + [get(mail(name)) + (200,) for name in MAIL_NAMES]
    tally("failure_reported")


# ----------------------------------------------------------------------------- bad input

def test_bad_input_fails_naming_the_option_and_sends_nothing(server, tally):
    # a run of its own: the whitelist entry postmaster@localhost would fail run_cases' check that no case's play names
    # localhost (each case has a host of its own)
    run = cases_run(server, tracking_cases=[
        {"case": "not a boolean", "click": {"enabled": "maybe"}},
        {"case": "read-only suboption", "click": {"enable_text": True}},
    ], mail_cases=[
        {"case": "invalid forwarding address", "forward_spam": {"enabled": True, "email": ["abuse@example.com", "not-an-address"]}},
        {"case": "invalid whitelist entry", "address_whitelist": {"list": ["example.com", "postmaster@localhost"]}},
        {"case": "negative days", "bounce_purge": {"enabled": True, "soft_bounces": -1}},
        {"case": "days not a number", "bounce_purge": {"hard_bounces": "thirty"}},
        {"case": "invalid bounce address", "forward_bounce": {"email": "bounces at example.com"}},
        {"case": "unknown suboption", "footer": {"html": "<p>Example Ltd</p>"}},
    ], info_cases=[
        {"case": "unknown setting", "settings": ["tracking_settings", "mail_settings.spam_check"]},
    ])

    messages = {case: explained(item) for task in ("tracking", "mail", "info") for case, item in case_outcomes(run, task).items()}
    # Ansible lists the valid booleans in no fixed order
    messages["not a boolean"] = re.sub(r"include: .*", "include: ...", messages["not a boolean"])
    assert messages == {
        # the option's whole path (AnsibleModule named only "enabled ... found in 'click'")
        "not a boolean": "value of click.enabled must be true or false, got: maybe",
        "read-only suboption": "Unsupported parameters for (mailops.sendgrid.sendgrid_tracking_settings) module: "
                               "click.enable_text. Supported parameters include: enabled.",
        "invalid forwarding address": "value of forward_spam.email must hold e-mail addresses only ('not-an-address' is "
                                      "not one), got: [\"abuse@example.com\", \"not-an-address\"] (leave it out, or null, "
                                      "to leave the setting alone).",
        "invalid whitelist entry": "value of address_whitelist.list must hold e-mail addresses or domains only "
                                   "('postmaster@localhost' is neither), got: [\"example.com\", \"postmaster@localhost\"] "
                                   "(leave it out, or null, to leave the setting alone).",
        "negative days": "value of bounce_purge.soft_bounces must be from 0 to 3650 days (0 for none), got: -1 (leave "
                         "it out, or null, to leave the setting alone).",
        "days not a number": "value of bounce_purge.hard_bounces must be a whole number, got: thirty",
        "invalid bounce address": "value of forward_bounce.email must be an e-mail address, or \"\" for none, got: bounces "
                                  "at example.com (leave it out, or null, to leave the setting alone).",
        "unknown suboption": "Unsupported parameters for (mailops.sendgrid.sendgrid_mail_settings) module: footer.html. "
                             "Supported parameters include: enabled, html_content, plain_content.",
        "unknown setting": "settings holds mail_settings.spam_check, which is not a setting: use any of enforced_tls, "
                           "mail_settings, mail_settings.address_whitelist, mail_settings.bounce_purge, "
                           "mail_settings.footer, mail_settings.forward_bounce, mail_settings.forward_spam, "
                           "mail_settings.template, tracking_settings, tracking_settings.click, "
                           "tracking_settings.google_analytics, tracking_settings.open, tracking_settings.subscription.",
    }
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("section not a dict")
def _section_not_a_dict(start):
    server = start()
    # A plausible slip: the address list given as the section itself, or a flag as a word.
    return server, PlaybookCase("settings_cases.yml", dict(
        sg_api_url=server.url,
        sg_tracking_cases=[{"case": "word", "click": "off"}],
        sg_mail_cases=[{"case": "list", "forward_spam": ["abuse@example.com"]}],
    ))


def test_a_section_that_is_not_a_dict_fails_naming_it_without_showing_the_api_key(runs, tally):
    run, server = runs["section not a dict"]

    # (run_cases checks the whole run for the keys too; this says where one showed)
    shown = [where for where, text in (("stdout", run.stdout), ("stderr", run.stderr), ("results", json.dumps(run.tasks)))
             if any(secret in text for secret in SECRETS)]
    assert shown == [], "the API key was shown in %s\n%s" % (", ".join(shown), run.explain())
    assert "click" in explained(case_outcomes(run, "tracking")["word"])
    assert "forward_spam" in explained(case_outcomes(run, "mail")["list"])
    assert_nothing_sent(server)
    tally("bad_input_rejected")


# ----------------------------------------------------------------------------- rate limits and secrecy

@CASES.add("spent endpoint budget")
def _spent_endpoint_budget(start):
    # Every endpoint has 2 requests per 2-second window; bounce purge has 1, so its PATCH must wait for a new window.
    server = start(rate_limit=2, rate_window=2.0, endpoint_rate_limits={mail("bounce_purge"): 1})
    return server, settings_case(server, mail={
        "bounce_purge": {"enabled": True, "soft_bounces": 30},
        "forward_spam": {"enabled": True, "email": ["abuse@example.com"]},
        "forward_bounce": {"enabled": True},
        "footer": {"enabled": True, "plain_content": "Example Ltd"},
        "template": {"enabled": True},
    })


def test_one_spent_endpoint_budget_holds_back_only_its_own_requests_and_nothing_is_refused(runs, tally):
    run, server = runs["spent endpoint budget"]

    assert run.rc == 0, run.explain()
    assert run.task("mail")["warnings"] == []
    log = calls(server, with_status=True)
    assert [(c.method, c.path, c.status) for c in log] == [
        ("GET", MAIL, 200),
        ("GET", mail("bounce_purge"), 200), ("GET", mail("forward_spam"), 200), ("GET", mail("footer"), 200),
        ("PATCH", mail("bounce_purge"), 200), ("PATCH", mail("forward_spam"), 200), ("PATCH", mail("forward_bounce"), 200),
        ("PATCH", mail("footer"), 200), ("PATCH", mail("template"), 200),
    ]
    times = [entry["time"] for entry in server.requests()]
    # the spent bounce purge budget did not hold back the reads of the other endpoints...
    assert times[3] - times[1] < 1.0, times
    # ...and its own PATCH went in the next window, not to a 429
    assert times[4] - times[1] >= 0.9, times
    assert settings_state(server)["mail_settings/bounce_purge"] == {"enabled": True, "soft_bounces": 30, "hard_bounces": None}
    tally("fault_survived")


@CASES.add("secrecy with diff")
def _secrecy_with_diff(start):
    server = start()
    return server, settings_case(
        server, diff=True, on_behalf_of="marketing",
        tracking={"open": {"enabled": False}, "subscription": {"enabled": True, "landing": "<p>Bye</p>"}},
        mail={"forward_spam": {"enabled": True, "email": ["abuse@example.com"]}},
        info={})


def test_api_key_never_appears_in_vvvv_output_of_the_three_modules_with_diff(runs):
    run, server = runs["secrecy with diff"]

    assert run.rc == 0, run.explain()
    assert [run.task(task)["status"] for task in ("tracking", "mail", "info")] == ["changed", "changed", "ok"]
    # -vvvv did print each module's arguments, with the key hidden (in this case's own output)
    output = own_output(run, "secrecy with diff")
    assert output.count('"api_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"') == 3, run.explain()
    requests = server.requests()
    assert [header(entry, "Authorization") for entry in requests] == ["Bearer " + KEY] * len(requests)
    assert len(requests) == 3 + 3 + 11
    assert not any(secret in run.stdout + run.stderr + json.dumps(run.tasks) for secret in SECRETS)


@CASES.add("unknown subuser")
def _unknown_subuser(start):
    server = start()
    return server, settings_case(server, mail={"footer": {"enabled": True}}, on_behalf_of="ghost")


def test_unknown_subuser_fails_naming_it_and_the_failure_report_at_vvvv_hides_the_key(runs, tally):
    run, server = runs["unknown subuser"]

    message = assert_clear_failure(run, "mail")
    assert message == ("Reading the mail settings GET %s%s failed (HTTP 404: subuser 'ghost' not found). SendGrid does "
                       "not know the subuser or account 'ghost' given in on_behalf_of for this parent account."
                       % (server.url, MAIL))
    assert calls(server, with_status=True) == [get(MAIL, "ghost") + (404,)]
    tally("failure_reported")
