/**
 * Child processes for the benchmark: every one has a deadline (SIGKILL when it
 * passes) and is registered so a Ctrl-C can kill whatever is running.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/** Children currently running (workload tools and mirror servers alike). */
export const activeChildren = new Set<ChildProcess>();

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How a child ended and what it wrote. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Wall-clock seconds from spawn to exit. */
  seconds: number;
}

/** How to run a child. */
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

/** Runs a program to completion (or to its deadline). Never rejects except when it cannot be spawned. */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'];
    const started = process.hrtime.bigint();
    let child: ChildProcess;
    try {
      child = spawn(cmd, [...args], { stdio, env: opts.env ?? toolEnv() });
    } catch (err) {
      reject(err);
      return;
    }
    activeChildren.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errLen = 0;
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => {
      if (errLen < 1 << 20) err.push(b);
      errLen += b.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      activeChildren.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      activeChildren.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
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
