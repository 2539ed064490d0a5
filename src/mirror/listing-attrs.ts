/**
 * Whether the mirror's listing replies carry attributes.
 *
 * A READDIRPLUS record with an inode costs the mirror an open and a stat of
 * the entry (on a cold source, a read of its inode from disk) and costs the
 * kernel an inode it must later forget. A record with node id 0 carries the
 * name and type alone; the kernel sends a LOOKUP for that name only if a
 * caller asks for it.
 *
 * The kernel's own rule (READDIRPLUS_AUTO) asks for attributes in the first
 * reply of every listing, and in later ones only after a name of that
 * directory was looked up. Both halves cost on a cold tree:
 * - a `find` that never stats has the server read every inode of every
 *   first reply, none of which it uses;
 * - `find -ls` over a large directory reads all of it before it stats, so
 *   every name past the first reply costs a LOOKUP round trip.
 *
 * So the mirror negotiates READDIRPLUS without AUTO (the kernel then sends
 * READDIRPLUS for every reply) and decides itself, on evidence: a reply
 * carries attributes while callers are seen to stat names that were listed
 * without them. The evidence is the recent successful LOOKUPs of files
 * (anything but a directory): at least 8 of the last 16 found files the
 * inode table did not hold, the latest less than a second ago. Lookups of
 * directories are left out, either way: a walk that only descends looks
 * them up too, and a walk that stats everything looks up the directories
 * it listed without attributes long after it has shown that it stats
 * (counted as misses, they flipped a `find -ls` back and forth). A reply
 * served with attributes keeps that second running: a walk that gets
 * everything it needs from the replies sends no LOOKUP, and must not lose
 * them halfway.
 */
import { S_IFDIR, S_IFMT } from '../sys/constants.js';
import { RecentEvents } from './offload.js';

/** New files among the last 16 successful LOOKUPs at and above which listings carry attributes. */
const EVIDENCE_LOOKUPS = 8;
/** How long (ms) evidence lasts without a new-file LOOKUP or a reply with attributes. */
const EVIDENCE_MS = 1000;

/** Which listing replies carry attributes: `adaptive` (on evidence, see `MirrorOptions.readdirplus`) or `kernel` (the kernel's READDIRPLUS_AUTO rule). */
export type ListingAttributesPolicy = 'adaptive' | 'kernel';

/** Decides, reply by reply, whether a listing carries attributes (see the module comment). */
export class ListingAttributes {
  private readonly newFiles = new RecentEvents();
  private evidenceAt = Number.NEGATIVE_INFINITY;
  private withAttributes = 0;
  private namesOnly = 0;

  /**
   * @param policy `adaptive`: on evidence; `kernel`: the kernel decides
   *   (READDIRPLUS_AUTO is negotiated, and every READDIRPLUS reply carries
   *   attributes)
   */
  constructor(readonly policy: ListingAttributesPolicy) {}

  /** Whether the kernel should decide: READDIRPLUS_AUTO is then negotiated. */
  get kernelDecides(): boolean {
    return this.policy === 'kernel';
  }

  /**
   * A successful LOOKUP; one of a directory is no evidence either way.
   * @param mode the entry's `st_mode`
   * @param newInode whether it found an inode the table did not hold
   * @param now `performance.now()`
   */
  lookedUp(mode: number, newInode: boolean, now: number): void {
    if ((mode & S_IFMT) === S_IFDIR) return;
    this.newFiles.record(newInode);
    if (newInode) this.evidenceAt = now;
  }

  /**
   * Whether the READDIRPLUS reply about to be built carries attributes.
   * Asking counts as serving it: a yes keeps the evidence alive.
   * @param now `performance.now()`
   */
  forReply(now: number): boolean {
    const yes = this.policy === 'kernel' || (this.newFiles.hits >= EVIDENCE_LOOKUPS && now - this.evidenceAt <= EVIDENCE_MS);
    if (!yes) {
      this.namesOnly++;
      return false;
    }
    this.evidenceAt = now;
    this.withAttributes++;
    return true;
  }

  /** The policy, and the replies decided so far either way. */
  get stats(): ListingStats {
    return { policy: this.policy, withAttributes: this.withAttributes, namesOnly: this.namesOnly };
  }
}

/** How a mirror answered listings, for the stats file. */
export interface ListingStats {
  /** The policy in force. */
  policy: ListingAttributesPolicy;
  /** READDIRPLUS replies built with attributes. */
  withAttributes: number;
  /** READDIRPLUS replies built with names and types alone. */
  namesOnly: number;
}
