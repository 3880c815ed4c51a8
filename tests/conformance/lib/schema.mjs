// Loads the published OpenClaw protocol schema (npm @openclaw/gateway-protocol,
// protocol.schema.json, JSON Schema draft-07) and validates values against its
// named definitions with ajv.
//
// Every definition in that file is fully inlined (no $ref), so each one is
// compiled on its own, lazily, the first time it is needed.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const protocolEntry = fileURLToPath(import.meta.resolve("@openclaw/gateway-protocol"));
// dist/index.mjs -> package root
export const SCHEMA_PATH = path.join(path.dirname(protocolEntry), "..", "protocol.schema.json");

export const schemaDoc = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
export const definitions = schemaDoc.definitions;

if (schemaDoc.$schema !== "http://json-schema.org/draft-07/schema#") {
  throw new Error(`unexpected $schema in ${SCHEMA_PATH}: ${schemaDoc.$schema}`);
}

// strict:false because the file carries annotation keywords ajv does not know
// ("x-openclaw-since", "discriminator"); they do not constrain values.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
addFormats(ajv);

const cache = new Map();

/** Synthetic definition names that are not top-level in the file. */
const SYNTHETIC = {
  // The health summary: no HealthResult / HealthEvent exists; the closest
  // published shape is the `health` property inside `Snapshot`.
  "Snapshot.health": () => definitions.Snapshot?.properties?.health,
};

export function hasDefinition(name) {
  return Boolean(SYNTHETIC[name]?.() ?? definitions[name]);
}

function getValidator(name) {
  let v = cache.get(name);
  if (v) return v;
  const schema = SYNTHETIC[name] ? SYNTHETIC[name]() : definitions[name];
  if (!schema) throw new Error(`schema definition not found: ${name}`);
  v = ajv.compile(schema);
  cache.set(name, v);
  return v;
}

/**
 * Validate `value` against definition `name`.
 * @returns {{ok: true} | {ok: false, errors: object[]}}
 */
export function validate(name, value) {
  const v = getValidator(name);
  if (v(value)) return { ok: true };
  return { ok: false, errors: v.errors.map((e) => ({ ...e })) };
}

/** method/event name -> Pascal stem, per V4_SCHEMA_EXCERPT §1 ("logs.tail" -> "LogsTail"). */
export function pascal(name) {
  return String(name)
    .split(/[.-]/)
    .map((p) => p.slice(0, 1).toUpperCase() + p.slice(1))
    .join("");
}

export function resultDefinitionFor(method) {
  // Most results are <Pascal>Result; a few are named <Pascal>Response (config.schema).
  for (const n of [`${pascal(method)}Result`, `${pascal(method)}Response`]) if (definitions[n]) return n;
  return null;
}

export function paramsDefinitionFor(method) {
  const n = `${pascal(method)}Params`;
  return definitions[n] ? n : null;
}

export function eventDefinitionFor(event) {
  const n = `${pascal(event)}Event`;
  return definitions[n] ? n : null;
}

/** Values of `details.code` that the schema describes (GatewayErrorDetails union). */
export const GATEWAY_ERROR_DETAIL_CODES = new Set(
  (definitions.GatewayErrorDetails?.anyOf ?? [])
    .map((s) => s?.properties?.code?.const)
    .filter((c) => typeof c === "string"),
);

// ---------------------------------------------------------------------------
// Failure formatting

function pointerGet(root, pointer) {
  if (!pointer) return root;
  let cur = root;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur == null || typeof cur !== "object") return undefined;
    cur = cur[key];
  }
  return cur;
}

export function clip(s, max = 1200) {
  const str = typeof s === "string" ? s : JSON.stringify(s);
  if (str === undefined) return "undefined";
  return str.length > max ? `${str.slice(0, max)}… (${str.length} chars)` : str;
}

/**
 * Human-readable ajv errors, one per line:
 *   <path in value>: <message> [extra] (schema <schemaPath>); value here: <json>
 */
export function formatAjvErrors(errors, value, { basePath = "" } = {}) {
  const lines = [];
  for (const e of errors) {
    let extra = "";
    if (e.keyword === "additionalProperties") extra = ` '${e.params.additionalProperty}'`;
    else if (e.keyword === "enum") extra = ` ${JSON.stringify(e.params.allowedValues)}`;
    else if (e.keyword === "const") extra = ` ${JSON.stringify(e.params.allowedValue)}`;
    else if (e.keyword === "required") extra = "";
    const at = `${basePath}${e.instancePath}` || "(root)";
    const here = pointerGet(value, e.instancePath);
    lines.push(`${at}: ${e.message}${extra}  [schema ${e.schemaPath}]  value here: ${clip(here, 300)}`);
  }
  return lines;
}
