"""Real DNS lookups for the validation routes of the local SendGrid-compatible API server (domains.py, links.py).

SendGrid validates an authenticated domain or a branded link by looking up the DNS records it asked for.  This server
does the same, with dnspython, against ONE resolver given at start (--dns-resolver HOST[:PORT], "dns_resolver" of the
accounts file, start_server(dns_resolver=...); runtime setting dns_resolver, PUT /__control__/config): in the tests, the
DNS server of tools/dns_server.py on 127.0.0.1 and a free port.  The system's resolver is never consulted: without a
configured resolver nothing is looked up, and every record is answered invalid with NO_RESOLVER as its reason.

lookup(resolver, host, rdtype) asks the resolver for the records of one type at one name, without search domains or
a cache, and answers a Lookup: found (the records' texts, as DNS shows them: a CNAME or MX target with its trailing
dot, a TXT record's strings joined), or nxdomain (the name has no record at all) or noanswer (it has records, none
of that type).  A resolver that cannot answer (no answer in LIFETIME seconds, SERVFAIL, REFUSED, nothing listening)
raises LookupFailed: the validation routes answer it as SendGrid does, a 500 "internal error getting CNAME".

dnspython is this server's only dependency beyond the standard library, and only for these lookups: without it a
resolver is refused at start (and by set_config) with a message saying what to install.
"""

import ipaddress
import re

try:
    import dns.exception
    import dns.name
    import dns.rdatatype
    import dns.resolver
    HAS_DNSPYTHON = True
except ImportError:  # pragma: no cover - dnspython is in requirements-dev.txt
    HAS_DNSPYTHON = False

DEFAULT_PORT = 53
# Seconds one lookup may take, retries included: a resolver on this machine answers at once or not at all.
LIFETIME = 3.0
NO_RESOLVER = ("no DNS resolver is configured on this local server (start it with --dns-resolver HOST:PORT): "
               "nothing was looked up")
RDTYPES = ("CNAME", "TXT", "MX")
_HOST_PORT_RE = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>[0-9]{1,5}))?$")


class LookupFailed(Exception):
    """The resolver gave no answer (timeout, SERVFAIL, REFUSED, unreachable)."""


class Lookup:  # pylint: disable=too-few-public-methods
    """What the resolver said of one name and type: status "found", "nxdomain" or "noanswer", and the records."""

    def __init__(self, status, records=()):
        self.status = status
        self.records = tuple(records)


def parse_resolver(value):
    """(ip, port) of "IP", "IP:PORT" or "[IPv6]:PORT"; ValueError for anything else (a name would need a resolver)."""
    match = _HOST_PORT_RE.match(value.strip()) if isinstance(value, str) else None
    if match:
        host = match.group("v6") or match.group("host")
        port = int(match.group("port") or DEFAULT_PORT)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and (match.group("v6") is None or address.version == 6) and 1 <= port <= 65535:
            return str(address), port
    raise ValueError(f"dns_resolver must be an IP address with an optional port (127.0.0.1:5353, [::1]:5353), "
                     f"not {value!r}")


def check_resolver(value):
    """A resolver setting normalised to "IP:PORT" ("[IPv6]:PORT"), or None; ValueError when invalid or unusable."""
    if value is None:
        return None
    host, port = parse_resolver(value)
    if not HAS_DNSPYTHON:
        raise ValueError("dns_resolver needs the Python package dnspython (pip install -r requirements-dev.txt)")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def lookup(resolver, host, rdtype):
    """The records of type rdtype (CNAME, TXT, MX) at host, asked of resolver ("IP:PORT"): a Lookup; LookupFailed."""
    address, port = parse_resolver(resolver)
    asker = dns.resolver.Resolver(configure=False)
    asker.nameservers = [address]
    asker.port = port
    asker.lifetime = LIFETIME
    asker.timeout = LIFETIME / 3
    try:
        answer = asker.resolve(dns.name.from_text(host), rdtype, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Lookup("nxdomain")
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN) as exc:
        raise LookupFailed(f"{rdtype} lookup of {host} at {resolver} failed: {exc}") from None
    if answer.rrset is None:
        return Lookup("noanswer")
    return Lookup("found", [_text(rdata) for rdata in answer.rrset])


def _text(rdata):
    """A record as DNS shows it: a target name with its trailing dot, the joined strings of a TXT record."""
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdata.rdtype == dns.rdatatype.MX:
        return rdata.exchange.to_text()
    return rdata.target.to_text()


def same_name(left, right):
    """Two DNS names alike, whatever their case and trailing dot."""
    return left.rstrip(".").lower() == right.rstrip(".").lower()
