// 1. The published reference client (@openclaw/gateway-client) against clawgate,
//    used exactly as its README quickstart shows: GatewayClient + token, start(),
//    wait for onHelloOk, request(), onEvent, stop().
//
// With no deviceIdentity/hostDeps the client connects device-less as
// client.id "gateway-client", mode "backend", role "operator",
// scopes ["operator.admin"], caps [], protocol 4..4, auth {token}.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setLabel } from "../lib/recorder.mjs";
import { GatewayClient, isGatewayProtocolResponseError } from "@openclaw/gateway-client";
import { PROTOCOL_VERSION } from "@openclaw/gateway-protocol/version";
import { startGateway, TICK_INTERVAL_MS } from "../lib/gateway.mjs";
import { Log, isPlainObject, registerFrameConformanceTest } from "../lib/conformance.mjs";

const IMPLEMENTED_METHODS = [
  "health", "status", "system-presence", "system-event", "last-heartbeat", "logs.tail",
  "channels.status", "channels.restart", "channels.pairing.list", "channels.pairing.approve", "send",
];
const EMITTED_EVENTS = ["connect.challenge", "tick", "presence", "health", "shutdown"];

let gw;
let client;
let hello;
const events = new Log();
const closes = new Log();
const gaps = [];
const connectErrors = [];

before(async () => {
  gw = await startGateway();
});

after(async () => {
  client?.stop();
  await gw?.stop();
});

test("reference client connects with the shared token and gets hello-ok", async () => {
  setLabel("reference client");
  let resolveHello;
  let rejectHello;
  const helloP = new Promise((res, rej) => {
    resolveHello = res;
    rejectHello = rej;
  });
  client = new GatewayClient({
    url: gw.url,
    token: gw.token,
    minProtocol: PROTOCOL_VERSION,
    maxProtocol: PROTOCOL_VERSION,
    onHelloOk: (h) => resolveHello(h),
    onConnectError: (err) => {
      connectErrors.push(err);
      rejectHello(err);
    },
    onEvent: (evt) => events.push(evt),
    onClose: (code, reason, info) => closes.push({ code, reason, info, atEvent: events.items.length }),
    onGap: (info) => gaps.push(info),
  });
  client.start();

  let t;
  hello = await Promise.race([
    helloP,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`no hello-ok within 10 s; closes: ${JSON.stringify(closes.items)}`)), 10_000);
    }),
  ]).finally(() => clearTimeout(t));

  assert.equal(hello.type, "hello-ok");
  assert.equal(hello.protocol, 4, "hello-ok.protocol for a 4..4 client");
  assert.equal(typeof hello.server?.version, "string");
  assert.ok(hello.server?.connId, "hello-ok.server.connId");
  assert.ok(Array.isArray(hello.features?.methods), "hello-ok.features.methods is an array");
  assert.ok(Array.isArray(hello.features?.events), "hello-ok.features.events is an array");
  for (const m of IMPLEMENTED_METHODS) assert.ok(hello.features.methods.includes(m), `features.methods lists ${m}`);
  for (const e of EMITTED_EVENTS) assert.ok(hello.features.events.includes(e), `features.events lists ${e}`);
  assert.ok(Array.isArray(hello.snapshot?.presence), "snapshot.presence is an array");
  assert.ok(isPlainObject(hello.snapshot?.health), "snapshot.health is an object");
  assert.ok(Number.isInteger(hello.snapshot?.stateVersion?.presence), "snapshot.stateVersion.presence");
  assert.ok(Number.isInteger(hello.snapshot?.stateVersion?.health), "snapshot.stateVersion.health");
  assert.ok(Number.isInteger(hello.snapshot?.uptimeMs), "snapshot.uptimeMs");
  // gateway-client/backend on loopback with the shared token keeps its scopes
  assert.equal(hello.auth?.role, "operator");
  assert.deepEqual(hello.auth?.scopes, ["operator.admin"]);
  assert.equal(hello.policy?.tickIntervalMs, TICK_INTERVAL_MS, "policy.tickIntervalMs advertises the tick interval in use");
  assert.ok(Number.isInteger(hello.policy?.maxPayload) && hello.policy.maxPayload > 0, "policy.maxPayload");
  assert.ok(Number.isInteger(hello.policy?.maxBufferedBytes) && hello.policy.maxBufferedBytes > 0, "policy.maxBufferedBytes");
  assert.deepEqual(connectErrors, []);
});

test("health: ok === true", async () => {
  const r = await client.request("health", {});
  assert.ok(isPlainObject(r), `health result is an object: ${JSON.stringify(r)}`);
  assert.equal(r.ok, true);
  assert.ok(Number.isInteger(r.ts), "health.ts is an integer");
});

test("status: an object", async () => {
  const r = await client.request("status", {});
  assert.ok(isPlainObject(r), `status result is an object: ${JSON.stringify(r)?.slice(0, 500)}`);
});

test("system-presence: an array of entries with ts", async () => {
  const r = await client.request("system-presence", {});
  assert.ok(Array.isArray(r), `system-presence result is an array: ${JSON.stringify(r)?.slice(0, 500)}`);
  for (const p of r) assert.ok(Number.isInteger(p.ts), `presence entry has integer ts: ${JSON.stringify(p)}`);
});

test("last-heartbeat: null", async () => {
  const r = await client.request("last-heartbeat", {});
  assert.equal(r, null);
});

test("logs.tail: {file, cursor, size, lines[]}", async () => {
  const r = await client.request("logs.tail", { limit: 20 });
  assert.ok(isPlainObject(r), `logs.tail result is an object: ${JSON.stringify(r)?.slice(0, 500)}`);
  assert.ok(Array.isArray(r.lines), "logs.tail lines is an array");
  for (const l of r.lines) assert.equal(typeof l, "string");
  assert.ok(r.lines.length <= 20, "logs.tail honours limit");
  assert.equal(typeof r.file, "string");
  assert.ok(Number.isInteger(r.cursor) && r.cursor >= 0, "cursor");
  assert.ok(Number.isInteger(r.size) && r.size >= 0, "size");

  // following from the returned cursor must also work
  const r2 = await client.request("logs.tail", { cursor: r.cursor });
  assert.ok(Array.isArray(r2.lines), "logs.tail from cursor: lines is an array");
});

test("system-event: returns ok and a presence event carrying the text arrives", async () => {
  const text = `conformance system event ${Date.now()}`;
  const since = events.items.length;
  const presence = events.waitFor(
    (e) => e.event === "presence" && Array.isArray(e.payload?.presence) && e.payload.presence.some((p) => p.text === text),
    `presence event with text ${JSON.stringify(text)}`,
    5000,
    since,
  );
  const r = await client.request("system-event", { text });
  assert.ok(isPlainObject(r), `system-event result: ${JSON.stringify(r)}`);
  assert.equal(r.ok, true);
  const evt = await presence;
  assert.ok(evt.stateVersion && Number.isInteger(evt.stateVersion.presence), "presence event carries stateVersion");
  assert.ok(evt.stateVersion.presence > hello.snapshot.stateVersion.presence, "stateVersion.presence increased after system-event");

  // and it is visible through system-presence afterwards
  const list = await client.request("system-presence", {});
  assert.ok(list.some((p) => p.text === text), "system-presence lists the system-event entry");
});

test("an unknown method is rejected with a gateway error, and the connection stays usable", async () => {
  await assert.rejects(client.request("no.such.method", {}), (err) => {
    assert.ok(isGatewayProtocolResponseError(err), `a gateway response error, got ${err}`);
    assert.equal(err.gatewayCode, "INVALID_REQUEST");
    return true;
  });
  const r = await client.request("health", {});
  assert.equal(r.ok, true);
});

test("tick events arrive", async () => {
  const since = events.items.length;
  const tick = await events.waitFor((e) => e.event === "tick", "a tick event", TICK_INTERVAL_MS * 6, since);
  assert.ok(Number.isInteger(tick.payload?.ts), `tick payload.ts: ${JSON.stringify(tick)}`);
  assert.ok(Number.isInteger(tick.seq), "tick carries seq");
  assert.deepEqual(gaps, [], "the client saw no sequence gaps");
  assert.deepEqual(closes.items, [], "no unexpected close so far");
});

test("SIGTERM: client sees the shutdown event, then close 1012; gateway exits 0", async () => {
  const since = events.items.length;
  const shutdown = events.waitFor((e) => e.event === "shutdown", "shutdown event", 5000, since);
  const closed = closes.waitFor(() => true, "onClose", 5000);
  const exit = gw.terminate(5000);

  const evt = await shutdown;
  assert.equal(typeof evt.payload?.reason, "string");
  assert.ok(evt.payload.reason.length > 0, "shutdown reason non-empty");
  const c = await closed;
  client.stop(); // no reconnect attempts against a stopped gateway
  assert.equal(c.code, 1012, `close code (reason ${JSON.stringify(c.reason)})`);
  assert.ok(c.atEvent > since, "the shutdown event was delivered before the close");
  assert.equal(c.info?.phase, "post-hello");

  const { code, signal } = await exit;
  assert.equal(signal, null, `gateway was killed by ${signal}; it did not exit after SIGTERM within 5 s.\n${gw.logTail()}`);
  assert.equal(code, 0, `gateway exit code after SIGTERM.\n${gw.logTail()}`);
  assert.deepEqual(gaps, [], "the client saw no sequence gaps");
});

registerFrameConformanceTest(test, "reference-client", {
  expectKinds: [
    "event:connect.challenge",
    "res:connect",
    "res:health",
    "res:status",
    "res:system-presence",
    "res:last-heartbeat",
    "res:logs.tail",
    "res:system-event",
    "event:presence",
    "event:tick",
    "event:shutdown",
  ],
});
