// 7. The canvas host in headless Chromium. The gateway listens beyond loopback (gateway.bind "lan"),
// so a browser without the token gets in only through the capability URL that hello-ok hands a
// connection (pluginSurfaceUrls.canvas, validated with the rest of hello-ok against the published
// schema). The page opens through that URL, the test rewrites the file, and the page reloads by
// itself (the injected script's /__openclaw__/ws socket hears "reload") and shows the new content.
// The embedded A2UI renderer draws a v0.8 and a v0.9 surface. Once the connection closes, the
// capability is refused.
//
// Without a Chromium executable the file's tests fail under CI=true and are skipped otherwise.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startGateway } from "../lib/gateway.mjs";
import { RawConn, connectParams } from "../lib/raw-client.mjs";
import { setLabel } from "../lib/recorder.mjs";
import { CHROMIUM_CANDIDATES, findChromium, launchChromium } from "../lib/browser.mjs";
import { registerFrameConformanceTest } from "../lib/conformance.mjs";
import { IN_CI, announceSkip, requiredUnderCi } from "../lib/ci.mjs";

const WAIT_MS = 20_000;

const chromiumPath = findChromium();
const MISSING = chromiumPath
  ? null
  : `Chromium not found (looked at ${CHROMIUM_CANDIDATES.join(", ")}): install Debian's chromium ` +
    "(run.sh does when it runs as root) or set CLAWGATE_CHROMIUM";
const SKIP = MISSING && !IN_CI ? MISSING : false;
if (SKIP) announceSkip("canvas.test.mjs", SKIP);

let gw;
let browser;
let page;
let conn;
let capUrl; // http://127.0.0.1:<port>/__openclaw__/cap/<token>
const pageErrors = [];

const canvasFile = (name) => path.join(gw.stateDir, "canvas", name);
const livePage = (text) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>live</title></head>` +
  `<body><p id="v">${text}</p></body></html>`;

before(async () => {
  if (SKIP) return;
  if (MISSING) throw new Error(requiredUnderCi(MISSING));
  gw = await startGateway({ config: { gateway: { bind: "lan" } } });
  browser = await launchChromium(chromiumPath);
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(String(err?.stack ?? err)));
});

after(async () => {
  await conn?.close();
  if (browser) {
    let timer;
    await Promise.race([browser.close().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
  }
  await gw?.stop();
});

test("hello-ok carries a capability URL for the canvas (pluginSurfaceUrls.canvas)", { skip: SKIP }, async () => {
  setLabel("canvas: operator");
  conn = await RawConn.open(`ws://127.0.0.1:${gw.port}`);
  const res = await conn.connect(connectParams({ token: gw.token }));
  assert.equal(res.ok, true, JSON.stringify(res.error));
  capUrl = res.payload.pluginSurfaceUrls?.canvas;
  assert.match(capUrl ?? "", new RegExp(`^http://127\\.0\\.0\\.1:${gw.port}/__openclaw__/cap/[A-Za-z0-9_-]{24}$`));
  assert.equal("canvasHostUrl" in res.payload, false, "the published HelloOk has no canvasHostUrl");
});

test("without the capability (or the token) the canvas is refused", { skip: SKIP }, async () => {
  writeFileSync(canvasFile("live.html"), livePage("one"));
  const bare = await fetch(`http://127.0.0.1:${gw.port}/__openclaw__/canvas/live.html`);
  assert.equal(bare.status, 401);
  const wrong = await fetch(`http://127.0.0.1:${gw.port}/__openclaw__/cap/AAAAAAAAAAAAAAAAAAAAAAAA/__openclaw__/canvas/live.html`);
  assert.equal(wrong.status, 401);
  const withToken = await fetch(`http://127.0.0.1:${gw.port}/__openclaw__/canvas/live.html`, {
    headers: { Authorization: `Bearer ${gw.token}` },
  });
  assert.equal(withToken.status, 200);
  assert.match(withToken.headers.get("content-type") ?? "", /^text\/html/);
});

test("the page opened through the capability URL reloads with the new content after an edit", { skip: SKIP }, async () => {
  assert.ok(capUrl, "no capability URL (see the first test)");
  let loads = 0;
  page.on("load", () => loads++);
  const res = await page.goto(`${capUrl}/__openclaw__/canvas/live.html`);
  assert.equal(res?.status(), 200);
  assert.equal(await page.textContent("#v"), "one");
  // The page's reload socket is open once the gateway counts it; give it a moment, then edit.
  await page.waitForTimeout(300);
  const before = loads;
  const t0 = performance.now();
  writeFileSync(canvasFile("live.html"), livePage("two"));
  await page.waitForFunction(() => document.getElementById("v")?.textContent === "two", null, { timeout: WAIT_MS });
  const ms = performance.now() - t0;
  assert.ok(loads > before, "the new content came without a page load");
  console.log(`[canvas] file write -> reloaded page shows the new text: ${ms.toFixed(0)} ms`);
  assert.deepEqual(pageErrors, []);
});

test("the embedded A2UI renderer draws v0.8 and v0.9 surfaces", { skip: SKIP }, async () => {
  const v08 = [
    { surfaceUpdate: { surfaceId: "a", components: [
      { id: "root", component: { Column: { children: { explicitList: ["t", "u"] } } } },
      { id: "t", component: { Text: { text: { literalString: "Hello from A2UI 0.8" }, usageHint: "h1" } } },
      { id: "u", component: { Text: { text: { path: "/user/name" } } } },
    ] } },
    { dataModelUpdate: { surfaceId: "a", contents: [{ key: "user", valueMap: [{ key: "name", valueString: "عائشة 🎨" }] }] } },
    { beginRendering: { surfaceId: "a", root: "root" } },
  ];
  const v09 = [
    { version: "v0.9", createSurface: { surfaceId: "b", catalogId: "basic" } },
    { version: "v0.9", updateComponents: { surfaceId: "b", components: [
      { id: "root", component: "Card", child: "x" },
      { id: "x", component: "Text", text: "<b>v0.9</b> 中文" },
    ] } },
  ];
  const doc = (messages, bundle) =>
    `<!doctype html><html><body><script>globalThis.openclawA2UIBoot=${JSON.stringify({ messages }).replaceAll("<", "\\u003c")};</script>` +
    `<openclaw-a2ui-host></openclaw-a2ui-host><script src="../a2ui/${bundle}"></script></body></html>`;
  // Off the live page first: its reload socket would reload it over the navigation below.
  await page.goto("about:blank");
  writeFileSync(canvasFile("a2ui-08.html"), doc(v08, "a2ui.bundle.js"));
  writeFileSync(canvasFile("a2ui-09.html"), doc(v09, "a2ui-v0.9.bundle.js"));

  await page.goto(`${capUrl}/__openclaw__/canvas/a2ui-08.html`);
  await page.waitForSelector("openclaw-a2ui-host h1");
  assert.equal(await page.textContent("openclaw-a2ui-host h1"), "Hello from A2UI 0.8");
  assert.equal(await page.textContent('[data-a2ui-id="u"]'), "عائشة 🎨");

  await page.goto(`${capUrl}/__openclaw__/canvas/a2ui-09.html`);
  await page.waitForSelector('[data-a2ui-id="x"]');
  assert.equal(await page.textContent('[data-a2ui-id="x"]'), "<b>v0.9</b> 中文", "message text is text, never HTML");
  assert.equal(await page.locator("openclaw-a2ui-host b").count(), 0);
  assert.deepEqual(pageErrors, []);
});

test("the capability dies with the connection it was issued to", { skip: SKIP }, async () => {
  assert.ok(capUrl);
  await conn.close();
  let status = 0;
  for (let i = 0; i < 50 && status !== 401; i++) {
    status = (await fetch(`${capUrl}/__openclaw__/canvas/live.html`)).status;
    if (status !== 401) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 401);
});

if (!SKIP) registerFrameConformanceTest(test, "canvas", { expectKinds: ["event:connect.challenge", "res:connect"] });
