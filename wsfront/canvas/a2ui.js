// clawgate's minimal A2UI renderer, served as /__openclaw__/a2ui/a2ui.bundle.js (A2UI v0.8) and
// /__openclaw__/a2ui/a2ui-v0.9.bundle.js (v0.9); one file reads both dialects.
// It renders the messages in globalThis.openclawA2UIBoot.messages (as OpenClaw's composed widget
// documents set them) into <openclaw-a2ui-host>, and takes more through
// globalThis.openclawA2UI.applyMessages([...]). Components: Text, Heading, Column, Row, List,
// Card, Button, Image, Icon, Divider; any other is shown as a labelled placeholder. Values are
// literals or data-model paths. Everything is built with DOM calls and textContent (no HTML
// parsing of message content); image URLs must be http(s), data:image or relative.
// A button dispatches the DOM event "openclaw-a2ui-action" ({surfaceId, name, context}) on its
// host: this host has no channel back to the agent.
(() => {
  "use strict";
  if (globalThis.openclawA2UI) return;
  const MAX_DEPTH = 64;
  const MAX_NODES = 5000;
  const surfaces = new Map(); // surfaceId -> {components: Map, root, data, version}

  const surface = (id, version) => {
    let s = surfaces.get(id);
    if (!s) {
      s = { components: new Map(), root: null, data: {}, version: version || "v0.8" };
      surfaces.set(id, s);
    }
    return s;
  };

  const pathParts = (path) =>
    String(path || "")
      .split(/[/.]/)
      .filter((p) => p !== "");

  const lookup = (data, path) => {
    let v = data;
    for (const p of pathParts(path)) {
      if (v === null || typeof v !== "object" || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
      v = v[p];
    }
    return v;
  };

  const store = (data, path, value) => {
    const parts = pathParts(path);
    if (parts.length === 0) return value && typeof value === "object" ? value : data;
    let o = data;
    for (const p of parts.slice(0, -1)) {
      if (p === "__proto__" || p === "constructor") return data;
      if (o[p] === null || typeof o[p] !== "object") o[p] = {};
      o = o[p];
    }
    const last = parts[parts.length - 1];
    if (last !== "__proto__" && last !== "constructor") o[last] = value;
    return data;
  };

  // v0.8 contents: [{key, valueString|valueNumber|valueBoolean|valueMap: [...]}]
  const fromContents = (contents) => {
    const out = {};
    for (const c of Array.isArray(contents) ? contents : []) {
      if (!c || typeof c.key !== "string") continue;
      if ("valueString" in c) out[c.key] = c.valueString;
      else if ("valueNumber" in c) out[c.key] = c.valueNumber;
      else if ("valueBoolean" in c) out[c.key] = c.valueBoolean;
      else if ("valueMap" in c) out[c.key] = fromContents(c.valueMap);
    }
    return out;
  };

  // A bound value: a literal (v0.9 plain, v0.8 literalString/Number/Boolean) or {path}.
  const value = (v, s, scope) => {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== "object") return v;
    if ("literalString" in v) return v.literalString;
    if ("literalNumber" in v) return v.literalNumber;
    if ("literalBoolean" in v) return v.literalBoolean;
    if ("literal" in v) return v.literal;
    if (typeof v.path === "string") {
      const rel = scope !== undefined && !v.path.startsWith("/") ? lookup(scope, v.path) : undefined;
      return rel !== undefined ? rel : lookup(s.data, v.path);
    }
    return undefined;
  };
  const text = (v, s, scope) => {
    const x = value(v, s, scope);
    return x === undefined || x === null ? "" : typeof x === "object" ? JSON.stringify(x) : String(x);
  };

  // {type, props} from either dialect's component definition.
  const normalize = (def) => {
    if (!def || typeof def !== "object") return null;
    if (typeof def.component === "string") return { type: def.component, props: def };
    if (def.component && typeof def.component === "object") {
      const type = Object.keys(def.component)[0];
      return type ? { type, props: def.component[type] || {} } : null;
    }
    return null;
  };

  const childIds = (props, s) => {
    const c = props.children;
    if (Array.isArray(c)) return c.map((id) => ({ id }));
    if (c && Array.isArray(c.explicitList)) return c.explicitList.map((id) => ({ id }));
    const tpl = c && (c.template || (typeof c.componentId === "string" ? c : null));
    if (tpl) {
      const list = lookup(s.data, tpl.dataBinding || tpl.path);
      const items = Array.isArray(list) ? list : list && typeof list === "object" ? Object.values(list) : [];
      return items.slice(0, 1000).map((scope) => ({ id: tpl.componentId, scope }));
    }
    return typeof props.child === "string" ? [{ id: props.child }] : [];
  };

  const safeUrl = (u) => {
    const url = String(u || "");
    if (/^data:image\//i.test(url)) return url;
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : "";
    } catch {
      return "";
    }
  };

  function build(s, surfaceId, id, scope, depth, budget) {
    if (depth > MAX_DEPTH || budget.n++ > MAX_NODES) return document.createTextNode("");
    const c = normalize(s.components.get(id));
    if (!c) {
      const missing = document.createElement("div");
      missing.className = "a2ui-missing";
      missing.dataset.componentId = String(id);
      return missing;
    }
    const p = c.props;
    let el;
    const kids = () => {
      for (const k of childIds(p, s)) el.appendChild(build(s, surfaceId, k.id, k.scope ?? scope, depth + 1, budget));
    };
    switch (c.type) {
      case "Text":
      case "Heading": {
        const hint = String(p.usageHint || p.variant || (c.type === "Heading" ? "h2" : "body"));
        el = document.createElement(/^h[1-5]$/.test(hint) ? hint : hint === "caption" ? "small" : "p");
        el.textContent = text(p.text, s, scope);
        break;
      }
      case "Column":
      case "Row":
      case "List":
        el = document.createElement("div");
        el.style.display = "flex";
        el.style.flexDirection = c.type === "Row" || p.direction === "horizontal" ? "row" : "column";
        el.style.gap = "8px";
        kids();
        break;
      case "Card":
        el = document.createElement("div");
        el.style.cssText = "border:1px solid #ddd;border-radius:8px;padding:12px";
        kids();
        break;
      case "Button": {
        el = document.createElement("button");
        el.type = "button";
        kids();
        if (!el.childNodes.length) el.textContent = text(p.label ?? p.text, s, scope) || "Button";
        const action = p.action || {};
        const name = action.name || (action.event && action.event.name) || "";
        el.addEventListener("click", () => {
          const context = {};
          const ctx = action.context || (action.event && action.event.context) || {};
          if (Array.isArray(ctx)) for (const e of ctx) context[e.key] = value(e.value, s, scope);
          else for (const [k, v] of Object.entries(ctx)) context[k] = value(v, s, scope);
          el.dispatchEvent(new CustomEvent("openclaw-a2ui-action", { bubbles: true, detail: { surfaceId, name, context } }));
        });
        break;
      }
      case "Image": {
        el = document.createElement("img");
        const src = safeUrl(value(p.url ?? p.src, s, scope));
        if (src) el.src = src;
        el.alt = text(p.altText ?? p.description, s, scope);
        el.style.maxWidth = "100%";
        break;
      }
      case "Icon":
        el = document.createElement("span");
        el.className = "a2ui-icon";
        el.textContent = text(p.name, s, scope);
        break;
      case "Divider":
        el = document.createElement("hr");
        break;
      default:
        el = document.createElement("div");
        el.className = "a2ui-unsupported";
        el.textContent = `[${c.type}]`;
    }
    el.dataset.a2uiId = String(id);
    el.dataset.a2uiComponent = c.type;
    return el;
  }

  const hostElement = () => {
    let host = document.querySelector("openclaw-a2ui-host");
    if (!host) {
      host = document.createElement("openclaw-a2ui-host");
      document.body.appendChild(host);
    }
    return host;
  };

  function render(surfaceId) {
    if (!document.body) return;
    const host = hostElement();
    let box = [...host.children].find((e) => e.dataset.surfaceId === surfaceId);
    const s = surfaces.get(surfaceId);
    if (!s) {
      if (box) box.remove();
      return;
    }
    const root = s.root || (s.components.has("root") ? "root" : null);
    if (!root) return;
    if (!box) {
      box = document.createElement("section");
      box.dataset.surfaceId = surfaceId;
      host.appendChild(box);
    }
    box.replaceChildren(build(s, surfaceId, root, undefined, 0, { n: 0 }));
  }

  function applyOne(m) {
    if (!m || typeof m !== "object") return null;
    const v9 = m.version === "v0.9" || m.version === "v0.9.1";
    const body =
      m.surfaceUpdate || m.beginRendering || m.dataModelUpdate || m.deleteSurface ||
      m.createSurface || m.updateComponents || m.updateDataModel;
    if (!body || typeof body.surfaceId !== "string") return null;
    const id = body.surfaceId;
    if (m.deleteSurface) {
      surfaces.delete(id);
      return id;
    }
    const s = surface(id, v9 ? "v0.9" : "v0.8");
    if (m.surfaceUpdate || m.updateComponents) {
      for (const def of Array.isArray(body.components) ? body.components : [])
        if (def && typeof def.id === "string") s.components.set(def.id, def);
    } else if (m.beginRendering) {
      if (typeof body.root === "string") s.root = body.root;
    } else if (m.dataModelUpdate) {
      const contents = fromContents(body.contents);
      s.data = body.path ? store(s.data, body.path, contents) : Object.assign(s.data, contents);
    } else if (m.updateDataModel) {
      s.data = body.path ? store(s.data, body.path, body.value) : body.value && typeof body.value === "object" ? body.value : {};
    }
    return id;
  }

  function applyMessages(messages) {
    const touched = new Set();
    for (const m of Array.isArray(messages) ? messages : []) {
      const id = applyOne(m);
      if (id !== null) touched.add(id);
    }
    for (const id of touched) render(id);
  }

  if (globalThis.customElements && !customElements.get("openclaw-a2ui-host")) {
    customElements.define("openclaw-a2ui-host", class extends HTMLElement {});
  }
  globalThis.openclawA2UI = {
    applyMessages,
    reset() {
      surfaces.clear();
      for (const h of document.querySelectorAll("openclaw-a2ui-host")) h.replaceChildren();
    },
    surfaceIds: () => [...surfaces.keys()],
  };
  const boot = () => applyMessages(globalThis.openclawA2UIBoot && globalThis.openclawA2UIBoot.messages);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot, { once: true });
  else boot();
})();
