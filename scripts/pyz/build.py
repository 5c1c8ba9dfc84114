"""Build dist/mailcow-wizard.pyz with shiv: every runtime dependency inside, for python3 3.9 to 3.13.

The dependencies are resolved once for the oldest supported Python (3.9), so every version that is
installed also supports it. All of them must be pure Python, except psutil: its abi3 wheels for x86_64
and aarch64 go into site-packages/mailcow_wizard_platform/<machine>/ (both wheels hold a file of the same
name), and the pyz's preamble puts the right one on sys.path at start-up. ruamel.yaml.clib, when a
resolver brings it, stays out: ruamel.yaml runs without it. The zip's __main__.py is scripts/pyz/
launcher.py, which picks the unpack directory before shiv's bootstrap runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FLOOR = "3.9"
MACHINES = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}
PLATFORM_DIR = "mailcow_wizard_platform"
COMPILED = {"psutil"}
OPTIONAL = {"ruamel-yaml-clib"}
ENTRY_POINT = "mailcow_wizard.cli:main"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args], check=True)


def resolve(wheel: Path, work: Path) -> list[tuple[str, str, str]]:
    """(name, version, wheel file name) of everything the package needs on Python 3.9, x86_64."""
    report = work / "resolved.json"
    pip("install", "--dry-run", "--ignore-installed", "--report", str(report), "--only-binary=:all:",
        "--python-version", FLOOR, "--implementation", "cp", "--platform", MACHINES["x86_64"],
        "--target", str(work / "unused"), str(wheel))
    items = json.loads(report.read_text())["install"]
    return [(canonical(i["metadata"]["name"]), i["metadata"]["version"],
             i["download_info"]["url"].rsplit("/", 1)[-1]) for i in items]


def build(output: Path, shebang: str) -> None:
    with tempfile.TemporaryDirectory(prefix="mailcow-wizard-pyz-") as tmp:
        work = Path(tmp)
        pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(work / "wheel"), str(REPO))
        (wheel,) = (work / "wheel").glob("mailcow_wizard-*.whl")
        pure, compiled = [], {}
        for name, version, filename in resolve(wheel, work):
            if name == "mailcow-wizard" or name in OPTIONAL:
                continue
            if name in COMPILED:
                compiled[name] = version
            elif filename.endswith("-none-any.whl"):
                pure.append(f"{name}=={version}")
            else:
                raise SystemExit(f"build-pyz: {name} {version} has no pure-Python wheel ({filename})")
        site = work / "site-packages"
        pip("install", "--no-deps", "--no-compile", "--only-binary=:all:", "--target", str(site),
            str(wheel), *pure)
        for name, version in compiled.items():
            for machine, platform in MACHINES.items():
                into = work / "download" / machine
                pip("download", "--no-deps", "--only-binary=:all:", "--python-version", FLOOR,
                    "--implementation", "cp", "--abi", "abi3", "--platform", platform,
                    "--dest", str(into), f"{name}=={version}")
                (whl,) = into.glob(f"{name}-*.whl")
                if "-abi3-" not in whl.name:
                    raise SystemExit(f"build-pyz: {whl.name} is not an abi3 wheel")
                with zipfile.ZipFile(whl) as z:
                    z.extractall(site / PLATFORM_DIR / machine)
        stray = [p for p in site.rglob("*.so") if PLATFORM_DIR not in p.relative_to(site).parts]
        if stray:
            raise SystemExit(f"build-pyz: compiled code outside {PLATFORM_DIR}: {stray}")
        shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts pointing at this venv
        plain = work / "shiv.pyz"
        subprocess.run([sys.executable, "-m", "shiv", "--site-packages", str(site), "--entry-point",
                        ENTRY_POINT, "--output-file", str(plain), "--python", shebang, "--compressed",
                        "--reproducible", "--preamble", str(HERE / "preamble.py")],
                       check=True, stdout=subprocess.DEVNULL)
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".part")
        with_launcher(plain, partial, shebang)
        partial.chmod(0o755)
        os.replace(partial, output)


def with_launcher(plain: Path, dest: Path, shebang: str) -> None:
    """A copy of shiv's zip whose __main__.py is our launcher with the build id filled in (shiv's build id
    does not cover __main__.py)."""
    with zipfile.ZipFile(plain) as src:
        build_id = json.loads(src.read("environment.json"))["build_id"]
    text = (HERE / "launcher.py").read_text(encoding="utf-8")
    if "\nBUILD_ID = None\n" not in text:
        raise SystemExit("build-pyz: launcher.py has no BUILD_ID = None line to fill in")
    launcher = text.replace("\nBUILD_ID = None\n", f"\nBUILD_ID = {build_id!r}\n").encode("utf-8")
    with zipfile.ZipFile(plain) as src, open(dest, "wb") as fh:
        fh.write(f"#!{shebang}\n".encode())
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for info in src.infolist():
                data = launcher if info.filename == "__main__.py" else src.read(info)
                out.writestr(info, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "dist" / "mailcow-wizard.pyz")
    parser.add_argument("--shebang", default="/usr/bin/env python3")
    args = parser.parse_args()
    build(args.output, args.shebang)
    print(f"{args.output}: {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
