/** Uploads in flight, per user and per node: each holds a socket, a temp file and a disk stream. */
import { ParleyError } from '../../../protocol/index.js';

export class UploadSlots {
  private readonly perUser = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: { uploadsPerUser: number; uploadsPerNode: number }) {}

  /** Takes a slot for the user or refuses (`limit_exceeded`); call the returned function once done. */
  take(userId: string): () => void {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= this.limits.uploadsPerUser || this.total >= this.limits.uploadsPerNode) {
      throw new ParleyError('limit_exceeded', 'Too many uploads in flight; wait for one to finish');
    }
    this.perUser.set(userId, mine + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left === 0) this.perUser.delete(userId);
      else this.perUser.set(userId, left);
    };
  }
}
