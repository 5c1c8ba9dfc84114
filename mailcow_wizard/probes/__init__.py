"""Probes: read the host through the `Host` seam and return plain facts. They never decide anything."""
