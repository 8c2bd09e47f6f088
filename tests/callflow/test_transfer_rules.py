"""The warm transfer's rules that need no call: when the caller is handed on by REFER."""

from __future__ import annotations

from dataclasses import replace

from clinicline.callflow.transfer import TransferSettings, refers
from integrations.services.agents import AgentInfo
from routing.transfer import TransferPlan
from tests.routing.test_cti import payload

DESK = AgentInfo(7, "Nora Bell", "nurse1", "nurse", "sip:nurse1@10.0.0.7", ("nurse",), "busy")


def _plan(agent: AgentInfo | None) -> TransferPlan:
    return TransferPlan(
        call_id="c1", target="agent" if agent else "on_call", queue="nurse", agent=agent,
        sip_uri=agent.sip_uri if agent else "sip:oncall@10.0.0.9", token=None,
        payload=payload(), whisper="",
    )  # fmt: skip


def test_refer_hands_on_to_desk_phones_and_the_on_call_line_never_to_a_browser_phone() -> None:
    refer, bridge = TransferSettings(mode="refer"), TransferSettings(mode="bridge")
    browser = replace(DESK, sip_uri="sip:nurse1@127.0.0.1:5064", on_browser_phone=True)
    assert refers(refer, _plan(DESK)) and refers(refer, _plan(None))
    assert not refers(refer, _plan(browser))
    assert not any(refers(bridge, _plan(agent)) for agent in (DESK, browser, None))
