"""Names vulture reports as unused that stay, each with its reason (read by vulture only, never run)."""

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.widgets.wrap import Wrapped

# Textual calls `check_action(action, parameters)`: the signature is Textual's; no step needs the
# parameters to decide whether Next or Back is allowed.
StepScreen.check_action.parameters  # noqa: B018

# Textual calls `get_optimal_width(rules, container_width)`: the signature is Textual's; prose is as
# wide as its widest line whatever room the container has.
Wrapped.get_optimal_width.container_width  # noqa: B018
