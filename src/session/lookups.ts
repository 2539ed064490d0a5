/**
 * The lookup-count ledger: how many references the kernel holds to each node
 * id, as fusekit delivered them. Every entry reply that reaches the kernel adds
 * one; FORGET gives them back. An entry reply the kernel never received (its
 * caller was interrupted, or the open it carried was refused) is given back to
 * the filesystem at once, so its own count never drifts from the kernel's.
 */
import type { NodeId } from '../abi/types.js';

export class LookupLedger {
  private readonly counts = new Map<number, number>();

  /**
   * @param forgetInFilesystem hands references back to the filesystem (its `forget`).
   * @param report called when the kernel forgets more than it was given.
   */
  constructor(
    private readonly forgetInFilesystem: (nodeid: NodeId, nlookup: number) => void,
    private readonly report: (message: string) => void,
  ) {}

  /** References the kernel holds on `nodeid` (0 once forgotten). The root is never counted. */
  count(nodeid: number): number {
    return this.counts.get(nodeid) ?? 0;
  }

  /** Node ids the kernel holds at least one reference to. */
  get size(): number {
    return this.counts.size;
  }

  /** The kernel received an entry for `nodeid`. */
  add(nodeid: number): void {
    this.counts.set(nodeid, (this.counts.get(nodeid) ?? 0) + 1);
  }

  /** FORGET or one record of BATCH_FORGET: the kernel gives `nlookup` references back. */
  forget(nodeid: NodeId, nlookup: number): void {
    const had = this.counts.get(nodeid) ?? 0;
    const left = had - nlookup;
    if (left > 0) this.counts.set(nodeid, left);
    else this.counts.delete(nodeid);
    if (left < 0) this.report(`kernel forgot node ${nodeid} ${nlookup} times but held ${had} references`);
    this.forgetInFilesystem(nodeid, nlookup);
  }

  /** An entry reply was written: count it if the kernel took it, else give the filesystem its reference back. */
  settle(nodeid: NodeId, delivered: boolean): void {
    if (nodeid === 0) return;
    if (delivered) this.add(nodeid);
    else this.forgetInFilesystem(nodeid, 1);
  }

  /** An entry the filesystem produced never went out at all (its reply failed first). */
  giveBack(nodeid: NodeId): void {
    if (nodeid !== 0) this.forgetInFilesystem(nodeid, 1);
  }
}
