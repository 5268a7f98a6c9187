/**
 * Roles and moderation types (issue 15). Defined once, as schemas, in schema/moderation.ts;
 * these are their types.
 */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

/** A member's role in one conversation: owner, admin, member or guest (reads only). */
export type Role = Static<typeof S.Role>;

/** One report of the node's moderation queue (`GET /v1/admin/moderation-queue`). */
export type ReportEntry = Static<typeof S.ReportEntry>;
export type ModerationQueue = Static<typeof S.ModerationQueue>;
export type ModerationView = Static<typeof S.ModerationView>;
export type ReportOutcome = Static<typeof S.ReportOutcome>;
export type ReportStatus = Static<typeof S.ReportStatus>;
