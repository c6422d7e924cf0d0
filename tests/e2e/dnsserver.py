"""A small authoritative DNS server for the end-to-end tests (dnslib).

Run inside a Network (class TestDNS below does that):

    python3 dnsserver.py --listen 127.0.0.53:53 --zone zone.json

It answers over UDP and TCP on the same address and prints "dns ready" once
both sockets are bound. The zone file is JSON, either a list of records or
{"serial": N, "zones": [...], "records": [...]}; a record is

    {"name": "a.test", "type": "MX", "value": "10 mx.a.test", "ttl": 60}

with type A, AAAA, MX ("PREF HOST"), TXT (a string, split into 255-byte
chunks, or a list of strings), CNAME, SRV ("PRIO WEIGHT PORT TARGET"), PTR
NS or TLSA ("USAGE SELECTOR MATCHING HEX"); ttl defaults to 1 second (so a resolver's cache never hides a
change for long). Names are case-insensitive, trailing dots optional.

Zones: "zones" when given, otherwise the top-level label of every record's
name (so every name under `test.` is ours). For a name under one of our
zones the server is authoritative (AA): NXDOMAIN when nothing exists at or
below the name; NOERROR with an empty answer (NODATA) when the name exists
with other types only, or is an empty non-terminal; both carry the zone's
SOA in the authority section. Names under a zone of the optional
"authenticated" list get the AD bit when the query has AD or DO, as from a
validating resolver (RFC 6840 §5.7; DANE tests; nothing is signed). CNAMEs are followed within our data. Names
outside our zones get REFUSED.

SIGHUP reloads the file; the loaded "serial" is served as a CHAOS-class TXT
record at `serial.dnsserver.`, so a client can tell when a reload is live.
UDP replies bigger than 512 bytes (or the EDNS size the query offers) are
truncated (TC, no records) so the client retries over TCP.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from dnslib import AAAA, CLASS, EDNS0, CNAME, MX, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TLSA, TXT, A, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer

from helper_process import HelperProcess

DEFAULT_TTL = 1
SERIAL_NAME = "serial.dnsserver"
TYPES = ("A", "AAAA", "MX", "TXT", "CNAME", "SRV", "PTR", "NS", "TLSA")


def norm(name):
    return name.strip().rstrip(".").lower()


def txt_chunks(value):
    if isinstance(value, (list, tuple)):
        return [v.encode() if isinstance(v, str) else bytes(v) for v in value]
    data = value.encode()
    return [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]


def rdata_of(rtype, value):
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "MX":
        pref, host = value.split()
        return MX(host, int(pref))
    if rtype == "TXT":
        return TXT(txt_chunks(value))
    if rtype == "CNAME":
        return CNAME(value)
    if rtype == "SRV":
        prio, weight, port, target = value.split()
        return SRV(int(prio), int(weight), int(port), target)
    if rtype == "PTR":
        return PTR(value)
    if rtype == "NS":
        return NS(value)
    if rtype == "TLSA":
        usage, selector, matching, data = value.split()
        return TLSA(int(usage), int(selector), int(matching), bytes.fromhex(data))
    raise ValueError("unsupported record type %r" % rtype)


class Zone:
    """The loaded data: {name: {type: [(ttl, rdata)]}} plus the zones."""

    def __init__(self, doc):
        if isinstance(doc, list):
            doc = {"records": doc}
        self.serial = int(doc.get("serial", 1))
        self.names = {}
        for rec in doc.get("records", []):
            rtype = rec["type"].upper()
            if rtype not in TYPES:
                raise ValueError("unsupported record type in %r" % (rec,))
            name = norm(rec["name"])
            ttl = int(rec.get("ttl", DEFAULT_TTL))
            self.names.setdefault(name, {}).setdefault(rtype, []).append(
                (ttl, rdata_of(rtype, rec["value"])))
        zones = doc.get("zones")
        if zones is None:
            zones = {n.rsplit(".", 1)[-1] for n in self.names if n}
        self.zones = sorted({norm(z) for z in zones}, key=len, reverse=True)
        # Names under these get the AD bit, as from a validating resolver (for DANE).
        self.authenticated = [norm(z) for z in doc.get("authenticated", [])]

    def zone_of(self, name):
        for z in self.zones:
            if name == z or name.endswith("." + z):
                return z
        return None

    def exists(self, name):
        if name in self.names or name in self.zones:
            return True
        suffix = "." + name
        return any(n.endswith(suffix) for n in self.names)

    def soa(self, zone):
        return RR(zone + ".", QTYPE.SOA, ttl=DEFAULT_TTL,
                  rdata=SOA("ns." + zone + ".", "hostmaster." + zone + ".",
                            (self.serial, 3600, 600, 86400, DEFAULT_TTL)))


class Resolver:
    def __init__(self, zone):
        self.zone = zone

    def resolve(self, request, handler):
        zone = self.zone  # one consistent snapshot for this query
        reply = request.reply(ra=1, aa=1)
        q = request.q
        qname = norm(str(q.qname))
        qtype = QTYPE.get(q.qtype, str(q.qtype))
        if q.qclass == CLASS.CH:
            if qname == SERIAL_NAME and qtype in ("TXT", "ANY"):
                reply.add_answer(RR(q.qname, QTYPE.TXT, rclass=CLASS.CH, ttl=0,
                                    rdata=TXT(str(zone.serial))))
            else:
                reply.header.rcode = RCODE.REFUSED
            return reply
        if q.qclass != CLASS.IN or zone.zone_of(qname) is None:
            reply.header.aa = 0
            reply.header.rcode = RCODE.REFUSED
            return reply
        name = qname
        # AD only for the "authenticated" zones (dnslib copies the query's flags), and
        # as a validating resolver does, only when the query has AD or DO (RFC 6840
        # §5.7).
        asked = request.header.ad or any(rr.rtype == QTYPE.OPT and rr.ttl & 0x8000
                                         for rr in request.ar)
        reply.header.ad = int(bool(asked) and any(qname == z or qname.endswith("." + z)
                                                  for z in zone.authenticated))

        def owner(n):  # the asker's spelling for the name asked about
            return q.qname if n == qname else n + "."

        for _ in range(10):  # CNAME chain
            apex = zone.zone_of(name)
            if apex is None:  # a CNAME out of our zones: the client goes on
                return reply
            rrsets = zone.names.get(name, {})
            if qtype == "ANY" and rrsets:
                for rtype, rrs in rrsets.items():
                    for ttl, rdata in rrs:
                        reply.add_answer(RR(owner(name), getattr(QTYPE, rtype), ttl=ttl, rdata=rdata))
                return reply
            if qtype in rrsets:
                for ttl, rdata in rrsets[qtype]:
                    reply.add_answer(RR(owner(name), q.qtype, ttl=ttl, rdata=rdata))
                return reply
            if qtype == "SOA" and name == apex:
                reply.add_answer(zone.soa(apex))
                return reply
            if "CNAME" in rrsets and qtype != "CNAME":
                ttl, rdata = rrsets["CNAME"][0]
                reply.add_answer(RR(owner(name), QTYPE.CNAME, ttl=ttl, rdata=rdata))
                name = norm(str(rdata.label))
                continue
            if not zone.exists(name):
                reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(zone.soa(apex))
            return reply
        reply.header.rcode = RCODE.SERVFAIL  # a CNAME loop
        return reply


class Handler(DNSHandler):
    def get_reply(self, data):
        request = DNSRecord.parse(data)
        self.server.logger.log_request(self, request)
        try:
            reply = self.server.resolver.resolve(request, self)
        except Exception:  # a bug here: say so, and answer SERVFAIL
            traceback.print_exc()
            sys.stdout.flush()
            reply = request.reply(ra=1, aa=0)
            reply.header.rcode = RCODE.SERVFAIL
        opt = [rr for rr in request.ar if rr.rtype == QTYPE.OPT]
        limit = 512
        if opt:
            limit = max(512, opt[0].rclass)
            reply.add_ar(EDNS0(udp_len=1232))
        self.server.logger.log_reply(self, reply)
        rdata = reply.pack()
        if self.protocol == "udp" and len(rdata) > limit:
            truncated = DNSRecord(header=reply.header, q=reply.q)
            truncated.header.tc = 1
            rdata = truncated.pack()
        return rdata


class Logger(DNSLogger):
    """One line per query and reply on stdout (the test's log file)."""

    def __init__(self):
        super().__init__(log="-recv,-send,-data", prefix=False)

    def log_request(self, handler, request):
        print("query %s %s %s %s" % (handler.protocol, handler.client_address[0],
                                     request.q.qname, QTYPE.get(request.q.qtype, request.q.qtype)),
              flush=True)

    def log_reply(self, handler, reply):
        print("reply %s rcode=%s answers=%d %s" % (
            reply.q.qname, RCODE.get(reply.header.rcode), len(reply.rr),
            " | ".join(str(rr.rdata) for rr in reply.rr)), flush=True)

    def log_error(self, handler, e):
        print("error %s: %s" % (handler.client_address[0], e), flush=True)


def load(path):
    with open(path, encoding="utf-8") as f:
        return Zone(json.load(f))


def main():
    ap = argparse.ArgumentParser(description="authoritative DNS server for tests")
    ap.add_argument("--listen", default="127.0.0.53:53", help="IP:PORT (UDP and TCP)")
    ap.add_argument("--zone", required=True, help="JSON zone file")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    resolver = Resolver(load(args.zone))

    reload_requested = threading.Event()
    signal.signal(signal.SIGHUP, lambda s, f: reload_requested.set())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    signal.signal(signal.SIGINT, lambda s, f: stop.set())

    logger = Logger()
    servers = [DNSServer(resolver, address=host.strip("[]"), port=int(port), tcp=tcp,
                         logger=logger, handler=Handler) for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    print("dns ready %s serial=%d" % (args.listen, resolver.zone.serial), flush=True)
    while not stop.is_set():
        if reload_requested.wait(0.2):
            reload_requested.clear()
            try:
                resolver.zone = load(args.zone)
                print("dns reloaded serial=%d" % resolver.zone.serial, flush=True)
            except Exception as e:  # keep serving the old data
                print("dns reload failed: %s" % e, flush=True)
    for s in servers:
        s.stop()
        s.server.server_close()
    print("dns stopped", flush=True)


# ----- the test side -------------------------------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))
READY_TIMEOUT = 20.0


class TestDNS(HelperProcess):
    """The DNS server above, as a process in NETWORK, serving RECORDS (a list
    of record dicts, see the module doc). `nameserver` is what postie's
    `[dns] nameservers` wants ("127.0.0.53:53")."""

    __test__ = False  # not a pytest test class

    def __init__(self, network, records=(), addr="127.0.0.53", port=53, root=None, zones=None,
                 authenticated=()):
        self.network = network
        self.authenticated = list(authenticated)
        self.addr = addr
        self.port = port
        self.zones = zones
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="postie-dns-")
        self._tmp_dir, self._own_tmp, self.what = self.root, self._own_root, "dnsserver"

        self.zone_path = os.path.join(self.root, "zone.json")
        self.log_path = os.path.join(self.root, "dns.log")
        self.serial = 1
        self.records = list(records)
        self.proc = None
        self._write()
        network.track(self)

    @property
    def nameserver(self):
        return "%s:%d" % (self.addr, self.port)

    def _write(self):
        doc = {"serial": self.serial, "records": [dict(r) for r in self.records]}
        if self.zones is not None:
            doc["zones"] = list(self.zones)
        if self.authenticated:
            doc["authenticated"] = self.authenticated
        tmp = self.zone_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, self.zone_path)

    def start(self, timeout=READY_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        try:
            self.proc = self.network.popen(
                [sys.executable, "-u", os.path.join(HERE, "dnsserver.py"),
                 "--listen", self.nameserver, "--zone", self.zone_path],
                stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while "dns ready" not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError("dnsserver exited with %s before it was ready:\n%s"
                                     % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("dnsserver not ready within %.0fs:\n%s" % (timeout, self.log()))
            time.sleep(0.05)
        return self

    def set_records(self, records, timeout=10):
        """Replaces every record; returns once the server answers from them."""
        self.records = list(records)
        self.serial += 1
        self._write()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while True:
            if self.served_serial() == self.serial:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dnsserver did not load serial %d:\n%s"
                                     % (self.serial, self.log()))
            time.sleep(0.05)

    def add_records(self, records, timeout=10):
        self.set_records(self.records + list(records), timeout)

    def served_serial(self):
        try:
            reply = self.query(SERIAL_NAME, "TXT", qclass="CH", timeout=2)
        except (OSError, socket.timeout):
            return None
        if not reply.rr:
            return None
        return int(str(reply.rr[0].rdata).strip('"'))

    def query(self, name, qtype="A", tcp=False, qclass="IN", timeout=5):
        """Asks the server (from inside the network); returns the parsed
        dnslib.DNSRecord reply."""
        q = DNSRecord.question(name, qtype, qclass)
        with self.network.netns():
            data = q.send(self.addr, self.port, tcp=tcp, timeout=timeout)
        return DNSRecord.parse(data)

    def queries(self):
        """[(proto, client_ip, name, type)] of every query so far."""
        out = []
        for line in self.log().splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[0] == "query":
                out.append((parts[1], parts[2], parts[3].rstrip("."), parts[4]))
        return out


if __name__ == "__main__":
    sys.exit(main())
