// 6. TLS on the gateway port (gateway.tls.enabled, a self-signed pair generated into the state dir).
//
// The reference client @openclaw/gateway-client connects over wss:// pinning the certificate's
// SHA-256 in the form Node prints it (upper case, colon-separated: the client normalizes it), gets
// hello-ok and answers from health and status; status shows the same fingerprint clawgate logged.
// A wrong pin is refused by the client before the upgrade; a raw `ws` client that checks the
// certificate against the system CAs refuses it; plain ws:// to the TLS port does not open. The
// gateway serves on after each refusal, and every frame it sent validates against the schema.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { WebSocket } from "ws";
import { GatewayClient } from "@openclaw/gateway-client";
import { PROTOCOL_VERSION } from "@openclaw/gateway-protocol/version";
import { setLabel } from "../lib/recorder.mjs";
import { startGateway } from "../lib/gateway.mjs";
import { registerFrameConformanceTest } from "../lib/conformance.mjs";

const WAIT_MS = 10_000;

let gw;
let nodeFingerprint; // "AB:CD:…" as Node's X509Certificate prints it
let fingerprint; // 64 lowercase hex digits, as clawgate shows it

before(async () => {
  gw = await startGateway({ config: { gateway: { tls: { enabled: true } } } });
  const pem = readFileSync(path.join(gw.stateDir, "gateway", "tls", "gateway-cert.pem"), "utf8");
  nodeFingerprint = new X509Certificate(pem).fingerprint256;
  fingerprint = nodeFingerprint.replaceAll(":", "").toLowerCase();
});

after(async () => {
  await gw?.stop();
});

/** Starts the reference client; resolves with {client, hello} or rejects with the connect error. */
function connectReference(label, opts) {
  setLabel(label);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.stop();
      reject(new Error(`${label}: neither hello-ok nor a connect error within ${WAIT_MS} ms\n${gw.logTail(20)}`));
    }, WAIT_MS);
    const client = new GatewayClient({
      url: gw.url,
      token: gw.token,
      minProtocol: PROTOCOL_VERSION,
      maxProtocol: PROTOCOL_VERSION,
      ...opts,
      onHelloOk: (hello) => {
        clearTimeout(timer);
        resolve({ client, hello });
      },
      onConnectError: (err) => {
        clearTimeout(timer);
        client.stop();
        reject(err);
      },
    });
    client.start();
  });
}

test("the gateway listens on wss:// and logs the certificate's fingerprint", () => {
  assert.match(gw.url, /^wss:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(
    gw.output.some((l) => l.includes(`TLS certificate SHA-256 fingerprint: ${fingerprint}`)),
    `no fingerprint line in the log:\n${gw.logTail(20)}`,
  );
});

test("the reference client pins the certificate and gets hello-ok, health and status over wss://", async () => {
  const { client, hello } = await connectReference("reference client, pinned", { tlsFingerprint: nodeFingerprint });
  try {
    assert.equal(hello.type, "hello-ok");
    assert.equal(hello.protocol, PROTOCOL_VERSION);
    const health = await client.request("health", {});
    assert.equal(health.ok, true);
    const status = await client.request("status", {});
    assert.deepEqual(status.gateway?.tls, { enabled: true, fingerprintSha256: fingerprint });
  } finally {
    client.stop();
  }
});

test("a wrong pin is refused by the client before the upgrade", async () => {
  const wrong = `sha256:${(fingerprint[0] === "0" ? "1" : "0") + fingerprint.slice(1)}`;
  await assert.rejects(
    connectReference("reference client, wrong pin", { tlsFingerprint: wrong }),
    /fingerprint mismatch/,
  );
});

test("a client trusting only the system CAs refuses the self-signed certificate", async () => {
  setLabel("raw ws, system CAs");
  const ws = new WebSocket(gw.url);
  const err = await new Promise((resolve) => {
    ws.once("open", () => resolve(null));
    ws.once("error", resolve);
  });
  ws.terminate();
  assert.ok(err, "the connection opened");
  assert.match(String(err.code ?? err.message), /SELF_SIGNED|self.signed/i);
});

test("plain ws:// to the TLS port does not open, and the gateway serves on", async () => {
  setLabel("raw ws, plain to the TLS port");
  const ws = new WebSocket(gw.url.replace(/^wss:/, "ws:"));
  let timer;
  const outcome = await new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), WAIT_MS);
    ws.once("open", () => resolve("open"));
    ws.once("error", () => resolve("error"));
    ws.once("close", () => resolve("close"));
    ws.once("unexpected-response", () => resolve("unexpected-response"));
  });
  clearTimeout(timer);
  ws.terminate();
  assert.notEqual(outcome, "open");
  assert.notEqual(outcome, "timeout");
  const { client } = await connectReference("reference client, after the refusals", { tlsFingerprint: fingerprint });
  client.stop();
});

registerFrameConformanceTest(test, "tls", { expectKinds: ["res:connect", "res:health", "res:status"] });
