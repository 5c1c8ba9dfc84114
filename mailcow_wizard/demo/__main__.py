"""`python -m mailcow_wizard.demo DIR`: write the demo host tree to DIR, e.g. for `check --root DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

from mailcow_wizard.demo import MAILCOW_DIR, materialize


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mailcow_wizard.demo DIR   (DIR must not exist yet)", file=sys.stderr)
        return 2
    dest = Path(argv[0])
    if dest.exists():
        print(f"{dest} already exists; name a new directory", file=sys.stderr)
        return 2
    materialize(dest)
    print(f"demo host written to {dest}; try: mailcow-wizard check --root {dest} "
          f"--mailcow-dir {dest}{MAILCOW_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
