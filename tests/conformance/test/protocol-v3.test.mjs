// 3. Hand-written raw-`ws` clients for protocol negotiation and auth failures.
//
// clawgate speaks protocols 3 and 4 and answers hello-ok with
// protocol = min(client maxProtocol, 4) when the ranges overlap; otherwise
// INVALID_REQUEST "protocol mismatch", details.code PROTOCOL_MISMATCH, close 1002.
// (Real OpenClaw 2026.9.6 rejects 3..3 from general clients; clawgate
// deliberately keeps protocol 3 for older apps.)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setLabel } from "../lib/recorder.mjs";
import { startGateway } from "../lib/gateway.mjs";
import { RawConn, connectParams } from "../lib/raw-client.mjs";
import { registerFrameConformanceTest } from "../lib/conformance.mjs";

let gw;
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

async function challengeFirst(c) {
  const ch = await c.challenge();
  assert.equal(c.frames[0], ch, "connect.challenge is the first frame the server sends");
  assert.equal(typeof ch.payload?.nonce, "string");
  assert.ok(ch.payload.nonce.length > 0, "challenge nonce is non-empty");
  assert.ok(Number.isInteger(ch.payload?.ts), "challenge ts is an integer");
  assert.equal(ch.seq, undefined, "connect.challenge has no seq");
  return ch;
}

for (const [clientId, mode, expectedScopes] of [
  ["openclaw-macos", "ui", []],
  ["cli", "cli", ["operator.admin"]],
]) {
  test(`protocol 3..3 as ${clientId}/${mode}: hello-ok protocol 3, health works`, async () => {
    const c = await open(`v3 ${clientId}/${mode}`);
    await challengeFirst(c);
    const res = await c.request(
      "connect",
      connectParams({ token: gw.token, clientId, mode, minProtocol: 3, maxProtocol: 3, scopes: ["operator.admin"] }),
    );
    assert.equal(res.ok, true, `connect failed: ${JSON.stringify(res.error)}`);
    assert.equal(res.payload?.type, "hello-ok");
    assert.equal(res.payload?.protocol, 3);

    const h = await c.request("health", {});
    assert.equal(h.ok, true, `health failed: ${JSON.stringify(h.error)}`);
    assert.equal(h.payload?.ok, true);

    // hello-ok.auth is required by the published (v4) HelloOk schema
    assert.ok(res.payload?.auth, `hello-ok has no auth block: ${JSON.stringify(Object.keys(res.payload ?? {}))}`);
    assert.equal(res.payload.auth.role, "operator");
    assert.deepEqual(
      res.payload.auth.scopes,
      expectedScopes,
      `scopes for a device-less ${clientId}/${mode} client on loopback with the shared token`,
    );
    await c.close();
  });
}

test("protocol 3..4: hello-ok protocol 4", async () => {
  const c = await open("v3..4 cli");
  await challengeFirst(c);
  const res = await c.request("connect", connectParams({ token: gw.token, minProtocol: 3, maxProtocol: 4 }));
  assert.equal(res.ok, true, `connect failed: ${JSON.stringify(res.error)}`);
  assert.equal(res.payload?.protocol, 4);
  const h = await c.request("health", {});
  assert.equal(h.ok, true);
  await c.close();
});

test("protocol 4..4 as openclaw-macos/ui: hello-ok protocol 4", async () => {
  const c = await open("v4 macos");
  await challengeFirst(c);
  const res = await c.request(
    "connect",
    connectParams({ token: gw.token, clientId: "openclaw-macos", mode: "ui", minProtocol: 4, maxProtocol: 4 }),
  );
  assert.equal(res.ok, true, `connect failed: ${JSON.stringify(res.error)}`);
  assert.equal(res.payload?.protocol, 4);
  await c.close();
});

test("protocol 5..6: INVALID_REQUEST protocol mismatch, details.code PROTOCOL_MISMATCH, close 1002", async () => {
  const c = await open("v5..6 cli");
  await challengeFirst(c);
  const res = await c.request("connect", connectParams({ token: gw.token, minProtocol: 5, maxProtocol: 6 }));
  assert.equal(res.ok, false, `5..6 must be refused: ${JSON.stringify(res)}`);
  assert.equal(res.error?.code, "INVALID_REQUEST");
  assert.match(res.error?.message ?? "", /protocol mismatch/);
  assert.equal(res.error?.details?.code, "PROTOCOL_MISMATCH");
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1002, `close reason ${JSON.stringify(closed.reason)}`);
  assert.ok(c.frames.indexOf(res) >= 0, "the error res was delivered before the close");
});

test("protocol 1..2: protocol mismatch, close 1002", async () => {
  const c = await open("v1..2 cli");
  const res = await c.connect(connectParams({ token: gw.token, minProtocol: 1, maxProtocol: 2 }));
  assert.equal(res.ok, false);
  assert.equal(res.error?.details?.code, "PROTOCOL_MISMATCH");
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1002);
});

test("wrong token: INVALID_REQUEST, details.code AUTH_TOKEN_MISMATCH, close 1008", async () => {
  const c = await open("wrong token");
  await challengeFirst(c);
  const res = await c.request("connect", connectParams({ token: "definitely-not-the-token", minProtocol: 3, maxProtocol: 4 }));
  assert.equal(res.ok, false, `wrong token must be refused: ${JSON.stringify(res)}`);
  assert.equal(res.error?.code, "INVALID_REQUEST");
  assert.equal(res.error?.details?.code, "AUTH_TOKEN_MISMATCH");
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1008, `close reason ${JSON.stringify(closed.reason)}`);
});

registerFrameConformanceTest(test, "protocol-v3", {
  expectKinds: ["event:connect.challenge", "res:connect", "res:connect:error", "res:health"],
});
