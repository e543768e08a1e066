"""helpers.events: one list of kinds, one emit, and what a message may show."""

from __future__ import annotations

import typing

from helpers import callback, events, flow, redact, transport, ui


def test_printable_escapes_control_and_invisible_characters_and_cuts_long_text():
    assert redact.printable("plain text, é ü 漢字") == "plain text, é ü 漢字"
    assert redact.printable("a\x1b[2Kb\rc\nd\te\x00") == "a\\x1b[2Kb\\rc\\nd\\te\\x00"
    assert redact.printable("\u202eevil\ufeff") == "\\u202eevil\\ufeff"
    assert redact.printable("x" * 5, 4) == "xxxx…"
    assert redact.printable("x" * 4, 4) == "xxxx"


def test_emit_shows_no_control_character_and_swallows_a_broken_view():
    seen = []
    events.emit(lambda kind, message: seen.append((kind, message)), "ignored", "GET /\x1b[1A")
    assert seen == [("ignored", "GET /\\x1b[1A")]

    def broken(kind, message):
        raise RuntimeError("widget bug")

    events.emit(broken, "error", "still fine")  # no exception
    events.emit(None, "error", "nobody listens")


def test_one_list_of_kinds_covers_what_the_listener_flow_and_ui_use():
    kinds = set(typing.get_args(events.Kind))
    assert set(ui.panel._KINDS) == kinds
    assert flow.EventCallback is events.EventCallback is callback.EventCallback


def test_server_sent_error_text_is_quoted_without_control_characters():
    assert transport.quoted("bad\x1b[2J\r\nthing") == "bad\\x1b[2J\\r\\nthing"
    assert transport.quoted("d" * 301) == "d" * 300 + "…"
    assert transport.quoted(None) is None


def test_the_listener_status_never_holds_a_control_character():
    listener = callback.CallbackListener("http://127.0.0.1:5000/cb", "state")
    listener._emit("ignored", "GET /\x1b[2K")  # whatever a future message quotes
    assert listener.status.message == "GET /\\x1b[2K"
