// Headless Chromium for the WebChat test, driven by playwright-core (which downloads no browser):
// Debian's /usr/bin/chromium, or $CLAWGATE_CHROMIUM. run.sh installs the `chromium` package when it
// is missing and it can (root or password-less sudo).
//
// recordPageSockets() copies every WebSocket frame a page sends/receives into the frame recorder's
// `connections`, so registerFrameConformanceTest also validates what clawgate sent to the browser.

import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { connections } from "./recorder.mjs";

export const CHROMIUM_CANDIDATES = [process.env.CLAWGATE_CHROMIUM, "/usr/bin/chromium"].filter(Boolean);

/** Path of a Chromium executable, or null. */
export function findChromium() {
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export function launchChromium(executablePath) {
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"], timeout: 30_000 });
}

/** Record the page's WebSocket traffic as recorder connections labelled `${label} #n`. */
export function recordPageSockets(page, label) {
  page.on("websocket", (ws) => {
    const t0 = performance.now();
    const c = {
      id: connections.length + 1,
      label: `${label} #${connections.length + 1}`,
      url: ws.url(),
      t0,
      transcript: [],
      close: null,
      errors: [],
    };
    connections.push(c);
    const entry = (dir, payload) => {
      const binary = typeof payload !== "string";
      const text = binary ? Buffer.from(payload).toString("utf8") : payload;
      const e = { dir, t: performance.now() - t0, binary };
      try {
        e.frame = JSON.parse(text);
      } catch {
        e.text = text;
      }
      c.transcript.push(e);
    };
    ws.on("framesent", ({ payload }) => entry("sent", payload));
    ws.on("framereceived", ({ payload }) => entry("recv", payload));
    ws.on("socketerror", (err) => c.errors.push(String(err)));
    ws.on("close", () => {
      c.close = { code: null, reason: "(not reported by the browser)", t: performance.now() - t0 };
    });
  });
}
