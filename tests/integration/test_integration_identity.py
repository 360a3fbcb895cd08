"""Sender identity (issue 23): sendgrid_domain_authentication, sendgrid_link_branding and their info modules, in real
ansible-playbook runs against the local API server, which validates by real DNS lookups.

THE DNS LOOP: each case that validates starts a DNS server of tools/dns_server.py (on 127.0.0.1 and a free port, UDP
and TCP) and an API server whose dns_resolver (--dns-resolver) is that DNS server. One playbook then creates the
domain, takes dns_records from the result, publishes them with the real community.general.nsupdate (RFC 2136 dynamic
updates, a loop over dns_records with item.host, item.type and item.data only), validates, and gets a valid domain;
the failing path publishes one CNAME wrong and leaves one out, and validation fails naming each with SendGrid's
reason.

The cases run together in one ansible-playbook (conftest.run_cases: each on a host and servers of its own).
"""

from __future__ import annotations

import pytest

from conftest import (
    REPO_ROOT, Cases, PlaybookCase, _load, assert_clear_failure, assert_nothing_sent, calls, case_outcomes, explained,
    query,
)

dns_server = _load("mailops_sendgrid_dns_server", REPO_ROOT / "tools" / "dns_server.py")
DOMAINS = "/v3/whitelabel/domains"
LINKS = "/v3/whitelabel/links"
WRITES = ("POST", "PATCH", "PUT", "DELETE")
CASES = Cases()


class Start:
    """module_start_server, and DNS servers of tools/dns_server.py, all stopped after the file's last test."""

    def __init__(self, start_server):
        self.start_server, self.dns_servers = start_server, []

    def __call__(self, **options):
        return self.start_server(**options)

    def dns(self):
        server = dns_server.DNSServer(host="127.0.0.1", port=0).start()
        self.dns_servers.append(server)
        return server


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, context)}: every case of this file, run once."""
    start = Start(module_start_server)
    try:
        yield CASES.run(start)
    finally:
        for server in start.dns_servers:
            server.stop()


def loop_case(server, dns, **extra_vars):
    return PlaybookCase("identity.yml", dict(dict(
        sg_api_url=server.url, sg_dns_host=dns.host, sg_dns_port=dns.port, sg_domain="example.com", sg_subdomain="em", sg_wait_timeout=0), **extra_vars))


# ----------------------------------------------------------------------------- the DNS loop

@CASES.add("the loop")
def _the_loop(start):
    dns = start.dns()
    server = start(dns_resolver=dns.address)
    return (server, dns), loop_case(server, dns, sg_link_subdomain="links",
                                    sg_domain_options={"default": True, "subusers": ["marketing"]})


def test_the_records_a_domain_asks_for_once_published_make_it_valid_and_the_links_too(runs):
    run, (server, dns) = runs["the loop"]
    assert run.rc == 0, run.explain()

    created = run.result("authenticate")
    assert created["changed"] is True and created["changes"] == {"created": 1, "subusers_added": ["marketing"]}
    assert created["dns_records"] == [
        {"name": "mail_cname", "type": "CNAME", "host": "em.example.com.", "data": "u10000.wl.sendgrid.net.",
         "valid": False},
        {"name": "dkim1", "type": "CNAME", "host": "s1._domainkey.example.com.",
         "data": "s1.domainkey.u10000.wl.sendgrid.net.", "valid": False},
        {"name": "dkim2", "type": "CNAME", "host": "s2._domainkey.example.com.",
         "data": "s2.domainkey.u10000.wl.sendgrid.net.", "valid": False}]
    # what nsupdate published, taken from the result as it is
    assert sorted((r["name"], r["type"], r["data"]) for r in dns.records()) == [
        ("10000.example.com", "CNAME", "sendgrid.net"), ("em.example.com", "CNAME", "u10000.wl.sendgrid.net"),
        ("links.example.com", "CNAME", "sendgrid.net"),
        ("s1._domainkey.example.com", "CNAME", "s1.domainkey.u10000.wl.sendgrid.net"),
        ("s2._domainkey.example.com", "CNAME", "s2.domainkey.u10000.wl.sendgrid.net")]
    assert [task["status"] for task in run.tasks if task["task"] == "publish"] == ["changed"]

    validated = run.result("validate")
    assert validated["changed"] is True and validated["changes"] == {"validated": True}
    assert validated["validation"] == {"valid": True, "attempts": 1, "results": {
        name: {"valid": True, "reason": None} for name in ("mail_cname", "dkim1", "dkim2")}}
    assert validated["domain"]["valid"] is True and all(r["valid"] for r in validated["dns_records"])
    again = run.result("validate again")
    assert again["changed"] is False and again["validation"] is None

    branded = run.result("brand links")
    assert branded["changes"] == {"created": 1} and [r["name"] for r in branded["dns_records"]] == [
        "domain_cname", "owner_cname"]
    assert run.result("validate the links")["changes"] == {"validated": True}

    domains = run.result("domains")["domains"]
    assert [(d["domain"], d["subdomain"], d["valid"], d["default"], d["subusers"]) for d in domains] == [
        ("example.com", "em", True, True, ["marketing"])]
    assert [(link["subdomain"], link["valid"]) for link in run.result("links")["links"]] == [("links", True)]

    assert calls(server) == [
        ("GET", DOMAINS, None, None),
        ("POST", DOMAINS, None, {"domain": "example.com", "subdomain": "em", "default": True, "region": "global"}),
        ("POST", DOMAINS + "/1/subuser:add", None, {"username": "marketing"}),
        ("GET", DOMAINS, None, None), ("GET", DOMAINS, None, None),          # what the writes left: two pages
        ("GET", DOMAINS, None, None), ("GET", DOMAINS, None, None),          # validate: the lookup
        ("POST", DOMAINS + "/1/validate", None, None),
        ("GET", DOMAINS, None, None), ("GET", DOMAINS, None, None),          # validate again: valid, not validated
        ("GET", LINKS, None, None),
        ("POST", LINKS, None, {"domain": "example.com", "subdomain": "links", "region": "us"}),
        ("GET", LINKS, None, None),                                          # what the writes left
        ("GET", LINKS, None, None),
        ("POST", LINKS + "/1/validate", None, None),
        ("GET", DOMAINS, None, None), ("GET", DOMAINS, None, None),          # the info modules
        ("GET", LINKS, None, None)]
    assert [query(entry) for entry in server.requests()[:1]] == [
        {"limit": "500", "offset": "0", "exclude_subusers": "true", "domain": "example.com"}]
    assert server.state("whitelabel/domains")["parent"][0]["valid"] is True


@CASES.add("a subuser's manual domain")
def _manual(start):
    dns = start.dns()
    server = start(dns_resolver=dns.address)
    return (server, dns), loop_case(server, dns, sg_on_behalf_of="marketing", sg_domain="marketing.example.com",
                                    sg_subdomain="mail", sg_domain_options={
                                        "automatic_security": False, "custom_spf": True, "ips": ["192.0.2.10"]})


def test_a_subusers_manual_domain_publishes_mx_and_txt_records_and_validates_on_its_behalf(runs):
    run, (server, dns) = runs["a subuser's manual domain"]
    assert run.rc == 0, run.explain()
    records = {r["name"]: r for r in run.result("authenticate")["dns_records"]}
    assert records["mail_server"] == {"name": "mail_server", "type": "MX", "host": "mail.marketing.example.com.",
                                      "data": "10 mx.sendgrid.net.", "valid": False}
    assert records["subdomain_spf"]["data"] == "v=spf1 ip4:192.0.2.10 -all"
    assert records["dkim"]["type"] == "TXT" and records["dkim"]["data"].startswith("k=rsa; t=s; p=")
    assert run.result("validate")["domain"]["valid"] is True
    assert {call.on_behalf_of for call in calls(server)} == {"marketing"}
    assert calls(server)[1].body == {"domain": "marketing.example.com", "subdomain": "mail",
                                     "automatic_security": False, "custom_spf": True, "ips": ["192.0.2.10"],
                                     "region": "global"}


@CASES.add("rate limited validation")
def _rate_limited(start):
    dns = start.dns()
    server = start(dns_resolver=dns.address, faults=[{"kind": "rate_limit", "count": 1, "method": "POST",
                                                      "path": DOMAINS + "/1/validate", "wait": 1, "retry_after": 1}])
    return (server, dns), loop_case(server, dns)


def test_a_rate_limited_validation_waits_as_sendgrid_asks_and_goes_through(runs, tally):
    run, (server, _dns) = runs["rate limited validation"]
    assert run.rc == 0, run.explain()
    record = run.task("validate")
    assert record["result"]["changes"] == {"validated": True} and record["result"]["validation"]["attempts"] == 1
    assert any("answered HTTP 429" in warning for warning in record["warnings"]), record["warnings"]
    assert [(c.method, c.path, c.status) for c in calls(server, with_status=True) if c.path.endswith("/validate")] == [
        ("POST", DOMAINS + "/1/validate", 429), ("POST", DOMAINS + "/1/validate", 200)]
    tally("fault_survived")


@CASES.add("failing validation")
def _failing(start):
    dns = start.dns()
    server = start(dns_resolver=dns.address)
    return (server, dns), loop_case(server, dns, sg_skip=["dkim2"], sg_wrong={"mail_cname": "other.example.net."},
                                    sg_wait_timeout=2, sg_poll_interval=1)


def test_failing_validation_names_each_invalid_record_with_sendgrids_reason_after_waiting(runs, tally):
    run, (server, dns) = runs["failing validation"]
    message = assert_clear_failure(run, "validate")
    result = run.result("validate")
    attempts = result["validation"]["attempts"]
    assert attempts >= 2   # one, then one a second later while the 2 seconds last (how many more: the clock's say)
    assert message == (
        'The authenticated domain em.example.com is not valid after %d validations over 2 seconds: mail_cname '
        '(Expected your CNAME record to be "u10000.wl.sendgrid.net" but found "other.example.net".); dkim2 (Expected '
        'your CNAME record to be "s2.domainkey.u10000.wl.sendgrid.net" but found no DNS record at '
        '"s2._domainkey.example.com".). Publish each record of dns_records as it is, then run again (DNS may take time '
        'to propagate: raise wait_timeout to keep validating).' % attempts)
    assert result["changed"] is False and result["validation"]["results"]["dkim1"] == {"valid": True, "reason": None}
    assert [call.path for call in calls(server) if call.method in WRITES] == [DOMAINS] + [DOMAINS + "/1/validate"] * attempts
    stored = server.state("whitelabel/domains")["parent"][0]
    assert stored["valid"] is False and stored["dns"]["dkim1"]["valid"] is True
    tally("failure_reported")


# ----------------------------------------------------------------------------- case by case

def cases_of(server, domain_cases=(), link_cases=()):
    return PlaybookCase("identity_cases.yml", dict(sg_api_url=server.url, sg_domain_cases=list(domain_cases),
                                                   sg_link_cases=list(link_cases)))


@CASES.add("check mode, diff and recreate")
def _recreate(start):
    server = start()
    server.set_state("parent", [{"id": 40, "domain": "example.com", "subdomain": "em", "default": True,
                                 "subusers": ["billing"]}], setting="whitelabel/domains")
    return server, cases_of(server, [
        dict(case="dry", check=True, diff=True, automatic_security=False, recreate=True, ips=["192.0.2.1"]),
        dict(case="refused", custom_dkim_selector="abc"),
        dict(case="recreate", diff=True, custom_dkim_selector="abc", recreate=True),
        dict(case="again", custom_dkim_selector="ABC"),
    ])


def test_check_mode_sends_no_write_and_recreate_makes_the_domain_again_with_what_it_had(runs, tally):
    run, server = runs["check mode, diff and recreate"]
    outcomes = case_outcomes(run, "domain")
    dry = outcomes["dry"]
    assert dry["changed"] is True and dry["recreated"] is True
    assert dry["changes"] == {"recreated": None, "subusers_added": ["billing"]}
    assert dry["diff"]["after"]["domain"]["automatic_security"] is False and dry["diff"]["after"]["domain"]["id"] is None
    assert dry["diff"]["after"]["recreated"] is True
    assert "custom_dkim_selector s1, not abc" in explained(outcomes["refused"])
    made = outcomes["recreate"]
    assert made["recreated"] is True and made["changes"] == {"recreated": 41, "subusers_added": ["billing"]}
    assert made["domain"]["custom_dkim_selector"] == "abc" and made["domain"]["default"] is True
    assert made["dns_records"][1]["host"] == "abc._domainkey.example.com."
    assert outcomes["again"]["changed"] is False
    assert [(c.method, c.path, c.body) for c in calls(server) if c.method in WRITES] == [
        ("DELETE", DOMAINS + "/40", None),
        ("POST", DOMAINS, {"domain": "example.com", "subdomain": "em", "automatic_security": True,
                           "custom_spf": False, "custom_dkim_selector": "abc", "ips": [], "default": True,
                           "region": "global"}),
        ("POST", DOMAINS + "/41/subuser:add", {"username": "billing"})]
    tally("failure_reported")


@CASES.add("updates and links")
def _updates(start):
    server = start()
    server.set_state("parent", [{"id": 5, "domain": "example.com", "subdomain": "em", "automatic_security": False,
                                 "ips": ["192.0.2.1"], "subusers": ["billing"]}], setting="whitelabel/domains")
    server.set_state("parent", [{"id": 9, "domain": "example.com", "subdomain": "links"}], setting="whitelabel/links")
    return server, cases_of(server, [
        dict(case="patch ips subusers", custom_spf=True, default=True, ips=["192.0.2.2"], subusers=["support"]),
        dict(case="unchanged", custom_spf=True, default=True, ips=["192.0.2.2"], subusers=["support"]),
        dict(case="absent", state="absent"), dict(case="absent again", state="absent"),
    ], [dict(case="link subusers", default=True, subusers=["billing", "support"]),
        dict(case="link unchanged", default=True, subusers=["billing", "support"]),
        dict(case="link absent", state="absent")])


def test_only_what_differs_is_written_once_and_absent_deletes_once(runs):
    run, server = runs["updates and links"]
    assert run.rc == 0, run.explain()
    outcomes = case_outcomes(run, "domain")
    assert outcomes["patch ips subusers"]["changes"] == {
        "updated": {"custom_spf": True, "default": True}, "ips_added": ["192.0.2.2"], "ips_removed": ["192.0.2.1"],
        "subusers_added": ["support"], "subusers_removed": ["billing"]}
    assert outcomes["patch ips subusers"]["dns_records"][1]["data"] == "v=spf1 ip4:192.0.2.2 -all"
    assert [outcomes[name]["changed"] for name in ("unchanged", "absent", "absent again")] == [False, True, False]
    links = case_outcomes(run, "link")
    assert links["link subusers"]["changes"] == {"updated": {"default": True},
                                                 "subusers_added": ["billing", "support"]}
    assert [links[name]["changed"] for name in ("link unchanged", "link absent")] == [False, True]
    assert [(c.method, c.path, c.body) for c in calls(server) if c.method in WRITES] == [
        ("PATCH", DOMAINS + "/5", {"default": True, "custom_spf": True}),
        ("POST", DOMAINS + "/5/ips", {"ip": "192.0.2.2"}),
        ("DELETE", DOMAINS + "/5/ips/192.0.2.1", None),
        ("POST", DOMAINS + "/5/subuser:add", {"username": "support"}),
        ("DELETE", DOMAINS + "/5/subuser", None),
        ("DELETE", DOMAINS + "/5", None),
        ("PATCH", LINKS + "/9", {"default": True}),
        ("POST", LINKS + "/9/subuser", {"username": "billing"}),
        ("POST", LINKS + "/9/subuser", {"username": "support"}),
        ("DELETE", LINKS + "/9", None)]
    # a subuser without a link is a 404 of the lookup, which the module takes as "none"
    assert [(c.path, c.status) for c in calls(server, with_status=True) if c.path == LINKS + "/subuser"][:2] == [
        (LINKS + "/subuser", 404), (LINKS + "/subuser", 404)]


BAD = {
    "domain": (dict(domain="example"), "value of domain must be a domain name such as example.com, got: example."),
    "subdomain": (dict(subdomain="em_1"), "value of subdomain must be DNS labels such as em"),
    "selector": (dict(custom_dkim_selector="abcd"), "value of custom_dkim_selector must be 1 to 3 letters or digits"),
    "ips": (dict(ips=["2001:db8::1"]), "value of ips must hold IPv4 addresses (such as 192.0.2.10), got: 2001:db8::1."),
    "subusers": (dict(subusers=["no such/name"]), "value of subusers[0] must be a subuser's username"),
    "subusers for a subuser": (dict(subusers=["billing"], on_behalf_of="marketing"),
                               "leave subusers out when on_behalf_of is set"),
    "wait_timeout": (dict(wait_timeout=-1), "value of wait_timeout must be zero or more seconds, got: -1."),
    "poll_interval": (dict(poll_interval=0), "value of poll_interval must be one second or more, got: 0."),
}


@CASES.add("bad input")
def _bad_input(start):
    server = start()
    return server, cases_of(server, [dict(options, case=name) for name, (options, _message) in BAD.items()],
                            [dict(case="link subdomain", subdomain="links!")])


def test_bad_input_fails_naming_the_option_with_nothing_sent(runs, tally):
    run, server = runs["bad input"]
    outcomes = case_outcomes(run, "domain")
    for name, (_options, message) in BAD.items():
        assert message in explained(outcomes[name]), (name, outcomes[name]["msg"])
    assert "value of subdomain must be DNS labels such as links" in explained(case_outcomes(run, "link")["link subdomain"])
    assert_nothing_sent(server)
    tally("bad_input_rejected")
