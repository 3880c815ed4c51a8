// 6. Nodes end to end with OpenClaw's own programs (npm openclaw@2026.9.6, installed by run.sh
// into openclaw-cli/): the headless node host (`openclaw node run --host 127.0.0.1 --port P`)
// connects to clawgate with its signed device identity, its command surface waits for approval,
// the real CLI approves it (`openclaw nodes pending|approve`; and, when local auto-approval is
// off, `openclaw devices list|approve` first), and `openclaw nodes status|describe|invoke` work
// through clawgate; `system.which` is answered by the node host.
//
// A raw operator connection (recorded, so its frames are validated against the published schema
// at the end) watches node.pair.requested/resolved, measures node.invoke round trips through
// clawgate, and checks the refusals: a command before approval, approval flags on system.run, a
// node that went away.
//
// Without the openclaw package the file's tests fail under CI=true and are skipped, loudly,
// otherwise.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, CONFORMANCE_DIR } from "../lib/gateway.mjs";
import { RawConn, connectParams } from "../lib/raw-client.mjs";
import { registerFrameConformanceTest } from "../lib/conformance.mjs";
import { setLabel } from "../lib/recorder.mjs";
import { IN_CI, announceSkip, requiredUnderCi } from "../lib/ci.mjs";

const OPENCLAW = path.join(CONFORMANCE_DIR, "openclaw-cli/node_modules/openclaw/openclaw.mjs");
const MISSING = existsSync(OPENCLAW)
  ? null
  : `the OpenClaw CLI is not installed at ${OPENCLAW} (run.sh installs it with npm ci in openclaw-cli/)`;
const SKIP = MISSING && !IN_CI ? MISSING : false;
if (SKIP) announceSkip("node-host.test.mjs", SKIP);

const CONNECT_WAIT_MS = 30_000; // node host start (it loads a lot) -> connected
const CLI_TIMEOUT_MS = 60_000;
const ROUND_TRIPS = 100;

const temps = [];
const children = new Set();
function tempDir(tag) {
  const d = mkdtempSync(path.join(os.tmpdir(), `clawgate-node-${tag}-`));
  temps.push(d);
  return d;
}

// The CLI and the node host each get a home and state dir of their own: nothing is read from
// or written to the user's ~/.openclaw.
function openclawEnv(home, extra = {}) {
  const env = { ...process.env, HOME: home, OPENCLAW_STATE_DIR: path.join(home, ".openclaw"), NO_COLOR: "1" };
  for (const k of Object.keys(env)) if (k.startsWith("OPENCLAW_GATEWAY")) delete env[k];
  // openclaw wants Node >= 24.16: the suite's own Node runs it, and is first on PATH.
  env.PATH = `${path.dirname(process.execPath)}:${env.PATH ?? ""}`;
  return { ...env, ...extra };
}

/** Runs `openclaw <args>`; resolves {code, stdout, stderr}. */
function cli(args, { home, timeoutMs = CLI_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [OPENCLAW, ...args], { env: openclawEnv(home), stdio: ["ignore", "pipe", "pipe"] });
    children.add(p);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`openclaw ${args.join(" ")}: no exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    p.once("error", reject);
    p.once("exit", (code) => {
      clearTimeout(t);
      children.delete(p);
      resolve({ code, stdout, stderr });
    });
  });
}

async function cliJson(gw, home, args) {
  const r = await cli([...args, "--json", "--url", gw.url, "--token", gw.token], { home });
  assert.equal(r.code, 0, `openclaw ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}\ngateway:\n${gw.logTail(20)}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`openclaw ${args.join(" ")} printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

/** `openclaw node run` against the gateway; its output is kept for waitFor(). */
function startNodeHost(gw, home) {
  const p = spawn(process.execPath, [OPENCLAW, "node", "run", "--host", "127.0.0.1", "--port", String(gw.port)], {
    env: openclawEnv(home, { OPENCLAW_GATEWAY_TOKEN: gw.token }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(p);
  const host = { proc: p, output: "" };
  const waiters = [];
  const feed = (d) => {
    host.output += d;
    for (const w of [...waiters]) if (w.re.test(host.output)) w.done();
  };
  p.stdout.on("data", feed);
  p.stderr.on("data", feed);
  host.exited = new Promise((resolve) => p.once("exit", (code, signal) => (children.delete(p), resolve({ code, signal }))));
  host.waitFor = (re, what, timeoutMs = CONNECT_WAIT_MS) =>
    new Promise((resolve, reject) => {
      if (re.test(host.output)) return resolve();
      const w = {
        re,
        done: () => {
          clearTimeout(t);
          waiters.splice(waiters.indexOf(w), 1);
          resolve();
        },
      };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`node host: no ${what} within ${timeoutMs} ms:\n${host.output}\ngateway:\n${gw.logTail(20)}`));
      }, timeoutMs);
      waiters.push(w);
    });
  host.stop = async () => {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    await host.exited;
    clearTimeout(t);
  };
  return host;
}

async function operator(gw, label) {
  setLabel(label);
  const c = await RawConn.open(gw.url);
  const res = await c.connect(connectParams({ token: gw.token, scopes: ["operator.admin"] }));
  assert.equal(res.ok, true, `operator connect: ${JSON.stringify(res.error)}`);
  return c;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

let gw;
let op;
let host;
let nodeId;

before(async () => {
  if (SKIP) return;
  if (MISSING) throw new Error(requiredUnderCi(MISSING));
  gw = await startGateway();
  op = await operator(gw, "node-host operator");
});

after(async () => {
  await host?.stop();
  await op?.close();
  await gw?.stop();
  for (const p of children) p.kill("SIGKILL");
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

test("the node host connects, its surface waits for approval, and node.invoke says so", { skip: SKIP }, async () => {
  host = startNodeHost(gw, tempDir("host"));
  await host.waitFor(/node host gateway connected/, "\"gateway connected\" line");
  const requested = await op.waitEvent("node.pair.requested", CONNECT_WAIT_MS);
  nodeId = requested.payload.nodeId;
  assert.match(nodeId, /^[0-9a-f]{64}$/, "the node id is its device id");
  assert.ok(requested.payload.commands.includes("system.which"), JSON.stringify(requested.payload));
  assert.deepEqual(requested.payload.requiredApproveScopes, ["operator.pairing", "operator.admin"]);

  const before = await op.request("node.invoke", {
    nodeId,
    command: "system.which",
    params: { bins: ["sh"] },
    idempotencyKey: "before-approval",
  });
  assert.equal(before.ok, false);
  assert.equal(before.error.code, "INVALID_REQUEST");
  assert.match(before.error.message, /pending approval; run `openclaw nodes pending`/);
});

test("openclaw nodes pending / approve / status / describe / invoke work through clawgate", { skip: SKIP }, async () => {
  const home = tempDir("cli");
  const pending = await cliJson(gw, home, ["nodes", "pending"]);
  const mine = pending.find((p) => p.nodeId === nodeId);
  assert.ok(mine, `the node's request is pending: ${JSON.stringify(pending)}`);

  await cliJson(gw, home, ["nodes", "approve", mine.requestId]);
  const resolved = await op.waitEvent("node.pair.resolved", 10_000, (f) => f.payload.requestId === mine.requestId);
  assert.equal(resolved.payload.decision, "approved");

  const status = await cliJson(gw, home, ["nodes", "status"]);
  const row = (status.nodes ?? status).find((n) => n.nodeId === nodeId);
  assert.ok(row, `nodes status lists the node: ${JSON.stringify(status).slice(0, 1500)}`);
  assert.equal(row.connected, true);
  assert.equal(row.approvalState, "approved");

  const described = await cliJson(gw, home, ["nodes", "describe", "--node", nodeId]);
  assert.ok(described.commands.includes("system.which"), JSON.stringify(described).slice(0, 1500));
  assert.equal(described.platform, process.platform === "darwin" ? "macos" : process.platform);

  const invoked = await cliJson(gw, home, [
    "nodes", "invoke", "--node", nodeId, "--command", "system.which", "--params", '{"bins":["sh"]}',
  ]);
  assert.equal(invoked.ok, true, JSON.stringify(invoked));
  assert.match(invoked.payload.bins.sh, /\/sh$/, JSON.stringify(invoked));
});

test(`node.invoke round trips through clawgate (${ROUND_TRIPS} x system.which)`, { skip: SKIP }, async (t) => {
  const times = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = process.hrtime.bigint();
    const r = await op.request("node.invoke", {
      nodeId,
      command: "system.which",
      params: { bins: ["sh"] },
      idempotencyKey: `rt-${i}`,
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(typeof r.payload.payloadJSON, "string");
  }
  times.sort((a, b) => a - b);
  const line = `node.invoke system.which round trip: p50 ${percentile(times, 50).toFixed(2)} ms, ` +
    `p99 ${percentile(times, 99).toFixed(2)} ms, max ${times.at(-1).toFixed(2)} ms (n=${times.length})`;
  t.diagnostic(line);
  console.log(line);
});

test("approval flags on system.run are refused before the node is asked", { skip: SKIP }, async () => {
  const r = await op.request("node.invoke", {
    nodeId,
    command: "system.run",
    params: { command: ["id"], approved: true, approvalDecision: "allow-always", runId: "smuggled" },
    idempotencyKey: "flags",
  });
  assert.equal(r.ok, false);
  assert.equal(r.error.message, "exec approvals unavailable");
  assert.equal(r.error.details?.code, "APPROVALS_UNAVAILABLE");
});

test("a node that went away: node.invoke answers node not connected", { skip: SKIP }, async () => {
  await host.stop();
  host = null;
  let r;
  for (let i = 0; i < 50; i++) {
    r = await op.request("node.invoke", { nodeId, command: "system.which", params: { bins: ["sh"] }, idempotencyKey: `gone-${i}` });
    if (r.error?.details?.code === "NOT_CONNECTED") break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r.ok, false);
  assert.equal(r.error.message, "node not connected");
  const list = await op.request("node.list", {});
  const row = list.payload.nodes.find((n) => n.nodeId === nodeId);
  assert.equal(row.connected, false);
  assert.equal(row.paired, true);
  assert.equal(row.approvalState, "approved");
});

test("without local auto-approval: openclaw devices approve, then openclaw nodes approve", { skip: SKIP }, async () => {
  const strict = await startGateway({ config: { gateway: { nodes: { pairing: { autoApproveLocal: false } } } } });
  const strictOp = await operator(strict, "node-host strict operator");
  const hostHome = tempDir("strict-host");
  const cliHome = tempDir("strict-cli");
  let strictHost = startNodeHost(strict, hostHome);
  try {
    // The node host pauses on PAIRING_REQUIRED until an operator acts, as upstream's does.
    const deviceRequest = await strictOp.waitEvent("device.pair.requested", CONNECT_WAIT_MS);
    assert.equal(deviceRequest.payload.role, "node");
    const devices = await cliJson(strict, cliHome, ["devices", "list"]);
    const req = devices.pending.find((p) => p.requestId === deviceRequest.payload.requestId);
    assert.ok(req, JSON.stringify(devices).slice(0, 1500));
    await cliJson(strict, cliHome, ["devices", "approve", req.requestId]);
    await strictHost.stop();

    // Restarted, it connects with its device paired; its command surface waits as before.
    strictHost = startNodeHost(strict, hostHome);
    await strictHost.waitFor(/node host gateway connected/, "\"gateway connected\" line");
    const surface = await strictOp.waitEvent("node.pair.requested", CONNECT_WAIT_MS);
    await cliJson(strict, cliHome, ["nodes", "approve", surface.payload.requestId]);
    const invoked = await cliJson(strict, cliHome, [
      "nodes", "invoke", "--node", surface.payload.nodeId, "--command", "system.which", "--params", '{"bins":["sh"]}',
    ]);
    assert.match(invoked.payload.bins.sh, /\/sh$/, JSON.stringify(invoked));
  } finally {
    await strictHost.stop();
    await strictOp.close();
    await strict.stop();
  }
});

if (!SKIP) {
  registerFrameConformanceTest(test, "node-host", {
    expectKinds: ["res:connect", "res:node.invoke", "event:node.pair.requested", "event:node.pair.resolved"],
  });
}
