/**
 * Attachment uploads and what became of them: pending (not attached yet), attached, or
 * discarded. The orphan collector reads the oldest pending ones; a blob may go once no
 * upload of its bytes is left that is not discarded.
 */
import type Database from 'better-sqlite3';
import { conversationIdOf } from '../engine/store/index.js';
import { defineProjection } from './projection.js';
import { prepared } from './prepared.js';

export const attachmentUploads = defineProjection({
  name: 'attachment-uploads',
  source: { module: import.meta.url, export: 'attachmentUploads' },
  // 2: the attachments of each message, for history pages. 3: erased and expired
  // messages (retention) lose their attachment refs, found by their post's seq.
  version: 3,
  handles: ['AttachmentUploaded', 'AttachmentDiscarded', 'MessagePosted', 'MessageErased', 'MessagesExpired'],
  setup(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS attachment_uploads (
      conversation_id TEXT NOT NULL,
      attachment_id TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      uploaded_at INTEGER NOT NULL,
      state TEXT NOT NULL DEFAULT 'pending',
      PRIMARY KEY (conversation_id, attachment_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS attachment_uploads_pending ON attachment_uploads (uploaded_at) WHERE state = 'pending';
    CREATE INDEX IF NOT EXISTS attachment_uploads_by_sha ON attachment_uploads (sha256);
    CREATE TABLE IF NOT EXISTS message_attachments (
      conversation_id TEXT NOT NULL,
      message_id TEXT NOT NULL,
      attachments TEXT NOT NULL,
      seq INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (conversation_id, message_id)
    ) WITHOUT ROWID;`);
  },
  handle(events, db) {
    const mark = prepared(db, 'UPDATE attachment_uploads SET state = ? WHERE conversation_id = ? AND attachment_id = ?');
    for (const e of events) {
      const conversationId = conversationIdOf(e.stream);
      if (conversationId === undefined) continue;
      switch (e.type) {
        case 'AttachmentUploaded':
          prepared(db, 'INSERT OR IGNORE INTO attachment_uploads (conversation_id, attachment_id, sha256, uploaded_at) VALUES (?, ?, ?, ?)').run(
            conversationId,
            e.data.attachment.id,
            e.data.sha256,
            e.metadata.at,
          );
          break;
        case 'AttachmentDiscarded':
          mark.run('discarded', conversationId, e.data.attachmentId);
          break;
        case 'MessagePosted': {
          const attachments = e.data.attachments ?? [];
          if (attachments.length === 0) break;
          for (const a of attachments) mark.run('attached', conversationId, a.id);
          prepared(db, 'INSERT OR REPLACE INTO message_attachments VALUES (?, ?, ?, ?)').run(conversationId, e.data.messageId, JSON.stringify(attachments), e.seq);
          break;
        }
        case 'MessageErased':
          prepared(db, 'DELETE FROM message_attachments WHERE conversation_id = ? AND message_id = ?').run(conversationId, e.data.messageId);
          break;
        case 'MessagesExpired':
          prepared(db, 'DELETE FROM message_attachments WHERE conversation_id = ? AND seq <= ?').run(conversationId, e.data.throughSeq);
          break;
      }
    }
  },
  truncate(db) {
    db.exec('DELETE FROM attachment_uploads; DELETE FROM message_attachments;');
  },
  drop(db) {
    db.exec('DROP TABLE IF EXISTS attachment_uploads; DROP TABLE IF EXISTS message_attachments;');
  },
});

export interface PendingUpload {
  conversationId: string;
  attachmentId: string;
}

/** The oldest uploads still unattached that were uploaded before `before` (ms), at most `limit`. */
export function pendingUploadsBefore(db: Database.Database, before: number, limit: number): PendingUpload[] {
  return prepared(
    db,
    `SELECT conversation_id AS conversationId, attachment_id AS attachmentId FROM attachment_uploads
     WHERE state = 'pending' AND uploaded_at < ? ORDER BY uploaded_at LIMIT ?`,
  ).all(before, limit) as PendingUpload[];
}

/** Whether any upload of these bytes is still pending or attached (its blob must stay). */
export function blobInUse(db: Database.Database, sha256: string): boolean {
  return prepared(db, "SELECT 1 FROM attachment_uploads WHERE sha256 = ? AND state != 'discarded' LIMIT 1").get(sha256) !== undefined;
}

/** The content hash of an upload, if the read model knows it. */
export function uploadSha256(db: Database.Database, conversationId: string, attachmentId: string): string | undefined {
  return prepared(db, 'SELECT sha256 FROM attachment_uploads WHERE conversation_id = ? AND attachment_id = ?').pluck().get(conversationId, attachmentId) as
    | string
    | undefined;
}

/** Adds each message's attachments (history pages); deleted messages show none. */
export function withAttachments<M extends { messageId: string; deleted: boolean; attachments?: unknown }>(db: Database.Database, conversationId: string, messages: M[]): M[] {
  const find = prepared(db, 'SELECT attachments FROM message_attachments WHERE conversation_id = ? AND message_id = ?').pluck();
  for (const m of messages) {
    if (m.deleted) continue;
    const json = find.get(conversationId, m.messageId) as string | undefined;
    if (json !== undefined) m.attachments = JSON.parse(json);
  }
  return messages;
}
