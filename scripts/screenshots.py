"""Regenerate screenshots/*.svg: every step of the wizard on the demo host, at 80x24 (what a person
sees over SSH).

    .venv/bin/python scripts/screenshots.py [--size 80x24] [--out screenshots]

Each step is opened directly (`WizardApp(session, start_step=...)`) on a fresh copy of the demo host,
prepared as a person would have it on arriving there (see mailcow_wizard/demo/states.py), so the
images are the same on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailcow_wizard.demo.states import STEPS_IN_ORDER, demo_app, settle, workdir_lock  # noqa: E402


async def shoot(step: str, number: int, out: Path, size: tuple[int, int]) -> Path:
    app = demo_app(step)
    name = f"{number:02d}-{step}.svg"
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if app.current_step != step:
            raise RuntimeError(f"asked for step {step!r}, the app shows {app.current_step!r}")
        app.save_screenshot(name, str(out))
    return out / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="80x24", help="terminal size WxH (default 80x24)")
    parser.add_argument("--out", default=str(REPO / "screenshots"), help="directory for the SVG files")
    args = parser.parse_args(argv)
    width, _, height = args.size.partition("x")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.svg"):
        old.unlink()
    for number, step in enumerate(STEPS_IN_ORDER, 1):
        with workdir_lock():
            path = asyncio.run(shoot(step, number, out, (int(width), int(height))))
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
