"""The issue's quality targets, measured on the labelled sets in tests/data/ (see bench/make_eval_set.py
and bench/make_holdout.py). Nothing here prints a text of the holdout: its failures give counts only."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bench import make_holdout
from bench.policy_quality import (
    SETS,
    FamilyScore,
    Report,
    Score,
    UnseenSetError,
    categories,
    evaluate,
    evaluate_unseen,
    load_rows,
    main,
)
from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience, Finding
from sav_bridge.policy import Policy

TARGET_RECALL = {
    "card": 0.99,
    "iban": 0.99,
    "nir": 0.99,
    "email": 0.99,
    "phone": 0.97,
    "reference": 0.99,
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


# Measured on the holdout when the second set was made (README, "How well the policy does"), a little
# below; raise them as the detectors improve, never tune on what the holdout misses.
HOLDOUT_FAMILY_FLOOR = {
    "bank": 0.98,
    "context": 0.93,
    "disguise": 0.94,
    "phone": 0.98,
    "pii-other": 0.98,
    "reference": 0.97,
}
HOLDOUT_CATEGORY_FLOOR = {
    "card": 0.98,
    "email": 0.98,
    "iban": 0.98,
    "insult": 0.92,
    "nir": 0.98,
    "phone": 0.98,
    "reference": 0.97,
    "sexual": 0.80,
    "vulgar": 0.98,
}


@dataclass(frozen=True)
class Counts:
    """A holdout report without its rows, so that no failure or `--showlocals` shows a text."""

    scores: dict[str, Score]
    families: dict[str, FamilyScore]
    negatives: int
    false_alarms: int


@pytest.fixture(scope="module")
def holdout() -> Counts:
    report = evaluate_unseen(Policy.from_file(POLICY_DIR / "default.yaml"), load_rows(SETS["holdout"]))
    return Counts(report.scores, report.families, report.negatives, len(report.false_alarms))


@pytest.mark.parametrize(("family", "floor"), HOLDOUT_FAMILY_FLOOR.items())
def test_holdout_recall_per_family(holdout: Counts, family: str, floor: float) -> None:
    score = holdout.families[family]
    assert score.positives >= 70, "the family is too small to say"
    recall = score.recall
    assert recall >= floor, f"{family}: {score.caught} of {score.positives} caught"


@pytest.mark.parametrize(("category", "floor"), HOLDOUT_CATEGORY_FLOOR.items())
def test_holdout_recall_per_category(holdout: Counts, category: str, floor: float) -> None:
    score = holdout.scores[category]
    recall = score.recall
    assert recall >= floor, f"{category}: {score.true_positives} caught, {score.false_negatives} missed"


def test_holdout_false_alarms(holdout: Counts) -> None:
    assert holdout.negatives >= 500
    rate = holdout.false_alarms / holdout.negatives
    assert rate <= 0.01, f"{holdout.false_alarms} false alarms on {holdout.negatives} innocent texts"


def test_holdout_report_prints_counts_never_texts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["policy_quality", "--set", "holdout"])
    main()
    out = capsys.readouterr().out
    shown = sum(row["text"] in out for row in load_rows(SETS["holdout"]))
    assert "family" in out and "texts not shown" in out
    assert shown == 0


def test_the_second_set_is_what_its_generator_writes() -> None:
    tuning, holdout = make_holdout.split(make_holdout.generate())
    assert len(tuning) + len(holdout) >= 1500
    same_tuning = tuning == load_rows(SETS["tuning"])
    same_holdout = holdout == load_rows(SETS["holdout"])
    assert same_tuning and same_holdout, "regenerate with python -m bench.make_holdout, never edit by hand"


def test_a_crash_on_the_holdout_does_not_show_the_row() -> None:
    class Crashing(Policy):
        def findings(self, text: str, audience: Audience, screened: bool = True) -> tuple[Finding, ...]:
            raise ValueError(text)

    policy = Crashing.from_text("version: '1'\nrules: [{id: a, detector: {pii: card}, action: block}]")
    with pytest.raises(UnseenSetError) as raised:
        evaluate_unseen(
            policy, [{"text": "secret row", "audience": "public", "expect": [], "kind": "negative"}]
        )
    assert "secret row" not in str(raised.value) and raised.value.__suppress_context__


def test_a_reference_rule_and_a_term_count_under_the_rows_labels() -> None:
    order = Finding("order-reference", "custom", "redact", 8, 20)
    contract = Finding("contract-number", "reference", "redact", 0, 9)
    slur = Finding("terms-block", "vulgar", "block", 0, 4)
    assert categories([order, contract], None) == {"reference"}
    assert categories([slur], None, "insult") == {"insult"}
    assert categories([slur], "fr") == {"terms-fr"}
