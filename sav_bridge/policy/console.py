"""What compliance staff run: validate policy files, try one text, or replay a batch as JSON lines.

Exit statuses, so that a script can gate on them (the README has the same table):

| status | `policy validate` | `policy check` (one text, or the worst line of `--jsonl`) |
|---|---|---|
| 0 | every file is valid | would be posted as written (perhaps with a warning) |
| 2 | a file has errors | a usage error, an invalid policy, or a `--jsonl` line that is not understood |
| 3 | | would be posted changed: parts masked, or sent as a DM instead |
| 4 | | would not be posted (block, or require_dm without switch_to_dm) |

1 is left to Python's own crash status.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import re2

from sav_bridge.errors import PolicyError
from sav_bridge.model import Audience, Decision
from sav_bridge.policy.document import examine, read_document
from sav_bridge.policy.engine import Policy

HIGHLIGHT = ("\x1b[1;41;97m", "\x1b[0m")
BRACKETS = ("⟦", "⟧")
PROGRESS_EVERY_SECONDS = 2.0
AS_WRITTEN, INVALID, CHANGED, HELD = 0, 2, 3, 4
SCALARS = (str, int, float, bool, type(None))


def validate(paths: Iterable[Path], out: TextIO) -> int:
    """Every error of every file, one `FILE:LINE: key: message` line each, then a summary line."""
    files = invalid = errors = 0
    for path in paths:
        files += 1
        policy, problems = _compiled(path)
        for problem in problems:
            print(problem, file=out)
        if policy is None:
            invalid += 1
            errors += len(problems)
            continue
        actions = Counter(rule.action for rule in policy.rules)
        summary = ", ".join(f"{n} {action}" for action, n in sorted(actions.items()))
        print(f"{path}: valid, version {policy.version}, {len(policy.rules)} rules ({summary})", file=out)
    plural = "s" if files != 1 else ""
    verdict = f"{files - invalid} valid, {invalid} invalid ({errors} error{'s' if errors != 1 else ''})"
    print(f"checked {files} file{plural}: {verdict if invalid else 'all valid'}", file=out)
    return INVALID if invalid else AS_WRITTEN


def _compiled(path: Path) -> tuple[Policy | None, list[PolicyError]]:
    return _compile(*read_document(path), str(path))


def compile_text(text: str, source: str, label: str = "") -> tuple[Policy | None, list[PolicyError]]:
    """The policy `text` compiles to (its version named with `label`: `Policy`), or every problem in it
    (line order), as `validate` reports them."""
    return _compile(*examine(text, source), source, text, label)


def _compile(
    document: dict[str, Any] | None,
    problems: list[PolicyError],
    source: str,
    text: str | None = None,
    label: str = "",
) -> tuple[Policy | None, list[PolicyError]]:
    if document is None or problems:
        return None, problems
    try:
        return Policy(document, source, text, label), []
    except re2.error as exc:  # each pattern compiles alone, but not all of them in the screen's one set
        return None, [
            PolicyError(source, None, "rules", f"the custom patterns are too large together ({exc})")
        ]


def status(decision: Decision) -> int:
    """The exit status of a trial: posted as written, changed (masked or moved to DM), or held."""
    if decision.text is None:
        return HELD
    return CHANGED if decision.switch_to_dm or decision.action == "redact" else AS_WRITTEN


def outcome(policy: Policy, text: str, decision: Decision) -> str:
    """What would happen to the reply, in words: a trial check posts nothing."""
    if decision.text is None:
        if decision.action == "require_dm":
            return "would not be posted: allowed only as a DM"
        return "would not be posted"
    if decision.switch_to_dm:
        parts = masked_parts(text, policy.decide(text, Audience.DM))
        return "would be sent as a DM instead" + (f", with these parts masked: {parts}" if parts else "")
    if decision.action == "redact":
        return f"would be posted with these parts masked: {masked_parts(text, decision)}"
    return "would be posted as written" + (", with a warning" if decision.action == "warn" else "")


def masked_parts(text: str, decision: Decision) -> str:
    spans = sorted({(f.start, f.end) for f in decision.findings if f.action == "redact"})
    return ", ".join(f"«{text[start:end]}»" for start, end in spans)


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
    """Print what would happen to one text, its findings highlighted and explained; the exit status."""
    decision = policy.decide(text, audience)
    print(
        f"policy {policy.version} ({policy.source}), audience {audience.value}: a trial, nothing is posted",
        file=out,
    )
    print(f"decision: {decision.action.upper()}, {outcome(policy, text, decision)}", file=out)
    print(f"text:    {highlighted(text, decision, color)}", file=out)
    # The findings only (the note's closing sentences speak of a reply already sent), each once (a switch
    # to DM lists what both audiences saw).
    for line in dict.fromkeys(policy.explain(decision).splitlines()):
        if line.startswith("•"):
            print(line, file=out)
    if decision.text is not None and (decision.text != text or decision.switch_to_dm):
        print(f"{'would send as a DM' if decision.switch_to_dm else 'would post'}: {decision.text}", file=out)
    return status(decision)


def record(decision: Decision, echo: dict[str, Any] | None = None) -> dict[str, Any]:
    """One JSON line of `check --jsonl`; `echo` carries the input line's `id`, when it has one."""
    return {
        **(echo or {}),
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
    """Decide every `{"id"?, "text", "audience"?}` line; the exit status is that of the worst line,
    and a line that is not understood (an `error` line) outranks every decision."""
    counts: Counter[str] = Counter()
    worst = AS_WRITTEN
    started = last_report = time.monotonic()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        echo: dict[str, Any] = {}
        try:
            item = _object(line)
            echo = _echo(item)
            text, audience = _fields(item, default)
        except ValueError as exc:
            counts["error"] += 1
            out.write(json.dumps({**echo, "error": f"line {number}: {exc}"}, ensure_ascii=False) + "\n")
            continue
        decision = policy.decide(text, audience)
        counts[decision.action] += 1
        worst = max(worst, status(decision))
        out.write(json.dumps(record(decision, echo), ensure_ascii=False) + "\n")
        if progress is not None and time.monotonic() - last_report > PROGRESS_EVERY_SECONDS:
            last_report = time.monotonic()
            print(f"… {sum(counts.values())} lines checked", file=progress, flush=True)
    if progress is not None:
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{action} {n}" for action, n in sorted(counts.items())) or "nothing"
        total = sum(counts.values())
        print(f"checked {total} line{'s' if total != 1 else ''} in {elapsed:.1f} s: {summary}", file=progress)
    return INVALID if counts["error"] else worst


def _object(line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise ValueError('expected an object with a string "text"')
    return item


def _echo(item: dict[str, Any]) -> dict[str, Any]:
    """The line's `id`, to be copied into its answer: any JSON scalar, null included."""
    if "id" not in item:
        return {}
    if not isinstance(item["id"], SCALARS):
        raise ValueError('"id" must be a string, a number, true, false or null')
    return {"id": item["id"]}


def _fields(item: dict[str, Any], default: Audience) -> tuple[str, Audience]:
    if not isinstance(item.get("text"), str):
        raise ValueError('expected an object with a string "text"')
    audience = item.get("audience", default.value)
    if audience not in ("public", "dm"):
        raise ValueError('"audience" must be "public" or "dm"')
    return item["text"], Audience(audience)
