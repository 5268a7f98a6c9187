/**
 * Checks of what clients send over the WebSocket, compiled from the protocol's schemas
 * (protocol/schema): the same ones the HTTP routes validate with, so both doors accept
 * exactly the same commands.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { ClientFrames, Commands } from '../../protocol/schema/index.js';

const ajv = new Ajv({ allErrors: false, strict: false });
const compile = (schemas: Record<string, TSchema>) => new Map(Object.entries(schemas).map(([k, s]) => [k, ajv.compile(s)]));
const compiledCommands = compile(Commands);
// A command frame is checked in two steps: the frame (its command any object), then the
// command against its own type's schema, so an unknown command type is `unknown_command`.
const compiledFrames = compile({
  ...ClientFrames,
  command: Type.Object({ type: Type.Literal('command'), id: ClientFrames.command.properties.id, command: Type.Object({}) }, { additionalProperties: false }),
});

export type Check = { ok: true } | { ok: false; code: 'unknown_command' | 'invalid_request'; message: string };

/** Checks a WebSocket frame's shape; for `command` frames, the command's too. */
export function checkFrame(frame: unknown): Check {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    return { ok: false, code: 'invalid_request', message: 'A frame must be a JSON object' };
  }
  const type = (frame as { type?: unknown }).type;
  const validate = typeof type === 'string' ? compiledFrames.get(type) : undefined;
  if (!validate) return { ok: false, code: 'unknown_command', message: `Unknown frame type ${describeValue(type)}` };
  if (!validate(frame)) return { ok: false, code: 'invalid_request', message: describe(validate.errors) };
  if (type === 'command') return checkCommand((frame as { command: unknown }).command);
  return { ok: true };
}

function checkCommand(command: unknown): Check {
  const type = (command as { type?: unknown } | null)?.type;
  const validate = typeof type === 'string' ? compiledCommands.get(type) : undefined;
  if (!validate) return { ok: false, code: 'unknown_command', message: `Unknown command type ${describeValue(type)}` };
  if (!validate(command)) return { ok: false, code: 'invalid_request', message: describe(validate.errors) };
  return { ok: true };
}

function describe(errors: Array<{ instancePath: string; message?: string }> | null | undefined): string {
  const e = errors?.[0];
  return e ? `${e.instancePath || 'frame'} ${e.message ?? 'is invalid'}` : 'invalid';
}

/**
 * Names a client's value in an error message without serializing it: a value can be
 * nested thousands deep (`JSON.stringify` overflows the stack) or be the whole frame.
 * Strings are quoted and cut; anything else is described by its kind.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}
