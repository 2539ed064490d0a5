/**
 * The mirror server processes under test and their stats files, and the
 * guarantee that no mount outlives a server: servers are stopped with
 * SIGTERM; if one doesn't go in time its connection is aborted through
 * fusectl and the mountpoint detached with `umount -l`
 * (test/helpers/mounttable.ts). Nothing here touches a mount from this
 * process except through /proc/self/mountinfo, so a hung server can never
 * hang the harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { forceUnmount, mountAt } from '../test/helpers/mounttable.js';
import { procStatus } from '../test/helpers/proc.js';
import { statsWrittenAfter } from '../test/helpers/stats.js';
import { sleep } from '../test/helpers/wait.js';
import { activeChildren } from './proc.js';
import { setprivArgs, type RunAs } from './unprivileged.js';

/** A started mirror, or why it did not start (unknownOption: the CLI rejected an argument). */
export type StartResult =
  | { ok: true; mirror: Mirror }
  | { ok: false; unknownOption: boolean; message: string };

/** One `fusekit mirror` server process. */
export class Mirror {
  private stderrText = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly mnt: string,
    readonly statsFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.exitInfo = { code, signal };
        activeChildren.delete(child);
        resolve();
      });
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (this.stderrText.length < 64 * 1024) this.stderrText += b.toString('utf8');
    });
    child.stdout?.on('data', () => {});
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  stderr(): string {
    return this.stderrText;
  }

  isRunning(): boolean {
    return this.exitInfo === undefined;
  }

  /** Whether the server is alive and its mount is in the table (checked before every step). */
  healthy(): boolean {
    const top = mountAt(this.mnt);
    return this.isRunning() && top !== undefined && top.fsType === 'fuse.fusekit';
  }

  /**
   * Starts `fusekit mirror SRC MNT --stats-file F [extra...]` (as `runAs`
   * through setpriv, which execs, so the pid is the server's) and waits for
   * the mount to appear in /proc/self/mountinfo. On failure nothing is left
   * mounted.
   */
  static async start(cli: string, src: string, mnt: string, statsFile: string, extra: string[], opts: { runAs?: RunAs; timeoutMs?: number } = {}): Promise<StartResult> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const args = [cli, 'mirror', src, mnt, '--stats-file', statsFile, ...extra];
    const child = opts.runAs
      ? spawn('setpriv', [...setprivArgs(opts.runAs), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    activeChildren.add(child);
    const m = new Mirror(child, mnt, statsFile);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    let error: Error | undefined;
    void spawnError.then((e) => (error = e));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (error) return { ok: false, unknownOption: false, message: `cannot run ${process.execPath}: ${error.message}` };
      if (!m.isRunning()) {
        const text = m.stderr().trim();
        const unknown = m.exitInfo?.code === 2 && /unknown option/i.test(text);
        forceUnmount(mnt);
        return { ok: false, unknownOption: unknown, message: `fusekit mirror exited (code ${m.exitInfo?.code}, signal ${m.exitInfo?.signal}): ${text.split('\n').slice(0, 3).join(' | ')}` };
      }
      if (m.healthy()) return { ok: true, mirror: m };
      await sleep(25);
    }
    await m.stop();
    return { ok: false, unknownOption: false, message: `mount did not appear at ${mnt} within ${timeoutMs / 1000} s; stderr: ${m.stderr().trim()}` };
  }

  /** Peak resident set size of the server in KiB (VmHWM), if it is still running. */
  peakRssKiB(): number | undefined {
    return procStatus(this.pid).hwmKiB;
  }

  /**
   * SIGTERM, wait; if the server is still there after `graceMs`, SIGKILL it and
   * abort/detach the mount. Returns how it went. Never throws.
   */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
    let forced = false;
    if (this.isRunning()) {
      try {
        this.child.kill('SIGTERM');
      } catch {
        /* gone */
      }
      const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        forced = true;
        forceUnmount(this.mnt);
        try {
          this.child.kill('SIGKILL');
        } catch {
          /* gone */
        }
        await Promise.race([this.exited, sleep(5000)]);
      }
    }
    if (mountAt(this.mnt)) {
      forced = true;
      forceUnmount(this.mnt);
    }
    return { code: this.exitInfo?.code ?? null, signal: this.exitInfo?.signal ?? null, forced };
  }

  /** Synchronous last resort for process exit: kill and detach. */
  killNow(): void {
    try {
      if (this.isRunning()) this.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    forceUnmount(this.mnt);
  }
}

/** The part of a server's stats file the bench reads. */
export interface StatsSnapshot {
  requests: Record<string, number>;
  uptimeSeconds: number;
  /** Errors by errno name, the server's node table size and open handles, when the file has them. */
  errors?: Record<string, number>;
  nodes?: number;
  openHandles?: number;
}

/**
 * The server's stats file as written after `afterMs` (epoch ms): the server
 * rewrites it at least once a second, so this waits for a write newer than the
 * moment of interest. Undefined if none arrives within `timeoutMs`. A
 * reference server's file may lack fields: requests default to none.
 */
export async function statsAfter(file: string, afterMs: number, timeoutMs = 5000): Promise<StatsSnapshot | undefined> {
  const j = await statsWrittenAfter(file, afterMs, { timeoutMs, intervalMs: 50 });
  return j && { requests: j.requests ?? {}, uptimeSeconds: j.uptimeSeconds ?? 0, errors: j.errors, nodes: j.nodes, openHandles: j.openHandles };
}

/** Per-opcode difference b - a. */
export function statsDelta(a: StatsSnapshot | undefined, b: StatsSnapshot | undefined): Record<string, number> | undefined {
  if (!a || !b) return undefined;
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.requests)) {
    const diff = v - (a.requests[k] ?? 0);
    if (diff) d[k] = diff;
  }
  return d;
}
