/**
 * The lookup-count ledger: how many references the kernel holds to each node
 * id, as fusekit delivered them. Every entry reply that reaches the kernel adds
 * one; FORGET gives them back. An entry reply the kernel never received (its
 * caller was interrupted, or the open it carried was refused) is given back to
 * the filesystem at once, so its own count never drifts from the kernel's.
 */
import type { NodeId } from '../abi/types.js';

/** The typed array's first length: node ids below it are always counted there. */
const FIRST_DENSE = 1024;

export class LookupLedger {
  /**
   * Counts by node id, for ids below its length. Filesystems that number
   * their nodes from 1 up (the mirror: a slot each) keep every count here,
   * at 4 bytes a node instead of a `Map` entry's 30-40, and with no hashing
   * per entry reply or FORGET.
   */
  private dense = new Int32Array(FIRST_DENSE);
  /** Node ids in `dense` with a count above 0. */
  private denseHeld = 0;
  /** Counts of the other node ids (sparse numbering, such as inode numbers). */
  private readonly sparse = new Map<number, number>();

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
    return nodeid < this.dense.length ? this.dense[nodeid]! : (this.sparse.get(nodeid) ?? 0);
  }

  /** Node ids the kernel holds at least one reference to. */
  get size(): number {
    return this.denseHeld + this.sparse.size;
  }

  /** The kernel received an entry for `nodeid`. */
  add(nodeid: number): void {
    if (nodeid >= this.dense.length) this.widenFor(nodeid);
    if (nodeid < this.dense.length) {
      if (this.dense[nodeid]++ === 0) this.denseHeld++;
    } else {
      this.sparse.set(nodeid, (this.sparse.get(nodeid) ?? 0) + 1);
    }
  }

  /**
   * Doubles the typed array when `nodeid` is just past it and the ids held
   * are dense enough to fill it, moving the counts it now covers out of
   * the map; an id far past it (a sparse numbering) stays in the map.
   */
  private widenFor(nodeid: number): void {
    const length = this.dense.length;
    if (nodeid >= 2 * length || this.denseHeld < length / 2) return;
    const wider = new Int32Array(2 * length);
    wider.set(this.dense);
    for (const [id, n] of this.sparse) {
      if (id >= wider.length) continue;
      wider[id] = n;
      this.denseHeld++;
      this.sparse.delete(id);
    }
    this.dense = wider;
  }

  /** FORGET or one record of BATCH_FORGET: the kernel gives `nlookup` references back. */
  forget(nodeid: NodeId, nlookup: number): void {
    const had = this.count(nodeid);
    const left = had - nlookup;
    if (nodeid < this.dense.length) {
      this.dense[nodeid] = Math.max(left, 0);
      if (had > 0 && left <= 0) this.denseHeld--;
    } else if (left > 0) {
      this.sparse.set(nodeid, left);
    } else {
      this.sparse.delete(nodeid);
    }
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
    // A malformed entry (a handler returning a string, NaN) carries no node to give back.
    if (Number.isInteger(nodeid) && nodeid > 0) this.forgetInFilesystem(nodeid, 1);
  }
}
