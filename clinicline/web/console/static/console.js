// clinicline agent console: sign-in, presence, live screen-pops over a WebSocket, wrap-up,
// task queues, and for supervisors the numbers. Data is only ever written with textContent,
// never parsed as HTML.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = {};
  try { data = await response.json(); } catch (_) { /* empty body */ }
  return { ok: response.ok, status: response.status, data };
}

function say(text) { $("#status").textContent = text; }

let current = null; // the signed-in agent, or null

function show(signedIn, agent) {
  current = signedIn ? agent : null;
  const supervisor = signedIn && agent.role === "supervisor";
  $("#login-view").hidden = signedIn;
  $("#password-view").hidden = true;
  $("#console-view").hidden = !signedIn;
  $("#metrics-view").hidden = true;
  $("#campaigns-view").hidden = true;
  $("#engine-view").hidden = true;
  $("#flows-view").hidden = true;
  $("#calls-view").hidden = true;
  $("#views").hidden = !supervisor;
  markTab("console-view");
  if (!supervisor) stopMetricsTimer();
  $("#logout").hidden = !signedIn;
  $("#who").hidden = !signedIn;
  $("#link").hidden = !signedIn;
  $("#who").textContent = signedIn ? `${agent.name} (${agent.role})` : "";
}

// ---- WebSocket feed -------------------------------------------------------------------
let socket = null;
let retryMs = 1000;

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/console/ws`);
  socket.addEventListener("message", (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch (_) { return; }
    handle(message);
  });
  socket.addEventListener("open", () => { retryMs = 1000; });
  socket.addEventListener("close", () => {
    $("#link").dataset.state = "offline";
    $("#link").textContent = "offline";
    if (current !== null) {
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    }
  });
}

function handle(message) {
  if (message.type === "hello") {
    $("#link").dataset.state = "online";
    $("#link").textContent = "online";
  } else if (message.type === "offer") {
    renderOffer(message.pop);
    if ($("#console-view").hidden) { showView("console-view"); say("Call offered"); }
  } else if (message.type === "withdraw") {
    const card = cardFor(message.call_id);
    if (card) { card.remove(); say(`Call withdrawn: ${message.reason}`); }
    emptyCheck();
    settleAlert();
  } else if (message.type === "transcript") {
    const card = cardFor(message.call_id);
    if (card) addLine(card, message.line);
  } else if (message.type === "flag") {
    const card = cardFor(message.call_id) || flagCard(message.call_id, message.alert);
    showFlag(card, message.alert);
  } else if (message.type === "connected") {
    const card = cardFor(message.call_id);
    if (card) {
      $(".state", card).textContent = "connected";
      toWrapUp(card);
      $(".handoff", card).hidden = false;
    }
    setPresenceLabel("busy");
  } else if (message.type === "ended") {
    const card = cardFor(message.call_id);
    if (card) {
      if ($(".state", card).textContent !== "transferred") $(".state", card).textContent = "ended";
      toWrapUp(card);
      $(".handoff", card).hidden = true;
    }
  }
}

// ---- call cards -----------------------------------------------------------------------
let transferQueues = [];  // where a connected call may be passed on (from /console/me)
let colleagues = [];  // whom it may be passed to first

function cardFor(callId) {
  return [...document.querySelectorAll("#calls .card")].find((c) => c.dataset.callId === callId);
}

function emptyCheck() {
  const empty = $("#calls .empty");
  const cards = document.querySelectorAll("#calls .card").length;
  if (empty) empty.hidden = cards > 0;
}

function addLine(card, line) {
  const item = document.createElement("li");
  item.className = line.speaker;
  item.textContent = `${line.speaker}: ${line.text}`;
  $(".transcript", card).append(item);
}

// A red flag said while the agent is already on the call: shown at once, announced to
// screen readers (role="alert"), and the level badge follows.
function showFlag(card, alert) {
  const banner = $(".alert", card);
  const at = new Date(alert.at).toLocaleTimeString();
  const words = alert.trigger_words.length ? ` — "${alert.trigger_words.join('", "')}"` : "";
  banner.textContent = `Red flag (${alert.level}) at ${at}: ${alert.flags.join(", ")}${words}`;
  banner.hidden = false;
  const badge = $(".level", card);
  badge.textContent = alert.level;
  badge.className = `level level-${alert.level}`;
  card.classList.add("flagged");
  say(`Red flag on your call: ${alert.flags.join(", ")}`);
}

// The card's first line: who is calling (name and whether verified), why (the flags and the
// caller's own words, or the reason), and, ticking, how long ago the first red flag fired.
function headline(card, pop) {
  const payload = pop.payload;
  const patient = payload.patient;
  let who = "Unverified caller";
  if (patient && patient.name) {
    who = patient.verified ? `${patient.name} (verified)` : `${patient.name}? (not verified)`;
  }
  const flags = payload.triage.flags.map((f) => f.replaceAll("_", " "));
  const words = payload.triage.trigger_words.length
    ? ` — "${payload.triage.trigger_words.join('", "')}"` : "";
  $(".who", card).textContent = who;
  $(".why", card).textContent = flags.length ? `${flags.join(", ")}${words}` : payload.reason;
  const since = payload.triage.flagged_at
    || (pop.emergent ? payload.timestamps.transfer_requested : null);
  if (since) card.dataset.flaggedAt = since;
  tickSince(card);
}

function tickSince(card) {
  const since = card.dataset.flaggedAt;
  if (!since) return;
  const seconds = Math.max(0, Math.round((Date.now() - new Date(since).getTime()) / 1000));
  const ago = seconds < 90 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
  $(".since", card).textContent = `flag ${ago} ago`;
}

setInterval(() => document.querySelectorAll("#calls .card").forEach(tickSince), 1000);

// ---- emergent offers: impossible to miss ----------------------------------------------
const TITLE = document.title;
let audio = null;

function beep() {
  // Three short tones, made here (no sound file to fetch); browsers allow it after the
  // sign-in click.
  try {
    audio = audio || new AudioContext();
    [0, 0.3, 0.6].forEach((offset) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.2;
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + offset);
      tone.stop(audio.currentTime + offset + 0.18);
    });
  } catch (_) { /* no audio device: the other signals still fire */ }
}

function notifyDesktop(flags) {
  // No name or words on the desktop notification: it may show on a shared or locked screen.
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    new Notification("Emergent call offered", {
      body: flags.length ? `Red flag: ${flags.join(", ")}` : "Emergent call",
      requireInteraction: true, tag: "clinicline-emergent",
    });
  } catch (_) { /* notifications unsupported here */ }
}

function alertEmergent(card, pop) {
  const flags = pop.payload.triage.flags.map((f) => f.replaceAll("_", " "));
  card.classList.add("emergent");
  document.body.dataset.alerting = "emergent";
  document.title = `EMERGENT call — ${TITLE}`;
  $("#announcer").textContent =
    `Emergent call offered: ${$(".who", card).textContent}, ${flags.join(", ") || "red flag"}`;
  beep();
  notifyDesktop(flags);
  window.focus();
  card.focus();
  card.scrollIntoView({ block: "center" });
}

// The alert stands while any emergent card is still waiting for an answer.
function settleAlert() {
  const waiting = [...document.querySelectorAll("#calls .card.emergent")]
    .some((c) => !$(".actions", c).hidden);
  if (waiting) return;
  delete document.body.dataset.alerting;
  document.title = TITLE;
  $("#announcer").textContent = "";
}

function renderOffer(pop) {
  const payload = pop.payload;
  const existing = cardFor(pop.call_id);
  if (existing) existing.remove();
  const card = $("#call-card").content.firstElementChild.cloneNode(true);
  card.dataset.callId = pop.call_id;
  const level = payload.triage.level;
  const badge = $(".level", card);
  badge.textContent = level;
  badge.classList.add(`level-${level}`);
  headline(card, pop);
  $(".queue", card).textContent = pop.queue;
  $(".summary", card).textContent = pop.whisper;
  $(".flags", card).textContent = payload.triage.flags.join(", ") || "none";
  $(".words", card).textContent = payload.triage.trigger_words.join(", ") || "—";
  $(".reason", card).textContent = payload.reason;
  $(".caller", card).textContent = payload.caller_number || "unknown";
  $(".dob", card).textContent = (payload.patient && payload.patient.dob) || "—";
  payload.transcript.forEach((line) => addLine(card, line));
  $(".accept", card).addEventListener("click", () => accept(card));
  $(".decline", card).addEventListener("click", () => decline(card));
  $(".wrapup", card).addEventListener("submit", (event) => { event.preventDefault(); wrapUp(card); });
  const queues = $(".handoff-queue", card);
  for (const name of transferQueues) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name.replaceAll("_", " ");
    queues.append(option);
  }
  const people = $(".handoff-agent", card);
  for (const colleague of colleagues) {
    people.append(new Option(`${colleague.name} (${colleague.skills.join(", ").replaceAll("_", " ")})`,
      colleague.username));
  }
  $(".handoff", card).addEventListener("submit", (event) => { event.preventDefault(); handOff(card); });
  $("#calls").prepend(card);
  emptyCheck();
  if (pop.emergent || level === "emergent") alertEmergent(card, pop);
  else settleAlert();
  if (payload.patient && payload.patient.verified) loadPatientPanel(card);
}

// A red flag on a call she has no card for (a patient she is calling back): a card of its
// own says so, sounds and is announced, until she dismisses it.
function flagCard(callId, alert) {
  const card = $("#call-card").content.firstElementChild.cloneNode(true);
  card.dataset.callId = callId;
  $(".queue", card).textContent = "your call back";
  $(".state", card).textContent = "connected";
  $(".who", card).textContent = "The patient you are calling back";
  $(".why", card).textContent = alert.flags.map((f) => f.replaceAll("_", " ")).join(", ");
  $(".actions", card).hidden = true;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "dismiss";
  dismiss.textContent = "Dismiss";
  dismiss.addEventListener("click", () => { card.remove(); emptyCheck(); });
  card.append(dismiss);
  $("#calls").prepend(card);
  emptyCheck();
  $("#announcer").textContent = `Red flag on your call back: ${$(".why", card).textContent}`;
  beep();
  card.focus();
  return card;
}

function listInto(list, items, empty) {
  list.replaceChildren();
  for (const text of items.length ? items : [empty]) {
    const item = document.createElement("li");
    item.textContent = text;
    list.append(item);
  }
}

// The verified patient's panel: which patient is the server's own record of the call, and
// each opening is audited there.
async function loadPatientPanel(card) {
  const result = await api("GET", `/api/calls/${encodeURIComponent(card.dataset.callId)}/patient`);
  if (!result.ok) return;
  const panel = result.data;
  const box = $(".panel", card);
  listInto($(".panel-appointments", box), panel.appointments.map((a) =>
    `${new Date(a.start).toLocaleString()} — ${a.provider}${a.location ? `, ${a.location}` : ""}`),
    "none booked");
  listInto($(".panel-medications", box), panel.medications.map((m) =>
    `${m.name} ${m.strength} — ${m.refills_left} refill(s) left${m.controlled ? ", controlled" : ""}`),
    "none on file");
  // Only the EHR has it; the note says why there is nothing to show (none configured, down).
  listInto($(".panel-insurance", box), (panel.insurance || []).map((c) =>
    [c.payer || "payer not named", c.plan, c.member_id_last4 && `member ID ending ${c.member_id_last4}`,
     c.until && `until ${c.until}`].filter(Boolean).join(" — ")),
    panel.insurance ? "none in force" : `not shown: ${panel.insurance_note || "unknown"}`);
  listInto($(".panel-tasks", box), panel.tasks.map((t) =>
    `${TASK_KINDS[t.kind] || t.kind} (${t.queue}, ${t.status})`), "none open");
  listInto($(".panel-calls", box), panel.recent_calls.map((c) =>
    `${new Date(c.started).toLocaleString()} — ${(c.disposition || "no disposition").replaceAll("_", " ")}`),
    "none");
  box.hidden = false;
}

function callPath(card, action) {
  return `/console/calls/${encodeURIComponent(card.dataset.callId)}/${action}`;
}

function toWrapUp(card) {
  $(".actions", card).hidden = true;
  $(".wrapup", card).hidden = false;
  settleAlert();
}

async function accept(card) {
  const result = await api("POST", callPath(card, "accept"), {});
  if (!result.ok) { say(result.data.error || "could not accept"); return; }
  // A browser phone that is ringing answers with it (softphone.js).
  document.dispatchEvent(new CustomEvent("console:accepted"));
  // Connected only when her phone has the caller: the server says so ("connected").
  $(".state", card).textContent = "accepted: answer your phone";
  $(".actions", card).hidden = true;
  settleAlert();
}

async function decline(card) {
  const result = await api("POST", callPath(card, "decline"), {});
  if (!result.ok) say(result.data.error || "could not decline");
  card.remove();
  emptyCheck();
  settleAlert();
}

// Passing the caller on: the worker with the call ends her leg and rings the next person
// with the call's context; the server then says "ended" and she wraps up.
async function handOff(card) {
  const queue = $(".handoff-queue", card).value;
  if (!queue) { say("Choose where to transfer the call"); return; }
  const body = { queue, note: $(".handoff-note", card).value };
  if ($(".handoff-agent", card).value) body.agent = $(".handoff-agent", card).value;
  const result = await api("POST", callPath(card, "transfer"), body);
  if (!result.ok) { say(result.data.error || "transfer failed"); return; }
  $(".state", card).textContent = "transferred";
  $(".handoff", card).hidden = true;
  $(".disposition", card).value = "transferred";
  say(`Call passed to ${queue.replaceAll("_", " ")}`);
}

async function wrapUp(card) {
  const disposition = $(".disposition", card).value;
  if (!disposition) { say("Choose a disposition first"); return; }
  const notes = $(".notes", card).value;
  const result = await api("POST", callPath(card, "wrapup"), { disposition, notes });
  if (!result.ok) { say(result.data.error || "wrap-up failed"); return; }
  card.remove();
  emptyCheck();
  setPresenceLabel(result.data.presence);
  say("Wrap-up saved");
}

// ---- presence -------------------------------------------------------------------------
// Why an agent is away: the ones she picks, and the two the system sets for her.
const AWAY_REASONS = {
  break: "break", lunch: "lunch", meeting: "meeting", training: "training", admin: "admin work",
  other: "other", console_closed: "console closed", missed_offer: "missed a call",
};
const PRESENCE_TICK_MS = 15000;
let presenceSince = null;

function presenceText(state, reason) {
  if (state === "away" && reason) return `away (${AWAY_REASONS[reason] || reason})`;
  return state.replace("_", "-");
}

// `since` (ISO) from the server; a change the console saw happen starts now.
function setPresenceLabel(state, reason = null, since = null) {
  $("#presence-state").textContent = presenceText(state, reason);
  presenceSince = since ? new Date(since) : new Date();
  tickPresence();
}

function tickPresence() {
  $("#presence-timer").textContent = presenceSince
    ? waitText(Math.max(0, (Date.now() - presenceSince.getTime()) / 1000)) : "";
}
setInterval(tickPresence, PRESENCE_TICK_MS);

function showPresence(state) { setPresenceLabel(state.presence, state.reason, state.since); }

async function goAway() {
  const result = await api("POST", "/console/presence", { presence: "away", reason: $("#away-reason").value });
  if (result.ok) showPresence(result.data);
  else say(result.data.error || "could not change presence");
}

async function setPresence(state) {
  // Going available (a click: browsers ask only on one) is when desktop notifications for
  // emergent offers are asked for.
  if (state === "available" && "Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
  const result = await api("POST", "/console/presence", { presence: state });
  if (result.ok) showPresence(result.data);
  else say(result.data.error || "could not change presence");
}

// ---- live board ------------------------------------------------------------------------
const BOARD_REFRESH_MS = 5000;

function waitText(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function fillBoardRows(tbody, rows) {
  tbody.replaceChildren();
  for (const values of rows) {
    const row = document.createElement("tr");
    values.forEach((value, i) => {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      if (i > 0 && typeof value !== "string") cell.className = "num";
      row.append(cell);
    });
    tbody.append(row);
  }
}

async function loadBoard() {
  const result = await api("GET", "/console/api/board");
  if (!result.ok) return;
  const board = result.data;
  if (board.you) showPresence(board.you);
  $("#board-with-bot").textContent = String(board.calls.with_bot);
  $("#board-asking").textContent = String(board.calls.asking_for_person);
  $("#board-with-person").textContent = String(board.calls.with_person);
  const emergent = $("#board-emergent");
  emergent.hidden = board.calls.emergent === 0;
  emergent.textContent = board.calls.emergent
    ? `${board.calls.emergent} emergent (longest ${waitText(board.calls.longest_emergent_s)})` : "";
  const lines = board.lines.length
    ? board.lines.map((l) => [l.queue, l.waiting, waitText(l.longest_wait_s), l.flagged])
    : [["nobody waiting", "", "", ""]];
  fillBoardRows($("#board-lines tbody"), lines);
  const agents = $("#board-agents");
  agents.hidden = board.agents === null;
  if (board.agents !== null) {
    fillBoardRows($("tbody", agents), board.agents.map((a) => [
      a.name, a.role, presenceText(a.presence, a.reason), waitText(a.in_state_s),
      a.idle_s === null ? "—" : waitText(a.idle_s)]));
  }
  fillOnTheLine($("#board-on-the-line"), board.on_the_line);
}

// Supervisors join a bridged call from their desk phone: the worker with the call rings it.
const MONITOR_MODES = [["listen", "Listen"], ["whisper", "Whisper"], ["barge", "Barge"],
  ["stop", "Stop"]];

function fillOnTheLine(table, lines) {
  table.hidden = lines === null || lines === undefined;
  if (table.hidden) return;
  const tbody = $("tbody", table);
  tbody.replaceChildren();
  if (!lines.length) {
    fillBoardRows(tbody, [["nobody on the line with a person", "", "", "", "", ""]]);
    return;
  }
  for (const line of lines) {
    const row = document.createElement("tr");
    row.dataset.callId = line.call_id;
    for (const value of [line.queue || "—", line.level, line.agent || "—",
      waitText(line.since_s), line.monitor || "—"]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      row.append(cell);
    }
    const actions = document.createElement("td");
    for (const [mode, label] of MONITOR_MODES) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "monitor";
      button.dataset.mode = mode;
      button.textContent = label;
      button.disabled = mode === "stop" ? !line.monitor : line.monitor === mode;
      button.addEventListener("click", () => monitorCall(line.call_id, mode));
      actions.append(button);
    }
    row.append(actions);
    tbody.append(row);
  }
}

async function monitorCall(callId, mode) {
  const result = await api("POST", `/console/calls/${encodeURIComponent(callId)}/monitor`,
    { mode });
  if (result.ok) say(mode === "stop" ? "Leaving the call." : `Ringing your desk phone to ${mode}.`);
  else say(result.data.error || "could not join the call");
}

setInterval(() => { if (current !== null && !$("#console-view").hidden) loadBoard(); },
  BOARD_REFRESH_MS);

// ---- tasks ----------------------------------------------------------------------------
const TASK_KINDS = {
  callback: "Callback", nurse_callback: "Nurse callback", prior_auth: "Prior authorization",
  referral: "Referral", insurance_update: "Insurance update", refill_review: "Refill review",
};
const TASKS_REFRESH_MS = 30000;

function age(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h`;
  return `${Math.round(minutes / 1440)} days`;
}

// Tasks refresh themselves while the console is open (a callback left by a call appears
// without anyone pressing Refresh).
setInterval(() => { if (current !== null && !$("#console-view").hidden) loadTasks(); },
  TASKS_REFRESH_MS);

// A table row's action button.
function rowButton(className, label, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = label;
  button.addEventListener("click", onClick);
  return button;
}

function appendCells(row, values) {
  for (const value of values) {
    const cell = document.createElement("td");
    cell.textContent = value;
    row.append(cell);
  }
}

async function loadTasks() {
  const result = await api("GET", "/console/tasks");
  const body = $("#tasks tbody");
  body.replaceChildren();
  if (!result.ok) { say(result.data.error || "could not load tasks"); return; }
  for (const task of result.data.tasks) {
    const row = document.createElement("tr");
    row.dataset.taskId = String(task.id);
    row.className = `priority-${task.priority}`;
    const status = task.status === "claimed" && task.claimed_by
      ? `claimed by ${task.mine ? "you" : task.claimed_by}` : task.status;
    const values = [
      task.priority === "high" ? "High" : "", TASK_KINDS[task.kind] || task.kind, task.queue,
      task.patient || "—", task.callback_number || "—", age(task.created_at), task.note, status,
    ];
    appendCells(row, values);
    const cell = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    if (task.status === "open") {
      button.textContent = "Claim";
      button.className = "claim";
      button.addEventListener("click", () => taskAction(task.id, "claim"));
    } else if (task.mine) {
      button.textContent = "Complete";
      button.className = "complete";
      button.addEventListener("click", () => taskAction(task.id, "complete", { note: "" }));
    } else {
      button.hidden = true;
    }
    cell.append(button);
    if (task.mine && task.callback_number) {
      // Click-to-call: the clinic rings her phone, then this number (the server's own).
      const call = document.createElement("button");
      call.type = "button";
      call.className = "call-back";
      call.textContent = "Call back";
      call.addEventListener("click", () => callBack(task.id));
      cell.append(" ", call);
    }
    row.append(cell);
    body.append(row);
  }
}

async function callBack(id) {
  const result = await api("POST", `/console/tasks/${id}/call`, {});
  say(result.ok ? "Calling: your phone rings first, then the patient's" : result.data.error);
}

async function taskAction(id, action, body = {}) {
  const result = await api("POST", `/console/tasks/${id}/${action}`, body);
  say(result.ok ? `Task ${action === "claim" ? "claimed" : "completed"}` : result.data.error);
  await loadTasks();
}

// ---- supervisor view: the numbers ---------------------------------------------------------
const METRICS_REFRESH_MS = 60000;
let metricsTimer = null;

function markTab(view) {
  document.querySelectorAll("#views .tab").forEach((tab) => {
    tab.setAttribute("aria-pressed", String(tab.dataset.view === view));
  });
}

function stopMetricsTimer() {
  if (metricsTimer !== null) { clearInterval(metricsTimer); metricsTimer = null; }
}

function showView(view) {
  $("#console-view").hidden = view !== "console-view";
  $("#metrics-view").hidden = view !== "metrics-view";
  $("#calls-view").hidden = view !== "calls-view";
  $("#campaigns-view").hidden = view !== "campaigns-view";
  $("#engine-view").hidden = view !== "engine-view";
  $("#flows-view").hidden = view !== "flows-view";
  markTab(view);
  stopMetricsTimer();
  stopTraining();
  if (view === "metrics-view") {
    loadMetrics();
    metricsTimer = setInterval(loadMetrics, METRICS_REFRESH_MS);
  } else if (view === "calls-view") {
    loadRecentCalls();
  } else if (view === "engine-view") {
    loadDeadLetters();
  } else if (view === "flows-view") {
    loadFlows();
    loadLexicon();
    loadMissed();
    startTraining();
  } else if (view === "campaigns-view") {
    loadProviders();
    loadAbsences();
    loadCampaigns();
    metricsTimer = setInterval(loadCampaigns, CAMPAIGN_REFRESH_MS);
  }
}

// Bars are sized through the CSSOM (never inline style markup: the page's CSP forbids it).
function drawHours(hours) {
  const chart = $("#m-hours");
  chart.replaceChildren();
  const most = Math.max(1, ...hours);
  hours.forEach((n, hour) => {
    const bar = document.createElement("div");
    bar.className = "bar-cell";
    bar.dataset.hour = String(hour);
    bar.dataset.calls = String(n);
    bar.title = `${String(hour).padStart(2, "0")}:00 — ${n} call${n === 1 ? "" : "s"}`;
    bar.style.height = `${(100 * n) / most}%`;
    chart.append(bar);
  });
}

function rateCell(rate) {
  const cell = document.createElement("td");
  if (rate === null) { cell.textContent = "—"; return cell; }
  const bar = document.createElement("span");
  bar.className = "rate-bar";
  bar.style.width = `${Math.round(rate * 100)}px`;
  cell.append(bar, percent(rate));
  return cell;
}

function drawDays(days) {
  const body = $("#m-days tbody");
  body.replaceChildren();
  for (const d of days) {
    const row = document.createElement("tr");
    appendCells(row, [d.day, count(d.calls)]);
    row.children[1].className = "num";
    row.append(rateCell(d.containment), rateCell(d.transfer));
    body.append(row);
  }
}

// ---- supervisor view: the interface engine's dead letters ----------------------------------
const TRIGGER_NAMES = { S12: "booking", S14: "move", S15: "cancellation" };

async function loadDeadLetters() {
  const result = await api("GET", "/console/api/hl7/dead-letters");
  if (!result.ok) { setText("engine-status", result.data.error || "could not load"); return; }
  const body = $("#dead-letters tbody");
  body.replaceChildren();
  setText("engine-status", result.data.dead_letters.length ? "" : "None: the engine took every message.");
  for (const m of result.data.dead_letters) {
    const row = document.createElement("tr");
    appendCells(row, [
      String(m.id), `${m.trigger} (${TRIGGER_NAMES[m.trigger] || "?"})`, String(m.appointment_id),
      String(m.attempts), m.reason || "—", new Date(m.created_at).toLocaleString(),
    ]);
    const cell = document.createElement("td");
    const again = rowButton("send-again", "Send again", async () => {
      const done = await api("POST", `/console/api/hl7/dead-letters/${m.id}/send-again`, {});
      setText("engine-status", done.ok ? `Message ${m.id} is back in line.` : (done.data.error || "failed"));
      loadDeadLetters();
    });
    cell.append(again);
    row.append(cell);
    body.append(row);
  }
}

// ---- supervisor view: the Flows area (the line's wording) ----------------------------------
let flows = null; // the last state the server gave: versions, prompts, rights

function flowsSay(text) { setText("flows-state", text); }
function flowsError(text) { setText("flows-error", text || ""); }

// Callers' turns the line missed (redacted by the server); "Try it" puts one in the try box.
async function loadMissed() {
  const result = await api("GET", `/console/api/flows/missed?days=${$("#missed-days").value}`);
  const body = $("#missed-turns tbody");
  body.replaceChildren();
  if (!result.ok) { setText("missed-state", result.data.error || "could not load the list"); return; }
  setText("missed-state", `${result.data.missed.length} turn(s)`);
  for (const turn of result.data.missed) {
    const row = document.createElement("tr");
    for (const text of [new Date(turn.at).toLocaleString(), turn.reason, turn.text]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const cell = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Try it";
    button.addEventListener("click", () => { $("#try-text").value = turn.text; $("#try-text").focus(); });
    const train = document.createElement("button");
    train.type = "button";
    train.className = "to-training";
    train.textContent = "Add to training data";
    train.addEventListener("click", () => offerForTraining(turn.text));
    cell.append(button, train);
    row.append(cell);
    body.append(row);
  }
}

async function loadFlows() {
  const result = await api("GET", "/console/api/flows/prompts");
  if (!result.ok) { flowsError(result.data.error || "could not load the prompts"); return; }
  flows = result.data;
  const pending = flows.newest !== null && !flows.newest_published;
  flowsSay(flows.published === null
    ? (pending ? `Version ${flows.newest} is a draft; callers hear the built-in wording.` : "Callers hear the built-in wording.")
    : (pending ? `Callers hear version ${flows.published}; version ${flows.newest} is a draft.` : `Callers hear version ${flows.published}.`));
  $("#flows-publish").hidden = !(pending && flows.may_publish);
  $("#flows-approve").hidden = !(pending && flows.emergency_needs_approval);
  const body = $("#flows-prompts tbody");
  body.replaceChildren();
  let group = null;
  for (const p of flows.prompts) {
    if (p.group !== group) {  // the call's prompts, then the dialogs' replies
      group = p.group;
      const heading = document.createElement("tr");
      heading.className = "group";
      const cell = document.createElement("th");
      cell.colSpan = 3;
      cell.scope = "rowgroup";
      cell.textContent = group === "dialog" ? "What the dialogs answer" : "What every call hears";
      heading.append(cell);
      body.append(heading);
    }
    const row = document.createElement("tr");
    row.dataset.prompt = p.name;
    const name = document.createElement("td");
    name.textContent = p.emergency ? `${p.name} (emergency)` : p.name;
    if (p.text !== p.published_text) name.append(" · changed, not published");
    if (p.used) {
      const used = document.createElement("div");
      used.className = "used";
      used.textContent = p.used;
      name.append(used);
    }
    if (p.fills.length) {
      const fills = document.createElement("div");
      fills.className = "fills";
      fills.textContent = "Keep: " + p.fills.map((f) => `{${f}}`).join(" ");
      name.append(fills);
    }
    const words = document.createElement("td");
    const area = document.createElement("textarea");
    area.value = p.text;
    area.rows = 2;
    area.cols = 70;
    area.maxLength = flows.max_chars * 4;
    area.setAttribute("aria-label", `Words of the ${p.name} prompt`);
    words.append(area);
    const actions = document.createElement("td");
    const hear = document.createElement("button");
    hear.type = "button";
    hear.className = "hear";
    hear.textContent = "Hear it";
    hear.addEventListener("click", () => hearPrompt(p.name, area.value));
    const save = document.createElement("button");
    save.type = "button";
    save.className = "save";
    save.textContent = "Save";
    save.addEventListener("click", () => savePrompt(p.name, area.value));
    actions.append(hear, " ", save);
    row.append(name, words, actions);
    body.append(row);
  }
  const history = $("#flows-history tbody");
  history.replaceChildren();
  for (const v of flows.history) {
    const row = document.createElement("tr");
    row.dataset.version = String(v.id);
    appendCells(row, [
      String(v.id), v.note || v.changed.join(", "), v.created_by, new Date(v.created_at).toLocaleString(),
      v.approved_by || "—", v.published_at ? `${v.published_by}, ${new Date(v.published_at).toLocaleString()}` : "—",
    ]);
    const cell = document.createElement("td");
    cell.append(changesButton(() => showChanges(v.id)), " ");
    if (v.published_at && v.id !== flows.published && flows.may_publish) {
      const back = document.createElement("button");
      back.type = "button";
      back.className = "rollback";
      back.textContent = "Publish this wording again";
      back.addEventListener("click", () => flowsAct(`/console/api/flows/versions/${v.id}/rollback`, `Version ${v.id}'s wording is published again.`));
      cell.append(back);
    }
    row.append(cell);
    history.append(row);
  }
}

// ---- the clinic's red-flag words -----------------------------------------------------------
let lexicon = null;

async function loadLexicon() {
  const result = await api("GET", "/console/api/flows/lexicon");
  if (!result.ok) { setText("lexicon-error", result.data.error || "could not load the red-flag words"); return; }
  lexicon = result.data;
  const select = $("#lexicon-category");
  if (!select.options.length) {
    for (const c of lexicon.categories) {
      const option = document.createElement("option");
      option.value = c.name;
      option.textContent = `${c.name.replaceAll("_", " ")} (${c.level})`;
      option.title = c.description;
      select.append(option);
    }
  }
  const pending = lexicon.newest !== null && !lexicon.newest_published;
  setText("lexicon-state", lexicon.published === null
    ? (pending ? `Version ${lexicon.newest} is not published; the shipped words decide.` : "The shipped words decide; the clinic has added none.")
    : (pending ? `Version ${lexicon.published} decides; version ${lexicon.newest} is not published.` : `Version ${lexicon.published} decides.`));
  $("#lexicon-publish").hidden = !(pending && lexicon.may_publish);
  const body = $("#lexicon-edits tbody");
  body.replaceChildren();
  for (const [category, entries] of Object.entries(lexicon.edits)) {
    entries.forEach((entry, index) => {
      const [kind, words] = Object.entries(entry)[0];
      const row = document.createElement("tr");
      appendCells(row, [category, kind, words]);
      const cell = document.createElement("td");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "Remove and test";
      remove.addEventListener("click", () => changeLexicon("/console/api/flows/lexicon/remove", { category, index }));
      cell.append(remove);
      row.append(cell);
      body.append(row);
    });
  }
  const history = $("#lexicon-history tbody");
  history.replaceChildren();
  for (const v of lexicon.history) {
    const row = document.createElement("tr");
    row.dataset.version = String(v.id);
    appendCells(row, [
      String(v.id), v.note, v.created_by, new Date(v.created_at).toLocaleString(),
      v.regression.lines ? String(v.regression.lines) : "—",
      v.published_at ? `${v.published_by}, ${new Date(v.published_at).toLocaleString()}` : "—",
    ]);
    const cell = document.createElement("td");
    cell.append(changesButton(() => showEntryChanges(`/console/api/flows/lexicon/${v.id}/changes`, "lexicon-changes", (c) => `category ${c}`)), " ");
    if (v.published_at && v.id !== lexicon.published && lexicon.may_publish) {
      const back = document.createElement("button");
      back.type = "button";
      back.className = "rollback";
      back.textContent = "Publish these words again";
      back.addEventListener("click", () => lexiconAct(`/console/api/flows/lexicon/${v.id}/rollback`, `Version ${v.id}'s words decide again.`));
      cell.append(back);
    }
    row.append(cell);
    history.append(row);
  }
}

async function changeLexicon(path, body) {
  setText("lexicon-error", "");
  $("#lexicon-broken").replaceChildren();
  setText("lexicon-state", "Trying it on every labelled sentence…");
  const result = await api("POST", path, { ...body, base: lexicon ? lexicon.newest : null });
  if (!result.ok) {
    setText("lexicon-error", result.data.error || "refused");
    const broken = result.data.regression;
    if (broken) {
      const list = $("#lexicon-broken");
      for (const line of [...broken.lost, ...broken.new_alarms]) {
        const item = document.createElement("li");
        item.textContent = `${line.label}: “${line.text}” was ${line.was}, would be ${line.now}`;
        list.append(item);
      }
    }
    await loadLexicon();
    setText("lexicon-state", "Not saved.");
    return;
  }
  await loadLexicon();
  const r = result.data.regression;
  setText("lexicon-state", `Saved as version ${result.data.id}: ${r.lines} sentences tried, none lost, no new alarm` +
    (r.gained ? `, ${r.gained} red flags caught that were not` : "") + ". Not published yet.");
}

async function lexiconAct(path, done) {
  setText("lexicon-error", "");
  const result = await api("POST", path, {});
  if (!result.ok) { setText("lexicon-error", result.data.error || "refused"); return; }
  await loadLexicon();
  setText("lexicon-state", done);
}

async function showChanges(versionId) {
  const result = await api("GET", `/console/api/flows/versions/${versionId}/changes`);
  const list = $("#flows-changes");
  list.replaceChildren();
  if (!result.ok) { flowsError(result.data.error || "could not load the changes"); return; }
  list.dataset.version = String(versionId);
  for (const c of result.data.changes) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = c.prompt;
    item.append(name, ": ", ...wordPieces(c.words));
    item.title = `Before: ${c.before}`;
    list.append(item);
  }
  list.hidden = false;
}

// A prompt's words as they changed: kept words as text, the words that went struck
// through, the words that came underlined.
function wordPieces(pieces) {
  const nodes = [];
  for (const piece of pieces) {
    if (nodes.length && !/^[.,;:!?)]/.test(piece.text)) nodes.push(" ");
    if (piece.kind === "same") { nodes.push(piece.text); continue; }
    const mark = document.createElement(piece.kind === "removed" ? "del" : "ins");
    mark.textContent = piece.text;
    nodes.push(mark);
  }
  return nodes;
}

// What a red-flag or training version added and removed, one line per entry, under its table;
// `where` names the list an entry belongs to ("category seizure", "request refill").
async function showEntryChanges(path, listId, where) {
  const list = $(`#${listId}`);
  list.replaceChildren();
  const result = await api("GET", path);
  if (!result.ok) {
    const item = document.createElement("li");
    item.textContent = result.data.error || "could not load the changes";
    list.append(item);
    list.hidden = false;
    return;
  }
  list.dataset.version = String(result.data.version);
  for (const c of result.data.changes) {
    const item = document.createElement("li");
    const entry = document.createElement(c.change === "removed" ? "del" : "ins");
    entry.textContent = c.entry;
    item.append(c.change === "removed" ? "removed from " : "added to ", `${where(c.where)}: `, entry);
    list.append(item);
  }
  if (!result.data.changes.length) {
    const item = document.createElement("li");
    item.textContent = "nothing: the same entries as the version it was made from";
    list.append(item);
  }
  list.hidden = false;
}

function changesButton(onClick) {
  const what = document.createElement("button");
  what.type = "button";
  what.className = "changes";
  what.textContent = "What changed";
  what.addEventListener("click", onClick);
  return what;
}

async function hearPrompt(name, text) {
  flowsError("");
  const response = await fetch("/console/api/flows/preview", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name, text }),
  });
  if (!response.ok) {
    let message = "could not speak it";
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    flowsError(message);
    return;
  }
  const audio = $("#flows-audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(await response.blob());
  audio.hidden = false;
  audio.dataset.prompt = name;
  audio.play().catch(() => { /* autoplay refused: the controls are there */ });
}

async function savePrompt(name, text) {
  flowsError("");
  const result = await api("POST", `/console/api/flows/prompts/${encodeURIComponent(name)}`, { text, base: flows ? flows.newest : null });
  if (!result.ok) {
    // On a conflict the words typed stay in the box: reload shows the other edit beside them.
    flowsError(result.data.error || "could not save");
    return;
  }
  await loadFlows();
  flowsSay(`Saved as version ${result.data.id}: not published yet.`);
}

async function flowsAct(path, done) {
  flowsError("");
  const result = await api("POST", path, {});
  if (!result.ok) { flowsError(result.data.error || "refused"); return; }
  await loadFlows();
  flowsSay(done);
}

// ---- supervisor view: campaigns -------------------------------------------------------
const CAMPAIGN_REFRESH_MS = 10000;

// The provider a provider-out campaign is about (and the one whose appointments it takes).
async function loadProviders() {
  const select = $("#campaign-provider");
  if (select.options.length > 1) return;
  const result = await api("GET", "/console/api/providers");
  if (!result.ok) return;
  for (const p of result.data.providers) {
    const option = document.createElement("option");
    option.value = String(p.id);
    option.textContent = p.name;
    select.append(option);
  }
}

async function loadAbsences() {
  const result = await api("GET", "/console/api/absences");
  if (!result.ok) return;
  const body = $("#absences tbody");
  body.replaceChildren();
  for (const a of result.data.absences) {
    const row = document.createElement("tr");
    appendCells(row, [a.provider, a.first_day, a.last_day]);
    const cell = document.createElement("td");
    const back = rowButton("back-in", "Back in", async () => {
      const done = await api("POST", `/console/api/absences/${a.id}/withdraw`, {});
      setText("campaign-status", done.ok
        ? `${a.provider} is back in: ${done.data.slots_reopened} times offered again`
        : (done.data.error || "failed"));
      loadAbsences();
    });
    cell.append(back);
    row.append(cell);
    body.append(row);
  }
}

async function loadCampaigns() {
  const result = await api("GET", "/console/api/campaigns");
  if (!result.ok) { setText("campaign-status", result.data.error || "could not load campaigns"); return; }
  const body = $("#campaigns tbody");
  body.replaceChildren();
  for (const c of result.data.campaigns) {
    const row = document.createElement("tr");
    row.dataset.campaignId = String(c.id);
    const outcomes = Object.entries(c.outcomes).map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ");
    appendCells(row, [
      c.name, c.kind.replaceAll("_", " "), c.status, c.window, String(c.targets),
      String(c.by_status.done || 0), outcomes || "—",
    ]);
    const cell = document.createElement("td");
    if (c.status !== "done") {
      const steer = document.createElement("button");
      steer.type = "button";
      steer.className = "steer";
      const verb = c.status === "running" ? "pause" : "start";
      steer.textContent = verb === "pause" ? "Pause" : "Start";
      steer.addEventListener("click", async () => {
        const done = await api("POST", `/console/api/campaigns/${c.id}/${verb}`, {});
        setText("campaign-status", done.ok ? `${c.name}: ${done.data.status}` : (done.data.error || "failed"));
        loadCampaigns();
      });
      cell.append(steer);
    }
    const link = document.createElement("a");
    link.href = `/console/api/campaigns/${c.id}/export`;
    link.textContent = "Export";
    link.className = "export";
    cell.append(" ", link);
    row.append(cell);
    body.append(row);
  }
}

async function createCampaign() {
  const from = $("#campaign-from").value;
  const to = $("#campaign-to").value || from;
  const ids = $("#campaign-patients").value.split(/[\s,]+/).filter(Boolean).map(Number);
  if (ids.some((id) => !Number.isInteger(id))) { setText("campaign-status", "patient ids are numbers"); return; }
  const body = {
    name: $("#campaign-name").value,
    kind: $("#campaign-kind").value,
    patients: ids,
    window: $("#campaign-window").value,
    max_attempts: Number($("#campaign-attempts").value),
    retry_minutes: Number($("#campaign-retry").value),
    pace: Number($("#campaign-pace").value),
    voicemail_first_name: $("#campaign-first-name").checked,
  };
  if (from) body.appointments = `${from}:${to}`;
  const provider = $("#campaign-provider").value;
  if (provider) body.provider = Number(provider);
  const search = $("#campaign-fhir").value.trim();
  if (search) body.fhir = search;
  const result = await api("POST", "/console/api/campaigns", body);
  setText("campaign-status", result.ok
    ? `Created “${result.data.name}”: ${result.data.targets} patients, not started yet` +
      (body.kind === "provider_out" ? "; her free times on those days are blocked" : "")
    : (result.data.error || "could not create the campaign"));
  if (result.ok) { loadCampaigns(); loadAbsences(); }
}

// ---- supervisor view: recent calls and one call's record ------------------------------
// The search form's fields, by the API's parameter names (empty ones are left out).
const SEARCH_FIELDS = {
  from: "#search-from", to: "#search-to", level: "#search-level", flag: "#search-flag",
  queue: "#search-queue", disposition: "#search-disposition", direction: "#search-direction",
};

function fillOutcomes(dispositions) {
  const select = $("#search-disposition");
  select.replaceChildren(new Option("any", ""));
  for (const code of dispositions) select.append(new Option(code.replaceAll("_", " "), code));
}

// Only the newest search's answer is shown: in a full test run the answer to a form reset
// (every call) arrived after the search that followed it (abandoned calls) and replaced it.
let recentCallsAsked = 0;

async function loadRecentCalls() {
  const query = new URLSearchParams({ limit: "100" });
  for (const [name, selector] of Object.entries(SEARCH_FIELDS)) {
    const value = $(selector).value.trim().toLowerCase().replaceAll(" ", "_");
    if (value) query.set(name, value);
  }
  const asked = ++recentCallsAsked;
  const result = await api("GET", `/console/api/calls?${query}`);
  if (asked !== recentCallsAsked) return;
  if (!result.ok) { say(result.data.error || "could not load calls"); return; }
  const body = $("#recent-calls tbody");
  body.replaceChildren();
  if (!result.data.calls.length) {
    const row = document.createElement("tr");
    appendCells(row, ["No call matches."]);
    row.firstChild.colSpan = 7;
    body.append(row);
  }
  for (const call of result.data.calls) {
    const row = document.createElement("tr");
    row.dataset.callId = call.call_id;
    const values = [
      new Date(call.started).toLocaleString(),
      call.seconds === null ? "live" : waitText(call.seconds),
      call.intents.map((i) => i.replaceAll("_", " ")).join(", ") || "—",
      call.triage_level,
      call.transfer_queue ? `${call.transfer_queue}${call.transferred ? "" : " (not reached)"}` : "—",
      (call.disposition || "—").replaceAll("_", " "),
    ];
    appendCells(row, values);
    const cell = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "open-call";
    button.textContent = "Open";
    button.addEventListener("click", () => openCallRecord(call.call_id));
    cell.append(button);
    row.append(cell);
    body.append(row);
  }
}

async function openCallRecord(callId) {
  const result = await api("GET", `/api/calls/${encodeURIComponent(callId)}`);
  if (!result.ok) { say(result.data.error || "could not open the call"); return; }
  const record = result.data;
  const panel = $("#call-record");
  $(".record-title", panel).textContent =
    `Call of ${new Date(record.started).toLocaleString()} — ${record.triage_level}`;
  $(".record-caller", panel).textContent = record.caller || "unknown";
  const patient = record.patient;
  $(".record-patient", panel).textContent = patient
    ? `${patient.name || "patient " + patient.id} (verified)` : "not verified";
  $(".record-flags", panel).textContent = record.flags.join(", ") || "none";
  $(".record-outcome", panel).textContent = [
    (record.disposition || "no disposition").replaceAll("_", " "),
    record.transferred ? `transferred to ${record.transfer_queue}` : "",
    record.emergency_message_played ? "emergency message played" : "",
  ].filter(Boolean).join("; ");
  const audio = $(".record-audio", panel);
  audio.hidden = !record.has_recording;
  $(".record-no-audio", panel).hidden = record.has_recording;
  if (record.has_recording) audio.src = `/api/calls/${encodeURIComponent(callId)}/recording`;
  else audio.removeAttribute("src");
  const transcript = $(".record-transcript", panel);
  transcript.replaceChildren();
  record.turns.forEach((turn) => addLine(panel, { speaker: turn.speaker, text: turn.text }));
  const events = $(".record-events", panel);
  events.replaceChildren();
  for (const event of record.events) {
    const item = document.createElement("li");
    const at = event.data && event.data.at ? `${new Date(event.data.at).toLocaleTimeString()} ` : "";
    item.textContent = `${at}${event.kind.replaceAll("_", " ")}`;
    events.append(item);
  }
  panel.hidden = false;
}

function count(value) { return value === null || value === undefined ? "—" : String(value); }
function percent(rate) { return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`; }
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}
// Window ends in the clinic's own time zone, whatever the browser's is.
function clinicTime(iso, timeZone) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Date(iso).toLocaleString([], { ...options, timeZone });
  } catch (_) {
    return new Date(iso).toLocaleString([], options);
  }
}

function setText(id, text) { $(`#${id}`).textContent = text; }

function fillRows(selector, rows) {
  const body = $(`${selector} tbody`);
  body.replaceChildren();
  if (rows.length === 0) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = $(`${selector} thead tr`).children.length;
    cell.className = "empty";
    cell.textContent = "No calls.";
    row.append(cell);
    body.append(row);
    return;
  }
  for (const values of rows) {
    const row = document.createElement("tr");
    values.forEach((value, i) => {
      const cell = document.createElement("td");
      if (i > 0) cell.className = "num";
      cell.textContent = value;
      row.append(cell);
    });
    body.append(row);
  }
}

function renderMetrics(m) {
  const w = m.window;
  setText("metrics-window", `from ${clinicTime(w.from, w.timezone)} to ${clinicTime(w.to, w.timezone)} (${w.timezone})`);
  setText("m-total", count(m.calls.total));
  setText("m-in-progress", count(m.calls.in_progress));
  setText("m-contained", count(m.calls.contained));
  setText("m-containment-rate", percent(m.rates.containment));
  setText("m-transferred", count(m.calls.transferred));
  setText("m-transfer-rate", percent(m.rates.transfer));
  setText("m-abandoned", count(m.calls.abandoned));
  setText("m-abandonment-rate", percent(m.rates.abandonment));
  setText("m-transfer-requested", count(m.calls.transfer_requested));
  setText("m-turned-away", count(m.calls.turned_away));
  setText("m-emergent", count(m.calls.emergent));
  setText("m-urgent", count(m.calls.urgent));
  setText("m-handle-median", duration(m.handle_time_seconds.all.median));
  setText("m-handle-p90", duration(m.handle_time_seconds.all.p90));
  setText("m-answer-median", duration(m.time_to_answer_seconds.median));
  setText("m-answer-p90", duration(m.time_to_answer_seconds.p90));
  setText("m-answer-mean", duration(m.time_to_answer_seconds.mean));
  const fcr = m.first_contact_resolution;
  setText("m-fcr-rate", percent(fcr.rate));
  setText("m-fcr", `${count(fcr.resolved)} of ${count(fcr.calls)} calls`);
  setText("m-fcr-days", String(fcr.days));
  setText("m-refills", count(m.refill_requests));
  setText("m-booked", count(m.appointments.booked));
  setText("m-rescheduled", count(m.appointments.rescheduled));
  setText("m-callbacks-open", count(m.callbacks.open));
  setText("m-callbacks-created", count(m.callbacks.created));
  setText("m-dials", count(m.outbound.dials || 0));
  setText("m-dials-answered", count(m.outbound.calls_answered || 0));
  fillRows("#m-queues", m.by_queue.map((q) => [
    q.queue.replaceAll("_", " "), count(q.requested), count(q.answered), count(q.abandoned), duration(q.median_seconds_to_answer),
  ]));
  fillRows("#m-dispositions", Object.entries(m.by_disposition).map(([k, v]) => [k.replaceAll("_", " "), count(v)]));
  fillRows("#m-intents", Object.entries(m.by_intent).map(([k, v]) => [k.replaceAll("_", " "), count(v)]));
  drawHours(m.by_hour);
  drawDays(m.by_day);
  const query = new URLSearchParams();
  if ($("#metrics-from").value) query.set("from", $("#metrics-from").value);
  if ($("#metrics-to").value) query.set("to", $("#metrics-to").value);
  $("#metrics-export").href = `/console/api/metrics/export${query.toString() ? "?" + query : ""}`;
}

// Numbers are asked for on opening the tab, on the form and by the timer: only the answer to
// the latest question is shown, so a slow earlier answer never overwrites a newer one.
let metricsAsked = 0;

async function loadMetrics() {
  const asked = ++metricsAsked;
  const query = new URLSearchParams();
  const from = $("#metrics-from").value;
  const to = $("#metrics-to").value;
  if (from) query.set("from", from);
  if (to) query.set("to", to);
  const suffix = query.toString() ? `?${query}` : "";
  setText("metrics-status", "Loading…");
  const result = await api("GET", `/console/api/metrics${suffix}`);
  if (asked !== metricsAsked) return;
  if (!result.ok) {
    setText("metrics-status", result.data.error || `could not load the numbers (${result.status})`);
    if (result.status === 401 || result.status === 403) stopMetricsTimer();
    return;
  }
  renderMetrics(result.data);
  setText("metrics-status", `Updated ${new Date().toLocaleTimeString()}`);
}

// ---- start ----------------------------------------------------------------------------
async function signedIn(agent) {
  show(true, agent);
  connect();
  document.dispatchEvent(new CustomEvent("console:signed-in", { detail: agent }));
  const me = await api("GET", "/console/me");
  if (me.ok && me.data.presence) showPresence(me.data.presence);
  if (me.ok) transferQueues = me.data.queues || [];
  if (me.ok) colleagues = me.data.colleagues || [];
  if (me.ok) fillOutcomes(me.data.dispositions || []);
  await Promise.all([loadTasks(), loadBoard()]);
}

// Signed in with a one-time password: nothing else works until the agent chooses their own.
function askForOwnPassword(agent) {
  show(false);
  $("#login-view").hidden = true;
  $("#password-view").hidden = false;
  $("#logout").hidden = false;
  $("#who").hidden = false;
  $("#who").textContent = `${agent.name} (${agent.role})`;
  $("#current-password").focus();
}

async function changePassword(agent) {
  const fresh = $("#new-password").value;
  if (fresh !== $("#repeat-password").value) {
    $("#password-error").textContent = "the two new passwords differ";
    return;
  }
  const result = await api("POST", "/console/password", {
    current: $("#current-password").value,
    new: fresh,
  });
  document.querySelectorAll("#password-form input").forEach((input) => { input.value = ""; });
  if (!result.ok) {
    $("#password-error").textContent = result.data.error || "could not change the password";
    return;
  }
  $("#password-error").textContent = "";
  await signedIn(agent);
}

async function enter(body) {
  if (body.must_change_password) askForOwnPassword(body.agent);
  else await signedIn(body.agent);
}

// ---- keyboard: an agent's hands stay on the keys ------------------------------------------
// Alt with a letter (letters alone are for typing), by key position so that any keyboard
// layout works. Each acts on the newest card where it applies: cards are listed newest first.
function newestOnCard(selector) {
  return [...document.querySelectorAll(`#calls .card ${selector}`)]
    .find((element) => element.offsetParent !== null);  // shown: not in a hidden part
}

const SHORTCUTS = {
  KeyA: () => newestOnCard(".accept")?.click(),
  KeyD: () => newestOnCard(".decline")?.click(),
  KeyT: () => newestOnCard(".handoff-queue")?.focus(),
  KeyW: () => newestOnCard(".disposition")?.focus(),
  KeyC: () => { showView("console-view"); $("#calls").scrollIntoView(); },
};

function onShortcut(event) {
  const act = SHORTCUTS[event.code];
  if (!act || !event.altKey || event.ctrlKey || event.metaKey || $("#logout").hidden) return;
  event.preventDefault();
  act();
}

async function start() {
  document.addEventListener("keydown", onShortcut);
  $("#call-search").addEventListener("submit", (event) => { event.preventDefault(); loadRecentCalls(); });
  $("#call-search").addEventListener("reset", () => setTimeout(loadRecentCalls));
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", "/console/login", {
      username: $("#username").value,
      password: $("#password").value,
    });
    $("#password").value = "";
    if (!result.ok) { $("#login-error").textContent = result.data.error || "sign-in failed"; return; }
    $("#login-error").textContent = "";
    await enter(result.data);
  });
  $("#password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const me = await api("GET", "/console/me");
    if (me.ok) await changePassword(me.data.agent);
    else show(false);
  });
  $("#logout").addEventListener("click", async () => {
    await api("POST", "/console/logout", {});
    document.dispatchEvent(new CustomEvent("console:signed-out"));
    show(false);
    if (socket) socket.close();
  });
  document.querySelectorAll("button.presence").forEach((button) => {
    button.addEventListener("click", () => setPresence(button.dataset.presence));
  });
  $("#go-away").addEventListener("click", goAway);
  $("#refresh-tasks").addEventListener("click", loadTasks);
  document.querySelectorAll("#views .tab").forEach((tab) => {
    tab.addEventListener("click", () => showView(tab.dataset.view));
  });
  $("#metrics-form").addEventListener("submit", (event) => { event.preventDefault(); loadMetrics(); });
  $("#campaign-form").addEventListener("submit", (event) => { event.preventDefault(); createCampaign(); });
  $("#flows-publish").addEventListener("click", () => {
    if (flows) flowsSay("Rendering the new words in the clinic's voice, then publishing…");
    if (flows) flowsAct(`/console/api/flows/versions/${flows.newest}/publish`, `Version ${flows.newest} is published: the next calls hear it.`);
  });
  $("#lexicon-form").addEventListener("submit", (event) => {
    event.preventDefault();
    changeLexicon("/console/api/flows/lexicon", {
      category: $("#lexicon-category").value,
      [$("#lexicon-kind").value]: $("#lexicon-words").value,
    });
  });
  $("#missed-days").addEventListener("change", loadMissed);
  $("#try-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", "/console/api/flows/try", { text: $("#try-text").value, words: $("#try-words").value });
    if (!result.ok) { setText("try-result", result.data.error || "could not try it"); return; }
    const r = result.data;
    const why = r.flags.length ? ` (${r.flags.join(", ").replaceAll("_", " ")}: “${r.matched.join("”, “")}”)` : "";
    const close = r.near ? ` — closest red flag: ${r.near.category.replaceAll("_", " ")}, ${r.near.score.toFixed(2)}` : "";
    setText("try-result", `${r.level}${why}${close}. The line: ${r.outcome}.`);
  });
  $("#lexicon-publish").addEventListener("click", () => {
    if (lexicon) lexiconAct(`/console/api/flows/lexicon/${lexicon.newest}/publish`, `Version ${lexicon.newest} is published: callers' words are judged with it.`);
  });
  $("#flows-approve").addEventListener("click", () => {
    if (flows) flowsAct(`/console/api/flows/versions/${flows.newest}/approve`, `You approved version ${flows.newest}'s emergency wording.`);
  });
  $("#metrics-today").addEventListener("click", () => {
    $("#metrics-from").value = "";
    $("#metrics-to").value = "";
    loadMetrics();
  });
  const me = await api("GET", "/console/me");
  if (me.ok) await enter(me.data);
  else show(false);
}

start();
