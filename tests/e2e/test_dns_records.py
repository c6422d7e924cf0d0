"""`postie dns records` prints what a domain publishes, in zone-file syntax, and
`postie dns check` compares it with what a DNS server (tests/e2e/dnsserver.py)
answers: OK when all is published, MISSING / WRONG and exit status 1 when not.
"""

import json
import re

from dnsserver import TestDNS
from network import network  # noqa: F401  (the fixture)

ADDR = "127.0.0.2"
LISTEN = {
    "smtp": ["%s:25" % ADDR],
    "submission": ["%s:587" % ADDR],
    "submissions": ["%s:465" % ADDR],
    "imap": ["%s:143" % ADDR],
    "imaps": ["%s:993" % ADDR],
    "pop3": [],
    "pop3s": ["%s:995" % ADDR],
    "https": ["%s:443" % ADDR],
}


def zone_lines(text):
    return [line for line in text.splitlines() if line.strip() and not line.startswith(";")]


def to_records(lines):
    """dnsserver.py records from zone-file lines `name TTL IN TYPE data`."""
    out = []
    for line in lines:
        name, ttl, klass, rtype, data = line.split(None, 4)
        assert klass == "IN" and int(ttl) > 0, line
        if rtype == "TXT":
            strings = re.findall(r'"((?:[^"\\]|\\.)*)"', data)
            value = [s.replace('\\"', '"').replace("\\\\", "\\") for s in strings]
        elif rtype == "SRV":
            value = data
        else:
            value = data
        out.append({"name": name.rstrip("."), "type": rtype, "value": value})
    return out


def statuses(output):
    """The first word of each result line of `postie dns check`."""
    return [line.split()[0] for line in output.splitlines()
            if line and not line.startswith(" ") and line.split()[0].isupper()]


def check(network, server, domain):
    return network.run([server.bin, "dns", "check", domain, "--config", server.config_path],
                       text=True)


def test_records_then_check_against_a_dns_server(network, server_factory):
    dns = TestDNS(network, [], zones=["test"]).start()
    server = server_factory(network=network, name="a", listen=LISTEN,
                            extra={"hostname": "mx.a.test",
                                   "dns": {"nameservers": [dns.nameserver]}})
    server.add_domain("a.test")
    server.cli("dkim", "generate", "a.test")
    out = server.cli("dns", "records", "a.test").stdout
    lines = zone_lines(out)
    selectors = [line.split(".")[0] for line in lines if "._domainkey." in line]
    assert len(selectors) == 2, out
    by_start = {tuple(line.split()[:4]): line for line in lines}
    assert by_start[("a.test.", "3600", "IN", "MX")].endswith(" 10 mx.a.test."), out
    # Loopback listeners are not public addresses: SPF names the MX only.
    assert by_start[("a.test.", "3600", "IN", "TXT")].endswith('"v=spf1 mx -all"'), out
    assert ('_dmarc.a.test. 3600 IN TXT "v=DMARC1; p=quarantine; '
            'rua=mailto:postmaster@a.test"') in lines, out
    # TLS-RPT (RFC 8460 §3): where senders report TLS failures towards us.
    assert '_smtp._tls.a.test. 3600 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@a.test"' in lines, out
    for expected in ("_submissions._tcp.a.test. 3600 IN SRV 0 1 465 mx.a.test.",
                     "_submission._tcp.a.test. 3600 IN SRV 10 1 587 mx.a.test.",
                     "_imaps._tcp.a.test. 3600 IN SRV 0 1 993 mx.a.test.",
                     "_imap._tcp.a.test. 3600 IN SRV 10 1 143 mx.a.test.",
                     "_pop3s._tcp.a.test. 3600 IN SRV 0 1 995 mx.a.test.",
                     "_pop3._tcp.a.test. 3600 IN SRV 0 0 0 .",
                     # The web face's autoconfiguration (docs/web.md).
                     "autoconfig.a.test. 3600 IN CNAME mx.a.test.",
                     "autodiscover.a.test. 3600 IN CNAME mx.a.test.",
                     "_autodiscover._tcp.a.test. 3600 IN SRV 0 1 443 mx.a.test.",
                     # The MTA-STS policy host (docs/tls.md).
                     "mta-sts.a.test. 3600 IN CNAME mx.a.test."):
        assert expected in lines, (expected, out)
    # MTA-STS (RFC 8461 §3.1): the record announcing the policy, with its id.
    assert any(re.fullmatch(r'_mta-sts\.a\.test\. 3600 IN TXT "v=STSv1; id=[0-9a-z]{1,32}"',
                            line) for line in lines), out
    # The 2048-bit RSA key does not fit one 255-octet string: it is split.
    rsa = [line for line in lines if "k=rsa" in line]
    assert len(rsa) == 1 and rsa[0].count('" "') >= 1, rsa

    # Nothing published yet: everything but the "not offered" SRV is missing.
    p = check(network, server, "a.test")
    assert p.returncode == 1, p
    assert statuses(p.stdout).count("MISSING") == len(lines) - 1, p.stdout
    assert statuses(p.stdout).count("OK") == 1, p.stdout

    # Publish exactly what was printed (the split TXT strings as they are).
    records = to_records(lines)
    records = [r for r in records if not (r["type"] == "SRV" and r["value"].endswith(" ."))]
    dns.set_records(records)
    p = check(network, server, "a.test")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert statuses(p.stdout) == ["OK"] * len(lines), p.stdout

    # A wrong MX and a DMARC record gone.
    changed = [r for r in records if not r["name"].startswith("_dmarc.")]
    changed = [dict(r, value="10 mail.elsewhere.test") if r["type"] == "MX" else r
               for r in changed]
    dns.set_records(changed)
    p = check(network, server, "a.test")
    assert p.returncode == 1, p
    assert re.search(r"(?m)^WRONG\s+MX\s+a\.test\.", p.stdout), p.stdout
    assert "found: 10 mail.elsewhere.test." in p.stdout, p.stdout
    assert re.search(r"(?m)^MISSING\s+TXT\s+_dmarc\.a\.test\.", p.stdout), p.stdout
    assert "missing or wrong" in p.stderr, p.stderr

    # An _mta-sts record with another id (an older policy) is wrong: senders keep
    # a policy that is not the one served.
    stale = [dict(r, value=["v=STSv1; id=old1"]) if r["name"] == "_mta-sts.a.test" else r
             for r in records]
    dns.set_records(stale)
    p = check(network, server, "a.test")
    assert p.returncode == 1, p
    assert re.search(r"(?m)^WRONG\s+TXT\s+_mta-sts\.a\.test\.", p.stdout), p.stdout


def test_keys_are_only_made_for_local_domains(server_factory):
    server = server_factory()
    p = server.cli("dkim", "generate", "elsewhere.test", check=False)
    assert p.returncode != 0
    assert "not a local domain" in p.stderr, p.stderr
    server.add_domain("example.org")
    server.cli("dkim", "generate", "example.org")
    listed = json.loads(server.cli("dkim", "list", "--json").stdout)
    assert len(listed) == 2, listed
    selector = listed[0]["selector"]
    server.cli("dkim", "remove", "example.org", selector)
    assert len(json.loads(server.cli("dkim", "list", "--json").stdout)) == 1
    p = server.cli("dkim", "remove", "example.org", selector, check=False)
    assert p.returncode != 0 and "no key" in p.stderr, p.stderr
