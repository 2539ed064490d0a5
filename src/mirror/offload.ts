/**
 * Where the mirror's source calls that may wait are made: on the serving
 * thread, or on libuv's thread pool.
 *
 * On a local disk a source call takes microseconds (a cold `fstatat` 6 µs at
 * the median, 70-130 µs at the 99th percentile, measured on an ext4 VM disk),
 * and the serving thread makes it itself: a call on the pool costs 20-30 µs
 * more, several times the call. On a slow source (a network filesystem,
 * another FUSE mount, a disk that spins up) each call waits a millisecond or
 * more, and made on the serving thread it holds up every other client's
 * request for that long. There the hand-off is cheap next to the wait, and
 * calls on the pool overlap.
 *
 * `SourceLatency` decides by the calls themselves, for each kind of call
 * apart (a listing may wait on the source while the lookups that follow it
 * are answered from what it brought into the source's caches): it keeps
 * whether each of the last 16 calls of a kind took longer than 0.2 ms, starts
 * sending that kind to the pool once half of them did (the median call is
 * slow: one disk seek among fast calls does not switch), and stops once at
 * most 3 did (times measured on the pool include the hand-off, so the bar to
 * come back is lower than the bar to go).
 *
 * A slow call on the pool pays off only when other requests could be served
 * meanwhile: a lone client gains nothing and pays the hand-off on every call.
 * So while a kind is slow, a call goes to the pool when another pool call is
 * in flight (requests of other clients are being served: this one joins
 * them), or when one did within the last 100 ms (clients that overlapped a
 * moment ago, whose calls may all have just been answered at once, will
 * again), and otherwise only one call in 8, as a probe: while a probe waits,
 * the requests other clients sent find it in flight and follow it to the
 * pool; a lone client's probe finds none.
 */

/**
 * Which source calls the mirror sends to libuv's thread pool instead of making
 * them on the serving thread:
 * - `auto` (default): those of lookups, attribute reads and listings, once
 *   the source has measured slow (see `SourceLatency`);
 * - `never`: none (every source call on the serving thread);
 * - `always`: those of lookups, attribute reads and listings, always.
 */
export type OffloadPolicy = 'auto' | 'never' | 'always';

/** A call that took longer than this, in ms, counts as slow. */
const SLOW_CALL_MS = 0.2;
/** How many recent events a `RecentEvents` remembers. */
const WINDOW = 16;
const WINDOW_MASK = (1 << WINDOW) - 1;

/** Which of the last 16 events were hits, and how many: a cheap moving share. */
export class RecentEvents {
  /** One bit per event, newest lowest: 1 for a hit. */
  private bits = 0;
  /** Hits among the last 16 events. */
  hits = 0;

  record(hit: boolean): void {
    const h = hit ? 1 : 0;
    const leaving = (this.bits >>> (WINDOW - 1)) & 1;
    this.bits = ((this.bits << 1) | h) & WINDOW_MASK;
    this.hits += h - leaving;
  }
}
/** Slow calls among the last WINDOW that start offloading, and at or below which it stops. */
const START_AT = 8;
const STOP_AT = 3;
/** While a kind is slow and no pool call is in flight: one call in this many goes to the pool. */
const PROBE_EVERY = 8;
/** How long (ms) after a call found another in flight the calls of slow kinds keep going to the pool. */
const COMPANY_MS = 100;

/** What the stats file shows of it. */
export interface OffloadStats {
  /** The policy in force. */
  policy: OffloadPolicy;
  /** The kinds of call measured slow right now (`lookup`, `getattr`, `listing`), which go to the pool when other requests could be served meanwhile. */
  slow: string[];
  /** Source calls made on the pool since the start. */
  calls: number;
  /** How often `auto` started offloading. */
  started: number;
}

/** Tracks how long one kind of source call takes and says where the next one goes. */
export class SourceLatency {
  private readonly recent = new RecentEvents();
  private active: boolean;
  private pooled = 0;
  private starts = 0;

  constructor(readonly policy: OffloadPolicy = 'auto') {
    this.active = policy === 'always';
  }

  /** Whether this kind measures slow (with `always`: always; with `never`: never). */
  get slow(): boolean {
    return this.active;
  }

  /** Records the duration of one call (or one request's calls), in ms, wherever it was made. */
  record(ms: number, onPool: boolean): void {
    if (onPool) this.pooled++;
    if (this.policy !== 'auto') return;
    this.recent.record(ms > SLOW_CALL_MS);
    const slowCalls = this.recent.hits;
    if (!this.active && slowCalls >= START_AT) {
      this.active = true;
      this.starts++;
    } else if (this.active && slowCalls <= STOP_AT) {
      this.active = false;
    }
  }

  /** Calls made on the pool so far. */
  get pooledCalls(): number {
    return this.pooled;
  }

  /** How often `auto` started offloading. */
  get started(): number {
    return this.starts;
  }
}

/** The kinds of source call the mirror can offload, each judged apart. */
export class SourceLatencies {
  readonly lookup: SourceLatency;
  readonly getattr: SourceLatency;
  readonly listing: SourceLatency;

  /** Calls on the pool not finished yet, of every kind. */
  private inFlight = 0;
  private probeCountdown = PROBE_EVERY;
  /** Until when (performance.now()) other clients are taken to be there. */
  private companyUntil = 0;

  constructor(readonly policy: OffloadPolicy = 'auto') {
    this.lookup = new SourceLatency(policy);
    this.getattr = new SourceLatency(policy);
    this.listing = new SourceLatency(policy);
  }

  /** Whether the next call of `kind` goes to the pool (see this module's comment). */
  offload(kind: SourceLatency): boolean {
    if (this.policy === 'always') return true;
    if (!kind.slow) return false;
    const now = performance.now();
    if (this.inFlight > 0) {
      this.companyUntil = now + COMPANY_MS;
      return true;
    }
    if (now < this.companyUntil) return true;
    if (--this.probeCountdown > 0) return false;
    this.probeCountdown = PROBE_EVERY;
    return true;
  }

  /** Makes `call`, a call of `kind` on the pool: in flight meanwhile, and its time recorded. */
  async run(kind: SourceLatency, call: () => Promise<number>): Promise<number> {
    const started = performance.now();
    this.started();
    try {
      return await call();
    } finally {
      this.finished();
      kind.record(performance.now() - started, true);
    }
  }

  /** Around each call made on the pool: it is in flight from `started` to `finished`. */
  started(): void {
    this.inFlight++;
  }

  finished(): void {
    this.inFlight--;
  }

  /** The counters, for the stats file. */
  get stats(): OffloadStats {
    const kinds = { lookup: this.lookup, getattr: this.getattr, listing: this.listing };
    const all = Object.values(kinds);
    return {
      policy: this.policy,
      slow: Object.entries(kinds).filter(([, k]) => k.slow).map(([name]) => name),
      calls: all.reduce((n, k) => n + k.pooledCalls, 0),
      started: all.reduce((n, k) => n + k.started, 0),
    };
  }
}
