"""A stop that lands where Python cannot raise is sent again, never printed as "Exception ignored"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# SIGTERM raised inside a weakref callback, as when it lands in an import lock's callback
# (importlib._bootstrap._get_module_lock.<locals>.cb): Python reports such an exception as unraisable.
PROGRAM = """
import signal, time, weakref
from mailcow_wizard import interrupts
interrupts.ready()
class Thing:
    pass
thing = Thing()
def callback(_ref):
    raise interrupts.Interrupted(signal.SIGTERM)
ref = weakref.ref(thing, callback)
try:
    del thing
    for _ in range(2000):
        time.sleep(0.001)
    print("ran on")
except interrupts.Interrupted as stop:
    print("stopped by", stop)
"""


def test_a_stop_raised_inside_a_callback_reaches_ordinary_code() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), check=False)
    assert proc.stdout.strip() == "stopped by SIGTERM", proc.stdout + proc.stderr
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
