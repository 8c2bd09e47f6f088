// clinicline console, Flows area: the dialogs' training data. Supervisors add phrasings to
// intents, train and evaluate a draft model; staff with the publish right publish it or roll
// back. Uses console.js's helpers ($, api, setText, appendCells); text only via textContent.
"use strict";

const TRAINING = "/console/api/flows/training";
const TRAINING_REFRESH_MS = 3000;
let training = null; // the last state the server gave
let trainingTimer = null;

function trainingSay(text) { setText("training-state", text); }
function trainingError(text) { setText("training-error", text || ""); }

function startTraining() {
  loadTraining();
  stopTraining();
  // A training takes minutes and may run in another process: follow its row.
  trainingTimer = setInterval(() => {
    if (training && training.history.some((v) => v.state === "training")) loadTraining();
  }, TRAINING_REFRESH_MS);
}

function stopTraining() {
  if (trainingTimer !== null) { clearInterval(trainingTimer); trainingTimer = null; }
}

// A missed sentence from the list above: into the form, the intent to choose.
function offerForTraining(text) {
  $("#training-text").value = text;
  $("#training-intent").focus();
  trainingSay("Choose the intent the caller meant, then Add.");
}

// An intent or word list as the page names it: "request refill", "insurer names".
function trainingName(key) {
  return key.startsWith("lookup:") ? `${key.slice(7)} names` : key.replaceAll("_", " ");
}

function describe(v) {
  if (v.state === "training") {
    const p = v.progress || {};
    const how = p.percent !== null && p.percent !== undefined ? ` ${p.percent} %` : "";
    return `${p.step || "queued"}: ${p.detail || ""}${how}`;
  }
  if (v.state === "failed") return `failed: ${(v.progress || {}).detail || ""}`;
  if (v.state === "ready") return v.model || "trained";
  return "not trained";
}

function figures(v) {
  const e = v.evaluation || {};
  if (e.shipped) return "the shipped model";
  if (e.total === undefined) return "—";
  return `${e.draft}/${e.total} (published: ${e.published})`;
}

async function loadTraining() {
  const result = await api("GET", TRAINING);
  if (!result.ok) { trainingError(result.data.error || "could not load the training data"); return; }
  training = result.data;
  const select = $("#training-intent");
  if (!select.options.length) {
    // Sentences go to an intent; a name (a medicine, a specialist, an insurer) to a word list.
    const groups = [["What the caller wants", training.intents, ""],
      ["Names the line should know", training.lookups, "lookup:"]];
    for (const [label, entries, prefix] of groups) {
      const group = document.createElement("optgroup");
      group.label = label;
      for (const entry of entries) {
        const option = document.createElement("option");
        option.value = prefix + entry.name;
        option.textContent = `${trainingName(prefix + entry.name)} (${entry.shipped.length})`;
        option.title = entry.shipped.slice(0, 5).join(" · ");
        group.append(option);
      }
      select.append(group);
    }
  }
  const body = $("#training-added tbody");
  body.replaceChildren();
  const lists = training.lookups.map((l) => ({ ...l, name: `lookup:${l.name}` }));
  for (const intent of [...training.intents, ...lists]) {
    for (const text of intent.added) {
      const row = document.createElement("tr");
      appendCells(row, [trainingName(intent.name), text]);
      const cell = document.createElement("td");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "Remove";
      remove.addEventListener("click", () => changeTraining(`${TRAINING}/remove`, { intent: intent.name, text }));
      cell.append(remove);
      row.append(cell);
      body.append(row);
    }
  }
  const newest = training.history.length ? training.history[0] : null;
  $("#training-train").hidden = !(newest && training.can_train && (newest.state === "draft" || newest.state === "failed"));
  $("#training-publish").hidden = !(newest && newest.state === "ready" && !newest.published_at
    && newest.evaluation.passed && training.may_publish);
  const list = $("#training-figures");
  list.replaceChildren();
  if (newest && newest.state === "ready" && newest.evaluation.sets) {
    const e = newest.evaluation;
    const lines = e.sets.map((s) => `${s.set}: ${s.draft}/${s.total} understood (published model: ${s.published})`);
    lines.push(`The added phrasings: ${e.added_understood}/${e.added} understood.`);
    for (const l of e.lost) lines.push(`Lost: “${l.text}” (${l.intent}) now heard as ${l.heard_as}`);
    for (const g of e.gained) lines.push(`Gained: “${g.text}” (${g.intent})`);
    if (!e.passed) lines.push("Not publishable: it understands fewer held-out phrasings than the published model, by more than training noise (1 %).");
    for (const line of lines) {
      const item = document.createElement("li");
      item.textContent = line;
      list.append(item);
    }
  }
  if (newest === null) trainingSay("The shipped phrasings are in use; the clinic has added none.");
  else if (newest.state === "training") trainingSay(`Version ${newest.id}: ${describe(newest)}`);
  else if (training.published === newest.id) trainingSay(`Version ${newest.id} is published: the dialogs understand callers with its model.`);
  else trainingSay(`Version ${newest.id}: ${describe(newest)}; version ${training.published ?? "shipped"} is in use.`);
  const history = $("#training-history tbody");
  history.replaceChildren();
  for (const v of training.history) {
    const row = document.createElement("tr");
    row.dataset.version = String(v.id);
    row.dataset.state = v.state;
    appendCells(row, [
      String(v.id), v.note, v.created_by, new Date(v.created_at).toLocaleString(), describe(v), figures(v),
      v.published_at ? `${v.published_by}, ${new Date(v.published_at).toLocaleString()}` : "—",
    ]);
    const cell = document.createElement("td");
    cell.append(changesButton(() => showEntryChanges(`/console/api/flows/training/${v.id}/changes`, "training-changes", trainingName)), " ");
    if (v.published_at && v.id !== training.published && training.may_publish) {
      cell.append(rollbackButton(v.id, `Publish version ${v.id} again`));
    }
    if (v.state === "ready" && training.can_train) {
      const golden = document.createElement("button");
      golden.type = "button";
      golden.className = "replay";
      golden.textContent = "Replay the golden calls";
      golden.addEventListener("click", () => replayGolden(v.id));
      cell.append(golden);
    }
    row.append(cell);
    history.append(row);
  }
  if (training.published !== null && training.may_publish) {
    const row = document.createElement("tr");
    appendCells(row, ["0", "the shipped phrasings", "", "", "", "", ""]);
    const cell = document.createElement("td");
    cell.append(rollbackButton(0, "Back to the shipped phrasings"));
    row.append(cell);
    history.append(row);
  }
}

function rollbackButton(id, label) {
  const back = document.createElement("button");
  back.type = "button";
  back.className = "rollback";
  back.textContent = label;
  back.addEventListener("click", () => trainingAct(`${TRAINING}/${id}/rollback`,
    "Rolled back: the dialogs swap to that model within a minute or two."));
  return back;
}

async function changeTraining(path, body) {
  trainingError("");
  const result = await api("POST", path, { ...body, base: training ? training.newest : null });
  await loadTraining();
  if (!result.ok) { trainingError(result.data.error || "refused"); return; }
  trainingSay(`Saved as version ${result.data.id}. Train it to try it.`);
}

async function trainingAct(path, done) {
  trainingError("");
  const result = await api("POST", path, {});
  await loadTraining();
  if (!result.ok) { trainingError(result.data.error || "refused"); return; }
  if (done) trainingSay(done);
}

// ---- the golden calls, replayed as text with a version's model and the published one ----
async function replayGolden(id) {
  trainingError("");
  const result = await api("POST", `${TRAINING}/${id}/replay`, {});
  if (result.status === 503 && result.data.starting) {
    trainingSay("Replaying the golden calls (the try-it dialogs are loading a model)…");
    setTimeout(() => replayGolden(id), TRAINING_REFRESH_MS);
    return;
  }
  if (!result.ok) { trainingError(result.data.error || "could not replay"); return; }
  const list = $("#golden-results");
  list.replaceChildren();
  for (const [which, run] of Object.entries(result.data.golden)) {
    const head = document.createElement("li");
    head.textContent = `Version ${id}, ${which} model (${run.model}): ${run.passed}/${run.total} golden calls as expected`;
    list.append(head);
    for (const r of run.results) {
      const item = document.createElement("li");
      item.className = r.passed ? "passed" : "failed";
      const notes = [...r.differences, ...r.skipped.map((x) => `not judged: ${x}`)];
      item.textContent = `${r.passed ? "✓" : "✗"} ${r.script}${notes.length ? " — " + notes.join("; ") : ""}`;
      list.append(item);
    }
  }
  trainingSay(`Golden calls replayed for version ${id}.`);
}

// ---- the try-it chat ----
let chatId = null;

function chatLines(lines) {
  const list = $("#chat-lines");
  for (const line of lines) {
    const item = document.createElement("li");
    item.className = line.speaker;
    item.textContent = line.speaker === "line" ? `(the line: ${line.text})` : `${line.speaker === "bot" ? "Line" : "Caller"}: ${line.text}`;
    list.append(item);
  }
}

async function newChat() {
  setText("chat-state", "");
  $("#chat-form").hidden = true;
  const result = await api("POST", "/console/api/flows/chat", { model: $("#chat-model").value });
  if (result.status === 503 && result.data.starting) {
    setText("chat-state", "The try-it dialogs are loading their model (about a minute)…");
    setTimeout(newChat, TRAINING_REFRESH_MS);
    return;
  }
  if (!result.ok) { setText("chat-state", result.data.error || "could not start a chat"); return; }
  chatId = result.data.chat;
  $("#chat-lines").replaceChildren();
  chatLines(result.data.lines);
  setText("chat-state", `Chatting with ${result.data.model}.`);
  $("#chat-form").hidden = result.data.ended;
  $("#chat-text").focus();
}

// The line rings the supervisor's own phone with the chosen model and the newest wording.
async function callMe() {
  const result = await api("POST", "/console/api/flows/call-me", { model: $("#chat-model").value });
  if (result.status === 503 && result.data.starting) {
    setText("chat-state", "The try-it dialogs are loading their model (about a minute); then your phone rings…");
    setTimeout(callMe, TRAINING_REFRESH_MS);
    return;
  }
  if (!result.ok) { setText("chat-state", result.data.error || "could not place the call"); return; }
  setText("chat-state", `Ringing ${result.data.phone} with ${result.data.model}.`);
}

async function chatSay() {
  if (!chatId) return;
  const text = $("#chat-text").value;
  const result = await api("POST", `/console/api/flows/chat/${chatId}`, { text });
  if (!result.ok) { setText("chat-state", result.data.error || "no answer"); return; }
  $("#chat-text").value = "";
  chatLines(result.data.lines);
  if (result.data.ended) {
    $("#chat-form").hidden = true;
    setText("chat-state", "The chat has ended. Start a new one to try again.");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#chat-new").addEventListener("click", newChat);
  $("#call-me").addEventListener("click", callMe);
  $("#chat-form").addEventListener("submit", (event) => { event.preventDefault(); chatSay(); });
  $("#training-form").addEventListener("submit", (event) => {
    event.preventDefault();
    changeTraining(TRAINING, { intent: $("#training-intent").value, text: $("#training-text").value });
  });
  $("#training-train").addEventListener("click", () => {
    if (training && training.newest) trainingAct(`${TRAINING}/${training.newest}/train`, "");
  });
  $("#training-publish").addEventListener("click", () => {
    if (training && training.newest) {
      trainingAct(`${TRAINING}/${training.newest}/publish`,
        `Version ${training.newest} is published: the dialogs swap to its model within a minute or two.`);
    }
  });
});
