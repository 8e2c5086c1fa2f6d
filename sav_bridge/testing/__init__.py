"""Test support shipped with the core, for the core's own tests and for third-party plugins."""
