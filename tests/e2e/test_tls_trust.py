"""The generated TLS certificate can be trusted by IP address: it names
127.0.0.1, ::1 and every specific listener address besides the host name and
localhost (crates/server/src/tls/generated.rs). It is made again when those
names change; a configured certificate is never touched. A client sending an
IP address as SNI is not a warning (crates/postie/src/log_bridge.rs)."""

import os
import re
import socket
import ssl

import pytest
from cryptography import x509

from harness import IMAP_LISTEN, wait_until
from sendtools import ip_cert, send_argv


def cert_path(server):
    return os.path.join(server.data_dir, "tls", "cert.pem")


def sans(path):
    """(DNS names, IP addresses as text) of the certificate file."""
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (set(ext.get_values_for_type(x509.DNSName)),
            {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)})


def verified_handshake(server, kind, cafile, name):
    """Implicit TLS to KIND's listener by IP, verifying the certificate for NAME
    against CAFILE only; returns the server certificate (DER)."""
    ctx = ssl.create_default_context(cafile=cafile)
    host, port = server.addr(kind)
    with server.netns():
        sock = socket.create_connection((host, port), timeout=15)
    with ctx.wrap_socket(sock, server_hostname=name) as tls:
        return tls.getpeercert(binary_form=True)


def test_generated_certificate_names_loopback_addresses(server):
    dns, ips = sans(cert_path(server))
    assert {"mx.test.example", "localhost"} <= dns
    assert {"127.0.0.1", "::1"} <= ips
    assert re.search(r"TLS certificate self-signed, created.*cert=\S*tls/cert.pem",
                     server.log_text()), server.log_tail()


def test_postie_send_starttls_by_ip_verifies_the_generated_certificate(server):
    p = server.tool(send_argv(
        "--server", "127.0.0.1:%d" % server.port("submission"), "--starttls=require",
        "--ca", cert_path(server), "--user", "alice@example.org", "--password-stdin",
        "--from", "alice@example.org", "--to", "bob@example.org",
        "--subject", "by ip", "--text", "verified"), input=b"alice-secret\n")
    assert p.returncode == 0, p.stderr.decode()
    server.wait_for_mail("bob@example.org", 1)


def test_postie_send_implicit_tls_by_ip(server):
    p = server.tool(send_argv(
        "--server", "127.0.0.1:%d" % server.port("submissions"), "--tls",
        "--ca", cert_path(server), "--user", "bob@example.org", "--password-stdin",
        "--from", "bob@example.org", "--to", "alice@example.org",
        "--subject", "implicit by ip", "--text", "verified"), input=b"bob-secret\n")
    assert p.returncode == 0, p.stderr.decode()
    server.wait_for_mail("alice@example.org", 1)


def test_python_ssl_verifies_submissions_and_imaps_by_ip(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    cafile = cert_path(srv)
    for kind in ("submissions", "imaps"):
        verified_handshake(srv, kind, cafile, "127.0.0.1")
        verified_handshake(srv, kind, cafile, "localhost")
        # The check is real: an address the certificate does not name fails.
        with pytest.raises(ssl.SSLCertVerificationError):
            verified_handshake(srv, kind, cafile, "192.0.2.1")


def test_changed_hostname_regenerates_the_certificate(server_factory):
    srv = server_factory()
    path = cert_path(srv)
    assert "mx.test.example" in sans(path)[0]
    first = open(path, "rb").read()
    srv.restart()
    assert open(path, "rb").read() == first, "same names: the same certificate"
    assert "TLS certificate self-signed, generated earlier" in srv.log_text()
    srv.stop()
    srv.config["hostname"] = "other.test.example"
    srv.write_config()
    srv.start()
    dns, ips = sans(path)
    assert "other.test.example" in dns and "mx.test.example" not in dns
    assert {"127.0.0.1", "::1"} <= ips
    assert "TLS certificate self-signed, regenerated for new names" in srv.log_text()
    verified_handshake(srv, "submissions", path, "other.test.example")


def test_specific_listener_address_is_named(server_factory):
    srv = server_factory(listen={"submissions": ["127.0.0.3:0"]})
    assert "127.0.0.3" in sans(cert_path(srv))[1]
    verified_handshake(srv, "submissions", cert_path(srv), "127.0.0.3")


def test_configured_certificate_is_never_rewritten(server_factory, tmp_path):
    cert, key = ip_cert(str(tmp_path), "127.0.0.1", name="configured.test")
    before = (open(cert, "rb").read(), open(key, "rb").read())
    srv = server_factory(extra={"tls": {"cert": cert, "key": key}})
    assert "TLS certificate from tls.cert (configured)" in srv.log_text()
    der = verified_handshake(srv, "submissions", cert, "127.0.0.1")
    assert der == ssl.PEM_cert_to_DER_cert(before[0].decode())
    srv.stop()
    srv.config["hostname"] = "other.test.example"
    srv.write_config()
    srv.start()
    assert (open(cert, "rb").read(), open(key, "rb").read()) == before
    assert not os.path.exists(cert_path(srv)), "no certificate generated"


def test_sni_with_an_ip_address_is_not_a_warning(server_factory, monkeypatch):
    # rustls' debug lines on, to see that the client's SNI was noticed.
    monkeypatch.delenv("RUST_LOG", raising=False)
    srv = server_factory(extra={"log": {"level": "info,rustls=debug"}})
    host, port = srv.addr("submissions")
    p = srv.tool(["openssl", "s_client", "-connect", "%s:%d" % (host, port),
                  "-servername", "127.0.0.1"], input=b"")
    out = p.stdout.decode("utf-8", "replace")
    assert "Cipher is" in out and "Cipher is (NONE)" not in out, out + p.stderr.decode()
    seen = wait_until(
        lambda: [l for l in srv.log_text().splitlines() if "Illegal SNI" in l],
        message="rustls to notice the IP address sent as SNI")
    assert all(" DEBUG " in l for l in seen), seen
    assert not any(" WARN " in l for l in seen), seen
