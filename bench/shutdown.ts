/**
 * Shutdown: whatever happens (Ctrl-C, a signal, a failure, a crash), no mount,
 * no server and no changed system file of the bench stays behind. Owns the
 * registry of live mirrors, the synchronous clean-ups run at process exit,
 * the "interrupted" state every step checks, the scratch directory's removal,
 * and the progress log on stderr.
 */
import * as fs from 'node:fs';
import { detachAllUnder } from '../test/helpers/mounttable.js';
import type { Mirror } from './mounts.js';
import { activeChildren, killAllChildren } from './proc.js';

/** Mirror servers started and not yet stopped. */
export const liveMirrors = new Set<Mirror>();
let shuttingDown = false;
let scratchDir = '';
let keepScratch = false;
const exitCleanups: (() => void)[] = [];

/** Runs `fn` (synchronous, must not throw) when the process exits, however it exits short of SIGKILL. */
export function onExit(fn: () => void): void {
  exitCleanups.push(fn);
}

/** Thrown once the run is being torn down: every phase lets it through. */
export class Aborted extends Error {}

/** Progress and warnings go to stderr; stdout carries only the table. */
export function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

/** Throws Aborted once the run is being torn down (called before every command). */
export function guard(): void {
  if (shuttingDown) throw new Aborted('interrupted');
}

/** Rethrows as Aborted when `err` is the teardown (or happened during it); returns otherwise. */
export function rethrowIfAborted(err: unknown): void {
  if (err instanceof Aborted || shuttingDown) throw new Aborted('interrupted');
}

/** The scratch directory to clean at the end, and whether --keep keeps it. */
export function setScratch(dir: string, keep: boolean): void {
  scratchDir = dir;
  keepScratch = keep;
}

/** Detaches whatever is still mounted under the scratch directory. */
export function detachScratchMounts(): void {
  if (scratchDir) detachAllUnder(scratchDir);
}

/** Removes the scratch directory (unless --keep), never while something is mounted under it. */
export function removeScratch(): void {
  if (!scratchDir || keepScratch) return;
  try {
    if (!detachAllUnder(scratchDir)) {
      log(`bench: ${scratchDir} still has mounts under it; not removing it`);
      return;
    }
    fs.rmSync(scratchDir, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    log(`bench: could not remove ${scratchDir}: ${(err as Error).message}`);
  }
}

/** Kills the workloads, stops the mirrors (aborting them if need be), cleans up and exits. */
export async function emergencyExit(reason: string, code: number): Promise<void> {
  if (shuttingDown) {
    log(`bench: ${reason} again; still cleaning up (bounded, a few seconds)`);
    return;
  }
  shuttingDown = true;
  log(`\nbench: ${reason}: killing workloads, stopping mirrors, unmounting`);
  const servers = new Set([...liveMirrors].map((m) => m.child));
  killAllChildren(servers);
  await Promise.all([...liveMirrors].map((m) => m.stop(3000)));
  detachScratchMounts();
  removeScratch();
  process.exit(code);
}

/** Ctrl-C, SIGTERM, SIGHUP and crashes go through emergencyExit; process exit kills and detaches what is left. */
export function installSignalHandlers(): void {
  process.on('SIGINT', () => void emergencyExit('interrupted (SIGINT)', 130));
  process.on('SIGTERM', () => void emergencyExit('terminated (SIGTERM)', 143));
  process.on('SIGHUP', () => void emergencyExit('hung up (SIGHUP)', 129));
  process.on('uncaughtException', (err) => {
    log(`bench: internal error: ${err.stack ?? err.message}`);
    void emergencyExit('internal error', 70);
  });
  process.on('unhandledRejection', (err) => {
    log(`bench: internal error: ${(err as Error)?.stack ?? String(err)}`);
    void emergencyExit('internal error', 70);
  });
  // Last resort (synchronous): e.g. process.exit from somewhere unexpected.
  process.on('exit', () => {
    for (const c of activeChildren) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const m of liveMirrors) m.killNow();
    detachScratchMounts();
    for (const fn of exitCleanups) fn();
  });
}
