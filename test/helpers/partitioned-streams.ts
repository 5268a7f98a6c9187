/**
 * Conversation streams spread over a partitioned log: random ids drawn until every one of
 * the `partitions` has `perPartition` of them. Taking N random ids instead leaves a
 * partition empty now and then (9 ids over 3 partitions: about 8% of runs), and a test
 * about every partition then fails for no fault of the code.
 */
import { randomUUID } from 'node:crypto';
import { partitionOf } from '../../engine/store/index.js';

export function streamsInEveryPartition(partitions: number, perPartition: number): string[] {
  const streams: string[] = [];
  const per = new Array<number>(partitions).fill(0);
  while (streams.length < partitions * perPartition) {
    const stream = `conversation-${randomUUID()}`;
    const p = partitionOf(stream, partitions);
    if (per[p]! < perPartition) {
      per[p]! += 1;
      streams.push(stream);
    }
  }
  return streams;
}

/** A conversation stream whose id hashes to partition `p` of `partitions`. */
export function conversationIn(p: number, partitions: number): string {
  for (;;) {
    const stream = `conversation-${randomUUID()}`;
    if (partitionOf(stream, partitions) === p) return stream;
  }
}
