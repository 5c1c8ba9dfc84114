"""The demo's copy on first need: the wizard's first screen draws before the sample host is copied."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from mailcow_wizard.demo import MARKER, DeferredDemo
from mailcow_wizard.tui.session import NotLoaded, WizardSession


def test_paths_at_once_files_on_ready() -> None:
    demo = DeferredDemo()
    try:
        ctx = demo.context
        assert demo.base.is_dir() and ctx.host.root == demo.base / "root"
        assert not ctx.host.root.exists(), "nothing is copied before it is needed"
        demo.ready()
        assert (ctx.mailcow_dir / "docker-compose.yml").is_file()
        assert (demo.base / MARKER).is_file()
        assert ctx.host.run(["systemctl", "is-active", "exim4.service"]) is not None, "answers loaded"
        demo.ready()  # once only: a second call neither copies again nor fails
    finally:
        shutil.rmtree(demo.base, ignore_errors=True)


def test_ready_from_two_threads_copies_once(tmp_path: Path) -> None:
    demo = DeferredDemo(tmp_path / "demo")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            demo.ready()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert (demo.context.mailcow_dir / "docker-compose.yml").is_file()


def test_a_foreign_directory_is_refused_on_ready_and_every_time_after(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "precious.txt").write_text("mine")
    demo = DeferredDemo(taken)
    for _ in range(2):
        with pytest.raises(FileExistsError):
            demo.ready()
    assert (taken / "precious.txt").read_text() == "mine"


def test_session_reads_the_host_only_after_ready() -> None:
    demo = DeferredDemo()
    calls: list[str] = []

    def ready() -> None:
        calls.append("ready")
        demo.ready()

    try:
        session = WizardSession(demo.context, demo=True, demo_dir=demo.base, host_ready=ready,
                                environ={"TERM": "xterm-256color"})
        assert session.generation_if_known is None and not session.loaded and calls == []
        assert session.inspect_checkout() == (True, False)  # the checkout exists, no mailcow.conf yet
        assert calls and session.generation == "current"
        with pytest.raises(NotLoaded):  # a property never reads the host: the answers need ensure_loaded()
            session.values  # noqa: B018
        session.ensure_loaded()
        assert session.values["HTTP_PORT"] == "80", "the answers are planned on first use"
    finally:
        shutil.rmtree(demo.base, ignore_errors=True)
