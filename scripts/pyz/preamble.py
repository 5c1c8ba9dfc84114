# Runs inside mailcow-wizard.pyz after its packages are unpacked, before the program starts: put the
# compiled psutil for this machine first on sys.path. The pyz carries psutil's abi3 wheels for x86_64
# and aarch64; both contain a file of the same name, so each lives in its own directory.
import os
import sys

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
_machine = os.uname().machine.lower()
_dir = os.path.join(str(site_packages), "mailcow_wizard_platform", _MACHINES.get(_machine, _machine))  # noqa: F821
if os.path.isdir(_dir):
    sys.path.insert(0, _dir)
else:
    sys.stderr.write(f"mailcow-wizard: this file carries compiled code for x86_64 and aarch64 only, not for "
                     f"{_machine}; install its wheel with pip or pipx instead\n")
    sys.exit(2)
