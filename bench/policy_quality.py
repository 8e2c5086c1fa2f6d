"""Precision and recall of the posting policy on the labelled sets in `tests/data/`.

`python -m bench.policy_quality [--policy FILE] [--set eval|tuning|holdout]` prints one row per
category, recall per family and the false-alarm rate on innocent look-alikes;
`tests/policy/test_quality.py` holds the same numbers to the issue's targets. `eval` is the first set
(`bench/make_eval_set.py`); `tuning` and `holdout` are the two parts of the second one
(`bench/make_holdout.py`). For the holdout only counts are printed, never a text: it stays unseen
by whoever tunes the detectors.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience, Finding
from sav_bridge.policy import Policy

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
EVAL_SET = DATA / "policy_eval.jsonl"
SETS = {
    "eval": EVAL_SET,
    "tuning": DATA / "policy_tuning_v2.jsonl",
    "holdout": DATA / "policy_holdout.jsonl",
}
UNSEEN = {"holdout"}
TERM_CATEGORIES = {"vulgar", "sexual", "insult"}
# A finding stands for an order, customer, contract or tracking reference when its detector says so
# (category "reference") or its rule is named after one (the default policy's `order-reference`).
REFERENCE_RULE = re.compile(r"ref|order|commande|client|customer|contra|track|suivi|dossier|account")


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
    families: dict[str, FamilyScore]

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.negatives if self.negatives else 0.0


def load_rows(path: Path = EVAL_SET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@dataclass(frozen=True)
class FamilyScore:
    positives: int
    caught: int
    negatives: int
    false_alarms: int

    @property
    def recall(self) -> float:
        return self.caught / self.positives if self.positives else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.negatives if self.negatives else 0.0


def categories(findings: Iterable[Finding], text_lang: str | None, term_label: str | None = None) -> set[str]:
    """The labels a decision's findings stand for: PII kinds, `reference`, or for any term the row's
    own term label (which word list calls it vulgar or an insult is not what is measured), else
    `terms-<lang>`."""
    seen = set()
    for finding in findings:
        if finding.category in TERM_CATEGORIES:
            seen.add(term_label or (f"terms-{text_lang}" if text_lang else "terms"))
        elif finding.category == "reference" or (
            finding.category == "custom" and REFERENCE_RULE.search(finding.rule)
        ):
            seen.add("reference")
        else:
            seen.add(finding.category)
    return seen


def evaluate(policy: Policy, rows: Iterable[dict[str, Any]]) -> Report:
    counts: dict[str, Counter[str]] = {}
    negatives = 0
    false_alarms: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    by_family: dict[str, Counter[str]] = {}
    for row in rows:
        expected = set(row["expect"])
        lang = next((e.split("-", 1)[1] for e in expected if e.startswith("terms-")), None)
        term_label = next((e for e in sorted(expected) if e in TERM_CATEGORIES), None)
        found = categories(policy.findings(row["text"], Audience(row["audience"])), lang, term_label)
        family = by_family.setdefault(row.get("family", "-"), Counter())
        if row["kind"] == "negative":
            negatives += 1
            family["negatives"] += 1
            if found:
                family["false_alarms"] += 1
                false_alarms.append({**row, "found": sorted(found)})
        else:
            family["positives"] += 1
            family["caught"] += expected <= found
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
    families = {
        name: FamilyScore(t["positives"], t["caught"], t["negatives"], t["false_alarms"])
        for name, t in sorted(by_family.items())
    }
    return Report(scores, negatives, false_alarms, misses, families)


class UnseenSetError(RuntimeError):
    """The policy crashed on a row of a held-out set; the row's text is kept out of the message."""


def evaluate_unseen(policy: Policy, rows: Iterable[dict[str, Any]]) -> Report:
    """`evaluate`, but a crash names only the exception's type: a traceback would show the row."""
    try:
        return evaluate(policy, rows)
    except Exception as exc:
        raise UnseenSetError(f"the policy crashed on a held-out row ({type(exc).__name__})") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policy", type=Path, default=POLICY_DIR / "default.yaml")
    parser.add_argument("--set", choices=sorted(SETS), default="eval", dest="labelled_set")
    args = parser.parse_args()
    rows = load_rows(SETS[args.labelled_set])
    measure = evaluate_unseen if args.labelled_set in UNSEEN else evaluate
    report = measure(Policy.from_file(args.policy), rows)
    print(f"{len(rows)} labelled texts ({args.labelled_set}), policy {args.policy}")
    print(f"{'category':<10} {'precision':>9} {'recall':>7} {'tp':>5} {'fn':>4} {'fp':>4}")
    for category, score in report.scores.items():
        print(
            f"{category:<10} {score.precision:>9.3f} {score.recall:>7.3f} "
            f"{score.true_positives:>5} {score.false_negatives:>4} {score.false_positives:>4}"
        )
    if len(report.families) > 1:
        print(f"{'family':<10} {'recall':>7} {'caught':>11} {'false alarms':>17}")
        for name, family in report.families.items():
            print(
                f"{name:<10} {family.recall:>7.3f} {family.caught:>5}/{family.positives:<5} "
                f"{family.false_alarms:>5}/{family.negatives:<4} {family.false_alarm_rate:>6.1%}"
            )
    print(f"false alarms on {report.negatives} innocent look-alikes: {report.false_alarm_rate:.2%}")
    if args.labelled_set in UNSEEN:
        print(f"{len(report.misses)} misses and {len(report.false_alarms)} false alarms (texts not shown)")
        return
    for row in report.misses[:10]:
        print(f"  missed {row['expect']}: {row['text']!r}")
    for row in report.false_alarms[:10]:
        print(f"  false alarm {row['found']}: {row['text']!r}")


if __name__ == "__main__":
    main()
