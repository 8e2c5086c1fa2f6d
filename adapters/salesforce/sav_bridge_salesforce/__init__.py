"""Salesforce Service Cloud plugin for sav-bridge (entry point `salesforce` in group `sav_bridge.helpdesks`)."""

from sav_bridge_salesforce.helpdesk import SalesforceHelpdesk

__all__ = ["SalesforceHelpdesk"]
