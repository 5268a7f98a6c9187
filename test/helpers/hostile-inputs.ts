/**
 * Hostile JSON for fuzz tests: the strings, numbers and shapes that have taken chat
 * servers down (prototype keys used as ids or emoji, lone surrogates, NUL, nesting deep
 * enough to overflow a recursive walk, numbers JSON.parse turns into Infinity or -0,
 * duplicate keys, giant arrays), and a mutator that turns a valid request into a hostile
 * one. Everything is drawn from a seeded `Random`, so a failing input can be replayed.
 *
 * Output is JSON *text*, not values: `1e309`, duplicate keys and 10,000-level nesting
 * cannot be expressed as a JavaScript value and serialized by JSON.stringify.
 */
import type { Random } from './seeded-random.js';

/** A piece of JSON text inserted verbatim by `toJsonText`. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object with repeated keys, in order (JSON allows it; parsers keep the last). */
export class DuplicateKeys {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

/** Keys that exist on every plain object's prototype chain. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype', 'isPrototypeOf', '__defineGetter__'];

/** Strings worth trying wherever a string goes: ids, titles, emoji, texts, queries. */
export const HOSTILE_STRINGS: readonly string[] = [
  ...PROTOTYPE_KEYS,
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '%00',
  '\ud800',
  '\udfff',
  'x\ud83d',
  '\ude00y',
  '👍',
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  '👍🏽',
  '\u202e\u2066evil',
  'e\u0301',
  '\ufeff',
  '\uffff',
  '<script>alert(1)</script>',
  "'); DROP TABLE events;--",
  '" OR 1=1 --',
  '"',
  '*',
  'NEAR(a b)',
  'a OR b',
  '-',
  '^',
  '../../../etc/passwd',
  '..%2f..%2f',
  '%',
  '%zz',
  '?',
  '#',
  '/',
  ':',
  'u:1',
  '1:hello',
  'a'.repeat(64),
  'a'.repeat(65),
  'a'.repeat(200),
  'a'.repeat(201),
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '00000000-0000-0000-0000-000000000000',
  '\r\nX-Injected: 1',
  '\t\n\v\f',
];

/** Numbers as JSON text, including ones JSON.parse maps to Infinity, -0 or rounds. */
export const HOSTILE_NUMBERS: readonly string[] = [
  '0',
  '-0',
  '-1',
  '1.5',
  '1e309',
  '-1e309',
  '1e-400',
  '9007199254740993',
  '18446744073709551616',
  '2147483648',
  '4294967296',
  '1e21',
  '0.0000001',
  '"NaN"',
  '"Infinity"',
  '"-0"',
  '"1"',
  '"1e309"',
  'true',
  'null',
];

/** A random string: a known hostile one, random code points (surrogates included), or a big one. */
export function hostileString(rng: Random, maxBytes = 2048): string {
  return rng.weighted<() => string>([
    [6, () => rng.pick(HOSTILE_STRINGS)],
    [2, () => randomCodePoints(rng, rng.between(1, 40))],
    [1, () => rng.pick(HOSTILE_STRINGS).repeat(rng.between(2, 50))],
    [1, () => bigString(rng, rng.between(1, Math.max(1, maxBytes)))],
  ])();
}

/** `n` random UTF-16 code units drawn from ranges that break things: controls, surrogates, RTL, emoji halves. */
export function randomCodePoints(rng: Random, n: number): string {
  const ranges: Array<[number, number]> = [
    [0x00, 0x1f],
    [0x20, 0x7e],
    [0x80, 0x2ff],
    [0x200b, 0x206f],
    [0xd800, 0xdfff],
    [0xfff0, 0xffff],
    [0x4e00, 0x4e80],
  ];
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = rng.pick(ranges);
    s += String.fromCharCode(rng.between(lo, hi));
  }
  return s;
}

/** A string of roughly `bytes` UTF-8 bytes. */
export function bigString(rng: Random, bytes: number): string {
  const unit = rng.pick(['x', 'é', '🙂', '\u0000', 'ab"\\']);
  const unitBytes = Buffer.byteLength(unit);
  return unit.repeat(Math.max(1, Math.floor(bytes / unitBytes)));
}

/** JSON text nested `levels` deep: arrays, objects, or a mix. */
export function deepNesting(rng: Random, levels: number): RawJson {
  return rng.weighted<() => RawJson>([
    [3, () => new RawJson('['.repeat(levels) + ']'.repeat(levels))],
    [2, () => new RawJson('{"a":'.repeat(levels) + '1' + '}'.repeat(levels))],
    [1, () => new RawJson('[{"type":'.repeat(levels) + '0' + '}]'.repeat(levels))],
    // Unbalanced: the parser must refuse it without recursing to the end.
    [1, () => new RawJson('['.repeat(levels))],
  ])();
}

/** Any JSON value, hostile where possible, bounded in size. */
export function hostileValue(rng: Random, depth = 0): unknown {
  return rng.weighted<() => unknown>([
    [4, () => hostileString(rng, 512)],
    [3, () => new RawJson(rng.pick(HOSTILE_NUMBERS))],
    [1, () => rng.pick([true, false, null])],
    [1, () => (depth > 2 ? [] : Array.from({ length: rng.between(0, 4) }, () => hostileValue(rng, depth + 1)))],
    [1, () => (depth > 2 ? {} : Object.fromEntries(Array.from({ length: rng.between(0, 3) }, () => [rng.pick(HOSTILE_STRINGS), hostileValue(rng, depth + 1)])))],
    [1, () => deepNesting(rng, rng.pick([100, 1000, 6000, 20_000]))],
    [1, () => new RawJson('[' + Array.from({ length: rng.pick([1000, 10_000]) }, () => '0').join(',') + ']')],
  ])();
}

/** Serializes, with `RawJson` verbatim and `DuplicateKeys` as an object with repeated keys. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof DuplicateKeys) return '{' + value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',') + '}';
  if (Array.isArray(value)) return '[' + value.map((v) => toJsonText(v)).join(',') + ']';
  if (value !== null && typeof value === 'object') {
    // Own keys only, and `__proto__` written as a key (an object literal would set the prototype instead).
    return '{' + Object.keys(value).map((k) => `${JSON.stringify(k)}:${toJsonText((value as Record<string, unknown>)[k])}`).join(',') + '}';
  }
  if (value === undefined) return 'null';
  return JSON.stringify(value);
}

/** A plain object with `key` set as an own property, even for `__proto__`. */
export function withKey(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) Object.defineProperty(out, k, { value: obj[k], enumerable: true, writable: true, configurable: true });
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** A mutated copy of `valid` (a JSON object), as JSON text, and what was done (for failure messages). */
export function mutate(rng: Random, valid: Record<string, unknown>): { text: string; how: string } {
  const keys = Object.keys(valid);
  const key = keys.length > 0 ? rng.pick(keys) : 'type';
  const kind = rng.weighted<string>([
    [8, 'hostile-string'],
    [5, 'wrong-type'],
    [3, 'hostile-number'],
    [2, 'drop-field'],
    [3, 'extra-key'],
    [2, 'duplicate-key'],
    [2, 'deep-nesting-field'],
    [1, 'deep-nesting-type'],
    [1, 'deep-nesting-whole'],
    [2, 'giant-array'],
    [2, 'nested'],
    [1, 'truncated'],
    [1, 'not-an-object'],
    [1, 'huge-string'],
    [4, 'valid'],
  ]);
  const out: Record<string, unknown> = { ...valid };
  switch (kind) {
    case 'hostile-string':
      out[key] = hostileString(rng);
      break;
    case 'wrong-type':
      out[key] = rng.pick<unknown>([0, -1, true, null, [], {}, [valid[key]], { value: valid[key] }, String(valid[key])]);
      break;
    case 'hostile-number':
      out[key] = new RawJson(rng.pick(HOSTILE_NUMBERS));
      break;
    case 'drop-field':
      delete out[key];
      break;
    case 'extra-key':
      return { text: toJsonText(withKey(out, rng.pick([...PROTOTYPE_KEYS, ...HOSTILE_STRINGS]), hostileValue(rng))), how: kind };
    case 'duplicate-key':
      return { text: toJsonText(new DuplicateKeys([...Object.entries(out), [key, hostileValue(rng)], [key, valid[key]]])), how: kind };
    case 'deep-nesting-field':
      out[key] = deepNesting(rng, rng.pick([1000, 6000, 20_000]));
      break;
    case 'deep-nesting-type':
      out.type = deepNesting(rng, rng.pick([3000, 6000, 20_000]));
      break;
    case 'deep-nesting-whole':
      return { text: deepNesting(rng, rng.pick([6000, 30_000])).text, how: kind };
    case 'giant-array': {
      const item = Array.isArray(valid[key]) && (valid[key] as unknown[]).length > 0 ? (valid[key] as unknown[])[0] : valid[key];
      out[key] = Array.from({ length: rng.pick([100, 1000, 5000]) }, () => item);
      break;
    }
    case 'nested': {
      const inner = valid[key];
      if (inner && typeof inner === 'object' && !Array.isArray(inner)) out[key] = new RawJson(mutate(rng, inner as Record<string, unknown>).text);
      else if (Array.isArray(inner) && inner.length > 0 && inner[0] && typeof inner[0] === 'object') {
        out[key] = inner.map((x) => new RawJson(mutate(rng, x as Record<string, unknown>).text));
      } else out[key] = hostileValue(rng);
      break;
    }
    case 'truncated': {
      const text = toJsonText(out);
      return { text: text.slice(0, rng.int(text.length)), how: kind };
    }
    case 'not-an-object':
      return { text: toJsonText(rng.pick<unknown>([[valid], 'frame', 42, null, true, [], new RawJson('1e309')])), how: kind };
    case 'huge-string':
      out[key] = bigString(rng, rng.pick([16 * 1024, 60 * 1024, 70 * 1024]));
      break;
    case 'valid':
      break;
  }
  return { text: toJsonText(out), how: `${kind}:${key}` };
}

/** A JSON schema (as in the OpenAPI document) the generator understands. */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  default?: unknown;
}

/**
 * A value valid for `schema`, its strings drawn from `strings` when they fit (so ids can
 * be real ones), else made up.
 */
export function valueFromSchema(rng: Random, schema: Schema, strings: (name: string) => string | undefined = () => undefined, name = ''): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return rng.pick(schema.enum);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(k) || rng.chance(0.5)) out[k] = valueFromSchema(rng, s, strings, k);
      }
      return out;
    }
    case 'array':
      return Array.from({ length: Math.min(schema.maxItems ?? 3, rng.between(0, 3)) }, () => valueFromSchema(rng, schema.items ?? {}, strings, name));
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? 0;
      const max = schema.maximum ?? min + 100;
      return rng.between(min, max);
    }
    case 'boolean':
      return rng.chance(0.5);
    case 'string':
    default: {
      const given = strings(name);
      const min = schema.minLength ?? 0;
      const max = schema.maxLength ?? 64;
      if (given !== undefined && given.length >= min && given.length <= max) return given;
      return 'v'.repeat(Math.max(min, Math.min(max, rng.between(1, 12))));
    }
  }
}
