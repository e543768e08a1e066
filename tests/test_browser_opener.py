"""Opening the sign-in page: through BROWSER when set, never a console browser in a kernel."""

from __future__ import annotations

import sys

from helpers import browser


def test_browser_variable_is_used_and_link_always_shown(tmp_path, monkeypatch, capsys):
    seen = tmp_path / "opened.txt"
    script = tmp_path / "fake_browser.py"
    script.write_text(f"import sys; open({str(seen)!r}, 'w').write(sys.argv[1])")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    assert browser.open_url("http://127.0.0.1:1/x?a=1", label="Sign in") is None  # no Out: line
    assert seen.read_text() == "http://127.0.0.1:1/x?a=1"
    assert browser.start_browser("http://127.0.0.1:1/y") is True
    assert "Sign in: http://127.0.0.1:1/x?a=1" in capsys.readouterr().out


def test_no_display_and_no_browser_variable_only_shows_the_link(monkeypatch, capsys):
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert browser.start_browser("http://127.0.0.1:1/x") is False
    browser.open_url("http://127.0.0.1:1/x")
    assert "http://127.0.0.1:1/x" in capsys.readouterr().out
