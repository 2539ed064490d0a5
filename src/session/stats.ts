/** Counters a session keeps for the stats file and for tests: requests by opcode, errors by errno name. */
export class SessionStats {
  readonly requests: Record<string, number> = Object.create(null);
  readonly errors: Record<string, number> = Object.create(null);
  readonly startedAt = process.hrtime.bigint();
  inFlightMax = 0;
  /** Requests answered ETIMEDOUT because their handler missed the deadline. */
  expired = 0;

  countRequest(op: string): void {
    this.requests[op] = (this.requests[op] ?? 0) + 1;
  }

  countError(name: string): void {
    this.errors[name] = (this.errors[name] ?? 0) + 1;
  }

  countExpired(): void {
    this.expired++;
  }

  observeInFlight(n: number): void {
    if (n > this.inFlightMax) this.inFlightMax = n;
  }

  get uptimeSeconds(): number {
    return Number(process.hrtime.bigint() - this.startedAt) / 1e9;
  }

  toJSON(): { requests: Record<string, number>; errors: Record<string, number>; uptimeSeconds: number; inFlightMax: number; expired: number } {
    return { requests: { ...this.requests }, errors: { ...this.errors }, uptimeSeconds: Math.round(this.uptimeSeconds * 1000) / 1000, inFlightMax: this.inFlightMax, expired: this.expired };
  }
}
