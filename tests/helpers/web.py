"""The web tests' tiny tutoring model and headless Chromium.

``chromium_driver`` starts Debian's headless Chromium through its chromedriver. Where they are
missing the browser tests skip with the reason, except in CI (``CI`` set), where they fail:
``.ci/run`` installs them, so a skip there would hide a broken install.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from PIL import Image

CHROMIUM = os.environ.get("RILEY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RILEY_CHROMEDRIVER", "/usr/bin/chromedriver")
# Without the background-networking flags Chromium's own connections are refused on a closed
# network and slow the start; the fresh profile keeps runs independent.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1300,1700",
)


def _missing_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(
            f"{reason}; .ci/run installs chromium and chromium-driver, so CI must have them"
        )
    pytest.skip(reason)


def chromium_driver() -> Any:
    """A Selenium driver of headless Chromium with a fresh profile (``driver.profile`` holds it)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).is_file() or shutil.which(path)):
            _missing_browser(f"no {path}: apt-get install {package} (Debian) to run browser tests")
    from selenium.webdriver.chrome.service import Service  # with selenium, checked above

    profile = tempfile.mkdtemp(prefix="riley-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.profile = profile
    return driver


def quit_driver(driver: Any) -> None:
    driver.quit()
    shutil.rmtree(driver.profile, ignore_errors=True)


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """The first truthy value of ``condition()``, polled until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.05)


def screenshot_folder(tmp_path: Path) -> Path:
    """Where the browser tests put their screenshots: ``$RILEY_SCREENSHOTS`` or a temp folder.

    ``RILEY_SCREENSHOTS=docs/web pytest tests/web/test_browser.py`` refreshes the README's.
    """
    folder = Path(os.environ.get("RILEY_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_page(driver: Any, path: Path) -> Path:
    """A screenshot of the whole page (the window grown to its height), as a 256-colour PNG.

    The palette keeps the README's pictures small (a third of the size) with no visible loss.
    """
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    page_height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(page_height) + 20, 4000))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(width, height)
    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path
