/**
 * JSON schemas of everything a client sends. HTTP routes validate bodies and queries with
 * them (and the OpenAPI document is generated from them); WebSocket frames are checked
 * against the same schemas, so both doors accept exactly the same commands.
 */
import { Ajv } from 'ajv';

const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
/** Text length is bounded again in bytes by the node (PARLEY_MAX_TEXT_BYTES). */
const text = { type: 'string', minLength: 1 } as const;
const emoji = { type: 'string', minLength: 1, maxLength: 64 } as const;
const seq = { type: 'integer', minimum: 0 } as const;
const format = { type: 'string', enum: ['plain', 'markdown'] } as const;

function object(properties: Record<string, unknown>, required: string[]) {
  return { type: 'object', properties, required, additionalProperties: false } as const;
}

/** Bodies of the HTTP routes (the conversation id comes from the path). */
export const bodies = {
  createConversation: object(
    { title: { type: 'string', minLength: 1, maxLength: 200 }, members: { type: 'array', items: id, maxItems: 1000 }, commandId: id },
    ['title', 'members'],
  ),
  addMember: object({ userId: id, commandId: id }, ['userId']),
  postMessage: object({ clientMessageId: id, text, format }, ['clientMessageId', 'text']),
  reaction: object({ emoji, commandId: id }, ['emoji']),
  markRead: object({ seq, commandId: id }, ['seq']),
  commandId: object({ commandId: id }, []),
} as const;

/** The `command` of a WebSocket command frame, one schema per type. */
const commandSchemas = {
  CreateConversation: object({ type: { const: 'CreateConversation' }, title: bodies.createConversation.properties.title, members: bodies.createConversation.properties.members }, ['type', 'title', 'members']),
  AddMember: object({ type: { const: 'AddMember' }, conversationId: id, userId: id }, ['type', 'conversationId', 'userId']),
  RemoveMember: object({ type: { const: 'RemoveMember' }, conversationId: id, userId: id }, ['type', 'conversationId', 'userId']),
  PostMessage: object({ type: { const: 'PostMessage' }, conversationId: id, text, format }, ['type', 'conversationId', 'text']),
  DeleteMessage: object({ type: { const: 'DeleteMessage' }, conversationId: id, messageId: id }, ['type', 'conversationId', 'messageId']),
  AddReaction: object({ type: { const: 'AddReaction' }, conversationId: id, messageId: id, emoji }, ['type', 'conversationId', 'messageId', 'emoji']),
  RemoveReaction: object({ type: { const: 'RemoveReaction' }, conversationId: id, messageId: id, emoji }, ['type', 'conversationId', 'messageId', 'emoji']),
  MarkRead: object({ type: { const: 'MarkRead' }, conversationId: id, seq }, ['type', 'conversationId', 'seq']),
} as const;

/** Client frames other than `command`, whose payload is checked per command type. */
const frameSchemas = {
  auth: object({ type: { const: 'auth' }, token: { type: 'string', maxLength: 4096 } }, ['type', 'token']),
  subscribe: object(
    {
      type: { const: 'subscribe' },
      conversations: {
        type: 'array',
        maxItems: 1000,
        items: object({ conversationId: id, afterSeq: seq }, ['conversationId', 'afterSeq']),
      },
    },
    ['type', 'conversations'],
  ),
  unsubscribe: object({ type: { const: 'unsubscribe' }, conversationIds: { type: 'array', items: id, maxItems: 1000 } }, ['type', 'conversationIds']),
  command: object({ type: { const: 'command' }, id, command: { type: 'object' } }, ['type', 'id', 'command']),
  typing: object({ type: { const: 'typing' }, conversationId: id }, ['type', 'conversationId']),
  ping: object({ type: { const: 'ping' }, id }, ['type']),
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const compiledCommands = new Map(Object.entries(commandSchemas).map(([k, s]) => [k, ajv.compile(s)]));
const compiledFrames = new Map(Object.entries(frameSchemas).map(([k, s]) => [k, ajv.compile(s)]));

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
