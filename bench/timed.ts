/**
 * The timed part: an untimed write of each target's sequential file, then
 * two passes over the repetitions, every workload on all targets back to back
 * in the repetition's rotated order.
 */
import { randreadCold, randreadWarm, seqFile, seqreadCold, seqreadWarm, seqwrite, warmupWrite } from './data.js';
import { noteDisturbance } from './environment.js';
import { create, findRm, statUnlink, untar } from './metadata.js';
import { parallelFindRm, parallelUntar } from './parallel.js';
import { run } from './proc.js';
import type { Bench } from './runner.js';
import { guard, log } from './shutdown.js';
import { rotate, type TargetState } from './targets.js';

type Workload = (b: Bench, t: TargetState, rep: number) => Promise<void>;

/**
 * The first pass runs every step that creates files, the second every bulk
 * deletion. The baseline here is ext4 without a journal, whose inode
 * allocator skips (at a buffer lookup each) the free inodes deleted in the
 * last 60-360 s. A create or untar after a few tens of thousands of deletions
 * then costs several times more kernel time, whatever the target (see
 * bench/README.md). drop_caches does not clear that, and waiting it out would
 * cost minutes.
 */
const CREATING: Workload[] = [seqwrite, seqreadCold, seqreadWarm, randreadCold, randreadWarm, create, untar];
const DELETING: Workload[] = [statUnlink, findRm];

/**
 * Runs the timed part on every target; results land in the targets, the
 * order in `b.order`. The parallel section's steps (unless --no-parallel)
 * are the last of each pass: they run on the source, the passthrough mirror
 * and the reference only.
 */
export async function runTimedPart(b: Bench): Promise<void> {
  log('\n== set-up: one untimed write of the sequential file per target');
  for (const t of b.list) await warmupWrite(b, t);
  const par = b.env.opts.parallel;
  const passes = [
    ['creating', [...CREATING, ...(par ? [parallelUntar] : [])]],
    ['deleting', [...DELETING, ...(par ? [parallelFindRm] : [])]],
  ] as const;
  for (const [half, workloads] of passes) {
    for (let rep = 0; rep < b.reps; rep++) {
      guard();
      const order = rotate(b.list, rep);
      if (half === 'creating') b.order.push(order.map((t) => t.key));
      noteDisturbance(b.env, `the start of repetition ${rep + 1} (${half} pass)`);
      log(`\n== repetition ${rep + 1}/${b.reps}, ${half} pass, order: ${order.map((t) => t.key).join(', ')}`);
      for (const fn of workloads) {
        for (const t of order) {
          guard();
          await fn(b, t, rep);
        }
      }
    }
    if (half === 'creating') {
      for (const t of b.list) {
        if (b.usable(t) && (!t.mode || b.mirrors.get(t.key)?.healthy())) await run('rm', ['-f', seqFile(t)], { timeoutMs: 120_000 });
      }
    }
  }
}
