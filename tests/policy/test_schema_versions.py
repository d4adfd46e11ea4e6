"""The charter file's schema and its versions in the database."""

from __future__ import annotations

import pytest
import yaml

from charter.core.errors import ConflictError, InvalidInputError, NotFoundError
from charter.policy.schema import parse_charter
from charter.policy.versions import PolicyRepository, default_charter_text
from charter.runtime import Runtime


def test_default_charter_declares_the_required_red_lines_and_high_risk_areas() -> None:
    charter = parse_charter(default_charter_text())
    red = {c.id for c in charter.categories if c.tier == "red_line"}
    high = {c.id for c in charter.categories if c.tier == "high_risk"}
    assert {"surveillance_of_people", "discrimination", "deanonymisation",
            "manipulating_public_opinion", "weapons", "sexual_content_minors",
            "violent_extremism", "serious_crime"} <= red
    assert {"law_enforcement", "migration", "democratic_processes", "personal_data",
            "automated_decisions", "social_wellbeing"} <= high
    assert charter.actions == {"red_line": "refuse", "high_risk": "hold_for_review",
                               "limited": "safe_complete", "minimal": "allow"}
    assert charter.label and charter.principles


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("actions"), "actions"),
    (lambda d: d["actions"].pop("limited"), "missing: limited"),
    (lambda d: d["categories"][0].update(tier="catastrophic"), "tier"),
    (lambda d: d["categories"][0].update(patterns=["(unclosed"]), "not a valid regular expression"),
    (lambda d: d["categories"][0].update(colour="red"), "colour"),
    (lambda d: d["categories"].append(dict(d["categories"][0])), "duplicate category ids"),
])
def test_schema_errors_name_the_problem(mutate, message) -> None:  # noqa: ANN001
    data = yaml.safe_load(default_charter_text())
    mutate(data)
    with pytest.raises(InvalidInputError, match=message):
        parse_charter(yaml.safe_dump(data))


def test_not_yaml() -> None:
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        parse_charter("name: [unclosed")
    with pytest.raises(InvalidInputError, match="expected a mapping"):
        parse_charter("- just a list")


def test_versions_propose_approve_retire_and_diff(runtime: Runtime) -> None:
    repo = PolicyRepository(runtime.db)
    number, charter = repo.active()
    assert number == 1 and charter.name == "Default charter"
    edited = default_charter_text().replace("name: Default charter", "name: Stricter charter")
    draft = repo.propose(edited, "alice", "rename")
    assert (draft.number, draft.state) == (2, "draft")
    assert repo.active()[0] == 1  # drafts are not enforced
    with pytest.raises(ConflictError, match="different person"):
        repo.approve(2, "alice")
    repo.approve(2, "bob")
    assert repo.active()[1].name == "Stricter charter"
    assert [(v.number, v.state) for v in repo.list()] == [(1, "retired"), (2, "approved")]
    assert "+name: Stricter charter" in repo.diff(1, 2)
    with pytest.raises(ConflictError, match="not a draft"):
        repo.approve(1, "bob")
    with pytest.raises(NotFoundError):
        repo.get(9)
    with pytest.raises(InvalidInputError):
        repo.propose("name: broken", "alice", "oops")
    assert len(repo.list()) == 2  # the invalid proposal stored nothing
