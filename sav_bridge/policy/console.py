"""What compliance staff run: validate a policy file, check one text, or replay a batch as JSON lines."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from sav_bridge.errors import PolicyError
from sav_bridge.model import Audience, Decision
from sav_bridge.policy.engine import Policy

HIGHLIGHT = ("\x1b[1;41;97m", "\x1b[0m")
BRACKETS = ("⟦", "⟧")
PROGRESS_EVERY_SECONDS = 2.0


def validate(paths: Iterable[Path], out: TextIO) -> int:
    """Print one line per file; 0 when every file is a valid policy."""
    status = 0
    for path in paths:
        try:
            policy = Policy.from_file(path)
        except PolicyError as exc:
            print(f"{exc}", file=out)
            status = 1
            continue
        actions = Counter(rule.action for rule in policy.rules)
        summary = ", ".join(f"{n} {action}" for action, n in sorted(actions.items()))
        print(f"{path}: valid, version {policy.version}, {len(policy.rules)} rules ({summary})", file=out)
    return status


def highlighted(text: str, decision: Decision, color: bool) -> str:
    """The text with each finding marked, in colour on a terminal, in brackets elsewhere."""
    opening, closing = HIGHLIGHT if color else BRACKETS
    spans = sorted({(f.start, f.end) for f in decision.findings})
    out: list[str] = []
    last = 0
    for start, end in spans:
        if start < last:
            continue
        out += [text[last:start], opening, text[start:end], closing]
        last = end
    out.append(text[last:])
    return "".join(out)


def check(policy: Policy, text: str, audience: Audience, out: TextIO, color: bool = False) -> int:
    """Print the decision for one text, with its findings highlighted and explained."""
    decision = policy.decide(text, audience)
    print(f"policy {policy.version} ({policy.source}), audience {audience.value}", file=out)
    print(f"decision: {decision.action.upper()}", file=out)
    print(f"text:    {highlighted(text, decision, color)}", file=out)
    explanation = policy.explain(decision)
    if explanation:
        print(explanation, file=out)
    if decision.text is None:
        print("to post: nothing (the reply is held)", file=out)
    elif decision.text != text or decision.switch_to_dm:
        where = " (as a DM)" if decision.switch_to_dm else ""
        print(f"to post{where}: {decision.text}", file=out)
    return 0


def record(decision: Decision) -> dict[str, Any]:
    """One JSON line of `check --jsonl`."""
    return {
        "action": decision.action,
        "text": decision.text,
        "findings": [
            {"rule": f.rule, "category": f.category, "start": f.start, "end": f.end, "action": f.action}
            for f in decision.findings
        ],
    }


def check_jsonl(
    policy: Policy, default: Audience, lines: Iterable[str], out: TextIO, progress: TextIO | None
) -> int:
    """Decide every `{"text", "audience"}` line; a bad line gets an `error` line, and exit status 1."""
    counts: Counter[str] = Counter()
    started = last_report = time.monotonic()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = _item(line, default)
        except ValueError as exc:
            counts["error"] += 1
            out.write(json.dumps({"error": f"line {number}: {exc}"}) + "\n")
            continue
        decision = policy.decide(*item)
        counts[decision.action] += 1
        out.write(json.dumps(record(decision), ensure_ascii=False) + "\n")
        if progress is not None and time.monotonic() - last_report > PROGRESS_EVERY_SECONDS:
            last_report = time.monotonic()
            print(f"… {sum(counts.values())} lines checked", file=progress, flush=True)
    if progress is not None:
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{action} {n}" for action, n in sorted(counts.items())) or "nothing"
        print(f"checked {sum(counts.values())} lines in {elapsed:.1f} s: {summary}", file=progress)
    return 1 if counts["error"] else 0


def _item(line: str, default: Audience) -> tuple[str, Audience]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise ValueError('expected an object with a string "text"')
    audience = item.get("audience", default.value)
    if audience not in ("public", "dm"):
        raise ValueError('"audience" must be "public" or "dm"')
    return item["text"], Audience(audience)
