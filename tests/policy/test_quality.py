"""The issue's quality targets, measured on the labelled set in tests/data/ (see bench/make_eval_set.py)."""

from __future__ import annotations

import pytest

from bench.policy_quality import Report, evaluate, load_rows
from sav_bridge import POLICY_DIR
from sav_bridge.policy import Policy

TARGET_RECALL = {
    "card": 0.99,
    "iban": 0.99,
    "nir": 0.99,
    "email": 0.99,
    "phone": 0.97,
    "terms-fr": 0.97,
    "terms-en": 0.97,
}


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(Policy.from_file(POLICY_DIR / "default.yaml"), load_rows())


@pytest.mark.parametrize(("category", "target"), TARGET_RECALL.items())
def test_recall_per_category(report: Report, category: str, target: float) -> None:
    score = report.scores[category]
    assert score.true_positives >= 150, "the evaluation set is too small to say"
    assert score.recall >= target, [m["text"] for m in report.misses if category in m["expect"]][:5]


def test_false_alarms_on_innocent_look_alikes(report: Report) -> None:
    assert report.negatives >= 500
    assert report.false_alarm_rate <= 0.01, [f["text"] for f in report.false_alarms][:5]
