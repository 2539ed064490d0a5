/**
 * The mirror's --stats-file, for the tests, the conformance runner and the
 * bench: its JSON shape, reading it, waiting for a snapshot written after a
 * given moment, and the CLI arguments that ask for one. The server replaces
 * the file whole (write, then rename) at least once a second, so a read
 * always parses, and its mtime says when the snapshot was written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleep } from './wait.js';

/** The `passthrough` section: opens by mode, fallbacks by reason, conflicts, backing ids held. */
export interface PassthroughStatsJson {
  opens: { passthrough: number; cached: number; direct: number };
  fallbacks: Record<string, number>;
  conflicts: number;
  backingIdsOpen: number;
}

/** The stats file as fusekit writes it (another server's may hold less). */
export interface StatsJson {
  /** Epoch ms when fusekit copied the counters (other servers may not say). */
  snapshotMs?: number;
  requests: Record<string, number>;
  errors: Record<string, number>;
  uptimeSeconds: number;
  /** Most requests whose handlers were running at once. */
  inFlightMax?: number;
  nodes?: number;
  openHandles?: number;
  /** Where the mirror's source calls are made (`-o offload`). */
  offload?: { policy: string; slow: string[]; calls: number; started: number };
  /** How the mirror answered listings (`-o readdirplus`): READDIRPLUS replies with attributes and with names only. */
  listings?: { policy: string; withAttributes: number; namesOnly: number };
  passthrough?: PassthroughStatsJson;
  /** How the mirror stays within the descriptor limit. */
  descriptors?: { heldBy: 'handle' | 'descriptor'; held: number; room: number | null; prunes: number; outOfDescriptors: { waited: number; failed: number } };
}

/** The stats file as written last; undefined if absent (or not JSON). */
export function readStats(file: string): StatsJson | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as StatsJson;
  } catch {
    return undefined;
  }
}

/**
 * The first snapshot taken after `afterMs` (epoch ms) that satisfies `pred`,
 * polling every `intervalMs`; undefined if none comes within `timeoutMs`.
 * Judged by the `snapshotMs` inside when there is one (a write may land well
 * after its counters were copied), else by the file's mtime, so it works for
 * any server that keeps the file fresh.
 */
export async function statsWrittenAfter(
  file: string,
  afterMs: number,
  opts: { timeoutMs: number; intervalMs: number; pred?: (s: StatsJson) => boolean },
): Promise<StatsJson | undefined> {
  const end = Date.now() + opts.timeoutMs;
  while (Date.now() < end) {
    try {
      if (fs.statSync(file).mtimeMs > afterMs) {
        const s = readStats(file);
        if (s && (s.snapshotMs === undefined || s.snapshotMs > afterMs) && (!opts.pred || opts.pred(s))) return s;
      }
    } catch {
      /* not written yet, or mid-rename */
    }
    await sleep(opts.intervalMs);
  }
  return undefined;
}

/**
 * Waits for a snapshot written after this call that satisfies `pred`; throws
 * (naming `what` and the last snapshot) after `timeoutMs`. It counts every
 * request answered before this call (RELEASE, which the kernel sends after
 * close(2) returns, may come later: `pred` waits for what depends on it).
 */
export async function freshStats(file: string, what: string, pred: (s: StatsJson) => boolean = () => true, timeoutMs = 6000): Promise<StatsJson> {
  const s = await statsWrittenAfter(file, Date.now(), { timeoutMs, intervalMs: 100, pred });
  if (s) return s;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nlast stats: ${JSON.stringify(readStats(file))}`);
}

/** A request count, 0 when the opcode never came. */
export function req(s: StatsJson, op: string): number {
  return s.requests[op] ?? 0;
}

/** The passthrough section; throws (with the whole file) if the server wrote none. */
export function pt(s: StatsJson): PassthroughStatsJson {
  if (!s.passthrough) throw new Error(`stats file has no passthrough section: ${JSON.stringify(s)}`);
  return s.passthrough;
}

/** One line for t.diagnostic: request counts of interest and the passthrough section. */
export function statsLine(s: StatsJson, ops: readonly string[] = ['OPEN', 'CREATE', 'READ', 'WRITE']): string {
  const r = ops.map((o) => `${o}=${req(s, o)}`).join(' ');
  return `${r} errors=${JSON.stringify(s.errors)} passthrough=${JSON.stringify(s.passthrough)}`;
}

/** withMirror `args`: `args` then `--stats-file ROOT/stats.json`; the file's path is handed to `keep`. */
export function argsWithStats(args: readonly string[], keep: (file: string) => void): (dirs: { root: string }) => string[] {
  return ({ root }) => {
    const file = path.join(root, 'stats.json');
    keep(file);
    return [...args, '--stats-file', file];
  };
}
