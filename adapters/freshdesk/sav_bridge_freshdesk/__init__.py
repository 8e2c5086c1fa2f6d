"""Freshdesk plugin for sav-bridge (entry point `freshdesk` in group `sav_bridge.helpdesks`)."""

from sav_bridge_freshdesk.helpdesk import FreshdeskHelpdesk

__all__ = ["FreshdeskHelpdesk"]
