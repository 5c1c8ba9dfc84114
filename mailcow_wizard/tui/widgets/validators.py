"""Input validators that ask the mailcow.conf engine, so the form says exactly which rule broke."""

from __future__ import annotations

from textual.validation import ValidationResult, Validator

from mailcow_wizard.tui.session import WizardSession


class ConfValidator(Validator):
    """Validates one mailcow.conf key in the context of every other answer (collisions included).

    Only errors fail; warnings (a one-dot host name) are shown by the screen but never block Next.
    """

    def __init__(self, session: WizardSession, key: str) -> None:
        super().__init__()
        self.session = session
        self.key = key

    def validate(self, value: str) -> ValidationResult:
        values = dict(self.session.values)
        values[self.key] = value
        errors = [i for i in self.session.issues_for(self.key, values) if i.is_error]
        if not errors:
            return self.success()
        return self.failure("; ".join(dict.fromkeys(i.message for i in errors)), value)
