// The Node.js 20 + AWS SDK v3 peer of Streamer, for `make bench`.
//
// Written the way AWS's WebSocket sample (simple-websockets-chat-app)
// writes its handlers: module-level SDK clients, a DynamoDB document
// client, one exported async handler per route (here one handler that
// dispatches on the event's shape, as Streamer's single function does).
// Each event does the same store work as Streamer's handler for it, call
// for call (bench/results.md, "Method"): the point is to compare the
// runtimes, not the amount of work.

import { createPublicKey, randomUUID, verify } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { unmarshall } from "@aws-sdk/util-dynamodb";

const {
  CONNECTIONS_TABLE = "streamer_connections",
  REQUESTS_TABLE = "streamer_requests",
  SUBSCRIPTIONS_TABLE = "streamer_subscriptions",
  JWT_PUBLIC_KEY,
  WEBSOCKET_ENDPOINT,
  AWS_ENDPOINT_URL_DYNAMODB,
} = process.env;

const ddb = DynamoDBDocumentClient.from(
  new DynamoDBClient(
    AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: AWS_ENDPOINT_URL_DYNAMODB } : {},
  ),
  { marshallOptions: { removeUndefinedValues: true } },
);
const publicKey = JWT_PUBLIC_KEY ? createPublicKey(JWT_PUBLIC_KEY) : null;
const mgmtClients = new Map();

const LEEWAY_S = 60;
const CONN_TTL_S = 24 * 3600;
const REQ_TTL_S = 7 * 24 * 3600;
const PUSH_INTERVAL_MS = 200;
const ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const ACTION_RE = /^[A-Za-z0-9._-]{1,64}$/;

const now = () => new Date().toISOString();
const ttl = (s) => Math.floor(Date.now() / 1000) + s;

// ---- JWT (RS256, RFC 7519 / 7515), the checks Streamer's jwt.c makes.

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

function verifyToken(token) {
  if (!publicKey || typeof token !== "string" || token.length > 8192)
    return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const header = b64urlJson(parts[0]);
    if (header.alg !== "RS256") return null;
    const ok = verify(
      "RSA-SHA256",
      Buffer.from(`${parts[0]}.${parts[1]}`),
      publicKey,
      Buffer.from(parts[2], "base64url"),
    );
    if (!ok) return null;
    const c = b64urlJson(parts[1]);
    const t = Math.floor(Date.now() / 1000);
    if (typeof c.exp !== "number" || t > c.exp + LEEWAY_S) return null;
    if (typeof c.nbf === "number" && t + LEEWAY_S < c.nbf) return null;
    if (typeof c.iat === "number" && c.iat > t + LEEWAY_S) return null;
    const good = (s) => typeof s === "string" && s.length >= 1 && s.length <= 128;
    if (!good(c.sub) || !good(c.tenant_id)) return null;
    return { userId: c.sub, tenantId: c.tenant_id };
  } catch {
    return null;
  }
}

// ---- $connect: verify the token, PutItem the connection.

async function onConnect(event) {
  const q = event.queryStringParameters || {};
  const h = event.headers || {};
  let token = q.Authorization || q.token;
  if (!token && /^Bearer /i.test(h.Authorization || "")) token = h.Authorization.slice(7);
  const who = verifyToken(token);
  if (!who)
    return { statusCode: 401, body: JSON.stringify({ error: "Unauthorized", code: "UNAUTHORIZED" }) };
  const ctx = event.requestContext;
  const at = now();
  const metadata = {};
  if (h["User-Agent"] || ctx.identity?.userAgent)
    metadata.user_agent = h["User-Agent"] || ctx.identity.userAgent;
  if (ctx.identity?.sourceIp) metadata.source_ip = ctx.identity.sourceIp;
  try {
    await ddb.send(
      new PutCommand({
        TableName: CONNECTIONS_TABLE,
        Item: {
          pk: `CONN#${ctx.connectionId}`,
          sk: "METADATA",
          connection_id: ctx.connectionId,
          user_id: who.userId,
          tenant_id: who.tenantId,
          endpoint: `${ctx.domainName}/${ctx.stage}`,
          connected_at: ctx.connectedAt ? new Date(ctx.connectedAt).toISOString() : at,
          last_ping: at,
          metadata,
          created_at: at,
          updated_at: at,
          version: 1,
          ttl: ttl(CONN_TTL_S),
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  } catch (err) {
    console.error("saving the connection failed", err);
    return { statusCode: 500 };
  }
  return { statusCode: 200 };
}

// ---- $default: parse, look up the sender, echo or enqueue.

const errorReply = (id, code, message) =>
  ({ type: "error", ...(id ? { request_id: id } : {}), error: { code, message } });

function validateProcessData(payload) {
  const items = payload.items;
  if (!Array.isArray(items) || items.length === 0)
    return "payload.items must be a non-empty array";
  if (items.some((v) => typeof v !== "number" || !Number.isFinite(v)))
    return "payload.items holds something that is not a finite number";
  return null;
}

async function route(event) {
  let msg;
  try {
    msg = JSON.parse(event.body);
  } catch {
    return errorReply(null, "INVALID_MESSAGE", "message must be a JSON object");
  }
  if (!msg || typeof msg !== "object" || Array.isArray(msg))
    return errorReply(null, "INVALID_MESSAGE", "message must be a JSON object");
  const { action, id, payload = {} } = msg;
  if (id !== undefined && (typeof id !== "string" || !ID_RE.test(id)))
    return errorReply(null, "VALIDATION_ERROR", "id must be 1-128 of A-Z a-z 0-9 . _ : -");
  if (typeof action !== "string" || !ACTION_RE.test(action))
    return errorReply(id, "INVALID_ACTION", "action must be 1-64 of A-Z a-z 0-9 . _ -");
  if (typeof payload !== "object" || Array.isArray(payload))
    return errorReply(id, "VALIDATION_ERROR", "payload must be an object");
  const requestId = id || randomUUID();
  const connectionId = event.requestContext.connectionId;
  const { Item: conn } = await ddb.send(
    new GetCommand({
      TableName: CONNECTIONS_TABLE,
      Key: { pk: `CONN#${connectionId}`, sk: "METADATA" },
      ConsistentRead: true,
    }),
  );
  if (!conn) return errorReply(id, "UNAUTHORIZED", "connection is not registered");
  if (action === "echo")
    return { type: "response", request_id: requestId, success: true, data: payload };
  if (action !== "process_data") return errorReply(id, "INVALID_ACTION", "unknown action");
  const invalid = validateProcessData(payload);
  if (invalid) return errorReply(id, "VALIDATION_ERROR", invalid);
  const at = now();
  const key = requestKey(conn.tenant_id, conn.user_id, requestId);
  // The request and the sender's subscription: one transaction.
  try {
    await ddb.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: REQUESTS_TABLE,
              Item: {
                pk: `REQ#${key}`,
                sk: "METADATA",
                request_id: requestId,
                connection_id: connectionId,
                user_id: conn.user_id,
                tenant_id: conn.tenant_id,
                action,
                payload,
                status: "PENDING",
                progress: 0,
                retry_count: 0,
                max_retries: 3,
                created_at: at,
                updated_at: at,
                version: 1,
                ttl: ttl(REQ_TTL_S),
              },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: SUBSCRIPTIONS_TABLE,
              Item: {
                pk: `CONN#${connectionId}`,
                sk: `SUB#${key}`,
                subscription_id: `${connectionId}#${key}`,
                connection_id: connectionId,
                request_id: requestId,
                tenant_id: conn.tenant_id,
                user_id: conn.user_id,
                request_key: key,
                event_types: new Set(["progress", "complete", "error"]),
                created_at: at,
                updated_at: at,
                version: 1,
                ttl: ttl(CONN_TTL_S),
              },
            },
          },
        ],
        ClientRequestToken: randomUUID(),
      }),
    );
  } catch (err) {
    if (
      err.name === "TransactionCanceledException" &&
      err.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed"
    )
      return errorReply(id, "DUPLICATE_REQUEST", "a request with this id exists");
    throw err;
  }
  return { type: "acknowledgment", request_id: requestId, status: "queued" };
}

// Request ids are unique per user: "<tenant>#<user>#<id>", '%' and '#'
// escaped in the tenant and user (Streamer's store_request_key).
const esc = (s) => s.replace(/%/g, "%25").replace(/#/g, "%23");
const requestKey = (tenant, user, id) => `${esc(tenant)}#${esc(user)}#${id}`;

async function onMessage(event) {
  let reply;
  try {
    reply = await route(event);
  } catch (err) {
    console.error("store call failed", err);
    reply = errorReply(null, "INTERNAL_ERROR", "internal error");
  }
  return { statusCode: 200, body: JSON.stringify(reply) };
}

// ---- Stream records: claim, run process_data with progress, complete.

function mgmtFor(endpoint) {
  const url = WEBSOCKET_ENDPOINT || `https://${endpoint}`;
  let c = mgmtClients.get(url);
  if (!c) {
    c = new ApiGatewayManagementApiClient({ endpoint: url });
    mgmtClients.set(url, c);
  }
  return c;
}

// One conditional UpdateItem: status, updated_at, version + the extra SET.
async function transition(job, to, set = "", values = {}, names = {}) {
  const at = now();
  await ddb.send(
    new UpdateCommand({
      TableName: REQUESTS_TABLE,
      Key: {
        pk: `REQ#${requestKey(job.req.tenant_id, job.req.user_id, job.req.request_id)}`,
        sk: "METADATA",
      },
      UpdateExpression:
        "SET #status = :to, updated_at = :now, version = version + :one" +
        (set ? `, ${set}` : ""),
      ConditionExpression: "#status = :from AND version = :v",
      ExpressionAttributeNames: { "#status": "status", ...names },
      ExpressionAttributeValues: {
        ":from": job.req.status,
        ":to": to,
        ":v": job.req.version,
        ":one": 1,
        ":now": at,
        ...values,
      },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    }),
  );
  job.req.status = to;
  job.req.version += 1;
}

// Reloads the subscribers, then pushes `message` to those of `type`, all
// at once (Promise.all): each subscriber's connection is read and posted
// to concurrently, as a Node team would write a fan-out.
async function notify(job, type, message) {
  const { Items = [] } = await ddb.send(
    new QueryCommand({
      TableName: SUBSCRIPTIONS_TABLE,
      IndexName: "request-index",
      KeyConditionExpression: "request_key = :r",
      ExpressionAttributeValues: {
        ":r": requestKey(job.req.tenant_id, job.req.user_id, job.req.request_id),
      },
    }),
  );
  const data = JSON.stringify(message);
  await Promise.all(
    Items.map(async (sub) => {
      if (!sub.event_types || !sub.event_types.has(type)) return;
      let endpoint = job.endpoints.get(sub.connection_id);
      if (endpoint === undefined) {
        const { Item } = await ddb.send(
          new GetCommand({
            TableName: CONNECTIONS_TABLE,
            Key: { pk: `CONN#${sub.connection_id}`, sk: "METADATA" },
            ConsistentRead: true,
          }),
        );
        if (!Item) return;
        endpoint = Item.endpoint;
        job.endpoints.set(sub.connection_id, endpoint);
      }
      try {
        await mgmtFor(endpoint).send(
          new PostToConnectionCommand({
            ConnectionId: sub.connection_id,
            Data: data,
          }),
        );
      } catch (err) {
        if (err.name !== "GoneException") console.warn("push failed", err);
      }
    }),
  );
}

async function runProcessData(job) {
  const items = job.req.payload.items;
  const n = items.length;
  const chunk = Math.max(1, Math.floor(n / 10));
  let sum = 0, min = 0, max = 0, done = 0;
  for (const x of items) {
    min = done === 0 || x < min ? x : min;
    max = done === 0 || x > max ? x : max;
    sum += x;
    done += 1;
    if (done % chunk === 0 || done === n) {
      const percentage = Math.floor((done * 100) / n);
      const message = `processed ${done} of ${n} items`;
      await transition(job, "PROCESSING",
        "progress = :p, progress_message = :m, progress_details = :d",
        { ":p": percentage, ":m": message, ":d": null });
      const t = Date.now();
      if (percentage === 100 || job.lastPush === 0 || t - job.lastPush >= PUSH_INTERVAL_MS) {
        job.lastPush = t;
        await notify(job, "progress", {
          type: "progress", request_id: job.req.request_id, percentage,
          message, timestamp: new Date(t).toISOString(),
        });
      }
    }
  }
  return { count: n, sum, min, max, mean: sum / n };
}

async function processRecord(record) {
  if (!["INSERT", "MODIFY"].includes(record.eventName) || !record.dynamodb?.NewImage) return;
  const req = unmarshall(record.dynamodb.NewImage);
  if (req.status !== "PENDING") return;
  const job = { req, endpoints: new Map(), lastPush: 0 };
  try {
    await transition(job, "PROCESSING", "processing_started = :now");
  } catch (err) {
    if (err.name === "ConditionalCheckFailedException") return; // claimed elsewhere
    throw err;
  }
  const result = await runProcessData(job);
  await transition(job, "COMPLETED",
    "#result = :r, progress = :hundred, processing_ended = :now",
    { ":r": result, ":hundred": 100 }, { "#result": "result" });
  await notify(job, "complete", {
    type: "complete", request_id: req.request_id, result, timestamp: now(),
  });
}

async function onStream(event) {
  const batchItemFailures = [];
  for (const record of event.Records) {
    try {
      await processRecord(record);
    } catch (err) {
      console.warn("stream record failed; Lambda will retry it", err);
      batchItemFailures.push({ itemIdentifier: record.dynamodb?.SequenceNumber });
    }
  }
  return { batchItemFailures };
}

// ---- One function, dispatching on the event's shape, like Streamer's.

export const handler = async (event) => {
  if (Array.isArray(event.Records)) return onStream(event);
  switch (event.requestContext?.routeKey) {
    case "$connect":
      return onConnect(event);
    case "$disconnect":
      return { statusCode: 200 };
    default:
      return onMessage(event);
  }
};
