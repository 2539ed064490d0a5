/**
 * The slow-source section: a source whose metadata requests take a known
 * time, as on a network filesystem, and the mirrors mounted on top of it.
 *
 * The slow source is bench/slow-source.ts (a fusekit mirror of DIR/slow-src
 * at DIR/slow-mnt whose metadata requests each wait --slow-ms on a timer).
 * The passthrough mirror (and the reference, when given) mirror DIR/slow-mnt
 * at DIR/slow-up-pt (DIR/slow-up-ref). Each target works in its own part of
 * the slow source (`slow`, `slow-pt`, `slow-ref`), made untimed before the
 * mounts: M empty files, N client subtrees of directories of empty files, and
 * M / N empty files per client. The rows, all cold (both layers' caches
 * dropped), in the repetitions' rotated target order: `stat` of the M files
 * by one client, `find -ls` of all N subtrees by one client, N clients each
 * running `find -ls` of its own subtree at once, and N clients each running
 * `stat` of its own M / N files at once. The slow source accessed directly is
 * the baseline of the ratios.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../test/helpers/wait.js';
import type { Env } from './environment.js';
import { fmtNum, median, present } from './format.js';
import { loopTimeout, TREE_TIMEOUT_MS } from './metadata.js';
import { runOk } from './proc.js';
import { registerRows, type RowDef } from './rows.js';
import { Bench, dropCaches, stderrTail } from './runner.js';
import { startTargetMirrors, stopTargetMirrors } from './servers.js';
import { guard, log } from './shutdown.js';
import { rotate, targetList, type TargetKey, type TargetSet, type TargetState } from './targets.js';

/** The slow source's server (compiled next to this module). */
const SLOW_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'slow-source.js');

/** Scratch directories of the section, under DIR. */
export const SLOW_DIRS = ['slow-src', 'slow-mnt', 'slow-up-pt', 'slow-up-ref'];

/** How much the section works on, per target. */
export interface SlowSizes {
  /** Files stat'ed by the single client. */
  files: number;
  clients: number;
  /** Files stat'ed by each of the N clients at once (M / N, rounded up). */
  filesPerClient: number;
  dirsPerClient: number;
  filesPerDir: number;
  /** Entries in one client's subtree (its top directory included). */
  entriesPerClient: number;
}

/** What the section measured. */
export interface SlowResult {
  slowMs: number;
  sizes: SlowSizes;
  targets: TargetSet;
  defs: RowDef[];
  /** The target order of every repetition. */
  order: TargetKey[][];
  /** The slow source's counters at the end: the most requests in flight at once, and every request by opcode. */
  slowInFlightMax?: number;
  slowRequests?: Record<string, number>;
  seconds: number;
  error?: string;
}

/** The rows of the section, registered for the log. */
function defineSlowRows(s: SlowSizes): RowDef[] {
  const total = s.clients * s.entriesPerClient;
  const defs: RowDef[] = [
    { id: 'slow_stat_cold', kind: 'duration', unit: 's', label: `stat ${fmtNum(s.files)} files, cold, 1 client` },
    { id: 'slow_find_cold', kind: 'duration', unit: 's', label: `find -ls of ${s.clients} x ${fmtNum(s.entriesPerClient)} entries, cold, 1 client` },
    { id: 'slow_par_find_cold', kind: 'duration', unit: 's', label: `${s.clients} x find -ls, ${fmtNum(s.entriesPerClient)} entries each (${fmtNum(total)}), cold` },
    { id: 'slow_par_stat_cold', kind: 'duration', unit: 's', label: `${s.clients} x stat ${fmtNum(s.filesPerClient)} files each (${fmtNum(s.clients * s.filesPerClient)}), cold` },
  ];
  registerRows(defs);
  return defs;
}

/** Where a target's workloads run: its own part of the slow source, through the target's mount. */
function workDir(t: TargetState): string {
  return path.join(t.root, t.key);
}

function makeSlowTargets(env: Env): TargetSet {
  const { opts } = env;
  const d = (s: string) => path.join(opts.dir, s);
  const fresh = () => ({ rows: {}, windows: {}, seconds: 0 });
  const targets: TargetSet = {
    source: {
      key: 'slow', title: 'slow source', root: d('slow-mnt'), backing: d('slow-src'), mode: 'never', cli: SLOW_SOURCE,
      extraArgs: ['--slow-ms', String(opts.slowMs)], ...fresh(),
    },
    pt: { key: 'slow-pt', title: 'passthrough', root: d('slow-up-pt'), backing: d('slow-mnt'), mode: 'always', cli: opts.cli, ...fresh() },
  };
  if (opts.reference !== undefined) {
    targets.ref = {
      key: 'slow-ref', title: 'reference', root: d('slow-up-ref'), backing: d('slow-mnt'), mode: 'always', cli: opts.reference, reference: true, notes: [],
      ...fresh(),
    };
  }
  return targets;
}

/** Untimed: each target's files and client subtrees, made in the plain directory behind the slow source. */
async function makeTrees(env: Env, list: TargetState[], s: SlowSizes): Promise<void> {
  const tool = (args: string[], n: number) => runOk(env.tool.cmd, [...env.tool.args, ...args], { timeoutMs: loopTimeout(n), captureStdout: true });
  for (const t of list) {
    const base = path.join(env.opts.dir, 'slow-src', t.key);
    fs.mkdirSync(path.join(base, 'files'), { recursive: true });
    await tool(['create', path.join(base, 'files'), String(s.files)], s.files);
    for (let c = 0; c < s.clients; c++) {
      const dir = path.join(base, 'tree', `c${c}`);
      fs.mkdirSync(dir, { recursive: true });
      await tool(['mktree', dir, String(s.dirsPerClient), String(s.filesPerDir)], s.entriesPerClient);
      const own = path.join(base, 'files-per-client', `c${c}`);
      fs.mkdirSync(own, { recursive: true });
      await tool(['create', own, String(s.filesPerClient)], s.filesPerClient);
    }
  }
}

/**
 * Drops the caches of both layers. A mirror holds a descriptor for each
 * source inode its kernel knows, and those pin the slow source's dentries
 * while the first drop runs (whether they are let go before the drop reaches
 * the slow source's superblock is a race); the mirror closes them once the
 * drop's FORGETs reach it, so a second drop, a moment later, empties the
 * lower layer for sure.
 */
async function dropBothLayers(): Promise<void> {
  await dropCaches();
  await sleep(300);
  await dropCaches();
}

type SlowWorkload = (b: Bench, t: TargetState, rep: number) => Promise<void>;

/** One cold step: drop both layers, run `fn`, then close the slow source's request window for this row and target. */
function coldStep(id: string, what: string, fn: (b: Bench, t: TargetState) => Promise<number>): SlowWorkload {
  return async (b, t, rep) => {
    await b.step(t, rep, [id], what, async () => {
      await dropBothLayers();
      const s = await fn(b, t);
      b.record(t, id, rep, s, { seconds: s });
    });
    await b.mark(b.targets.source, `${id}@${t.key}`, rep);
  };
}

const WORKLOADS: SlowWorkload[] = [
  coldStep('slow_stat_cold', 'stat cold', async (b, t) => {
    const n = b.env.opts.slowFiles;
    const o = await b.tool(t, ['stat', path.join(workDir(t), 'files'), String(n)], loopTimeout(n));
    return o.seconds;
  }),
  coldStep('slow_find_cold', 'find -ls cold', async (b, t) => (await b.sh(t, 'find', [path.join(workDir(t), 'tree'), '-ls'], TREE_TIMEOUT_MS)).seconds),
  coldStep('slow_par_find_cold', 'parallel find -ls cold', (b, t) => {
    const dirs = Array.from({ length: b.env.opts.clients }, (_, c) => path.join(workDir(t), 'tree', `c${c}`));
    return b.together(t, dirs.map((d) => ['find', [d, '-ls']]), TREE_TIMEOUT_MS);
  }),
  coldStep('slow_par_stat_cold', 'parallel stat cold', (b, t) => {
    const { clients, slowFiles } = b.env.opts;
    const n = String(Math.ceil(slowFiles / clients));
    const dirs = Array.from({ length: clients }, (_, c) => path.join(workDir(t), 'files-per-client', `c${c}`));
    return b.together(t, dirs.map((d) => [b.env.tool.cmd, [...b.env.tool.args, 'stat', d, n]]), loopTimeout(slowFiles));
  }),
];

/** The slow source's own stats file, read directly (for the counters the snapshots do not keep). */
function readSlowStats(b: Bench): { inFlightMax?: number; requests?: Record<string, number> } {
  const m = b.mirrors.get('slow');
  if (!m) return {};
  try {
    return JSON.parse(fs.readFileSync(m.statsFile, 'utf8')) as { inFlightMax?: number; requests?: Record<string, number> };
  } catch {
    return {};
  }
}

/**
 * Runs the section: makes the trees, starts the slow source and the mirrors
 * on top of it, runs the repetitions, and stops every server it started
 * (also on failure; an interruption is left to the bench's shutdown, which
 * stops whatever is registered).
 */
export async function slowSourcePhase(env: Env): Promise<SlowResult> {
  const t0 = Date.now();
  const { opts } = env;
  const sizes: SlowSizes = {
    files: opts.slowFiles, clients: opts.clients, filesPerClient: Math.ceil(opts.slowFiles / opts.clients), dirsPerClient: opts.slowDirs, filesPerDir: opts.slowFilesPerDir,
    entriesPerClient: opts.slowDirs * (opts.slowFilesPerDir + 1) + 1,
  };
  const targets = makeSlowTargets(env);
  const b = new Bench(env, targets);
  const res: SlowResult = { slowMs: opts.slowMs, sizes, targets, defs: defineSlowRows(sizes), order: b.order, seconds: 0 };
  try {
    log(`\n== slow-source section: making the trees (${fmtNum(sizes.files)} files and ${sizes.clients} x ${fmtNum(sizes.entriesPerClient)} entries per target)`);
    await makeTrees(env, b.list, sizes);
    log(`== slow-source section: starting the slow source (${opts.slowMs} ms per metadata request) and the mirrors on top of it`);
    await startTargetMirrors(b, env.work, opts.cli);
    if (!b.usable(targets.source)) throw new Error(`the slow source did not start: ${targets.source.error ?? '?'}`);
    for (let rep = 0; rep < b.reps; rep++) {
      guard();
      const order = rotate(b.list, rep);
      b.order.push(order.map((t) => t.key));
      log(`\n== slow-source section, repetition ${rep + 1}/${b.reps}, order: ${order.map((t) => t.key).join(', ')}`);
      for (const fn of WORKLOADS) {
        for (const t of order) {
          guard();
          // A mirror above a slow source that died would be measuring nothing: stop at once.
          if (!b.mirrors.get(targets.source.key)?.healthy()) throw new Error(`the slow source is gone or unmounted (stderr: ${stderrTail(b.mirrors.get(targets.source.key))})`);
          await fn(b, t, rep);
        }
      }
    }
    const stats = readSlowStats(b);
    res.slowInFlightMax = stats.inFlightMax;
    res.slowRequests = stats.requests;
  } catch (err) {
    guard();
    res.error = (err as Error).message;
    log(`  slow-source section FAILED: ${res.error}`);
  } finally {
    await stopTargetMirrors(b);
  }
  for (const t of targetList(targets)) for (const r of Object.values(t.rows)) r.median = median(present(r.values));
  res.seconds = (Date.now() - t0) / 1000;
  return res;
}
