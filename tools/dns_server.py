#!/usr/bin/env python
"""A small DNS server for tests and the demo: the records SendGrid asks for, published on 127.0.0.1 and a free port.

The local SendGrid-compatible API server validates authenticated domains and branded links by real DNS lookups
(tools/sendgrid_api/dns_check.py) on the one resolver it is given (--dns-resolver IP:PORT).  This is that resolver:
an authoritative-only server built on dnslib that answers, over UDP and TCP on the same port, from records held in
memory, added and removed at runtime:

    with running_dns_server() as dns:                        # 127.0.0.1, a free port, UDP and TCP
        with running_server(dns_resolver=dns.address) as srv:  # "127.0.0.1:PORT"
            domain = ...POST /v3/whitelabel/domains...
            dns.publish(domain["dns"])                       # every record the API asked for, as it asked
            dns.add("em7.example.com", "CNAME", "elsewhere.example.net")   # or one by one
            dns.remove("s1._domainkey.example.com")          # every record of that name (or of a type, or one)

DNSServer(host="127.0.0.1", port=0, records=(), records_file=None) offers start(), stop(), address ("IP:PORT"),
host, port, add(name, rtype, data, ttl=60), remove(name, rtype=None, data=None) -> how many went, clear(),
records() -> [{"name", "type", "data", "ttl"}], publish(dns) (an API "dns" object: {key: {"type", "host", "data"}}),
fail(name) (queries of that name answer SERVFAIL until clear() or remove(name)) and queries() (the [name, type]
asked, oldest first); running_dns_server(**same) is the context manager.  Types: A, AAAA, CNAME, MX (data
"mx.example.net" or "10 mx.example.net"; priority 10 unless given), TXT (any text, split into strings of 255 bytes).

It also takes RFC 2136 dynamic updates (the protocol of nsupdate and of community.general.nsupdate), so that a
play publishes the records with a real DNS module: the zone section names the zone (every name updated must be in
it, else NOTZONE); the prerequisites "RRset exists" (value independent and value dependent) and "RRset does not
exist" / "name is not in use" are checked (NXRRSET, YXRRSET, YXDOMAIN); then the updates add a record, delete an
RRset, delete every RRset of a name, or delete one record.  An update is answered NOERROR once applied; an update
with a record type this server does not serve is REFUSED.  There is no TSIG and no SOA: give nsupdate its ``zone``.

How it answers a query for NAME and TYPE: SERVFAIL for a failed name; the records of that type at NAME; else, when
NAME has a CNAME, that CNAME and the answer for its target (chased through the records held here, 8 times at most);
else NOERROR with no answer when NAME has records of other types (the resolver's NoAnswer), NXDOMAIN when it has
none.  Names are matched without case or trailing dot.

The command line serves the same records from a file, re-read when it changes, so the demo can change them while it
runs (one record a line, "NAME TYPE DATA", # comments)::

    python tools/dns_server.py serve --records records.txt --port 0 --ready-file dns.txt &
    python tools/dns_server.py add --records records.txt em7.example.com CNAME u10000.wl.sendgrid.net
    python tools/dns_server.py remove --records records.txt em7.example.com [CNAME [DATA]]
    python tools/dns_server.py list --records records.txt

serve prints "DNS server listening on IP:PORT (udp and tcp)" (and writes IP:PORT to --ready-file) and serves until
SIGTERM or SIGINT.  Never point it at port 53 of another address: tests address this machine only.
"""

import argparse
import contextlib
import os
import signal
import sys
import threading

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A, DNSLabel
from dnslib.server import DNSHandler, TCPServer, UDPServer

TYPES = ("A", "AAAA", "CNAME", "MX", "TXT")
DEFAULT_TTL = 60
MX_PRIORITY = 10
MAX_CHASE = 8
_BIND_TRIES = 20


def normal(name):
    """A name as records are matched: lower case, no trailing dot."""
    return str(name).rstrip(".").lower()


def _record(name, rtype, data, ttl=DEFAULT_TTL):
    """A checked record {"name", "type", "data", "ttl"}; ValueError for a type or data this server cannot serve."""
    rtype = str(rtype).upper()
    if rtype not in TYPES:
        raise ValueError(f"record type {rtype!r} is not one of {', '.join(TYPES)}")
    if not isinstance(name, str) or not normal(name) or any(c.isspace() for c in name):
        raise ValueError(f"invalid record name {name!r}")
    if not isinstance(data, str) or not data.strip():
        raise ValueError(f"{name} {rtype}: the data must be a non-empty string")
    record = {"name": normal(name), "type": rtype, "data": data.strip(), "ttl": int(ttl)}
    _rdata(record)
    return record


def _rdata(record):
    """The dnslib rdata of a record."""
    data = record["data"]
    if record["type"] == "A":
        return A(data)
    if record["type"] == "AAAA":
        return AAAA(data)
    if record["type"] == "CNAME":
        return CNAME(data)
    if record["type"] == "MX":
        parts = data.split()
        if len(parts) == 2 and parts[0].isdigit():
            return MX(parts[1], int(parts[0]))
        if len(parts) != 1:
            raise ValueError(f"{record['name']} MX: data must be HOST or PRIORITY HOST, not {data!r}")
        return MX(data, MX_PRIORITY)
    raw = data.encode("utf-8")
    return TXT([raw[start:start + 255] for start in range(0, len(raw), 255)])


class _Logger:
    """dnslib's logger interface: keeps the questions asked, prints nothing."""

    def __init__(self, owner):
        self.owner = owner

    def log_request(self, _handler, request):  # pylint: disable=missing-function-docstring
        self.owner.note_query(str(request.q.qname), QTYPE[request.q.qtype])

    def log_pass(self, *args):  # pylint: disable=missing-function-docstring
        pass

    log_prefix = log_recv = log_send = log_reply = log_truncated = log_error = log_data = log_pass


class _Handler(DNSHandler):
    """dnslib's handler, but RFC 2136 UPDATE messages go to DNSServer.update(): their prerequisites and deletions are
    records without data, which dnslib cannot parse; dnspython (the API server's resolver library) reads them."""

    def get_reply(self, data):
        if len(data) > 2 and (data[2] >> 3) & 0xF == dns.opcode.UPDATE:
            return self.server.resolver.update(data)
        return super().get_reply(data)


def _update_data(rdata):
    """A record's data as this server keeps it, from a dnspython rdata (names without their final dot)."""
    kind = dns.rdatatype.to_text(rdata.rdtype)
    if kind == "CNAME":
        return rdata.target.to_text().rstrip(".")
    if kind == "MX":
        return f"{rdata.preference} {rdata.exchange.to_text().rstrip('.')}"
    if kind == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return rdata.to_text()


def _canonical(kind, data):
    """Data as DNS compares it: names without case or final dot, an MX with its priority."""
    if kind == "CNAME":
        return normal(data)
    if kind == "MX":
        parts = data.split()
        priority, host = parts if len(parts) == 2 else (MX_PRIORITY, parts[0])
        return f"{int(priority)} {normal(host)}"
    return data


def _same_data(record, kind, data):
    """Whether a record served is this one."""
    return record["type"] == kind and _canonical(kind, record["data"]) == _canonical(kind, data)


class DNSServer:
    """Records in memory (and from a file), served on UDP and TCP of one port by dnslib's servers."""

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments
    def __init__(self, host="127.0.0.1", port=0, records=(), records_file=None, verbose=False):
        self.requested = (host, port)
        self.records_file = records_file
        self.verbose = verbose
        self._lock = threading.Lock()
        self._records = [_record(**record) if isinstance(record, dict) else _record(*record) for record in records]
        self._file_records = []
        self._file_stamp = None
        self._failing = set()
        self._queries = []
        self._servers = []
        self._threads = []

    # -- records

    def add(self, name, rtype, data, ttl=DEFAULT_TTL):
        """Serve one more record; return it."""
        record = _record(name, rtype, data, ttl)
        with self._lock:
            self._records.append(record)
        return dict(record)

    def remove(self, name, rtype=None, data=None):
        """Stop serving the records of a name (of one type, with one data): return how many went; a failed name heals."""
        def matches(record):
            return (record["name"] == normal(name) and (rtype is None or record["type"] == rtype.upper())
                    and (data is None or record["data"] == data.strip()))
        with self._lock:
            before = len(self._records)
            self._records = [record for record in self._records if not matches(record)]
            self._failing.discard(normal(name))
            return before - len(self._records)

    def clear(self):
        """Serve no record (of memory: a records file stays served) and fail no name."""
        with self._lock:
            self._records = []
            self._failing = set()

    def records(self):
        """The records served: those added, then those of the records file."""
        self._reload()
        with self._lock:
            return [dict(record) for record in self._records + self._file_records]

    def publish(self, dns):
        """Add every record of an API "dns" object ({key: {"type", "host", "data", ...}}); return them."""
        return [self.add(record["host"], record["type"], record["data"]) for record in dns.values()]

    def fail(self, name):
        """Answer SERVFAIL for every query of that name."""
        with self._lock:
            self._failing.add(normal(name))

    def note_query(self, name, rtype):
        """Keep a question asked (the logger calls it)."""
        with self._lock:
            self._queries.append([normal(name), rtype])
        if self.verbose:
            print(f"query {normal(name)} {rtype}", file=sys.stderr, flush=True)

    def queries(self):
        """The questions asked so far, [name, type], oldest first."""
        with self._lock:
            return [list(query) for query in self._queries]

    def _reload(self):
        """Read the records file again when it changed (size or time)."""
        if not self.records_file:
            return
        try:
            stat = os.stat(self.records_file)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._file_stamp:
                return
        records = read_records(self.records_file) if stamp else []
        with self._lock:
            self._file_records, self._file_stamp = records, stamp

    # -- answering

    def resolve(self, request, _handler):
        """dnslib's resolver interface: the reply to a request (see the module docstring)."""
        self._reload()
        reply = request.reply()
        qname, qtype = request.q.qname, QTYPE[request.q.qtype]
        with self._lock:
            served = self._records + self._file_records
            if normal(qname) in self._failing:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
        # the answer's owner is the name as asked (its case kept), then each CNAME target chased
        owner, name = qname, normal(qname)
        for dummy in range(MAX_CHASE):
            here = [record for record in served if record["name"] == name]
            wanted = [record for record in here if record["type"] == qtype]
            cname = next((record for record in here if record["type"] == "CNAME"), None)
            for record in wanted:
                reply.add_answer(RR(owner, getattr(QTYPE, record["type"]), rdata=_rdata(record), ttl=record["ttl"]))
            if wanted or cname is None:
                if not wanted and not here and not reply.rr:
                    reply.header.rcode = RCODE.NXDOMAIN
                return reply
            reply.add_answer(RR(owner, QTYPE.CNAME, rdata=_rdata(cname), ttl=cname["ttl"]))
            owner, name = DNSLabel(cname["data"]), normal(cname["data"])
        return reply

    # -- RFC 2136 dynamic update

    def update(self, wire):
        """Apply an UPDATE message (see the module docstring); return the answer's wire form."""
        try:
            request = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _update_answer(wire, dns.rcode.FORMERR)
        code = self._apply_update(request)
        response = dns.message.make_response(request)
        response.set_rcode(code)
        return response.to_wire()

    def _apply_update(self, request):
        if len(request.zone) != 1:
            return dns.rcode.FORMERR
        zone = request.zone[0].name
        for rrset in request.prerequisite + request.update:
            if not rrset.name.is_subdomain(zone):
                return dns.rcode.NOTZONE
            if rrset.rdtype != dns.rdatatype.ANY and dns.rdatatype.to_text(rrset.rdtype) not in TYPES:
                return dns.rcode.REFUSED
        with self._lock:
            code = self._prerequisites(request.prerequisite)
            if code == dns.rcode.NOERROR:
                for rrset in request.update:
                    self._update_one(rrset)
        if code == dns.rcode.NOERROR and self.verbose:
            print(f"update of {zone}: {len(request.update)} change(s)", file=sys.stderr, flush=True)
        return code

    def _held(self, name, kind=None):
        return [record for record in self._records + self._file_records
                if record["name"] == normal(name) and kind in (None, record["type"])]

    def _prerequisites(self, rrsets):
        """RFC 2136 3.2: the rcode of the first prerequisite that fails, NOERROR when all hold."""
        wanted = {}
        for rrset in rrsets:
            name, kind = rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)
            anything = rrset.rdtype == dns.rdatatype.ANY
            # dnspython keeps the class ANY or NONE of a prerequisite or a deletion as the RRset's "deleting"
            if rrset.deleting == dns.rdataclass.ANY:         # the name, or an RRset of it, exists
                if not self._held(name, None if anything else kind):
                    return dns.rcode.NXDOMAIN if anything else dns.rcode.NXRRSET
            elif rrset.deleting == dns.rdataclass.NONE:      # the name, or an RRset of it, does not exist
                if self._held(name, None if anything else kind):
                    return dns.rcode.YXDOMAIN if anything else dns.rcode.YXRRSET
            else:                                            # the RRset exists and holds exactly these records
                wanted.setdefault((name, kind), []).extend(_update_data(rdata) for rdata in rrset)
        for (name, kind), datas in wanted.items():
            held = self._held(name, kind)
            if len(held) != len(set(datas)) or not all(any(_same_data(r, kind, d) for r in held) for d in datas):
                return dns.rcode.NXRRSET
        return dns.rcode.NOERROR

    def _update_one(self, rrset):
        """RFC 2136 3.4.2: add a record, delete an RRset or a name's RRsets, delete one record."""
        name = normal(rrset.name.to_text())
        kind = dns.rdatatype.to_text(rrset.rdtype)

        def keep(record):
            if record["name"] != name:
                return True
            if rrset.deleting == dns.rdataclass.ANY:
                return rrset.rdtype != dns.rdatatype.ANY and record["type"] != kind
            return not any(_same_data(record, kind, _update_data(rdata)) for rdata in rrset)

        if rrset.deleting is not None:
            self._records = [record for record in self._records if keep(record)]
            return
        for rdata in rrset:
            record = _record(name, kind, _update_data(rdata), rrset.ttl)
            if kind == "CNAME":      # a name holds one CNAME: a new one replaces it
                self._records = [held for held in self._records if held["name"] != name or held["type"] != kind]
            if not any(_same_data(held, kind, record["data"]) for held in self._held(name, kind)):
                self._records.append(record)
            else:                    # the same record again: its TTL is the new one's
                for held in self._records:
                    if held["name"] == name and _same_data(held, kind, record["data"]):
                        held["ttl"] = record["ttl"]

    # -- lifecycle

    @property
    def host(self):
        """The address served."""
        return self._servers[0].server_address[0] if self._servers else self.requested[0]

    @property
    def port(self):
        """The port served (UDP and TCP)."""
        return self._servers[0].server_address[1] if self._servers else self.requested[1]

    @property
    def address(self):
        """"IP:PORT" ("[IPv6]:PORT"), what the API server's --dns-resolver takes."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self):
        """Bind UDP and TCP on one port (a free one for port 0) and serve in background threads; return self."""
        host, port = self.requested
        for dummy in range(_BIND_TRIES if port == 0 else 1):
            udp = UDPServer((host, port), _Handler)
            try:
                tcp = TCPServer((host, udp.server_address[1]), _Handler)
            except OSError:
                # the TCP side of the free UDP port is taken: try another port
                udp.server_close()
                if port:
                    raise
                continue
            break
        else:
            raise OSError(f"no port of {host} is free for both UDP and TCP")
        for server, protocol in ((udp, "udp"), (tcp, "tcp")):
            server.resolver = self
            server.logger = _Logger(self)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"dns-{udp.server_address[1]}-{protocol}", daemon=True)
            self._servers.append(server)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self, timeout=5.0):
        """Stop serving, close both sockets and join the threads."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout)
        self._servers, self._threads = [], []


def _update_answer(wire, code):
    """The answer to an UPDATE that cannot be read: its id and opcode, the rcode."""
    ident = wire[:2] if len(wire) >= 2 else b"\0\0"
    return ident + bytes([0x80 | (dns.opcode.UPDATE << 3), code & 0xF]) + b"\0" * 8


@contextlib.contextmanager
def running_dns_server(**options):
    """Context manager: yield a started DNSServer(**options), stop it on exit."""
    server = DNSServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- records file

def parse_line(line):
    """A records file line "NAME TYPE DATA" as a record; None for a blank line or a comment."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split(None, 2)
    if len(parts) != 3:
        raise ValueError(f"not a record (NAME TYPE DATA): {text!r}")
    return _record(*parts)


def read_records(path):
    """Every record of a records file."""
    with open(path, encoding="utf-8") as handle:
        return [record for record in map(parse_line, handle) if record is not None]


def _write_records(path, lines):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    os.replace(tmp, path)


def edit_records(path, add=None, remove=None):
    """Add one record ({"name", "type", "data"}) to a records file, or remove those matching (name, type, data);
    return how many records were added or removed.  The file is replaced at once: a server never reads half of it."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        lines = []
    if add is not None:
        record = _record(add["name"], add["type"], add["data"])
        lines.append(f"{record['name']} {record['type']} {record['data']}\n")
        _write_records(path, lines)
        return 1
    name, rtype, data = remove
    kept = []
    for line in lines:
        record = parse_line(line)
        if record and record["name"] == normal(name) and (rtype is None or record["type"] == rtype.upper()) \
                and (data is None or record["data"] == data.strip()):
            continue
        kept.append(line)
    _write_records(path, kept)
    return len(lines) - len(kept)


# ----------------------------------------------------------------------------- command line

def parse_args(argv=None):
    """The command line: serve, add, remove, list."""
    parser = argparse.ArgumentParser(description="A small DNS server (UDP and TCP) for the local SendGrid-compatible "
                                                 "API server's domain and link validation.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the records of a file (re-read when it changes) until SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to bind, UDP and TCP; 0 picks a free one (default)")
    serve.add_argument("--records", metavar="FILE", help="records file: one \"NAME TYPE DATA\" a line")
    serve.add_argument("--record", action="append", default=[], metavar="'NAME TYPE DATA'",
                       help="one more record (repeatable)")
    serve.add_argument("--ready-file", metavar="PATH", help="write IP:PORT there once listening")
    serve.add_argument("--verbose", action="store_true", help="print every query on stderr")
    add = commands.add_parser("add", help="add a record to a records file")
    add.add_argument("--records", metavar="FILE", required=True)
    add.add_argument("name")
    add.add_argument("type", choices=TYPES, type=str.upper)
    add.add_argument("data", nargs="+", help="the data (a TXT record's words are joined with spaces)")
    remove = commands.add_parser("remove", help="remove the records of a name (of a type, with a data) from a file")
    remove.add_argument("--records", metavar="FILE", required=True)
    remove.add_argument("name")
    remove.add_argument("type", nargs="?", choices=TYPES, type=str.upper)
    remove.add_argument("data", nargs="*")
    show = commands.add_parser("list", help="print the records of a records file")
    show.add_argument("--records", metavar="FILE", required=True)
    return parser.parse_args(argv)


def _serve(args):
    try:
        records = [parse_line(text) for text in args.record]
        server = DNSServer(args.host, args.port, records=[r for r in records if r], records_file=args.records,
                           verbose=args.verbose)
        server.records()
        server.start()
    except (OSError, ValueError) as exc:
        print(f"dns_server: error: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    if args.ready_file:
        _write_records(args.ready_file, [server.address + "\n"])
    print(f"DNS server listening on {server.address} (udp and tcp)", flush=True)
    while not stopping.wait(0.5):
        pass
    server.stop()
    return 0


def main(argv=None):
    """Run the command; return the exit status (2 for a refused option or record)."""
    args = parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    try:
        if args.command == "add":
            edit_records(args.records, add={"name": args.name, "type": args.type, "data": " ".join(args.data)})
        elif args.command == "remove":
            removed = edit_records(args.records, remove=(args.name, args.type, " ".join(args.data) or None))
            print(f"removed {removed} record(s)")
        else:
            for record in read_records(args.records):
                print(f"{record['name']} {record['type']} {record['data']}")
    except (OSError, ValueError) as exc:
        print(f"dns_server: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
