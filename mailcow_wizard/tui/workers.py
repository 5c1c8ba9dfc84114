"""The wizard's one way to run blocking work: a thread worker whose result or error comes back once.

Every screen and widget that calls a blocking `WizardSession` method does it through
`run_blocking(work, done, name=...)`. The worker's end is handled in one place,
`on_worker_state_changed`: on success `done(result)` runs on the UI thread while the node is still
shown; on failure `worker_failed(name, error)` shows the error in words (a step overrides it to put
the error where it belongs, e.g. in a check's row). No worker can end without its screen hearing
of it, so nothing stays "running" forever.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.worker import Worker, WorkerState

from mailcow_wizard.tui.session import describe_error

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class BlockingWork:
    """Mixin for a Textual node (screen or widget): `run_blocking` and the one handler of its end."""

    def run_blocking(self, work: Callable[[], Any], done: Done | None = None, *, name: str,
                     group: str = "default", exclusive: bool = False,
                     failed: Failed | None = None) -> Worker[Any]:
        """Run `work()` in a thread; then `done(result)` (or `failed(error)`, else `worker_failed`)."""
        handlers = self._handlers()
        worker: Worker[Any] = self.run_worker(  # type: ignore[attr-defined]
            work, name=name, group=group, thread=True, exclusive=exclusive, exit_on_error=False)
        handlers[worker] = (done, failed)
        return worker

    def _handlers(self) -> dict[Worker[Any], tuple[Done | None, Failed | None]]:
        handlers = getattr(self, "_blocking_handlers", None)
        if handlers is None:
            handlers = {}
            self._blocking_handlers = handlers
        return handlers

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        handlers = self._handlers()
        if event.worker not in handlers or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                               WorkerState.CANCELLED):
            return
        done, failed = handlers.pop(event.worker)
        if not self.is_attached:  # type: ignore[attr-defined]
            return  # the person moved on; the session already holds what the work produced
        if event.state is WorkerState.SUCCESS:
            if done is not None:
                done(event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error or RuntimeError("unknown error")
            if failed is not None:
                failed(error)
            else:
                self.worker_failed(event.worker.name, error)

    def worker_failed(self, name: str, error: BaseException) -> None:
        """Default: say what failed, in words, where the person looks (a step's status line)."""
        message = f"{name} failed: {describe_error(error)}"
        setter = getattr(self, "set_status", None) or getattr(self.screen, "set_status", None)  # type: ignore[attr-defined]
        if setter is not None:
            setter(message)
        self.notify(message, severity="error", timeout=10)  # type: ignore[attr-defined]
