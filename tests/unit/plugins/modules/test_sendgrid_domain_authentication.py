# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sendgrid_domain_authentication, sendgrid_link_branding and their info modules: the exact requests (method, path,
query, on-behalf-of, JSON body) and the results, against a fake of the spec's answers."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module
from ansible_collections.mailops.sendgrid.plugins.modules import (
    sendgrid_domain_authentication, sendgrid_domain_authentication_info, sendgrid_link_branding,
    sendgrid_link_branding_info,
)

KEY = "SG.unitid.unitsecret"
HOST = "https://api.sendgrid.com"
DOMAINS = HOST + "/v3/whitelabel/domains"
LINKS = HOST + "/v3/whitelabel/links"


def records(domain):
    target = "u10000.wl.sendgrid.net"
    return {"mail_cname": {"valid": domain["valid"], "type": "cname", "host": "%s.%s" % (domain["subdomain"],
                                                                                         domain["domain"]),
                           "data": target},
            "dkim1": {"valid": domain["valid"], "type": "cname", "host": "s1._domainkey." + domain["domain"],
                      "data": "s1.domainkey." + target}}


class Fake:
    """The whitelabel endpoints over lists of domains and links, as the specs answer them (PATCH of a domain in a
    list); validation answers from ``validations`` in turn."""

    def __init__(self, domains=(), links=(), validations=(), link_of=None):
        self.domains = [dict(domain) for domain in domains]
        self.links = [dict(link) for link in links]
        self.validations = list(validations)
        self.link_of = dict(link_of or {})
        responses.add_callback("GET", DOMAINS, callback=self.list_domains)
        responses.add_callback("POST", DOMAINS, callback=self.create_domain)
        responses.add_callback("GET", LINKS, callback=lambda request: (200, {}, json.dumps(self.links)))
        responses.add_callback("POST", LINKS, callback=self.create_link)
        responses.add_callback("GET", LINKS + "/subuser", callback=self.subuser_link)
        for method in ("PATCH", "DELETE", "POST"):
            responses.add_callback(method, re.compile(re.escape(DOMAINS) + r"/\d+.*"), callback=self.domain)
            responses.add_callback(method, re.compile(re.escape(LINKS) + r"/\d+.*"), callback=self.link)

    def list_domains(self, request):
        query = {name: values[0] for name, values in parse_qs(urlparse(request.url).query).items()}
        offset, limit = int(query["offset"]), int(query["limit"])
        found = [d for d in self.domains if query.get("domain", "") in d["domain"]]
        return 200, {}, json.dumps(found[offset:offset + limit])

    def create_domain(self, request):
        body = json.loads(request.body)
        domain = dict(id=50 + len(self.domains), domain=body["domain"], subdomain=body["subdomain"], username="parent",
                      automatic_security=body.get("automatic_security", True), custom_spf=body.get("custom_spf", False),
                      default=body.get("default", False), ips=body.get("ips", []), valid=False, legacy=False)
        domain["dns"] = records(domain)
        self.domains.append(dict(domain, subusers=[]))
        return 201, {}, json.dumps(domain)

    def domain(self, request):
        path = urlparse(request.url).path
        domain = next(d for d in self.domains if d["id"] == int(path.split("/")[4]))
        tail = path.split("/", 5)[5] if path.count("/") > 4 else ""
        body = json.loads(request.body) if request.body else None
        if request.method == "DELETE" and not tail:
            self.domains.remove(domain)
            return 204, {}, ""
        if request.method == "PATCH":
            domain.update(body)
            return 200, {}, json.dumps([domain])
        if tail == "validate":
            answer = self.validations.pop(0)
            domain["valid"] = answer["valid"]
            return 200, {}, json.dumps(dict(answer, id=domain["id"]))
        if tail == "ips":
            domain["ips"] = domain["ips"] + [body["ip"]]
        elif tail.startswith("ips/"):
            domain["ips"] = [ip for ip in domain["ips"] if ip != tail[4:]]
        elif tail == "subuser:add":
            domain["subusers"] = domain["subusers"] + [{"user_id": 1, "username": body["username"]}]
            return 201, {}, json.dumps(domain)
        elif tail == "subuser":
            name = parse_qs(urlparse(request.url).query)["username"][0]
            domain["subusers"] = [s for s in domain["subusers"] if s["username"] != name]
            return 204, {}, ""
        return 200, {}, json.dumps(domain)

    def create_link(self, request):
        body = json.loads(request.body)
        link = dict(id=70 + len(self.links), domain=body["domain"], subdomain=body["subdomain"], username="parent",
                    user_id=10000, default=body.get("default", False), valid=False, legacy=False,
                    dns={"domain_cname": {"valid": False, "type": "cname", "data": "sendgrid.net",
                                          "host": "%s.%s" % (body["subdomain"], body["domain"])},
                         "owner_cname": {"valid": False, "type": "cname", "data": "sendgrid.net",
                                         "host": "10000." + body["domain"]}})
        self.links.append(link)
        return 201, {}, json.dumps(link)

    def subuser_link(self, request):
        name = parse_qs(urlparse(request.url).query)["username"][0]
        link = next((link for link in self.links if link["id"] == self.link_of.get(name)), None)
        if link is None:
            return 404, {}, json.dumps({"errors": [{"field": "username", "message": "no link"}]})
        return 200, {}, json.dumps(link)

    def link(self, request):
        path = urlparse(request.url).path
        link = next(item for item in self.links if item["id"] == int(path.split("/")[4]))
        body = json.loads(request.body) if request.body else None
        if request.method == "DELETE":
            self.links.remove(link)
            return 204, {}, ""
        if path.endswith("/subuser"):
            self.link_of[body["username"]] = link["id"]
        elif path.endswith("/validate"):
            answer = self.validations.pop(0)
            link["valid"] = answer["valid"]
            return 200, {}, json.dumps(dict(answer, id=link["id"]))
        elif request.method == "PATCH":
            link.update(body)
        return 200, {}, json.dumps(link)


def sent(writes_only=True):
    """(method, path with query, on-behalf-of, JSON body) of each request."""
    return [(call.request.method, call.request.path_url, call.request.headers.get("on-behalf-of"),
             json.loads(call.request.body) if call.request.body else None)
            for call in responses.calls if not writes_only or call.request.method != "GET"]


def run(capsys, module=sendgrid_domain_authentication, **args):
    return run_module(module, capsys, **dict({"api_key": KEY}, **args))


EXISTING = dict(id=12, domain="example.com", subdomain="em", username="parent", automatic_security=True,
                custom_spf=False, default=False, ips=[], valid=False, legacy=False, subusers=[])
EXISTING["dns"] = records(EXISTING)
LIST = "/v3/whitelabel/domains?limit=500&offset=%d&exclude_subusers=true&domain=example.com"


@responses.activate
def test_a_new_domain_is_created_with_the_region_then_associated_and_gives_its_records(capsys):
    Fake()
    result = run(capsys, domain="Example.com", subdomain="em", default=True, subusers=["billing"], _ansible_diff=True)
    assert sent(writes_only=False) == [
        ("GET", LIST % 0, None, None),
        ("POST", "/v3/whitelabel/domains", None, {"domain": "example.com", "subdomain": "em", "default": True,
                                                  "region": "global"}),
        ("POST", "/v3/whitelabel/domains/50/subuser:add", None, {"username": "billing"}),
        ("GET", LIST % 0, None, None), ("GET", LIST % 1, None, None)]
    assert result["changed"] is True and result["changes"] == {"created": 50, "subusers_added": ["billing"]}
    assert result["domain"]["subusers"] == ["billing"] and result["domain"]["id"] == 50
    assert result["dns_records"] == [
        {"name": "mail_cname", "type": "CNAME", "host": "em.example.com.", "data": "u10000.wl.sendgrid.net.",
         "valid": False},
        {"name": "dkim1", "type": "CNAME", "host": "s1._domainkey.example.com.",
         "data": "s1.domainkey.u10000.wl.sendgrid.net.", "valid": False}]
    assert result["diff"]["before"] == {"domain": None} and result["recreated"] is False
    assert responses.calls[1].request.headers["Authorization"] == "Bearer " + KEY


@responses.activate
def test_an_equal_domain_is_left_alone_and_a_difference_is_one_patch_of_it_only(capsys):
    Fake([EXISTING])
    assert run(capsys, domain="example.com", subdomain="EM", default=False)["changed"] is False
    result = run(capsys, domain="example.com", subdomain="em", default=True, custom_spf=False)
    assert sent() == [("PATCH", "/v3/whitelabel/domains/12", None, {"default": True})]
    assert result["changes"] == {"updated": {"default": True}} and result["domain"]["default"] is True


@responses.activate
def test_a_custom_spf_for_a_new_domain_needs_manual_security_and_nothing_is_written_without_it(capsys):
    Fake()
    result = run(capsys, domain="example.com", subdomain="em", custom_spf=True)
    assert result["failed"] and result["msg"] == ("custom_spf: true needs automatic_security: false (manual security), "
                                                  "which SendGrid does not take by default: set it to create "
                                                  "em.example.com. Nothing was changed.")
    assert sent() == [] and len(responses.calls) == 1   # the lookup only


@responses.activate
def test_for_a_subuser_every_request_carries_on_behalf_of(capsys):
    Fake([dict(EXISTING, automatic_security=False, ips=["192.0.2.1"])])
    result = run(capsys, on_behalf_of="marketing", domain="example.com", subdomain="em", ips=["192.0.2.2"])
    assert sent(writes_only=False) == [
        ("GET", LIST % 0, "marketing", None), ("GET", LIST % 1, "marketing", None),
        ("POST", "/v3/whitelabel/domains/12/ips", "marketing", {"ip": "192.0.2.2"}),
        ("DELETE", "/v3/whitelabel/domains/12/ips/192.0.2.1", "marketing", None),
        ("GET", LIST % 0, "marketing", None), ("GET", LIST % 1, "marketing", None)]
    assert result["changes"] == {"ips_added": ["192.0.2.2"], "ips_removed": ["192.0.2.1"]}


@responses.activate
def test_check_mode_sends_no_write_and_predicts_the_result(capsys):
    Fake([dict(EXISTING, subusers=[{"user_id": 1, "username": "billing"}])])
    result = run(capsys, domain="example.com", subdomain="em", default=True, subusers=["support"], validate=True,
                 _ansible_check_mode=True, _ansible_diff=True)
    assert sent() == []
    assert result["changed"] is True
    assert result["changes"] == {"updated": {"default": True}, "subusers_added": ["support"],
                                 "subusers_removed": ["billing"], "validated": True}
    assert result["diff"]["before"]["domain"]["subusers"] == ["billing"]
    assert result["diff"]["after"]["domain"]["subusers"] == ["support"] and result["validation"] is None
    new = run(capsys, domain="example.com", subdomain="news", _ansible_check_mode=True)
    assert sent() == [] and new["changes"] == {"created": None} and new["domain"]["id"] is None
    assert new["dns_records"] == []


@responses.activate
def test_what_patch_cannot_change_fails_naming_the_option_unless_recreate(capsys):
    Fake([dict(EXISTING, default=True, subusers=[{"user_id": 1, "username": "billing"}])])
    refused = run(capsys, domain="example.com", subdomain="em", custom_dkim_selector="abc")
    assert refused["failed"] and "custom_dkim_selector s1, not abc" in refused["msg"] and "recreate: true" in refused["msg"]
    assert sent() == []
    result = run(capsys, domain="example.com", subdomain="em", custom_dkim_selector="abc", recreate=True,
                 _ansible_diff=True)
    assert sent() == [
        ("DELETE", "/v3/whitelabel/domains/12", None, None),
        ("POST", "/v3/whitelabel/domains", None, {"domain": "example.com", "subdomain": "em", "automatic_security": True,
                                                  "custom_spf": False, "custom_dkim_selector": "abc", "ips": [],
                                                  "default": True, "region": "global"}),
        ("POST", "/v3/whitelabel/domains/50/subuser:add", None, {"username": "billing"})]
    assert result["recreated"] is True and result["changes"] == {"recreated": 50, "subusers_added": ["billing"]}
    assert result["diff"]["before"]["domain"]["id"] == 12 and result["diff"]["after"]["domain"]["id"] == 50
    assert (result["diff"]["before"]["recreated"], result["diff"]["after"]["recreated"]) == (False, True)


@responses.activate
def test_absent_deletes_once_and_a_domain_that_is_not_there_is_nothing_to_do_also_in_check_mode(capsys):
    Fake([EXISTING])
    dry = run(capsys, domain="example.com", subdomain="nothere", state="absent", _ansible_check_mode=True,
              _ansible_diff=True)
    assert dry["changed"] is False and dry["diff"] == {"before": {"domain": None}, "after": {"domain": None}}
    assert run(capsys, domain="example.com", subdomain="em", state="absent")["changes"] == {"deleted": 12}
    again = run(capsys, domain="example.com", subdomain="em", state="absent")
    assert sent() == [("DELETE", "/v3/whitelabel/domains/12", None, None)]
    assert again["changed"] is False and again["domain"] is None and again["dns_records"] == []


VALID = {"valid": True, "validation_results": {"mail_cname": {"valid": True, "reason": None},
                                               "dkim1": {"valid": True, "reason": None}}}
INVALID = {"valid": False, "validation_results": {
    "mail_cname": {"valid": False, "reason": 'Expected your CNAME record to be "u10000.wl.sendgrid.net" but found '
                                             '"other.example.net".'},
    "dkim1": {"valid": False, "reason": 'Expected your CNAME record to be "s1.domainkey.u10000.wl.sendgrid.net" but '
                                        'found no DNS record at "s1._domainkey.example.com".'}}}


@responses.activate
def test_validation_that_makes_the_domain_valid_is_a_change_and_a_valid_domain_is_not_validated_again(capsys):
    Fake([EXISTING], validations=[VALID])
    result = run(capsys, domain="example.com", subdomain="em", validate=True)
    assert sent() == [("POST", "/v3/whitelabel/domains/12/validate", None, None)]
    assert result["changed"] is True and result["changes"] == {"validated": True}
    assert result["validation"] == {"valid": True, "attempts": 1, "results": {
        "mail_cname": {"valid": True, "reason": None}, "dkim1": {"valid": True, "reason": None}}}
    assert [record["valid"] for record in result["dns_records"]] == [True, True]
    again = run(capsys, domain="example.com", subdomain="em", validate=True)
    assert again["changed"] is False and again["validation"] is None and len(sent()) == 1


@responses.activate
def test_failing_validation_fails_naming_each_record_with_sendgrids_reason(capsys):
    Fake([], validations=[INVALID])
    result = run(capsys, domain="example.com", subdomain="em", validate=True)
    assert result["failed"] is True
    assert result["msg"] == (
        'The authenticated domain em.example.com is not valid after 1 validation: mail_cname (Expected your CNAME '
        'record to be "u10000.wl.sendgrid.net" but found "other.example.net".); dkim1 (Expected your CNAME record to '
        'be "s1.domainkey.u10000.wl.sendgrid.net" but found no DNS record at "s1._domainkey.example.com".). Publish '
        'each record of dns_records as it is, then run again (DNS may take time to propagate: raise wait_timeout to '
        'keep validating). Written before: created 50.')
    # the domain was created before: the failure says so, with the records to publish
    assert result["changed"] is True and result["changes"] == {"created": 50}
    assert [record["name"] for record in result["dns_records"]] == ["mail_cname", "dkim1"]
    assert result["validation"]["valid"] is False


@responses.activate
@pytest.mark.parametrize("args, message", [
    (dict(domain="example", subdomain="em"), "value of domain must be a domain name such as example.com, got: example."),
    (dict(domain="example.com", subdomain="e m"), "value of subdomain must be DNS labels such as em"),
    (dict(domain="example.com", subdomain="em", custom_dkim_selector="abcd"),
     "value of custom_dkim_selector must be 1 to 3 letters or digits (such as abc), got: abcd."),
    (dict(domain="example.com", subdomain="em", ips=["192.0.2.256"]), "value of ips must hold IPv4 addresses"),
    (dict(domain="example.com", subdomain="em", subusers=["a b"]), "value of subusers[0] must be a subuser's username"),
    (dict(domain="example.com", subdomain="em", subusers=["billing"], on_behalf_of="marketing"),
     "leave subusers out when on_behalf_of is set"),
    (dict(domain="example.com", subdomain="em", wait_timeout=-5), "value of wait_timeout must be zero or more seconds"),
    (dict(domain="example.com", subdomain="em", validate="perhaps"), "value of validate must be true or false"),
    (dict(domain=["example.com"], subdomain="em"), "value of domain must be text, got a list"),
    (dict(domain="example.com", subdomain="em", custom_spf=True, automatic_security=True),
     "custom_spf: true needs automatic_security: false"),
])
def test_bad_input_fails_naming_the_option_with_nothing_sent(capsys, args, message):
    Fake()
    result = run(capsys, **args)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert len(responses.calls) == 0


@responses.activate
def test_the_info_module_reads_every_page_of_the_accounts_own_domains(capsys):
    planted = [dict(EXISTING, id=index, subdomain="em%d" % index) for index in range(1, 503)]
    Fake([dict(domain, dns=records(domain)) for domain in planted])
    result = run(capsys, sendgrid_domain_authentication_info)
    assert [urlparse(call.request.url).query for call in responses.calls] == [
        "limit=500&offset=0&exclude_subusers=true", "limit=500&offset=500&exclude_subusers=true",
        "limit=500&offset=502&exclude_subusers=true"]
    assert len(result["domains"]) == 502 and result["changed"] is False
    assert result["domains"][0]["dns_records"][0]["host"] == "em1.example.com."


# ----------------------------------------------------------------------------- link branding

LINK = dict(id=7, domain="example.com", subdomain="links", username="parent", user_id=10000, default=False,
            valid=False, legacy=False, dns={"domain_cname": {"valid": False, "type": "cname", "host": "links.example.com",
                                                             "data": "sendgrid.net"}})


@responses.activate
def test_a_new_link_is_created_in_the_link_apis_region_words_and_given_to_its_subusers(capsys):
    Fake()
    result = run(capsys, sendgrid_link_branding, domain="example.com", subdomain="links", region="eu",
                 eu_api_url=HOST, subusers=["billing"])
    assert sent(writes_only=False) == [
        ("GET", "/v3/whitelabel/links?limit=3000", None, None),
        ("POST", "/v3/whitelabel/links", None, {"domain": "example.com", "subdomain": "links", "region": "eu"}),
        ("POST", "/v3/whitelabel/links/70/subuser", None, {"username": "billing"}),
        ("GET", "/v3/whitelabel/links?limit=3000", None, None)]
    assert result["changes"] == {"created": 70, "subusers_added": ["billing"]}
    assert [record["host"] for record in result["dns_records"]] == ["links.example.com.", "10000.example.com."]


@responses.activate
def test_a_link_gives_each_listed_subuser_this_link_unless_it_has_it(capsys):
    Fake([], [LINK, dict(LINK, id=8, subdomain="other")], link_of={"billing": 7, "support": 8})
    result = run(capsys, sendgrid_link_branding, domain="example.com", subdomain="links", default=True,
                 subusers=["billing", "support", "marketing"])
    gets = [call.request.path_url for call in responses.calls if call.request.method == "GET"]
    assert gets[1:4] == ["/v3/whitelabel/links/subuser?username=%s" % name for name in ("billing", "support", "marketing")]
    assert sent() == [("PATCH", "/v3/whitelabel/links/7", None, {"default": True}),
                      ("POST", "/v3/whitelabel/links/7/subuser", None, {"username": "support"}),
                      ("POST", "/v3/whitelabel/links/7/subuser", None, {"username": "marketing"})]
    assert result["changes"] == {"updated": {"default": True}, "subusers_added": ["support", "marketing"]}


@responses.activate
def test_a_link_validates_and_deletes_and_the_info_lists_every_link(capsys):
    Fake([], [LINK], validations=[{"valid": True, "validation_results": {"domain_cname": {"valid": True,
                                                                                          "reason": None}}}])
    result = run(capsys, sendgrid_link_branding, on_behalf_of="marketing", domain="example.com", subdomain="links",
                 validate=True)
    assert result["changes"] == {"validated": True} and result["link"]["valid"] is True
    info = run(capsys, sendgrid_link_branding_info, on_behalf_of="marketing")
    assert [link["id"] for link in info["links"]] == [7] and info["links"][0]["valid"] is True
    assert run(capsys, sendgrid_link_branding, on_behalf_of="marketing", domain="example.com", subdomain="links",
               state="absent")["changes"] == {"deleted": 7}
    assert sent() == [("POST", "/v3/whitelabel/links/7/validate", "marketing", None),
                      ("DELETE", "/v3/whitelabel/links/7", "marketing", None)]
