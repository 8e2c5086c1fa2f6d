"""Zendesk Support plugin for sav-bridge (entry point `zendesk` in group `sav_bridge.helpdesks`)."""

from sav_bridge_zendesk.helpdesk import ZendeskHelpdesk

__all__ = ["ZendeskHelpdesk"]
