// 1. The published reference client (@openclaw/gateway-client) against clawgate,
//    used exactly as its README quickstart shows: GatewayClient + token, start(),
//    wait for onHelloOk, request(), onEvent, stop().
//
// With no deviceIdentity/hostDeps the client connects device-less as
// client.id "gateway-client", mode "backend", role "operator",
// scopes ["operator.admin"], caps [], protocol 4..4, auth {token}.
//
// The gateway's default model is the fake OpenAI-compatible server
// (tests/emulators/models/fake_models.py), so the client also drives agent runs
// (`agent` with expectFinal: both res frames), chat.send/history/abort,
// sessions.* and cron.*, and receives agent, chat and cron events. The last
// test validates every frame the gateway sent against the published schema.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setLabel } from "../lib/recorder.mjs";
import { GatewayClient, isGatewayProtocolResponseError } from "@openclaw/gateway-client";
import { PROTOCOL_VERSION } from "@openclaw/gateway-protocol/version";
import { startGateway, TICK_INTERVAL_MS } from "../lib/gateway.mjs";
import { startFakeModels } from "../lib/fake-models.mjs";
import { Log, isPlainObject, registerFrameConformanceTest } from "../lib/conformance.mjs";

const IMPLEMENTED_METHODS = [
  "health", "status", "system-presence", "system-event", "last-heartbeat", "logs.tail",
  "channels.status", "channels.restart", "channels.stop", "channels.start", "channels.logout",
  "channels.pairing.list", "channels.pairing.approve", "send",
  "agent", "agent.wait", "chat.send", "chat.history", "chat.abort",
  "sessions.list", "sessions.preview", "sessions.patch", "sessions.reset", "sessions.delete",
  "sessions.compact", "cron.list", "cron.add", "cron.update", "cron.remove", "cron.run", "cron.runs",
  "config.get", "config.schema",
];
const EMITTED_EVENTS = ["connect.challenge", "tick", "presence", "health", "shutdown", "agent", "chat", "cron"];
// The fake model answers "Hello from the fake model. You said: <message>", 4 characters every
// 30 ms (about half a second), so the gateway (one chat delta per 150 ms) streams partial text.
const FAKE_SCRIPT = { chunk_chars: 4, delay_ms: 30 };
const answerTo = (message) => `Hello from the fake model. You said: ${message}`;
const RUN_WAIT_MS = 20_000;

let fake;
let gw;
let client;
let hello;
const events = new Log();
const closes = new Log();
const gaps = [];
const connectErrors = [];

before(async () => {
  fake = await startFakeModels();
  await fake.script(FAKE_SCRIPT);
  gw = await startGateway({
    config: {
      agents: { defaults: { model: "fake/fake-model" } },
      models: {
        providers: { fake: { baseUrl: `${fake.url}/v1`, apiKey: "test-key", api: "openai-completions" } },
      },
    },
  });
});

after(async () => {
  client?.stop();
  await gw?.stop();
  await fake?.stop();
});

/** Payloads of `name` events for runId, from index `since` of the event log. */
function runEvents(name, runId, since = 0) {
  return events.items.slice(since).filter((e) => e.event === name && e.payload?.runId === runId).map((e) => e.payload);
}

/** Waits for the chat event that ends runId (final, aborted or error). */
function chatEnd(runId, since) {
  return events.waitFor(
    (e) => e.event === "chat" && e.payload?.runId === runId && e.payload?.state !== "delta",
    `the chat event ending run ${runId}`,
    RUN_WAIT_MS,
    since,
  );
}

/** Chat deltas carry the whole text so far: each one a prefix of the next and of the final. */
function assertCumulativeDeltas(chat, finalText) {
  const deltas = chat.filter((p) => p.state === "delta");
  let last = "";
  for (const d of deltas) {
    const text = d.message?.content?.[0]?.text;
    assert.equal(typeof text, "string", `delta without text: ${JSON.stringify(d)}`);
    assert.ok(text.startsWith(last), `delta ${JSON.stringify(text)} does not extend ${JSON.stringify(last)}`);
    assert.equal(d.deltaText, text.slice(last.length), "deltaText is what the delta added");
    last = text;
  }
  assert.ok(finalText.startsWith(last), `the last delta ${JSON.stringify(last)} is not a prefix of the final`);
  return deltas.length;
}

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

// config.get: upstream publishes no result schema; these are the keys of its documented
// snapshot (a real OpenClaw answer has them all). The model key in the config is a secret.
test("config.get: the redacted snapshot, as OpenClaw answers it", async () => {
  const r = await client.request("config.get", {});
  assert.ok(isPlainObject(r), `config.get result: ${JSON.stringify(r)?.slice(0, 500)}`);
  for (const k of ["path", "exists", "raw", "parsed", "resolved", "valid", "config", "hash", "issues", "warnings", "legacyIssues"])
    assert.ok(k in r, `config.get has ${k}`);
  assert.equal(r.valid, true);
  assert.equal(r.exists, true);
  assert.equal(r.config.agents.defaults.model.primary, "fake/fake-model");
  assert.equal(r.config.models.providers.fake.apiKey, "__OPENCLAW_REDACTED__");
  assert.equal(r.parsed.models.providers.fake.apiKey, "__OPENCLAW_REDACTED__");
  assert.equal(r.config.gateway.auth.token, "__OPENCLAW_REDACTED__");
  assert.ok(!JSON.stringify(r).includes("test-key"), "the provider key never leaves");
  assert.ok(!JSON.stringify(r).includes(gw.token), "the gateway token never leaves");
  assert.match(r.hash, /^hmac-sha256:v1:/);
});

// config.schema: checked against upstream's ConfigSchemaResponse with every other frame.
test("config.schema: the JSON Schema of the config clawgate reads", async () => {
  const r = await client.request("config.schema", {});
  assert.equal(r.schema?.$schema, "http://json-schema.org/draft-07/schema#");
  assert.equal(r.schema?.properties?.gateway?.properties?.port?.default, 18789);
  assert.equal(r.uiHints?.["gateway.auth.token"]?.sensitive, true);
  assert.equal(typeof r.version, "string");
  assert.ok(!Number.isNaN(Date.parse(r.generatedAt)), `generatedAt ${r.generatedAt}`);
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

test("agent: accepted, then the final result on the same request; agent and chat events stream; agent.wait", async () => {
  const runId = `ref-agent-${Date.now()}`;
  const message = "hello from the reference client";
  const since = events.items.length;
  const accepted = [];
  const result = await client.request(
    "agent",
    { message, idempotencyKey: runId },
    { expectFinal: true, timeoutMs: RUN_WAIT_MS, onAccepted: (p) => accepted.push(p) },
  );
  assert.equal(accepted.length, 1, "exactly one 'accepted' res before the final one");
  assert.equal(accepted[0].status, "accepted");
  assert.equal(accepted[0].runId, runId);
  assert.equal(result.status, "ok", JSON.stringify(result));
  assert.equal(result.runId, runId);
  assert.equal(result.result?.payloads?.[0]?.text, answerTo(message), JSON.stringify(result));

  const chatFinal = await chatEnd(runId, since);
  assert.equal(chatFinal.payload.state, "final");
  assert.equal(chatFinal.payload.message?.content?.[0]?.text, answerTo(message));
  const agent = runEvents("agent", runId, since);
  assert.ok(agent.length >= 3, `agent events for the run: ${JSON.stringify(agent)}`);
  agent.forEach((a, i) => assert.equal(a.seq, i + 1, "agent event seq runs from 1 without gaps"));
  assert.deepEqual([agent[0].stream, agent[0].data?.phase], ["lifecycle", "start"]);
  assert.deepEqual([agent.at(-1).stream, agent.at(-1).data?.phase], ["lifecycle", "end"]);
  const assistant = agent.filter((a) => a.stream === "assistant");
  assert.ok(assistant.length > 1, "the answer streamed in several assistant events");
  assert.equal(assistant.at(-1).data?.text, answerTo(message), "the last assistant event has the whole text");
  const deltas = assertCumulativeDeltas(runEvents("chat", runId, since), answerTo(message));
  assert.ok(deltas >= 1, "at least one chat delta before the final");

  const wait = await client.request("agent.wait", { runId });
  assert.equal(wait.status, "ok");
  assert.equal(wait.runId, runId);
  // The same idempotency key again is the same run, not a second model call.
  const calls = (await fake.requests()).length;
  const again = await client.request("agent", { message, idempotencyKey: runId }, { expectFinal: true, timeoutMs: RUN_WAIT_MS });
  assert.equal(again.status, "ok");
  assert.equal((await fake.requests()).length, calls, "a repeated idempotencyKey did not call the model again");
});

test("chat.send streams into a session, chat.history has both turns, chat.abort stops a run", async () => {
  const sessionKey = "agent:main:reference";
  const message = "chat from the reference client";
  const runId = `ref-chat-${Date.now()}`;
  const since = events.items.length;
  const ended = chatEnd(runId, since);
  const sent = await client.request("chat.send", { sessionKey, message, idempotencyKey: runId });
  assert.deepEqual([sent.runId, sent.status], [runId, "started"]);
  const end = await ended;
  assert.equal(end.payload.state, "final", JSON.stringify(end.payload));
  assert.equal(end.payload.sessionKey, sessionKey);
  assert.equal(end.payload.message?.content?.[0]?.text, answerTo(message));
  assertCumulativeDeltas(runEvents("chat", runId, since), answerTo(message));

  const history = await client.request("chat.history", { sessionKey });
  assert.deepEqual(
    history.messages.map((m) => [m.role, m.content?.[0]?.text]),
    [["user", message], ["assistant", answerTo(message)]],
  );

  // A long answer, aborted once it is streaming: the run ends "aborted" and the model stream is cut.
  await fake.script({ chunk_chars: 2, delay_ms: 100 });
  try {
    const slowRun = `ref-abort-${Date.now()}`;
    const at = events.items.length;
    const firstDelta = events.waitFor(
      (e) => e.event === "chat" && e.payload?.runId === slowRun && e.payload?.state === "delta",
      `a delta of ${slowRun}`,
      RUN_WAIT_MS,
      at,
    );
    const aborted = chatEnd(slowRun, at);
    await client.request("chat.send", { sessionKey, message: "please ramble", idempotencyKey: slowRun });
    await firstDelta;
    const r = await client.request("chat.abort", { sessionKey, runId: slowRun });
    assert.equal(r.aborted, true, JSON.stringify(r));
    assert.deepEqual(r.runIds, [slowRun]);
    assert.equal((await aborted).payload.state, "aborted");
  } finally {
    await fake.script(FAKE_SCRIPT);
  }
});

test("sessions.list, preview, patch, reset and delete see the session chat.send made", async () => {
  const key = "agent:main:reference";
  const list = await client.request("sessions.list", {});
  const row = list.sessions?.find((s) => s.key === key);
  assert.ok(row, `sessions.list lists ${key}: ${JSON.stringify(list).slice(0, 800)}`);
  assert.equal(list.count, list.sessions.length);
  const preview = await client.request("sessions.preview", { keys: [key, "agent:main:nobody"] });
  assert.deepEqual(preview.previews.map((p) => p.status), ["ok", "missing"]);
  assert.ok(preview.previews[0].items.length >= 2, JSON.stringify(preview.previews[0]));
  const patched = await client.request("sessions.patch", { key, label: "Reference" });
  assert.equal(patched.entry?.label, "Reference");
  const relisted = await client.request("sessions.list", {});
  assert.equal(relisted.sessions.find((s) => s.key === key)?.label, "Reference");
  await client.request("sessions.reset", { key });
  assert.deepEqual((await client.request("chat.history", { sessionKey: key })).messages, []);
  await assert.rejects(client.request("sessions.delete", { key: "main" }), (err) => {
    assert.ok(isGatewayProtocolResponseError(err), `a gateway response error, got ${err}`);
    assert.equal(err.gatewayCode, "INVALID_REQUEST");
    return true;
  });
  const deleted = await client.request("sessions.delete", { key });
  assert.equal(deleted.deleted, true);
  assert.ok(!(await client.request("sessions.list", {})).sessions.some((s) => s.key === key), "deleted sessions are not listed");
});

test("cron: add, list, run now (agent turn, cron events), runs, update, remove", async () => {
  const since = events.items.length;
  const job = await client.request("cron.add", {
    name: "reference hourly",
    schedule: { kind: "every", everyMs: 3_600_000 },
    sessionTarget: "isolated",
    wakeMode: "now",
    payload: { kind: "agentTurn", message: "cron says hi" },
  });
  assert.equal(typeof job.id, "string");
  assert.ok(job.state?.nextRunAtMs > Date.now(), "the next run is in the future");
  assert.ok((await client.request("cron.list", {})).jobs.some((j) => j.id === job.id), "cron.list lists the job");
  await events.waitFor((e) => e.event === "cron" && e.payload?.jobId === job.id && e.payload?.action === "added", "cron added event", 5000, since);

  const finished = events.waitFor(
    (e) => e.event === "cron" && e.payload?.jobId === job.id && e.payload?.action === "finished",
    "cron finished event",
    RUN_WAIT_MS,
    since,
  );
  const ran = await client.request("cron.run", { id: job.id, mode: "force" });
  assert.equal(ran.ran, true, JSON.stringify(ran));
  const fin = await finished;
  assert.equal(fin.payload.status, "ok", JSON.stringify(fin.payload));
  const runs = await client.request("cron.runs", { id: job.id });
  assert.equal(runs.entries?.[0]?.summary, answerTo("cron says hi"), JSON.stringify(runs));

  const updated = await client.request("cron.update", { id: job.id, patch: { enabled: false } });
  assert.equal(updated.enabled, false);
  assert.ok(!(await client.request("cron.list", {})).jobs.some((j) => j.id === job.id), "a disabled job is hidden by default");
  const notRun = await client.request("cron.run", { id: job.id, mode: "if-enabled" });
  assert.equal(notRun.ran, false);
  const removed = await client.request("cron.remove", { id: job.id });
  assert.equal(removed.removed, true);
  assert.ok(!(await client.request("cron.list", { includeDisabled: true })).jobs.some((j) => j.id === job.id));
  await assert.rejects(client.request("cron.runs", { id: job.id }), (err) => isGatewayProtocolResponseError(err));
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
    "res:config.get",
    "res:config.schema",
    "res:system-event",
    "res:agent",
    "res:agent.wait",
    "res:chat.send",
    "res:chat.history",
    "res:chat.abort",
    "res:sessions.list",
    "res:sessions.preview",
    "res:sessions.patch",
    "res:sessions.reset",
    "res:sessions.delete",
    "res:sessions.delete:error",
    "res:cron.add",
    "res:cron.list",
    "res:cron.run",
    "res:cron.runs",
    "res:cron.runs:error",
    "res:cron.update",
    "res:cron.remove",
    "event:presence",
    "event:agent",
    "event:chat",
    "event:cron",
    "event:tick",
    "event:shutdown",
  ],
});
