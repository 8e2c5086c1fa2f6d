"""`sav-bridge freshdesk provision --print`: what the Freshdesk admin creates by hand, step by step.

Freshdesk's API v2 creates no automation rule, so the gateway cannot ring itself up: it prints the
ticket field and the rule, with the URL filled in and the token as a placeholder (the secret is never
printed: the admin pastes it from where it is kept). The steps match the README's Freshdesk section.
"""

from __future__ import annotations

from typing import TextIO

from sav_bridge_freshdesk import payloads, webhook

RULE_NAME = "sav-bridge: send agent replies to X"
#: What the rule sends: the ticket id is all the gateway needs to read the replies.
RULE_BODY = '{"ticket_id": {{ticket.id}}}'
SECRET_PLACEHOLDER = "<the value of freshdesk.webhook_secret (SAV_BRIDGE_FRESHDESK__WEBHOOK_SECRET)>"
FIELD_LABEL = payloads.KEY_FIELD.removeprefix("cf_")
#: The header as Freshdesk's "Add custom headers" box shows it.
HEADER_NAME = "-".join(part.capitalize() for part in webhook.TOKEN_HEADER.split("-"))


def steps(public_url: str) -> str:
    """The set-up, as numbered steps an admin follows in Freshdesk's interface."""
    endpoint = f"{public_url.rstrip('/')}/webhooks/{payloads.HELPDESK}"
    return f"""\
Freshdesk: its API creates no automation rule; create these by hand (README, section Freshdesk).

1. Ticket field. Admin > Workflows > Ticket fields > Add a field > Single-line text:
   label {FIELD_LABEL} (API name {payloads.KEY_FIELD}), for agents only, not required.
   It holds the gateway's idempotency key; without it ticket creation fails with HTTP 400 invalid_field.

2. Automation rule. Admin > Workflows > Automations > Ticket updates > New rule, named:
   {RULE_NAME}
   - When an action performed by: Agent; involves any of these events: Reply is sent
   - On tickets with these properties: Tags contains any of: {payloads.TAG}
   - Perform these actions: Trigger webhook
       Request type:            POST
       URL:                     {endpoint}
       Requires authentication: off
       Add custom headers:      on
         {HEADER_NAME}: {SECRET_PLACEHOLDER}
       Encoding:                JSON
       Content:                 Advanced
         {RULE_BODY}

3. Check: sav-bridge check --online (it names the agent whose API key the gateway uses).

nothing was changed in Freshdesk
"""


def provision(public_url: str, out: TextIO) -> None:
    out.write(steps(public_url))
