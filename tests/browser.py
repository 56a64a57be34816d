"""The real dashboard in a real browser: Debian's Chromium (installed with apt when missing), the Streamlit app
served as a subprocess on loopback, and a page object that works Streamlit's widgets the way a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import free_port

CHROMIUM_PACKAGES = ("chromium", "chromium-driver")
WAIT = 30  # seconds for a page or a rerun; Streamlit reruns in well under that on loopback


def _unavailable(reason: str) -> None:
    """Without a browser the browser test cannot run: skipped on a developer's machine, a failure under CI (`CI`
    set, as `.ci/run` does), where a green run must not hide that it never ran."""
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run under CI: {reason}")
    pytest.skip(reason)


def chromium_binaries() -> tuple[str, str]:
    """Paths of chromium and chromedriver, installing Debian's packages first if either is missing."""
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if all(found):
        return found  # type: ignore[return-value]
    if not shutil.which("apt-get") or os.geteuid() != 0:
        _unavailable("chromium/chromedriver missing and apt-get is not usable here (needs Debian and root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", *CHROMIUM_PACKAGES]
    result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if not all(found):
        _unavailable(f"could not install {' '.join(CHROMIUM_PACKAGES)} with apt-get: {result.stderr[-500:]}")
    return found  # type: ignore[return-value]


@contextmanager
def headless_chromium(chromium: str, chromedriver: str) -> Iterator[WebDriver]:
    """Headless Chromium that resolves no host names (pages are on 127.0.0.1) and phones nobody."""
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def streamlit_server(app: Path, api_url: str, log: Path, timeout: float = 60, args: Sequence[str] = (),
                     env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app` on a free loopback port, talking to the API at `api_url`, with more `args` and `env`
    if given; yields its base URL."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("streamlit")), "run", str(app), "--server.address", "127.0.0.1",
               "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false", *args]
    with log.open("w") as output:
        server = subprocess.Popen(command, env={**os.environ, "API_URL": api_url, **(env or {})}, stdout=output,
                                  stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not come up on {url}:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok"
    except httpx.TransportError:
        return False


class Dashboard:
    """The signed-in user's view: find widgets by their labels, act, and wait for Streamlit's rerun."""

    def __init__(self, driver: WebDriver, url: str, screenshots: Path) -> None:
        self.driver, self.url, self.screenshots = driver, url, screenshots
        self.wait = WebDriverWait(driver, WAIT, ignored_exceptions=[StaleElementReferenceException])

    def sign_in(self, token: str) -> None:
        self.driver.get(self.url)
        self.wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "input[aria-label='API token']")))
        self.type_into("API token", token)
        self.press("Sign in")

    def sign_in_through_provider(self) -> None:
        """Press the sign-in page's button: the browser goes to the provider and back (st.login)."""
        self.driver.get(self.url)
        self.press("Sign in")

    def sidebar_text(self) -> str:
        return self.driver.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text

    def idle(self) -> None:
        """Wait until the script has finished its run (Streamlit shows "Running..." meanwhile)."""
        self.wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid='stApp']")
                        .get_attribute("data-test-script-state") == "notRunning")

    def wait_for_title(self, title: str) -> None:
        self.wait.until(lambda _: self.title() == title)
        self.idle()

    def wait_for_text(self, text: str) -> None:
        self.wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid='stMain']"), text))
        self.idle()

    def title(self) -> str:
        return " ".join(h.text for h in self.driver.find_elements(By.CSS_SELECTOR, "[data-testid='stMain'] h1"))

    def go_to(self, page_title: str) -> None:
        """Follow the sidebar link to a page, as a click (a new URL load would start a new, signed-out session)."""
        link = f"//*[@data-testid='stSidebarNav']//a[.//span[normalize-space()='{page_title}']]"
        self.wait.until(ready.element_to_be_clickable((By.XPATH, link))).click()
        self.wait_for_title(page_title)

    def choose(self, label: str, option: str) -> None:
        """Pick `option` in the selectbox labelled `label`: open it, click the option, see it selected."""
        box = (By.CSS_SELECTOR, f"input[role='combobox'][aria-label='{label}']")
        self.wait.until(ready.element_to_be_clickable(box)).click()
        choice = f"//*[@role='listbox'][@aria-label='{label}']//*[@role='option'][normalize-space()='{option}']"
        self.wait.until(ready.element_to_be_clickable((By.XPATH, choice))).click()
        self.wait.until(lambda d: d.find_element(*box).get_attribute("value") == option)
        self.idle()

    def selected(self, label: str) -> str:
        """The selectbox's current value, once it is on the page (a page draws its title before its data)."""
        box = self.wait.until(ready.presence_of_element_located(
            (By.CSS_SELECTOR, f"input[role='combobox'][aria-label='{label}']")))
        self.idle()
        return box.get_attribute("value") or ""

    def type_into(self, label: str, text: str, kind: str = "input") -> None:
        """Type into the text input (`kind="input"`) or text area (`kind="textarea"`) labelled `label`."""
        field = self.wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, f"{kind}[aria-label='{label}']")))
        field.clear()
        field.send_keys(text)

    def press(self, label: str) -> None:
        button = f"//button[.//p[normalize-space()='{label}']]"
        self.wait.until(ready.element_to_be_clickable((By.XPATH, button))).click()

    def wait_for_metric(self, label: str, expected: str, within: float = 15) -> str:
        """The metric's value once it reads `expected`, or its last value after `within` seconds. The dashboard
        caches API reads for a few seconds, so each miss reruns the page (its own sidebar link)."""
        deadline = time.monotonic() + within
        while (value := self.metric(label)) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
            self.go_to(self.title())
        return value

    def metric(self, label: str) -> str:
        """The value of the metric labelled `label`, waiting for it to be drawn."""
        def value(driver: WebDriver) -> str | None:
            for metric in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stMetric']"):
                if metric.find_element(By.CSS_SELECTOR, "[data-testid='stMetricLabel']").text == label:
                    return metric.find_element(By.CSS_SELECTOR, "[data-testid='stMetricValue']").text
            return None

        try:
            return self.wait.until(value)
        except TimeoutException as exc:
            raise AssertionError(f"no metric {label!r} on the page {self.title()!r}") from exc

    def texts(self, testid: str) -> list[str]:
        """Visible text of every element of one kind, e.g. "stHeading" or "stCaptionContainer"."""
        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, f"[data-testid='{testid}']")]

    def table_under(self, subheader: str) -> list[dict[str, str]]:
        """Rows of the table under a subheader (before the next subheader), if any. st.dataframe paints on a canvas
        but keeps an accessible copy of the cells it shows in the DOM; that copy is what this reads (so only the rows
        in view: enough for short tables)."""
        heading = f"h3[normalize-space()='{subheader}']"
        grids = self.driver.find_elements(By.XPATH, f"//{heading}/following::*[@data-testid='stDataFrame'][1]"
                                                    f"[preceding::h3[1][self::{heading}]]")
        rows: list[list[str]] = []
        deadline = time.monotonic() + (WAIT if grids else 0)
        while grids:  # a grid out of view may not have put its cells in the DOM yet: bring it in view and wait
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", grids[0])
            rows = [[_content(cell) for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
                    for grid in grids for row in grid.find_elements(By.CSS_SELECTOR, "tr")]
            if len(rows) > 1 or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        if not rows:
            return []  # no table under this subheader
        header, *body = rows
        return [dict(zip(header, row, strict=True)) for row in body]

    def screenshot(self, name: str) -> Path:
        """The whole page, not just the window: grow the window to the page's height for the shot."""
        size = self.driver.get_window_size()
        width, height = size["width"], size["height"]
        page_height = self.driver.execute_script(
            "return document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        path = self.screenshots / f"{name}.png"
        try:
            self.driver.set_window_size(width, min(max(height, page_height + 120), 5000))
            time.sleep(0.5)  # the tables are canvases: let them repaint at the new size
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(width, height)
        return path


def _content(cell: WebElement) -> str:
    return (cell.get_attribute("textContent") or "").strip()
