"""`sav-bridge policy validate`: every error of a file at once, each on its line, and nothing else on stderr."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.cli import main
from sav_bridge.errors import PolicyError
from sav_bridge.policy import Policy

MANY_ERRORS = """\
version: "1"
settings:
  phone_region: UK
rules:
  - id: card
    detector: {pii: cardd}
    action: block
  - id: phone-dm
    detector: {pii: phone}
    audience: dm
    action: require_dm
  - id: contract
    detector:
      pattern:
        regex: '(?<=CT)-\\d{6}'
    action: redact
  - id: card
    detector: {pii: iban}
    action: block
    action: warn
  - id: typo
    detector: {pii: iban}
    actoin: warn
"""


def validate(tmp_path: Path, document: str, capfd: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    path = tmp_path / "mine.yaml"
    path.write_text(document, encoding="utf-8")
    status = main(["policy", "validate", str(path)])
    out, err = capfd.readouterr()
    return status, [line.replace(f"{path}:", "") for line in out.splitlines()], err


def test_every_error_of_a_file_is_reported_at_once_with_its_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    status, lines, err = validate(tmp_path, MANY_ERRORS, capfd)
    assert status == 2
    assert lines == [
        "3: settings.phone_region: unknown region 'UK' (did you mean GB?); "
        "use a two-letter ISO 3166 code such as FR, BE, CH, GB, US",
        "6: rules[0].detector.pii: must be one of card, iban, nir, email, phone",
        "10: rules[1].audience: rule 'phone-dm' can never fire: require_dm never holds a DM "
        "(it is already private); use audience public, or action warn or block for DMs",
        "15: rules[2].detector.pattern.regex: rule 'contract' is not a valid RE2 expression: "
        "invalid perl operator: (?<= (RE2 has no look-around)",
        "17: rules[3].id: duplicate rule id 'card' (first at rules[0])",
        "20: rules[3].action: repeated key (first at line 19); only the last one would count",
        "21: rules[4]: action is required",
        "23: rules[4].actoin: unknown key; expected one of id, description, detector, audience, action, "
        "switch_to_dm, advice",
        "checked 1 file: 0 valid, 1 invalid (8 errors)",
    ]
    assert err == ""


RULE = 'version: "1"\nrules:\n  - id: r\n'


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            'version: "1"\nsettings: {phone_region: XX}\nrules:\n  - {id: r, detector: {pii: phone}, action: block}\n',
            "2: settings.phone_region: unknown region 'XX'; use a two-letter ISO 3166 code",
        ),
        (
            'version: "1"\nsettings: {phone_region: fr}\nrules:\n  - {id: r, detector: {pii: phone}, action: block}\n',
            "2: settings.phone_region: write the region in capitals: FR",
        ),
        (
            RULE + "    detector: {pii: phone}\n    audience: [dm]\n    action: require_dm\n",
            "5: rules[0].audience: rule 'r' can never fire: require_dm never holds a DM",
        ),
        (
            RULE + "    detector: {pii: card}\n    action: block\n    switch_to_dm: true\n",
            "6: rules[0].switch_to_dm: rule 'r' never switches to DM: switch_to_dm works only with action "
            "require_dm, not block",
        ),
        (
            RULE + "    detector: {terms: {languages: []}}\n    action: block\n",
            "4: rules[0].detector.terms: rule 'r' can never fire: no built-in term has these languages",
        ),
        (
            RULE + "    detector: {terms: {extra: []}}\n    action: block\n",
            "4: rules[0].detector.terms: rule 'r' can never fire",
        ),
        (
            RULE + "    detector:\n      pattern:\n        regex: 'CT-\\d+'\n        confidence: 0.2\n"
            "        min_confidence: 0.6\n        context: {words: [contrat]}\n    action: redact\n",
            "8: rules[0].detector.pattern.min_confidence: rule 'r' can never fire: its confidence reaches at "
            "most 0.5 (0.2 + boost 0.3 near context.words), below min_confidence 0.6",
        ),
        (
            RULE + "    detector: {pattern: {regex: 'CT-\\d+', confidence: 0.3}}\n    action: warn\n",
            "4: rules[0].detector.pattern.confidence: rule 'r' can never fire: its confidence 0.3 is all it "
            "reaches (no context.words raise it), below min_confidence 0.5",
        ),
        (
            RULE + "    detector: {pattern: {regex: '(CT'}}\n    action: block\n",
            "4: rules[0].detector.pattern.regex: rule 'r' is not a valid RE2 expression: missing ): (CT",
        ),
        (
            RULE + "    detector: {pattern: {regex: '(a)\\1'}}\n    action: block\n",
            "4: rules[0].detector.pattern.regex: rule 'r' is not a valid RE2 expression: "
            "invalid escape sequence: \\1 (RE2 has no backreferences",
        ),
        (
            RULE + "    detector: {pattern: {regex: 'a{1001}'}}\n    action: block\n",
            "4: rules[0].detector.pattern.regex: rule 'r' is not a valid RE2 expression: "
            "invalid repetition size: {1001}",
        ),
        (RULE + "    detector: {pii: card}\n    action: [block\n", "6: not valid YAML: expected ',' or ']'"),
        (RULE, "3: rules[0]: detector and action are required"),
        (
            'version: "1"\nrules:\n  - {id: Card, detector: {pii: card}, action: block}\n',
            "3: rules[0].id: must be lower-case letters, digits, '-', '_' or '.', starting with a letter or digit",
        ),
    ],
)
def test_each_error_names_its_line_key_and_problem_with_nothing_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], document: str, expected: str
) -> None:
    status, lines, err = validate(tmp_path, document, capfd)
    assert status == 2
    assert lines[0].startswith(expected), lines
    assert lines[-1] == "checked 1 file: 0 valid, 1 invalid (1 error)"
    assert err == ""  # RE2 logs its own syntax errors from C++ unless told not to


@pytest.mark.parametrize(
    "rules",
    [
        "  - {id: r, detector: {pii: phone}, audience: [public, dm], action: require_dm}\n",
        "  - {id: r, detector: {pii: phone}, audience: public, action: require_dm, switch_to_dm: true}\n",
        "  - {id: r, detector: {pii: card}, action: block, switch_to_dm: false}\n",
        "  - {id: r, detector: {terms: {languages: [], extra: [rivalbank]}}, action: warn}\n",
        "  - {id: r, detector: {terms: {languages: [en], categories: [sexual], severity: warn}}, action: warn}\n",
        "  - {id: r, detector: {pattern: {regex: 'CT-\\d+', confidence: 0.4, context: {words: [contrat]}}},"
        " action: redact}\n",
    ],
)
def test_rules_that_can_fire_are_valid(tmp_path: Path, capfd: pytest.CaptureFixture[str], rules: str) -> None:
    document = 'version: "1"\nsettings: {phone_region: GB}\nrules:\n' + rules
    status, lines, _ = validate(tmp_path, document, capfd)
    assert (status, lines[-1]) == (0, "checked 1 file: all valid")


def test_several_files_are_summed_up_and_an_unreadable_one_is_an_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["policy", "validate", str(POLICY_DIR / "default.yaml"), str(missing)]) == 2
    out = capfd.readouterr().out.splitlines()
    assert out[1:] == [
        f"{missing}: cannot read: No such file or directory",
        "checked 2 files: 1 valid, 1 invalid (1 error)",
    ]


def test_start_up_names_the_first_error_in_one_line_and_how_many_more(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(MANY_ERRORS, encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        Policy.from_file(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:3: settings.phone_region: unknown region 'UK'")
    assert message.endswith(f"(and 7 more: sav-bridge policy validate {path})")


def test_a_bad_pattern_at_start_up_is_one_clean_line(capfd: pytest.CaptureFixture[str]) -> None:
    document = RULE + textwrap.indent("detector: {pattern: {regex: '(?<!a)b'}}\naction: block\n", "    ")
    with pytest.raises(PolicyError, match=r"^p\.yaml:4: rules\[0\]\.detector\.pattern\.regex: rule 'r' is"):
        Policy.from_text(document, "p.yaml")
    assert capfd.readouterr().err == ""
