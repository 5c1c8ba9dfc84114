"""Shared test helpers: fixture hosts, a throwaway host tree, mailcow's real files from MAILCOW_SRC, and
keeping the real machine out."""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mailcow_wizard.context import Context
from mailcow_wizard.host import FakeRunner, Host

FIXTURES = Path(__file__).parent / "fixtures"
HOSTS = FIXTURES / "hosts"
REPO = Path(__file__).resolve().parent.parent
MAILCOW_FIXTURES = FIXTURES / "mailcow"
"""This project's stand-ins for a checkout: MAILCOW_FIXTURES / "current" | "2020" / docker-compose.yml,
mailcow.conf (facts only; see its README). Tests of our own logic use these."""

MAILCOW_SRC_SKIP = "MAILCOW_SRC is not set (a mailcow-dockerized checkout or tarball; see README)"
"""The one reason a test that needs mailcow's real files skips with."""


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


# -- mailcow's real files: MAILCOW_SRC ------------------------------------------------------------------
#
# MAILCOW_SRC holds one or more paths separated by ":", each a mailcow-dockerized checkout directory or
# a .tgz / .tar.gz of one. Tarballs are unpacked once per session; the checkouts are shared by every
# test of the session, so a test copies what it changes (copy_checkout).

TARBALL_SUFFIXES = (".tgz", ".tar.gz")


def checkout_generation(checkout: Path) -> str:
    """"2020" for the Solr generation (a solr-mailcow service), else "current" (read independently of
    the package's own detection, which tests judge against these checkouts)."""
    text = (checkout / "docker-compose.yml").read_text(encoding="utf-8", errors="replace")
    return "2020" if "solr-mailcow:" in text else "current"


def _find_checkout(top: Path) -> Path | None:
    """The directory holding docker-compose.yml: `top` itself or its one subdirectory."""
    if (top / "docker-compose.yml").is_file():
        return top
    subdirs = [d for d in top.iterdir() if d.is_dir() and (d / "docker-compose.yml").is_file()]
    return subdirs[0] if len(subdirs) == 1 else None


def _safe_members(tar: tarfile.TarFile, dest: Path) -> list[tarfile.TarInfo]:
    """Regular files, directories and links that stay inside `dest` (no devices, no absolute or ../ paths)."""
    base = dest.resolve()
    members = []
    for m in tar.getmembers():
        target = (base / m.name).resolve()
        if m.name.startswith("/") or not (target == base or base in target.parents):
            raise pytest.UsageError(f"MAILCOW_SRC tarball member {m.name!r} leaves the extraction directory")
        if m.isdev():
            continue
        if m.issym() and (m.linkname.startswith("/") or ".." in Path(m.linkname).parts):
            continue
        if m.islnk():
            continue
        members.append(m)
    return members


def extract_checkout(src: Path, dest: Path) -> Path:
    """The checkout directory of `src` (a directory as it is, a tarball unpacked under `dest`)."""
    if src.is_dir():
        found = _find_checkout(src)
    elif src.is_file() and src.name.endswith(TARBALL_SUFFIXES):
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(src, "r:gz") as tar:
            tar.extractall(dest, members=_safe_members(tar, dest))  # noqa: S202 - members checked above
        found = _find_checkout(dest)
    else:
        raise pytest.UsageError(f"MAILCOW_SRC entry {src} is neither a directory nor a .tgz/.tar.gz file")
    if found is None:
        raise pytest.UsageError(f"MAILCOW_SRC entry {src} holds no mailcow-dockerized checkout "
                                "(no docker-compose.yml at its top or in its one subdirectory)")
    return found


def mailcow_src_entries() -> list[Path]:
    """The paths named by MAILCOW_SRC, in order (empty when it is unset)."""
    return [Path(p).expanduser() for p in os.environ.get("MAILCOW_SRC", "").split(":") if p.strip()]


@pytest.fixture(scope="session")
def mailcow_srcs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every checkout MAILCOW_SRC names, tarballs unpacked once per session. Read-only: copy to change."""
    entries = mailcow_src_entries()
    if not entries:
        pytest.skip(MAILCOW_SRC_SKIP)
    return [extract_checkout(src, tmp_path_factory.mktemp("mailcow-src")) for src in entries]


def _pick(srcs: list[Path], generation: str) -> Path:
    for checkout in srcs:
        if checkout_generation(checkout) == generation:
            return checkout
    pytest.skip(f"MAILCOW_SRC names no checkout of the {generation} generation "
                f"({'the Solr era, e.g. 2020-12-31' if generation == '2020' else 'a recent one'})")


@pytest.fixture(scope="session")
def mailcow_src_current(mailcow_srcs: list[Path]) -> Path:
    """A checkout of today's mailcow (no solr-mailcow) from MAILCOW_SRC."""
    return _pick(mailcow_srcs, "current")


@pytest.fixture(scope="session")
def mailcow_src_2020(mailcow_srcs: list[Path]) -> Path:
    """A checkout of the Solr generation (2020) from MAILCOW_SRC."""
    return _pick(mailcow_srcs, "2020")


def copy_checkout(src: Path, dest: Path) -> Path:
    """A private copy of a checkout (symlinks kept as links) that a test may change."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def stand_in_checkout(generation: str, dest: Path, conf: bool = False) -> Path:
    """`dest` with this project's stand-in docker-compose.yml (and mailcow.conf, 0600) of `generation`."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(MAILCOW_FIXTURES / generation / "docker-compose.yml", dest / "docker-compose.yml")
    if conf:
        shutil.copy(MAILCOW_FIXTURES / generation / "mailcow.conf", dest / "mailcow.conf")
        (dest / "mailcow.conf").chmod(0o600)
    return dest


def mailcow_src(request: pytest.FixtureRequest, generation: str) -> Path:
    """The MAILCOW_SRC checkout of `generation` ("current" or "2020"), for parametrized tests."""
    return request.getfixturevalue(f"mailcow_src_{generation}")
