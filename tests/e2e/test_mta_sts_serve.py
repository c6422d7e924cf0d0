"""Our MTA-STS policy (RFC 8461, docs/tls.md): the web face serves it at
https://mta-sts.DOMAIN/.well-known/mta-sts.txt for each local domain (Host
`mta-sts.` + the domain; 404 for any other host), from [mta_sts] in force, and
`postie dns records` prints the `_mta-sts` TXT record whose id follows the
policy text, plus the `mta-sts` policy host."""

import os
import re
import signal
import ssl
import urllib.error
import urllib.request

from harness import HOSTNAME, wait_until

PATH = "/.well-known/mta-sts.txt"
RELOADED = "reloaded the configuration"


def fetch(server, host, kind="https"):
    """(status, headers, body) of GET PATH with this Host header; over https the
    server's generated certificate (it names 127.0.0.1) is verified."""
    addr, port = server.addr(kind)
    url = "%s://%s:%d%s" % ("https" if kind == "https" else "http", addr, port, PATH)
    request = urllib.request.Request(url)
    request.add_header("Host", host)
    context = None
    if kind == "https":
        context = ssl.create_default_context(
            cafile=os.path.join(server.data_dir, "tls", "cert.pem"))
    with server.netns():
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


def policy_lines(body):
    """The policy's lines; every line ends in CRLF (RFC 8461 §3.2)."""
    text = body.decode("ascii")
    assert text.endswith("\r\n"), text
    assert "\n" not in text.replace("\r\n", ""), "a bare LF: %r" % text
    return text[:-2].split("\r\n")


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def sts_record(server, domain="example.org"):
    """The id of the `_mta-sts` TXT record `postie dns records` prints; checks
    the policy host line too."""
    out = server.cli("dns", "records", domain).stdout
    lines = [l for l in out.splitlines() if l and not l.startswith(";")]
    sts = [l for l in lines if l.startswith("_mta-sts.%s. " % domain)]
    assert len(sts) == 1, out
    m = re.fullmatch(r'_mta-sts\.%s\. 3600 IN TXT "v=STSv1; id=([A-Za-z0-9]{1,32})"'
                     % re.escape(domain), sts[0])
    assert m, sts[0]
    assert "mta-sts.%s. 3600 IN CNAME %s." % (domain, HOSTNAME) in lines, out
    return m.group(1)


def test_the_policy_is_served_for_local_domains_and_announced(server_factory):
    server = server_factory(extra={"mta_sts": {
        "mode": "enforce", "max_age": 86400, "mx": ["*.backup.example.org"]}})
    server.add_domain("example.org")

    status, headers, body = fetch(server, "mta-sts.example.org")
    assert status == 200, (status, body)
    assert headers["Content-Type"] == "text/plain", headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert policy_lines(body) == [
        "version: STSv1",
        "mode: enforce",
        "mx: %s" % HOSTNAME,
        "mx: *.backup.example.org",
        "max_age: 86400",
    ], body
    # The Host may carry a port and any case; the plain http listener (for a TLS
    # proxy in front) serves the same text.
    status, _, same = fetch(server, "MTA-STS.Example.org:443")
    assert (status, same) == (200, body)
    status, _, same = fetch(server, "mta-sts.example.org", kind="http")
    assert (status, same) == (200, body)

    # No policy for other people's domains, nor on other host names.
    for host in ("mta-sts.elsewhere.test", "example.org", HOSTNAME, "127.0.0.1"):
        status, _, _ = fetch(server, host)
        assert status == 404, host

    # The record's id is the hash of the text served.
    first = sts_record(server)
    assert first == fnv1a64(body), (first, body)

    # A new mode (reloaded with SIGHUP): a new policy, a new id.
    server.config["mta_sts"]["mode"] = "testing"
    server.write_config()
    seen = server.log_text().count(RELOADED)
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: server.log_text().count(RELOADED) > seen, message="the reload")
    assert "mta_sts.mode" in [l for l in server.log_text().splitlines() if RELOADED in l][-1]
    status, _, body = fetch(server, "mta-sts.example.org")
    assert status == 200 and "mode: testing" in policy_lines(body), body
    second = sts_record(server)
    assert second != first
    assert second == fnv1a64(body)


def test_bad_mta_sts_settings_stop_the_start(server_factory):
    server = server_factory(start=False, extra={"mta_sts": {"max_age": 31557601}})
    p = server.cli("dns", "records", "example.org", check=False)
    assert p.returncode != 0
    assert "mta_sts.max_age" in p.stderr, p.stderr
