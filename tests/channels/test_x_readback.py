"""Recognising our own post or DM in what X gives back, and reading it back as X's spec says."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sav_bridge.channels.x.readback import Written, find, match_digest
from sav_bridge.sandbox import FakeX, vendor_contracts

SENT = "Merci & à bientôt : https://mabanque.fr/aide?x=1 ou mabanque.fr ^AJ"
AS_X_SHOWS_IT = "Merci &amp; à bientôt : https://t.co/Ab12Cd34Ef ou https://t.co/Zz98Yy76Xx ^AJ"


def test_a_post_is_recognised_through_t_co_links_and_html_escapes() -> None:
    assert find([Written("7", AS_X_SHOWS_IT, "42")], "42", match_digest(SENT)) == "7"


def test_a_dm_typed_with_a_literal_entity_is_recognised_unescaped() -> None:
    assert find([Written("7", "R&amp;D ^AJ", "42")], "42", match_digest("R&amp;D ^AJ")) == "7"


def test_a_reply_is_recognised_behind_the_mentions_x_puts_in_front_of_it(
    vendor_file: Callable[[str], Path],
) -> None:
    # X's own sample: a reply's text starts with the @name it answers (`display_text_range` starts after).
    sample = json.loads(vendor_file("x/samples/xaa__post.reply.create.json").read_text())["data"]["payload"]
    mention, sent = sample["text"].split(" ", 1)
    assert mention.startswith("@") and sample["display_text_range"][0] > 0
    assert find([Written("7", sample["text"], "42")], "42", match_digest(sent)) == "7"
    assert find([Written("7", "@claire_d @MaBanque_aide Merci &amp; bonne soirée ^AJ", "42")], "42",
                match_digest("Merci & bonne soirée ^AJ")) == "7"  # fmt: skip


def test_same_text_elsewhere_or_other_text_here_is_not_ours() -> None:
    digest = match_digest(SENT)
    assert find([Written("7", AS_X_SHOWS_IT, "43"), Written("8", "Merci ! ^AJ", "42")], "42", digest) is None


@pytest.fixture
def fake_x(vendor_dir: Path | None) -> FakeX:
    if vendor_dir is None:
        pytest.skip("SAV_BRIDGE_VENDOR_DIR is not set")
    return FakeX("1", "brand", "tok", vendor_contracts(vendor_dir)["x"])


def test_reading_the_timeline_with_an_unknown_field_name_breaks_the_contract(fake_x: FakeX) -> None:
    request = httpx.Request("GET", "https://api.x.com/2/users/1/tweets?tweet.fields=referenced_tweets",
                            headers={"authorization": "Bearer tok"})  # fmt: skip
    assert fake_x.handle(request).status_code == 400
    assert "tweet.fields" in fake_x.violations[0].problem


def test_reading_dm_events_with_a_value_out_of_the_spec_breaks_the_contract(fake_x: FakeX) -> None:
    request = httpx.Request("GET", "https://api.x.com/2/dm_conversations/with/42/dm_events?max_results=500",
                            headers={"authorization": "Bearer tok"})  # fmt: skip
    assert fake_x.handle(request).status_code == 400
    assert "max_results" in fake_x.violations[0].problem


def test_dm_event_reads_are_limited_to_15_per_15_minutes() -> None:
    fake = FakeX("1", "brand", "tok", clock=lambda: 1000.0)
    request = httpx.Request("GET", "https://api.x.com/2/dm_conversations/with/42/dm_events",
                            headers={"authorization": "Bearer tok"})  # fmt: skip
    assert [fake.handle(request).status_code for _ in range(16)] == [200] * 15 + [429]
