"""SIGINT, SIGTERM and SIGHUP: a step that changes the host is finished, never cut in half.

While a write or a fix step runs (`deferred()`), a signal is only noted; the step completes, and the
caller then stops before the next one, saying exactly what was done. Outside such a step a signal
raises `Interrupted` (a KeyboardInterrupt), which the entry point turns into a one-line message.
Before the entry point is ready (the first milliseconds of start-up) a signal ends the program quietly:
nothing has been changed yet, and a traceback would only alarm.
"""

from __future__ import annotations

import _signal  # the C module: `signal` builds its enums at import, a long window for a Ctrl-C
import contextlib
import sys
from collections.abc import Iterator

SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
_state = {"depth": 0, "ready": False}
_pending: list[int] = []


class Interrupted(KeyboardInterrupt):
    """A signal asked the program to stop; `signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return name(self.signum)


def name(signum: int) -> str:
    return {_signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM", _signal.SIGHUP: "SIGHUP"}.get(
        signum, f"signal {signum}")


def _handler(signum: int, _frame: object) -> None:
    # Python runs handlers on the main thread; `depth` counts deferred steps of any thread.
    if _state["depth"] > 0:
        _pending.append(signum)
        return
    raise Interrupted(signum)


def _unraisable(unraisable: object) -> None:
    """A stop raised where Python cannot raise (an import lock's weakref callback, a finalizer) would
    be printed as "Exception ignored" with a traceback, and lost: the signal is sent again, so that it
    reaches ordinary code and ends the program like any other stop."""
    exc = getattr(unraisable, "exc_value", None)
    if isinstance(exc, Interrupted):
        # From another thread, a moment later: a handler run inside this hook would land here again
        # (and should it, this hook sends it once more).
        import _thread

        _thread.start_new_thread(_send_later, (exc.signum,))
        return
    sys.__unraisablehook__(unraisable)  # type: ignore[arg-type]


def _send_later(signum: int) -> None:
    import os
    import time

    time.sleep(0.005)
    os.kill(os.getpid(), signum)


def install_early() -> None:
    """Quiet handlers for the start-up (called first thing when the package runs as the program)."""
    for sig in SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread: leave them alone
            _signal.signal(sig, _handler)
    sys.unraisablehook = _unraisable


def ready() -> None:
    """The entry point catches Interrupted from here on."""
    install_early()
    _state["ready"] = True


def _on_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def busy() -> bool:
    """A step that changes the host is under way (in any thread): a stop must wait for it."""
    return _state["depth"] > 0


def pending() -> int | None:
    """The first signal that arrived during a deferred step (None: none)."""
    return _pending[0] if _pending else None


def clear() -> None:
    _pending.clear()


@contextlib.contextmanager
def deferred(*, raise_after: bool = True) -> Iterator[None]:
    """Hold signals back while the block runs; with `raise_after`, raise Interrupted after it (on
    the main thread, outside any other deferred block) when one came in."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
    if raise_after and _pending and _state["depth"] == 0 and _state["ready"] and _on_main_thread():
        signum = _pending[0]
        _pending.clear()
        raise Interrupted(signum)
