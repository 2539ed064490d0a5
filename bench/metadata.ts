/**
 * The metadata workloads, each in a creating half and a deleting half (see
 * timed.ts for why they run in separate passes): create N empty files, then
 * stat them cold and warm and unlink them (the load tool's loops); untar the
 * tree, then find over it cold and warm and rm -rf it (tar, find, rm, timed
 * from spawn to exit).
 */
import * as path from 'node:path';
import { run, runOk } from './proc.js';
import { dropCaches, syncAll, timeoutFor, type Bench } from './runner.js';
import type { TargetState } from './targets.js';

/** Deadline of one load-tool loop over `files` names. */
export function loopTimeout(files: number): number {
  return 120_000 + files * 20;
}

/** Deadline of one tar, find or rm -rf over the tree. */
export const TREE_TIMEOUT_MS = 900_000;

/**
 * One step on the directory `d` of a target and repetition: if it fails, `d`
 * is removed so that nothing of it is left for later steps; then the mirror's
 * request window `window` is closed.
 */
async function dirStep(b: Bench, t: TargetState, rep: number, d: string, ids: string[], what: string, window: string, timeoutMs: number, fn: () => Promise<void>): Promise<void> {
  await b.step(t, rep, ids, what, fn, () => run('rm', ['-rf', d], { timeoutMs }));
  await b.mark(t, window, rep);
}

/** Creating half: `create` N empty files in files.REP. */
export async function create(b: Bench, t: TargetState, rep: number): Promise<void> {
  const n = b.env.opts.files;
  const tmo = loopTimeout(n);
  const d = path.join(t.root, `files.${rep}`);
  await dirStep(b, t, rep, d, ['create'], 'create', 'create', tmo, async () => {
    await b.sh(t, 'mkdir', [d]);
    await syncAll();
    const o = await b.tool(t, ['create', d, String(n)], tmo);
    b.record(t, 'create', rep, o.ops / o.seconds, o);
    b.made.add(d);
  });
}

/** Deleting half: stat cold, stat warm and unlink of that repetition's files, back to back. */
export async function statUnlink(b: Bench, t: TargetState, rep: number): Promise<void> {
  const n = b.env.opts.files;
  const tmo = loopTimeout(n);
  const d = path.join(t.root, `files.${rep}`);
  const ids = ['stat_cold', 'stat_warm', 'unlink'];
  if (b.notMade(t, rep, ids, d)) return;
  await dirStep(b, t, rep, d, ids, 'stat/unlink', 'stat_unlink', tmo, async () => {
    await dropCaches();
    let o = await b.tool(t, ['stat', d, String(n)], tmo);
    b.record(t, 'stat_cold', rep, o.ops / o.seconds, o);
    o = await b.tool(t, ['stat', d, String(n)], tmo);
    b.record(t, 'stat_warm', rep, o.ops / o.seconds, o);
    o = await b.tool(t, ['unlink', d, String(n)], tmo);
    b.record(t, 'unlink', rep, o.ops / o.seconds, o);
    await b.sh(t, 'rmdir', [d]);
  });
}

/** Creating half: untar of the tree into tree.REP. */
export async function untar(b: Bench, t: TargetState, rep: number): Promise<void> {
  const { tree } = b.env;
  const d = path.join(t.root, `tree.${rep}`);
  await dirStep(b, t, rep, d, ['untar'], 'untar', 'untar', TREE_TIMEOUT_MS, async () => {
    await b.sh(t, 'mkdir', [d]);
    // An earlier drop_caches may have evicted the tarball: read it back so untar does not time the disk.
    await runOk('dd', [`if=${tree.path}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: timeoutFor(tree.tarBytes) });
    await syncAll();
    const r = await b.sh(t, 'tar', ['-xf', tree.path, '-C', d], TREE_TIMEOUT_MS);
    b.record(t, 'untar', rep, r.seconds, { seconds: r.seconds });
    b.made.add(d);
    await syncAll(); // untimed, for every target: the untar's request window then includes its writeback
  });
}

/** Deleting half: find cold, find warm and rm -rf of that repetition's tree, back to back. */
export async function findRm(b: Bench, t: TargetState, rep: number): Promise<void> {
  const d = path.join(t.root, `tree.${rep}`);
  const ids = ['find_cold', 'find_warm', 'rmrf'];
  if (b.notMade(t, rep, ids, d)) return;
  await dirStep(b, t, rep, d, ids, 'find/rm -rf', 'find_rm', TREE_TIMEOUT_MS, async () => {
    await dropCaches();
    let r = await b.sh(t, 'find', [d], TREE_TIMEOUT_MS);
    b.record(t, 'find_cold', rep, r.seconds, { seconds: r.seconds });
    r = await b.sh(t, 'find', [d], TREE_TIMEOUT_MS);
    b.record(t, 'find_warm', rep, r.seconds, { seconds: r.seconds });
    r = await b.sh(t, 'rm', ['-rf', d], TREE_TIMEOUT_MS);
    b.record(t, 'rmrf', rep, r.seconds, { seconds: r.seconds });
  });
}
