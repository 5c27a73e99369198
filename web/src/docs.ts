// The API page (/docs): renders the relay's /openapi.json with the page's own code, so
// no third-party viewer (or CDN) is needed.

import { byId } from "./shared.js";

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  description?: string;
  format?: string;
  enum?: unknown[];
  oneOf?: Schema[];
  allOf?: Schema[];
}

interface OperationObject {
  summary?: string;
  description?: string;
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
  security?: Record<string, string[]>[];
}

interface OpenApi {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, Schema> };
}

const root = byId("api");

void load();

async function load(): Promise<void> {
  try {
    const res = await fetch("/openapi.json", { signal: AbortSignal.timeout(10_000) });
    render((await res.json()) as OpenApi);
  } catch (err) {
    root.textContent = `Could not load /openapi.json: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className !== undefined) e.className = className;
  return e;
}

function render(api: OpenApi): void {
  const header = el("header");
  header.append(el("h1", `${api.info.title} ${api.info.version}`));
  if (api.info.description !== undefined) header.append(el("p", api.info.description));
  const raw = el("a", "The raw document: /openapi.json");
  raw.href = "/openapi.json";
  header.append(raw);
  root.replaceChildren(header);
  const schemas: Record<string, Schema | undefined> = api.components?.schemas ?? {};
  for (const [path, methods] of Object.entries(api.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = el("section", undefined, "api-op");
      const h = el("h2");
      h.append(el("span", method.toUpperCase(), `api-method api-${method}`), " ", el("code", path));
      section.append(h);
      if (op.summary !== undefined) section.append(el("p", op.summary));
      if (op.description !== undefined && op.description !== op.summary) section.append(el("p", op.description));
      if (op.security !== undefined && op.security.length > 0) {
        section.append(el("p", `Authorization: ${op.security.map((s) => Object.keys(s).join(" + ") || "none").join(" or ")}`));
      }
      if (op.parameters !== undefined && op.parameters.length > 0) {
        section.append(el("h3", "Parameters"));
        const ul = el("ul");
        for (const p of op.parameters) {
          ul.append(el("li", `${p.name} (${p.in}${p.required === true ? ", required" : ""})${p.description === undefined ? "" : `: ${p.description}`}`));
        }
        section.append(ul);
      }
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        section.append(el("h3", `Request body (${type})`));
        section.append(el("pre", describe(media.schema, schemas, 0)));
      }
      section.append(el("h3", "Responses"));
      const ul = el("ul");
      for (const [status, r] of Object.entries(op.responses ?? {})) {
        const li = el("li", `${status}${r.description === undefined || r.description === "" ? "" : `: ${r.description}`}`);
        for (const media of Object.values(r.content ?? {})) li.append(el("pre", describe(media.schema, schemas, 0)));
        ul.append(li);
      }
      section.append(ul);
      root.append(section);
    }
  }
}

/** A schema as indented text, following `$ref`s a few levels deep. */
function describe(schema: Schema | undefined, schemas: Record<string, Schema | undefined>, depth: number): string {
  if (schema === undefined) return "any";
  const pad = "  ".repeat(depth);
  if (schema.$ref !== undefined) {
    const name = schema.$ref.slice(schema.$ref.lastIndexOf("/") + 1);
    const target = schemas[name];
    return depth > 3 || target === undefined ? name : `${name} ${describe(target, schemas, depth)}`;
  }
  if (schema.properties !== undefined) {
    const required = new Set(schema.required ?? []);
    const lines = Object.entries(schema.properties).map(([key, value]) => {
      const note = value.description === undefined ? "" : `  // ${value.description}`;
      return `${pad}  ${key}${required.has(key) ? "" : "?"}: ${describe(value, schemas, depth + 1)}${note}`;
    });
    return `{\n${lines.join("\n")}\n${pad}}`;
  }
  if (schema.items !== undefined) return `[${describe(schema.items, schemas, depth)}]`;
  if (schema.enum !== undefined) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const variants = schema.oneOf ?? schema.allOf;
  if (variants !== undefined) return variants.map((v) => describe(v, schemas, depth)).join(" | ");
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type ?? "any");
  return schema.format === undefined ? type : `${type} (${schema.format})`;
}
