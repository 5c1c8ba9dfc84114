"""mailcow-wizard: check a Linux host for mailcow: dockerized, fix it, and write mailcow.conf."""

__version__ = "0.1.0"
