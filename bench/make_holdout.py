"""Write the second evaluation set: `tests/data/policy_tuning_v2.jsonl` and `policy_holdout.jsonl`.

`python -m bench.make_holdout` regenerates both (seeded: the same files every time). The set covers
the five families of issue 10 (phone numbers as people write them, references after a context word,
bank details in DM, disguised terms, insults that depend on context) plus e-mail and NIR, each with
innocent look-alikes. It is written apart from `bench/make_eval_set.py` and from the detectors'
tests: other templates, other Faker locales and seeds, other word lists, numbers built with
phonenumbers and python-stdnum. About a third of the rows (chosen by a seeded hash of each text) go
to the tuning file, which tuners may read; the other two thirds are the holdout, which nobody tuning
the policy opens: `python -m bench.policy_quality --set holdout` reads it and prints counts, never texts.

No real replies of brand care accounts are included: the public corpora of them found (Kaggle's
"Customer Support on Twitter" and its copies, IBM's Twitter customer-care conversations) are X posts,
shared under CC BY-NC-SA 4.0 or X's developer terms (which let others redistribute post IDs, not their
text); neither allows copying their text into this repository.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

from bench.holdout_pii import Row, bank_rows, other_pii_rows, phone_rows, reference_rows
from bench.holdout_terms import context_rows, disguise_rows

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
TUNING = DATA / "policy_tuning_v2.jsonl"
HOLDOUT = DATA / "policy_holdout.jsonl"
SEED = 731_904_455
SPLIT_SEED = 58_221

FAMILIES: dict[str, Callable[[random.Random], list[Row]]] = {
    "phone": phone_rows,
    "reference": reference_rows,
    "bank": bank_rows,
    "disguise": disguise_rows,
    "context": context_rows,
    "pii-other": other_pii_rows,
}


def generate(seed: int = SEED) -> list[Row]:
    """Every labelled row of the set, family by family, each family from its own seeded generator.

    A text generated twice is kept once: a repeated row would weigh twice in recall."""
    rows: list[Row] = []
    seen: set[str] = set()
    for offset, (family, make) in enumerate(FAMILIES.items()):
        for row in make(random.Random(seed + offset)):
            if row["text"] not in seen:
                seen.add(row["text"])
                rows.append({**row, "family": family})
    return rows


def split(rows: list[Row], seed: int = SPLIT_SEED) -> tuple[list[Row], list[Row]]:
    """(tuning, holdout): about a third of the rows for tuning, the rest held out.

    A row's part is decided by a seeded hash of its text alone, so regenerating after a change to
    another family never moves a row that tuners have seen into the holdout."""
    tuning: list[Row] = []
    holdout: list[Row] = []
    for row in rows:
        digest = hashlib.sha256(f"{seed}:{row['text']}".encode()).digest()
        (tuning if int.from_bytes(digest[:8], "big") % 3 == 0 else holdout).append(row)
    return tuning, holdout


def write(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    tuning, holdout = split(generate())
    DATA.mkdir(parents=True, exist_ok=True)
    write(TUNING, tuning)
    write(HOLDOUT, holdout)
    for name, part in (("tuning", tuning), ("holdout", holdout)):
        positives = sum(row["kind"] == "positive" for row in part)
        print(f"{name}: {len(part)} rows, {positives} positives, {len(part) - positives} negatives")


if __name__ == "__main__":
    main()
