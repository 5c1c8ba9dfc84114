"""The one-way flow, enforced: the check path never loads Textual; core modules never import faces."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE_MODULES = [
    "mailcow_wizard.cli",
    "mailcow_wizard.commands.check",
    "mailcow_wizard.checks",
    "mailcow_wizard.host",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_does_not_load_textual(module: str) -> None:
    code = f"import {module}, sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert not [m for m in loaded if m == "textual" or m.startswith("textual.")]


def test_check_json_run_does_not_load_textual(tmp_path) -> None:
    code = (
        "import sys, io, contextlib, json\n"
        "from mailcow_wizard.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    rc = main(['check', '--json'])\n"
        "json.loads(buf.getvalue())\n"
        "print(json.dumps({'rc': rc, 'textual': [m for m in sys.modules if m.split('.')[0] == 'textual']}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["rc"] in (0, 1)
    assert result["textual"] == []
