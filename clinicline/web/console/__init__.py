"""The agent console: sign-in, presence, live screen-pops, wrap-up, task queues, context API,
and the supervisors' figures.

`setup_console(app, db, hub, coordinator)` adds its routes to the server's aiohttp app.
"""

from __future__ import annotations

from aiohttp import web

from clinicline.callflow.callback import CallbackDesk
from clinicline.callflow.prompts import clinic_prompts
from clinicline.softphone.directory import GatewayDirectory
from clinicline.web.console import (
    api_views,
    auth_views,
    call_views,
    campaign_views,
    flow_views,
    integration_views,
    metrics_views,
    softphone_views,
    task_views,
    training_views,
)
from clinicline.web.console.attendance import BEAT_SECONDS, GRACE_SECONDS, ConsoleAttendance
from clinicline.web.console.flow_views import FLOWS, FlowTools
from clinicline.web.console.guards import CONSOLE, Console
from clinicline.web.console.hub import WebSocketHub
from clinicline.web.console.sessions import IDLE_SECONDS, SessionStore
from clinicline.web.console.signin import SignIn
from dialogs.wording import DialogWording
from integrations.ehr.sync import EhrSync
from integrations.passwords import PasswordWorkers
from integrations.store import Database
from routing.transfer import TransferCoordinator

__all__ = ["FlowTools", "WebSocketHub", "setup_console"]


def setup_console(
    app: web.Application,
    db: Database,
    hub: WebSocketHub,
    coordinator: TransferCoordinator,
    *,
    idle_seconds: float = IDLE_SECONDS,
    hash_workers: int = 1,
    console_grace: float = GRACE_SECONDS,
    flows: FlowTools | None = None,
    ehr: EhrSync | None = None,
    softphone: GatewayDirectory | None = None,
    callbacks: CallbackDesk | None = None,
) -> None:
    """Mount the console on `app`; its sessions live in `db`, shared by every app process.
    `console_grace`: how long an agent's console may be gone before she is set away.
    `flows`: the wording's defaults and the voice for the Flows area (its prompt cache may
    be set later, once the speech models load). `ehr`: the clinic's EHR, when it is the record
    (the patient panel reads the insurance on file from it). `softphone`: finds the gateway
    agents' browser phones register with (None: desk phones only)."""
    sessions = SessionStore(db, idle_seconds=idle_seconds)
    if flows is None:
        wording = DialogWording.from_file()
        flows = FlowTools(clinic_prompts("the clinic") | wording.defaults(), wording=wording)
    app[FLOWS] = flows
    if callbacks is not None:
        app[task_views.CALLBACKS] = callbacks
    if softphone is not None and softphone_views.VENDOR_SIPJS.is_dir():
        app[softphone_views.SOFTPHONE] = softphone
    passwords = PasswordWorkers(hash_workers)
    app[CONSOLE] = Console(db, hub, coordinator, sessions, SignIn(db, passwords), ehr)
    attendance = ConsoleAttendance(
        db, hub, grace=console_grace, beat_seconds=min(BEAT_SECONDS, console_grace / 3)
    )
    app.on_startup.append(attendance.start)
    app.on_shutdown.append(attendance.stop)
    app.on_shutdown.append(hub.close_all)

    async def stop_hashing(_app: web.Application) -> None:
        passwords.close()

    async def stop_try_it(_app: web.Application) -> None:
        if flows.chats is not None:  # the try-it sandbox's Rasa and store
            await flows.chats.stop()

    app.on_cleanup.append(stop_hashing)
    app.on_cleanup.append(stop_try_it)
    r = app.router
    r.add_get("/console", auth_views.page)
    r.add_static("/console/static", auth_views.STATIC_DIR, show_index=False)
    if softphone_views.VENDOR_SIPJS.is_dir():
        r.add_static("/console/vendor/sip.js", softphone_views.VENDOR_SIPJS, show_index=False)
    r.add_post("/console/login", auth_views.login)
    r.add_post("/console/logout", auth_views.logout)
    r.add_post("/console/password", auth_views.change_password)
    r.add_get("/console/me", auth_views.me)
    r.add_get("/console/ws", call_views.websocket)
    r.add_post("/console/presence", call_views.presence)
    r.add_post("/console/calls/{call_id}/accept", call_views.accept)
    r.add_post("/console/calls/{call_id}/decline", call_views.decline)
    r.add_post("/console/calls/{call_id}/wrapup", call_views.wrap_up)
    r.add_post("/console/calls/{call_id}/monitor", call_views.monitor)
    r.add_post("/console/calls/{call_id}/transfer", call_views.transfer_on)
    r.add_get("/console/tasks", task_views.list_tasks)
    r.add_post("/console/tasks/{task_id}/claim", task_views.claim)
    r.add_post("/console/tasks/{task_id}/complete", task_views.complete)
    r.add_post("/console/tasks/{task_id}/call", task_views.call_back)
    r.add_get("/console/api/metrics", metrics_views.metrics)
    r.add_get("/console/api/metrics/export", metrics_views.export)
    r.add_get("/console/api/board", metrics_views.board)
    r.add_get("/console/api/calls", metrics_views.recent)
    r.add_get("/console/api/campaigns", campaign_views.list_campaigns)
    r.add_post("/console/api/campaigns", campaign_views.create)
    r.add_post("/console/api/campaigns/{campaign_id}/start", campaign_views.start)
    r.add_post("/console/api/campaigns/{campaign_id}/pause", campaign_views.pause)
    r.add_get("/console/api/campaigns/{campaign_id}/export", campaign_views.export)
    r.add_get("/console/api/providers", campaign_views.list_providers)
    r.add_get("/console/api/absences", campaign_views.list_absences)
    r.add_post("/console/api/absences/{absence_id}/withdraw", campaign_views.withdraw_absence)
    r.add_get("/console/api/hl7/dead-letters", integration_views.list_dead_letters)
    r.add_post(
        "/console/api/hl7/dead-letters/{message_id}/send-again",
        integration_views.send_dead_letter_again,
    )
    flow_views.add_routes(r)
    training_views.add_routes(r)
    softphone_views.add_routes(r)
    r.add_get("/api/context/{token}", api_views.context)
    r.add_get("/api/calls/{call_id}", api_views.call_record)
    r.add_get("/api/calls/{call_id}/patient", api_views.patient_panel_of_call)
    r.add_get("/api/calls/{call_id}/recording", api_views.recording)
