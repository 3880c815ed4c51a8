// Records every WebSocket message on every connection opened in this test
// process, whoever opened it: our raw `ws` clients and the reference
// @openclaw/gateway-client (which uses the same `ws` module instance).
//
// It works by wrapping `WebSocket.prototype.emit` ("open", "message", "close")
// and `WebSocket.prototype.send`, so nothing in the client is changed and
// nothing on the wire is altered.

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { WebSocket } from "ws";

const require = createRequire(import.meta.url);

// The hook only sees the reference client's traffic if it imports the very
// same `ws` module file we patch. Fail loudly if npm did not dedupe it.
{
  const clientEntry = fileURLToPath(import.meta.resolve("@openclaw/gateway-client"));
  const clientWs = createRequire(clientEntry).resolve("ws");
  const ourWs = require.resolve("ws");
  if (clientWs !== ourWs) {
    throw new Error(
      `frame recorder: @openclaw/gateway-client resolves ws to ${clientWs} but the suite uses ${ourWs}; ` +
        "pin the same ws version in package.json so npm dedupes it",
    );
  }
}

/** @type {Array<{id:number,label:string,url:string,t0:number,transcript:any[],close:any,errors:string[]}>} */
export const connections = [];
const byWs = new WeakMap();
let currentLabel = "unlabelled";
let nextId = 1;

/** Label applied to connections opened from now on (until changed). */
export function setLabel(label) {
  currentLabel = label;
}

function connFor(ws) {
  let c = byWs.get(ws);
  if (!c) {
    c = {
      id: nextId++,
      label: `${currentLabel} #${nextId - 1}`,
      url: ws.url,
      t0: performance.now(),
      transcript: [],
      close: null,
      errors: [],
    };
    byWs.set(ws, c);
    connections.push(c);
  }
  return c;
}

/** The recorded connection for a ws instance (creates it if needed). */
export function connectionOf(ws) {
  return connFor(ws);
}

function toText(data) {
  if (typeof data === "string") return data;
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
  return String(data);
}

function entry(c, dir, data, binary) {
  const text = toText(data);
  const e = { dir, t: performance.now() - c.t0, binary: Boolean(binary) };
  try {
    e.frame = JSON.parse(text);
  } catch {
    e.text = text;
  }
  c.transcript.push(e);
}

const origEmit = WebSocket.prototype.emit;
const origSend = WebSocket.prototype.send;
if (!WebSocket.prototype.__clawgateRecorder) {
  Object.defineProperty(WebSocket.prototype, "__clawgateRecorder", { value: true });
  WebSocket.prototype.emit = function recordingEmit(event, ...args) {
    try {
      if (event === "open") connFor(this);
      else if (event === "message") entry(connFor(this), "recv", args[0], args[1]);
      else if (event === "close") {
        const c = connFor(this);
        c.close = { code: args[0], reason: toText(args[1] ?? ""), t: performance.now() - c.t0 };
      } else if (event === "error") connFor(this).errors.push(String(args[0]?.message ?? args[0]));
    } catch (err) {
      // never let recording break the socket
      process.emitWarning(`frame recorder failed: ${err}`);
    }
    return origEmit.call(this, event, ...args);
  };
  WebSocket.prototype.send = function recordingSend(data, ...rest) {
    try {
      entry(connFor(this), "sent", data, false);
    } catch (err) {
      process.emitWarning(`frame recorder failed: ${err}`);
    }
    return origSend.call(this, data, ...rest);
  };
}

/** Write all transcripts of this process to .artifacts/<name>.frames.json (for debugging). */
export function dumpArtifacts(name) {
  try {
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", ".artifacts");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}.frames.json`);
    writeFileSync(file, JSON.stringify(connections, null, 1));
    return file;
  } catch {
    return null;
  }
}
