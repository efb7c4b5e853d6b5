// client/streamer.mjs against the local gateway (started here on a free
// port with DynamoDB Local, stopped after, also on failure).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { connect } from "../../client/streamer.mjs";
import {
  startDynamoDB, startGateway, devToken, strangerToken, dropConnection,
  connectionIds, sleep,
} from "./harness.mjs";

let ddb, gw;
before(async () => {
  ddb = await startDynamoDB();
  gw = await startGateway({ ddb, name: "gateway-client" });
});
after(async () => {
  const status = await gw?.stop();
  await ddb?.stop();
  assert.equal(status ?? 0, 0, "the gateway did not stop cleanly");
});

const open = (extra = {}) => connect({ url: gw.url, token: devToken(), WebSocket, ...extra });
const ITEMS = Array.from({ length: 40 }, (_, i) => i + 1); // sum 820

test("call: echo, ping, and protocol errors carry their code", async () => {
  const c = await open();
  try {
    assert.deepEqual(await c.call("echo", { hello: 1 }), { hello: 1 });
    assert.equal((await c.call("ping")).type, "pong");
    await assert.rejects(c.call("no_such_action", {}), (e) => e.code === "INVALID_ACTION");
    await assert.rejects(c.call("status", {}), (e) => e.code === "VALIDATION_ERROR" && e.details?.field === "request_id");
    await assert.rejects(c.status("never-submitted"), (e) => e.code === "NOT_FOUND");
    // An async action through call(): resolved by its acknowledgment.
    const q = await c.call("process_data", { items: [1, 2] }, { id: `via-call-${Date.now()}` });
    assert.equal(q.status, "queued");
    assert.match(q.request_id, /^via-call-/);
  } finally {
    c.close();
  }
  await assert.rejects(c.call("echo", {}), (e) => e.code === "CLOSED");
});

test("submit: progress to 100 and the result; status and subscribe of it", async () => {
  const c = await open();
  try {
    const seen = [];
    const id = `job-${Date.now()}`;
    const result = await c.submit("process_data", { items: ITEMS }, { id, onProgress: (p, m) => seen.push([p, m]) });
    assert.deepEqual(result, { count: 40, sum: 820, min: 1, max: 40, mean: 20.5 });
    assert.ok(seen.length >= 2, JSON.stringify(seen));
    assert.deepEqual(seen.at(-1)[0], 100);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] >= seen[i - 1][0]);
    const st = await c.status(id);
    assert.equal(st.status, "COMPLETED");
    assert.deepEqual(st.result, result);
    const sub = await c.subscribe(id, ["complete"]);
    assert.equal(sub.request_id, id);
    await assert.rejects(c.submit("process_data", { items: [] }), (e) => e.code === "VALIDATION_ERROR");
    await assert.rejects(c.submit("process_data", { items: [1] }, { id }), (e) => e.code === "DUPLICATE_REQUEST");
  } finally {
    c.close();
  }
});

test("cancel: the submit rejects once with CANCELLED", async () => {
  // A gateway that does not poll the stream, on tables of its own (the
  // other gateway's poller would run the request): it stays PENDING until
  // cancelled.
  const quiet = await startGateway({ ddb, noStream: true, name: "gateway-no-stream",
    env: { CONNECTIONS_TABLE: "quiet_connections", REQUESTS_TABLE: "quiet_requests",
      SUBSCRIPTIONS_TABLE: "quiet_subscriptions" } });
  let acked;
  const ack = new Promise((r) => (acked = r));
  const c = await connect({ url: quiet.url, token: devToken(), WebSocket,
    onFrame: (dir, f) => dir === "in" && f.type === "acknowledgment" && acked() });
  try {
    const id = `cancel-${Date.now()}`;
    let settled = 0;
    const p = c.submit("process_data", { items: ITEMS }, { id }).finally(() => settled++);
    await ack;
    assert.equal((await c.status(id)).status, "PENDING");
    const d = await c.cancel(id);
    assert.equal(d.status, "CANCELLED");
    await assert.rejects(p, (e) => e.code === "CANCELLED" && e.requestId === id);
    await sleep(300);
    assert.equal(settled, 1);
    assert.equal((await c.status(id)).status, "CANCELLED");
    await assert.rejects(c.cancel(id), (e) => e.code === "VALIDATION_ERROR");
  } finally {
    c.close();
    assert.equal(await quiet.stop(), 0, "the no-stream gateway did not stop cleanly");
  }
});

test("the gateway drops the socket mid-submit: it resolves once, with the right result", async () => {
  for (const when of ["before the acknowledgment", "after the acknowledgment"]) {
    const before = connectionIds(gw).length;
    let dropped = false;
    const c = await open({
      backoffBaseMs: 50,
      onFrame: (dir, f) => {
        const hit = when.startsWith("before") ? dir === "out" && f.action === "process_data"
          : dir === "in" && f.type === "acknowledgment";
        if (hit && !dropped) {
          dropped = true;
          const id = connectionIds(gw)[before];
          dropConnection(gw, id).then((s) => assert.equal(s, 204));
        }
      },
    });
    try {
      let settled = 0;
      const progress = [];
      const result = await c.submit("process_data", { items: ITEMS },
        { onProgress: (p) => progress.push(p) }).finally(() => settled++);
      assert.ok(dropped, when);
      assert.deepEqual(result, { count: 40, sum: 820, min: 1, max: 40, mean: 20.5 }, when);
      assert.equal(progress.at(-1), 100, when);
      assert.ok(c.connections >= 2, `${when}: reconnected (${c.connections})`);
      await sleep(500); // nothing settles it a second time
      assert.equal(settled, 1, when);
      assert.deepEqual(await c.call("echo", { after: when }), { after: when });
    } finally {
      c.close();
    }
  }
});

test("keeps the socket alive: pings when idle, renews ahead of the connection limit", async () => {
  const frames = [];
  const states = [];
  const c = await open({ pingIntervalMs: 200, maxConnectionMs: 1500,
    onFrame: (dir, f) => frames.push([dir, f]), onStateChange: (s) => states.push(s) });
  try {
    await sleep(700);
    assert.ok(frames.filter(([d, f]) => d === "out" && f.action === "ping").length >= 2);
    assert.ok(frames.some(([d, f]) => d === "in" && f.type === "pong"));
    // A submit across the renewal settles once with its result.
    const r = await c.submit("process_data", { items: ITEMS, transient_failures: 1 });
    assert.equal(r.sum, 820);
    await sleep(1500);
    assert.ok(states.includes("renewed"), states.join(","));
    assert.ok(c.connections >= 2);
    assert.deepEqual(await c.call("echo", { x: 1 }), { x: 1 });
  } finally {
    c.close();
  }
});

test("a token the gateway refuses rejects connect with a clear error", async () => {
  await assert.rejects(connect({ url: gw.url, token: strangerToken(), WebSocket }),
    (e) => e.code === "UNAUTHORIZED" && /refused/.test(e.message) && /401/.test(e.message));
  await assert.rejects(connect({ url: gw.url, token: "not-a-jwt", WebSocket }), (e) => e.code === "UNAUTHORIZED");
  await assert.rejects(connect({ url: gw.url, token: devToken() }), (e) => e.code === "NO_WEBSOCKET" || typeof globalThis.WebSocket === "function");
});

// generate_dataset's rows, as the server builds them (handlers/actions.c).
function checkDataset(result, n, what) {
  assert.equal(result?.count, n, what);
  assert.equal(result.rows.length, n, what);
  for (const i of [0, 1, Math.floor(n / 2), n - 1])
    assert.deepEqual(result.rows[i], { id: i, label: `row-${String(i).padStart(6, "0")}`, value: (i * 7919) % 1000 }, what);
  for (let i = 0; i < n; i++) assert.equal(result.rows[i].id, i, `${what}: row ${i} in order`);
}

// The result_part frames a client received under `id`, and their count.
const partsSeen = (frames, id) => frames.filter(([d, f]) => d === "in" && f.type === "result_part" && f.request_id === id);

test("a big result (~300 KB, in parts): submit resolves with it, status returns it whole", async () => {
  const frames = [];
  const c = await open({ onFrame: (dir, f) => frames.push([dir, f]) });
  try {
    const id = `big-${Date.now()}`;
    const result = await c.submit("generate_dataset", { rows: 7000 }, { id });
    checkDataset(result, 7000, "submit");
    // It did come as a header and parts, not one frame.
    const head = frames.find(([d, f]) => d === "in" && f.type === "complete" && f.request_id === id)?.[1];
    assert.ok(head && head.result_parts > 1 && !("result" in head), JSON.stringify(head));
    assert.equal(head.result_bytes, JSON.stringify(result).length);
    assert.equal(partsSeen(frames, id).length, head.result_parts);

    const statusId = `status-of-${id}`;
    const st = await c.call("status", { request_id: id }, { id: statusId });
    assert.equal(st.status, "COMPLETED");
    assert.deepEqual(st.result, result);
    assert.equal(st.result_parts, head.result_parts);
    assert.equal(partsSeen(frames, statusId).length, head.result_parts, "the status's parts, under its id");
    assert.deepEqual((await c.status(id)).result, result, "status()");
    assert.deepEqual(await c.call("echo", { after: "big" }), { after: "big" });
  } finally {
    c.close();
  }
});

test("a big result that ended while the socket was down: the resumed submit settles from status", async () => {
  const id = `big-resume-${Date.now()}`;
  let release;
  const gate = new Promise((r) => (release = r));
  let sockets = 0;
  // The second socket reports itself open only once the request has
  // completed, so the resume finds it COMPLETED and settles from status.
  function GatedWebSocket(url) {
    const ws = new WebSocket(url);
    if (++sockets === 1) return ws;
    let onopen = null;
    Object.defineProperty(ws, "onopen", { get: () => onopen, set: (h) => (onopen = h), configurable: true });
    ws.addEventListener("open", () => gate.then(() => onopen?.()));
    return ws;
  }
  const before = connectionIds(gw).length;
  const frames = [];
  let dropped = false;
  const c = await connect({ url: gw.url, token: devToken(), WebSocket: GatedWebSocket, backoffBaseMs: 20,
    onFrame: (dir, f) => {
      frames.push([dir, f]);
      // Dropped once it runs (a PENDING request would be cancelled by $disconnect).
      if (dir === "in" && f.type === "progress" && f.request_id === id && !dropped) {
        dropped = true;
        dropConnection(gw, connectionIds(gw)[before]).then((s) => assert.equal(s, 204));
      }
    } });
  const watcher = await open();
  try {
    let settled = 0;
    const p = c.submit("generate_dataset", { rows: 7000 }, { id }).finally(() => settled++);
    for (let i = 0; i < 200 && !dropped; i++) await sleep(25);
    assert.ok(dropped, "the first progress frame arrived");
    let st;
    for (let i = 0; i < 200; i++) {
      st = await watcher.status(id);
      if (st.status === "COMPLETED") break;
      await sleep(50);
    }
    assert.equal(st.status, "COMPLETED");
    checkDataset(st.result, 7000, "the watcher's status");
    release();
    const result = await p;
    checkDataset(result, 7000, "the resumed submit");
    assert.ok(c.connections >= 2, `reconnected (${c.connections})`);
    // Settled from a status answer in parts, not from the push.
    const resp = frames.find(([d, f]) => d === "in" && f.type === "response" && f.data?.request_id === id && f.data?.result_parts);
    assert.ok(resp, "a status response with result_parts");
    assert.equal(partsSeen(frames, resp[1].request_id).length, resp[1].data.result_parts);
    await sleep(300);
    assert.equal(settled, 1);
  } finally {
    release();
    c.close();
    watcher.close();
  }
});
