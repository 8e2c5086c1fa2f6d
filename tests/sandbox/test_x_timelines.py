"""The X fake's mentions and DM-event timelines, paged as X documents, and its count of what X bills."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from sav_bridge.sandbox import FakeX, MediaFile, vendor_contracts
from tests.harness import ACCESS_TOKEN, ACCOUNT_ID, CLAIRE, MARC, SCREEN_NAME, Clock

pytestmark = pytest.mark.asyncio

MENTIONS = f"/2/users/{ACCOUNT_ID}/mentions"


def fake(vendor_dir: Path | None) -> FakeX:
    return FakeX(ACCOUNT_ID, SCREEN_NAME, ACCESS_TOKEN, vendor_contracts(vendor_dir)["x"], Clock())


def get(x: FakeX, path: str, **params: Any) -> httpx.Response:
    request = httpx.Request(
        "GET", f"https://api.x.com{path}", params=params, headers={"authorization": f"Bearer {ACCESS_TOKEN}"}
    )
    return x.handle(request)


def response_schema(vendor_file: Any, name: str) -> jsonschema.Draft202012Validator:
    spec = json.loads(vendor_file("x/x-api-v2-openapi.json").read_text(encoding="utf-8"))
    schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
    text = json.dumps(schema).replace("#/components/", "#/components/")
    return jsonschema.Draft202012Validator(json.loads(text))


async def test_mentions_page_down_from_the_newest_with_since_id(vendor_dir: Path | None) -> None:
    x = fake(vendor_dir)
    ids = [x.customer_post(CLAIRE, f"@MaBanque {n}")["tweet_create_events"][0]["id_str"] for n in range(7)]
    x.customer_post(MARC, "sans mention")
    first = get(x, MENTIONS, max_results=5, expansions="author_id", **{"post.fields": "created_at,entities"})
    assert first.status_code == 200
    body = first.json()
    assert [p["id"] for p in body["data"]] == ids[::-1][:5]
    assert body["meta"]["newest_id"] == ids[-1] and body["meta"]["oldest_id"] == ids[2]
    assert body["meta"]["result_count"] == 5 and len(body["meta"]["next_token"]) >= 16
    assert body["includes"]["users"] == [
        {"id": CLAIRE.id, "name": CLAIRE.name, "username": CLAIRE.screen_name}
    ]
    assert body["data"][0]["entities"]["mentions"][0] == {
        "start": 0, "end": 9, "username": SCREEN_NAME, "id": ACCOUNT_ID
    }  # fmt: skip
    x.customer_post(CLAIRE, "@MaBanque arrivé entre deux pages")
    rest = get(x, MENTIONS, max_results=5, pagination_token=body["meta"]["next_token"]).json()
    assert [p["id"] for p in rest["data"]] == ids[1::-1] and "next_token" not in rest["meta"]
    newer = get(x, MENTIONS, since_id=ids[-1]).json()
    assert [p["text"] for p in newer["data"]] == ["@MaBanque arrivé entre deux pages"]
    assert get(x, MENTIONS, since_id=newer["meta"]["newest_id"]).json() == {"meta": {"result_count": 0}}
    assert get(x, MENTIONS, until_id=ids[1]).json()["data"][0]["id"] == ids[0]
    assert get(x, MENTIONS, max_results=4).status_code == 400
    assert [v.problem for v in x.violations] == [
        "max_results: 4 is less than the minimum of 5"
    ] or not vendor_dir


async def test_dm_events_hold_both_directions_newest_first(vendor_dir: Path | None) -> None:
    x = fake(vendor_dir)
    x.customer_dm(MARC, "Bonjour")
    x.customer_dm(CLAIRE, "Allô")
    sent = httpx.Request(
        "POST",
        f"https://api.x.com/2/dm_conversations/with/{MARC.id}/messages",
        json={"text": "Nous regardons"},
        headers={"authorization": f"Bearer {ACCESS_TOKEN}"},
    )
    assert x.handle(sent).status_code == 201
    page = get(x, "/2/dm_events", max_results=2, expansions="sender_id", **{"dm_event.fields": "created_at"})
    body = page.json()
    assert [(e["sender_id"], e["text"]) for e in body["data"]] == [
        (ACCOUNT_ID, "Nous regardons"),
        (CLAIRE.id, "Allô"),
    ]
    assert body["data"][0]["event_type"] == "MessageCreate" and "created_at" in body["data"][0]
    rest = get(x, "/2/dm_events", max_results=2, pagination_token=body["meta"]["next_token"]).json()
    assert [e["text"] for e in rest["data"]] == ["Bonjour"] and "next_token" not in rest["meta"]
    assert {u["username"] for u in body["includes"]["users"]} == {SCREEN_NAME, CLAIRE.screen_name}
    assert get(x, "/2/dm_events", since_id="1").status_code == 400  # X's DM events take no since_id


async def test_dm_events_show_a_customer_s_media_as_x_does(vendor_file: Any, vendor_dir: Path | None) -> None:
    x = fake(vendor_dir)
    x.customer_dm(MARC, "voici le reçu", media=MediaFile(data=b"\xff\xd8\xffphoto"))
    x.customer_dm(MARC, "merci")
    fields = {
        "dm_event.fields": "attachments,entities,event_type,id,text",
        "media.fields": "media_key,type,url",
    }
    body = get(x, "/2/dm_events", expansions="sender_id,attachments.media_keys", **fields).json()
    assert x.violations == []
    response_schema(vendor_file, "GetDirectMessagesEventsResponse").validate(body)
    plain, photo = body["data"]
    assert "attachments" not in plain and plain["text"] == "merci"
    [key] = photo["attachments"]["media_keys"]
    [media] = body["includes"]["media"]
    assert (media["media_key"], media["type"]) == (key, "photo")
    assert media["url"].startswith("https://ton.twitter.com/1.1/ton/data/dm/" + photo["id"] + "/")
    [link] = photo["entities"]["urls"]
    assert photo["text"] == "voici le reçu " + link["url"] and link["url"].startswith("https://t.co/")
    assert link["expanded_url"] == f"https://x.com/messages/media/{photo['id']}"
    bare = get(x, "/2/dm_events").json()  # without the fields and the expansion, X shows no media
    assert "includes" not in bare and all("attachments" not in e for e in bare["data"])


async def test_answers_fit_the_response_schemas(vendor_file: Any) -> None:
    x = fake(None)
    x.customer_post(CLAIRE, "@MaBanque bonjour")
    x.customer_dm(MARC, "Bonjour")
    mentions = get(x, MENTIONS, expansions="author_id,referenced_posts", **{"post.fields": "conversation_id"})
    response_schema(vendor_file, "GetUsersMentionsResponse").validate(mentions.json())
    dms = get(x, "/2/dm_events", expansions="sender_id")
    response_schema(vendor_file, "GetDirectMessagesEventsResponse").validate(dms.json())


async def test_rate_limits_are_x_s(vendor_dir: Path | None) -> None:
    x = fake(vendor_dir)
    answers = [get(x, "/2/dm_events").status_code for _ in range(16)]
    assert answers == [200] * 15 + [429]
    assert [get(x, MENTIONS).status_code for _ in range(300)][-1] == 200
    assert get(x, MENTIONS).status_code == 429


async def test_billing_counts_resources_once_a_day(vendor_dir: Path | None) -> None:
    x = fake(vendor_dir)
    x.customer_dm(MARC, "Bonjour")
    x.customer_post(CLAIRE, "@MaBanque bonjour")
    get(x, "/2/dm_events")
    get(x, "/2/dm_events")
    get(x, MENTIONS)
    assert (x.billing.requests["read_dm_events"], x.billing.returned["read_dm_events"]) == (2, 2)
    assert x.billing.billed["read_dm_events"] == 1 and x.billing.billed["read_mentions"] == 1
    x.clock.advance(86_400)  # type: ignore[attr-defined]
    get(x, "/2/dm_events")
    assert x.billing.billed["read_dm_events"] == 2
