"""A real headless Chromium for the web face's browser tests (issue 16),
driven through selenium and chromedriver (both installed by
scripts/install-test-deps). The whole session runs inside the server's
network namespace: chromedriver is started there, and every selenium call
(a socket to chromedriver) is made from the thread that switched there.

Screenshots go to tests/e2e/output/screenshots/ (or $POSTIE_TEST_OUTPUT),
which git ignores; tests assert on page content, never on pixels."""

import contextlib
import os
import re

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

OUTPUT = os.environ.get(
    "POSTIE_TEST_OUTPUT",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "output"),
)
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def screenshot_dir():
    path = os.path.join(OUTPUT, "screenshots")
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def browser(server):
    """A headless Chromium that can reach `server` (with a fresh profile);
    yields a Browser. Use it for the whole test body."""
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-default-apps",
                "--metrics-recording-only", "--no-default-browser-check",
                "--ignore-certificate-errors"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    with server.netns():
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        try:
            yield Browser(driver, server)
        finally:
            driver.quit()



def replaced(element):
    """True once `element`'s page has been replaced (like `staleness_of`, which knows only
    the stale-element error). Chrome may instead answer that the node "does not belong
    to the document", which means the same; any other error is raised."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e):
            return True
        raise


class Browser:
    def __init__(self, driver, server, kind="http"):
        self.driver = driver
        host, port = server.addr(kind)
        self.base = "%s://%s:%d" % ("https" if kind == "https" else "http", host, port)

    def get(self, path):
        self.driver.get(self.base + path)
        return self

    @property
    def path(self):
        return re.sub(r"^https?://[^/]+", "", self.driver.current_url)

    @property
    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    @property
    def title(self):
        return self.driver.find_element(By.TAG_NAME, "h1").text

    def submit(self, action, fields=None, button=None):
        """Fills the form whose action is `action` (text inputs by name,
        checkboxes with True/False) and clicks its submit button (the one
        whose text contains `button`, else the first)."""
        form = self.driver.find_element(By.CSS_SELECTOR, 'form[action="%s"]' % action)
        for name, value in (fields or {}).items():
            field = form.find_element(By.NAME, name)
            if field.get_attribute("type") == "checkbox":
                if bool(value) != field.is_selected():
                    field.click()
            elif field.tag_name == "select":
                field.find_element(By.CSS_SELECTOR, 'option[value="%s"]' % value).click()
            else:
                field.clear()
                field.send_keys(value)
        buttons = form.find_elements(By.CSS_SELECTOR, 'button[type="submit"], button:not([type])')
        if button is not None:
            buttons = [b for b in buttons if button in b.text]
        assert buttons, "no submit button in form %s" % action
        old_page = self.driver.find_element(By.TAG_NAME, "html")
        buttons[0].click()
        # The click returns before the navigation: wait (with a deadline) for the
        # page that posted to be replaced by the response.
        WebDriverWait(self.driver, 30).until(lambda d: replaced(old_page))
        WebDriverWait(self.driver, 30).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        return self

    def forms(self):
        return [f.get_attribute("action") for f in self.driver.find_elements(By.TAG_NAME, "form")]

    def screenshot(self, name):
        self.driver.save_screenshot(os.path.join(screenshot_dir(), name + ".png"))
        return self

    def cookies(self):
        return {c["name"]: c for c in self.driver.get_cookies()}
