// How a tool's schemas are listed (tools/list): every agent pays for that list in its context before
// it asks anything, so it says each thing once and briefly, in the JSON Schema every client reads.
// The zod schemas stay the contract: calls are validated by them, unchanged, and the README's
// tool reference is generated from their full descriptions.
//   - Input: a parameter's `brief` (zod meta), when it has one, is listed instead of its full
//     description; no `$schema` on every tool, and no bounds (lengths, ranges, patterns) that the
//     server checks itself with an error that says what to give instead.
//   - Output: the top level only (each field's name and type, and which are always there): enough
//     to read structuredContent by, and what the SDK validates results against is still the whole.
//   - No `"type": [T, "null"]` anywhere: clients that map schemas onto one type per node (Gemini's
//     OpenAPI subset) reject it; `anyOf` of single types says the same.
import type { StandardSchemaV1 } from '@modelcontextprotocol/server';
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

/** The listed input schema: briefs for descriptions, single types, no bounds the server checks. */
export function listedInput(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, { target: TARGET, io: 'input', unrepresentable: 'any' }) as Json;
  return walk(json, (n) => {
    const out: Json = { ...n };
    for (const key of CHECKED_NOT_LISTED) delete out[key];
    const brief = out['brief'];
    if (typeof brief === 'string') {
      out['description'] = brief;
      delete out['brief'];
    }
    return singleTypes(out);
  }) as Json;
}

/** A field's type alone: its single type, or the `anyOf` of its branches' types. */
function typeOnly(node: Json): Json {
  const type = node['type'];
  if (typeof type === 'string') return { type };
  if (Array.isArray(type)) return { anyOf: type.map((t: unknown) => ({ type: t })) };
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = node[key];
    if (Array.isArray(branches)) {
      const types = branches.map((b) => typeOnly(b as Json));
      // The same type twice (two object shapes) is said once.
      const unique = [...new Map(types.map((t) => [JSON.stringify(t), t])).values()];
      return unique.length === 1 ? (unique[0] as Json) : { anyOf: unique };
    }
  }
  if (node['enum'] !== undefined || node['const'] !== undefined) return { type: 'string' };
  return {};
}

/** The listed output schema: the top level's field names, their types, and which are required. */
export function listedOutput(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, { target: TARGET, io: 'output', unrepresentable: 'any' }) as Json;
  const properties = (json['properties'] ?? {}) as Record<string, Json>;
  return {
    type: 'object',
    properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, typeOnly(v)])),
    ...(Array.isArray(json['required']) ? { required: json['required'] } : {}),
  };
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
