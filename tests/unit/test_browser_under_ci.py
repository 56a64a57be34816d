"""Under CI the browser test fails when it cannot get a browser, instead of skipping and leaving a green run that
never opened the dashboard; on a developer's machine it still skips."""

from __future__ import annotations

import pytest

from tests import browser


@pytest.fixture
def no_browser_and_no_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser.os, "geteuid", lambda: 1000)


def test_under_ci_a_missing_browser_fails_the_run(no_browser_and_no_apt: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(BaseException) as raised:  # a skip is a BaseException too, and must not pass here
        browser.chromium_binaries()
    assert raised.type is pytest.fail.Exception and "cannot run under CI" in str(raised.value)


def test_elsewhere_a_missing_browser_skips(no_browser_and_no_apt: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(BaseException) as raised:
        browser.chromium_binaries()
    assert raised.type is pytest.skip.Exception
