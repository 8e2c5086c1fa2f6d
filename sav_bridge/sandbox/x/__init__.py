"""A fake X API v2 for the brand account, faithful to what our gateway relies on.

One module per part of X: `base` (state, ids, problems, rate limits), `writes` (reply posts and DMs),
`reads` (reading them back), `timelines` (mentions and DM events for polling, and
what X bills), `envelopes` (the webhook bodies customers' actions produce), `webhooks`
(registration with its CRC call to the gateway, and subscriptions), `auth` (who calls: OAuth 1.0a
signatures, OAuth 2.0 tokens and the token endpoint). `FakeX`
puts the parts together and declares its routes in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sav_bridge.sandbox.contracts import OpenApiContract
from sav_bridge.sandbox.x.auth import UserAuth
from sav_bridge.sandbox.x.base import Customer, Post
from sav_bridge.sandbox.x.envelopes import Envelopes
from sav_bridge.sandbox.x.reads import Reads
from sav_bridge.sandbox.x.timelines import Timelines
from sav_bridge.sandbox.x.webhooks import Webhooks
from sav_bridge.sandbox.x.writes import Writes

__all__ = ["Customer", "FakeX", "Post"]


class FakeX(Timelines, Webhooks, Envelopes, Reads, Writes, UserAuth):
    def __init__(
        self,
        account_id: str,
        screen_name: str,
        access_token: str,
        contracts: list[OpenApiContract] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(account_id, screen_name, access_token, contracts, clock)
        self.route("POST", r"/2/tweets", self._create_post)
        self.route("POST", r"/2/media/upload", self._upload_media)
        self.route("POST", r"/2/dm_conversations/with/(?P<participant>[^/]+)/messages", self._send_dm)
        self.route("GET", r"/2/users/(?P<user>[^/]+)/tweets", self._user_posts)
        self.route("GET", r"/2/dm_conversations/with/(?P<participant>[^/]+)/dm_events", self._dm_events)
        self.route("GET", r"/2/users/(?P<user>[^/]+)/mentions", self._mentions)
        self.route("GET", r"/2/dm_events", self._all_dm_events)
        self.route("POST", r"/2/webhooks", self._create_webhook)
        self.route("GET", r"/2/webhooks", self._list_webhooks)
        self.route("PUT", r"/2/webhooks/(?P<webhook>[0-9]+)", self._validate_webhook)
        self.route("DELETE", r"/2/webhooks/(?P<webhook>[0-9]+)", self._delete_webhook)
        aaa = r"/2/account_activity/webhooks/(?P<webhook>[^/]+)/subscriptions"
        self.route("POST", aaa + r"/all", self._aaa_subscribe)
        self.route("GET", aaa + r"/all", self._aaa_check)
        self.route("GET", aaa + r"/all/list", self._aaa_list)
        self.route("DELETE", aaa + r"/(?P<user>[0-9]+)/all", self._aaa_unsubscribe)
        self.route("POST", r"/2/activity/subscriptions", self._activity_subscribe)
        self.route("GET", r"/2/activity/subscriptions", self._activity_list)
        self.route("DELETE", r"/2/activity/subscriptions/(?P<subscription>[0-9]+)", self._activity_delete)
