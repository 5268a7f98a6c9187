/**
 * Read models built from the log, and the runner that keeps them current. Every read
 * model here can be dropped and rebuilt from the log (`parley rebuild`).
 */
import { conversationList } from './conversation-list.js';
import { history } from './history.js';
import { presence } from './presence.js';
import { analytics } from './analytics.js';
import { search } from './search.js';
import { webhooksProjection } from './webhooks.js';
import { moderation } from './moderation.js';
import { threads } from './threads.js';
import { mentions } from './mentions.js';
import type { Projection } from './projection.js';
import { attachmentUploads } from './attachments.js';

export {
  defineProjection,
  defineExternalProjection,
  asKnown,
  type Projection,
  type EventOf,
  type KnownEventType,
} from './projection.js';
export type { ExternalProjection } from './external.js';
export { ProjectionRunner, type RunnerOptions, type ProjectionFailure, type ProjectionStatus } from './runner.js';
export { ReadModels, type ReadModelRunner, type ReadModelsOptions } from './read-models.js';
export { recordSkip, skipsOf, type ProjectionSkip } from './skips.js';
export { storedCursor, storedToken } from './stored-checkpoint.js';
export { messageRedacted, readMessages, type MessageView } from './history.js';
export {
  conversationsOf,
  conversationIdsOf,
  conversationsWithRetention,
  isMember,
  membersOf,
} from './conversation-list.js';
export { presenceOf, nodeLiveness, usersOnNode, hasSessions, nodesWithSessions, isNodeExpired, type PresenceView } from './presence.js';
export { analyticsReport, type AnalyticsReport } from './analytics.js';
export { searchMessages, type SearchHit } from './search.js';
export {
  listWebhooks,
  webhookById,
  deadLettersOf,
  deadLetterCount,
  MAX_DEAD_LETTERS_PER_WEBHOOK,
  type WebhookView,
  type WebhookSecretView,
  type DeadLetterView,
} from './webhooks.js';
export { moderationOf, moderationQueue, roleIn, type ModerationView } from './moderation.js';
export { readThread, threadsOf, withThreadSummaries } from './thread-reads.js';
export { mentionsOf } from './mentions.js';

/** The read model `isMember` answers from (its checkpoint says how far membership is known). */
export const MEMBERSHIP_READ_MODEL = conversationList.name;

/** The read models every node keeps. */
export function builtInProjections(): Projection[] {
  return [history, conversationList, presence, analytics, search, webhooksProjection, moderation, threads, mentions, attachmentUploads];
}
export { attachmentUploads, pendingUploadsBefore, blobInUse, uploadSha256, type PendingUpload } from './attachments.js';
