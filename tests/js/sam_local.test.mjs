// sam local, as far as a machine without Docker goes: every sample event
// in deploy/events/ run by our bootstrap with exactly the environment SAM
// would give it (template.yaml's Environment merged with
// deploy/env.local.json, scripts/sam-env.mjs), and the local gateway's
// Invoke-API mode against an Invoke API server (what `sam local
// start-lambda` serves) that runs that same bootstrap.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { samEnvironment, samEnvironmentFromFiles } from "../../scripts/sam-env.mjs";
import {
  ROOT, startDynamoDB, createTables, devToken, strangerToken, startGateway,
  RuntimeApi, InvokeApi, startBootstrap, sleep,
} from "./harness.mjs";

const ENV_FILE = path.join(ROOT, "deploy/env.local.json");

/*
 * SAM's environment for StreamerFunction. The one change: the container's
 * host.docker.internal (where env.local.json points) is this machine's
 * loopback here, with the ports the test's servers got — what
 * `--add-host host.docker.internal:127.0.0.1` does for a container.
 */
function samEnv(ddbEndpoint, gatewayHttp) {
  const env = samEnvironmentFromFiles(path.join(ROOT, "template.yaml"), ENV_FILE);
  assert.equal(env.AWS_ENDPOINT_URL_DYNAMODB, "http://host.docker.internal:8000");
  assert.equal(env.WEBSOCKET_ENDPOINT, "http://host.docker.internal:8765/prod");
  env.AWS_ENDPOINT_URL_DYNAMODB = ddbEndpoint;
  env.WEBSOCKET_ENDPOINT = `${gatewayHttp}/prod`;
  return env;
}

let ddb;
before(async () => {
  ddb = await startDynamoDB();
  createTables(ddb.endpoint);
});
after(async () => {
  await ddb?.stop();
});

test("the environment SAM gives the function, from template.yaml and env.local.json", () => {
  const bare = samEnvironmentFromFiles(path.join(ROOT, "template.yaml"), null);
  // Without the env file: a Ref to a table is its logical id, parameters
  // are their defaults, the declared endpoints are empty.
  assert.equal(bare.CONNECTIONS_TABLE, "ConnectionsTable");
  assert.equal(bare.JWT_PUBLIC_KEY, "");
  assert.equal(bare.AWS_ENDPOINT_URL_DYNAMODB, "");
  assert.equal(bare.AWS_LAMBDA_FUNCTION_NAME, "StreamerFunction");
  assert.equal(bare.AWS_LAMBDA_FUNCTION_TIMEOUT, "30");
  assert.equal(bare.AWS_ACCESS_KEY_ID, "defaultkey");
  const env = samEnvironmentFromFiles(path.join(ROOT, "template.yaml"), ENV_FILE);
  assert.equal(env.CONNECTIONS_TABLE, "streamer_connections");
  assert.equal(env.REQUESTS_TABLE, "streamer_requests");
  assert.equal(env.SUBSCRIPTIONS_TABLE, "streamer_subscriptions");
  assert.equal(env.JWT_PUBLIC_KEY, readFileSync(path.join(ROOT, "deploy/dev/jwt_public.pem"), "utf8"));
  // Every variable the env file sets is declared by the template (SAM
  // ignores the others).
  const file = JSON.parse(readFileSync(ENV_FILE, "utf8")).StreamerFunction;
  for (const [k, v] of Object.entries(file)) assert.equal(env[k], v, k);
});

test("the resolver: Globals merged under the function's own, Ref, Sub, GetAtt, overrides", () => {
  const tpl = `
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Timeout: 12
    Environment:
      Variables:
        SHARED: from-globals
        OVERRIDDEN: globals # a comment
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: bootstrap
      MemorySize: 256
      Environment:
        Variables:
          OVERRIDDEN: "function's"
          STAGE: !Ref Stage
          TABLE: !Ref Table
          URL: !Sub "https://\${Table}.\${AWS::Region}.\${AWS::URLSuffix}/\${Stage}"
          ARN: !GetAtt Table.Arn
          ATTR_SUB: !Sub "\${Table.Arn}/index"
          STREAM: !GetAtt Table.StreamArn
          FLAG: true
          FROM_FILE: ""
`;
  const env = samEnvironment(tpl, { Parameters: { FROM_FILE: "all", UNDECLARED: "x" }, Fn: { STAGE: "file" } }, "Fn");
  assert.equal(env.SHARED, "from-globals");
  assert.equal(env.OVERRIDDEN, "function's");
  assert.equal(env.STAGE, "file");
  assert.equal(env.TABLE, "Table");
  assert.equal(env.URL, "https://Table.us-east-1.amazonaws.com/dev");
  assert.equal(env.ARN, "arn:aws:lambda:us-east-1:123456789012:function:Table");
  assert.equal(env.ATTR_SUB, "arn:aws:lambda:us-east-1:123456789012:function:Table/index");
  assert.equal(env.STREAM, "");
  assert.equal(env.FLAG, "true");
  assert.equal(env.FROM_FILE, "all");
  assert.equal(env.UNDECLARED, undefined);
  assert.equal(env.AWS_LAMBDA_FUNCTION_TIMEOUT, "12");
  assert.equal(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "256");
  assert.throws(() => samEnvironment(tpl, null, "Table"), /no AWS::Serverless::Function named Table/);
});

/* What each sample event's answer holds, in one warm process. */
const EXPECT = {
  "connect.json": { kind: "response", has: '"statusCode":200' },
  "message.json": { kind: "response", has: '\\"hello\\":\\"world\\"' },
  "stream.json": { kind: "response", has: '{"batchItemFailures":[]}' },
  "schedule.json": { kind: "response", has: '"removed":0' },
  "disconnect.json": { kind: "response", has: '"statusCode":200' },
};

test("every deploy/events/*.json runs with SAM's environment", async () => {
  const names = readdirSync(path.join(ROOT, "deploy/events")).filter((n) => n.endsWith(".json"));
  assert.deepEqual([...names].sort(), Object.keys(EXPECT).sort(), "a sample event without an expectation");
  const rapi = await new RuntimeApi().start();
  // Pushes go to a closed port: nobody is connected to the sample ids.
  const boot = startBootstrap(samEnv(ddb.endpoint, "http://127.0.0.1:9"), rapi, "sam-events");
  try {
    const token = devToken({ sub: "user-1", tenant_id: "tenant-1" });
    for (const name of ["connect.json", "message.json", "stream.json", "schedule.json", "disconnect.json"]) {
      const event = readFileSync(path.join(ROOT, "deploy/events", name), "utf8").replaceAll("REPLACE_WITH_A_JWT", token);
      const r = await Promise.race([rapi.invoke(event),
        sleep(20000).then(() => ({ kind: "timeout", body: boot.log() }))]);
      assert.equal(r.kind, EXPECT[name].kind, `${name}: ${r.body}`);
      assert.ok(r.body.includes(EXPECT[name].has), `${name}: ${r.body} lacks ${EXPECT[name].has}`);
    }
    assert.equal(rapi.initError, null);
  } finally {
    await boot.stop();
    await rapi.stop();
  }
});

/* One frame from `ws` that matches `pred`, within `ms`. */
function frame(frames, pred, ms = 20000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      const f = frames.find(pred);
      if (f) return resolve(f);
      if (Date.now() - t0 > ms) return reject(new Error(`no such frame in ${JSON.stringify(frames)}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames = [];
    ws.on("message", (d) => frames.push(JSON.parse(String(d))));
    ws.on("open", () => resolve({ ws, frames }));
    ws.on("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on("error", reject);
  });
}

test("the gateway's Invoke-API mode: every event goes to POST /2015-03-31/functions/StreamerFunction/invocations", async () => {
  const rapi = await new RuntimeApi().start();
  const lambda = await new InvokeApi(rapi).start();
  let gw, boot;
  try {
    gw = await startGateway({ ddb, lambdaEndpoint: lambda.url, name: "gateway-invoke" });
    boot = startBootstrap(samEnv(ddb.endpoint, gw.http), rapi, "sam-start-lambda");
    const { ws, frames } = await open(`${gw.url}?Authorization=${devToken()}`);
    ws.send(JSON.stringify({ action: "echo", payload: { hello: 1 } }));
    const echo = await frame(frames, (f) => f.type === "response");
    assert.deepEqual(echo.data, { hello: 1 });
    // An async action: the stream batch goes through the Invoke API too,
    // and the function's pushes reach the gateway's @connections.
    ws.send(JSON.stringify({ action: "process_data", payload: { items: [1, 2, 3] } }));
    const ack = await frame(frames, (f) => f.type === "acknowledgment");
    const done = await frame(frames, (f) => f.type === "complete" && f.request_id === ack.request_id, 30000);
    assert.ok(done.result, JSON.stringify(done));
    assert.ok(frames.some((f) => f.type === "progress" && f.percentage === 100));

    // A function error (X-Amz-Function-Error) is API Gateway's
    // "Internal server error" frame to the client.
    lambda.intercept = (ev) => ev?.body?.includes("crash-me")
      ? { headers: { "X-Amz-Function-Error": "Unhandled" },
          body: '{"errorType":"Runtime.ExitError","errorMessage":"boom"}' }
      : null;
    ws.send(JSON.stringify({ action: "echo", payload: { note: "crash-me" } }));
    const ise = await frame(frames, (f) => f.message === "Internal server error");
    assert.ok(ise.connectionId);
    // ... and on $connect it refuses the upgrade.
    lambda.intercept = (ev) => ev?.requestContext?.eventType === "CONNECT"
      ? { headers: { "X-Amz-Function-Error": "Unhandled" }, body: '{"errorType":"x","errorMessage":"y"}' }
      : null;
    await assert.rejects(open(`${gw.url}?Authorization=${devToken()}`), /HTTP 500/);
    lambda.intercept = () => null;
    // A token the function refuses is its 401, through the Invoke API.
    await assert.rejects(open(`${gw.url}?Authorization=${strangerToken()}`), /HTTP 401/);

    ws.close();
    await sleep(300); // the $disconnect event
    const kinds = lambda.calls.map((c) => c.event).map((e) => {
      const j = JSON.parse(e);
      return j.Records ? "STREAM" : j.requestContext.eventType;
    });
    for (const k of ["CONNECT", "MESSAGE", "STREAM", "DISCONNECT"])
      assert.ok(kinds.includes(k), `no ${k} event in ${kinds}`);
    for (const c of lambda.calls) {
      assert.equal(c.fn, "StreamerFunction");
      assert.equal(c.headers["x-amz-invocation-type"], "RequestResponse");
      assert.match(c.headers.authorization, /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/us-east-1\/lambda\/aws4_request, SignedHeaders=[^ ]*host[^ ]*, Signature=[0-9a-f]{64}$/);
    }
  } finally {
    await boot?.stop();
    const status = await gw?.stop();
    await lambda.stop();
    await rapi.stop();
    assert.equal(status ?? 0, 0, "the gateway did not stop cleanly");
  }
});

test("an Invoke API that does not know the function: events fail, the client is told", async () => {
  const rapi = await new RuntimeApi().start();
  const lambda = await new InvokeApi(rapi, "SomeOtherFunction").start();
  let gw;
  try {
    gw = await startGateway({ ddb, lambdaEndpoint: lambda.url, name: "gateway-404" });
    await assert.rejects(open(`${gw.url}?Authorization=${devToken()}`), /HTTP 500/);
    // The one $connect was tried once. (The gateway's stream poller may
    // also hand over records the earlier tests left in the shared tables.)
    const kinds = lambda.calls.map((c) => {
      const j = JSON.parse(c.event);
      return j.Records ? "STREAM" : j.requestContext?.eventType;
    });
    assert.equal(kinds.filter((k) => k === "CONNECT").length, 1, `calls: ${kinds}`);
    assert.match(gw.log(), /HTTP 404/);
  } finally {
    const status = await gw?.stop();
    await lambda.stop();
    await rapi.stop();
    assert.equal(status ?? 0, 0);
  }
});
