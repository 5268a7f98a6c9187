/**
 * Bodies of the HTTP read routes, shared by the server's read models and client-lib.
 * Defined once, as schemas, in schema/http.ts; these are their types.
 */
import type { Static } from '@sinclair/typebox';
import type * as S from './schema/index.js';

/** One entry of `GET /v1/conversations`. */
export type ConversationSummary = Static<typeof S.ConversationSummary>;

/** One message of `GET /v1/conversations/:id/messages`. */
export type HistoryMessage = Static<typeof S.HistoryMessage>;

/** One hit of `GET /v1/search`: `snippet` is the text with matches wrapped in [ and ]. */
export type SearchHit = Static<typeof S.SearchHit>;
