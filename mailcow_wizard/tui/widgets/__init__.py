"""Reusable pieces of the wizard's screens: status labels, the fix panel, and the form validators."""
