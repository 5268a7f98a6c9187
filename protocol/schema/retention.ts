/**
 * Retention and erasure (issue 15): a conversation's retention period, an author erasing
 * their own message's content, and the node's sweep that expires content past the period.
 * The events stay in the log (seqs stay dense); what they redact loses its content
 * everywhere it is served (engine/domain/redaction.ts says what "redacted" means).
 */
import { Type } from '@sinclair/typebox';
import { EpochMs, Id, Seq, Strict } from './primitives.js';

/** Ten years: long enough for any policy, short enough that `now - period` stays a date. */
export const MAX_RETENTION_SECONDS = 10 * 366 * 24 * 3600;

/** Seconds after which a message's content expires; null keeps it forever. */
export const RetentionPeriod = Type.Union([Type.Integer({ minimum: 1, maximum: MAX_RETENTION_SECONDS }), Type.Null()]);

/** Set on a content event whose content was erased or expired; absent otherwise. */
export const Redacted = Type.Optional(Type.Literal(true));

export const RetentionCommands = {
  SetRetention: Strict({ type: Type.Literal('SetRetention'), conversationId: Id, periodSeconds: RetentionPeriod }),
  /** The author's own message only; its text, edits, mentions and attachment refs are redacted. */
  EraseMessage: Strict({ type: Type.Literal('EraseMessage'), conversationId: Id, messageId: Id }),
} as const;

// Ids in events are described, not bounded: what a node wrote is what readers get.
const Str = Type.String();
const event = <T extends string, D extends ReturnType<typeof Type.Object>>(type: T, data: D) =>
  Type.Object({ type: Type.Literal(type), data });

export const RetentionEvents = {
  RetentionSet: event('RetentionSet', Type.Object({ periodSeconds: Type.Union([Type.Integer(), Type.Null()]), setBy: Str })),
  MessageErased: event('MessageErased', Type.Object({ messageId: Str, erasedBy: Str })),
  /**
   * Appended by a node's retention sweep: every message posted at or before `throughSeq`
   * is redacted (all were posted before `olderThan`, ms since the epoch). One event per
   * conversation per sweep, never one per message.
   */
  MessagesExpired: event('MessagesExpired', Type.Object({ throughSeq: Seq, olderThan: EpochMs })),
} as const;

/** Every write takes an optional client-chosen command id (or an Idempotency-Key header). */
const commandId = Type.Optional(Id);

export const RetentionRequests = {
  setRetention: Strict({ periodSeconds: RetentionPeriod, commandId }),
} as const;
