/** Attachment shapes as types (schemas in schema/attachments.ts). */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

/** An attachment as a message carries it. */
export type AttachmentRef = Static<typeof S.AttachmentRef>;
/** What an upload answers. */
export type UploadResult = Static<typeof S.UploadResult>;
export { MAX_ATTACHMENTS_PER_MESSAGE } from './schema/attachments.js';
