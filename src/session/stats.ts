/** Counters a session keeps for the stats file and for tests: requests by opcode, errors by errno name. */
export class SessionStats {
  /** Requests received, by opcode name. */
  readonly requests: Record<string, number> = Object.create(null);
  /** Error replies sent, by errno name. */
  readonly errors: Record<string, number> = Object.create(null);
  /** When the session started, as `process.hrtime.bigint()`. */
  readonly startedAt = process.hrtime.bigint();
  /** Most requests in flight at once: the one being handled and those whose asynchronous handlers had not settled (1 when every handler answers synchronously). */
  inFlightMax = 0;
  /** Requests answered ETIMEDOUT because their handler missed the deadline. */
  expired = 0;

  /**
   * Counts one request of opcode `op`.
   * @internal
   */
  countRequest(op: string): void {
    this.requests[op] = (this.requests[op] ?? 0) + 1;
  }

  /**
   * Counts one error reply of errno `name`.
   * @internal
   */
  countError(name: string): void {
    this.errors[name] = (this.errors[name] ?? 0) + 1;
  }

  /**
   * Counts one request answered ETIMEDOUT at its deadline.
   * @internal
   */
  countExpired(): void {
    this.expired++;
  }

  /**
   * Notes that `n` requests are in flight, for `inFlightMax`.
   * @internal
   */
  observeInFlight(n: number): void {
    if (n > this.inFlightMax) this.inFlightMax = n;
  }

  /** Seconds since the session started. */
  get uptimeSeconds(): number {
    return Number(process.hrtime.bigint() - this.startedAt) / 1e9;
  }

  /** A copy of the counters, as the stats file writes them. */
  toJSON(): {
    /** Requests received, by opcode name. */
    requests: Record<string, number>;
    /** Error replies sent, by errno name. */
    errors: Record<string, number>;
    /** Seconds since the session started, to the millisecond. */
    uptimeSeconds: number;
    /** Most requests in flight at once: the one being handled and those whose asynchronous handlers had not settled (1 when every handler answers synchronously). */
    inFlightMax: number;
    /** Requests answered ETIMEDOUT because their handler missed the deadline. */
    expired: number;
  } {
    return { requests: { ...this.requests }, errors: { ...this.errors }, uptimeSeconds: Math.round(this.uptimeSeconds * 1000) / 1000, inFlightMax: this.inFlightMax, expired: this.expired };
  }
}
