"""The DNS server of the validation tests and the demo (tools/dns_server.py): what it answers over UDP and TCP, its
records changed at runtime from Python and from its command line, and the API server's --dns-resolver."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring

import signal
import subprocess
import sys

import pytest
import requests
from dns import message, query, rcode, rdatatype, update

from .helpers import DNS_TOOL, dns_tool, run_cli, stop_cli


def ask(server, name, rtype, tcp=False):
    send = query.tcp if tcp else query.udp
    return send(message.make_query(name, rtype), server.host, port=server.port, timeout=3)


def answers(response):
    return [(rrset.name.to_text(), rdatatype.to_text(rrset.rdtype), [rdata.to_text() for rdata in rrset])
            for rrset in response.answer]


@pytest.mark.parametrize("tcp", [False, True])
def test_it_answers_over_udp_and_tcp_on_one_port(dns, tcp):
    dns.add("em.example.com", "CNAME", "u7.wl.sendgrid.net")
    dns.add("mail.example.com", "MX", "mx.sendgrid.net")
    dns.add("mail.example.com", "MX", "20 backup.example.net")
    response = ask(dns, "EM.Example.com.", "CNAME", tcp)
    assert response.rcode() == rcode.NOERROR
    assert answers(response) == [("EM.Example.com.", "CNAME", ["u7.wl.sendgrid.net."])]
    assert answers(ask(dns, "mail.example.com", "MX", tcp))[0][2] == ["10 mx.sendgrid.net.", "20 backup.example.net."]


def test_an_unknown_name_is_nxdomain_and_a_known_one_without_the_type_is_empty(dns):
    dns.add("mail.example.com", "TXT", "v=spf1 -all")
    assert ask(dns, "nothing.example.com", "CNAME").rcode() == rcode.NXDOMAIN
    empty = ask(dns, "mail.example.com", "CNAME")
    assert empty.rcode() == rcode.NOERROR and empty.answer == []


def test_a_cname_is_chased_and_long_txt_records_are_split(dns):
    key = "k=rsa; t=s; p=" + "A" * 400
    dns.add("alias.example.com", "CNAME", "real.example.com")
    dns.add("real.example.com", "TXT", key)
    chased = answers(ask(dns, "alias.example.com", "TXT"))
    assert [(name, kind) for name, kind, dummy in chased] == [("alias.example.com.", "CNAME"), ("real.example.com.", "TXT")]
    (rrset,) = ask(dns, "real.example.com", "TXT", tcp=True).answer
    assert b"".join(next(iter(rrset)).strings).decode() == key


def test_records_are_added_removed_and_failed_at_runtime(dns):
    dns.add("a.example.com", "CNAME", "one.example.net")
    dns.add("a.example.com", "TXT", "x")
    assert dns.remove("a.example.com", "TXT") == 1
    assert [r["type"] for r in dns.records()] == ["CNAME"]
    published = dns.publish({"mail_cname": {"valid": False, "type": "cname", "host": "em.example.com", "data": "u.example"}})
    assert published == [{"name": "em.example.com", "type": "CNAME", "data": "u.example", "ttl": 60}]
    dns.fail("a.example.com")
    assert ask(dns, "a.example.com", "CNAME").rcode() == rcode.SERVFAIL
    assert dns.remove("a.example.com") == 1
    assert ask(dns, "a.example.com", "CNAME").rcode() == rcode.NXDOMAIN
    assert ["a.example.com", "CNAME"] in dns.queries()
    dns.clear()
    assert dns.records() == []
    for bad in (("x.example.com", "SRV", "y"), ("x example", "TXT", "y"), ("x.example.com", "A", "not-an-ip"),
                ("x.example.com", "MX", "1 2 3"), ("x.example.com", "TXT", "")):
        with pytest.raises(ValueError):
            dns.add(*bad)


def test_a_records_file_is_read_again_when_it_changes(tmp_path):
    records = tmp_path / "records.txt"
    records.write_text("# the demo's records\nem.example.com CNAME u1.wl.sendgrid.net\n")
    with dns_tool.running_dns_server(records_file=str(records)) as server:
        assert answers(ask(server, "em.example.com", "CNAME"))[0][2] == ["u1.wl.sendgrid.net."]
        dns_tool.edit_records(str(records), add={"name": "em2.example.com", "type": "txt", "data": "v=spf1 -all"})
        assert answers(ask(server, "em2.example.com", "TXT"))[0][2] == ['"v=spf1 -all"']
        assert dns_tool.edit_records(str(records), remove=("em.example.com", None, None)) == 1
        assert ask(server, "em.example.com", "CNAME").rcode() == rcode.NXDOMAIN
        records.unlink()
        assert ask(server, "em2.example.com", "TXT").rcode() == rcode.NXDOMAIN


def test_the_command_serves_a_file_the_other_commands_change(tmp_path):
    records, ready = tmp_path / "records.txt", tmp_path / "dns.txt"
    tool = [sys.executable, str(DNS_TOOL)]

    def run(*args):
        return subprocess.run(tool + list(args), capture_output=True, text=True, timeout=30, check=False)

    assert run("add", "--records", str(records), "em.example.com", "CNAME", "u1.wl.sendgrid.net").returncode == 0
    assert run("add", "--records", str(records), "mail.example.com", "TXT", "v=spf1 -all").returncode == 0
    assert run("list", "--records", str(records)).stdout == (
        "em.example.com CNAME u1.wl.sendgrid.net\nmail.example.com TXT v=spf1 -all\n")
    proc = subprocess.Popen(tool + ["serve", "--records", str(records), "--ready-file", str(ready)],  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("DNS server listening on 127.0.0.1:") and line.endswith(" (udp and tcp)\n")
        address = ready.read_text().strip()
        assert line.split()[4] == address
        host, port = address.rsplit(":", 1)
        server = type("Address", (), {"host": host, "port": int(port)})
        assert answers(ask(server, "mail.example.com", "TXT"))[0][2] == ['"v=spf1 -all"']
        assert run("remove", "--records", str(records), "mail.example.com", "TXT").stdout == "removed 1 record(s)\n"
        assert ask(server, "mail.example.com", "TXT", tcp=True).rcode() == rcode.NXDOMAIN
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    bad = run("add", "--records", str(records), "x.example.com", "A", "not-an-ip")
    assert bad.returncode == 2 and "error" in bad.stderr


def test_the_api_servers_command_takes_a_dns_resolver(dns):
    proc, url = run_cli("--key", "SG.k", "--dns-resolver", dns.address, "--domain-answer", "object")
    try:
        config = requests.get(f"{url}/__control__/config", timeout=5).json()
        assert (config["dns_resolver"], config["domain_answer"]) == (dns.address, "object")
    finally:
        assert stop_cli(proc)[0] == 0
    refused, dummy = run_cli("--dns-resolver", "dns.example.net")
    status, err = stop_cli(refused)
    assert status == 2 and "dns_resolver must be an IP address" in err


# ----------------------------------------------------------------------------- RFC 2136 dynamic update

def send_update(server, change, tcp=True):
    send = query.tcp if tcp else query.udp
    return rcode.to_text(send(change, server.host, port=server.port, timeout=3).rcode())


@pytest.mark.parametrize("tcp", [False, True])
def test_an_update_adds_the_records_a_play_publishes_and_queries_answer_them(dns, tcp):
    change = update.Update("example.com.")
    change.add("em7.example.com.", 3600, "CNAME", "u7.wl.sendgrid.net.")
    change.add("em7.example.com.", 300, "MX", "10 mx.sendgrid.net.")
    change.add("example.com.", 300, "TXT", '"v=spf1 include:em7.example.com -all"')
    assert send_update(dns, change, tcp) == "NOERROR"
    assert dns.records() == [
        {"name": "em7.example.com", "type": "CNAME", "data": "u7.wl.sendgrid.net", "ttl": 3600},
        {"name": "em7.example.com", "type": "MX", "data": "10 mx.sendgrid.net", "ttl": 300},
        {"name": "example.com", "type": "TXT", "data": "v=spf1 include:em7.example.com -all", "ttl": 300}]
    assert answers(ask(dns, "em7.example.com", "CNAME")) == [("em7.example.com.", "CNAME", ["u7.wl.sendgrid.net."])]
    assert ask(dns, "em7.example.com", "CNAME").answer[0].ttl == 3600


def test_an_update_checks_its_prerequisites_as_nsupdate_asks_them(dns):
    dns.add("em7.example.com", "CNAME", "u7.wl.sendgrid.net")
    for name, rtype, data, expected in (
            ("em7.example.com.", "CNAME", None, "NOERROR"),                       # the RRset exists
            ("em7.example.com.", "TXT", None, "NXRRSET"),
            ("em7.example.com.", "CNAME", "U7.WL.sendgrid.net.", "NOERROR"),      # and holds exactly this (no case)
            ("em7.example.com.", "CNAME", "elsewhere.example.net.", "NXRRSET")):
        change = update.Update("example.com.")
        change.present(name, rtype, *([data] if data else []))
        assert send_update(dns, change) == expected, (name, rtype, data)
    change = update.Update("example.com.")
    change.absent("em7.example.com.")
    assert send_update(dns, change) == "YXDOMAIN"
    # a prerequisite that fails applies none of the updates
    change = update.Update("example.com.")
    change.present("missing.example.com.", "CNAME")
    change.add("missing.example.com.", 60, "CNAME", "u7.wl.sendgrid.net.")
    assert send_update(dns, change) == "NXRRSET"
    assert [record["name"] for record in dns.records()] == ["em7.example.com"]


def test_an_update_replaces_a_cname_and_deletes_a_record_an_rrset_or_a_name(dns):
    dns.add("em7.example.com", "CNAME", "wrong.example.net")
    dns.add("example.com", "TXT", "v=spf1 -all")
    dns.add("example.com", "TXT", "google-site-verification=x")
    dns.add("example.com", "MX", "mx.example.net")
    change = update.Update("example.com.")
    change.add("em7.example.com.", 60, "CNAME", "u7.wl.sendgrid.net.")      # a name holds one CNAME
    change.delete("example.com.", "TXT", '"v=spf1 -all"')                  # one record
    assert send_update(dns, change) == "NOERROR"
    assert [(r["name"], r["type"], r["data"]) for r in dns.records()] == [
        ("example.com", "TXT", "google-site-verification=x"), ("example.com", "MX", "mx.example.net"),
        ("em7.example.com", "CNAME", "u7.wl.sendgrid.net")]
    change = update.Update("example.com.")
    change.delete("example.com.", "TXT")                                    # an RRset
    assert send_update(dns, change) == "NOERROR"
    assert [r["type"] for r in dns.records() if r["name"] == "example.com"] == ["MX"]
    change = update.Update("example.com.")
    change.delete("example.com.")                                           # every RRset of a name
    assert send_update(dns, change) == "NOERROR"
    assert [r["name"] for r in dns.records()] == ["em7.example.com"]


def test_an_update_outside_its_zone_or_of_a_type_not_served_changes_nothing(dns):
    change = update.Update("example.com.")
    change.add("em7.example.org.", 60, "CNAME", "u7.wl.sendgrid.net.")
    assert send_update(dns, change) == "NOTZONE"
    change = update.Update("example.com.")
    change.add("_sip._tcp.example.com.", 60, "SRV", "0 0 5060 sip.example.com.")
    assert send_update(dns, change) == "REFUSED"
    assert dns.records() == []
