"""The web face's security rules (issue 16), through a real server with
`requests`: session cookie flags over http and https, CSRF tokens on every
form (403 without), output escaped (a display name holding markup), a user
never reaching another user's data or the admin pages and API, and the
sign-in form throttled by the very limiter of SMTP, POP3 and IMAP."""

import imaplib
import re

from harness import IMAP_LISTEN
from webclient import Web, text_of

ADMIN = "root@example.org"
XSS = '<script>alert("owned")</script><img src=x onerror=alert(1)>'


def start(server_factory, **kwargs):
    srv = server_factory(listen=IMAP_LISTEN, **kwargs)
    srv.add_user("alice@example.org", "alice-secret")
    srv.add_user("bob@example.org", "bob-secret")
    srv.add_user(ADMIN, "root-secret")
    srv.cli("user", "admin", ADMIN, "on")
    return srv


def session_cookie(response):
    cookies = [v for k, v in response.headers.items() if k.lower() == "set-cookie"]
    raw = response.raw.headers.getlist("Set-Cookie") if hasattr(response.raw.headers, "getlist") else cookies
    found = [c for c in raw if c.startswith("postie_session=")]
    assert found, raw
    return found[0]


def test_session_cookie_flags_over_http_and_https(server_factory):
    srv = start(server_factory)
    plain = session_cookie(Web(srv).sign_in("alice@example.org", "alice-secret"))
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Path=/" in plain
    assert "Secure" not in plain, "a Secure cookie would never come back over http"
    secure = session_cookie(Web(srv, "https").sign_in("alice@example.org", "alice-secret"))
    assert "HttpOnly" in secure and "SameSite=Strict" in secure and "; Secure" in secure


def test_every_page_carries_the_strict_policy(server_factory):
    srv = start(server_factory)
    web = Web(srv)
    for path in ("/login", "/static/style.css"):
        r = web.get(path)
        assert r.status_code == 200
        csp = r.headers["Content-Security-Policy"]
        assert "script-src" not in csp and csp.startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
    web.sign_in(ADMIN, "root-secret")
    for path in ("/account", "/account/app-passwords", "/account/setup", "/admin",
                 "/admin/accounts", "/admin/domains", "/admin/queue"):
        r = web.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert r.headers["Content-Type"].startswith("text/html")
        assert "script-src" not in r.headers["Content-Security-Policy"]
        assert "<script" not in r.text.lower(), path


def test_forms_without_the_csrf_token_are_refused(server_factory):
    srv = start(server_factory)
    web = Web(srv)
    # The sign-in form too: no token, or a token that is not the cookie's.
    r = web.post("/login", data={"address": "alice@example.org", "password": "alice-secret"})
    assert r.status_code == 403
    web.get("/login")
    r = web.post("/login", data={"address": "alice@example.org", "password": "alice-secret",
                                 "csrf": "0" * 32})
    assert r.status_code == 403
    web.sign_in("alice@example.org", "alice-secret")
    for action, fields in [
        ("/account/app-passwords", {"name": "laptop"}),
        ("/account/password", {"current": "alice-secret", "new": "n3w-secret-pw",
                               "again": "n3w-secret-pw"}),
        ("/logout", {}),
    ]:
        assert web.post(action, data=fields).status_code == 403, action
        bad = dict(fields, csrf="f" * 32)
        assert web.post(action, data=bad).status_code == 403, action
    # Nothing happened: no app password, the old password still works.
    assert "laptop" not in text_of(web.get("/account/app-passwords").text)
    Web(srv).sign_in("alice@example.org", "alice-secret")
    # And with the token the same form works.
    r = web.form("/account/app-passwords", "/account/app-passwords", {"name": "laptop"})
    assert r.status_code in (200, 303)
    assert "laptop" in text_of(web.get("/account/app-passwords").text)


def test_markup_in_a_display_name_is_shown_as_text(server_factory):
    srv = start(server_factory)
    srv.cli("user", "display-name", "alice@example.org", XSS)
    for who, password, path in [("alice@example.org", "alice-secret", "/account"),
                                (ADMIN, "root-secret", "/admin/accounts")]:
        web = Web(srv)
        web.sign_in(who, password)
        page = web.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;" in page, path
        assert XSS in text_of(page), "the name is shown, as text"


def test_a_user_reaches_only_their_own_data(server_factory):
    srv = start(server_factory)
    alice = Web(srv)
    alice.sign_in("alice@example.org", "alice-secret")
    r = alice.form("/account/app-passwords", "/account/app-passwords", {"name": "alice-phone"})
    assert r.status_code in (200, 303)
    bob = Web(srv)
    bob.sign_in("bob@example.org", "bob-secret")
    assert "alice-phone" not in bob.get("/account/app-passwords").text
    # Bob cannot revoke alice's app password by naming it.
    bob.form("/account/app-passwords", "/account/app-passwords/revoke", {"name": "alice-phone"})
    assert "alice-phone" in alice.get("/account/app-passwords").text
    # No admin page, no admin form, no admin API for bob.
    for path in ("/admin", "/admin/accounts", "/admin/queue", "/admin/domains"):
        assert bob.get(path).status_code == 403, path
    csrf = bob.csrf("/account")
    r = bob.post("/admin/accounts", data={"address": "evil@example.org", "password": "x" * 12,
                                          "csrf": csrf})
    assert r.status_code == 403
    auth = ("bob@example.org", "bob-secret")
    assert bob.get("/api/v1/accounts", auth=auth).status_code == 403
    assert bob.get("/api/v1/accounts/alice@example.org", auth=auth).status_code == 403
    r = bob.post("/api/v1/accounts/alice@example.org/app-passwords", auth=auth,
                 json={"name": "stolen"})
    assert r.status_code == 403
    assert "evil@example.org" not in srv.cli("user", "list").stdout
    # Without a session, pages send to the sign-in form and the API says 401.
    anonymous = Web(srv)
    r = anonymous.get("/account")
    assert r.status_code in (302, 303) and r.headers["Location"] == "/login"
    assert anonymous.get("/api/v1/accounts").status_code == 401


def test_sign_in_shares_the_mail_protocols_login_throttle(server_factory):
    srv = start(server_factory, auth={"max_failures_per_ip": 4, "max_failures_per_account": 100,
                                      "failure_delay_ms": 20, "max_failure_delay_ms": 40})
    web = Web(srv)
    for guess in range(4):
        r = web.sign_in("alice@example.org", "guess-%d" % guess, expect=401)
        assert "wrong" in text_of(r.text).lower()
    # Locked out: even the right password is refused, on the web...
    r = web.sign_in("alice@example.org", "alice-secret", expect=429)
    # ...by HTTP Basic on the API...
    r = web.get("/api/v1/me", auth=("alice@example.org", "alice-secret"))
    assert r.status_code == 429, r.status_code
    # ...and over IMAP from the same address: one limiter for every protocol.
    m = srv.imap()
    try:
        m.login("alice@example.org", "alice-secret")
        raise AssertionError("IMAP login from a locked-out address succeeded")
    except imaplib.IMAP4.error as e:
        assert "[UNAVAILABLE]" in str(e), e
    m.logout()
    assert "login refused" in srv.log_text()


def test_web_only_account_password_signs_in_on_the_web_and_nowhere_else(server_factory):
    srv = start(server_factory, auth={"account_password": "web-only"})
    web = Web(srv)
    # The account password opens the web pages (and the API)...
    web.sign_in("alice@example.org", "alice-secret")
    assert web.get("/api/v1/me", auth=("alice@example.org", "alice-secret")).status_code == 200
    # ...where alice makes an app password for her mail client...
    r = web.form("/account/app-passwords", "/account/app-passwords", {"name": "mail-app"})
    secret = re.search(r"postie-[a-z2-7]{8}-[a-z2-7]{24}", r.text).group(0)
    # ...because IMAP takes only that one.
    m = srv.imap()
    try:
        m.login("alice@example.org", "alice-secret")
        raise AssertionError("IMAP took the account password under web-only")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e), e
    m.logout()
    m = srv.imap()
    assert m.login("alice@example.org", secret)[0] == "OK"
    m.logout()
    # The sign-in form takes the account password only, never an app password.
    Web(srv).sign_in("alice@example.org", secret, expect=401)
