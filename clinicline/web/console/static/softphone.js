// The agent's browser phone. SIP.js registers over the console's own origin
// (/console/softphone/ws, relayed by the server to the gateway), and the voice workers ring it
// like a desk phone. Answer, decline, mute, hold, keys and hang-up are here; the call card's
// Accept still takes the call, and answers this phone if it is ringing.
import { Web } from "/console/vendor/sip.js/index.js";

const $ = (sel) => document.querySelector(sel);
let phone = null; // the SimpleUser while signed in
let ringing = false;

function state(name, text) {
  $("#softphone").dataset.state = name;
  $("#softphone-state").textContent = text;
}

function buttons({ incoming = false, talking = false } = {}) {
  $("#softphone-answer").hidden = !incoming;
  $("#softphone-decline").hidden = !incoming;
  for (const id of ["#softphone-mute", "#softphone-hold", "#softphone-hangup", "#softphone-keypad"]) {
    $(id).hidden = !talking;
  }
  if (!talking) {
    $("#softphone-mute").setAttribute("aria-pressed", "false");
    $("#softphone-hold").setAttribute("aria-pressed", "false");
  }
}

function idle() {
  ringing = false;
  buttons();
  state("ready", "ready: calls ring here");
}

async function answer() {
  if (!phone || !ringing) return;
  ringing = false;
  buttons();
  state("connecting", "answering…");
  try {
    await phone.answer();
  } catch (error) {
    idle();
    // Most often the microphone: not allowed for this page, or held by another program.
    state("ready", `could not answer (${error.name || "error"}: ${error.message || error})`);
  }
}

async function act(name, work) {
  try { await work(); } catch (error) { $("#softphone-state").textContent = `${name} failed`; }
}

async function start() {
  if (phone !== null) return;
  const response = await fetch("/console/api/softphone", { credentials: "same-origin" });
  if (!response.ok) return;
  const line = await response.json();
  if (!line.available) return;
  $("#softphone").hidden = false;
  state("connecting", "connecting…");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  phone = new Web.SimpleUser(`${scheme}://${location.host}${line.socket}`, {
    aor: line.aor,
    media: { constraints: { audio: true, video: false }, remote: { audio: $("#softphone-audio") } },
    reconnectionAttempts: 100,
    reconnectionDelay: 4,
    // Keys as RTP events in the call's audio, which the voice workers read like a desk phone's.
    sendDTMFUsingSessionDescriptionHandler: true,
    userAgentOptions: {
      authorizationUsername: line.username,
      authorizationPassword: line.password,
      logBuiltinEnabled: false,
      // The gateway's address is given in its SDP: no STUN server outside the clinic.
      sessionDescriptionHandlerFactoryOptions: {
        peerConnectionConfiguration: { iceServers: [] },
        iceGatheringTimeout: 500,
      },
    },
    delegate: {
      onServerConnect: () => { phone.register().catch(() => state("off", "not registered: calls ring your desk phone")); },
      onServerDisconnect: () => state("off", "reconnecting: calls ring your desk phone"),
      onRegistered: idle,
      onUnregistered: () => state("off", "off: calls ring your desk phone"),
      onCallReceived: () => {
        ringing = true;
        buttons({ incoming: true });
        state("ringing", "ringing: a transferred call");
      },
      onCallAnswered: () => { buttons({ talking: true }); state("talking", "on a call"); },
      onCallHangup: () => {
        const never = $("#softphone").dataset.state === "connecting";
        idle();
        // Answered, then gone before any audio: the media path failed (or the caller left).
        if (never) state("ready", "the call ended before it connected");
      },
      onCallHold: (held) => {
        $("#softphone-hold").setAttribute("aria-pressed", String(held));
        state("talking", held ? "on hold" : "on a call");
      },
    },
  });
  try {
    await phone.connect();
  } catch (error) {
    state("off", "unreachable: calls ring your desk phone");
  }
}

async function stop() {
  if (phone === null) return;
  const ending = phone;
  phone = null;
  $("#softphone").hidden = true;
  try { await ending.unregister(); } catch (_) { /* the socket may be gone already */ }
  try { await ending.disconnect(); } catch (_) { /* nothing left to end */ }
}

$("#softphone-answer").addEventListener("click", answer);
$("#softphone-decline").addEventListener("click", () => act("decline", async () => { ringing = false; await phone.decline(); idle(); }));
$("#softphone-hangup").addEventListener("click", () => act("hang up", () => phone.hangup()));
$("#softphone-mute").addEventListener("click", () => act("mute", async () => {
  const muted = !phone.isMuted();
  if (muted) phone.mute(); else phone.unmute();
  $("#softphone-mute").setAttribute("aria-pressed", String(muted));
}));
$("#softphone-hold").addEventListener("click", () => act("hold", () => (phone.isHeld() ? phone.unhold() : phone.hold())));
document.querySelectorAll("#softphone-keypad button").forEach((key) => {
  key.addEventListener("click", () => act("key", () => phone.sendDTMF(key.textContent)));
});
document.addEventListener("console:signed-in", start);
document.addEventListener("console:signed-out", stop);
document.addEventListener("console:accepted", answer);
window.addEventListener("pagehide", stop);
// Signed in already when this module ran (module scripts run after the classic ones start).
if (!$("#console-view").hidden) start();
