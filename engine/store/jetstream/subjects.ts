/**
 * Store stream names ↔ NATS subjects. Each store stream is one subject,
 * `<prefix>.<token>`, so per-subject sequences give per-stream concurrency control.
 *
 * A subject token may not contain `.`, `*`, `>` or whitespace, and non-ASCII bytes are
 * legal but awkward in tooling, so the token keeps `[A-Za-z0-9_-]` as is and writes every
 * other UTF-8 byte as `~XX` (upper-case hex). `~` itself is escaped, which makes the
 * encoding reversible and injective. `conversation-<uuid>`, `user-<id>` and `node-<id>`
 * with ordinary ids are left unchanged, so subjects stay readable in `nats` tooling.
 */
const PLAIN = /^[A-Za-z0-9_-]$/;

export class InvalidStreamNameError extends Error {
  override readonly name = 'InvalidStreamNameError';
  readonly code = 'invalid_stream_name';
}

export function encodeStreamToken(stream: string): string {
  if (stream.length === 0) throw new InvalidStreamNameError('stream name must not be empty');
  let out = '';
  for (const ch of stream) {
    if (PLAIN.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeStreamToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '~') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The subject namespace of one event store: `<prefix>.<token>` per store stream. */
export class SubjectSpace {
  constructor(readonly prefix: string) {}

  /** Every subject of the store, for the JetStream stream's `subjects`. */
  get wildcard(): string {
    return `${this.prefix}.*`;
  }

  subjectOf(stream: string): string {
    return `${this.prefix}.${encodeStreamToken(stream)}`;
  }

  streamOf(subject: string): string {
    return decodeStreamToken(subject.slice(this.prefix.length + 1));
  }
}
