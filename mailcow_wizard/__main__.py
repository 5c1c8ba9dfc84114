"""Allows `python -m mailcow_wizard`."""

import sys

from mailcow_wizard.cli import main

sys.exit(main())
