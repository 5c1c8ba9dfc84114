"""The Textual face of mailcow-wizard: `WizardApp` over a `WizardSession` (see app.py, session.py)."""
