/**
 * Where in the JetStream stream a store stream's seq N lives, roughly. A read after seq N
 * must otherwise start at the subject's first message (2.9 has no such index), so the
 * store remembers, per subject, a sparse sorted sample of (first seq of an envelope, its
 * JetStream sequence) learned from its own appends and reads. A read starts at the last
 * sampled envelope that begins at or before N + 1: JetStream sequences grow with seqs, so
 * nothing the read needs is skipped, and the read skips at most the envelopes between two
 * samples. Bounded: at most SAMPLES entries per subject (thinned by half when full) and
 * at most `maxSubjects` subjects (oldest dropped).
 */
import { BoundedMap } from '../bounded-map.js';

const SAMPLES = 64;

export class SeqHints {
  private readonly bySubject: BoundedMap<string, Array<[firstSeq: number, jetstreamSeq: number]>>;

  constructor(maxSubjects: number) {
    this.bySubject = new BoundedMap(maxSubjects);
  }

  learn(subject: string, firstSeq: number, jetstreamSeq: number): void {
    let samples = this.bySubject.get(subject);
    if (!samples) {
      samples = [];
      this.bySubject.set(subject, samples);
    }
    const last = samples[samples.length - 1];
    if (last && last[0] >= firstSeq) {
      // Out of order (a read of older envelopes): insert in place unless already known.
      const i = samples.findIndex((s) => s[0] >= firstSeq);
      if (samples[i]![0] === firstSeq) return;
      samples.splice(i, 0, [firstSeq, jetstreamSeq]);
    } else {
      samples.push([firstSeq, jetstreamSeq]);
    }
    if (samples.length > SAMPLES) {
      // Keep every other sample (and always the newest, the most useful for catch-up).
      const thinned = samples.filter((_, i) => i % 2 === 0 || i === samples!.length - 1);
      this.bySubject.set(subject, thinned);
    }
  }

  /** The JetStream sequence to start reading at to see every event after `afterSeq`. */
  startFor(subject: string, afterSeq: number): number {
    const samples = this.bySubject.get(subject);
    let start = 1;
    if (!samples) return start;
    for (const [firstSeq, jetstreamSeq] of samples) {
      if (firstSeq > afterSeq + 1) break;
      start = jetstreamSeq;
    }
    return start;
  }
}
