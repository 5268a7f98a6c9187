/**
 * Where an endpoint's lane starts reading the log.
 *
 * - From its cursor in the newest delivery checkpoint (lease.ts), read for this log. A
 *   cursor of a log with another partition count says nothing about this one: as a
 *   projection checkpoint of another shape makes its read model rebuild, the lane starts
 *   over as a new one would (receivers drop what they have by `webhook-id`).
 * - A new lane starts after its registration. On an unpartitioned log that is the
 *   registration's position, as ever. On a partitioned log there is no order across
 *   partitions, so the registration records the log's head cursor when it was made
 *   (`from`, webhook-routes.ts) and the lane starts there (and past the registration).
 *   One without it (registered on a log of another partition count, before it was split)
 *   starts at the start of every partition and passes over, unsent, whatever is older
 *   than the registration (`notBefore`, by the events' own time).
 */
import type { WebhookView } from '../../../projections/index.js';
import { storedCursor } from '../../../projections/index.js';
import { LogCursor, partitionsOf, type EventStore } from '../../store/index.js';
import { eventAt } from './event-at.js';
import type { StoredLaneCursor } from './lease.js';

export interface LaneStart {
  cursor: LogCursor;
  /** Events stamped before this (epoch ms) are passed over unsent; 0: none are. */
  notBefore: number;
}

export async function laneStart(store: EventStore, webhook: Pick<WebhookView, 'registeredPosition' | 'registeredAt'>, stored: StoredLaneCursor | undefined): Promise<LaneStart> {
  const n = partitionsOf(store);
  const resumed = stored === undefined ? null : storedCursor(stored, n);
  if (resumed) return { cursor: resumed, notBefore: 0 };
  if (n === 1) return { cursor: LogCursor.at(webhook.registeredPosition), notBefore: 0 };
  const pastRegistration = [{ position: webhook.registeredPosition }];
  const registration = await eventAt(store, webhook.registeredPosition);
  const from = (registration?.data as { from?: unknown } | undefined)?.from;
  const recorded = typeof from === 'string' ? storedCursor(from, n) : null;
  if (recorded) return { cursor: recorded.advancedBy(pastRegistration), notBefore: 0 };
  return { cursor: LogCursor.start(n).advancedBy(pastRegistration), notBefore: webhook.registeredAt };
}
