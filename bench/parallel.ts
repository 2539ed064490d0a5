/**
 * The parallel section: N clients at once on one target, each in its own
 * subtree: untar of the first --par-entries entries of /usr/include (2,900),
 * `find -ls` cold and warm, `rm -rf`.
 * It runs on the source, the passthrough mirror and the reference, inside
 * the timed part's two passes (untar in the creating pass, the rest in the
 * deleting pass), interleaved like every other workload. A row's value is
 * the wall time of all N clients, from the first start to the last exit.
 */
import * as path from 'node:path';
import { fmtNum, MiB } from './format.js';
import { run, runOk } from './proc.js';
import { registerRows, type RowDef } from './rows.js';
import { dropCaches, syncAll, timeoutFor, type Bench } from './runner.js';
import { TREE_TIMEOUT_MS } from './metadata.js';
import type { Env, TreeInfo } from './environment.js';
import type { TargetKey, TargetSet, TargetState } from './targets.js';

/** The targets the parallel section runs on (those present in the run). */
export const PARALLEL_TARGETS: readonly TargetKey[] = ['source', 'pt', 'ref'];

/** The section's rows (labels carry the clients and the tree), registered for the log. */
export function defineParallelRows(env: Env): RowDef[] {
  const { opts } = env;
  const tree = parallelTree(env);
  const n = opts.clients;
  const defs: RowDef[] = [
    {
      id: 'par_untar', kind: 'duration', unit: 's',
      label: `${n} x untar ${tree.from}, first ${fmtNum(tree.entries)} entries (${fmtNum(tree.tarBytes / MiB)} MiB each)`,
    },
    { id: 'par_find_cold', kind: 'duration', unit: 's', label: `${n} x find -ls, cold cache` },
    { id: 'par_find_warm', kind: 'duration', unit: 's', label: `${n} x find -ls, warm` },
    { id: 'par_rmrf', kind: 'duration', unit: 's', label: `${n} x rm -rf` },
  ];
  registerRows(defs);
  return defs;
}

/** The tarball the section's clients untar. */
function parallelTree(env: Env): TreeInfo {
  if (!env.parTree) throw new Error('the parallel section runs without its tarball');
  return env.parTree;
}

/** The targets of the section, in column order. */
export function parallelTargets(targets: TargetSet): TargetState[] {
  return [targets.source, targets.pt, targets.ref].filter((t): t is TargetState => t !== undefined);
}

function takesPart(t: TargetState): boolean {
  return PARALLEL_TARGETS.includes(t.key);
}

/** The clients' subtrees of one repetition on a target: par.REP/c0 .. c(N-1). */
function clientDirs(b: Bench, t: TargetState, rep: number): { top: string; dirs: string[] } {
  const top = path.join(t.root, `par.${rep}`);
  return { top, dirs: Array.from({ length: b.env.opts.clients }, (_, i) => path.join(top, `c${i}`)) };
}

/** Creating pass: N untars of the tree at once, each into its own directory. */
export async function parallelUntar(b: Bench, t: TargetState, rep: number): Promise<void> {
  if (!takesPart(t)) return;
  const tree = parallelTree(b.env);
  const { top, dirs } = clientDirs(b, t, rep);
  await b.step(t, rep, ['par_untar'], `${dirs.length} x untar`, async () => {
    await b.sh(t, 'mkdir', [top, ...dirs]);
    // The kernel still holds the inodes of the rows before (the main untar, the
    // created files): let it forget them, so that a server holding a descriptor
    // per inode starts the N untars with its descriptors free, as fusekit does.
    await dropCaches();
    // That evicted the tarball: read it back so the untars do not time the disk.
    await runOk('dd', [`if=${tree.path}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: timeoutFor(tree.tarBytes) });
    await syncAll();
    const s = await b.together(t, dirs.map((d) => ['tar', ['-xf', tree.path, '-C', d]]), TREE_TIMEOUT_MS);
    b.record(t, 'par_untar', rep, s, { seconds: s, clients: dirs.length });
    b.made.add(top);
    await syncAll(); // untimed, as after the single untar
  }, () => run('rm', ['-rf', top], { timeoutMs: TREE_TIMEOUT_MS }));
  await b.mark(t, 'par_untar', rep);
}

/** Deleting pass: drop caches once, then N `find -ls` at once (cold), again (warm), then N `rm -rf` at once. */
export async function parallelFindRm(b: Bench, t: TargetState, rep: number): Promise<void> {
  if (!takesPart(t)) return;
  const { top, dirs } = clientDirs(b, t, rep);
  const ids = ['par_find_cold', 'par_find_warm', 'par_rmrf'];
  if (b.notMade(t, rep, ids, top)) return;
  await b.step(t, rep, ids, `${dirs.length} x find -ls/rm -rf`, async () => {
    await dropCaches();
    const finds = dirs.map((d): [string, string[]] => ['find', [d, '-ls']]);
    let s = await b.together(t, finds, TREE_TIMEOUT_MS);
    b.record(t, 'par_find_cold', rep, s, { seconds: s });
    s = await b.together(t, finds, TREE_TIMEOUT_MS);
    b.record(t, 'par_find_warm', rep, s, { seconds: s });
    s = await b.together(t, dirs.map((d) => ['rm', ['-rf', d]]), TREE_TIMEOUT_MS);
    b.record(t, 'par_rmrf', rep, s, { seconds: s });
    await b.sh(t, 'rmdir', [top]);
  }, () => run('rm', ['-rf', top], { timeoutMs: TREE_TIMEOUT_MS }));
  await b.mark(t, 'par_find_rm', rep);
}
