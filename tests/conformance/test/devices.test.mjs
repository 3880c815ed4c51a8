// 7. Device identity and pairing with real OpenClaw clients.
//
// - The reference client (@openclaw/gateway-client) with a device identity (Ed25519, signed by
//   the host callbacks as OpenClaw's own host does) connects over loopback with the shared token:
//   clawgate pairs it silently, hello-ok hands out a device token, the client stores it, and a
//   second client with the same identity and no shared token gets in on that device token alone.
// - With gateway.nodes.pairing.autoApproveLocal false the same client is refused with NOT_PAIRED /
//   PAIRING_REQUIRED (the client pauses reconnecting), an operator sees device.pair.requested,
//   approves with device.pair.approve, sees device.pair.resolved, and the client then connects.
// - The real OpenClaw CLI (npm openclaw@2026.9.6): `openclaw devices list --json` shows the
//   pending request, `openclaw devices approve <id>` approves it, `openclaw devices reject`.
//   The CLI is looked for at $OPENCLAW_CLI, else openclaw-cli/node_modules/openclaw/openclaw.mjs;
//   without it those tests are skipped (and fail under CI).
// Every frame clawgate sent is validated against the published schema at the end.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GatewayClient } from "@openclaw/gateway-client";
import { connections, setLabel } from "../lib/recorder.mjs";
import { CONFORMANCE_DIR, startGateway } from "../lib/gateway.mjs";
import { Log, registerFrameConformanceTest } from "../lib/conformance.mjs";
import { IN_CI, announceSkip, requiredUnderCi } from "../lib/ci.mjs";

const WAIT_MS = 15_000;
const OPENCLAW = process.env.OPENCLAW_CLI
  ? path.resolve(process.env.OPENCLAW_CLI)
  : path.join(CONFORMANCE_DIR, "openclaw-cli/node_modules/openclaw/openclaw.mjs");
const CLI_MISSING = existsSync(OPENCLAW) ? null : `the OpenClaw CLI is not installed at ${OPENCLAW} (set OPENCLAW_CLI)`;
const CLI_SKIP = CLI_MISSING && !IN_CI ? CLI_MISSING : false;
if (CLI_SKIP) announceSkip("devices.test.mjs (openclaw CLI tests)", CLI_SKIP);

// ---- a device identity and the host callbacks OpenClaw's Node host passes the client ----------

function makeIdentity() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const raw = publicKey.export({ type: "spki", format: "der" }).subarray(12);
  return {
    deviceId: crypto.createHash("sha256").update(raw).digest("hex"),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }),
  };
}

function hostDeps(tokens) {
  const key = (p) => `${p.deviceId}/${p.role}`;
  return {
    signDevicePayload: (pem, payload) => crypto.sign(null, Buffer.from(payload, "utf8"), pem).toString("base64url"),
    publicKeyRawBase64UrlFromPem: (pem) =>
      crypto.createPublicKey(pem).export({ type: "spki", format: "der" }).subarray(12).toString("base64url"),
    loadDeviceAuthToken: (p) => tokens.get(key(p)) ?? null,
    storeDeviceAuthToken: (p) => tokens.set(key(p), { token: p.token, scopes: p.scopes }),
    clearDeviceAuthToken: (p) => tokens.delete(key(p)),
  };
}

/**
 * Starts a client; resolves with {client, hello, events}, or rejects with the gateway's error
 * shape ({code, message, details}) read from the connect response on the wire: on a pairing
 * failure the client pauses and reports only "gateway client stopped".
 */
function connectClient(opts, label) {
  setLabel(label);
  const recordedError = () => {
    for (const c of connections.filter((x) => x.label.startsWith(`${label} #`)).reverse()) {
      const sent = c.transcript.find((e) => e.dir === "sent" && e.frame?.method === "connect");
      const res = sent && c.transcript.find((e) => e.dir === "recv" && e.frame?.type === "res" && e.frame.id === sent.frame.id);
      if (res && !res.frame.ok) return res.frame.error;
    }
    return null;
  };
  return new Promise((resolve, reject) => {
    const events = new Log();
    let client;
    const fail = (err) => {
      clearTimeout(timer);
      client.stop();
      const shape = recordedError();
      reject(shape ? Object.assign(new Error(shape.message), shape) : err);
    };
    const timer = setTimeout(() => fail(new Error(`${label}: no hello-ok within ${WAIT_MS} ms`)), WAIT_MS);
    client = new GatewayClient({
      ...opts,
      onEvent: (e) => events.push(e),
      onHelloOk: (hello) => {
        clearTimeout(timer);
        resolve({ client, hello, events });
      },
      onConnectError: (err) => fail(err),
      onReconnectPaused: (info) => {
        opts.onReconnectPaused?.(info);
        fail(new Error(`reconnect paused: ${info.reason}`));
      },
    });
    client.start();
  });
}

const clients = [];
const gateways = [];
after(async () => {
  for (const c of clients) c.stop();
  for (const g of gateways) await g.stop();
});

async function gatewayWith(config) {
  const gw = await startGateway({ config });
  gateways.push(gw);
  return gw;
}

// An operator as OpenClaw's own backend connects: gateway-client/backend over loopback with the
// shared token (no device: a local backend keeps its scopes).
async function operator(gw, label) {
  const { client, events } = await connectClient({ url: gw.url, token: gw.token, scopes: ["operator.admin"] }, label);
  clients.push(client);
  return { client, events };
}

function deviceClientOptions(gw, identity, tokens, extra = {}) {
  return {
    url: gw.url,
    clientName: "openclaw-linux",
    mode: "ui",
    platform: "linux",
    clientDisplayName: "测试笔记本 🧪",
    role: "operator",
    scopes: ["operator.read", "operator.write"],
    deviceIdentity: identity,
    hostDeps: hostDeps(tokens),
    ...extra,
  };
}

test("reference client with a device identity: paired silently on loopback, then in on its device token", async () => {
  const gw = await gatewayWith({});
  const op = await operator(gw, "devices-operator");
  const identity = makeIdentity();
  const tokens = new Map();
  const first = await connectClient(deviceClientOptions(gw, identity, tokens, { token: gw.token }), "device-first");
  clients.push(first.client);
  const auth = first.hello.auth;
  assert.equal(auth.role, "operator");
  assert.deepEqual(auth.scopes, ["operator.read", "operator.write"]);
  assert.equal(typeof auth.deviceToken, "string", "hello-ok auth.deviceToken");
  assert.equal(auth.method, undefined, "auth.method is not in the published HelloOk");
  assert.equal(tokens.get(`${identity.deviceId}/operator`)?.token, auth.deviceToken, "the client stored its device token");
  const resolved = await op.events.waitFor(
    (e) => e.event === "device.pair.resolved" && e.payload?.deviceId === identity.deviceId,
    "device.pair.resolved for the silent pairing",
    WAIT_MS,
  );
  assert.equal(resolved.payload.decision, "approved");
  first.client.stop();

  // The same identity without the shared token: the stored device token authenticates.
  let onClose = () => {};
  const closed = new Promise((resolve) => {
    onClose = (code, reason) => resolve({ code, reason });
  });
  const second = await connectClient(deviceClientOptions(gw, identity, tokens, { onClose }), "device-token-only");
  clients.push(second.client);
  assert.equal(second.hello.auth.deviceToken, auth.deviceToken, "the token is reused while it covers the scopes");
  const list = await op.client.request("device.pair.list", {});
  const row = list.paired.find((d) => d.deviceId === identity.deviceId);
  assert.ok(row, "device.pair.list shows the paired device");
  assert.equal(row.displayName, "测试笔记本 🧪");
  assert.equal(row.connected, true);
  assert.equal(row.approvedVia, "silent");
  assert.ok(row.tokens.every((t) => t.token === undefined), "bearer tokens are never listed");

  // Revoking closes the device's socket with 4001 at once.
  const revoked = await op.client.request("device.token.revoke", { deviceId: identity.deviceId, role: "operator" });
  assert.equal(revoked.role, "operator");
  const close = await closed;
  assert.equal(close.code, 4001);
  assert.equal(close.reason, "device removed");
  second.client.stop();
});

test("explicit approval: NOT_PAIRED until an operator approves, then the client connects", async () => {
  const gw = await gatewayWith({ gateway: { nodes: { pairing: { autoApproveLocal: false } } } });
  const op = await operator(gw, "approval-operator");
  const identity = makeIdentity();
  const tokens = new Map();
  let paused = null;
  const refused = await connectClient(
    deviceClientOptions(gw, identity, tokens, {
      token: gw.token,
      onReconnectPaused: (info) => {
        paused = info;
      },
    }),
    "device-waiting",
  ).then(
    () => null,
    (err) => err,
  );
  assert.ok(refused, "the device connected without approval");
  assert.equal(refused.code, "NOT_PAIRED", `error: ${refused.message}`);
  assert.equal(refused.details?.code, "PAIRING_REQUIRED");
  assert.equal(refused.details?.reason, "not-paired");
  const requestId = refused.details?.requestId;
  assert.match(requestId ?? "", /^[0-9a-f-]{36}$/);
  const requested = await op.events.waitFor(
    (e) => e.event === "device.pair.requested" && e.payload?.requestId === requestId,
    "device.pair.requested",
    WAIT_MS,
  );
  assert.equal(requested.payload.deviceId, identity.deviceId);
  assert.equal(requested.payload.displayName, "测试笔记本 🧪");
  assert.deepEqual(requested.payload.scopes, ["operator.read", "operator.write"]);
  assert.equal(paused === null || paused.detailCode === "PAIRING_REQUIRED", true);

  const approved = await op.client.request("device.pair.approve", { requestId });
  assert.equal(approved.device.deviceId, identity.deviceId);
  await op.events.waitFor(
    (e) => e.event === "device.pair.resolved" && e.payload?.requestId === requestId && e.payload?.decision === "approved",
    "device.pair.resolved approved",
    WAIT_MS,
  );
  const now = await connectClient(deviceClientOptions(gw, identity, tokens, { token: gw.token }), "device-approved");
  clients.push(now.client);
  assert.equal(typeof now.hello.auth.deviceToken, "string");
  await assert.rejects(op.client.request("device.pair.approve", { requestId }), /unknown requestId/);
});

// ---- the real OpenClaw CLI ---------------------------------------------------------------------

function runOpenclaw(args, home) {
  const env = { ...process.env, HOME: home, OPENCLAW_STATE_DIR: path.join(home, ".openclaw"), NO_COLOR: "1" };
  for (const k of Object.keys(env)) if (k.startsWith("OPENCLAW_GATEWAY")) delete env[k];
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [OPENCLAW, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

test("openclaw devices list / approve / reject against clawgate", { skip: CLI_SKIP }, async () => {
  if (CLI_MISSING) throw new Error(requiredUnderCi(CLI_MISSING));
  const gw = await gatewayWith({ gateway: { nodes: { pairing: { autoApproveLocal: false } } } });
  const home = mkdtempSync(path.join(os.tmpdir(), "clawgate-openclaw-cli-"));
  try {
    const conn = ["--url", gw.url, "--token", gw.token];
    const identity = makeIdentity();
    const refused = await connectClient(deviceClientOptions(gw, identity, new Map(), { token: gw.token }), "cli-device").then(
      () => null,
      (err) => err,
    );
    const requestId = refused?.details?.requestId;
    assert.ok(requestId, `no pending request: ${refused?.message}`);

    const listed = await runOpenclaw(["devices", "list", "--json", ...conn], home);
    assert.equal(listed.code, 0, `openclaw devices list failed:\n${listed.err}\n${listed.out}`);
    const list = JSON.parse(listed.out.slice(listed.out.indexOf("{")));
    assert.ok(list.pending.some((p) => p.requestId === requestId && p.deviceId === identity.deviceId), listed.out);

    const ok = await runOpenclaw(["devices", "approve", requestId, ...conn], home);
    assert.equal(ok.code, 0, `openclaw devices approve failed:\n${ok.err}\n${ok.out}`);
    const tokens = new Map();
    const now = await connectClient(deviceClientOptions(gw, identity, tokens, { token: gw.token }), "cli-approved");
    clients.push(now.client);
    assert.equal(typeof now.hello.auth.deviceToken, "string");
    const unknown = await runOpenclaw(["devices", "approve", requestId, ...conn], home);
    assert.notEqual(unknown.code, 0, "approving the same request twice succeeded");
    assert.match(unknown.out + unknown.err, /unknown requestId|no pending|not found/i);

    // Another device, rejected from the CLI.
    const other = makeIdentity();
    const otherRefused = await connectClient(deviceClientOptions(gw, other, new Map(), { token: gw.token }), "cli-other").then(
      () => null,
      (err) => err,
    );
    const otherId = otherRefused?.details?.requestId;
    assert.ok(otherId);
    const rejected = await runOpenclaw(["devices", "reject", otherId, ...conn], home);
    assert.equal(rejected.code, 0, `openclaw devices reject failed:\n${rejected.err}\n${rejected.out}`);
    const after = JSON.parse((await runOpenclaw(["devices", "list", "--json", ...conn], home)).out.replace(/^[^{]*/, ""));
    assert.ok(!after.pending.some((p) => p.requestId === otherId), "the rejected request is still pending");
    assert.ok(after.paired.some((d) => d.deviceId === identity.deviceId));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

registerFrameConformanceTest(test, "devices", {
  expectKinds: ["res:connect", "res:device.pair.list", "res:device.pair.approve", "event:device.pair.requested", "event:device.pair.resolved"],
});
