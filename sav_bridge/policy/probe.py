"""Whether RE2 patterns occur in a text, and nothing more.

`re2.compile(p).search(text)` pays its Python wrapper on every call: offsets converted between bytes
and characters, a match object built, a generator. A yes-or-no question needs none of that: one
native call on a one-pattern `re2.Set` answers it, in half the time on a tweet. `set_matcher` goes one
step lower still, to the compiled set's own `Match` (google-re2's wrapper adds a type check and a
second call per text).
"""

from __future__ import annotations

from collections.abc import Callable

import re2


def set_matcher(compiled: re2.Set) -> Callable[[str], list[int]]:
    """A function that gives the indices of the patterns of a compiled set found in a text."""
    native = getattr(compiled, "_set", None)  # google-re2's _re2.Set, which takes UTF-8 bytes
    if native is None:
        return lambda text: compiled.Match(text) or []
    match = native.Match
    return lambda text: match(text.encode())


class Probe:
    """A compiled RE2 pattern that says only whether it occurs somewhere in a text."""

    def __init__(self, pattern: str, options: re2.Options | None = None) -> None:
        self.pattern = pattern
        compiled = re2.Set.SearchSet(options or re2.Options())
        compiled.Add(pattern)
        compiled.Compile()
        self._match = set_matcher(compiled)

    def __call__(self, text: str) -> bool:
        return bool(self._match(text))
