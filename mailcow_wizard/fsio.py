"""The one file-writing core: every write of the program (mailcow.conf, fixes, the log) goes here.

Why it is built this way: the wizard runs as root in directories other users may be able to write
(a mailcow checkout owned by a deploy user, a tree given with --root). Any step done on a path name
could then be redirected by a symlink swapped in at the right moment. So:

- Paths are walked one component at a time from a directory descriptor of the root (like openat2's
  RESOLVE_IN_ROOT): a symlink on the way is resolved by hand and can never leave the root (`..` stops
  there, an absolute link starts again at the root). The last component is never followed.
- A directory on the way that a user other than root and the file's owner can write is refused
  (sticky directories such as /tmp excepted: there nobody can replace another user's entry).
- Files are created with O_EXCL | O_NOFOLLOW under the directory's descriptor; owner and mode are set
  with fchown/fchmod on the descriptor; data is fsync'ed before a rename puts it in place.
- Backups are written the same way and given their final name with link(), which never replaces a
  name: a backup name only ever points at a complete copy (a kill leaves at most a temp file, which
  the next run removes).
- The owner of a replaced file is kept; where that is impossible (not root) the write is refused.
- Only regular files are read: opened non-blocking, checked with fstat, and cut at a size limit.
- One lock per directory (flock on the directory itself, no lock file anyone could plant), re-entrant
  within the process, so plan and apply of one run hold it together and a second run waits briefly,
  then is refused with the holder's pid and command.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mailcow_wizard import interrupts
from mailcow_wizard.fastrecord import record

if TYPE_CHECKING:
    import threading
    from datetime import datetime

ROOT = Path("/")
MAX_LINKS = 40
READ_LIMIT = 4 * 1024 * 1024
"""Files the wizard edits (mailcow.conf, fstab, overrides) are small; anything larger is refused."""
LOCK_WAIT = 5.0
"""Seconds a second run waits for the lock before it is refused (MAILCOW_WIZARD_LOCK_WAIT)."""
_TEMP = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Refused(OSError):
    """The core will not read or write here; the message says why in words a person can act on."""

    def __init__(self, message: str, code: int = errno.EPERM):
        super().__init__(code, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Changed(Refused):
    """The file is no longer what the plan was made from."""


class Busy(Refused):
    """Another run holds the lock."""


def named(exc: OSError, shown: str) -> OSError:
    """`exc` again, naming the whole path: a call relative to a directory descriptor names only the
    last component, and a person reading the error needs to know which file or directory it was."""
    return OSError(exc.errno, exc.strerror, shown)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        import grp

        return f"group {grp.getgrgid(gid).gr_name} (gid {gid})"
    except (KeyError, ImportError):
        return f"gid {gid}"


_JAIL: list[str] = []
"""Set by --demo: no write may land outside this directory, whatever path a caller hands in."""


def confine_writes(directory: Path | str) -> None:
    """From now on refuse every write outside `directory` (the demo's copy of its sample host)."""
    _JAIL[:] = [os.path.realpath(directory)]


def _jail_path(p: Path) -> None:
    """Before anything is made (a missing directory too): the path itself must lie in the jail."""
    if _JAIL and not (os.path.realpath(p.parent) + "/").startswith(_JAIL[0] + "/"):
        raise Refused(f"not writing {p}: the demo writes only inside its own copy ({_JAIL[0]})")


def _jailed(d: Dir, shown: str) -> None:
    if _JAIL and not (os.path.realpath(f"/proc/self/fd/{d.fd}") + "/").startswith(_JAIL[0] + "/"):
        raise Refused(f"not writing {shown}: the demo writes only inside its own copy ({_JAIL[0]})")


# -- walking beneath a root -------------------------------------------------------------------------

def confine(real: Path | str, root: Path | str = ROOT) -> tuple[Path, str]:
    """(root, path relative to it) for `real`; a path outside `root` is taken relative to `/`."""
    real_s = os.fspath(real)
    if not real_s.startswith("/"):
        real_s = os.path.join(os.getcwd(), real_s)
    real_s = re.sub(r"/+", "/", real_s)  # only doubled slashes: `..` is for the walk to resolve
    root_s = os.path.abspath(os.fspath(root))
    if root_s != "/" and (real_s.rstrip("/") == root_s or real_s.startswith(root_s + "/")):
        return Path(root_s), real_s[len(root_s):].lstrip("/")
    return ROOT, real_s.lstrip("/")


@record
class Dir:
    """An open directory reached beneath a root; `path` is how it is named (root + components)."""

    fd: int
    path: Path
    chain: list[tuple[str, os.stat_result]]
    """Every directory walked through on the way, with how it was named (for the writability rule)."""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> Dir:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _parts(rel: str) -> list[str]:
    return [p for p in rel.split("/") if p and p != "."]


def open_dir(path: Path | str, root: Path | str = ROOT, *, create: bool = False,
             beneath: Path | str | None = None) -> Dir:
    """Open directory `path` beneath `root`, resolving symlinks by hand so that none leaves the root.

    `create` makes missing directories (0755). With `beneath` (a directory at or above `path`, e.g. the
    mailcow checkout), the walk below it is held inside it: a link or `..` that would leave it is
    Refused instead of being followed (the checkout's own files never lead elsewhere, even under `/`).
    FileNotFoundError when a directory is missing, Refused when a component is not a directory, links
    loop or a link leaves `beneath`.
    """
    root_p, rel = confine(path, root)
    parts = _parts(rel)
    inner: list[str] = []
    floor_name = ""
    if beneath is not None:
        b_root, b_rel = confine(beneath, root)
        b_parts = _parts(b_rel)
        if b_root != root_p or parts[:len(b_parts)] != b_parts or ".." in parts[len(b_parts):]:
            raise Refused(f"{path} does not lie inside {beneath}")
        parts, inner = b_parts, parts[len(b_parts):]
        floor_name = "/" + "/".join(b_parts)
    root_fd = os.open(root_p, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    stack: list[tuple[int, str]] = [(root_fd, str(root_p))]
    chain: list[tuple[str, os.stat_result]] = [(str(root_p), os.fstat(root_fd))]
    try:
        _walk(stack, chain, parts, create, None)
        if beneath is not None:
            _walk(stack, chain, inner, create, (len(stack), str(beneath), floor_name))
        fd = os.dup(stack[-1][0])
        return Dir(fd, Path(stack[-1][1]), chain)
    finally:
        for fd_, _ in stack:
            os.close(fd_)


def _walk(stack: list[tuple[int, str]], chain: list[tuple[str, os.stat_result]], parts: list[str],
          create: bool, floor: tuple[int, str, str] | None) -> None:
    """Walk `parts` from the top of `stack`; `floor` (depth, shown name, host path) holds the walk
    at or below that depth: what would climb above it is Refused."""
    links = 0
    while parts:
        name = parts.pop(0)
        if name == ".":
            continue
        if name == "..":
            if floor is not None and len(stack) <= floor[0]:
                raise Refused(f"a `..` below {floor[1]} leads out of it; mailcow-wizard writes the "
                              f"checkout's files only inside it", errno.EXDEV)
            if len(stack) > 1:
                os.close(stack.pop()[0])
            continue
        cur_fd, cur_name = stack[-1]
        shown = f"{cur_name.rstrip('/')}/{name}"
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=cur_fd)
        except FileNotFoundError as exc:
            if not create:
                raise named(exc, shown) from None
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=cur_fd)
            parts.insert(0, name)
            continue
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise named(exc, shown) from None
            st = os.stat(name, dir_fd=cur_fd, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                raise Refused(f"{shown} is {_kind(st.st_mode)}, not a directory",
                              errno.ENOTDIR) from None
            links += 1
            if links > MAX_LINKS:
                raise Refused(f"{shown}: too many levels of symbolic links", errno.ELOOP) from None
            target = os.readlink(name, dir_fd=cur_fd)
            if target.startswith("/"):
                if floor is not None:
                    host_floor = floor[2].rstrip("/") + "/"
                    normal = "/" + "/".join(_parts(target))
                    if not (normal + "/").startswith(host_floor) or ".." in _parts(target):
                        raise Refused(f"{shown} is a symbolic link to {target}, outside {floor[1]}; "
                                      "mailcow-wizard writes the checkout's files only inside it (make "
                                      f"{shown} a real directory)", errno.EXDEV) from None
                    while len(stack) > floor[0]:
                        os.close(stack.pop()[0])
                    parts[:0] = _parts(normal[len(host_floor):])
                    continue
                while len(stack) > 1:
                    os.close(stack.pop()[0])
            elif floor is not None:
                depth = len(stack) - floor[0]
                for p in _parts(target):
                    depth += -1 if p == ".." else 1
                    if depth < 0:
                        raise Refused(f"{shown} is a symbolic link to {target}, which leads out of "
                                      f"{floor[1]}; mailcow-wizard writes the checkout's files only "
                                      f"inside it (make {shown} a real directory)", errno.EXDEV) from None
            parts[:0] = _parts(target)
            continue
        stack.append((fd, shown))
        chain.append((shown, os.fstat(fd)))


def unsafe_directory(chain: list[tuple[str, os.stat_result]], owner: int) -> str | None:
    """Why a directory on the way lets someone other than root and `owner` swap files, or None."""
    for name, st in chain:
        if st.st_mode & stat.S_ISVTX:
            continue  # sticky: nobody but an entry's owner may rename or remove it
        who = None
        if st.st_uid not in (0, owner):
            who = f"its owner {_user(st.st_uid)}"
        elif st.st_mode & stat.S_IWGRP and st.st_gid != 0:
            who = f"{_group(st.st_gid)}"
        elif st.st_mode & stat.S_IWOTH:
            who = "every user"
        if who:
            return (f"{name} can be written by {who}, who is neither root nor the file's owner: "
                    "another user could swap files there while this runs. Make it writable only by "
                    f"root or the file's owner (e.g. chmod go-w {name}) and run again")
    return None


# -- reading -------------------------------------------------------------------------------------

def read_at(dfd: int, name: str, shown: str, limit: int = READ_LIMIT) -> tuple[bytes, os.stat_result] | None:
    """A regular file's bytes under directory `dfd`, never through a link; None when missing."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            try:
                target = os.readlink(name, dir_fd=dfd)
            except OSError:
                target = "?"
            raise Refused(f"{shown} is a symbolic link (to {target}); mailcow-wizard does not follow it "
                          "(replace it with the real file first)", errno.ELOOP) from None
        raise named(exc, shown) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{shown} is {_kind(st.st_mode)}, not a regular file", errno.EINVAL)
        if st.st_size > limit:
            raise Refused(f"{shown} is larger than {limit // 1024} KiB; it is not read", errno.EFBIG)
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise Refused(f"{shown} is larger than {limit // 1024} KiB; it is not read", errno.EFBIG)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def read_file(real: Path | str, root: Path | str = ROOT, limit: int = READ_LIMIT, *,
              beneath: Path | str | None = None) -> bytes | None:
    """The bytes of regular file `real` (beneath `root`, and inside `beneath` when given, see
    `open_dir`); None when it or its directory is missing."""
    p = Path(real)
    try:
        with open_dir(p.parent, root, beneath=beneath) as d:
            got = read_at(d.fd, p.name, str(p), limit)
    except FileNotFoundError:
        return None
    return None if got is None else got[0]


def read_regular(path: str, limit: int, root: str | None = None) -> bytes:
    """Read a regular file for a probe: non-blocking open, fstat, the first `limit` bytes.

    Pseudo files (/proc, /sys) report size 0 and are read up to `limit`; a FIFO, socket or device is
    Refused instead of blocking or never ending. With `root`, `path` (a host path) is resolved beneath
    it and no link on the way can leave it; the last component may be a link (resolved the same way).
    """
    if root is None:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    else:
        fd = _open_beneath(root, path)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{path} is {_kind(st.st_mode)}, not a regular file", errno.EINVAL)
        chunks, size = [], 0
        while size < limit:
            chunk = os.read(fd, min(1 << 20, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: Path | str, limit: int = READ_LIMIT) -> str:
    """`read_regular` decoded as UTF-8 (bad bytes replaced): for files the wizard only looks at."""
    return read_regular(os.fspath(path), limit).decode("utf-8", "replace")


def _open_beneath(root: str, path: str) -> int:
    """Open host path `path` for reading beneath `root`, following links only inside the root."""
    rel = path.lstrip("/")
    for _ in range(MAX_LINKS):
        parent, _sep, name = rel.rpartition("/")
        with open_dir(os.path.join(root, parent), root) as d:
            if name in ("", ".", ".."):
                return os.open(name or ".", os.O_RDONLY | os.O_CLOEXEC, dir_fd=d.fd)
            try:
                return os.open(name, _READ_FLAGS, dir_fd=d.fd)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                target = os.readlink(name, dir_fd=d.fd)
            here = str(d.path)[len(root.rstrip("/")):].lstrip("/") if str(d.path) != root else ""
        rel = target.lstrip("/") if target.startswith("/") else os.path.join(here, target)
    raise Refused(f"{path}: too many levels of symbolic links", errno.ELOOP)


# -- writing -------------------------------------------------------------------------------------

ANY: object = object()
"""`expect=ANY`: write whatever the file holds now (no plan to compare with)."""


@record(frozen=True)
class Written:
    path: Path
    backup: Path | None
    created: bool


def backup_name(real: Path, now: datetime | float | None = None,
                exists: Callable[[Path], bool] = os.path.lexists) -> Path:
    """NAME.bak-YYYYMMDD-HHMMSS beside the file; -1, -2, ... when that name is taken."""
    from datetime import datetime

    when = now if isinstance(now, datetime) else datetime.fromtimestamp(time.time() if now is None else now)
    base = real.with_name(f"{real.name}.bak-{when:%Y%m%d-%H%M%S}")
    candidate, n = base, 0
    while exists(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _temp_name(name: str) -> str:
    return f".{name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"


def clean_stale_temps(dfd: int) -> None:
    """Remove temp files of runs that were killed (their pid no longer exists)."""
    try:
        names = os.listdir(dfd)
    except OSError:
        return
    for name in names:
        m = _TEMP.fullmatch(name)
        if not m:
            continue
        pid = int(m.group("pid"))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dfd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _new_temp(dfd: int, name: str, data: bytes, uid: int, gid: int, mode: int) -> tuple[str, tuple[int, int]]:
    """A complete, fsync'ed temp file beside `name`, with owner and mode set on its descriptor.

    Returns its name and (device, inode), by which it is recognised before it is renamed."""
    for _ in range(100):
        tmp = _temp_name(name)
        try:
            fd = os.open(tmp, _NEW_FLAGS, 0o600, dir_fd=dfd)
            break
        except FileExistsError:
            continue
    else:
        raise Refused(f"no free temporary name beside {name}")
    try:
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, data)
            if (uid, gid) != (os.geteuid(), os.getegid()):
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)
        raise
    return tmp, (st.st_dev, st.st_ino)


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns)


def write_file(real: Path | str, data: bytes, *, root: Path | str = ROOT, expect: bytes | None | object = ANY,
               mode: int = 0o644, force_mode: int | None = None, backup: bool = True,
               now: datetime | float | None = None, check: Callable[[Path], None] | None = None,
               read_limit: int = READ_LIMIT, beneath: Path | str | None = None) -> Written:
    """Replace (or create) `real` with `data`: atomic, locked, never through a link, backed up.

    `expect` is the content the plan was made from (None: the file must not exist); a file that has
    changed since is not touched (Changed). An existing file keeps its owner and mode (`force_mode`
    overrides the mode, e.g. 0600 for mailcow.conf); a new one gets `mode` and the caller's owner.
    `check(path)` may read the complete temp file (through a path to our own descriptor of it) before
    anything is replaced, and raise to stop.
    Missing parent directories are created. `beneath` holds the walk inside that directory (see
    `open_dir`). Raises Refused/OSError; the file is then as it was.
    """
    p = Path(real)
    shown = str(p)
    _jail_path(p)
    with interrupts.deferred(), open_dir(p.parent, root, create=True, beneath=beneath) as d, locked_fd(d):
        _jailed(d, shown)
        dfd, name = d.fd, p.name
        clean_stale_temps(dfd)
        got = read_at(dfd, name, shown, read_limit)
        old, old_st = (None, None) if got is None else got
        if expect is not ANY and old != expect:
            raise Changed(f"{shown} changed since the plan was made; nothing written. Run again to see "
                          "the new differences")
        if old_st is not None:
            uid, gid = old_st.st_uid, old_st.st_gid
            if uid != os.geteuid() and os.geteuid() != 0:
                raise Refused(f"{shown} belongs to {_user(uid)}; only root or its owner can replace it "
                              "keeping that owner")
            new_mode = stat.S_IMODE(old_st.st_mode) if force_mode is None else force_mode
        else:
            uid, gid = os.geteuid(), os.getegid()
            new_mode = mode if force_mode is None else force_mode
        why = unsafe_directory(d.chain, uid)
        if why:
            raise Refused(f"not writing {shown}: {why}")
        if old == data and old_st is not None and stat.S_IMODE(old_st.st_mode) == new_mode:
            return Written(p, None, False)
        tmp, tmp_id = _new_temp(dfd, name, data, uid, gid, new_mode)
        bak: str | None = None
        try:
            if check is not None:
                _check_temp(dfd, tmp, tmp_id, check)
            if old is not None and old_st is not None and backup:
                bak = _backup_at(dfd, p, old, old_st, now, force_mode)
            now_st = os.stat(name, dir_fd=dfd, follow_symlinks=False) if old_st is not None else None
            if old_st is not None and (now_st is None or not _same(now_st, old_st)):
                raise Changed(f"{shown} changed while it was being written; nothing written")
            if old_st is None and _lexists_at(dfd, name):
                raise Changed(f"{shown} appeared while it was being written; nothing written")
            mine = _ident(dfd, tmp)
            if mine != tmp_id:
                raise Refused(f"the temporary file beside {shown} was replaced by another process; "
                              "nothing written")
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            tmp = ""
            _fsync(dfd)
            if _ident(dfd, name) != tmp_id:
                raise Refused(f"{shown} was replaced by another process right after it was written; "
                              "check the directory's owner and permissions")
        except BaseException as exc:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
                if bak:
                    with contextlib.suppress(OSError):
                        os.unlink(bak, dir_fd=dfd)
            if isinstance(exc, (FileNotFoundError, FileExistsError)):
                raise Refused(f"files beside {shown} vanished or appeared while it was written: another "
                              f"process is changing {d.path}; nothing written") from exc
            raise
        return Written(p, p.with_name(bak) if bak else None, old_st is None)


def _check_temp(dfd: int, tmp: str, tmp_id: tuple[int, int], check: Callable[[Path], None]) -> None:
    """Let `check` read the temp file through a path that cannot be swapped: our own descriptor of it,
    named through /proc/PID/fd (a helper process such as Compose can open that too)."""
    fd = os.open(tmp, _READ_FLAGS, dir_fd=dfd)
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != tmp_id:
            raise Refused(f"the temporary file {tmp} was replaced by another process; nothing written")
        check(Path(f"/proc/{os.getpid()}/fd/{fd}"))
    finally:
        os.close(fd)


def _ident(dfd: int, name: str) -> tuple[int, int] | None:
    """(device, inode) of the name itself (a link is not followed); None when it is gone."""
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _lexists_at(dfd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _fsync(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.fsync(fd)


def _backup_at(dfd: int, p: Path, data: bytes, st: os.stat_result, now: datetime | float | None,
               mode_mask: int | None = None) -> str:
    """Copy of the old content (owner, mode, times kept) under a free NAME.bak-... name, via link().

    `mode_mask` narrows the copy's mode (a world-readable mailcow.conf gets a 0600 backup)."""
    mode = stat.S_IMODE(st.st_mode) & (0o7777 if mode_mask is None else mode_mask)
    tmp, tmp_id = _new_temp(dfd, p.name, data, st.st_uid, st.st_gid, mode)
    try:
        with contextlib.suppress(OSError):
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)
        for _ in range(1000):
            target = backup_name(p, now, lambda c: _lexists_at(dfd, c.name)).name
            if _ident(dfd, tmp) != tmp_id:
                raise Refused(f"the backup beside {p} was replaced by another process; nothing written")
            try:
                os.link(tmp, target, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
                if _ident(dfd, target) != tmp_id:
                    raise Refused(f"the backup of {p} was replaced by another process; nothing written")
                return target
            except FileExistsError:
                continue  # taken between the look and the link: the next name
        raise Refused(f"no free backup name beside {p}")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)


def backup_copy(real: Path | str, root: Path | str = ROOT, now: datetime | float | None = None) -> Path:
    """Back `real` up beside itself the core's way (complete copy under a never-reused name)."""
    p = Path(real)
    with open_dir(p.parent, root) as d, locked_fd(d):
        got = read_at(d.fd, p.name, str(p))
        if got is None:
            raise FileNotFoundError(errno.ENOENT, f"{p} does not exist")
        return p.with_name(_backup_at(d.fd, p, got[0], got[1], now))


def append_file(real: Path | str, text: str, root: Path | str = ROOT, mode: int = 0o600) -> None:
    """Append to a log-like file: created `mode` if missing, never through a link, regular files only."""
    p = Path(real)
    _jail_path(p)
    with open_dir(p.parent, root, create=True) as d:
        _jailed(d, str(p))
        try:
            fd = os.open(p.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC, mode, dir_fd=d.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Refused(f"{p} is a symbolic link; not written through", errno.ELOOP) from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Refused(f"{p} is {_kind(st.st_mode)}, not a regular file", errno.EINVAL)
            _write_all(fd, text.encode("utf-8", "replace"))
        finally:
            os.close(fd)


def make_symlink(link: Path | str, target: str, root: Path | str = ROOT, *, replace: bool = False,
                 beneath: Path | str | None = None) -> bool:
    """Create symlink `link` -> `target`; an existing name is left alone unless `replace` (then the
    name itself is swapped by a rename; whatever it pointed to is never touched). True when made."""
    p = Path(link)
    with open_dir(p.parent, root, beneath=beneath) as d, locked_fd(d):
        _jailed(d, str(p))
        if not replace:
            try:
                os.symlink(target, p.name, dir_fd=d.fd)
            except FileExistsError:
                return False
            return True
        tmp = _temp_name(p.name)
        os.symlink(target, tmp, dir_fd=d.fd)
        try:
            st = os.stat(p.name, dir_fd=d.fd, follow_symlinks=False) if _lexists_at(d.fd, p.name) else None
            if st is not None and stat.S_ISDIR(st.st_mode):
                raise Refused(f"{p} is a directory; not replaced by a link", errno.EISDIR)
            os.rename(tmp, p.name, src_dir_fd=d.fd, dst_dir_fd=d.fd)
            tmp = ""
        finally:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=d.fd)
        _fsync(d.fd)
    return True


def create_new(real: Path | str, data: bytes, mode: int = 0o644, root: Path | str = ROOT, *,
               beneath: Path | str | None = None) -> None:
    """Create `real` complete with `data` and `mode`; never replaces anything (FileExistsError then).

    Missing parent directories are created; the name appears only with the whole content (link()).
    `beneath` holds the walk inside that directory (see `open_dir`)."""
    p = Path(real)
    _jail_path(p)
    with interrupts.deferred(), open_dir(p.parent, root, create=True, beneath=beneath) as d, locked_fd(d):
        _jailed(d, str(p))
        why = unsafe_directory(d.chain, os.geteuid())
        if why:
            raise Refused(f"not writing {p}: {why}")
        tmp, _tmp_id = _new_temp(d.fd, p.name, data, os.geteuid(), os.getegid(), mode)
        try:
            os.link(tmp, p.name, src_dir_fd=d.fd, dst_dir_fd=d.fd, follow_symlinks=False)
            _fsync(d.fd)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=d.fd)


def lookup(real: Path | str, root: Path | str = ROOT, *,
           beneath: Path | str | None = None) -> os.stat_result | None:
    """What the name `real` is (never following its last component), reached like every write;
    None when it or a directory on the way is missing. Refused as `open_dir` refuses."""
    p = Path(real)
    try:
        with open_dir(p.parent, root, beneath=beneath) as d:
            return os.stat(p.name, dir_fd=d.fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_file(real: Path | str, root: Path | str = ROOT, *, beneath: Path | str | None = None) -> None:
    """Remove regular file `real` (one this run created and must take back); a link or anything
    else of that name is left alone."""
    p = Path(real)
    with open_dir(p.parent, root, beneath=beneath) as d, locked_fd(d):
        if _ident(d.fd, p.name) is not None:
            os.unlink(p.name, dir_fd=d.fd)


# -- locks ---------------------------------------------------------------------------------------

_held: dict[tuple[int, int], list[int]] = {}
"""(dev, inode) of locked directories -> [fd, depth, thread id]."""
_guard: list[threading.Lock] = []


def _held_guard() -> threading.Lock:
    if not _guard:
        import threading

        _guard.append(threading.Lock())
    return _guard[0]


def lock_wait() -> float:
    try:
        return max(0.0, float(os.environ.get("MAILCOW_WIZARD_LOCK_WAIT", LOCK_WAIT)))
    except ValueError:
        return LOCK_WAIT


@contextlib.contextmanager
def locked(path: Path | str, root: Path | str = ROOT, wait: float | None = None) -> Iterator[None]:
    """Hold the lock of directory `path` (a mailcow checkout, /etc, ...) for the block."""
    with open_dir(path, root) as d, locked_fd(d, wait):
        yield


@contextlib.contextmanager
def locked_fd(d: Dir, wait: float | None = None) -> Iterator[None]:
    import fcntl
    import threading

    st = os.fstat(d.fd)
    key = (st.st_dev, st.st_ino)
    me = threading.get_ident()
    deadline = time.monotonic() + (lock_wait() if wait is None else wait)
    while True:
        with _held_guard():
            entry = _held.get(key)
            if entry is not None and entry[2] == me:
                entry[1] += 1
                break
            if entry is None:
                fd = os.dup(d.fd)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    os.close(fd)
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                else:
                    _held[key] = [fd, 1, me]
                    break
        if time.monotonic() >= deadline:
            raise Busy(f"{d.path} is in use by another mailcow-wizard run ({holder(st)}); nothing was "
                       "changed. Try again when it has finished", errno.EBUSY)
        time.sleep(0.05)
    try:
        yield
    finally:
        with _held_guard():
            entry = _held[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                os.close(entry[0])  # closing the last descriptor releases the flock


def holder(st: os.stat_result) -> str:
    """Who holds the flock on the inode of `st`: 'pid N: command' from /proc/locks, or 'unknown'."""
    import threading

    if any(v[2] != threading.get_ident() for k, v in _held.items() if k == (st.st_dev, st.st_ino)):
        return f"pid {os.getpid()}: this process, in another task"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read(1 << 20).splitlines()
    except OSError:
        return "holder unknown"
    for line in lines:
        f = line.split()
        if len(f) >= 6 and f[1] == "FLOCK" and f[3] in ("WRITE", "READ") and "->" not in f:
            try:
                ino = int(f[5].rsplit(":", 1)[1])
            except (IndexError, ValueError):
                continue
            if ino == st.st_ino:
                pid = f[4]
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmd = fh.read(4096).replace(b"\0", b" ").strip().decode("utf-8", "replace")
                except OSError:
                    cmd = "?"
                from mailcow_wizard.safetext import visible

                return f"pid {pid}: {visible(cmd)}"
    return "holder unknown"
