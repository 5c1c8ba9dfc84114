"""One module per wizard step; each exposes its screen class as `SCREEN`."""
