"""Take the dashboard screenshots in docs/dashboard.md from a running `make run`, in headless Chromium.

Needs Debian's chromium and chromium-driver and the `selenium` test extra:
    apt-get install -y chromium chromium-driver
    .venv/bin/python docs/screenshots.py            # writes docs/screenshots/*.png
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

OUT = Path(__file__).resolve().parent / "screenshots"


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1500,1100"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_text(driver: webdriver.Chrome, text: str, timeout: float = 30) -> None:
    WebDriverWait(driver, timeout).until(ready.text_to_be_present_in_element((By.TAG_NAME, "body"), text))
    time.sleep(1.5)  # let charts and tables finish painting


def page(driver: webdriver.Chrome, path: str, text: str, chart: bool = False) -> None:
    """Open a page from the sidebar, wait for it (and its first chart), save `<path>.png`."""
    driver.find_element(By.CSS_SELECTOR, f"a[href$='/{path}']").click()
    wait_text(driver, text)
    if chart:
        WebDriverWait(driver, 30).until(ready.presence_of_element_located((By.CSS_SELECTOR, ".js-plotly-plot")))
        time.sleep(2)
    driver.save_screenshot(str(OUT / f"{path}.png"))


def main(base: str = "http://127.0.0.1:8501", token_file: str = "data/demo-tokens.json") -> None:
    OUT.mkdir(exist_ok=True)
    token = json.loads(Path(token_file).read_text())["supervisor"]
    driver = browser()
    try:
        driver.get(base)
        field = WebDriverWait(driver, 60).until(ready.presence_of_element_located((By.CSS_SELECTOR,
                                                                                     "input[type=password]")))
        field.send_keys(token, Keys.ENTER)
        wait_text(driver, "Flagged, awaiting review")
        driver.save_screenshot(str(OUT / "queue.png"))
        driver.find_element(By.XPATH, "//button[.//p[text()='Open session']]").click()
        wait_text(driver, "Audit history")
        driver.save_screenshot(str(OUT / "session.png"))
        driver.set_window_size(1500, 2600)
        time.sleep(1.5)
        driver.save_screenshot(str(OUT / "session-full.png"))
        driver.set_window_size(1500, 1100)
        page(driver, "kpis", "AI–supervisor agreement per field", chart=True)
        page(driver, "latency", "Latency", chart=True)
        page(driver, "trends", "Quality trends", chart=True)
        page(driver, "jobs", "Jobs by status and stage")
        page(driver, "governance", "Replay runs")
    finally:
        driver.quit()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main(*sys.argv[1:])
