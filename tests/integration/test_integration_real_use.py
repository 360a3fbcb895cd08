"""Real use, not the happy path: each defect of the issue "Real use", as people hit it, through ansible-playbook.

Each test names the defect it pins. They pass values the way people do: defaults left alone, null for "not
managed", -e key=value strings, the role twice in one play, a proxy's REQUESTS_CA_BUNDLE in the environment.

Most cases run together in one ansible-playbook (conftest.run_cases: each on a host and servers of its own); the
-e key=value tests run their own, since they test exactly how ansible-playbook reads those strings.
"""

from __future__ import annotations

import json

import pytest
import trustme

from conftest import (
    DEFAULT_SETTINGS, KEY, SUBUSERS_PATH, TLS_PATH, Cases, PlaybookCase, Start, assert_clear_failure,
    assert_nothing_sent, calls, run_playbook, sg,
)

CASES = Cases()

APPLY_TASK = "Apply the policy to every account in one run"


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server, tmp_path_factory):
    """{case: (run, context)}: every batched case of this file, run once."""
    return CASES.run(Start(module_start_server, tmp_path_factory.mktemp("real_use")))


def tls_calls(server) -> dict:
    """The Enforced TLS requests per on-behalf-of, in order, as (method, body, status); nothing else may be there."""
    by_account = {}
    for call in calls(server, with_status=True):
        if call.path == SUBUSERS_PATH:
            continue
        assert call.path == TLS_PATH, call
        by_account.setdefault(call.on_behalf_of, []).append((call.method, call.body, call.status))
    return by_account


def get_patch(body):
    return [("GET", None, 200), ("PATCH", body, 200)]


# ----------------------------------------------------------------------------- 1. the role's documented defaults

def role_from_environment(start, **extra_vars):
    """role.yml with the given role variables, the API URL in SENDGRID_API_URL."""
    server = start()
    return server, PlaybookCase("role.yml", extra_vars, env={"SENDGRID_API_URL": server.url})


@CASES.add("defect 1: documented defaults")
def _documented_defaults(start):
    return role_from_environment(start)


def test_defect_1_the_role_with_only_its_documented_defaults_requires_tls_on_the_parent(runs):
    run, server = runs["defect 1: documented defaults"]

    assert run.rc == 0, run.explain()
    assert run.task(APPLY_TASK)["status"] == "changed"
    assert tls_calls(server) == {None: get_patch({"require_tls": True})}
    assert run.result(APPLY_TASK)["policy"] == {"require_tls": True, "require_valid_cert": None, "min_tls_version": None}


@CASES.add("defect 1: one policy option")
def _one_policy_option(start):
    return role_from_environment(start, enforced_tls_require_valid_cert=True)


def test_defect_1_one_policy_option_alone_keeps_the_other_defaults(runs):
    run, server = runs["defect 1: one policy option"]

    assert run.rc == 0, run.explain()
    assert tls_calls(server) == {None: get_patch({"require_tls": True, "require_valid_cert": True})}


@CASES.add("defect 1: null require_tls")
def _null_require_tls(start):
    return role_from_environment(start, enforced_tls_require_tls=None, enforced_tls_min_tls_version="1.3")


def test_defect_1_null_require_tls_means_not_managed(runs):
    run, server = runs["defect 1: null require_tls"]

    assert run.rc == 0, run.explain()
    assert tls_calls(server) == {None: get_patch({"version": 1.3})}


@CASES.add("defect 1: null everywhere")
def _null_everywhere(start):
    return role_from_environment(start, enforced_tls_require_tls=None, enforced_tls_require_valid_cert=None,
                                 enforced_tls_min_tls_version=None)


def test_defect_1_null_everywhere_only_reads(runs):
    run, server = runs["defect 1: null everywhere"]

    assert run.rc == 0, run.explain()
    assert run.task(APPLY_TASK)["status"] == "ok"
    assert tls_calls(server) == {None: [("GET", None, 200)]}


# ----------------------------------------------------------------------------- 2. discovery and short pages

SHORT_PAGES = ["sub-%d" % i for i in range(1, 8)]


@CASES.add("defect 2: short pages")
def _short_pages(start):
    server = start(subusers=SHORT_PAGES, account_ids=[], max_page_size=2)
    report_dir = start.directory()
    return (server, report_dir), PlaybookCase("role.yml", dict(
        enforced_tls_api_url=server.url, enforced_tls_discover_subusers=True, enforced_tls_report_dir=str(report_dir)))


def test_defect_2_discovery_covers_every_subuser_when_pages_are_shorter_than_asked_and_reports_the_count(runs):
    names = SHORT_PAGES
    run, (server, tmp_path) = runs["defect 2: short pages"]

    assert run.rc == 0, run.explain()
    result = run.result(APPLY_TASK)
    assert result["discovered"] == 7 and result["summary"]["accounts"] == 8
    assert set(tls_calls(server)) == {None, *names}
    offsets = [call for call in server.requests() if call["path"].startswith(SUBUSERS_PATH)]
    assert [entry["path"].split("offset=")[1].split("&")[0] for entry in offsets] == ["0", "2", "4", "6", "7"]
    report = json.loads((tmp_path / "enforced_tls_report.json").read_text(encoding="utf-8"))
    assert report["discovered"] == 7 and len(report["accounts"]) == 8
    markdown = (tmp_path / "enforced_tls_report.md").read_text(encoding="utf-8")
    assert "- Discovery: the parent has 7 subusers (every page read)" in markdown
    assert "- Totals: 8 accounts, 8 changed" in markdown


@CASES.add("defect 10: report of one account")
def _report_of_one_account(start):
    server, report_dir = start(), start.directory()
    return report_dir, PlaybookCase("role.yml", dict(enforced_tls_api_url=server.url,
                                                     enforced_tls_report_dir=str(report_dir)))


def test_defect_10_a_report_of_one_account_says_1_account(runs):
    run, tmp_path = runs["defect 10: report of one account"]

    assert run.rc == 0, run.explain()
    assert "- Totals: 1 account, 1 changed, 0 already in policy, 0 failed" in (
        tmp_path / "enforced_tls_report.md").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- 3. -e key=value strings

def test_defect_3_include_disabled_false_as_an_extra_var_string_leaves_disabled_subusers_out(start_server):
    server = start_server(subusers=["active", "dormant:disabled"], account_ids=[])

    run = run_playbook("role.yml", args=("-e", "enforced_tls_api_url=" + server.url,
                                         "-e", "enforced_tls_discover_subusers=true",
                                         "-e", "enforced_tls_include_disabled=false"))

    assert run.rc == 0, run.explain()
    assert set(tls_calls(server)) == {None, "active"}


def test_defect_3_one_subuser_as_an_extra_var_string_is_one_account_not_its_letters(server):
    run = run_playbook("role.yml", args=("-e", "enforced_tls_api_url=" + server.url,
                                         "-e", "enforced_tls_subusers=marketing",
                                         "-e", "enforced_tls_include_parent=false"))

    assert run.rc == 0, run.explain()
    assert tls_calls(server) == {"marketing": get_patch({"require_tls": True})}


def test_defect_3_a_comma_separated_extra_var_string_is_a_list_of_subusers(server):
    run = run_playbook("role.yml", args=("-e", "enforced_tls_api_url=" + server.url,
                                         "-e", "enforced_tls_subusers=marketing,billing",
                                         "-e", "enforced_tls_require_tls=false",
                                         "-e", "enforced_tls_min_tls_version=1.2"))

    assert run.rc == 0, run.explain()
    assert tls_calls(server) == {name: get_patch({"version": 1.2}) for name in (None, "marketing", "billing")}


# ----------------------------------------------------------------------------- 4. the role twice in one play

@CASES.add("defect 4: the role twice")
def _role_twice(start):
    first = start(subusers=["alpha", "beta"], account_ids=[])
    # the second brand's key may not list subusers
    second = start(keys={KEY: [sg.SCOPE_TLS_READ, sg.SCOPE_TLS_UPDATE]}, subusers=["gamma"], account_ids=[])
    tmp_path = start.directory()
    return (second, tmp_path), PlaybookCase("role_twice.yml", dict(
        first_api_url=first.url, first_report_dir=str(tmp_path / "first"),
        second_api_url=second.url, second_report_dir=str(tmp_path / "second")))


def test_defect_4_a_second_call_that_fails_in_discovery_reports_its_own_failure_not_the_first_calls_accounts(runs):
    run, (second, tmp_path) = runs["defect 4: the role twice"]

    assert run.result("remember the first result")["ansible_facts"]["first_result"]["summary"]["accounts"] == 3
    second_result = run.result("show the second result")["enforced_tls_result"]
    assert second_result["failed"] is True and second_result["accounts"] == []
    assert "Discovering the subusers failed, so no account was handled" in second_result["msg"]
    assert "subusers.read" in second_result["msg"]
    report = json.loads((tmp_path / "second" / "enforced_tls_report.json").read_text(encoding="utf-8"))
    assert (report["failed"], report["accounts"], report["summary"]["accounts"]) == (True, [], 0)
    assert "subusers.read" in report["msg"]
    markdown = (tmp_path / "second" / "enforced_tls_report.md").read_text(encoding="utf-8")
    assert "- Failure: Discovering the subusers failed" in markdown and "0 accounts" in markdown
    assert len(json.loads((tmp_path / "first" / "enforced_tls_report.json").read_text(encoding="utf-8"))["accounts"]) == 3
    assert [(c.method, c.path) for c in calls(second)] == [("GET", SUBUSERS_PATH)]


# ----------------------------------------------------------------------------- 5. certificates behind a proxy

def https_server(start):
    """(server, directory): an https server whose CA only directory/ca.pem holds, and directory/proxy-bundle.pem,
    another CA's bundle (a proxy's) for the environment to name."""
    tmp_path = start.directory()
    ca, other_ca = trustme.CA(), trustme.CA()
    cert = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(cert))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    other_ca.cert_pem.write_to_path(str(tmp_path / "proxy-bundle.pem"))
    server = start(tls_cert=str(cert))
    assert server.url.startswith("https://127.0.0.1:")
    return server, tmp_path


def proxy_env(tmp_path) -> dict:
    bundle = str(tmp_path / "proxy-bundle.pem")
    return {"REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle}


@CASES.add("defect 5: ca_path")
def _ca_path(start):
    server, tmp_path = https_server(start)
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True,
                                                         sg_ca_path=str(tmp_path / "ca.pem")), env=proxy_env(tmp_path))


def test_defect_5_ca_path_decides_even_when_requests_ca_bundle_names_another_bundle(runs):
    run, https_server = runs["defect 5: ca_path"]

    assert run.rc == 0, run.explain()
    assert tls_calls(https_server) == {None: get_patch({"require_tls": True})}


@CASES.add("defect 5: validate_certs false")
def _validate_certs_false(start):
    server, tmp_path = https_server(start)
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True,
                                                         sg_validate_certs=False), env=proxy_env(tmp_path))


def test_defect_5_validate_certs_false_decides_even_when_requests_ca_bundle_is_set(runs):
    run, https_server = runs["defect 5: validate_certs false"]

    assert run.rc == 0, run.explain()
    assert tls_calls(https_server) == {None: get_patch({"require_tls": True})}


@CASES.add("defect 5: neither option")
def _neither_option(start):
    server, tmp_path = https_server(start)
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True),
                                env=proxy_env(tmp_path))


def test_defect_5_without_either_option_the_environments_bundle_is_used_and_the_failure_says_what_to_set(
        runs, tally):
    run, https_server = runs["defect 5: neither option"]

    message = assert_clear_failure(run, "enforce")
    assert "the TLS connection failed" in message and "Check validate_certs and ca_path." in message
    assert https_server.requests() == []
    tally("failure_reported")


@CASES.add("defect 10: upper-case HTTPS")
def _upper_case_https(start):
    server, tmp_path = https_server(start)
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url.replace("https://", "HTTPS://"),
                                                         sg_require_tls=True, sg_ca_path=str(tmp_path / "ca.pem")))


def test_defect_10_an_upper_case_https_scheme_is_accepted(runs):
    run, https_server = runs["defect 10: upper-case HTTPS"]

    assert run.rc == 0, run.explain()
    assert tls_calls(https_server) == {None: get_patch({"require_tls": True})}


# ----------------------------------------------------------------------------- 6. one account's failure

@CASES.add("defect 6: leading space")
def _leading_space(start):
    server = start()
    return server, PlaybookCase("accounts.yml", dict(sg_api_url=server.url, sg_require_tls=True,
                                                     sg_accounts=["marketing", " billing"]))


def test_defect_6_a_name_with_a_leading_space_fails_before_any_request_naming_the_item(runs, tally):
    run, server = runs["defect 6: leading space"]

    message = assert_clear_failure(run, "enforce accounts")
    assert message == "accounts[1].name must not start or end with spaces, got ' billing'."
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("defect 6: answer cut off")
def _answer_cut_off(start):
    server = start()
    server.add_fault("truncated", count=1, method="GET")
    return server, PlaybookCase("accounts.yml", dict(sg_api_url=server.url, sg_require_tls=True,
                                                     sg_accounts=["marketing"], sg_concurrency=1))


def test_defect_6_an_answer_cut_off_mid_body_is_retried_and_the_run_completes(runs, tally):
    run, server = runs["defect 6: answer cut off"]

    assert run.rc == 0, run.explain()
    assert run.result("enforce accounts")["summary"] == {"accounts": 2, "changed": 2, "in_sync": 0, "failed": 0}
    assert any("failed with a connection error; retry 1 of 5" in warning for warning in run.task("enforce accounts")["warnings"])
    assert [(c.method, c.status) for c in calls(server, with_status=True)][:2] == [("GET", 200), ("GET", 200)]
    tally("fault_survived")


@CASES.add("defect 6: missing ca_path file")
def _missing_ca_path(start):
    server = start()
    missing = str(start.directory() / "missing-ca.pem")
    return (server, missing), PlaybookCase("accounts.yml", dict(sg_api_url=server.url, sg_require_tls=True,
                                                                sg_ca_path=missing))


def test_defect_6_a_missing_ca_path_file_fails_clearly_before_any_request(runs, tally):
    run, (server, missing) = runs["defect 6: missing ca_path file"]

    message = assert_clear_failure(run, "enforce accounts")
    assert message.startswith("ca_path %s is not a readable file" % missing)
    assert_nothing_sent(server)
    tally("bad_input_rejected")


# ----------------------------------------------------------------------------- 7. the rate limit across resets

RESETS = [("epoch", 8), ("seconds", 32)]


def _rate_limit_resets(start, reset, concurrency):
    names = ["acct-%02d" % i for i in range(1, 13)]
    server = start(subusers=names, account_ids=[], rate_limit=5, rate_window=1.0, rate_reset=reset)
    return server, PlaybookCase("accounts.yml", dict(sg_api_url=server.url, sg_require_tls=True, sg_accounts=names,
                                                     sg_concurrency=concurrency))


for _reset, _concurrency in RESETS:
    CASES.add("defect 7: %s reset, concurrency %d" % (_reset, _concurrency), reset=_reset,
              concurrency=_concurrency)(_rate_limit_resets)


@pytest.mark.parametrize("reset, concurrency", RESETS)
def test_defect_7_workers_wait_for_each_reset_instead_of_bursting_into_429s(runs, tally, reset, concurrency):
    run, server = runs["defect 7: %s reset, concurrency %d" % (reset, concurrency)]

    assert run.rc == 0, run.explain()
    assert run.result("enforce accounts")["summary"] == {"accounts": 13, "changed": 13, "in_sync": 0, "failed": 0}
    statuses = [entry["status"] for entry in server.requests()]
    assert len(statuses) == 26 and statuses.count(429) == 0, statuses
    assert run.task("enforce accounts")["warnings"] in ([], None)
    tally("fault_survived")


# ----------------------------------------------------------------------------- 8. one rule for the EU host

@CASES.add("defect 8: region eu")
def _region_eu(start):
    server, eu_server = start(), start(region="eu")
    return (server, eu_server), PlaybookCase(
        "enforced_tls.yml", dict(sg_region="eu", sg_on_behalf_of="eu-newsletter", sg_require_tls=True),
        env={"SENDGRID_API_URL": server.url, "SENDGRID_EU_API_URL": eu_server.url})


def test_defect_8_region_eu_goes_to_sendgrid_eu_api_url_even_when_sendgrid_api_url_is_set(runs):
    run, (server, eu_server) = runs["defect 8: region eu"]

    assert run.rc == 0, run.explain()
    assert tls_calls(eu_server) == {"eu-newsletter": get_patch({"require_tls": True})}
    assert server.requests() == []


# ----------------------------------------------------------------------------- 9. listed, excluded, keyed

@CASES.add("defect 9: listed eu subuser matching an exclusion")
def _listed_and_excluded(start):
    server, eu_server = start(), start(region="eu")
    return (server, eu_server), PlaybookCase("role.yml", dict(
        enforced_tls_api_url=server.url, enforced_tls_eu_api_url=eu_server.url, enforced_tls_discover_subusers=True,
        enforced_tls_exclude=["eu-*", "support"], enforced_tls_subusers=[{"name": "eu-newsletter", "min_tls_version": "1.3"}]))


def test_defect_9_a_listed_eu_subuser_that_matches_an_exclusion_keeps_its_discovered_region(runs):
    run, (server, eu_server) = runs["defect 9: listed eu subuser matching an exclusion"]

    assert run.rc == 0, run.explain()
    assert tls_calls(eu_server) == {"eu-newsletter": get_patch({"require_tls": True, "version": 1.3})}
    assert set(tls_calls(server)) == {None, "marketing", "billing"}  # eu-newsletter and support excluded from discovery


@CASES.add("defect 9: item keyed on_behalf_of")
def _keyed_on_behalf_of(start):
    server = start()
    return server, PlaybookCase("role.yml", dict(
        enforced_tls_api_url=server.url, enforced_tls_include_parent=False,
        enforced_tls_subusers=[{"on_behalf_of": "marketing", "require_valid_cert": True}]))


def test_defect_9_an_item_keyed_on_behalf_of_like_the_module_option_works(runs):
    run, server = runs["defect 9: item keyed on_behalf_of"]

    assert run.rc == 0, run.explain()
    assert tls_calls(server) == {"marketing": get_patch({"require_tls": True, "require_valid_cert": True})}


@CASES.add("defect 9: misspelt item key")
def _misspelt_item_key(start):
    server = start()
    return server, PlaybookCase("role.yml", dict(enforced_tls_api_url=server.url,
                                                 enforced_tls_subusers=[{"nmae": "marketing"}]))


def test_defect_9_a_misspelt_item_key_fails_naming_it_before_any_request(runs, tally):
    run, server = runs["defect 9: misspelt item key"]

    message = assert_clear_failure(run, APPLY_TASK)
    # the role's variable, not the module's option (issue 20, item 14)
    assert message.startswith("enforced_tls_subusers[0] has the unknown key nmae; an account is a subuser's name, or a "
                              "dictionary with name (or on_behalf_of) and any of region, require_tls"), message
    assert_nothing_sent(server)
    tally("bad_input_rejected")


# ----------------------------------------------------------------------------- 10. messages

@CASES.add("defect 10: api_url ending in /v3")
def _api_url_v3(start):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url + "/v3", sg_require_tls=True))


def test_defect_10_an_api_url_ending_in_v3_says_what_the_base_url_looks_like_and_sends_nothing(runs, tally):
    run, server = runs["defect 10: api_url ending in /v3"]

    message = assert_clear_failure(run, "enforce")
    assert message == ("api_url must be the API's base URL without /v3 (the modules add /v3/...), such as "
                       "https://api.sendgrid.com, got %r." % (server.url + "/v3"))
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("defect 10: 429 beyond retry_max_wait")
def _beyond_retry_max_wait(start):
    server = start()
    server.add_fault("rate_limit", count=1, reset="seconds", wait=300)
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True,
                                                         sg_retry_max_wait=30))


def test_defect_10_a_429_resetting_beyond_retry_max_wait_says_when_and_which_option_to_raise(runs, tally):
    run, server = runs["defect 10: 429 beyond retry_max_wait"]

    message = assert_clear_failure(run, "enforce")
    assert "SendGrid's rate limit resets in 300 seconds (at " in message
    assert "beyond retry_max_wait (30 seconds): raise retry_max_wait, lower concurrency, or run again later." in message
    assert [(c.method, c.status) for c in calls(server, with_status=True)] == [("GET", 429)]
    tally("failure_reported")


@CASES.add("defect 10: dropped connection")
def _dropped_connection(start):
    server = start()
    server.add_fault("drop", count=-1)
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True, sg_retries=0))


def test_defect_10_a_dropped_connection_says_what_to_check(runs, tally):
    run, server = runs["defect 10: dropped connection"]

    message = assert_clear_failure(run, "enforce")
    assert "the connection to the API was lost or refused" in message
    assert message.endswith("Check api_url, the network and any proxy between this host and SendGrid, then run again.")
    tally("failure_reported")


# ----------------------------------------------------------------------------- 11. plain names in the bulk module

@CASES.add("defect 11: plain string accounts")
def _plain_string_accounts(start):
    server, eu_server = start(), start(region="eu")
    return (server, eu_server), PlaybookCase("accounts.yml", dict(
        sg_api_url=server.url, sg_eu_api_url=eu_server.url, sg_require_tls=True, sg_include_parent=False,
        sg_accounts=["marketing", {"name": "eu-newsletter", "region": "eu"}]))


def test_defect_11_the_bulk_module_takes_plain_string_accounts_as_the_role_does(runs):
    run, (server, eu_server) = runs["defect 11: plain string accounts"]

    assert run.rc == 0, run.explain()
    assert tls_calls(server) == {"marketing": get_patch({"require_tls": True})}
    assert tls_calls(eu_server) == {"eu-newsletter": get_patch({"require_tls": True})}
    assert DEFAULT_SETTINGS == server.state()["billing"]
