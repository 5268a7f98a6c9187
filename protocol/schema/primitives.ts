/**
 * The small shapes every contract is made of. Limits here are the protocol's; the node
 * bounds some again by configuration (message text in bytes: PARLEY_MAX_TEXT_BYTES).
 */
import { Type, type TObject, type TProperties } from '@sinclair/typebox';

/** Ids: conversation, message, user and command ids. */
export const Id = Type.String({ minLength: 1, maxLength: 200 });
/** A message text; its length in bytes is bounded by the node. */
export const Text = Type.String({ minLength: 1 });
export const Emoji = Type.String({ minLength: 1, maxLength: 64 });
export const Title = Type.String({ minLength: 1, maxLength: 200 });
/**
 * JSON numbers past 2^53 lose precision and `1e309` parses to Infinity, which a JSON
 * Schema `integer` does not exclude: every integer a client sends has this ceiling.
 */
export const MAX_INTEGER = Number.MAX_SAFE_INTEGER;
export const Seq = Type.Integer({ minimum: 0, maximum: MAX_INTEGER });
/** How clients should render a message's text; the server stores it verbatim either way. */
export const MessageFormat = Type.Union([Type.Literal('plain'), Type.Literal('markdown')]);
/** An ISO 8601 time as the HTTP API writes it. */
export const IsoTime = Type.String({ format: 'date-time' });
/** Milliseconds since the epoch. */
export const EpochMs = Type.Integer({ minimum: 0, maximum: MAX_INTEGER });

/** An object with exactly these properties: anything else is refused. */
export function Strict<T extends TProperties>(properties: T, options: { description?: string } = {}): TObject<T> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}
