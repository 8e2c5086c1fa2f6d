"""The two pipelines of DESIGN.md, as job handlers over the store, the X channel and the helpdesk plugin.

X webhook ──accept──▶ event + job "x.message" ──▶ InboundFlow: open ticket / add comment
helpdesk webhook ──accept──▶ job "helpdesk.ticket_changed" ──▶ OutboundFlow: find agent replies
    ──▶ job "reply.publish" per comment ──▶ policy ─▶ reply tweet(s) or DM ──▶ job "helpdesk.note"
"""

from sav_bridge.flows.inbound import JOB_SOCIAL_MESSAGE, InboundFlow, accept_x_body
from sav_bridge.flows.outbound import (
    JOB_NOTE,
    JOB_PUBLISH_REPLY,
    JOB_TICKET_CHANGED,
    OutboundFlow,
    accept_helpdesk_notice,
    scrub_reply,
)

__all__ = [
    "JOB_NOTE",
    "JOB_PUBLISH_REPLY",
    "JOB_SOCIAL_MESSAGE",
    "JOB_TICKET_CHANGED",
    "InboundFlow",
    "OutboundFlow",
    "accept_helpdesk_notice",
    "accept_x_body",
    "scrub_reply",
]
