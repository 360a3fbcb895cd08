"""Link branding (tools/sendgrid_api/links.py): branded links, their two CNAME records, subuser association, and
validation by real DNS lookups on a DNS server of tools/dns_server.py."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments,too-many-positional-arguments

import pytest
import requests

from .helpers import KEY, SUBUSERS, call, errors_of, sg

LINKS = "/v3/whitelabel/links"
SETTING = "whitelabel/links"
FIELDS = ["id", "domain", "subdomain", "username", "user_id", "default", "valid", "legacy", "dns"]
NO_RESOLVER = "no DNS resolver is configured on this local server (start it with --dns-resolver HOST:PORT): " \
              "nothing was looked up"


def create(server, obo=None, **body):
    response = call(server, "POST", LINKS, obo=obo, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def ids(server, obo=None, **params):
    response = call(server, "GET", LINKS, obo=obo, params=params)
    assert response.status_code == 200, response.text
    return [link["id"] for link in response.json()]


def cname(host, valid=False):
    return {"valid": valid, "type": "cname", "host": host, "data": "sendgrid.net"}


def test_a_new_link_has_a_domain_and_an_owner_cname(srv):
    link = create(srv, domain="Example.com", subdomain="links")
    assert list(link) == FIELDS and isinstance(link["id"], int)
    assert link == {"id": link["id"], "domain": "example.com", "subdomain": "links", "username": "parent",
                    "user_id": 10000, "default": False, "valid": False, "legacy": False,
                    "dns": {"domain_cname": cname("links.example.com"), "owner_cname": cname("10000.example.com")}}
    assert call(srv, "GET", f"{LINKS}/{link['id']}").json() == link
    other = create(srv, obo="marketing", domain="example.org", region="eu")
    assert other["subdomain"] == f"url{other['id']}" and other["dns"]["owner_cname"]["host"] == "10001.example.org"
    assert "region" not in other and srv.state(SETTING)["marketing"][0]["region"] == "eu"


@pytest.mark.parametrize("body, field", [
    ({}, "domain"), ({"domain": "nope"}, "domain"), ({"domain": "example.com", "subdomain": "-x"}, "subdomain"),
    ({"domain": "example.com", "default": 1}, "default"), ({"domain": "example.com", "region": "global"}, "region"),
    ({"domain": "example.com", "username": "marketing"}, "username"),
])
def test_an_invalid_link_is_400_naming_the_field_and_creates_nothing(srv, body, field):
    response = call(srv, "POST", LINKS, json=body)
    assert response.status_code == 400 and field in [item["field"] for item in errors_of(response)]
    assert all(links == [] for links in srv.state(SETTING).values())


def test_a_link_needs_another_subdomain_than_the_authenticated_domain_and_no_twin(srv):
    srv.set_state("parent", [{"domain": "example.com", "subdomain": "em"}], setting="whitelabel/domains")
    clash = call(srv, "POST", LINKS, json={"domain": "example.com", "subdomain": "em"})
    assert clash.status_code == 400 and errors_of(clash)[0]["field"] == "subdomain"
    create(srv, domain="example.com", subdomain="url")
    assert call(srv, "POST", LINKS, json={"domain": "example.com", "subdomain": "url"}).status_code == 400
    # another account's domain does not matter
    assert create(srv, obo="marketing", domain="example.com", subdomain="em")["subdomain"] == "em"


def test_the_list_is_the_accounts_own_links_at_most_limit(srv):
    mine = [create(srv, domain=f"l{number}.example.com")["id"] for number in range(3)]
    theirs = create(srv, obo="marketing", domain="m.example.com")["id"]
    assert ids(srv) == mine and ids(srv, limit=2) == mine[:2] and ids(srv, obo="marketing") == [theirs]
    assert call(srv, "GET", f"{LINKS}/{theirs}").status_code == 404
    assert call(srv, "GET", LINKS, params={"limit": 0}).status_code == 400


def test_patch_changes_default_only_and_answers_the_link(srv):
    first = create(srv, domain="one.example.com", default=True)
    second = create(srv, domain="two.example.com")
    patched = call(srv, "PATCH", f"{LINKS}/{second['id']}", json={"default": True})
    assert patched.status_code == 200 and patched.json() == dict(second, default=True)
    assert call(srv, "GET", f"{LINKS}/{first['id']}").json()["default"] is False
    for body, field in (({"subdomain": "x"}, "subdomain"), ({"default": "no"}, "default")):
        refused = call(srv, "PATCH", f"{LINKS}/{second['id']}", json=body)
        assert refused.status_code == 400 and errors_of(refused)[0]["field"] == field
    srv.add_fault("not_applied")
    assert call(srv, "PATCH", f"{LINKS}/{second['id']}", json={"default": False}).json()["default"] is True


def test_delete_removes_a_link_and_unknown_ids_are_404(srv):
    link = create(srv, domain="example.com")
    assert call(srv, "DELETE", f"{LINKS}/{link['id']}").status_code == 204
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/validate")):
        response = call(srv, method, f"{LINKS}/{link['id']}{path}", json={"default": True} if method == "PATCH" else None)
        assert response.status_code == 404
        errors_of(response)


def test_the_default_link_is_the_valid_default_then_legacy_then_sendgrids_own(srv):
    sendgrid = call(srv, "GET", f"{LINKS}/default").json()
    assert list(sendgrid) == FIELDS and (sendgrid["id"], sendgrid["domain"], sendgrid["subdomain"]) == (
        0, "sendgrid.net", "100.ct")
    srv.set_state("parent", [{"domain": "pending.example.com", "default": True},
                             {"domain": "legacy.example.com", "legacy": True, "valid": True}], setting=SETTING)
    legacy = call(srv, "GET", f"{LINKS}/default").json()
    assert legacy["domain"] == "legacy.example.com"
    chosen = srv.set_state("parent", [{"domain": "chosen.example.com", "default": True, "valid": True},
                                      {"domain": "other.example.com", "valid": True}], setting=SETTING)
    assert call(srv, "GET", f"{LINKS}/default").json()["id"] == chosen[2]["id"]
    named = call(srv, "GET", f"{LINKS}/default", params={"domain": "other.example.com"}).json()
    assert named["id"] == chosen[3]["id"]


def test_a_subuser_has_one_of_the_parents_links(srv):
    first = create(srv, domain="one.example.com")
    second = create(srv, domain="two.example.com")
    associated = call(srv, "POST", f"{LINKS}/{first['id']}/subuser", json={"username": "marketing"})
    assert associated.status_code == 200 and associated.json() == first
    call(srv, "POST", f"{LINKS}/{second['id']}/subuser", json={"username": "marketing"})
    held = call(srv, "GET", f"{LINKS}/subuser", params={"username": "marketing"})
    assert held.status_code == 200 and held.json() == second
    assert srv.state(SETTING)["parent"][0]["subusers"] == []
    assert call(srv, "DELETE", f"{LINKS}/subuser", params={"username": "marketing"}).status_code == 204
    for method in ("GET", "DELETE"):
        assert call(srv, method, f"{LINKS}/subuser", params={"username": "marketing"}).status_code == 404
    assert call(srv, "POST", f"{LINKS}/{first['id']}/subuser", json={}).status_code == 400
    assert call(srv, "POST", f"{LINKS}/{first['id']}/subuser", json={"username": "nobody"}).status_code == 400
    assert call(srv, "GET", f"{LINKS}/subuser").status_code == 400
    refused = call(srv, "POST", f"{LINKS}/{first['id']}/subuser", obo="marketing", json={"username": "billing"})
    assert refused.status_code == 403
    theirs = create(srv, obo="billing", domain="b.example.com")
    assert call(srv, "POST", f"{LINKS}/{theirs['id']}/subuser", json={"username": "marketing"}).status_code == 404


def validate(server, link_id):
    response = call(server, "POST", f"{LINKS}/{link_id}/validate")
    assert response.status_code == 200, response.text
    return response.json()


def test_without_a_resolver_both_records_are_invalid(srv):
    link = create(srv, domain="example.com")
    assert validate(srv, link["id"]) == {"id": link["id"], "valid": False, "validation_results": {
        "domain_cname": {"valid": False, "reason": NO_RESOLVER}, "owner_cname": {"valid": False, "reason": NO_RESOLVER}}}


def test_published_records_validate_the_link_and_wrong_ones_say_what_was_found(srv, dns):
    srv.set_config(dns_resolver=dns.address)
    link = create(srv, domain="example.com", subdomain="url")
    dns.publish(link["dns"])
    assert validate(srv, link["id"]) == {"id": link["id"], "valid": True, "validation_results": {
        "domain_cname": {"valid": True, "reason": None}, "owner_cname": {"valid": True, "reason": None}}}
    assert call(srv, "GET", f"{LINKS}/{link['id']}").json()["valid"] is True
    dns.remove("url.example.com")
    dns.add("url.example.com", "CNAME", "example.com")
    dns.remove("10000.example.com")
    results = validate(srv, link["id"])
    assert results["valid"] is False
    assert results["validation_results"] == {
        "domain_cname": {"valid": False, "reason": 'Expected CNAME to match "sendgrid.net." but found "example.com.".'},
        "owner_cname": {"valid": False, "reason": 'Expected CNAME to match "sendgrid.net." but found no DNS record at '
                                                  '"10000.example.com.".'}}
    stored = call(srv, "GET", f"{LINKS}/{link['id']}").json()
    assert stored["valid"] is False and not any(r["valid"] for r in stored["dns"].values())
    dns.fail("url.example.com")
    failed = call(srv, "POST", f"{LINKS}/{link['id']}/validate")
    assert failed.status_code == 500 and errors_of(failed)[0]["message"] == "internal error getting CNAME"


@pytest.fixture(name="scope_srv", scope="module")
def fixture_scope_srv():
    keys = {KEY: sg.ALL_SCOPES}
    for scope in ("whitelabel.read", "whitelabel.create", "whitelabel.update", "whitelabel.delete"):
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.mark.parametrize("method, path, declared, body, scope, status", [
    ("GET", LINKS, LINKS, None, "whitelabel.read", 200),
    ("POST", LINKS, LINKS, {"domain": "new.example.com"}, "whitelabel.create", 201),
    ("GET", LINKS + "/5", LINKS + "/{id}", None, "whitelabel.read", 200),
    ("PATCH", LINKS + "/5", LINKS + "/{id}", {"default": True}, "whitelabel.update", 200),
    ("DELETE", LINKS + "/5", LINKS + "/{id}", None, "whitelabel.delete", 204),
    ("POST", LINKS + "/5/validate", LINKS + "/{id}/validate", None, "whitelabel.update", 200),
    ("GET", LINKS + "/default", LINKS + "/default", None, "whitelabel.read", 200),
    ("POST", LINKS + "/5/subuser", LINKS + "/{link_id}/subuser", {"username": "marketing"}, "whitelabel.update", 200),
    ("GET", LINKS + "/subuser?username=billing", LINKS + "/subuser", None, "whitelabel.read", 200),
    ("DELETE", LINKS + "/subuser?username=billing", LINKS + "/subuser", None, "whitelabel.update", 204),
])
def test_link_routes_need_their_own_scope(scope_srv, method, path, declared, body, scope, status):
    srv = scope_srv
    assert sg.ROUTES[declared][method] == scope
    for key, expected in ((f"SG.only.{scope}", status), (f"SG.but.{scope}", 403), (None, 401)):
        srv.reset()
        srv.set_state("parent", [{"domain": "example.com", "id": 5, "subusers": ["billing"]}], setting=SETTING)
        response = call(srv, method, path, key=key, json=body)
        assert response.status_code == expected, response.text


def test_links_are_per_account_planted_by_tests_and_refused_in_other_shapes(srv):
    for obo, status in (("nobody", 404), ("eu-news", 403)):
        assert call(srv, "POST", LINKS, obo=obo, json={"domain": "x.example.com"}).status_code == status
    put = requests.put(f"{srv.url}/__control__/state", timeout=5,
                       json={"account": "account-id 777", "setting": SETTING, "settings": [{"domain": "c.example.com",
                                                                                            "id": 70, "valid": True}]})
    assert put.status_code == 200
    assert call(srv, "GET", f"{LINKS}/70", obo="account-id 777").json()["username"] == "account-777"
    for value in ({"domain": "a.example.com"}, [{"domain": "a.example.com", "id": 70}], [{"domain": "a.example.com",
                                                                                          "valid": 1}],
                  [{"domain": "a.example.com", "region": "global"}], [{"url": "x"}]):
        with pytest.raises(ValueError):
            srv.set_state("marketing", value, setting=SETTING)
    assert srv.state(SETTING)["marketing"] == []
