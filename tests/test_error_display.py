"""In a notebook, the tutorial's errors show their message, the traceback one click away."""

from __future__ import annotations

import pytest

from helpers import error_display
from helpers.errors import CallbackTimeout

IPython = pytest.importorskip("IPython")


@pytest.fixture
def shell():
    """A real IPython shell with the handler registered, as a notebook kernel has it."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    assert error_display.install(shell)
    yield shell
    InteractiveShell.clear_instance()


def test_outside_a_notebook_nothing_is_registered():
    assert error_display.install() is False


def test_a_named_error_shows_its_message_and_no_traceback(shell, capsys):
    result = shell.run_cell(
        "from helpers.errors import CallbackTimeout\n"
        "raise CallbackTimeout(3, 'http://127.0.0.1:5000/login/oauth2/code/goto')"
    )
    assert isinstance(result.error_in_exec, CallbackTimeout)  # the cell still fails: Run All stops
    out = capsys.readouterr()
    assert "CallbackTimeout: No valid callback reached" in out.out
    assert "Traceback" not in out.out + out.err


def test_the_traceback_is_folded_under_the_message():
    try:
        raise CallbackTimeout(3, "http://127.0.0.1:5000/cb")
    except CallbackTimeout as e:
        shown = error_display.bundle(e, e.__traceback__)
    html = shown["text/html"]
    folded = html.index("<details")
    assert "CallbackTimeout</b>: No valid callback" in html[:folded]
    assert "Traceback" not in html[:folded] and "Traceback" in html[folded:]
    assert "Traceback" not in shown["text/plain"]


def test_ctrl_c_during_a_helpers_wait_is_one_line(shell, capsys, ctrl_c):
    result = shell.run_cell(
        "import _thread, threading\n"
        "from helpers.authorization import AuthorizationRequest\n"
        "from helpers.callback import CallbackListener\n"
        "from tests.ports import free_port\n"
        "uri = f'http://127.0.0.1:{free_port()}/cb'\n"
        "listener = CallbackListener(uri, 'some-state').start()\n"
        "threading.Timer(0.3, _thread.interrupt_main).start()  # the learner presses ■\n"
        "listener.wait(30)"
    )
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    out = capsys.readouterr()
    assert out.out.strip().splitlines()[-1] == error_display.INTERRUPTED
    assert "Traceback" not in out.out + out.err


def test_any_other_interrupt_keeps_ipythons_traceback(shell, capsys):
    result = shell.run_cell("raise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    out = capsys.readouterr()
    assert "KeyboardInterrupt" in out.out + out.err
    assert error_display.INTERRUPTED not in out.out
