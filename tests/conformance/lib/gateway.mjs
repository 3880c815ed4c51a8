// Starts a clawgate gateway for a test file, per the launch contract:
//
//   $CLAWGATE_BIN gateway --port 0 --token <tok> [--config <temp file>] [extraArgs...]
//   env CLAWGATE_STATE_DIR=<fresh temp dir>, CLAWGATE_TICK_INTERVAL_MS=500
//
// `config` (an object) is written as JSON to a file in its own temp dir and passed with --config;
// that dir is removed with the state dir.
//
// stdout is human-readable; one line contains `listening on ws://127.0.0.1:<port>`.
// SIGTERM makes it broadcast `shutdown`, close every socket with 1012 and exit 0.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

export const CONFORMANCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const TICK_INTERVAL_MS = 500;
const LISTEN_TIMEOUT_MS = 10_000;
const LISTEN_RE = /listening on (wss?:\/\/[^\s"'<>]+)/;

export function clawgateBin() {
  const fromEnv = process.env.CLAWGATE_BIN;
  if (fromEnv) return path.resolve(CONFORMANCE_DIR, fromEnv);
  return path.resolve(CONFORMANCE_DIR, "../../build/release/bin/clawgate");
}

const running = new Set();
process.on("exit", () => {
  for (const g of running) {
    try {
      g.proc.kill("SIGKILL");
    } catch {}
  }
});

export function randomToken() {
  return `conf-${randomBytes(12).toString("hex")}`;
}

/**
 * @returns {Promise<{url:string, port:number, token:string, proc:import('node:child_process').ChildProcess,
 *   stateDir:string, configPath:string|null, output:string[], exited:Promise<{code:number|null, signal:string|null}>,
 *   terminate:(timeoutMs?:number)=>Promise<{code:number|null, signal:string|null}>, stop:()=>Promise<void>,
 *   logTail:(n?:number)=>string}>}
 */
export async function startGateway({ token = randomToken(), extraEnv = {}, config = null, extraArgs = [] } = {}) {
  const bin = clawgateBin();
  if (!existsSync(bin)) {
    throw new Error(
      `clawgate binary not found at ${bin}. Build it first, or set CLAWGATE_BIN to its path.`,
    );
  }
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "clawgate-conformance-"));
  let configDir = null;
  let configPath = null;
  const args = ["gateway", "--port", "0", "--token", token];
  if (config !== null) {
    configDir = mkdtempSync(path.join(os.tmpdir(), "clawgate-conformance-config-"));
    configPath = path.join(configDir, "clawgate.json");
    writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    args.push("--config", configPath);
  }
  args.push(...extraArgs);
  const removeDirs = () => {
    rmSync(stateDir, { recursive: true, force: true });
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  };
  const proc = spawn(bin, args, {
    env: {
      ...process.env,
      CLAWGATE_STATE_DIR: stateDir,
      CLAWGATE_TICK_INTERVAL_MS: String(TICK_INTERVAL_MS),
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });

  const output = [];
  const g = {
    token,
    proc,
    stateDir,
    configPath,
    output,
    url: null,
    port: null,
    logTail: (n = 40) => output.slice(-n).join("\n"),
  };
  running.add(g);

  g.exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      running.delete(g);
      resolve({ code, signal });
    });
  });

  let resolveUrl;
  let rejectUrl;
  const urlPromise = new Promise((res, rej) => {
    resolveUrl = res;
    rejectUrl = rej;
  });

  const onLines = (stream, name) => {
    let buf = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        output.push(`[${name}] ${line}`);
        if (name === "stdout" && !g.url) {
          const m = LISTEN_RE.exec(line);
          if (m) resolveUrl(m[1].replace(/[.,;)]+$/, ""));
        }
      }
    });
  };
  onLines(proc.stdout, "stdout");
  onLines(proc.stderr, "stderr");

  proc.once("error", (err) => rejectUrl(new Error(`failed to spawn ${bin}: ${err.message}`)));
  g.exited.then(({ code, signal }) =>
    rejectUrl(new Error(`clawgate exited before listening (code ${code}, signal ${signal}):\n${g.logTail()}`)),
  );
  const timer = setTimeout(
    () => rejectUrl(new Error(`no "listening on ws://…" line on stdout within ${LISTEN_TIMEOUT_MS} ms:\n${g.logTail()}`)),
    LISTEN_TIMEOUT_MS,
  );

  try {
    g.url = await urlPromise;
  } catch (err) {
    proc.kill("SIGKILL");
    await g.exited;
    removeDirs();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  g.port = Number(new URL(g.url).port);

  /** SIGTERM and wait for exit (SIGKILL after timeoutMs). */
  g.terminate = async (timeoutMs = 5000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return g.exited;
    proc.kill("SIGTERM");
    let t;
    const killed = new Promise((resolve) => {
      t = setTimeout(() => {
        proc.kill("SIGKILL");
        resolve();
      }, timeoutMs);
    });
    const r = await Promise.race([g.exited, killed.then(() => g.exited)]);
    clearTimeout(t);
    return r;
  };

  /** Stop (if still running) and remove the state dir (and the config file, if any). */
  g.stop = async () => {
    await g.terminate();
    removeDirs();
  };

  return g;
}
