#!/usr/bin/env node
// The environment `sam local invoke` / `sam local start-lambda` gives
// StreamerFunction: template.yaml's Environment merged with an --env-vars
// file, resolved the way SAM CLI resolves it. Used by the tests to run the
// sample events with exactly that environment; run it to see it:
//
//   node scripts/sam-env.mjs [--env-vars deploy/env.local.json]
//                            [--function StreamerFunction] [--shell]
//
// What SAM CLI does (samcli/local/lambdafn/env_vars.py, and its intrinsic
// resolver for the template), and so what this does:
// - AWS_* variables SAM always sets: AWS_SAM_LOCAL=true, the function's
//   memory, timeout, handler, name (the logical id), version $LATEST, log
//   group and stream, AWS_ACCOUNT_ID 123456789012, and the region and
//   credentials of the shell's AWS configuration, or when there is none
//   the placeholders us-east-1 / defaultkey / defaultsecret (used here).
// - The function's variables: Globals.Function.Environment.Variables,
//   then the function's own (they win). Values:
//     plain scalars         -> the text (true/false for booleans)
//     !Ref <Parameter>      -> the parameter's Default (no overrides here)
//     !Ref AWS::Region      -> us-east-1; AWS::AccountId -> 123456789012;
//     AWS::Partition -> aws; AWS::URLSuffix -> amazonaws.com
//     !Ref <Resource>       -> the resource's logical id (e.g.
//                              CONNECTIONS_TABLE=ConnectionsTable: there is
//                              no table of that name, so env.local.json
//                              sets the real names)
//     !GetAtt Res.Arn       -> SAM's placeholder ARN, always in Lambda's
//                              form: arn:aws:lambda:us-east-1:123456789012:
//                              function:<FunctionName or logical id>
//     !Sub "..."            -> ${Name} and ${Res.Arn} replaced as above
//     anything else (another attribute, !Join, ...) -> "" (SAM leaves it
//                              unresolved, and an unresolved value is
//                              blanked)
// - The --env-vars file overrides only variables the template declares:
//   first its "Parameters" object (for every function), then the object
//   named by the function's logical id. A variable the template lacks is
//   ignored, which is why template.yaml declares AWS_ENDPOINT_URL_DYNAMODB
//   and WEBSOCKET_ENDPOINT (empty on AWS).
// - SAM also lets the shell's own value of a declared variable win over
//   the template's default; this resolver leaves the shell out, as if run
//   from a shell that sets none of them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const PSEUDO = {
  "AWS::Region": "us-east-1",
  "AWS::AccountId": "123456789012",
  "AWS::Partition": "aws",
  "AWS::URLSuffix": "amazonaws.com",
};

// ---- A YAML subset: block mappings, block sequences, scalars, short tags.

function lines(text) {
  const out = [];
  for (const raw of text.split("\n")) {
    if (/^\s*(#.*)?$/.test(raw)) {
      out.push(null); // kept for block scalars, skipped elsewhere
      continue;
    }
    out.push({ indent: raw.match(/^ */)[0].length, text: raw.trim(), raw });
  }
  return out;
}

function unquote(s) {
  if (s.startsWith('"') && s.endsWith('"') && s.length >= 2)
    return JSON.parse(s);
  if (s.startsWith("'") && s.endsWith("'") && s.length >= 2)
    return s.slice(1, -1).replace(/''/g, "'");
  return s;
}

// Drops a trailing " # comment" outside quotes.
function stripComment(s) {
  let q = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === "#" && (i === 0 || s[i - 1] === " ")) return s.slice(0, i).trim();
  }
  return s.trim();
}

function scalar(text) {
  const s = stripComment(text);
  const tag = s.match(/^!(Ref|Sub|GetAtt|Join|Select|If|Split|ImportValue|FindInMap|Base64|GetAZs)\s+(.*)$/);
  if (tag) {
    const arg = tag[2].trim();
    const name = tag[1] === "Ref" ? "Ref" : `Fn::${tag[1]}`;
    return { [name]: arg.startsWith("[") || arg.startsWith("{") ? { flow: arg } : unquote(arg) };
  }
  if (s.startsWith("{") || s.startsWith("[")) return { flow: s };
  if (s === "true" || s === "false") return s === "true";
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (s === "" || s === "~" || s === "null") return null;
  return unquote(s);
}

function parseBlock(ls, i, indent) {
  while (i < ls.length && !ls[i]) i++;
  if (i >= ls.length) return [null, i];
  const first = ls[i];
  if (first.text.startsWith("- ") || first.text === "-") {
    const seq = [];
    while (i < ls.length) {
      if (!ls[i]) { i++; continue; }
      const l = ls[i];
      if (l.indent !== indent || !(l.text.startsWith("- ") || l.text === "-")) break;
      // The item's content is re-read as a block one level deeper.
      const inner = l.text.slice(1).trimStart();
      const pad = l.indent + (l.text.length - inner.length);
      const copy = ls.slice();
      copy[i] = { indent: pad, text: inner, raw: " ".repeat(pad) + inner };
      if (!inner) { const [v, j] = parseBlock(ls, i + 1, nextIndent(ls, i + 1)); seq.push(v); i = j; continue; }
      if (/^[^"'{[!][^:]*:(\s|$)/.test(inner)) {
        const [v, j] = parseBlock(copy, i, pad);
        seq.push(v);
        i = j;
      } else {
        seq.push(scalar(inner));
        i++;
      }
    }
    return [seq, i];
  }
  const map = {};
  while (i < ls.length) {
    if (!ls[i]) { i++; continue; }
    const l = ls[i];
    if (l.indent < indent) break;
    if (l.indent > indent) throw new Error(`template: unexpected indent: ${l.raw}`);
    const m = l.text.match(/^("[^"]*"|'[^']*'|[^:]+?):(\s+(.*))?$/);
    if (!m) break;
    const key = unquote(m[1]);
    const rest = (m[3] || "").trim();
    i++;
    if (rest === "" || rest.startsWith("#")) {
      const ni = nextIndent(ls, i);
      const seqSame = ni === indent && ls[firstLine(ls, i)]?.text.startsWith("-");
      if (ni > indent || seqSame) {
        const [v, j] = parseBlock(ls, i, ni);
        map[key] = v;
        i = j;
      } else map[key] = null;
    } else if (/^[>|][+-]?$/.test(rest)) {
      const body = [];
      const ni = nextIndent(ls, i);
      while (i < ls.length && (!ls[i] || ls[i].indent >= ni)) {
        body.push(ls[i] ? ls[i].raw.slice(ni) : "");
        i++;
      }
      map[key] = rest[0] === ">" ? body.join(" ").trim() : body.join("\n");
    } else map[key] = scalar(rest);
  }
  return [map, i];
}

function firstLine(ls, i) {
  while (i < ls.length && !ls[i]) i++;
  return i;
}

function nextIndent(ls, i) {
  const j = firstLine(ls, i);
  return j < ls.length ? ls[j].indent : -1;
}

export function parseTemplate(text) {
  const ls = lines(text);
  return parseBlock(ls, 0, 0)[0];
}

// ---- Resolution, as SAM CLI does it.

function resolveRef(tpl, name) {
  if (name in PSEUDO) return PSEUDO[name];
  const p = tpl.Parameters?.[name];
  if (p && p.Default !== undefined && p.Default !== null) return String(p.Default);
  if (tpl.Resources?.[name]) return name;
  return null;
}

// SAM's arn_resolver: every resource's Arn in Lambda's form.
function resolveAttr(tpl, id, attr) {
  const r = tpl.Resources?.[id];
  if (!r || attr !== "Arn") return null;
  const name = r.Properties?.FunctionName;
  return `arn:aws:lambda:${PSEUDO["AWS::Region"]}:${PSEUDO["AWS::AccountId"]}:function:${typeof name === "string" ? name : id}`;
}

function resolveValue(tpl, v) {
  if (v === null || v === undefined) return "";
  if (v === true || v === false) return v ? "true" : "false";
  if (typeof v !== "object") return String(v);
  if ("Ref" in v && typeof v.Ref === "string") return resolveRef(tpl, v.Ref) ?? "";
  if ("Fn::Sub" in v && typeof v["Fn::Sub"] === "string") {
    let blank = false;
    const out = v["Fn::Sub"].replace(/\$\{([^}!]+)\}/g, (_, n) => {
      const dot = n.indexOf(".");
      const r = dot > 0 && !n.startsWith("AWS::")
        ? resolveAttr(tpl, n.slice(0, dot), n.slice(dot + 1))
        : resolveRef(tpl, n);
      if (r === null) blank = true;
      return r ?? "";
    });
    return blank ? "" : out;
  }
  if ("Fn::GetAtt" in v && typeof v["Fn::GetAtt"] === "string") {
    const [id, ...rest] = v["Fn::GetAtt"].split(".");
    return resolveAttr(tpl, id, rest.join(".")) ?? "";
  }
  return "";
}

/**
 * The environment SAM gives `fn` (a logical id) of the template text, with
 * the --env-vars object `overrides` (or null). Returns { NAME: value }.
 */
export function samEnvironment(templateText, overrides, fn = "StreamerFunction") {
  const tpl = parseTemplate(templateText);
  const res = tpl.Resources?.[fn];
  if (!res || res.Type !== "AWS::Serverless::Function")
    throw new Error(`template: no AWS::Serverless::Function named ${fn}`);
  const g = tpl.Globals?.Function || {};
  const props = res.Properties || {};
  const memory = props.MemorySize ?? g.MemorySize ?? 128;
  const timeout = props.Timeout ?? g.Timeout ?? 3;
  const env = {
    AWS_SAM_LOCAL: "true",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memory),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(timeout),
    AWS_LAMBDA_FUNCTION_HANDLER: String(props.Handler ?? g.Handler ?? ""),
    AWS_LAMBDA_FUNCTION_NAME: fn,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_LOG_GROUP_NAME: `aws/lambda/${fn}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "$LATEST",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "defaultkey",
    AWS_SECRET_ACCESS_KEY: "defaultsecret",
    AWS_ACCOUNT_ID: "123456789012",
  };
  const declared = {
    ...(g.Environment?.Variables || {}),
    ...(props.Environment?.Variables || {}),
  };
  const over = { ...(overrides?.Parameters || {}), ...(overrides?.[fn] || {}) };
  for (const [name, value] of Object.entries(declared)) {
    const v = name in over ? over[name] : value;
    env[name] = name in over ? stringify(v) : resolveValue(tpl, v);
  }
  return env;
}

// SAM's _stringify_value for an override value.
function stringify(v) {
  if (v === null || typeof v === "object") return "";
  if (v === true || v === false) return v ? "true" : "false";
  return String(v);
}

/** The same, reading the files. */
export function samEnvironmentFromFiles(templatePath, envVarsPath, fn) {
  const overrides = envVarsPath ? JSON.parse(readFileSync(envVarsPath, "utf8")) : null;
  return samEnvironment(readFileSync(templatePath, "utf8"), overrides, fn);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const args = process.argv.slice(2);
  let envVars = null, fn = "StreamerFunction", shell = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--env-vars") envVars = args[++i];
    else if (args[i] === "--function") fn = args[++i];
    else if (args[i] === "--shell") shell = true;
    else {
      console.error("usage: sam-env.mjs [--env-vars FILE] [--function ID] [--shell]");
      process.exit(2);
    }
  }
  const env = samEnvironmentFromFiles(path.join(root, "template.yaml"), envVars, fn);
  if (shell)
    for (const [k, v] of Object.entries(env))
      console.log(`${k}='${v.replace(/'/g, "'\\''")}'`);
  else console.log(JSON.stringify(env, null, 2));
}
