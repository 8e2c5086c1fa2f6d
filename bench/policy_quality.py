"""Precision and recall of the posting policy on the labelled set `tests/data/policy_eval.jsonl`.

`python -m bench.policy_quality [--policy FILE]` prints one row per category and the false-alarm rate
on innocent look-alikes; `tests/policy/test_quality.py` holds the same numbers to the issue's targets.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience, Finding
from sav_bridge.policy import Policy

EVAL_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "policy_eval.jsonl"
TERM_CATEGORIES = {"vulgar", "sexual", "insult"}


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_negatives: int
    false_positives: int

    @property
    def recall(self) -> float:
        found = self.true_positives + self.false_negatives
        return self.true_positives / found if found else 1.0

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0


@dataclass(frozen=True)
class Report:
    scores: dict[str, Score]
    negatives: int
    false_alarms: list[dict[str, Any]]
    misses: list[dict[str, Any]]

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.negatives if self.negatives else 0.0


def load_rows(path: Path = EVAL_SET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def categories(findings: Iterable[Finding], text_lang: str | None) -> set[str]:
    """The labels a decision's findings stand for: PII kinds, or `terms-<lang>` for any term."""
    seen = set()
    for finding in findings:
        if finding.category in TERM_CATEGORIES:
            seen.add(f"terms-{text_lang}" if text_lang else "terms")
        else:
            seen.add(finding.category)
    return seen


def evaluate(policy: Policy, rows: Iterable[dict[str, Any]]) -> Report:
    counts: dict[str, Counter[str]] = {}
    negatives = 0
    false_alarms: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    for row in rows:
        expected = set(row["expect"])
        lang = next((e.split("-", 1)[1] for e in expected if e.startswith("terms-")), None)
        found = categories(policy.findings(row["text"], Audience(row["audience"])), lang)
        if row["kind"] == "negative":
            negatives += 1
            if found:
                false_alarms.append({**row, "found": sorted(found)})
        for category in expected | found:
            tally = counts.setdefault(category, Counter())
            if category in expected and category in found:
                tally["tp"] += 1
            elif category in expected:
                tally["fn"] += 1
                misses.append(row)
            else:
                tally["fp"] += 1
    scores = {c: Score(t["tp"], t["fn"], t["fp"]) for c, t in sorted(counts.items())}
    return Report(scores, negatives, false_alarms, misses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policy", type=Path, default=POLICY_DIR / "default.yaml")
    args = parser.parse_args()
    rows = load_rows()
    report = evaluate(Policy.from_file(args.policy), rows)
    print(f"{len(rows)} labelled texts, policy {args.policy}")
    print(f"{'category':<10} {'precision':>9} {'recall':>7} {'tp':>5} {'fn':>4} {'fp':>4}")
    for category, score in report.scores.items():
        print(
            f"{category:<10} {score.precision:>9.3f} {score.recall:>7.3f} "
            f"{score.true_positives:>5} {score.false_negatives:>4} {score.false_positives:>4}"
        )
    print(f"false alarms on {report.negatives} innocent look-alikes: {report.false_alarm_rate:.2%}")
    for row in report.misses[:10]:
        print(f"  missed {row['expect']}: {row['text']!r}")
    for row in report.false_alarms[:10]:
        print(f"  false alarm {row['found']}: {row['text']!r}")


if __name__ == "__main__":
    main()
