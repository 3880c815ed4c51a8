// 2. Schema conformance: drive clawgate over raw `ws` through every implemented
//    method, event and the common error paths, record every frame it sends, and
//    validate each one against protocol.schema.json (GatewayFrame, HelloOk,
//    ErrorShape, LogsTailResult, PresenceEntry, Snapshot.health, TickEvent,
//    ShutdownEvent, ...). The last test in this file does the validation and
//    prints ajv errors plus the offending frame on failure.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setLabel } from "../lib/recorder.mjs";
import { startGateway, TICK_INTERVAL_MS } from "../lib/gateway.mjs";
import { RawConn, connectParams } from "../lib/raw-client.mjs";
import { registerFrameConformanceTest } from "../lib/conformance.mjs";

let gw;
let admin; // cli/cli, operator.admin, stays open until the shutdown test
const opened = [];

before(async () => {
  gw = await startGateway();
});

after(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await gw?.stop();
});

async function open(label) {
  setLabel(label);
  const c = await RawConn.open(gw.url);
  opened.push(c);
  return c;
}

function assertOk(res, what) {
  assert.equal(res.ok, true, `${what} failed: ${JSON.stringify(res.error ?? res)}`);
  return res.payload;
}

test("cli/cli admin connection: every implemented method", async () => {
  admin = await open("schema cli admin");
  const hello = assertOk(await admin.connect(connectParams({ token: gw.token })), "connect");
  assert.equal(hello.type, "hello-ok");

  assertOk(await admin.request("health", {}), "health");
  assertOk(await admin.request("health"), "health without params");
  assertOk(await admin.request("status", {}), "status");
  assertOk(await admin.request("system-presence", {}), "system-presence");
  assertOk(await admin.request("last-heartbeat", {}), "last-heartbeat");
  assertOk(await admin.request("logs.tail", {}), "logs.tail {}");
  const tail = assertOk(await admin.request("logs.tail", { limit: 3 }), "logs.tail {limit:3}");
  assertOk(await admin.request("logs.tail", { cursor: tail.cursor, maxBytes: 4096 }), "logs.tail {cursor,maxBytes}");
  const channels = assertOk(await admin.request("channels.status", {}), "channels.status");
  assert.deepEqual(channels.channelOrder, [], "no channels configured");
  assertOk(await admin.request("channels.pairing.list", {}), "channels.pairing.list");
  assertOk(await admin.request("config.get", {}), "config.get");
  assertOk(await admin.request("config.schema", {}), "config.schema");
  // With no channel configured, send is refused (upstream's wording) and nothing is queued.
  const send = await admin.request("send", { to: "42", message: "hi", idempotencyKey: `k-${Date.now()}` });
  assert.equal(send.ok, false);
  assert.equal(send.error.code, "INVALID_REQUEST");
  assert.match(send.error.message, /Channel is required/);
  const restart = await admin.request("channels.restart", { channel: "telegram" });
  assert.equal(restart.ok, false, "no telegram worker here");
  for (const method of ["channels.stop", "channels.start", "channels.logout"]) {
    const res = await admin.request(method, { channel: "telegram", accountId: "default" });
    assert.equal(res.ok, false, `${method}: no telegram account here`);
    assert.equal(res.error.code, "INVALID_REQUEST");
  }

  const text = `schema conformance ${Date.now()}`;
  const presence = admin.waitEvent("presence", 5000, (f) => f.payload?.presence?.some?.((p) => p.text === text));
  assertOk(await admin.request("system-event", { text }), "system-event");
  await presence;
  assertOk(await admin.request("system-presence", {}), "system-presence after system-event");
});

test("agent runs (offline agent): two agent res frames, agent and chat events, sessions, cron", async () => {
  const runId = `conf-${Date.now()}`;
  const finalChat = admin.waitEvent("chat", 15000, (f) => f.payload?.runId === runId && f.payload?.state === "final");
  const accepted = await admin.request("agent", { message: "hello from conformance", idempotencyKey: runId });
  assert.equal(assertOk(accepted, "agent").status, "accepted");
  // The second res frame carries the same id.
  const second = await admin.waitFor(
    (f) => f.type === "res" && f.id === accepted.id && f.payload?.status !== "accepted",
    "second agent res",
    15000,
  );
  assert.equal(second.ok, true, JSON.stringify(second));
  assert.equal(second.payload.status, "ok");
  await finalChat;
  const wait = assertOk(await admin.request("agent.wait", { runId }), "agent.wait");
  assert.equal(wait.status, "ok");

  const chatRun = `chat-${Date.now()}`;
  const chatFinal = admin.waitEvent("chat", 15000, (f) => f.payload?.runId === chatRun && f.payload?.state === "final");
  assert.equal(assertOk(await admin.request("chat.send", { sessionKey: "main", message: "hi", idempotencyKey: chatRun }), "chat.send").status, "started");
  await chatFinal;
  const history = assertOk(await admin.request("chat.history", { sessionKey: "main" }), "chat.history");
  assert.ok(history.messages.length >= 4, "both runs are in the main session");
  assertOk(await admin.request("chat.abort", { sessionKey: "main" }), "chat.abort");
  assertOk(await admin.request("sessions.list", {}), "sessions.list");
  assertOk(await admin.request("sessions.preview", { keys: ["main"] }), "sessions.preview");
  const job = assertOk(
    await admin.request("cron.add", {
      name: "conformance",
      schedule: { kind: "every", everyMs: 3600000 },
      sessionTarget: "main",
      wakeMode: "next-heartbeat",
      payload: { kind: "systemEvent", text: "hourly" },
    }),
    "cron.add",
  );
  assert.ok(assertOk(await admin.request("cron.list", {}), "cron.list").jobs.some((j) => j.id === job.id));
  assertOk(await admin.request("cron.runs", { id: job.id }), "cron.runs");
  assertOk(await admin.request("cron.remove", { id: job.id }), "cron.remove");
});

test("ticks (and any health broadcast) on the admin connection", async () => {
  const before = admin.frames.length;
  await admin.waitFor(
    (f) => f.type === "event" && f.event === "tick" && admin.frames.indexOf(f) >= before,
    "tick",
    TICK_INTERVAL_MS * 6,
  );
});

test("a second observer connection sees the presence broadcast of another client's system-event", async () => {
  const observer = await open("schema observer");
  assertOk(await observer.connect(connectParams({ token: gw.token, clientId: "gateway-client", mode: "backend" })), "connect");
  const text = `broadcast ${Date.now()}`;
  const seen = observer.waitEvent("presence", 5000, (f) => f.payload?.presence?.some?.((p) => p.text === text));
  assertOk(await admin.request("system-event", { text }), "system-event");
  await seen;
  await observer.close();
});

test("error frames: unknown method, invalid params (connection stays open)", async () => {
  const unknown = await admin.request("no.such.method", {});
  assert.equal(unknown.ok, false);
  assert.equal(unknown.error?.code, "INVALID_REQUEST");

  const missingText = await admin.request("system-event", {});
  assert.equal(missingText.ok, false, `system-event {} must fail: ${JSON.stringify(missingText)}`);
  assert.equal(missingText.error?.code, "INVALID_REQUEST");

  const badType = await admin.request("system-event", { text: 123 });
  assert.equal(badType.ok, false, `system-event {text:123} must fail: ${JSON.stringify(badType)}`);

  const badLimit = await admin.request("logs.tail", { limit: 0 });
  assert.equal(badLimit.ok, false, `logs.tail {limit:0} must fail: ${JSON.stringify(badLimit)}`);

  assertOk(await admin.request("health", {}), "health after errors");
});

test("device-less test/test client: scopes [] and admin-only system-event is refused", async () => {
  const c = await open("schema test/test no scopes");
  const hello = assertOk(
    await c.connect(connectParams({ token: gw.token, clientId: "test", mode: "test", scopes: ["operator.admin"] })),
    "connect",
  );
  assert.deepEqual(hello.auth?.scopes, [], "device-less test/test client gets scopes []");
  const r = await c.request("system-event", { text: "should be refused" });
  assert.equal(r.ok, false, `system-event without operator.admin must fail: ${JSON.stringify(r)}`);
  await c.close();
});

test("first frame not connect: error res, then close 1008", async () => {
  const c = await open("schema first-frame-not-connect");
  await c.challenge();
  const r = await c.request("health", {});
  assert.equal(r.ok, false);
  assert.equal(r.error?.code, "INVALID_REQUEST");
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1008);
});

test("wrong token: error res, then close 1008", async () => {
  const c = await open("schema wrong token");
  const r = await c.connect(connectParams({ token: `${gw.token}-wrong` }));
  assert.equal(r.ok, false);
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1008);
});

test("protocol mismatch: error res, then close 1002", async () => {
  const c = await open("schema protocol mismatch");
  const r = await c.connect(connectParams({ token: gw.token, minProtocol: 5, maxProtocol: 6 }));
  assert.equal(r.ok, false);
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1002);
});

test("SIGTERM: shutdown event then close 1012 on an open connection", async () => {
  const shutdown = admin.waitEvent("shutdown", 5000);
  const exit = gw.terminate(5000);
  await shutdown;
  const closed = await admin.waitClosed();
  assert.equal(closed.code, 1012);
  const { code, signal } = await exit;
  assert.equal(signal, null, `gateway did not exit on SIGTERM within 5 s\n${gw.logTail()}`);
  assert.equal(code, 0, `gateway exit code\n${gw.logTail()}`);
});

registerFrameConformanceTest(test, "schema-conformance", {
  expectKinds: [
    "event:connect.challenge",
    "res:connect",
    "res:connect:error",
    "res:health",
    "res:status",
    "res:system-presence",
    "res:last-heartbeat",
    "res:logs.tail",
    "res:logs.tail:error",
    "res:system-event",
    "res:system-event:error",
    "res:no.such.method:error",
    "event:presence",
    "event:tick",
    "event:shutdown",
  ],
});
