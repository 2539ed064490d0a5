/**
 * The `--stats-file` writer: a JSON snapshot of a server's counters, written
 * once when started, then every second, and once more at the end.
 *
 * Each snapshot replaces the file whole (a temporary file, then rename), so a
 * reader always parses one, and carries `snapshotMs`, when its counters were
 * read: the write itself may land later. Writes are asynchronous, because the
 * file may lie inside the mount the calling thread serves.
 */
import * as fs from 'node:fs';

/** Writes `snapshot()` to `file` now and every second until `stop()`. */
export class StatsFileWriter {
  private last: Promise<void> = Promise.resolve();
  private writing = false;
  private readonly timer: NodeJS.Timeout;

  /**
   * @param file where the snapshots go
   * @param snapshot the counters, read at each write
   * @param warn told once per failed write, with a sentence
   */
  constructor(
    private readonly file: string,
    private readonly snapshot: () => object,
    private readonly warn: (message: string) => void,
  ) {
    void this.write();
    this.timer = setInterval(() => {
      // Skip a tick rather than queue writes behind a slow one.
      if (this.writing) return;
      this.writing = true;
      void this.write().finally(() => { this.writing = false; });
    }, 1000);
  }

  /** Writes one snapshot after the ones already under way; resolves once it is on disk (or failed). */
  write(): Promise<void> {
    const body = JSON.stringify({ snapshotMs: Date.now(), ...this.snapshot() }, null, 1);
    const tmp = `${this.file}.tmp${process.pid}`;
    this.last = this.last.then(async () => {
      try {
        // A server may set the process umask to its callers' (the mirror does): name the mode.
        await fs.promises.writeFile(tmp, body, { mode: 0o644 });
        await fs.promises.rename(tmp, this.file);
      } catch (err) {
        this.warn(`cannot write stats file: ${(err as Error).message}`);
      }
    });
    return this.last;
  }

  /** Stops the periodic writes and writes the last snapshot. */
  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.write();
  }
}
