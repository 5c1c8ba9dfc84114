"""Names vulture reports as unused that stay, each with its reason (read by vulture only, never run)."""

from mailcow_wizard.tui.screens.base import StepScreen
from mailcow_wizard.tui.screens.review import ReviewScreen

# Textual calls `check_action(action, parameters)`: the signature is Textual's; no step needs the
# parameters to decide whether Next or Back is allowed.
StepScreen.check_action.parameters  # noqa: B018

# `_show` takes the session's `prepare_review()` result as it comes (diff, planned fixes, issues); the
# page lists the planned system changes from `session.planned_steps()` (each command once) instead.
ReviewScreen._show.planned  # noqa: B018
