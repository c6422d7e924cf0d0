"""The web face in a real browser (issue 16): headless Chromium through
selenium. An administrator signs in, adds a domain and a user; the user signs
in, makes an app password and reads mail with it over IMAP, finds the device
setup page with its QR code and downloads the .mobileconfig; the
administrator flushes the queue and signs out. Every page is screenshotted
into tests/e2e/output/screenshots/ (not committed); the asserts are on the
pages' content."""

import glob
import os
import plistlib

from dnsserver import TestDNS
from harness import HOSTNAME, IMAP_LISTEN, wait_until
from network import network  # noqa: F401  (the fixture)
from selenium.webdriver.common.by import By
from webdriving import browser, screenshot_dir

ADMIN = "root@example.org"


def test_admin_and_user_journey(network, server_factory):
    # A test DNS for the domain page's live check: web.example publishes its MX
    # and SPF records and nothing else yet.
    dns = TestDNS(network, [
        {"name": "web.example", "type": "MX", "value": "10 %s" % HOSTNAME},
        {"name": "web.example", "type": "TXT", "value": "v=spf1 mx -all"},
    ], zones=["example"]).start()
    srv = server_factory(network=network, listen=IMAP_LISTEN,
                         extra={"dns": {"nameservers": [dns.nameserver]}})
    srv.add_user(ADMIN, "root-secret-pw")
    srv.cli("user", "admin", ADMIN, "on")
    # Something in the queue for the admin to flush: mail to a domain the test
    # DNS does not serve is deferred.
    with srv.smtp("submission") as s:
        s.login(ADMIN, "root-secret-pw")
        s.sendmail("root@example.org", ["someone@far.test"], b"Subject: queued\r\n\r\nhi\r\n")
    wait_until(lambda: srv.queue_entries(), message="the message is queued")

    downloads = os.path.join(screenshot_dir(), "..", "downloads")
    os.makedirs(downloads, exist_ok=True)
    for old in glob.glob(os.path.join(downloads, "*")):
        os.remove(old)

    with browser(srv) as b:
        b.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                 {"behavior": "allow", "downloadPath": os.path.abspath(downloads)})
        # Pages need a session: the sign-in form first.
        b.get("/admin")
        assert b.path == "/login"
        b.screenshot("01-sign-in")
        b.submit("/login", {"address": ADMIN, "password": "root-secret-pw"})
        assert b.path == "/admin", b.path
        assert "Dashboard" in b.text or "Queue" in b.text
        assert "smtp" in b.text and "127.0.0.1" in b.text  # the listeners
        b.screenshot("02-admin-dashboard")

        b.get("/admin/domains")
        b.submit("/admin/domains", {"domain": "web.example"})
        assert "web.example" in b.text
        b.screenshot("03-admin-domains")
        b.get("/admin/domains/web.example")
        assert "MX" in b.text and "_dmarc.web.example" in b.text
        # The live check: green for what DNS has, red for what it lacks.
        ok = b.driver.find_elements(By.CSS_SELECTOR, ".status-ok")
        bad = b.driver.find_elements(By.CSS_SELECTOR, ".status-bad")
        assert len(ok) >= 2 and len(bad) >= 3, (b.text, len(ok), len(bad))
        b.screenshot("04-admin-domain-dns")

        b.get("/admin/accounts")
        b.submit("/admin/accounts", {"address": "carol@web.example", "password": "carol-pw-123",
                                     "display_name": "Carol Example"})
        assert "carol@web.example" in b.text and "Carol Example" in b.text
        b.screenshot("05-admin-accounts")

        b.get("/admin/queue")
        assert "someone@far.test" in b.text
        b.screenshot("06-admin-queue")
        b.submit("/admin/queue/flush")
        assert b.path.startswith("/admin/queue")
        b.get("/admin/dkim")
        b.screenshot("07-admin-dkim")
        b.get("/admin")
        b.submit("/logout")
        assert b.path == "/login"
        b.get("/admin")
        assert b.path == "/login", "signed out: the session is gone"

        # The new user signs in with the password the admin gave.
        b.submit("/login", {"address": "carol@web.example", "password": "carol-pw-123"})
        assert b.path == "/account", b.path
        assert "carol@web.example" in b.text and "Carol Example" in b.text
        b.screenshot("08-account")
        b.get("/admin")
        assert "403" in b.text or "administrators only" in b.text

        b.get("/account/app-passwords")
        b.submit("/account/app-passwords", {"name": "phone"})
        secret = b.driver.find_element(By.CSS_SELECTOR, ".secret").text.strip()
        assert secret.startswith("postie-"), secret
        b.screenshot("09-app-password-created")
        b.get("/account/app-passwords")
        assert "phone" in b.text and secret not in b.text, "shown once"

        b.get("/account/setup")
        assert str(srv.port("imaps")) in b.text and str(srv.port("submissions")) in b.text
        qr = b.driver.find_elements(By.CSS_SELECTOR, "svg rect")
        assert len(qr) > 100, "a QR code is drawn"
        b.screenshot("10-account-setup")
        link = b.driver.find_element(By.CSS_SELECTOR, 'a[href="/account/mobileconfig"]')
        link.click()
        profile_path = wait_until(
            lambda: [p for p in glob.glob(os.path.join(downloads, "*.mobileconfig"))
                     if os.path.getsize(p) > 0],
            timeout=20, message="the profile is downloaded")[0]
        b.get("/account")
        b.submit("/logout")

    # The app password works over IMAP at once.
    m = srv.imap("imaps")
    assert m.login("carol@web.example", secret)[0] == "OK"
    m.logout()

    # The downloaded profile is an Apple configuration profile for carol.
    with open(profile_path, "rb") as f:
        profile = plistlib.load(f)
    assert profile["PayloadType"] == "Configuration"
    mail = [p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.mail.managed"]
    assert len(mail) == 1
    mail = mail[0]
    assert mail["EmailAddress"] == "carol@web.example"
    assert mail["IncomingMailServerPortNumber"] == srv.port("imaps")
    assert mail["OutgoingMailServerPortNumber"] == srv.port("submissions")
    assert mail["IncomingMailServerUseSSL"] is True and mail["OutgoingMailServerUseSSL"] is True
    assert mail["IncomingMailServerUsername"] == "carol@web.example"

    # The flush made the queued message due: the runner tried it again.
    assert "admin action" in srv.log_text() and "flush" in srv.log_text()
