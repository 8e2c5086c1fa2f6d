"""Hypothesis strategies for odd webhook bodies: what an attacker, a buggy proxy or a vendor change sends."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: The settings every odd-body suite starts from (each sets its own `max_examples`).
FUZZ = settings(
    deadline=None,
    derandomize=bool(os.environ.get("CI")),  # CI runs the same examples every time; by hand, new ones
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

#: Values that broke parsers before: NUL (PostgreSQL refuses it), lone surrogates (not UTF-8), digits
#: that are not ASCII, ids too long for 64 bits, numbers JSON allows but floats do not.
TRICKY_STRINGS = [
    "", "\x00", "a\x00b", "\ud800", "\udfff lone", "²", "١٢٣", "٣", "9" * 40, "-1", "0", "1e400", "NaN",
    "\u202eevil", "🙂" * 3, " 12", "12 ", "0x1F", "Wed Oct 10 20:19:24 +0000 99999", "2026-13-45T99:99:99Z",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(TRICKY_STRINGS)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document that can be replaced or removed."""
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def mutate(document: Any, path: tuple[Any, ...], value: Any, remove: bool) -> Any:
    """A copy of `document` with the node at `path` replaced by `value`, or removed."""
    changed = copy.deepcopy(document)
    node = changed
    for step in path[:-1]:
        node = node[step]
    if remove and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return changed


@st.composite
def mutated(draw: st.DrawFn, templates: list[Any]) -> bytes:
    """A real envelope with one to three of its fields replaced by odd values or removed."""
    document = draw(st.sampled_from(templates))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = paths(document)
        if not where:
            break
        document = mutate(document, draw(st.sampled_from(where)), draw(json_values), draw(st.booleans()))
    return json.dumps(document).encode()


def deeply_nested(depth: int, account_id: str) -> bytes:
    return (
        b'{"for_user_id": "%s", "tweet_create_events": ' % account_id.encode()
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )
