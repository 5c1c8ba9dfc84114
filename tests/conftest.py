"""Shared test helpers: fixture hosts, a throwaway host tree, and keeping the real machine out."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mailcow_wizard.context import Context
from mailcow_wizard.host import FakeRunner, Host

FIXTURES = Path(__file__).parent / "fixtures"
HOSTS = FIXTURES / "hosts"
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
"""mailcow's real files (docker-compose.yml of both generations, generator output) live beside the repo."""


def fixture_host(name: str, runner: FakeRunner | None = None) -> Host:
    """A non-live Host over tests/fixtures/hosts/NAME (commands only through the given FakeRunner)."""
    root = HOSTS / name
    assert root.is_dir(), f"no fixture host {name}"
    return Host(root, runner=runner, live=False)


def fixture_ctx(name: str, runner: FakeRunner | None = None, mailcow_dir: Path | None = None,
                conf: dict[str, str] | None = None) -> Context:
    host = fixture_host(name, runner)
    mdir = mailcow_dir or host.path("/opt/mailcow-dockerized")
    return Context(host=host, mailcow_dir=mdir, conf=conf or {})


@pytest.fixture
def make_root(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Host]:
    """Build a host tree from {"/etc/os-release": "...", ...} and return a non-live Host over it."""

    def build(files: dict[str, str | bytes], runner: FakeRunner | None = None) -> Host:
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        for rel, content in files.items():
            p = root / rel.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
        return Host(root, runner=runner, live=False)

    return build


@pytest.fixture(autouse=True)
def _no_user_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own state and log directories out of every test."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("MAILCOW_WIZARD_LOG", str(state / "mailcow-wizard.log"))
    monkeypatch.delenv("MAILCOW_HOSTNAME", raising=False)
    monkeypatch.delenv("MAILCOW_TZ", raising=False)
    if "NO_COLOR" in os.environ:
        monkeypatch.delenv("NO_COLOR")
