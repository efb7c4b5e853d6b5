// Streamer's JavaScript client: one ES module, no dependencies, for
// browsers and Node 20+ (pass a WebSocket constructor, e.g. from `ws`).
// It keeps one WebSocket to the API open across what API Gateway does to
// connections (the 10-minute idle timeout, the 2-hour limit, dropped
// networks) and settles every call and every submit exactly once.
// See client/README.md.

const DEFAULTS = {
  pingIntervalMs: 9 * 60 * 1000, // API Gateway closes idle sockets at 10 min
  maxConnectionMs: 115 * 60 * 1000, // ... and every socket at 2 hours
  callTimeoutMs: 30000,
  backoffBaseMs: 250,
  backoffCapMs: 30000,
  maxReconnectAttempts: 10,
  openTimeoutMs: 15000,
};

/** An error of the protocol (`code` is its code) or of the connection. */
export class StreamerError extends Error {
  constructor(code, message, { details, requestId, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = "StreamerError";
    this.code = code;
    if (details !== undefined) this.details = details;
    if (requestId !== undefined) this.requestId = requestId;
  }
}

function randomId() {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function withToken(url, token) {
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}Authorization=${encodeURIComponent(token)}`;
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);

class Client {
  #o;
  #WS;
  #ws = null;
  #calls = new Map(); // id -> {message, resolve, reject, timer, sent}
  #pings = []; // calls waiting for a pong, oldest first
  #submits = new Map(); // request id -> submit state
  #parts = new Map(); // request_id -> {parts, got[], have}: result_part frames
  #closed = false;
  #reconnecting = false;
  #pingTimer = null;
  #ageTimer = null;
  #lastSentMs = 0;

  constructor(options) {
    this.#o = { ...DEFAULTS, ...options };
    this.#WS = options.WebSocket || globalThis.WebSocket;
    if (typeof this.#WS !== "function")
      throw new StreamerError("NO_WEBSOCKET", "no WebSocket: pass { WebSocket } (e.g. from the ws package on Node 20)");
    if (!options.url) throw new StreamerError("INVALID_OPTIONS", "connect: url is required");
    /** Connections opened so far (1 after connect()). */
    this.connections = 0;
  }

  // ---- the socket --------------------------------------------------------

  /* Opens a socket; resolves with it once open, rejects with a clear error. */
  #open() {
    const url = withToken(this.#o.url, this.#o.token);
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.#WS(url);
      } catch (e) {
        reject(new StreamerError("CONNECT_FAILED", `cannot open ${this.#o.url}: ${e.message}`, { cause: e }));
        return;
      }
      let why = "";
      let done = false;
      const timer = setTimeout(() => fail("no answer"), this.#o.openTimeoutMs);
      const fail = (reason) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try { ws.close(); } catch { /* not open */ }
        const text = `${why} ${reason}`;
        const refused = /\b(401|403)\b/.test(text);
        reject(new StreamerError(refused ? "UNAUTHORIZED" : "CONNECT_FAILED",
          refused
            ? `connect to ${this.#o.url} refused: the server did not accept the token (${text.trim()})`
            : `connect to ${this.#o.url} failed before the socket opened` +
              ` (${text.trim() || "no reason given"}; a refused token looks the same in browsers)`));
      };
      ws.onerror = (e) => { why = e?.message || e?.error?.message || why; };
      ws.onclose = (e) => fail(`close code ${e?.code ?? "?"}`);
      ws.onopen = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(ws);
      };
    });
  }

  /* Makes `ws` the current socket: frames, close handling, timers. */
  #adopt(ws) {
    const old = this.#ws;
    this.#ws = ws;
    this.connections++;
    ws.onmessage = (e) => this.#onFrame(ws, e.data);
    ws.onerror = () => {};
    ws.onclose = () => {
      if (this.#ws === ws) this.#lost();
    };
    this.#state("open");
    this.#lastSentMs = Date.now();
    clearTimeout(this.#ageTimer);
    this.#ageTimer = setTimeout(() => this.#renew(), this.#o.maxConnectionMs);
    this.#ageTimer.unref?.();
    this.#schedulePing();
    return old;
  }

  #schedulePing() {
    clearTimeout(this.#pingTimer);
    const wait = Math.max(0, this.#lastSentMs + this.#o.pingIntervalMs - Date.now());
    this.#pingTimer = setTimeout(() => {
      if (this.#closed || !this.#isOpen()) return;
      if (Date.now() - this.#lastSentMs >= this.#o.pingIntervalMs)
        this.call("ping").catch(() => {});
      this.#schedulePing();
    }, wait);
    this.#pingTimer.unref?.();
  }

  #isOpen() {
    return this.#ws && this.#ws.readyState === 1;
  }

  #send(message) {
    const text = JSON.stringify(message);
    this.#ws.send(text);
    this.#lastSentMs = Date.now();
    this.#o.onFrame?.("out", message);
  }

  #state(s) {
    this.#o.onStateChange?.(s);
  }

  /* The socket dropped: reconnect with jittered backoff, then resume. */
  async #lost() {
    if (this.#closed || this.#reconnecting) return;
    this.#reconnecting = true;
    this.#state("reconnecting");
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#ageTimer);
    for (const c of this.#calls.values()) c.sent = false;
    for (const sub of this.#submits.values()) sub.dropped = true;
    for (const p of this.#pings.splice(0)) this.#failCall(p, "DISCONNECTED", "the connection dropped before the pong");
    for (let attempt = 0; !this.#closed; attempt++) {
      if (attempt >= this.#o.maxReconnectAttempts) {
        this.#shutdown(new StreamerError("DISCONNECTED", `gave up reconnecting to ${this.#o.url} after ${attempt} attempts`));
        return;
      }
      // Full jitter: a random wait up to base * 2^attempt, capped.
      const cap = Math.min(this.#o.backoffCapMs, this.#o.backoffBaseMs * 2 ** attempt);
      await new Promise((r) => setTimeout(r, Math.random() * cap));
      if (this.#closed) return;
      try {
        const ws = await this.#open();
        if (this.#closed) { ws.close(); return; }
        this.#adopt(ws);
        break;
      } catch (e) {
        this.#o.onFrame?.("info", { reconnect_failed: e.message });
      }
    }
    this.#reconnecting = false;
    this.#flush();
    this.#resumeAll();
  }

  /* Ahead of API Gateway's 2-hour limit: open a new socket, move to it,
   * resume what is in flight there, then close the old one. */
  async #renew() {
    if (this.#closed || this.#reconnecting) return;
    let ws;
    try {
      ws = await this.#open();
    } catch {
      this.#ageTimer = setTimeout(() => this.#renew(), 5000);
      this.#ageTimer.unref?.();
      return;
    }
    if (this.#closed) return ws.close();
    const old = this.#adopt(ws);
    this.#state("renewed");
    const resumed = this.#resumeAll();
    this.#flush();
    // Frames still arriving on the old socket are handled until it closes.
    Promise.race([resumed, new Promise((r) => setTimeout(r, 5000))]).then(() => {
      try { old?.close(1000, "renewed"); } catch { /* gone */ }
    });
  }

  /* Sends calls waiting for an open socket. */
  #flush() {
    if (!this.#isOpen()) return;
    for (const c of this.#calls.values()) {
      if (c.sent) continue;
      c.sent = true;
      if (c.message.action === "ping") this.#pings.push(c);
      this.#send(c.message);
    }
    for (const s of this.#submits.values())
      if (s.phase === "unsent") {
        s.phase = "sent";
        this.#send(s.message);
      }
  }

  // ---- frames ------------------------------------------------------------

  #onFrame(ws, data) {
    let f;
    try {
      f = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    } catch {
      this.#o.onFrame?.("in", { unparsable: String(data) });
      return;
    }
    this.#o.onFrame?.("in", f);
    const id = f.request_id;
    switch (f.type) {
      case "pong": {
        const c = this.#pings.shift();
        if (c) this.#settleCall(c, null, f);
        return;
      }
      case "response": {
        const c = this.#calls.get(id);
        if (!c) return;
        // A big status result: its parts came first, under this call's id.
        if (typeof f.data?.result_parts === "number" && !("result" in f.data)) {
          c.bigData = f.data;
          return this.#claimParts(id);
        }
        return this.#settleCall(c, null, f.data);
      }
      case "result_part":
        return this.#part(f);
      case "acknowledgment": {
        // An async action sent with call(): the answer is its queueing.
        if (this.#calls.has(id))
          return this.#settleCall(this.#calls.get(id), null, { request_id: id, status: f.status });
        const s = this.#submits.get(id);
        if (s && s.phase !== "done") s.phase = "acked";
        return;
      }
      case "progress":
        return this.#progress(this.#submits.get(id), f.percentage, f.message);
      case "complete":
        return this.#complete(this.#submits.get(id), f);
      case "error": {
        const err = new StreamerError(f.error?.code || "ERROR", f.error?.message || "error",
          { details: f.error?.details, requestId: id });
        if (id && this.#calls.has(id)) return this.#settleCall(this.#calls.get(id), err);
        const s = id && this.#submits.get(id);
        // Sent again after a reconnect, but the first one got through.
        if (s && s.resent && err.code === "DUPLICATE_REQUEST") {
          s.phase = "acked";
          return void this.#resume(s);
        }
        if (s) return this.#finish(s, err);
        return;
      }
      default:
        // API Gateway's own {"message": "Internal server error", ...}
        // names no request; the call it answers times out.
        return;
    }
  }

  #progress(s, percentage, message) {
    if (!s || s.phase === "done" || typeof percentage !== "number") return;
    if (percentage < s.percentage) return; // a late frame from an old socket
    s.percentage = percentage;
    try { s.onProgress?.(percentage, message ?? ""); } catch { /* the caller's */ }
  }

  /*
   * A `complete` frame. A result too big for one frame (API Gateway's
   * 128 KB) comes as a header with `result_parts` (N) and `result_bytes`
   * instead of `result`, followed by N `result_part` frames
   * (docs/protocol.md, "Big results"): the submit settles once they are in.
   */
  #complete(s, f) {
    if (!s || s.phase === "done") return;
    if (typeof f.result_parts === "number" && !("result" in f)) {
      s.bigData = f;
      return this.#claimParts(s.id);
    }
    this.#finish(s, null, f.result);
  }

  /*
   * A `result_part`: kept by request_id (a submit's id, or the id of a
   * `status` call) while a submit or a call of that id is pending; parts
   * for anything else (another client's subscription) are dropped. A part
   * seen again (pushed again after a reconnect) replaces the first.
   */
  #part(f) {
    const id = f.request_id;
    if (typeof id !== "string" || !(this.#calls.has(id) || this.#submits.has(id))) return;
    const n = f.parts;
    const i = f.index;
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(i) || i < 0 || i >= n || typeof f.data !== "string")
      return this.#partsFailed(id, `a result_part frame for ${id} is malformed`);
    let p = this.#parts.get(id);
    if (!p || p.parts !== n) {
      p = { parts: n, got: new Array(n), have: 0 };
      this.#parts.set(id, p);
    }
    if (p.got[i] === undefined) p.have++;
    p.got[i] = f.data;
    this.#claimParts(id);
  }

  /*
   * Settles the submit or call `id` when both its header (`bigData`: the
   * `complete` frame, or the status `response`'s data) and all its parts
   * are in; otherwise waits for the rest (a call still times out).
   */
  #claimParts(id) {
    const s = this.#submits.get(id);
    const c = this.#calls.get(id);
    const head = s?.bigData || c?.bigData;
    const p = this.#parts.get(id);
    if (!head || !p || p.have < p.parts) return;
    if (p.parts !== head.result_parts)
      return this.#partsFailed(id, `${id}: ${p.parts} parts arrived, the header announced ${head.result_parts}`);
    this.#parts.delete(id);
    const text = p.got.join("");
    const bytes = new TextEncoder().encode(text).length; // result_bytes counts UTF-8 bytes
    if (typeof head.result_bytes === "number" && bytes !== head.result_bytes)
      return this.#partsFailed(id, `${id}: the result parts join into ${bytes} bytes, the header announced ${head.result_bytes}`);
    let result;
    try {
      result = JSON.parse(text);
    } catch (e) {
      return this.#partsFailed(id, `${id}: the result parts do not join into JSON (${e.message})`, e);
    }
    if (s) return this.#finish(s, null, result);
    const data = { ...head, result };
    this.#settleCall(c, null, data);
  }

  #partsFailed(id, message, cause) {
    this.#parts.delete(id);
    const err = new StreamerError("INVALID_MESSAGE", message, { requestId: id, cause });
    const s = this.#submits.get(id);
    if (s) return this.#finish(s, err);
    const c = this.#calls.get(id);
    if (c) this.#settleCall(c, err);
  }

  #finish(s, err, result) {
    if (s.phase === "done") return;
    s.phase = "done";
    this.#submits.delete(s.id);
    this.#parts.delete(s.id);
    if (err) s.reject(err);
    else {
      if (s.percentage < 100) this.#progress({ ...s, phase: "x" }, 100, "complete");
      s.resolve(result);
    }
  }

  // ---- resuming after a reconnect ------------------------------------------

  #resumeAll() {
    return Promise.all([...this.#submits.values()].map((s) => this.#resume(s)));
  }

  /*
   * `status` first: a request the server never saw (dropped before the
   * acknowledgment) is sent again with the same id; an ended one settles
   * from the status; a running one gets a new subscription on this socket,
   * then one more `status` in case it ended in between.
   */
  async #resume(s) {
    if (s.phase === "done" || s.phase === "unsent") return;
    try {
      let st = await this.#status(s.id);
      if (st === null) {
        if (s.phase === "done") return;
        s.phase = "sent";
        s.resent = true;
        this.#send(s.message);
        return;
      }
      if (this.#settleFromStatus(s, st)) return;
      await this.call("subscribe", { request_id: s.id });
      st = await this.#status(s.id);
      if (st) this.#settleFromStatus(s, st);
    } catch (e) {
      if (e.code === "DISCONNECTED" || e.code === "TIMEOUT") return; // resumed again later
      this.#finish(s, e);
    }
  }

  async #status(id) {
    try {
      return await this.call("status", { request_id: id });
    } catch (e) {
      if (e.code === "NOT_FOUND") return null;
      throw e;
    }
  }

  /* True when `st` (a status answer) ended the submit. */
  #settleFromStatus(s, st) {
    if (s.phase === "done") return true;
    if (st.status === "COMPLETED") {
      this.#finish(s, null, st.result);
      return true;
    }
    if (st.status === "FAILED") {
      this.#finish(s, new StreamerError("PROCESSING_FAILED", st.error || "the request failed", { requestId: s.id }));
      return true;
    }
    if (st.status === "CANCELLED" && s.dropped && !s.userCancelled && s.percentage < 0) {
      // $disconnect cancels the connection's PENDING requests: this one
      // never ran, so it is sent again, under a new id.
      this.#submits.delete(s.id);
      s.attempt = (s.attempt || 0) + 1;
      s.id = `${s.firstId.slice(0, 120)}.${s.attempt}`;
      s.message = { ...s.message, id: s.id };
      s.phase = "sent";
      s.dropped = false;
      s.resent = false;
      this.#submits.set(s.id, s);
      this.#send(s.message);
      return true;
    }
    if (st.status === "CANCELLED") {
      this.#finish(s, new StreamerError("CANCELLED", "the request was cancelled", { requestId: s.id }));
      return true;
    }
    if (s.phase !== "done") s.phase = "acked";
    this.#progress(s, st.progress, st.progress_message);
    return false;
  }

  // ---- calls -------------------------------------------------------------

  #settleCall(c, err, value) {
    if (c.done) return;
    c.done = true;
    clearTimeout(c.timer);
    this.#calls.delete(c.message.id);
    this.#parts.delete(c.message.id);
    const i = this.#pings.indexOf(c);
    if (i >= 0) this.#pings.splice(i, 1);
    if (err) c.reject(err);
    else c.resolve(value);
  }

  #failCall(c, code, message) {
    this.#settleCall(c, new StreamerError(code, message, { requestId: c.message.id }));
  }

  #shutdown(err) {
    this.#closed = true;
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#ageTimer);
    for (const c of [...this.#calls.values()]) this.#settleCall(c, err);
    for (const s of [...this.#submits.values()]) this.#finish(s, err);
    this.#state("closed");
  }

  /**
   * Sends a synchronous action; resolves with its `data` (the pong frame
   * for "ping"), rejects with a StreamerError whose .code is the
   * protocol's code (or TIMEOUT, CLOSED, DISCONNECTED).
   */
  call(action, payload, { timeoutMs = this.#o.callTimeoutMs, id = randomId() } = {}) {
    if (this.#closed) return Promise.reject(new StreamerError("CLOSED", "the client is closed"));
    return new Promise((resolve, reject) => {
      const message = { action, id };
      if (payload !== undefined) message.payload = payload;
      const c = { message, resolve, reject, sent: false, done: false };
      c.timer = setTimeout(() => this.#failCall(c, "TIMEOUT", `${action}: no answer in ${timeoutMs} ms`), timeoutMs);
      c.timer.unref?.();
      this.#calls.set(id, c);
      this.#flush();
    });
  }

  /**
   * Runs an async action: resolves with its result once complete,
   * calling onProgress(percentage, message) on the way; rejects with the
   * protocol's code (VALIDATION_ERROR, PROCESSING_FAILED, ...) or
   * CANCELLED. Survives reconnects; settles exactly once.
   */
  submit(action, payload, { onProgress, id = randomId() } = {}) {
    if (this.#closed) return Promise.reject(new StreamerError("CLOSED", "the client is closed"));
    return new Promise((resolve, reject) => {
      const message = { action, id, payload: payload ?? {} };
      const s = { id, firstId: id, message, onProgress, resolve, reject, phase: "unsent", percentage: -1 };
      this.#submits.set(id, s);
      this.#flush();
    });
  }

  /** The request's state: {request_id, action, status, progress, result?, ...}; a big
   * result (sent in parts) is reassembled into `result`. */
  status(requestId) {
    return this.call("status", { request_id: requestId });
  }

  /** Cancels a request; a submit of this client for it rejects with CANCELLED. */
  async cancel(requestId) {
    const mine = this.#submits.get(requestId);
    if (mine) mine.userCancelled = true;
    const d = await this.call("cancel", { request_id: requestId });
    const s = this.#submits.get(requestId);
    if (s && d?.status === "CANCELLED")
      this.#finish(s, new StreamerError("CANCELLED", "the request was cancelled", { requestId }));
    return d;
  }

  /** Subscribes this connection to a request's progress and completion. */
  subscribe(requestId, eventTypes) {
    const p = { request_id: requestId };
    if (eventTypes) p.event_types = eventTypes;
    return this.call("subscribe", p);
  }

  /** Closes the socket; what is pending rejects with CLOSED. */
  close() {
    if (this.#closed) return;
    this.#shutdown(new StreamerError("CLOSED", "the client was closed"));
    try { this.#ws?.close(1000, "bye"); } catch { /* gone */ }
  }

  /* connect(): the first socket. */
  async start() {
    this.#state("connecting");
    const ws = await this.#open();
    this.#adopt(ws);
    return this;
  }
}

/**
 * Opens a client: resolves once the WebSocket is open, rejects with a
 * StreamerError (code UNAUTHORIZED when the server refused the token
 * and says so, else CONNECT_FAILED).
 *   options: { url, token, WebSocket = globalThis.WebSocket,
 *              pingIntervalMs, maxConnectionMs, callTimeoutMs,
 *              backoffBaseMs, backoffCapMs, maxReconnectAttempts,
 *              onFrame(direction, frame), onStateChange(state) }
 */
export async function connect(options) {
  return new Client(options || {}).start();
}
