"""The compiled event-schema check (`fits_event_schema`, on every inbound message) says what jsonschema
says: the same documents pass, the same fail, however a message is bent."""

from __future__ import annotations

import json
from typing import Any

import fastjsonschema
import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from sav_bridge import SCHEMA_DIR
from sav_bridge.channels.x.events import fits_event_schema

SCHEMA = json.loads((SCHEMA_DIR / "event.schema.json").read_text(encoding="utf-8"))
REFERENCE = jsonschema.Draft202012Validator(SCHEMA)

MESSAGE: dict[str, Any] = {
    "channel": "x",
    "account_id": "1500000000000000001",
    "id": "1860000000000000001",
    "kind": "reply",
    "author": {"id": "2100000000000000000", "screen_name": "claire", "name": "Claire"},
    "text": "@MaBanque ma carte est bloquée",
    "created_at": "2026-11-25T10:05:43+00:00",
    "thread_key": "x:thread:1860000000000000000",
    "in_reply_to": "1860000000000000000",
    "mentions_brand": True,
    "media": [
        {
            "kind": "video",
            "url": "https://pbs.twimg.com/media/a.jpg",
            "private": False,
            "page_url": "https://x.com/claire/status/1/video/1",
            "variants": [
                {"url": "https://video.twimg.com/a.mp4", "content_type": "video/mp4", "bit_rate": 832000}
            ],
            "duration_ms": 4000,
        }
    ],
    "links": ["https://example.com/"],
}

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False),
    st.sampled_from(
        ["", "x", "12", "12\n", "１２", "٣", "1" * 19, "1" * 20, "x:thread:1", "x:dm:1:2", "dm", "-1"]
    ),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def bent_messages(draw: st.DrawFn) -> Any:
    document = json.loads(json.dumps(MESSAGE))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(paths(document)))
        parent = document
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "drop", "extra"]))
        if action == "replace":
            parent[where[-1]] = draw(ODD_VALUES)
        elif action == "drop" and isinstance(parent, dict):
            parent.pop(where[-1], None)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(ODD_VALUES)
    return document


def compiled_says(document: Any) -> bool:
    try:
        fits_event_schema()(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def test_a_parsed_message_fits_both() -> None:
    assert compiled_says(MESSAGE) and REFERENCE.is_valid(MESSAGE)


@settings(max_examples=400, deadline=None)
@given(bent_messages())
def test_the_compiled_check_agrees_with_jsonschema(document: Any) -> None:
    """The same answer, but for one difference that makes the compiled check the stricter: jsonschema's
    Python `$` matches before a trailing newline ("12\n" fits `^[0-9]+$`), ECMA-262's does not."""
    if compiled_says(document) != REFERENCE.is_valid(document):
        assert not compiled_says(document) and _ends_a_string_with_a_newline(document), document


def _ends_a_string_with_a_newline(value: Any) -> bool:
    if isinstance(value, str):
        return value.endswith("\n")
    if isinstance(value, dict):
        return any(_ends_a_string_with_a_newline(v) for v in value.values())
    if isinstance(value, list):
        return any(_ends_a_string_with_a_newline(v) for v in value)
    return False
