"""twitter-text-parser (X's own rules for counting a post and finding its URLs), imported without
pkg_resources.

The library reads its emoji list with `pkg_resources.resource_string`, and importing pkg_resources scans
every installed distribution: ~7 MB of resident memory in each process of the gateway, for one file read
(bench/startup_memory.py). While the library is imported, a stand-in answers `import pkg_resources` with
that one function, reading the file beside the module that asks, as pkg_resources does; it is taken out
of `sys.modules` at once, so whatever imports pkg_resources later gets the real one. Import the library's
functions from here, never from `twitter_text` directly: the first import decides.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path


def _resource_string(module: str, name: str) -> bytes:
    """`pkg_resources.resource_string` for a file beside an imported module (all the library asks)."""
    path = getattr(sys.modules[module], "__file__", None)
    if path is None:
        raise FileNotFoundError(f"{module} has no folder to read {name} from")
    return Path(path).with_name(name).read_bytes()


def _import_twitter_text() -> None:
    if "twitter_text" in sys.modules or "pkg_resources" in sys.modules:
        return
    stand_in = types.ModuleType("pkg_resources", "sav-bridge's stand-in while twitter_text is imported")
    stand_in.resource_string = _resource_string  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stand_in
    try:
        import twitter_text  # noqa: F401
    finally:
        if sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]


_import_twitter_text()

from twitter_text import extract_urls, extract_urls_with_indices, parse_tweet  # noqa: E402

__all__ = ["extract_urls", "extract_urls_with_indices", "parse_tweet"]
