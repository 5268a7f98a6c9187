/**
 * A command sent over HTTP: its id (from the body, the Idempotency-Key header, or fresh)
 * and its run through the same handler as the WebSocket, logged under the request's id.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ParleyError, type Command } from '../../../protocol/index.js';
import type { CommandHandler } from '../command-handler.js';

/** What a route needs to append: the node's command handler, its entry point only. */
export type CommandRunner = Pick<CommandHandler, 'handle'>;

/**
 * The command id of a request: from the body, the Idempotency-Key header, or fresh. A
 * header longer than an id may be is refused, not cut: two keys that share their first
 * 200 characters are still two commands.
 */
export function commandIdOf(request: FastifyRequest, body?: { commandId?: string }): string {
  if (body?.commandId !== undefined) return body.commandId;
  const header = request.headers['idempotency-key'];
  if (typeof header !== 'string' || header.length === 0) return randomUUID();
  if (header.length > 200) throw new ParleyError('invalid_request', 'Idempotency-Key is longer than 200 characters');
  return header;
}

/**
 * Runs the caller's command. The request id is the correlation id: it is in every log
 * line of the request (reqId) and in the metadata of the events the command appends.
 */
export async function runCommand(commands: CommandRunner, request: FastifyRequest, command: Command, commandId: string) {
  try {
    const o = await commands.handle(request.user.sub, command, commandId, request.id);
    // Debug, as over the socket: one line per command is hot-path work (counts are in parley_commands_total).
    request.log.debug({ command: command.type, commandId, seq: o.result.seq, duplicate: o.duplicate }, 'command handled');
    return o;
  } catch (err) {
    request.log.debug({ command: command.type, commandId, code: (err as { code?: string }).code }, 'command refused');
    throw err;
  }
}
