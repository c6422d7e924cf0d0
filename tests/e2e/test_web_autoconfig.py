"""The web face (docs/web.md): /healthz over http and https, Thunderbird
autoconfig at both URLs and Outlook Autodiscover, through a real server, with
Python's urllib and with curl. Every field of each document is checked; the
ports are the server's real imaps / pop3s / submissions ports, or the
[autoconfig] overrides."""

import os
import ssl
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from harness import HOSTNAME, IMAP_LISTEN, POP3_LISTEN

LISTEN = dict(IMAP_LISTEN, **POP3_LISTEN)
AD_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
AD_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
AD_OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def autodiscover_request(address):
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Autodiscover xmlns="%s"><Request>'
        "<EMailAddress>%s</EMailAddress>"
        "<AcceptableResponseSchema>%s</AcceptableResponseSchema>"
        "</Request></Autodiscover>\n" % (AD_REQUEST_NS, address, AD_OUTLOOK_NS)
    ).encode()


def tls_context(server):
    """Verifies the server's generated certificate (it names 127.0.0.1)."""
    return ssl.create_default_context(
        cafile=os.path.join(server.data_dir, "tls", "cert.pem"))


def fetch(server, path, kind="http", data=None):
    """(status, headers, body) of one request through urllib."""
    host, port = server.addr(kind)
    scheme = "https" if kind == "https" else "http"
    url = "%s://%s:%d%s" % (scheme, host, port, path)
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "text/xml")
    context = tls_context(server) if kind == "https" else None
    with server.netns():
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


def assert_security_headers(headers, xml=True):
    if xml:
        # No scripts, nothing loaded but our own stylesheet, no framing.
        csp = headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'none'; ")
        assert "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


def expected_ports(server):
    return {
        "imap": server.port("imaps"),
        "pop3": server.port("pop3s"),
        "smtp": server.port("submissions"),
    }


def check_autoconfig(body, ports, domain="example.org"):
    root = ET.fromstring(body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    providers = root.findall("emailProvider")
    assert len(providers) == 1
    provider = providers[0]
    assert provider.get("id") == domain
    assert provider.findtext("domain") == domain
    assert provider.findtext("displayName") == domain
    servers = provider.findall("incomingServer") + provider.findall("outgoingServer")
    assert [(s.tag, s.get("type")) for s in servers] == [
        ("incomingServer", "imap"), ("incomingServer", "pop3"), ("outgoingServer", "smtp")]
    for s in servers:
        assert s.findtext("hostname") == HOSTNAME
        assert s.findtext("port") == str(ports[s.get("type")])
        assert s.findtext("socketType") == "SSL"
        assert s.findtext("authentication") == "password-cleartext"
        assert s.findtext("username") == "%EMAILADDRESS%"


def check_autodiscover(body, ports, address):
    root = ET.fromstring(body)
    assert root.tag == "{%s}Autodiscover" % AD_RESPONSE_NS
    account = root.find("{%s}Response/{%s}Account" % (AD_OUTLOOK_NS, AD_OUTLOOK_NS))
    assert account is not None, body
    q = lambda name: "{%s}%s" % (AD_OUTLOOK_NS, name)  # noqa: E731
    assert account.findtext(q("AccountType")) == "email"
    assert account.findtext(q("Action")) == "settings"
    protocols = account.findall(q("Protocol"))
    assert [p.findtext(q("Type")) for p in protocols] == ["IMAP", "POP3", "SMTP"]
    for p in protocols:
        assert p.findtext(q("Server")) == HOSTNAME
        assert p.findtext(q("Port")) == str(ports[p.findtext(q("Type")).lower()])
        assert p.findtext(q("SSL")) == "on"
        assert p.findtext(q("SPA")) == "off"
        assert p.findtext(q("AuthRequired")) == "on"
        assert p.findtext(q("DomainRequired")) == "off"
        assert p.findtext(q("LoginName")) == address


def test_healthz_over_http_and_https(server):
    for kind in ("http", "https"):
        status, headers, body = fetch(server, "/healthz", kind)
        assert status == 200, kind
        assert body.strip() == b"ok"
        assert_security_headers(headers)
    status, headers, _ = fetch(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4"


def test_autoconfig_and_autodiscover_name_the_real_ports(server_factory):
    server = server_factory(listen=LISTEN)
    server.add_user("alice@example.org", "alice-secret")
    ports = expected_ports(server)
    for kind in ("http", "https"):
        for path in ("/.well-known/autoconfig/mail/config-v1.1.xml",
                     "/mail/config-v1.1.xml"):
            status, headers, body = fetch(
                server, path + "?emailaddress=alice%40example.org", kind)
            assert status == 200, (kind, path, body)
            assert headers["Content-Type"].startswith("application/xml")
            assert_security_headers(headers)
            check_autoconfig(body, ports)
        for path in ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"):
            status, headers, body = fetch(
                server, path, kind, data=autodiscover_request("alice@example.org"))
            assert status == 200, (kind, path, body)
            assert_security_headers(headers)
            check_autodiscover(body, ports, "alice@example.org")
    # A domain the server does not have: 404; garbage and huge bodies: 400 / 413.
    status, _, _ = fetch(server, "/mail/config-v1.1.xml?emailaddress=a%40other.example")
    assert status == 404
    status, _, _ = fetch(server, "/autodiscover/autodiscover.xml",
                         data=autodiscover_request("a@other.example"))
    assert status == 404
    status, _, _ = fetch(server, "/autodiscover/autodiscover.xml", data=b"<nothing/>")
    assert status == 400
    status, _, _ = fetch(server, "/autodiscover/autodiscover.xml", data=b" " * 20000)
    assert status == 413


def test_autoconfig_overrides(server_factory):
    server = server_factory(listen=LISTEN, extra={"autoconfig": {
        "imaps_port": 993, "pop3s_port": 995, "submissions_port": 465}})
    server.add_domain("example.org")
    ports = {"imap": 993, "pop3": 995, "smtp": 465}
    status, _, body = fetch(server, "/mail/config-v1.1.xml?emailaddress=x%40example.org", "https")
    assert status == 200
    check_autoconfig(body, ports)
    status, _, body = fetch(server, "/autodiscover/autodiscover.xml", "https",
                            data=autodiscover_request("x@example.org"))
    assert status == 200
    check_autodiscover(body, ports, "x@example.org")


def test_curl(server_factory):
    server = server_factory(listen=LISTEN)
    server.add_domain("example.org")
    cacert = os.path.join(server.data_dir, "tls", "cert.pem")
    host, port = server.addr("https")
    p = server.tool(["curl", "-sS", "--fail", "--max-time", "30", "--cacert", cacert,
                     "https://%s:%d/healthz" % (host, port)])
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == b"ok"
    p = server.tool(["curl", "-sS", "--fail", "--max-time", "30", "--cacert", cacert,
                     "https://%s:%d/.well-known/autoconfig/mail/config-v1.1.xml"
                     "?emailaddress=bob@example.org" % (host, port)])
    assert p.returncode == 0, p.stderr
    check_autoconfig(p.stdout, expected_ports(server))
    host, port = server.addr("http")
    p = server.tool(["curl", "-sS", "--fail", "--max-time", "30",
                     "-H", "Content-Type: text/xml",
                     "--data-binary", autodiscover_request("bob@example.org"),
                     "http://%s:%d/Autodiscover/Autodiscover.xml" % (host, port)])
    assert p.returncode == 0, p.stderr
    check_autodiscover(p.stdout, expected_ports(server), "bob@example.org")
