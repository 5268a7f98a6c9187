/**
 * Attachments in the conversation decider (pure, no I/O). An upload becomes known to a
 * conversation through `AttachmentUploaded` (appended by the upload route once the bytes
 * are durably stored), is attached once by a PostMessage of its uploader, and is
 * discarded (`AttachmentDiscarded`) by the orphan collector if nobody attached it in time.
 * The content hash stays in the state: it is where the bytes are, and it never leaves
 * the node except in the log.
 */
import { ParleyError, type ConversationEventData } from '../../protocol/index.js';

type AttachmentRef = NonNullable<Extract<ConversationEventData, { type: 'MessagePosted' }>['data']['attachments']>[number];
type Uploaded = Extract<ConversationEventData, { type: 'AttachmentUploaded' }>['data'];

/** The part of the conversation's state these decisions read (conversation.ts holds the whole; no import back). */
export interface ConversationState {
  exists: boolean;
  members: Set<string>;
  attachments?: Map<string, UploadState>;
}

export interface UploadState {
  ref: AttachmentRef;
  uploadedBy: string;
  sha256: string;
  attached: boolean;
  discarded: boolean;
}

/** The conversation's uploads by id; created on the first upload. */
export function uploadsOf(state: ConversationState): Map<string, UploadState> {
  return (state.attachments ??= new Map());
}

/** An upload by a member, to be recorded. Only the node calls this (upload route), never a client command. */
export function decideUpload(state: ConversationState, actor: string, upload: Omit<Uploaded, 'uploadedBy'>): ConversationEventData[] {
  if (!state.exists || !state.members.has(actor)) throw new ParleyError('forbidden');
  if (uploadsOf(state).has(upload.attachment.id)) throw new ParleyError('conflict', 'attachment id in use');
  return [{ type: 'AttachmentUploaded', data: { ...upload, uploadedBy: actor } }];
}

/**
 * The descriptions a PostMessage carries for the attachment ids it names: each must be
 * an upload of this conversation by the sender, neither attached already nor discarded.
 */
export function attachmentsToPost(state: ConversationState, actor: string, ids: readonly string[] | undefined): AttachmentRef[] | undefined {
  if (ids === undefined || ids.length === 0) return undefined;
  if (new Set(ids).size !== ids.length) throw new ParleyError('invalid_request', 'an attachment is named twice');
  return ids.map((id) => {
    const upload = uploadsOf(state).get(id);
    // Someone else's upload looks like none: its id says nothing to other members.
    if (!upload || upload.discarded || upload.uploadedBy !== actor) throw new ParleyError('attachment_not_found');
    if (upload.attached) throw new ParleyError('attachment_in_use');
    return upload.ref;
  });
}

/** Discards an upload nobody attached; nothing when it was attached or discarded meanwhile. */
export function decideDiscard(state: ConversationState, attachmentId: string, reason: string): ConversationEventData[] {
  const upload = uploadsOf(state).get(attachmentId);
  if (!upload || upload.attached || upload.discarded) return [];
  return [{ type: 'AttachmentDiscarded', data: { attachmentId, reason } }];
}

/** What attachment events (and the attachments of a posted message) change in the state. */
export function evolveAttachments(state: ConversationState, event: ConversationEventData): void {
  switch (event.type) {
    case 'AttachmentUploaded': {
      const { attachment, uploadedBy, sha256 } = event.data;
      uploadsOf(state).set(attachment.id, { ref: attachment, uploadedBy, sha256, attached: false, discarded: false });
      break;
    }
    case 'AttachmentDiscarded': {
      const upload = state.attachments?.get(event.data.attachmentId);
      if (upload) upload.discarded = true;
      break;
    }
    case 'MessagePosted':
      for (const a of event.data.attachments ?? []) {
        const upload = state.attachments?.get(a.id);
        if (upload) upload.attached = true;
      }
      break;
    default:
      break;
  }
}

/** An upload that may be fetched: known, not discarded. */
export function fetchableUpload(state: Readonly<ConversationState>, attachmentId: string): UploadState | undefined {
  const upload = state.attachments?.get(attachmentId);
  return upload && !upload.discarded ? upload : undefined;
}
