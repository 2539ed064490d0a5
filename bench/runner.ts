/**
 * What every timed step shares: the running mirrors, the check before each
 * command that a mirror is still alive and mounted, recording a value, the
 * request-count windows from the stats files, and a step's error handling
 * (a failed step is recorded; a mirror that died takes its target out of the
 * rest of the run). The workloads themselves are in data.ts and metadata.ts.
 */
import * as path from 'node:path';
import type { Env, ToolOutput } from './environment.js';
import { fmtValue, MiB } from './format.js';
import { statsAfter, statsDelta, type Mirror, type StatsSnapshot } from './mounts.js';
import { runOk, ToolError, type RunResult } from './proc.js';
import { emptyRow, rowDef, type RowResult } from './rows.js';
import { guard, log, rethrowIfAborted } from './shutdown.js';
import { targetList, type TargetKey, type TargetSet, type TargetState } from './targets.js';

/** A command's deadline for moving `bytes`: 2 min + 0.5 s per MiB (2 MiB/s floor). */
export function timeoutFor(bytes: number): number {
  return 120_000 + (bytes / MiB) * 500;
}

/** `sync`, then drop the page cache, dentries and inodes. */
export async function dropCaches(): Promise<void> {
  guard();
  await runOk('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { timeoutMs: 180_000 });
}

/** `sync`, as its own deadline-bound child. */
export async function syncAll(): Promise<void> {
  guard();
  await runOk('sync', [], { timeoutMs: 180_000 });
}

/** The last lines a server wrote on stderr, on one line (for error messages). */
export function stderrTail(m: Mirror | undefined): string {
  return (m?.stderr() ?? '').trim().split('\n').slice(-3).join(' | ');
}

/** The state of the timed part of a run, and the operations its steps are built from. */
export class Bench {
  readonly mirrors = new Map<TargetKey, Mirror>();
  private readonly last = new Map<TargetKey, StatsSnapshot | undefined>();
  /** The target order of every repetition. */
  readonly order: TargetKey[][] = [];
  /** Directories a creating step left for the deleting step of the same target and repetition. */
  readonly made = new Set<string>();

  constructor(
    readonly env: Env,
    readonly targets: TargetSet,
  ) {}

  /** Every target of the run, in base order (source, pt, nopt[, ref]). */
  get list(): TargetState[] {
    return targetList(this.targets);
  }

  get reps(): number {
    return this.env.opts.reps;
  }

  /** Whether the target still takes part: no fatal error, and for a mirror, its server is running. */
  usable(t: TargetState): boolean {
    return !t.error && (!t.mode || this.mirrors.has(t.key));
  }

  /** Before every command: never let a workload land in a bare mountpoint directory. */
  check(t: TargetState): void {
    guard();
    const m = this.mirrors.get(t.key);
    if (t.mode && (!m?.healthy())) {
      throw new ToolError(`the mirror server is gone or unmounted (stderr: ${stderrTail(m)})`);
    }
  }

  row(t: TargetState, id: string): RowResult {
    return (t.rows[id] ??= emptyRow(this.reps));
  }

  /** Records one repetition's value of a row (and logs it). */
  record(t: TargetState, id: string, rep: number, value: number, raw: unknown): void {
    const r = this.row(t, id);
    r.values[rep] = value;
    r.raw[rep] = raw;
    const def = rowDef(id);
    log(`  r${rep + 1} [${t.key}] ${def?.label ?? id}: ${def ? fmtValue(value, def) : value}`);
  }

  /** Runs the load tool on this target (after the check) and parses its line. */
  async tool(t: TargetState, args: string[], timeoutMs: number): Promise<ToolOutput> {
    this.check(t);
    const r = await runOk(this.env.tool.cmd, [...this.env.tool.args, ...args], { timeoutMs, captureStdout: true });
    return JSON.parse(r.stdout.trim()) as ToolOutput;
  }

  /** Runs a command on this target (after the check); a failure throws. */
  async sh(t: TargetState, cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
    this.check(t);
    return runOk(cmd, args, { timeoutMs });
  }

  /**
   * Runs the commands at once on this target (after the check), each as its
   * own child, and returns the wall time from the first spawn to the last
   * exit. If any fails, the others still run to their end, then the first
   * failure throws.
   */
  async together(t: TargetState, cmds: [cmd: string, args: string[]][], timeoutMs: number): Promise<number> {
    this.check(t);
    const t0 = performance.now();
    const results = await Promise.allSettled(cmds.map(([cmd, args]) => runOk(cmd, args, { timeoutMs })));
    const seconds = (performance.now() - t0) / 1000;
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    return seconds;
  }

  /** Starts the request-count chain of a mirror. */
  async baseline(t: TargetState): Promise<void> {
    const m = this.mirrors.get(t.key);
    if (m) this.last.set(t.key, await statsAfter(m.statsFile, Date.now()));
  }

  /** Closes a request-count window of a mirror: the first stats write after now (waits up to ~1 s). */
  async mark(t: TargetState, window: string, rep: number): Promise<void> {
    const m = this.mirrors.get(t.key);
    if (!m || t.error || !m.isRunning()) return;
    const s = await statsAfter(m.statsFile, Date.now());
    (t.windows[window] ??= new Array<Record<string, number> | null>(this.reps).fill(null))[rep] = statsDelta(this.last.get(t.key), s) ?? null;
    this.last.set(t.key, s);
  }

  /**
   * One step of one target: errors are recorded against `ids` for this
   * repetition; a mirror that died takes its target out of the rest of the run.
   */
  async step(t: TargetState, rep: number, ids: string[], what: string, fn: () => Promise<void>, cleanup?: () => Promise<unknown>): Promise<void> {
    if (!this.usable(t)) return;
    const t0 = Date.now();
    try {
      await fn();
    } catch (err) {
      rethrowIfAborted(err);
      const msg = (err as Error).message;
      for (const id of ids) {
        const r = this.row(t, id);
        if (r.values[rep] === null) r.errors.push(`rep ${rep + 1}: ${msg}`);
      }
      log(`  r${rep + 1} [${t.key}] ${what}: FAILED: ${msg}`);
      const m = this.mirrors.get(t.key);
      if (t.mode && (!m?.healthy())) {
        t.error = `the mirror server died or was unmounted during ${what} (rep ${rep + 1}); stderr: ${stderrTail(m)}`;
        log(`  [${t.key}] ${t.error}; skipping this target from now on`);
      } else if (cleanup) {
        try {
          await cleanup();
        } catch (e) {
          rethrowIfAborted(e);
          log(`  [${t.key}] cleanup after the failure failed too: ${(e as Error).message}`);
        }
      }
    } finally {
      t.seconds += (Date.now() - t0) / 1000;
    }
  }

  /**
   * For a deleting step: true (and the rows marked "not run") when the
   * creating step that makes `d` failed on a target that is still usable.
   */
  notMade(t: TargetState, rep: number, ids: string[], d: string): boolean {
    if (this.made.has(d) || !this.usable(t)) return false;
    for (const id of ids) this.row(t, id).errors.push(`rep ${rep + 1}: not run: the step that makes ${path.basename(d)} failed`);
    return true;
  }
}
