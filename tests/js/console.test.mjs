// The browser console, in Debian's headless Chromium driven by
// playwright-core: served by the local gateway, it connects with the dev
// token, runs process_data and a big generate_dataset (its result in parts),
// and the bar reaches 100% with the result.
// A screenshot goes to build/console.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, startDynamoDB, startGateway, devToken } from "./harness.mjs";

const CHROMIUM = process.env.STREAMER_CHROMIUM || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

let ddb, gw, browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run make deps (Debian's chromium)`);
  ddb = await startDynamoDB();
  gw = await startGateway({ ddb, consoleDir: path.join(ROOT, "local/console"), name: "gateway-console" });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
});
after(async () => {
  await browser?.close();
  const status = await gw?.stop();
  await ddb?.stop();
  assert.equal(status ?? 0, 0, "the gateway did not stop cleanly");
});

test("the gateway serves the console and its module", async () => {
  const page = await fetch(`${gw.http}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Streamer console/);
  const js = await fetch(`${gw.http}/streamer.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type"), /javascript/);
  assert.match(await js.text(), /export async function connect/);
  assert.equal((await fetch(`${gw.http}/nope.html`)).status, 404);
});

test("connect with the dev token, run process_data, the bar reaches 100% with the result", async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${gw.http}/?token=${encodeURIComponent(devToken())}`);
  assert.equal(await page.inputValue("#url"), `ws://127.0.0.1:${gw.port}/prod`);
  assert.ok((await page.inputValue("#token")).length > 100, "the token is pre-filled");
  // A template per built-in and async action.
  const options = await page.$$eval("#template option", (os) => os.map((o) => o.value));
  for (const a of ["ping", "echo", "status", "cancel", "subscribe", "unsubscribe", "process_data", "generate_report"])
    assert.ok(options.includes(a), a);

  await page.click("#connect");
  await page.waitForSelector("#state.open", { timeout: 15000 });
  await page.selectOption("#template", "echo");
  await page.click("#send");
  await page.locator("#log li.in", { hasText: '"hello":"world"' }).first().waitFor({ timeout: 15000 });

  await page.selectOption("#template", "process_data");
  await page.click("#send");
  const card = page.locator(".request").first();
  await card.locator(".bar[aria-valuenow=\"100\"]").waitFor({ timeout: 30000 });
  await card.locator(".status", { hasText: "completed" }).waitFor({ timeout: 30000 });
  const result = JSON.parse(await card.locator(".result").textContent());
  assert.deepEqual(result, { count: 10, sum: 55, min: 1, max: 10, mean: 5.5 });
  assert.equal(await card.locator(".pct").textContent(), "100%");
  const width = await card.locator(".bar > div").evaluate((d) => d.style.width);
  assert.equal(width, "100%");
  // The status button asks the server.
  await card.locator("button[data-op=status]").click();
  await card.locator(".result", { hasText: "\"COMPLETED\"" }).waitFor({ timeout: 15000 });
  // Frames of every kind were logged.
  for (const t of ["acknowledgment", "progress", "complete"])
    assert.ok(await page.locator("#log li.in", { hasText: `"type":"${t}"` }).count() > 0, t);
  assert.deepEqual(errors, []);

  mkdirSync(path.join(ROOT, "build"), { recursive: true });
  const shot = path.join(ROOT, "build/console.png");
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10000);
  await page.close();
});

test("generate_dataset: a ~300 KB result in parts is shown whole; the log shortens its parts", async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${gw.http}/?token=${encodeURIComponent(devToken())}`);
  await page.click("#connect");
  await page.waitForSelector("#state.open", { timeout: 15000 });
  await page.selectOption("#template", "generate_dataset");
  assert.deepEqual(JSON.parse(await page.inputValue("#message")).payload, { rows: 7000 });
  await page.click("#send");
  const card = page.locator(".request").first();
  await card.locator(".status", { hasText: "completed" }).waitFor({ timeout: 30000 });
  const result = JSON.parse(await card.locator(".result").textContent());
  assert.equal(result.count, 7000);
  assert.equal(result.rows.length, 7000);
  assert.deepEqual(result.rows[6999], { id: 6999, label: "row-006999", value: (6999 * 7919) % 1000 });
  const parts = page.locator("#log li.in", { hasText: '"type":"result_part"' });
  assert.ok(await parts.count() > 1);
  assert.match(await parts.first().textContent(), /… \(\d+ characters\)$/);
  assert.deepEqual(errors, []);
  await page.close();
});
