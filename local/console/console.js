// The browser console: connect with a token, send any action, watch
// frames and async requests. Uses the project's client (streamer.js is
// client/streamer.mjs).
import { connect } from "./streamer.js";

const $ = (id) => document.getElementById(id);
const ASYNC = new Set(["process_data", "generate_report", "generate_dataset"]);
const TEMPLATES = {
  process_data: { action: "process_data", payload: { items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] } },
  generate_report: { action: "generate_report", payload: { group_by: "region",
    rows: [{ region: "eu", sales: 10 }, { region: "us", sales: 7 }, { region: "eu", sales: 5 }] } },
  // ~300 KB: the result comes in parts, which the client joins.
  generate_dataset: { action: "generate_dataset", payload: { rows: 7000 } },
  echo: { action: "echo", payload: { hello: "world" } },
  ping: { action: "ping" },
  status: { action: "status", payload: { request_id: "REQUEST_ID" } },
  cancel: { action: "cancel", payload: { request_id: "REQUEST_ID" } },
  subscribe: { action: "subscribe", payload: { request_id: "REQUEST_ID", event_types: ["progress", "complete", "error"] } },
  unsubscribe: { action: "unsubscribe", payload: { request_id: "REQUEST_ID" } },
};

const LOG_CHARS = 2000;
let client = null;
let lastRequestId = null;

function log(dir, frame) {
  const li = document.createElement("li");
  li.className = dir;
  const arrow = dir === "out" ? "→" : dir === "in" ? "←" : "·";
  // A big result's parts are up to 96 KB each: the log shows their start.
  let text = JSON.stringify(frame);
  if (text.length > LOG_CHARS) text = `${text.slice(0, LOG_CHARS)}… (${text.length} characters)`;
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${arrow} ${text}`;
  $("log").append(li);
  $("log").scrollTop = $("log").scrollHeight;
}

function setState(s) {
  $("state").textContent = s;
  $("state").className = `state ${s}`;
  const open = s === "open" || s === "renewed";
  $("send").disabled = !open && s !== "reconnecting";
  $("disconnect").disabled = s === "closed" || s === "disconnected";
  $("connect").disabled = !$("disconnect").disabled;
}

function fillTemplate() {
  const t = structuredClone(TEMPLATES[$("template").value]);
  if (t.payload?.request_id === "REQUEST_ID" && lastRequestId) t.payload.request_id = lastRequestId;
  $("message").value = JSON.stringify(t, null, 2);
}

/* One card per async request: bar, status line, buttons, result. */
function requestCard(id, action) {
  const card = document.createElement("div");
  card.className = "request";
  card.dataset.requestId = id;
  card.innerHTML = `<div class="head"><b></b><code></code><span class="status">queued</span>
    <span class="pct">0%</span>
    <button data-op="status">Status</button><button data-op="cancel">Cancel</button>
    <button data-op="subscribe">Subscribe</button></div>
    <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><div></div></div>
    <pre class="result"></pre>`;
  card.querySelector("b").textContent = action;
  card.querySelector("code").textContent = id;
  const show = (text) => { card.querySelector(".result").textContent = text; };
  card.querySelector(".head").addEventListener("click", async (e) => {
    const op = e.target.dataset?.op;
    if (!op || !client) return;
    try {
      const d = await client[op](id);
      if (op === "status") card.querySelector(".status").textContent = d.status.toLowerCase();
      show(JSON.stringify(d, null, 2));
    } catch (err) {
      show(`${op}: ${err.code}: ${err.message}`);
    }
  });
  $("requests").prepend(card);
  return {
    progress(p, message) {
      const bar = card.querySelector(".bar");
      bar.firstElementChild.style.width = `${p}%`;
      bar.setAttribute("aria-valuenow", String(p));
      card.querySelector(".pct").textContent = `${p}%`;
      card.querySelector(".status").textContent = message || "running";
    },
    done(result) {
      this.progress(100, "complete");
      card.classList.add("done");
      card.querySelector(".status").textContent = "completed";
      show(JSON.stringify(result, null, 2));
    },
    failed(err) {
      card.classList.add("failed");
      card.querySelector(".status").textContent = err.code === "CANCELLED" ? "cancelled" : "failed";
      show(`${err.code}: ${err.message}`);
    },
  };
}

async function send() {
  let m;
  try {
    m = JSON.parse($("message").value);
  } catch (e) {
    log("info", { error: `not JSON: ${e.message}` });
    return;
  }
  if (!m || typeof m.action !== "string") {
    log("info", { error: "the message needs an \"action\"" });
    return;
  }
  if (ASYNC.has(m.action)) {
    const id = m.id || crypto.randomUUID();
    lastRequestId = id;
    const card = requestCard(id, m.action);
    client.submit(m.action, m.payload, { id, onProgress: (p, msg) => card.progress(p, msg) })
      .then((r) => card.done(r), (e) => card.failed(e));
    return;
  }
  try {
    await client.call(m.action, m.payload, m.id ? { id: m.id } : {});
  } catch (e) {
    log("info", { error: `${e.code}: ${e.message}` });
  }
}

async function doConnect() {
  setState("connecting");
  try {
    client = await connect({ url: $("url").value, token: $("token").value.trim(),
      onFrame: log, onStateChange: setState });
    setState("open");
  } catch (e) {
    log("info", { error: `${e.code}: ${e.message}` });
    setState("disconnected");
  }
}

const params = new URLSearchParams(location.search);
$("url").value = params.get("url") || `ws://${location.host}/${params.get("stage") || "prod"}`;
$("token").value = params.get("token") || "";
for (const name of Object.keys(TEMPLATES)) {
  const o = document.createElement("option");
  o.value = o.textContent = name;
  $("template").append(o);
}
$("template").addEventListener("change", fillTemplate);
$("connect").addEventListener("click", doConnect);
$("disconnect").addEventListener("click", () => { client?.close(); client = null; setState("disconnected"); });
$("send").addEventListener("click", send);
fillTemplate();
setState("disconnected");
if (params.has("autoconnect")) doConnect();
