"""The rule registry: every rule declared once, reported only by name, and exercised.

Each registered rule has a bad input whose exact output a test asserts:
a directory tests/data/bad/<RULE>[-VARIANT]/ (tests/test_bad_schemas.py),
or, for rules whose input is not a schema directory, a test listed in
ELSEWHERE that asserts the exact diagnostic line.
"""

import re
from pathlib import Path

import pytest

from codegen.spec.diagnostics import Location, Reporter
from codegen.spec.rules import REGISTRY

TESTS = Path(__file__).resolve().parent
BAD = TESTS / "data" / "bad"
CODEGEN = TESTS.parent / "codegen"

# Rules whose bad input is not a schema directory: the test file asserting the exact output.
ELSEWHERE = {
    "READ-ERROR": "test_bad_schemas.py",  # a directory where a schema file should be
    "FILE-NAME": "test_bad_disk.py",  # names git and a checkout may not carry
    **{
        name: "test_sim_profile.py" for name in REGISTRY if name.startswith(("PROFILE-", "REPLAY-"))
    },
}


def bad_cases(rule: str) -> list[Path]:
    """Bad-schema directories whose expected output reports rule."""
    return [
        d
        for d in BAD.iterdir()
        if (d.name == rule or d.name.startswith(rule + "-"))
        and f"[{rule}]: " in (d / "expected.txt").read_text()
    ]


@pytest.mark.parametrize("rule", sorted(REGISTRY))
def test_every_rule_has_a_bad_case(rule):
    severity = REGISTRY[rule].severity
    if rule in ELSEWHERE:
        text = (TESTS / ELSEWHERE[rule]).read_text()
        assert f"{severity}[{rule}]: " in text, f"{ELSEWHERE[rule]} asserts no {rule} output"
    else:
        assert bad_cases(rule), f"no tests/data/bad/{rule}*/ case reports {rule}"


def test_every_bad_case_names_a_registered_rule():
    for d in BAD.iterdir():
        text = (d / "expected.txt").read_text()
        reported = set(re.findall(r"(?:error|warning)\[([A-Z0-9-]+)\]", text))
        assert reported <= set(REGISTRY), d.name


def test_rule_names_in_the_source_are_registered():
    """A rule named anywhere in codegen/ is in the registry (a typo would be an internal error),
    or is one of the command line's own (CLI_RULES), none of which is a schema rule."""
    from codegen.cli.common import CLI_RULES

    used = set()
    for path in CODEGEN.rglob("*.py"):
        used |= set(re.findall(r'"([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)"', path.read_text()))
    assert set(REGISTRY) & set(CLI_RULES) == set()
    assert used - set(REGISTRY) - set(CLI_RULES) == set()
    assert set(REGISTRY) - used == set()  # and every registered rule is reported somewhere


def test_reporter_accepts_only_registered_rules():
    rep = Reporter()
    rep.error("ID-FORMAT", "m", Location("f"))
    rep.warning("STRUCT-UNUSED", "m", Location("f"))
    with pytest.raises(ValueError, match="ID-FROMAT is not a registered error rule"):
        rep.error("ID-FROMAT", "m", Location("f"))
    with pytest.raises(ValueError, match="STRUCT-UNUSED is not a registered error rule"):
        rep.error("STRUCT-UNUSED", "m", Location("f"))
    assert [d.rule for d in rep.items] == ["ID-FORMAT", "STRUCT-UNUSED"]


def test_each_rule_is_described():
    for rule in REGISTRY.values():
        assert rule.severity in ("error", "warning")
        assert rule.summary.endswith(".") and "\n" not in rule.summary, rule.name
