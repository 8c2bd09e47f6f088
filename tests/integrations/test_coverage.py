"""Insurance as an agent's panel shows it, from Coverage resources however an EHR writes them."""

from __future__ import annotations

from datetime import date

from integrations.ehr.coverage import in_force, summary

TODAY = date(2031, 3, 5)


def test_a_coverage_without_payer_plan_or_member_id_gives_what_it_has() -> None:
    assert summary({"resourceType": "Coverage", "status": "active"}) == {
        "payer": None, "plan": None, "member_id_last4": None, "until": None,
    }  # fmt: skip
    coded = {
        "payor": [{"reference": "Organization/7", "display": ""}],
        "type": {"coding": [{"code": "HIP", "display": "health insurance plan policy"}]},
        "subscriberId": "123",  # too short to mask: not shown at all
    }
    assert summary(coded) == {
        "payer": None, "plan": "health insurance plan policy", "member_id_last4": None,
        "until": None,
    }  # fmt: skip


def test_only_coverage_in_force_is_shown() -> None:
    assert in_force({"status": "active"}, TODAY)  # no end: open-ended
    assert in_force({"status": "active", "period": {"end": "2031-03-05"}}, TODAY)
    assert not in_force({"status": "active", "period": {"end": "2031-03-04"}}, TODAY)
    assert not in_force({"status": "cancelled"}, TODAY)
    assert in_force({"status": "active", "period": {"end": "soon"}}, TODAY)  # the agent asks
