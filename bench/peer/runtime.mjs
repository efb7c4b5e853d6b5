// A minimal Lambda Runtime API loop for the peer, used by `make bench`
// only when aws-lambda-ric (AWS's runtime interface client) could not be
// installed: GET /next, run the handler, POST the response or error.
// Runtime API reference: "Using the Lambda runtime API for custom
// runtimes" (2018-06-01).

import http from "node:http";
import { handler } from "./index.mjs";

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const base = "/2018-06-01/runtime/invocation";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const [host, port] = api.split(":");
    const req = http.request(
      {
        host, port, method, path, agent,
        headers: body ? { "Content-Type": "application/json",
                          "Content-Length": Buffer.byteLength(body) } : {},
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ res, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

for (;;) {
  const { res, body } = await call("GET", `${base}/next`);
  if (res.statusCode !== 200) process.exit(1); // the Runtime API wants us gone
  const id = res.headers["lambda-runtime-aws-request-id"];
  try {
    const out = await handler(JSON.parse(body));
    await call("POST", `${base}/${id}/response`, JSON.stringify(out ?? null));
  } catch (err) {
    await call("POST", `${base}/${id}/error`,
      JSON.stringify({ errorType: err.name, errorMessage: err.message }));
  }
}
