"""Domain authentication (tools/sendgrid_api/domains.py): authenticated domains, their records, subuser association,
and validation by real DNS lookups on a DNS server of tools/dns_server.py."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments,too-many-positional-arguments

import json
import time

import pytest
import requests

from .helpers import KEY, SUBUSERS, call, errors_of, sg

DOMAINS = "/v3/whitelabel/domains"
SETTING = "whitelabel/domains"
SCOPES = ("whitelabel.read", "whitelabel.create", "whitelabel.update", "whitelabel.delete")
FIELDS = ["id", "user_id", "subdomain", "domain", "username", "ips", "custom_spf", "default", "legacy",
          "automatic_security", "valid", "dns"]
NO_RESOLVER = "no DNS resolver is configured on this local server (start it with --dns-resolver HOST:PORT): " \
              "nothing was looked up"


def create(server, obo=None, **body):
    response = call(server, "POST", DOMAINS, obo=obo, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def listed(server, obo=None, **params):
    response = call(server, "GET", DOMAINS, obo=obo, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def record(kind, host, data, valid=False):
    return {"valid": valid, "type": kind, "host": host, "data": data}


# ----------------------------------------------------------------------------- create, read

def test_a_new_domain_has_automatic_security_and_three_cname_records(srv):
    domain = create(srv, domain="Example.com", subdomain="em")
    assert list(domain) == FIELDS and isinstance(domain["id"], int)
    assert domain == {"id": domain["id"], "user_id": 10000, "subdomain": "em", "domain": "example.com",
                      "username": "parent", "ips": [], "custom_spf": False, "default": False, "legacy": False,
                      "automatic_security": True, "valid": False, "dns": {
                          "mail_cname": record("cname", "em.example.com", "u10000.wl.sendgrid.net"),
                          "dkim1": record("cname", "s1._domainkey.example.com", "s1.domainkey.u10000.wl.sendgrid.net"),
                          "dkim2": record("cname", "s2._domainkey.example.com", "s2.domainkey.u10000.wl.sendgrid.net")}}
    assert call(srv, "GET", f"{DOMAINS}/{domain['id']}").json() == domain
    second = create(srv, domain="example.org")
    assert second["id"] > domain["id"] and second["subdomain"] == f"em{second['id']}"
    custom = create(srv, domain="example.net", custom_dkim_selector="abc")
    assert [(r["host"], r["data"]) for r in (custom["dns"]["dkim1"], custom["dns"]["dkim2"])] == [
        ("abc._domainkey.example.net", "abc.domainkey.u10000.wl.sendgrid.net"),
        ("abc2._domainkey.example.net", "abc2.domainkey.u10000.wl.sendgrid.net")]


def test_manual_security_has_mx_spf_and_dkim_txt_records_and_custom_spf_lists_the_ips(srv):
    manual = create(srv, domain="example.com", subdomain="mail", automatic_security=False)
    dns = manual["dns"]
    assert list(dns) == ["mail_server", "subdomain_spf", "domain_spf", "dkim"]
    assert dns["mail_server"] == record("mx", "mail.example.com", "mx.sendgrid.net")
    assert dns["subdomain_spf"] == record("txt", "mail.example.com", "v=spf1 include:sendgrid.net ~all")
    assert dns["domain_spf"] == record("txt", "example.com", "v=spf1 include:mail.example.com -all")
    assert dns["dkim"]["host"] == "s1._domainkey.example.com" and dns["dkim"]["data"].startswith("k=rsa; t=s; p=")
    custom = create(srv, domain="example.org", subdomain="mail", automatic_security=False, custom_spf=True,
                    ips=["192.0.2.1", "192.0.2.2"], region="eu")
    assert (custom["custom_spf"], custom["ips"]) == (True, ["192.0.2.1", "192.0.2.2"])
    assert custom["dns"]["subdomain_spf"]["data"] == "v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 -all"
    # kept, not answered
    assert "region" not in custom and srv.state(SETTING)["parent"][-1]["region"] == "eu"


@pytest.mark.parametrize("body, field", [
    ({}, "domain"), ({"domain": "not a domain"}, "domain"), ({"domain": 5}, "domain"), ({"domain": " example.com"}, "domain"),
    ({"domain": "example.com", "subdomain": "a b"}, "subdomain"), ({"domain": "example.com", "ips": "192.0.2.1"}, "ips"),
    ({"domain": "example.com", "ips": ["300.1.1.1"]}, "ips[0]"), ({"domain": "example.com", "default": "yes"}, "default"),
    ({"domain": "example.com", "automatic_security": 1}, "automatic_security"),
    ({"domain": "example.com", "custom_dkim_selector": "abcd"}, "custom_dkim_selector"),
    ({"domain": "example.com", "region": "us"}, "region"), ({"domain": "example.com", "custom_spf": True}, "custom_spf"),
    ({"domain": "example.com", "automatic_security": True, "custom_spf": True}, "custom_spf"),
    ({"domain": "example.com", "valid": True}, "valid"), ({"domain": "example.com", "username": "nobody"}, "username"),
])
def test_an_invalid_domain_is_400_naming_the_field_and_creates_nothing(srv, body, field):
    response = call(srv, "POST", DOMAINS, json=body)
    assert response.status_code == 400 and field in [item["field"] for item in errors_of(response)], response.text
    assert all(domains == [] for domains in srv.state(SETTING).values())


def test_the_same_subdomain_twice_is_400_and_3000_domains_are_the_most(srv):
    create(srv, domain="example.com", subdomain="em")
    twice = call(srv, "POST", DOMAINS, json={"domain": "example.com", "subdomain": "EM"})
    assert twice.status_code == 400 and errors_of(twice)[0]["field"] == "domain"
    srv.set_state("marketing", [{"domain": f"d{number}.example.com"} for number in range(2999)], setting=SETTING)
    assert create(srv, obo="marketing", domain="last.example.com")["username"] == "marketing"
    full = call(srv, "POST", DOMAINS, obo="marketing", json={"domain": "more.example.com"})
    assert full.status_code == 400 and "3000" in errors_of(full)[0]["message"]


def test_the_parent_creates_a_subusers_domain_with_username_and_lists_it_unless_excluded(srv):
    own = create(srv, domain="parent.example.com")
    theirs = create(srv, domain="marketing.example.com", username="marketing")
    assert (theirs["username"], theirs["user_id"]) == ("marketing", 10001)
    assert theirs["dns"]["mail_cname"]["data"] == "u10001.wl.sendgrid.net"
    assert [d["id"] for d in listed(srv)] == [own["id"], theirs["id"]]
    assert [d["id"] for d in listed(srv, exclude_subusers="true")] == [own["id"]]
    assert [d["id"] for d in listed(srv, username="marketing")] == [theirs["id"]]
    assert [d["id"] for d in listed(srv, obo="marketing")] == [theirs["id"]]
    assert listed(srv, obo="billing") == [] and listed(srv, obo="account-id 777") == []
    # the parent reaches its subuser's domain by id; the subuser never the parent's
    assert call(srv, "GET", f"{DOMAINS}/{theirs['id']}").json() == theirs
    assert call(srv, "GET", f"{DOMAINS}/{own['id']}", obo="marketing").status_code == 404
    # a subuser names only itself
    assert create(srv, obo="marketing", domain="self.example.com", username="marketing")["username"] == "marketing"
    refused = call(srv, "POST", DOMAINS, obo="marketing", json={"domain": "x.example.com", "username": "billing"})
    assert refused.status_code == 403
    customer = create(srv, obo="account-id 777", domain="c.example.com")
    assert (customer["username"], customer["user_id"]) == ("account-777", 777)


def test_the_list_filters_by_domain_and_pages_with_limit_and_offset(srv):
    ids = [create(srv, domain=f"{name}.example.com")["id"] for name in ("alpha", "beta", "gamma", "delta")]
    listed_domain = listed(srv)[0]
    assert list(listed_domain) == FIELDS + ["subusers"]
    assert [d["id"] for d in listed(srv, domain="ALPHA")] == ids[:1]
    assert [d["id"] for d in listed(srv, domain="ta.example")] == [ids[1], ids[3]]
    assert [d["id"] for d in listed(srv, limit=2)] == ids[:2]
    assert [d["id"] for d in listed(srv, limit=2, offset=3)] == ids[3:]
    assert [d["id"] for d in listed(srv, offset=1)] == ids[1:]


@pytest.mark.parametrize("params, field", [({"limit": 0}, "limit"), ({"limit": "x"}, "limit"), ({"offset": -1}, "offset"),
                                           ({"exclude_subusers": "maybe"}, "exclude_subusers")])
def test_a_bad_list_parameter_is_400_naming_it(srv, params, field):
    response = call(srv, "GET", DOMAINS, params=params)
    assert response.status_code == 400 and errors_of(response)[0]["field"] == field


def test_an_unknown_domain_is_404_on_every_route_of_one_domain(srv):
    for method, path, body in (("GET", "/7", None), ("PATCH", "/7", {"default": True}), ("DELETE", "/7", None),
                               ("POST", "/7/validate", None), ("POST", "/7/ips", {"ip": "192.0.2.1"}),
                               ("DELETE", "/7/ips/192.0.2.1", None), ("GET", "/x", None)):
        response = call(srv, method, DOMAINS + path, json=body)
        assert response.status_code == 404, (method, path)
        errors_of(response)


# ----------------------------------------------------------------------------- PATCH, DELETE, default, IPs

def test_patch_changes_default_and_custom_spf_only_and_answers_a_list(srv):
    first = create(srv, domain="one.example.com", default=True)
    manual = create(srv, domain="two.example.com", automatic_security=False, ips=["192.0.2.9"])
    answer = call(srv, "PATCH", f"{DOMAINS}/{manual['id']}", json={"default": True, "custom_spf": True})
    assert answer.status_code == 200
    (patched,) = answer.json()
    assert list(patched) == FIELDS and (patched["default"], patched["custom_spf"]) == (True, True)
    assert patched["dns"]["subdomain_spf"]["data"] == "v=spf1 ip4:192.0.2.9 -all"
    assert call(srv, "GET", f"{DOMAINS}/{first['id']}").json()["default"] is False
    srv.set_config(domain_answer="object")
    bare = call(srv, "PATCH", f"{DOMAINS}/{manual['id']}", json={"default": False}).json()
    assert bare == dict(patched, default=False)
    assert call(srv, "GET", f"{DOMAINS}/default").json() == {}


@pytest.mark.parametrize("body, field", [({"domain": "other.example.com"}, "domain"), ({"default": "true"}, "default"),
                                         ({"custom_spf": True}, "custom_spf"), ({"subdomain": "x"}, "subdomain"),
                                         ({"automatic_security": False}, "automatic_security")])
def test_patch_refuses_what_the_spec_does_not_let_it_change(srv, body, field):
    domain = create(srv, domain="example.com")
    response = call(srv, "PATCH", f"{DOMAINS}/{domain['id']}", json=body)
    assert response.status_code == 400 and errors_of(response)[0]["field"] == field
    assert call(srv, "GET", f"{DOMAINS}/{domain['id']}").json() == domain


def test_a_not_applied_patch_answers_the_stored_domain(srv):
    domain = create(srv, domain="example.com")
    srv.add_fault("not_applied")
    assert call(srv, "PATCH", f"{DOMAINS}/{domain['id']}", json={"default": True}).json() == [domain]
    assert srv.requests()[-1]["fault"] == "not_applied"


def test_delete_removes_a_domain(srv):
    domain = create(srv, domain="example.com")
    deleted = call(srv, "DELETE", f"{DOMAINS}/{domain['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert call(srv, "GET", f"{DOMAINS}/{domain['id']}").status_code == 404 and listed(srv) == []
    # ids are never given twice
    assert create(srv, domain="example.com")["id"] > domain["id"]


def test_the_default_domain_is_a_list_of_the_default_one_or_of_the_one_named(srv):
    assert call(srv, "GET", f"{DOMAINS}/default").json() == []
    plain = create(srv, domain="plain.example.com")
    chosen = create(srv, domain="chosen.example.com", default=True)
    assert call(srv, "GET", f"{DOMAINS}/default").json() == [chosen]
    assert call(srv, "GET", f"{DOMAINS}/default", params={"domain": "plain.example.com"}).json() == [plain]
    assert call(srv, "GET", f"{DOMAINS}/default", obo="marketing").json() == []


def test_ips_are_added_once_and_removed_and_rebuild_the_spf_record(srv):
    domain = create(srv, domain="example.com", automatic_security=False, custom_spf=True)
    srv.set_state("parent", [dict(domain="valid.example.com", valid=True, automatic_security=False, custom_spf=True)],
                  setting=SETTING)
    path = f"{DOMAINS}/{domain['id']}/ips"
    for dummy in range(2):
        added = call(srv, "POST", path, json={"ip": "192.0.2.7"})
        assert added.status_code == 200 and added.json()["ips"] == ["192.0.2.7"]
    assert added.json()["dns"]["subdomain_spf"]["data"] == "v=spf1 ip4:192.0.2.7 -all"
    assert call(srv, "POST", path, json={"ip": "nope"}).status_code == 400
    removed = call(srv, "DELETE", f"{path}/192.0.2.7")
    assert removed.status_code == 200 and removed.json()["ips"] == []
    assert call(srv, "DELETE", f"{path}/192.0.2.7").status_code == 404
    # a changed record is invalid again, the others stay valid
    valid = listed(srv, domain="valid")[0]
    changed = call(srv, "POST", f"{DOMAINS}/{valid['id']}/ips", json={"ip": "192.0.2.8"}).json()
    assert changed["valid"] is False
    assert {name: r["valid"] for name, r in changed["dns"].items()} == {
        "mail_server": True, "subdomain_spf": False, "domain_spf": True, "dkim": True}


# ----------------------------------------------------------------------------- subuser association

def test_associating_a_domain_with_a_subuser_one_or_up_to_five(srv):
    ids = [create(srv, domain=f"d{number}.example.com")["id"] for number in range(6)]
    single = call(srv, "POST", f"{DOMAINS}/{ids[0]}/subuser", json={"username": "marketing"})
    assert single.status_code == 201 and single.json()["id"] == ids[0] and list(single.json()) == FIELDS
    assert [s for d in listed(srv) for s in d["subusers"]] == [{"user_id": 10001, "username": "marketing"}]
    # the one-domain route replaces the subuser's domain
    call(srv, "POST", f"{DOMAINS}/{ids[1]}/subuser", json={"username": "marketing"})
    assert call(srv, "GET", f"{DOMAINS}/subuser", params={"username": "marketing"}).json()["id"] == ids[1]
    for domain_id in ids[2:6] + ids[2:3]:
        assert call(srv, "POST", f"{DOMAINS}/{domain_id}/subuser:add", json={"username": "marketing"}).status_code == 201
    sixth = call(srv, "POST", f"{DOMAINS}/{ids[0]}/subuser:add", json={"username": "marketing"})
    assert sixth.status_code == 400 and errors_of(sixth)[0]["field"] == "username"
    every = call(srv, "GET", f"{DOMAINS}/subuser/all", params={"username": "marketing"}).json()
    assert [d["id"] for d in every] == ids[1:6]
    assert call(srv, "GET", f"{DOMAINS}/subuser/all", params={"username": "billing"}).json() == []
    gone = call(srv, "DELETE", f"{DOMAINS}/{ids[1]}/subuser", params={"username": "marketing"})
    assert gone.status_code == 204
    assert call(srv, "DELETE", f"{DOMAINS}/{ids[1]}/subuser", params={"username": "marketing"}).status_code == 404
    assert call(srv, "DELETE", f"{DOMAINS}/subuser", params={"username": "marketing"}).status_code == 204
    assert call(srv, "GET", f"{DOMAINS}/subuser", params={"username": "marketing"}).status_code == 404
    assert call(srv, "DELETE", f"{DOMAINS}/subuser", params={"username": "marketing"}).status_code == 404
    # the subuser sees none of the parent's domains
    assert listed(srv, obo="marketing") == []


def test_association_is_the_parents_with_its_own_domains_and_known_subusers(srv):
    own = create(srv, domain="own.example.com")
    theirs = create(srv, domain="theirs.example.com", username="billing")
    for path, body in ((f"{DOMAINS}/{own['id']}/subuser", {}), (f"{DOMAINS}/{own['id']}/subuser", {"username": "x"}),
                       (f"{DOMAINS}/{own['id']}/subuser:add", {"username": 5}),
                       (f"{DOMAINS}/{own['id']}/subuser", {"username": "marketing", "extra": 1})):
        response = call(srv, "POST", path, json=body)
        assert response.status_code == 400, (path, body)
    assert call(srv, "POST", f"{DOMAINS}/{theirs['id']}/subuser", json={"username": "marketing"}).status_code == 404
    refused = call(srv, "POST", f"{DOMAINS}/{own['id']}/subuser", obo="marketing", json={"username": "billing"})
    assert refused.status_code == 403
    for path in (f"{DOMAINS}/subuser", f"{DOMAINS}/subuser/all"):
        assert call(srv, "GET", path, obo="marketing", params={"username": "billing"}).status_code == 403
        assert call(srv, "GET", path).status_code == 400


# ----------------------------------------------------------------------------- validation by real DNS lookups

def validate(server, domain_id, obo=None):
    response = call(server, "POST", f"{DOMAINS}/{domain_id}/validate", obo=obo)
    assert response.status_code == 200, response.text
    return response.json()


def test_without_a_resolver_every_record_is_invalid_and_nothing_is_looked_up(srv):
    domain = create(srv, domain="example.com")
    result = validate(srv, domain["id"])
    assert result == {"id": domain["id"], "valid": False, "validation_results": {
        name: {"valid": False, "reason": NO_RESOLVER} for name in ("mail_cname", "dkim1", "dkim2")}}


def test_published_records_validate_the_domain_end_to_end(srv, dns):
    srv.set_config(dns_resolver=dns.address)
    domain = create(srv, domain="example.com", subdomain="em")
    assert dns.queries() == []
    dns.publish(domain["dns"])
    before = int(time.time())
    result = validate(srv, domain["id"])
    assert result == {"id": domain["id"], "valid": True, "validation_results": {
        name: {"valid": True, "reason": None} for name in ("mail_cname", "dkim1", "dkim2")}}
    assert sorted(dns.queries()) == sorted([[r["host"], "CNAME"] for r in domain["dns"].values()])
    stored = call(srv, "GET", f"{DOMAINS}/{domain['id']}").json()
    assert stored["valid"] is True and all(r["valid"] for r in stored["dns"].values())
    assert listed(srv)[0]["last_validation_attempt_at"] >= before
    # a record that goes away makes it invalid again
    dns.remove("s2._domainkey.example.com")
    again = validate(srv, domain["id"])
    assert again["valid"] is False and again["validation_results"]["dkim2"]["valid"] is False
    assert call(srv, "GET", f"{DOMAINS}/{domain['id']}").json()["valid"] is False


def test_a_missing_record_and_a_wrong_target_are_invalid_naming_what_was_found(srv, dns):
    srv.set_config(dns_resolver=dns.address)
    domain = create(srv, domain="example.com", subdomain="em")
    dns.add("EM.example.com.", "CNAME", "U10000.WL.SendGrid.net.")           # case and trailing dot do not matter
    dns.add("s1._domainkey.example.com", "CNAME", "elsewhere.example.net")
    dns.add("s2._domainkey.example.com", "TXT", "not a cname")
    results = validate(srv, domain["id"])["validation_results"]
    assert results["mail_cname"] == {"valid": True, "reason": None}
    assert results["dkim1"] == {"valid": False, "reason": 'Expected your CNAME record to be '
                                '"s1.domainkey.u10000.wl.sendgrid.net" but found "elsewhere.example.net".'}
    assert results["dkim2"] == {"valid": False, "reason": 'Expected your CNAME record to be '
                                '"s2.domainkey.u10000.wl.sendgrid.net" but found no CNAME record at '
                                '"s2._domainkey.example.com".'}
    dns.remove("s2._domainkey.example.com")
    assert validate(srv, domain["id"])["validation_results"]["dkim2"]["reason"] == (
        'Expected your CNAME record to be "s2.domainkey.u10000.wl.sendgrid.net" but found no DNS record at '
        '"s2._domainkey.example.com".')
    stored = call(srv, "GET", f"{DOMAINS}/{domain['id']}").json()
    assert [stored["dns"][name]["valid"] for name in ("mail_cname", "dkim1", "dkim2")] == [True, False, False]


def test_manual_security_validates_mx_and_txt_records(srv, dns):
    srv.set_config(dns_resolver=dns.address)
    domain = create(srv, domain="example.com", subdomain="mail", automatic_security=False, custom_spf=True,
                    ips=["192.0.2.1"])
    dns.publish(domain["dns"])
    assert validate(srv, domain["id"])["valid"] is True
    dns.remove("mail.example.com", "MX")
    dns.add("mail.example.com", "MX", "20 mx.other.example.net")
    dns.remove("mail.example.com", "TXT")
    dns.add("mail.example.com", "TXT", "v=spf1 -all")
    dns.add("mail.example.com", "TXT", "google-site-verification=x")
    results = validate(srv, domain["id"])["validation_results"]
    assert results["mail_server"]["reason"] == ('Expected your MX record to be "mx.sendgrid.net" but found '
                                                '"mx.other.example.net".')
    assert results["subdomain_spf"]["reason"] == ('Expected your TXT record to be "v=spf1 ip4:192.0.2.1 -all" but '
                                                  'found "v=spf1 -all", "google-site-verification=x".')
    assert results["domain_spf"]["valid"] is results["dkim"]["valid"] is True


def test_a_resolver_that_fails_is_a_500_and_stores_nothing(srv, dns):
    srv.set_config(dns_resolver=dns.address)
    domain = create(srv, domain="example.com", subdomain="em")
    dns.publish(domain["dns"])
    dns.fail("s1._domainkey.example.com")
    failed = call(srv, "POST", f"{DOMAINS}/{domain['id']}/validate")
    assert failed.status_code == 500 and errors_of(failed)[0]["message"] == "internal error getting CNAME"
    stored = call(srv, "GET", f"{DOMAINS}/{domain['id']}").json()
    assert stored == domain and "last_validation_attempt_at" not in listed(srv)[0]


def test_validation_reaches_the_resolver_of_the_start_option_and_of_the_accounts_file(tmp_path, dns):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)}, "dns_resolver": dns.address,
                                    "state": {"parent": {SETTING: [{"domain": "example.com", "subdomain": "em",
                                                                    "id": 41}]}}}))
    dns.add("em.example.com", "CNAME", "u10000.wl.sendgrid.net")
    with sg.running_server(accounts_file=str(accounts)) as srv:
        assert srv.backend.get_config()["dns_resolver"] == dns.address
        assert validate(srv, 41)["validation_results"]["mail_cname"]["valid"] is True
    with sg.running_server(keys={KEY: sg.ALL_SCOPES}, dns_resolver=dns.address, subusers=[]) as srv:
        domain = create(srv, domain="example.com", subdomain="em")
        assert validate(srv, domain["id"])["validation_results"]["mail_cname"]["valid"] is True
    with pytest.raises(ValueError, match="dns_resolver"):
        sg.running_server(dns_resolver="dns.example.net").__enter__()


# ----------------------------------------------------------------------------- accounts, scopes, state

def test_domains_are_per_account_and_on_behalf_of_is_resolved_as_everywhere(srv):
    create(srv, obo="billing", domain="billing.example.com")
    assert listed(srv, obo="marketing") == [] and len(listed(srv, obo="billing")) == 1
    for obo, status in (("nobody", 404), ("account-id 778", 404), ("eu-news", 403)):
        assert call(srv, "POST", DOMAINS, obo=obo, json={"domain": "x.example.com"}).status_code == status
    # a removed subuser's domains go with it
    assert call(srv, "DELETE", "/v3/subusers/billing").status_code == 204
    assert listed(srv) == []


@pytest.fixture(name="scope_srv", scope="module")
def fixture_scope_srv():
    """A server with, per whitelabel scope, a key holding only it and one holding every other scope."""
    keys = {KEY: sg.ALL_SCOPES}
    for scope in SCOPES:
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.mark.parametrize("method, path, body, scope, status", [
    ("GET", DOMAINS, None, "whitelabel.read", 200),
    ("POST", DOMAINS, {"domain": "new.example.com"}, "whitelabel.create", 201),
    ("GET", DOMAINS + "/5", None, "whitelabel.read", 200),
    ("PATCH", DOMAINS + "/5", {"default": True}, "whitelabel.update", 200),
    ("DELETE", DOMAINS + "/5", None, "whitelabel.delete", 204),
    ("POST", DOMAINS + "/5/validate", None, "whitelabel.update", 200),
    ("POST", DOMAINS + "/5/ips", {"ip": "192.0.2.1"}, "whitelabel.update", 200),
    ("DELETE", DOMAINS + "/5/ips/192.0.2.9", None, "whitelabel.update", 200),
    ("GET", DOMAINS + "/default", None, "whitelabel.read", 200),
    ("POST", DOMAINS + "/5/subuser", {"username": "marketing"}, "whitelabel.update", 201),
    ("POST", DOMAINS + "/5/subuser:add", {"username": "marketing"}, "whitelabel.update", 201),
    ("DELETE", DOMAINS + "/5/subuser?username=billing", None, "whitelabel.update", 204),
    ("GET", DOMAINS + "/subuser?username=billing", None, "whitelabel.read", 200),
    ("DELETE", DOMAINS + "/subuser?username=billing", None, "whitelabel.update", 204),
    ("GET", DOMAINS + "/subuser/all?username=billing", None, "whitelabel.read", 200),
])
def test_domain_routes_need_their_own_scope(scope_srv, method, path, body, scope, status):
    srv = scope_srv
    declared = {"/5": "/{domain_id}", "/5/validate": "/{id}/validate", "/5/ips": "/{id}/ips",
                "/5/ips/192.0.2.9": "/{id}/ips/{ip}", "/5/subuser": "/{domain_id}/subuser",
                "/5/subuser:add": "/{domain_id}/subuser:add"}
    route = path.split("?")[0]
    route = DOMAINS + declared.get(route[len(DOMAINS):], route[len(DOMAINS):])
    assert sg.ROUTES[route][method] == scope
    for key, expected in ((f"SG.only.{scope}", status), (f"SG.but.{scope}", 403), (None, 401)):
        srv.reset()
        srv.set_state("parent", [{"domain": "example.com", "id": 5, "ips": ["192.0.2.9"], "automatic_security": False,
                                  "subusers": ["billing"]}], setting=SETTING)
        response = call(srv, method, path, key=key, json=body)
        assert response.status_code == expected, response.text
        if expected == 403:
            assert response.json() == {"errors": [{"field": None, "message": "access forbidden"}]}


def test_whitelabel_scopes_are_in_all_scopes_after_the_teammates():
    first = sg.ALL_SCOPES.index(sg.SCOPE_WHITELABEL_READ)
    assert sg.ALL_SCOPES[first - 1] == sg.SCOPE_TEAMMATES_DELETE and sg.ALL_SCOPES[first:first + 4] == SCOPES
    assert (sg.SCOPE_WHITELABEL_CREATE, sg.SCOPE_WHITELABEL_UPDATE, sg.SCOPE_WHITELABEL_DELETE) == SCOPES[1:]


def test_planted_domains_keep_their_ids_and_the_counter_goes_on_after_them(srv):
    planted = srv.set_state("marketing", [{"domain": "a.example.com", "id": 900, "valid": True, "default": True,
                                           "last_validation_attempt_at": 1700000000},
                                          {"domain": "b.example.com", "default": True}], setting=SETTING)
    assert [d["id"] for d in planted][0] == 900 and planted[1]["id"] > 900
    assert [d["default"] for d in planted] == [False, True]
    shown = listed(srv, obo="marketing")[0]
    assert shown["valid"] is True and all(r["valid"] for r in shown["dns"].values())
    assert shown["last_validation_attempt_at"] == 1700000000
    assert create(srv, domain="c.example.com")["id"] > planted[1]["id"]
    base = f"{srv.url}/__control__/state"
    put = requests.put(base, timeout=5, json={"account": "account-id 777", "setting": SETTING, "replace": True,
                                              "settings": [{"domain": "c.example.com", "subdomain": "mail"}]})
    assert put.status_code == 200 and put.json()[0]["username"] == "account-777"


@pytest.mark.parametrize("value", [{"domain": "a.example.com"}, [{"subdomain": "x"}], [{"domain": "a.example.com", "x": 1}],
                                   [{"domain": "a.example.com", "id": 0}], [{"domain": "a.example.com", "id": "7"}],
                                   [{"domain": "a.example.com", "valid": "yes"}], [{"domain": "a b"}],
                                   [{"domain": "a.example.com", "subusers": "marketing"}],
                                   [{"domain": "a.example.com", "id": 3}, {"domain": "b.example.com", "id": 3}]])
def test_planting_refuses_other_shapes(srv, value):
    with pytest.raises(ValueError):
        srv.set_state("marketing", value, setting=SETTING)
    assert srv.state(SETTING)["marketing"] == []


def test_domain_routes_take_faults(srv):
    srv.add_fault("error", status=503, method="POST", path=DOMAINS)
    assert call(srv, "POST", DOMAINS, json={"domain": "example.com"}).status_code == 503
    assert listed(srv) == []
    srv.add_fault("drop", path=f"{DOMAINS}/")
    with pytest.raises(requests.ConnectionError):
        call(srv, "GET", f"{DOMAINS}/1")
