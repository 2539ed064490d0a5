/**
 * Child processes for the tests, the conformance runner and the bench:
 * running a program to completion with a hard deadline (SIGKILL when it
 * passes) while keeping a capped copy of its output, and what /proc says
 * about a running process. Importing this module has no side effects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';

/** How a child ended and what it wrote. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBuf: Buffer;
  timedOut: boolean;
  /** Wall-clock seconds from spawn to exit (the bench times tar, find and rm with it). */
  seconds: number;
}

/** How to run a child. */
export interface RunOptions {
  timeoutMs: number;
  cwd?: string;
  /** Default: this process's environment for a child (see childEnv). */
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Bytes of stdout/stderr kept (each); the rest is drained and dropped. Default 64 MiB. */
  maxBuffer?: number;
  /** 'ignore' sends stdout to /dev/null (where a timed `find` writes); default 'pipe'. */
  stdout?: 'pipe' | 'ignore';
  /** A registry the child is in while it runs, so that a signal handler can kill it. */
  track?: Set<ChildProcess>;
}

/** This process's environment for a child, plus `extra`, without what node --test sets for its own file processes. */
export function childEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

/**
 * Keeps the first `cap` bytes a stream delivers and drains the rest, so a
 * chatty child never blocks on a full pipe. Returns what was kept so far.
 */
export function collect(stream: Readable | null | undefined, cap: number): () => Buffer {
  const chunks: Buffer[] = [];
  let len = 0;
  stream?.on('data', (b: Buffer) => {
    if (len < cap) chunks.push(b);
    len += b.length;
  });
  return () => Buffer.concat(chunks);
}

/**
 * Runs a program with a hard deadline (SIGKILL when it passes). Resolves with
 * the outcome whatever the exit status; rejects only if the program can't be spawned.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const started = process.hrtime.bigint();
  const max = opts.maxBuffer ?? 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, [...args], {
        cwd: opts.cwd,
        env: opts.env ?? childEnv(),
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.stdout ?? 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(err);
      return;
    }
    opts.track?.add(child);
    const out = collect(child.stdout, max);
    const err = collect(child.stderr, max);
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      opts.track?.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      opts.track?.delete(child);
      const stdoutBuf = out();
      resolve({
        code,
        signal,
        stdout: stdoutBuf.toString('utf8'),
        stderr: err().toString('utf8'),
        stdoutBuf,
        timedOut,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
  });
}

/** Formats a RunResult for assertion messages. */
export function describeRun(r: RunResult): string {
  return (
    `exit=${r.code} signal=${r.signal} timedOut=${r.timedOut} ${Math.round(r.seconds * 1000)}ms\n` +
    `stdout: ${r.stdout.slice(0, 4000)}\nstderr: ${r.stderr.slice(0, 4000)}`
  );
}

/** Number of open descriptors of a process (entries of /proc/PID/fd); throws once it is gone. */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size now (VmRSS) and at its peak (VmHWM) in KiB; {} once the process is gone. */
export function procStatus(pid: number): { rssKiB?: number; hwmKiB?: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(s);
    return { rssKiB: rss ? Number(rss[1]) : undefined, hwmKiB: hwm ? Number(hwm[1]) : undefined };
  } catch {
    return {};
  }
}
