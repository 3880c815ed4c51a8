// Checks a recorded connection transcript (what the server sent, in order,
// plus what the client sent so responses can be tied to their method)
// against the published protocol schema.
//
// A transcript entry: {dir: "recv"|"sent", t, frame?, text?, binary?}
//   frame  - the parsed JSON (absent if the text did not parse)
//   text   - raw text when it did not parse
//   binary - true if the WebSocket message was a binary frame
//
// Rules for server ("recv") frames:
//   * must be a text frame holding one JSON object, and type must be res|event
//   * every frame            -> GatewayFrame
//   * res.error              -> ErrorShape (and error.details -> GatewayErrorDetails
//                               when details.code is one the schema lists)
//   * res to `connect`, ok   -> HelloOk
//   * res to method M, ok    -> RESULT_DEFINITIONS[M] (a method not listed there is an issue)
//   * res to `health`, ok    -> Snapshot.health
//   * res to `system-presence`, ok -> array, every entry PresenceEntry
//   * event E                -> <Pascal(E)>Event if defined (TickEvent, ShutdownEvent, ...)
//   * event presence         -> payload.presence array, every entry PresenceEntry
//   * event health           -> Snapshot.health
//   * event connect.challenge -> no seq; payload {nonce: non-empty string, ts: integer >= 0}
//   * event seq              -> integer, strictly increasing on a connection
// Client ("sent") connect requests are checked against ConnectParams too, as a
// sanity check of the clients used by the suite (reported separately).

import {
  validate,
  hasDefinition,
  eventDefinitionFor,
  formatAjvErrors,
  clip,
  GATEWAY_ERROR_DETAIL_CODES,
} from "./schema.mjs";

export class FrameReport {
  constructor() {
    this.issues = [];
    this.clientIssues = [];
    this.stats = new Map(); // definition -> {pass, fail}
    this.seen = new Map(); // kind -> count (e.g. "event:tick", "res:health")
    this.framesChecked = 0;
  }

  count(def, ok) {
    const s = this.stats.get(def) ?? { pass: 0, fail: 0 };
    if (ok) s.pass += 1;
    else s.fail += 1;
    this.stats.set(def, s);
  }

  see(kind) {
    this.seen.set(kind, (this.seen.get(kind) ?? 0) + 1);
  }

  statsLines() {
    return [...this.stats.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([def, s]) => `${def}: ${s.pass} passed, ${s.fail} failed`);
  }

  seenLines() {
    return [...this.seen.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k} x${n}`);
  }
}

// Every method clawgate answers, mapped to the upstream definition its ok result must match;
// null where @openclaw/gateway-protocol publishes none for it (the result is then pinned by
// clawgate's schema/protocol.schema.json where it has one, checked by the C++ checked builds).
// A result of a method missing here is an issue: a new method must decide how it is checked.
export const RESULT_DEFINITIONS = {
  connect: "HelloOk",
  health: "Snapshot.health",
  "system-presence": "PresenceEntry[]",
  "logs.tail": "LogsTailResult",
  "channels.status": "ChannelsStatusResult",
  "channels.pairing.list": "ChannelsPairingListResult",
  "channels.pairing.approve": "ChannelsPairingApproveResult",
  "sessions.delete": "SessionsDeleteResult",
  "cron.add": "CronAddResult",
  "config.schema": "ConfigSchemaResponse",
  status: null,
  "system-event": null,
  "last-heartbeat": null,
  "channels.restart": null,
  "channels.stop": null,
  "channels.start": null,
  "channels.logout": null,
  send: null,
  agent: null,
  "agent.wait": null,
  "chat.send": null,
  "chat.history": null,
  "chat.abort": null,
  "sessions.list": null,
  "sessions.preview": null,
  "sessions.patch": null,
  "sessions.reset": null,
  "cron.list": null,
  "cron.update": null,
  "cron.remove": null,
  "cron.run": null,
  "cron.runs": null,
  "config.get": null,
  "device.pair.list": null,
  "device.pair.approve": null,
  "device.pair.reject": null,
  "device.pair.remove": null,
  "device.pair.rename": null,
  "device.token.rotate": "DeviceTokenRotateResult",
  "device.token.revoke": null,
  // No published result definition (clawgate's own are checked by its checked builds).
  "node.list": null,
  "node.describe": null,
  "node.rename": null,
  "node.invoke": null,
  "node.invoke.result": null,
  "node.event": "NodeEventResult",
  "node.pluginSurface.refresh": null,
  "node.pair.list": null,
  "node.pair.approve": null,
  "node.pair.reject": null,
  "node.pair.remove": null,
  // Seen in the OpenClaw captures the self-test replays (clawgate does not serve them yet).
  "models.list": "ModelsListResult",
};

function describeFrame(frame, method) {
  if (!frame || typeof frame !== "object") return "non-object frame";
  if (frame.type === "res") return `res id=${JSON.stringify(frame.id)}${method ? ` (${method})` : ""} ok=${frame.ok}`;
  if (frame.type === "event") return `event ${JSON.stringify(frame.event)}${frame.seq !== undefined ? ` seq=${frame.seq}` : ""}`;
  return `type=${JSON.stringify(frame.type)}`;
}

/**
 * Analyse one connection. `conn` = {label, transcript, close}.
 * Adds issues and stats to `report` (a FrameReport).
 */
export function checkConnection(conn, report) {
  const methodsById = new Map();
  let lastSeq = null;
  let index = -1;

  const issue = (entry, check, message, { errors, value, basePath, method } = {}) => {
    const lines = errors ? formatAjvErrors(errors, value, { basePath }) : [];
    report.issues.push({
      conn: conn.label,
      index,
      t: entry.t,
      what: describeFrame(entry.frame, method),
      check,
      message,
      errorLines: lines,
      errors: errors ?? [],
      basePath: basePath ?? "",
      frame: entry.frame ?? entry.text,
    });
  };

  const check = (entry, def, value, { basePath = "", method } = {}) => {
    const r = validate(def, value);
    report.count(def, r.ok);
    if (!r.ok) {
      issue(entry, def, `does not validate against ${def}${basePath ? ` (at ${basePath})` : ""}`, {
        errors: r.errors,
        value,
        basePath,
        method,
      });
    }
    return r.ok;
  };

  for (const entry of conn.transcript) {
    index += 1;
    if (entry.dir === "sent") {
      const f = entry.frame;
      if (f && f.type === "req" && typeof f.id === "string") methodsById.set(f.id, f.method);
      if (f && f.type === "req" && f.method === "connect") {
        const r = validate("ConnectParams", f.params);
        if (!r.ok) {
          report.clientIssues.push({
            conn: conn.label,
            index,
            message: "client connect params do not validate against ConnectParams",
            errorLines: formatAjvErrors(r.errors, f.params, { basePath: "/params" }),
            frame: f,
          });
        }
      }
      continue;
    }

    // ---- server -> client
    report.framesChecked += 1;
    if (entry.binary) {
      issue(entry, "transport", "server sent a binary WebSocket frame; the protocol uses text frames only");
    }
    const frame = entry.frame;
    if (frame === undefined) {
      issue(entry, "transport", `server frame is not JSON: ${clip(entry.text, 300)}`);
      continue;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
      issue(entry, "transport", "server frame is not a JSON object");
      continue;
    }

    const method = frame.type === "res" ? methodsById.get(frame.id) : undefined;
    if (!check(entry, "GatewayFrame", frame, { method })) continue;

    if (frame.type === "req") {
      issue(entry, "protocol", "server sent a req frame (the gateway never sends requests)");
      continue;
    }

    if (frame.type === "res") {
      report.see(`res:${method ?? "?"}${frame.ok ? "" : ":error"}`);
      if (method === undefined && frame.id !== "invalid") {
        issue(entry, "protocol", `res id ${JSON.stringify(frame.id)} matches no request sent on this connection`);
      }
      if (frame.ok === false && frame.error === undefined) {
        issue(entry, "protocol", "res ok:false without an error object", { method });
      }
      if (frame.ok === true && frame.error !== undefined) {
        issue(entry, "protocol", "res ok:true carries an error object", { method });
      }
      if (frame.error !== undefined) {
        check(entry, "ErrorShape", frame.error, { basePath: "/error", method });
        const d = frame.error?.details;
        if (d && typeof d === "object" && GATEWAY_ERROR_DETAIL_CODES.has(d.code)) {
          check(entry, "GatewayErrorDetails", d, { basePath: "/error/details", method });
        }
      }
      if (frame.ok === true && method) {
        const payload = frame.payload;
        if (!(method in RESULT_DEFINITIONS)) {
          issue(entry, "result", `no result definition is mapped for ${method} (RESULT_DEFINITIONS in lib/frames.mjs)`, { method });
        } else if (method === "system-presence") {
          if (!Array.isArray(payload)) {
            issue(entry, "system-presence", "system-presence result is not an array", { method });
          } else {
            payload.forEach((p, i) => check(entry, "PresenceEntry", p, { basePath: `/payload/${i}`, method }));
          }
        } else if (RESULT_DEFINITIONS[method]) {
          check(entry, RESULT_DEFINITIONS[method], payload, { basePath: "/payload", method });
        }
      }
      continue;
    }

    // event
    report.see(`event:${frame.event}`);
    if (frame.event === "connect.challenge") {
      if (frame.seq !== undefined) issue(entry, "protocol", "connect.challenge must not carry seq");
      const p = frame.payload;
      if (!p || typeof p.nonce !== "string" || p.nonce.trim() === "") {
        issue(entry, "protocol", "connect.challenge payload.nonce must be a non-empty string");
      }
      if (!p || !Number.isSafeInteger(p.ts) || p.ts < 0) {
        issue(entry, "protocol", "connect.challenge payload.ts must be an integer >= 0 (epoch ms)");
      }
    } else if (frame.seq !== undefined) {
      if (lastSeq !== null && frame.seq <= lastSeq) {
        issue(entry, "protocol", `event seq ${frame.seq} is not greater than the previous seq ${lastSeq}`);
      }
      lastSeq = frame.seq;
    }

    const def = eventDefinitionFor(frame.event);
    if (def) check(entry, def, frame.payload, { basePath: "/payload" });
    if (frame.event === "presence") {
      const list = frame.payload?.presence;
      if (!Array.isArray(list)) {
        issue(entry, "presence", "presence event payload.presence is not an array");
      } else {
        list.forEach((p, i) => check(entry, "PresenceEntry", p, { basePath: `/payload/presence/${i}` }));
      }
    } else if (frame.event === "health") {
      check(entry, "Snapshot.health", frame.payload, { basePath: "/payload" });
    }
  }
  return report;
}

export function formatIssue(i) {
  const head = `✗ [${i.conn}] frame #${i.index}${i.t !== undefined ? ` (+${Math.round(i.t)} ms)` : ""} ${i.what}: ${i.message}`;
  const body = i.errorLines.map((l) => `    - ${l}`);
  return [head, ...body, `    frame: ${clip(i.frame, 4000)}`].join("\n");
}

export function formatClientIssue(i) {
  return [`✗ [${i.conn}] client frame #${i.index}: ${i.message}`, ...i.errorLines.map((l) => `    - ${l}`), `    frame: ${clip(i.frame, 2000)}`].join("\n");
}

export function formatReport(report, { maxIssues = 40 } = {}) {
  const shown = report.issues.slice(0, maxIssues).map(formatIssue);
  if (report.issues.length > maxIssues) shown.push(`… and ${report.issues.length - maxIssues} more issues`);
  return shown.join("\n\n");
}

export { hasDefinition };
