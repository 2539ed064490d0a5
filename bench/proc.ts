/**
 * Child processes for the benchmark: every one has a deadline (SIGKILL when it
 * passes) and is registered so a Ctrl-C can kill whatever is running.
 */
import type { ChildProcess } from 'node:child_process';
import { run as runChild, type RunResult } from '../test/helpers/proc.js';

export type { RunResult };

/** Children currently running (workload tools and mirror servers alike). */
export const activeChildren = new Set<ChildProcess>();

/** How to run a workload command. */
export interface RunOptions {
  timeoutMs: number;
  /** Keep stdout (default: it goes to /dev/null, as `find` output should). */
  captureStdout?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The environment for tools: C locale so numbers parse the same everywhere. */
export function toolEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LANG: 'C' };
}

/**
 * Runs a program to completion (or to its deadline), registered in
 * activeChildren while it runs. Never rejects except when it cannot be spawned.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return runChild(cmd, args, {
    timeoutMs: opts.timeoutMs,
    env: opts.env ?? toolEnv(),
    stdout: opts.captureStdout ? 'pipe' : 'ignore',
    maxBuffer: 1 << 20,
    track: activeChildren,
  });
}

/** A workload command that failed, timed out or printed nothing usable. */
export class ToolError extends Error {}

/** Like run(), but a non-zero exit, a signal or a timeout throws a ToolError naming the command. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.timedOut) throw new ToolError(`${cmd} ${args.join(' ')}: timed out after ${opts.timeoutMs / 1000} s`);
  if (r.code !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
    throw new ToolError(`${cmd} ${args.join(' ')}: ${why}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return r;
}

/** Kills every registered child with SIGKILL (for Ctrl-C and fatal errors). */
export function killAllChildren(except?: ReadonlySet<ChildProcess>): void {
  for (const c of activeChildren) {
    if (except?.has(c)) continue;
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
