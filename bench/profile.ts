/**
 * The request profile: an untimed pass on one mirror after the timed part
 * that splits its requests by step (create, stat cold/warm, unlink, untar,
 * find cold/warm, rm -rf) from the mirror's stats file.
 */
import * as path from 'node:path';
import { subCounts } from './format.js';
import { loopTimeout, TREE_TIMEOUT_MS } from './metadata.js';
import { statsAfter, statsDelta, type StatsSnapshot } from './mounts.js';
import { run, runOk, ToolError } from './proc.js';
import { dropCaches, stderrTail, syncAll, timeoutFor, type Bench } from './runner.js';
import { log, rethrowIfAborted } from './shutdown.js';
import type { TargetState } from './targets.js';

/** What the profile found; see bench/README.md, "Request counts". */
export interface ProfileResult {
  files: number;
  entries: number;
  /** Per-step request counts (warm, unlink and rm -rf by difference, see the README). */
  steps: Record<string, Record<string, number>>;
  /** The measured windows the steps were computed from. */
  windows: Record<string, Record<string, number>>;
  /** Durations of the profiling pass (untimed for the table; for reference). */
  seconds: Record<string, number>;
  error?: string;
}

/** A cold pass, a warm pass and a removal over the same files, as row ids and as words for window names. */
interface Prefixes {
  ids: [cold: string, warm: string, remove: string];
  names: [cold: string, warm: string, remove: string];
  /** Runs one of the three; `label` names its duration in ProfileResult.seconds. */
  cold(label: string): Promise<void>;
  warm(label: string): Promise<void>;
  remove(label: string): Promise<void>;
}

/** Snapshots after cold; cold+warm; cold+warm+remove. */
type Snapshots = [StatsSnapshot, StatsSnapshot, StatsSnapshot];

/**
 * Untimed pass on one mirror that splits the requests by step. A snapshot
 * of the stats file costs up to a second, which would let the 1 s entry and
 * attribute timeouts run out between a cold and a warm pass; so the warm
 * pass, unlink and rm -rf are measured as prefixes (cold; cold+warm;
 * cold+warm+unlink) each after its own drop_caches, and taken by difference.
 */
export async function profile(b: Bench, t: TargetState): Promise<ProfileResult | undefined> {
  const m = b.mirrors.get(t.key);
  if (!m || !b.usable(t)) return undefined;
  const { opts, tree } = b.env;
  const n = opts.files;
  const res: ProfileResult = { files: n, entries: tree.entries, steps: {}, windows: {}, seconds: {} };
  const snap = async (): Promise<StatsSnapshot> => {
    const s = await statsAfter(m.statsFile, Date.now());
    if (!s) throw new ToolError('the mirror wrote no stats file within 5 s');
    return s;
  };
  const win = (name: string, x: StatsSnapshot, y: StatsSnapshot) => (res.windows[name] = statsDelta(x, y) ?? {});
  const timedTool = async (label: string, args: string[]) => {
    const o = await b.tool(t, args, loopTimeout(n));
    res.seconds[label] = o.seconds;
  };
  const timedSh = async (label: string, cmd: string, args: string[]) => {
    const r = await b.sh(t, cmd, args, TREE_TIMEOUT_MS);
    res.seconds[label] = r.seconds;
  };
  /** Runs the three prefixes, each after its own drop_caches, and returns the snapshot after each. */
  const runPrefixes = async (p: Prefixes): Promise<Snapshots> => {
    const [cold, warm] = p.ids;
    await dropCaches();
    await p.cold(cold);
    const a = await snap();
    await dropCaches();
    await p.cold(`${cold}_2`);
    await p.warm(warm);
    const c = await snap();
    await dropCaches();
    await p.cold(`${cold}_3`);
    await p.warm(`${warm}_2`);
    await p.remove(p.ids[2]);
    return [a, c, await snap()];
  };
  /** The prefixes' windows, and the three steps taken by difference. */
  const byDifference = (p: Prefixes, start: StatsSnapshot, [a, c, d]: Snapshots) => {
    const [cold, warm, remove] = p.names;
    const w1 = win(`drop+${cold}`, start, a);
    const w2 = win(`drop+${cold}+${warm}`, a, c);
    const w3 = win(`drop+${cold}+${warm}+${remove}`, c, d);
    res.steps[p.ids[0]] = w1;
    res.steps[p.ids[1]] = subCounts(w2, w1);
    res.steps[p.ids[2]] = subCounts(w3, w2);
  };
  const fd = path.join(t.root, 'profile.files');
  const td = path.join(t.root, 'profile.tree');
  const statUnlink: Prefixes = {
    ids: ['stat_cold', 'stat_warm', 'unlink'],
    names: ['stat cold', 'stat warm', 'unlink'],
    cold: (label) => timedTool(label, ['stat', fd, String(n)]),
    warm: (label) => timedTool(label, ['stat', fd, String(n)]),
    remove: (label) => timedTool(label, ['unlink', fd, String(n)]),
  };
  const findRm: Prefixes = {
    ids: ['find_cold', 'find_warm', 'rmrf'],
    names: ['find cold', 'find warm', 'rm -rf'],
    cold: (label) => timedSh(label, 'find', [td]),
    warm: (label) => timedSh(label, 'find', [td]),
    remove: (label) => timedSh(label, 'rm', ['-rf', td]),
  };
  log(`\n== request profile of the ${t.title} mirror (untimed)`);
  try {
    await b.sh(t, 'mkdir', [fd]);
    await dropCaches();
    const s0 = await snap();
    await timedTool('create', ['create', fd, String(n)]);
    const s1 = await snap();
    const files = await runPrefixes(statUnlink);
    await b.sh(t, 'rmdir', [fd]);
    res.steps['create'] = win('create', s0, s1);
    byDifference(statUnlink, s1, files);

    await b.sh(t, 'mkdir', [td]);
    await dropCaches();
    await runOk('dd', [`if=${tree.path}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: timeoutFor(tree.tarBytes) });
    const u0 = await snap();
    await timedSh('untar', 'tar', ['-xf', tree.path, '-C', td]);
    await syncAll();
    const u1 = await snap();
    const trees = await runPrefixes(findRm);
    res.steps['untar'] = win('untar+sync', u0, u1);
    byDifference(findRm, u1, trees);
  } catch (err) {
    rethrowIfAborted(err);
    res.error = (err as Error).message;
    log(`  [${t.key}] profile FAILED: ${res.error}`);
    if (m.healthy()) {
      await run('rm', ['-rf', fd, td], { timeoutMs: TREE_TIMEOUT_MS });
    } else {
      t.error ??= `the mirror server died or was unmounted during the request profile; stderr: ${stderrTail(m)}`;
    }
  }
  return res;
}
