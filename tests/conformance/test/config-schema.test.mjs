// 3. The config schema as a standard validator reads it: what `clawgate config schema` prints
//    compiles under ajv in strict mode (draft-07; clawgate's x- annotations registered as
//    keywords that constrain nothing), and ajv and `clawgate config validate` agree on which
//    files are valid, so an editor using the schema tells a user what the gateway will say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Ajv from "ajv";
import { clawgateBin } from "../lib/gateway.mjs";

const ANNOTATIONS = ["x-clawgate", "x-clawgate-ignored", "x-sensitive", "x-clawgate-check", "x-clawgate-shorthand", "x-clawgate-account-of"];

function compile() {
  const schema = JSON.parse(execFileSync(clawgateBin(), ["config", "schema"], { encoding: "utf8" }));
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  for (const k of ANNOTATIONS) ajv.addKeyword(k);
  return ajv.compile(schema);
}

function validateWithClawgate(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clawgate-config-schema-"));
  const file = path.join(dir, "openclaw.json");
  fs.writeFileSync(file, JSON.stringify(config));
  const r = spawnSync(clawgateBin(), ["config", "validate", file], { encoding: "utf8" });
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

const VALID = [
  {},
  { gateway: { port: 19000, bind: "lan", auth: { mode: "token", token: "x" }, tailscale: { mode: "off" } } },
  { channels: { telegram: { allowFrom: [123, "tg:456"], groups: { "*": { requireMention: false, tools: {} } } }, discord: {} } },
  { agents: { defaults: { model: { primary: "openai/gpt-4o", fallbacks: [] }, workspace: "~/工作区 🦞" } } },
  { models: { providers: { ollama: { baseUrl: "http://127.0.0.1:11434/v1", models: [] } } }, logging: { level: "debug" } },
  {
    messages: {
      queue: { mode: "collect", byChannel: { telegram: "followup", pigeon: "collect" }, debounceMsByChannel: { telegram: 1500, webchat: 0 }, cap: 5, drop: "new" },
      ackReaction: "👀",
    },
    agents: { defaults: { maxConcurrent: 1024 } },
  },
  { channels: { telegram: { defaultAccount: "alpha", dmPolicy: "pairing", accounts: { alpha: { botToken: "1:a", groups: {} }, "Beta_2": { tokenFile: "/run/secrets/贝塔 🔑", dmPolicy: "open", allowFrom: ["*"] } } } } },
];
const INVALID = [
  { gatway: {} },
  { gateway: { port: 70000 } },
  { gateway: { auth: { mode: "magic" } } },
  { channels: { telegram: { dmPolicy: "everyone" } } },
  { channels: { telegram: { allowFrom: [true] } } },
  { session: { dmScope: 7 } },
  { agents: { defaults: { maxTokens: 0 } } },
  { models: { providers: { x: { api: "carrier-pigeon" } } } },
  { messages: { queue: { cap: 0 } } },
  { messages: { queue: { mode: "queue" } } },
  { messages: { queue: { byChannel: { telegram: "steering" } } } },
  { messages: { queue: { debounceMsByChannel: { "": 5 } } } },
  { messages: { queue: { debounceMsByChannel: { telegram: 600001 } } } },
  { messages: { queue: { debounceMs: 900 } } },
  { agents: { defaults: { maxConcurrent: 0 } } },
  { channels: { telegram: { accounts: { "bad id": { botToken: "1:a" } } } } },
  { channels: { telegram: { accounts: { "-a": {} } } } },
  { channels: { telegram: { accounts: { a: { dmPolicy: "everyone" } } } } },
  { channels: { telegram: { accounts: { a: { accounts: {} } } } } },
];

test("the printed schema compiles under ajv strict mode", () => {
  assert.equal(typeof compile(), "function");
});

test("ajv and `clawgate config validate` agree on valid and invalid files", () => {
  const validate = compile();
  for (const c of VALID) {
    assert.equal(validate(c), true, `ajv refuses ${JSON.stringify(c)}: ${JSON.stringify(validate.errors)}`);
    const r = validateWithClawgate(c);
    assert.equal(r.status, 0, `clawgate refuses ${JSON.stringify(c)}: ${r.stderr}`);
  }
  for (const c of INVALID) {
    assert.equal(validate(c), false, `ajv accepts ${JSON.stringify(c)}`);
    const r = validateWithClawgate(c);
    assert.equal(r.status, 78, `clawgate accepts ${JSON.stringify(c)}: ${r.stdout}${r.stderr}`);
  }
});
