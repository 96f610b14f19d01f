// How a tool's schemas are listed (tools/list): every agent pays for that list in its context before
// it asks anything, so it says each thing once and briefly, in the JSON Schema every client reads.
// The zod schemas stay the contract: calls are validated by them, unchanged, and the README's
// tool reference is generated from their full descriptions.
//   - Input: a parameter's `brief` (zod meta), when it has one, is listed instead of its full
//     description; no `$schema` on every tool, and no bounds (lengths, ranges, patterns) that the
//     server checks itself with an error that says what to give instead.
//   - A parameter's `listed` (zod meta) replaces keys of its listed form, a null leaving the key out:
//     `{ default: null }` for a default the instructions give, or a simpler type than the one the
//     server takes (a pid listed as a string, which the server also takes as digits).
//   - A parameter whose brief is '' is listed with no description: its name says it, and the
//     server's instructions say once what the shared ones (source, paging, decoding) mean. Below
//     the top level (an object parameter's fields), only briefs are listed.
//   - Output: an object. What the SDK validates results against is still the whole schema, and
//     sharkmcp://reference/tools gives each field with its type.
//   - Annotations: only the hints that say something: not those at the specification's default,
//     nor the destructive and idempotent hints of a read-only tool.
//   - No `"type": [T, "null"]` anywhere: clients that map schemas onto one type per node (Gemini's
//     OpenAPI subset) reject it; `anyOf` of single types says the same.
import type { StandardSchemaV1, ToolAnnotations } from '@modelcontextprotocol/server';
import * as z from 'zod';

type Json = Record<string, unknown>;

const TARGET = 'draft-2020-12';

/** A node with `"type": [A, B]` rewritten as `anyOf` of single types (other keys on the first). */
function singleTypes(node: Json): Json {
  const type = node['type'];
  if (!Array.isArray(type)) return node;
  const rest: Json = { ...node };
  delete rest['type'];
  const branches = type.map((t: unknown, i) => (i === 0 ? { type: t, ...rest } : { type: t }));
  return { anyOf: branches };
}

/** Keys whose value maps names to schemas (a parameter may be called "format" or "pattern"). */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions', 'patternProperties']);

/** Every schema node of a JSON Schema rewritten by `fix`, children first. */
function walk(node: unknown, fix: (n: Json) => Json, isMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => walk(n, fix));
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = walk(v, fix, !isMap && SCHEMA_MAPS.has(k));
  return isMap ? out : fix(out);
}

/**
 * Bounds the server checks itself, with an error that says what to give instead: listed, they
 * would cost every agent their bytes on every parameter for a mistake it rarely makes.
 */
const CHECKED_NOT_LISTED = [
  '$schema',
  'additionalProperties',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'pattern',
  'format',
] as const;

/**
 * Below a parameter (the fields of an object or array parameter), only briefs are listed: the
 * field names of a saved configuration or a remote host say what they are.
 */
function briefsOnlyBelow(node: unknown, depth: number, isMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => briefsOnlyBelow(n, depth));
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  const bare = !isMap && depth > 1 && typeof (node as Json)['brief'] !== 'string';
  for (const [k, v] of Object.entries(node)) {
    if (bare && k === 'description') continue;
    const map = !isMap && SCHEMA_MAPS.has(k);
    out[k] = briefsOnlyBelow(v, map ? depth + 1 : depth, map);
  }
  return out;
}

/**
 * The listed input schema: briefs for descriptions, single types, no bounds the server checks, and
 * no `default: false` (an optional switch is off unless given).
 */
export function listedInput(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, { target: TARGET, io: 'input', unrepresentable: 'any' }) as Json;
  return walk(briefsOnlyBelow(json, 0), (n) => {
    const out: Json = { ...n };
    for (const key of CHECKED_NOT_LISTED) delete out[key];
    if (out['default'] === false) delete out['default'];
    const listed = out['listed'];
    if (listed !== null && typeof listed === 'object') {
      for (const [key, value] of Object.entries(listed)) {
        if (value === null) delete out[key];
        else out[key] = value;
      }
      delete out['listed'];
    }
    const brief = out['brief'];
    if (typeof brief === 'string') {
      if (brief === '') delete out['description'];
      else out['description'] = brief;
      delete out['brief'];
    }
    return singleTypes(out);
  }) as Json;
}

/**
 * The listed output schema: an object. Its fields, typed, would cost every agent about 3 KB of the
 * list (the Inspector's strict check rightly refuses untyped ones), while clients validate the
 * result by it and agents read the text; sharkmcp://reference/tools names every field and type.
 */
export const LISTED_OUTPUT: Json = { type: 'object' };

/** What the MCP specification says a client assumes of a hint left out. */
const HINT_DEFAULTS: Partial<Record<keyof ToolAnnotations, unknown>> = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

/**
 * The hints a client reads, each only where it says something: not a hint's default (which the
 * client assumes), nor the destructive and idempotent hints of a read-only tool.
 */
export function listedAnnotations(annotations: ToolAnnotations): ToolAnnotations {
  const listed: ToolAnnotations = {};
  for (const [key, value] of Object.entries(annotations) as Array<[keyof ToolAnnotations, unknown]>) {
    const meaningless =
      annotations.readOnlyHint === true && (key === 'destructiveHint' || key === 'idempotentHint');
    if (!meaningless && value !== HINT_DEFAULTS[key]) Object.assign(listed, { [key]: value });
  }
  return listed;
}

/**
 * `schema`, validated as it is, but listed as `listed` says: a schema whose Standard Schema
 * interface gives the SDK that JSON Schema (it asks `~standard.jsonSchema` before converting zod).
 */
export function listedAs<T extends z.ZodType>(schema: T, listed: Json): T {
  const standard = schema['~standard'] as StandardSchemaV1['~standard'];
  const copy = Object.create(schema) as T;
  Object.defineProperty(copy, '~standard', {
    value: { ...standard, jsonSchema: { input: () => listed, output: () => listed } },
  });
  return copy;
}
