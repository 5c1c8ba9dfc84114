"""Names vulture reports as unused that stay, each with its reason (read by vulture only, never run)."""

from mailcow_wizard.tui.screens.base import StepScreen

# Textual calls `check_action(action, parameters)`: the signature is Textual's; no step needs the
# parameters to decide whether Next or Back is allowed.
StepScreen.check_action.parameters  # noqa: B018
