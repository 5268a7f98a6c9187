/** Bodies of the thread and mention read routes (schema/threads.ts), as types. */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

/** One followed thread of `GET /v1/threads`. */
export type ThreadListEntry = Static<typeof S.ThreadListEntry>;

/** One entry of `GET /v1/mentions`. */
export type Mention = Static<typeof S.Mention>;

/** `GET /v1/conversations/:id/threads/:rootId/messages`: the root and a page of its replies. */
export type ThreadPage = Static<typeof S.ThreadResponses.replies>;
