// Starts the fake model server (tests/emulators/models/fake_models.py) for a test file:
//
//   python3 tests/emulators/models/fake_models.py --port 0
//
// It prints `listening on http://127.0.0.1:<port>` once ready, serves an OpenAI-compatible
// `<url>/v1/chat/completions` (SSE when asked to stream) and takes test controls at
// `POST <url>/_emu/script` (for example {"chunk_chars": 4, "delay_ms": 70}) and `GET <url>/_emu/requests`. SIGTERM stops it; we SIGKILL after a timeout.
// `$PYTHON` overrides the interpreter.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { CONFORMANCE_DIR } from "./gateway.mjs";

export const FAKE_MODELS_SCRIPT = path.resolve(CONFORMANCE_DIR, "../emulators/models/fake_models.py");
const LISTEN_TIMEOUT_MS = 10_000;
const LISTEN_RE = /listening on (http:\/\/[^\s"'<>]+)/;

const running = new Set();
process.on("exit", () => {
  for (const proc of running) {
    try {
      proc.kill("SIGKILL");
    } catch {}
  }
});

/**
 * @returns {Promise<{url:string, proc:import('node:child_process').ChildProcess, output:string[],
 *   logTail:(n?:number)=>string, script:(body:object)=>Promise<any>, requests:()=>Promise<any[]>,
 *   stop:(timeoutMs?:number)=>Promise<void>}>}
 */
export async function startFakeModels({ args = [] } = {}) {
  if (!existsSync(FAKE_MODELS_SCRIPT)) {
    throw new Error(`fake model server not found at ${FAKE_MODELS_SCRIPT}`);
  }
  const python = process.env.PYTHON || "python3";
  const proc = spawn(python, [FAKE_MODELS_SCRIPT, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  running.add(proc);
  const output = [];
  const logTail = (n = 30) => output.slice(-n).join("\n");
  const exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    });
  });

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`fake model server: no "listening on http://…" line within ${LISTEN_TIMEOUT_MS} ms:\n${logTail()}`)),
      LISTEN_TIMEOUT_MS,
    );
    const done = (fn, v) => {
      clearTimeout(timer);
      fn(v);
    };
    for (const [stream, name] of [
      [proc.stdout, "stdout"],
      [proc.stderr, "stderr"],
    ]) {
      let buf = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, "");
          buf = buf.slice(nl + 1);
          output.push(`[fake-models ${name}] ${line}`);
          const m = LISTEN_RE.exec(line);
          if (m) done(resolve, m[1].replace(/[.,;)/]+$/, ""));
        }
      });
    }
    proc.once("error", (err) => done(reject, new Error(`failed to spawn ${python}: ${err.message}`)));
    exited.then(({ code, signal }) =>
      done(reject, new Error(`fake model server exited before listening (code ${code}, signal ${signal}):\n${logTail()}`)),
    );
  }).catch(async (err) => {
    proc.kill("SIGKILL");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    throw err;
  });

  /** POST <url>/_emu/script with a JSON body; resolves with the parsed answer (or null). */
  const script = async (body) => {
    const res = await fetch(`${url}/_emu/script`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${url}/_emu/script ${JSON.stringify(body)} -> HTTP ${res.status}: ${text}`);
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  };

  /** GET <url>/_emu/requests: every model API request so far, [{method, path, query, headers, body, time}]. */
  const requests = async () => {
    const res = await fetch(`${url}/_emu/requests`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET ${url}/_emu/requests -> HTTP ${res.status}: ${await res.text()}`);
    return (await res.json()).requests;
  };

  /** SIGTERM and wait for exit (SIGKILL after timeoutMs). */
  const stop = async (timeoutMs = 5000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    let t;
    const timedOut = new Promise((resolve) => {
      t = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    if ((await Promise.race([exited, timedOut])) === "timeout") {
      proc.kill("SIGKILL");
      await exited;
    }
    clearTimeout(t);
  };

  return { url, proc, output, logTail, script, requests, stop };
}
