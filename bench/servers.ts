/**
 * Starting and stopping the mirror servers of a run: each timed mirror target
 * (passthrough, no passthrough, the ordinary user's mirror, and the
 * --reference program), and the memory phase's fresh mirror. A CLI that
 * rejects --passthrough is run without it (and the table says so); a
 * reference program's exit status on SIGTERM is only noted; the user's mirror
 * is skipped, with the reason, where the machine cannot run it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { forceUnmount, mountAt } from '../test/helpers/mounttable.js';
import { sleep } from '../test/helpers/wait.js';
import { Mirror } from './mounts.js';
import type { Bench } from './runner.js';
import { guard, liveMirrors, log } from './shutdown.js';
import { mirrorTargets, type TargetState } from './targets.js';
import { grantAllowOther, resolveUser, restoreFuseConf, whyUserTargetCannotRun, type RunAs } from './unprivileged.js';

/** How a server's SIGTERM went (forced: it had to be aborted or detached). */
export type StopResult = { code: number | null; signal: NodeJS.Signals | null; forced: boolean };

/**
 * Starts `CLI mirror SRC MNT --passthrough MODE [mountArgs] --stats-file F`
 * (as `runAs` if given), or without --passthrough if the CLI rejects the
 * flag; registers it for shutdown.
 */
export async function startMirror(
  cli: string, src: string, mnt: string, statsFile: string, mode: 'always' | 'never' | 'auto', tag: string,
  how: { mountArgs?: string[]; runAs?: RunAs } = {},
): Promise<{ ok: true; mirror: Mirror; args: string[]; flagRejected: boolean; message: string } | { ok: false; message: string }> {
  guard();
  const mountArgs = how.mountArgs ?? [];
  let args = ['--passthrough', mode, ...mountArgs];
  let flagRejected = false;
  let res = await Mirror.start(cli, src, mnt, statsFile, args, { runAs: how.runAs });
  if (!res.ok && res.unknownOption && (mountArgs.length === 0 || /passthrough/.test(res.message))) {
    // Kept on purpose for fusekit builds without --passthrough; always reported in the table header.
    log(`  [${tag}] WARNING: this fusekit rejected '--passthrough ${mode}' (${res.message}); running the mirror WITHOUT the flag`);
    flagRejected = true;
    guard();
    args = [...mountArgs];
    res = await Mirror.start(cli, src, mnt, statsFile, args, { runAs: how.runAs });
  }
  if (!res.ok) return { ok: false, message: `mirror did not start with '${['mirror', src, mnt, ...args].join(' ')}': ${res.message}` };
  liveMirrors.add(res.mirror);
  // The start-up line (it names the passthrough mode) may trail the mount by a moment.
  for (let i = 0; i < 40 && !res.mirror.stderr().includes('\n'); i++) await sleep(25);
  const message = res.mirror.stderr().trim();
  log(`  [${tag}] server pid ${res.mirror.pid}: ${message.split('\n')[0] ?? ''}`);
  return { ok: true, mirror: res.mirror, args, flagRejected, message };
}

/** Stops a server, detaches what is left of its mount and empties the bare mountpoint. */
export async function stopMirror(m: Mirror, mnt: string): Promise<StopResult> {
  const stop = await m.stop();
  liveMirrors.delete(m);
  if (mountAt(mnt)) forceUnmount(mnt);
  cleanDirContents(mnt); // anything that landed in the bare mountpoint
  return stop;
}

function cleanDirContents(dir: string): void {
  if (mountAt(dir)) return; // never reach into a mount from here
  try {
    for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  } catch (err) {
    log(`bench: could not empty ${dir}: ${(err as Error).message}`);
  }
}


/**
 * Gets the ordinary user's mirror ready to start: the user exists, the
 * machine lets users mount, SRC and MNT (and a directory for the stats file)
 * belong to the user. Returns the user, or why the target is skipped.
 */
async function prepareUserTarget(t: TargetState, cli: string, dir: string): Promise<RunAs | string> {
  const user = resolveUser();
  if (typeof user === 'string') return user;
  const why = await whyUserTargetCannotRun(cli, user);
  if (why) return why;
  for (const d of [t.backing, t.root, userStatsDir(dir)]) {
    fs.mkdirSync(d, { recursive: true });
    fs.chownSync(d, user.uid, user.gid);
  }
  return user;
}

/** Where the user's mirror writes its stats file (it renames a new file into place, so it needs a directory of its own). */
function userStatsDir(dir: string): string {
  return path.join(dir, 'work-user');
}

/**
 * Starts the user's mirror with /etc/fuse.conf allowing allow_other for the
 * moment of the mount (see unprivileged.ts): the file is restored as soon as
 * the mount is up or the start failed.
 */
async function startUserMirror(t: TargetState, cli: string, dir: string, runAs: RunAs): Promise<ReturnType<typeof startMirror> | string> {
  try {
    t.fuseConf = grantAllowOther();
  } catch (err) {
    return `cannot add user_allow_other to /etc/fuse.conf: ${(err as Error).message}`;
  }
  try {
    return await startMirror(cli, t.backing, t.root, path.join(userStatsDir(dir), 'stats-user.json'), t.mode ?? 'auto', t.key, { mountArgs: t.mountArgs, runAs });
  } finally {
    const restored = restoreFuseConf();
    if (restored) {
      t.fuseConf.heldSeconds = restored.heldSeconds;
      t.fuseConf.restore = restored.how;
      log(`  [${t.key}] /etc/fuse.conf: user_allow_other was in place for ${restored.heldSeconds.toFixed(1)} s; ${restored.how}`);
    }
  }
}

/** Starts the mirror of every mirror target and its request-count chain; a target whose mirror does not start gets its error. */
export async function startTargetMirrors(b: Bench, work: string, defaultCli: string): Promise<void> {
  for (const t of mirrorTargets(b.targets)) {
    const cli = t.cli ?? defaultCli;
    let r: Awaited<ReturnType<typeof startMirror>>;
    if (t.key === 'user') {
      const runAs = await prepareUserTarget(t, cli, b.env.opts.dir);
      const started = typeof runAs === 'string' ? runAs : await startUserMirror(t, cli, b.env.opts.dir, runAs);
      if (typeof started === 'string') {
        t.skipped = started;
        log(`  [${t.key}] SKIPPED: ${started}`);
        continue;
      }
      t.runAs = runAs as RunAs;
      r = started;
    } else {
      r = await startMirror(cli, t.backing, t.root, path.join(work, `stats-${t.key}.json`), t.mode ?? 'never', t.key, { mountArgs: t.extraArgs });
    }
    if (!r.ok) {
      t.error = r.message;
      log(`  [${t.key}] ${t.error}`);
      continue;
    }
    b.mirrors.set(t.key, r.mirror);
    t.mirrorArgs = r.args;
    t.flagRejected = r.flagRejected;
    t.startMessage = r.message;
    t.pid = r.mirror.pid;
    await b.baseline(t);
  }
}

/**
 * Stops every running target mirror, recording its peak RSS and how it
 * stopped; in the reverse order of starting, so that a mirror mounted on
 * another target's mount goes first.
 */
export async function stopTargetMirrors(b: Bench): Promise<void> {
  for (const t of mirrorTargets(b.targets).reverse()) {
    const m = b.mirrors.get(t.key);
    if (!m) continue;
    t.peakRssKiB = m.peakRssKiB();
    t.stop = await stopMirror(m, t.root);
    b.mirrors.delete(t.key);
    const how = t.stop.forced ? 'had to be aborted/detached' : `exited with code ${t.stop.code}`;
    log(`  [${t.key}] server stopped: ${how}`);
    if (!t.stop.forced && t.stop.code !== 0) {
      const msg = `server exited with code ${t.stop.code} on SIGTERM`;
      // Another program's exit status on SIGTERM is its own business (libfuse's passthrough_hp exits 1).
      if (t.reference) (t.notes ??= []).push(`${msg} (noted only; it does not fail the run)`);
      else t.error ??= msg;
    }
  }
}
