// A minimal hand-written protocol client on top of `ws`, used to drive exact
// handshakes (protocol ranges, client ids, bad tokens) that the reference
// client does not let us choose.

import { randomUUID } from "node:crypto";
import { WebSocket } from "ws";
import { connectionOf } from "./recorder.mjs";

export const DEFAULT_WAIT_MS = 5000;

export class RawConn {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.record = connectionOf(this.ws);
    this.frames = []; // every parsed server frame, in order
    this.waiters = [];
    this.nextId = 1;
    this.ws.on("message", (data) => {
      let frame;
      try {
        frame = JSON.parse(data.toString("utf8"));
      } catch {
        frame = { __unparsable: data.toString("utf8") };
      }
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(frame)) {
          w.resolve(frame);
          return false;
        }
        return true;
      });
    });
    this.closed = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => {
        const info = { code, reason: reason.toString("utf8") };
        this.closeInfo = info;
        for (const w of this.waiters) w.reject(new Error(`socket closed (${code} ${info.reason}) while waiting for ${w.what}`));
        this.waiters = [];
        resolve(info);
      });
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
    this.ws.on("error", () => {}); // surfaced through opened/closed
  }

  static async open(url) {
    const c = new RawConn(url);
    await c.opened;
    return c;
  }

  /** Resolve with the first frame (already received or future) that matches `pred`. */
  waitFor(pred, what = "frame", timeoutMs = DEFAULT_WAIT_MS) {
    const hit = this.frames.find(pred);
    if (hit) return Promise.resolve(hit);
    if (this.closeInfo) return Promise.reject(new Error(`socket already closed (${this.closeInfo.code}) before ${what}`));
    return new Promise((resolve, reject) => {
      const w = { pred, what };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got: ${JSON.stringify(this.frames).slice(0, 1500)}`));
      }, timeoutMs);
      w.resolve = (f) => {
        clearTimeout(t);
        resolve(f);
      };
      w.reject = (e) => {
        clearTimeout(t);
        reject(e);
      };
      this.waiters.push(w);
    });
  }

  waitEvent(name, timeoutMs = DEFAULT_WAIT_MS, pred = () => true) {
    return this.waitFor((f) => f.type === "event" && f.event === name && pred(f), `event ${name}`, timeoutMs);
  }

  challenge(timeoutMs = DEFAULT_WAIT_MS) {
    return this.waitEvent("connect.challenge", timeoutMs);
  }

  send(obj) {
    this.ws.send(typeof obj === "string" ? obj : JSON.stringify(obj));
  }

  /** Send a req and resolve with its res frame (ok or not). */
  async request(method, params, timeoutMs = DEFAULT_WAIT_MS) {
    const id = `${this.nextId++}:${randomUUID()}`;
    const frame = { type: "req", id, method };
    if (params !== undefined) frame.params = params;
    this.send(frame);
    return this.waitFor((f) => f.type === "res" && f.id === id, `res to ${method}`, timeoutMs);
  }

  /** Wait for connect.challenge, then send connect. Resolves with the connect res. */
  async connect(params, timeoutMs = DEFAULT_WAIT_MS) {
    await this.challenge(timeoutMs);
    return this.request("connect", params, timeoutMs);
  }

  waitClosed(timeoutMs = DEFAULT_WAIT_MS) {
    let t;
    return Promise.race([
      this.closed,
      new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error(`socket not closed by the server within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(t));
  }

  async close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000, "test done");
    }
    let t;
    await Promise.race([this.closed, new Promise((r) => (t = setTimeout(r, 2000)))]);
    clearTimeout(t);
    if (!this.closeInfo) this.ws.terminate();
  }
}

/** ConnectParams as a real OpenClaw CLI/app would send them (device-less, shared token). */
export function connectParams({
  token,
  clientId = "cli",
  mode = "cli",
  minProtocol = 4,
  maxProtocol = 4,
  role = "operator",
  scopes = ["operator.admin"],
  caps = [],
} = {}) {
  const p = {
    minProtocol,
    maxProtocol,
    client: {
      id: clientId,
      version: "2026.9.1",
      platform: process.platform,
      mode,
      instanceId: randomUUID(),
    },
    caps,
    role,
    scopes,
  };
  if (token !== undefined) p.auth = { token };
  return p;
}
