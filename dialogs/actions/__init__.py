"""Custom actions of the clinic dialogs, registered as instances that carry their dependencies.

Each action only translates between Rasa and `integrations.services`; business rules live there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from dialogs.actions.appointments import (
    ActionAskAppointmentChoice,
    ActionAskCancelConfirmed,
    ActionSubmitCancel,
    ActionSubmitReschedule,
    ActionSubmitSchedule,
    ValidateCancelForm,
    ValidateRescheduleForm,
    ValidateScheduleForm,
)
from dialogs.actions.context import Deps
from dialogs.actions.identity import (
    ActionAskDob,
    ActionAskDobConfirmed,
    ActionAskNameConfirmed,
    ActionAskPatientName,
    ValidateIdentityForm,
)
from dialogs.actions.offers import ActionAskSlotChoice, ActionAskWhenText
from dialogs.actions.refill import (
    ActionAskMedication,
    ActionAskRefillConfirmed,
    ActionSubmitRefill,
    ValidateRefillForm,
)
from dialogs.actions.requests import (
    ActionBilling,
    ActionClinicInfo,
    ActionGoodbye,
    ActionNotServed,
    ActionOfficeRequest,
    ActionServeRequest,
)
from dialogs.actions.transfers import ActionTransferFrontDesk, ActionTransferNurse
from dialogs.knowledge import DEFAULT_FILE, Knowledge
from dialogs.wording import DialogWording
from integrations.ehr.sync import EhrSync
from integrations.store.database import Database
from routing.hours import BusinessHours

__all__ = ["Deps", "build_action_executor", "build_actions"]


def build_actions(deps: Deps, knowledge: Knowledge) -> list[Action]:
    """Every custom action named in domain.yml, wired to `deps`."""
    return [
        ValidateIdentityForm(deps), ValidateRefillForm(deps), ValidateScheduleForm(deps),
        ValidateRescheduleForm(deps), ValidateCancelForm(deps),
        ActionAskPatientName(deps), ActionAskDob(deps), ActionAskDobConfirmed(deps),
        ActionAskNameConfirmed(deps), ActionAskMedication(deps), ActionAskRefillConfirmed(deps),
        ActionAskWhenText(deps), ActionAskSlotChoice(deps), ActionAskAppointmentChoice(deps),
        ActionAskCancelConfirmed(deps),
        ActionSubmitRefill(deps), ActionSubmitSchedule(deps), ActionSubmitReschedule(deps),
        ActionSubmitCancel(deps), ActionServeRequest(deps), ActionBilling(deps),
        ActionClinicInfo(deps, knowledge), ActionGoodbye(deps), ActionNotServed(deps),
        ActionOfficeRequest(deps),
        ActionTransferNurse(deps), ActionTransferFrontDesk(deps),
    ]


def build_action_executor(
    db: Database,
    *,
    clock: Callable[[], datetime] | None = None,
    knowledge_file: Path = DEFAULT_FILE,
    hours: BusinessHours | None = None,
    ehr: EhrSync | None = None,
    wording: DialogWording | None = None,
) -> ActionExecutor:
    """An executor serving the clinic's actions against `db` (clock injectable for tests;
    `hours`: the business hours routing uses, so the bot says the same; `wording`: the
    process's live replies, kept on the published version by the server)."""
    hours = hours or BusinessHours.default()
    wording = wording or DialogWording.from_file()
    deps = (Deps(db, hours=hours, ehr=ehr, wording=wording) if clock is None
            else Deps(db, clock, hours, ehr, wording))
    executor = ActionExecutor()
    for action in build_actions(deps, Knowledge.load(knowledge_file)):
        executor.register_action(action)
    return executor
