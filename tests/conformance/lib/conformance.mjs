// Shared pieces for the test files: the end-of-file "every frame validates"
// test and a small awaitable event log.

import assert from "node:assert/strict";
import { connections, dumpArtifacts } from "./recorder.mjs";
import { checkConnection, FrameReport, formatReport, formatClientIssue } from "./frames.mjs";

/**
 * Register (as the last test of a file) a test that validates every frame the
 * server sent on every connection this file opened.
 */
export function registerFrameConformanceTest(test, fileTag, { expectKinds = [] } = {}) {
  test(`schema: every frame clawgate sent on this file's connections validates (${fileTag})`, (t) => {
    const report = new FrameReport();
    for (const c of connections) checkConnection(c, report);
    const artifact = dumpArtifacts(fileTag);
    t.diagnostic(`connections recorded: ${connections.length}, server frames checked: ${report.framesChecked}`);
    for (const l of report.statsLines()) t.diagnostic(l);
    t.diagnostic(`seen: ${report.seenLines().join(", ")}`);
    if (artifact) t.diagnostic(`transcripts: ${artifact}`);
    for (const ci of report.clientIssues) t.diagnostic(`(client-side, not a server issue) ${formatClientIssue(ci)}`);

    assert.ok(report.framesChecked > 0, "no server frames were recorded: the frame recorder saw nothing");
    const missing = expectKinds.filter((k) => !report.seen.has(k));
    const problems = [];
    if (report.issues.length) problems.push(`${report.issues.length} server frame issue(s):\n\n${formatReport(report)}`);
    if (missing.length) problems.push(`expected frame kinds never recorded: ${missing.join(", ")}`);
    assert.equal(problems.length, 0, `${problems.join("\n\n")}\n`);
  });
}

/** Collects items (events, closes) and lets tests await one matching a predicate. */
export class Log {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (w.pred(item)) {
        w.resolve(item);
        return false;
      }
      return true;
    });
  }

  /** First item (past or future) matching pred; `since` skips items before that index. */
  waitFor(pred, what, timeoutMs = 5000, since = 0) {
    const hit = this.items.slice(since).find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      w.resolve = (v) => {
        clearTimeout(t);
        resolve(v);
      };
      this.waiters.push(w);
    });
  }
}

export function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
