# mailcow-wizard.pyz start-up (the zip's __main__.py): choose where the bundled packages are unpacked,
# then hand over to shiv's bootstrap, which unpacks them there once per build and starts the program.
#
# The unpack directory is the first of these that exists or can be made, and that only this user (or
# root) can change, all the way up to /:
#   $SHIV_ROOT (when set, used as given), $XDG_CACHE_HOME/mailcow-wizard, ~/.cache/mailcow-wizard,
#   /var/cache/mailcow-wizard (root only), $TMPDIR/mailcow-wizard-UID, /var/tmp/mailcow-wizard-UID,
#   /tmp/mailcow-wizard-UID;
# failing all of them, a private temporary directory removed at exit (unpacked again each start).
# Inside it, shiv keeps one directory per build, mailcow-wizard.pyz_<build id>; a second start of the
# same file finds it and unpacks nothing. It also skips shiv's bootstrap, whose imports (hashlib,
# compileall, subprocess, json, zipfile) would cost more than the rest of `check`'s start-up: the build
# id is written into this file when it is built, and the steps after unpacking are repeated here (the
# directory on sys.path before other site-packages, the preamble, the entry point).
import os
import stat
import sys

BUILD_ID = None
"""Set by scripts/pyz/build.py to shiv's build id of this file."""


def _owned_chain(path):
    """True when no one but this user or root can change `path` or any directory above it."""
    me = os.geteuid()
    current = os.path.realpath(path)
    child = True
    while True:
        try:
            st = os.lstat(current)
        except OSError:
            return False
        if st.st_uid not in (me, 0) or not stat.S_ISDIR(st.st_mode):
            return False
        shared = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        # A sticky shared directory (/tmp) is fine above ours: no one else can rename our entry away.
        if shared and (child or not st.st_mode & stat.S_ISVTX):
            return False
        if current == "/":
            return True
        current = os.path.dirname(current)
        child = False


def _private(path):
    """`path` made (0700) when missing and returned when it is trustworthy and writable, else None."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    if _owned_chain(path) and os.access(path, os.W_OK | os.X_OK):
        return path
    return None


def _candidates():
    uid = os.geteuid()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        yield os.path.join(xdg, "mailcow-wizard")
    home = os.environ.get("HOME") or os.path.expanduser("~")
    if os.path.isabs(home):
        yield os.path.join(home, ".cache", "mailcow-wizard")
    if uid == 0:
        yield "/var/cache/mailcow-wizard"
    tmpdir = os.environ.get("TMPDIR", "")
    if os.path.isabs(tmpdir):
        yield os.path.join(tmpdir, f"mailcow-wizard-{uid}")
    yield f"/var/tmp/mailcow-wizard-{uid}"
    yield f"/tmp/mailcow-wizard-{uid}"


def _unpack_root():
    for candidate in _candidates():
        found = _private(candidate)
        if found:
            return found
    import atexit
    import shutil
    import tempfile

    temporary = tempfile.mkdtemp(prefix="mailcow-wizard-")
    atexit.register(shutil.rmtree, temporary, True)
    return temporary


def _run_unpacked(site_packages):
    """What shiv's bootstrap does once the files are there, for a build unpacked before."""
    import site

    length = len(sys.path)
    first_site = next((i for i, p in enumerate(sys.path) if p.endswith(("site-packages", "dist-packages"))),
                      length)
    site.addsitedir(site_packages)
    sys.path = sys.path[:first_site] + sys.path[length:] + sys.path[first_site:length]
    preamble = os.path.join(site_packages, "bin", "preamble.py")
    with open(preamble, encoding="utf-8") as fh:
        exec(compile(fh.read(), preamble, "exec"), {"__name__": "__main__", "site_packages": site_packages})
    from mailcow_wizard.cli import main

    sys.exit(main())


def _start():
    root = os.environ.get("SHIV_ROOT")
    if not root and BUILD_ID:
        root = _unpack_root()
        name = os.path.basename(os.path.realpath(sys.argv[0]))
        site_packages = os.path.join(root, f"{name}_{BUILD_ID}", "site-packages")
        if os.path.isdir(site_packages):
            _run_unpacked(site_packages)
    import _bootstrap  # shiv's runtime, at the top of this zip: unpacks, then starts the program

    if root:
        _shiv_cache_path = _bootstrap.cache_path

        def _cache_path(archive, root_dir, build_id):
            return _shiv_cache_path(archive, root_dir or root, build_id)

        _bootstrap.cache_path = _cache_path
    _bootstrap.bootstrap()


_start()
