/**
 * The unprivileged target (`--user`): `fusekit mirror SRC MNT -o allow_other`
 * run as an ordinary user (nobody), mounted through fusermount3, so its column
 * shows what a user gets without passthrough. The workloads stay root's, and
 * root reaches another user's FUSE mount only with allow_other, which
 * fusermount3 grants a user only with `user_allow_other` in /etc/fuse.conf.
 *
 * That file is shared by the whole machine, so it is changed for the moment
 * of the mount alone: fusermount3 reads it when it mounts and never again, so
 * the line is removed as soon as the mount is in the table. The change is
 * written atomically (a new file renamed over the old one) and marked with a
 * comment line, so that a run killed in that moment is cleaned up by the next.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findFusermount, parseFuseConf, whyHelperCannotMount } from '../src/transport/fusermount.js';
import { log } from './shutdown.js';

/** The ordinary user the unprivileged mirror runs as. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

/** The account the unprivileged mirror runs as. */
export const USER_NAME = 'nobody';

/** The file fusermount3 reads. */
export const FUSE_CONF = '/etc/fuse.conf';

/** Marks the line the bench adds; fusermount3 skips comment lines. */
const MARK = "# added by fusekit's npm run bench for one mount of an unprivileged mirror; removed once it is mounted";
const GRANT = `${MARK}\nuser_allow_other\n`;

/** The user's ids from the account database, or why not. */
export function resolveUser(name = USER_NAME): RunAs | string {
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, name], { encoding: 'utf8', timeout: 5000 });
    return r.status === 0 ? Number(r.stdout.trim()) : NaN;
  };
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return `there is no user ${name} on this machine`;
  if (uid === 0) return `${name} is root`;
  return { name, uid, gid };
}

/** setpriv arguments that run the rest of a command line as `user`: no supplementary groups, no capabilities. */
export function setprivArgs(user: RunAs): string[] {
  return [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all'];
}

/**
 * Why the unprivileged target cannot run here, or undefined: fusermount3 must
 * be installed set-user-ID root, /dev/fuse open to every user, and `cli`
 * runnable by the user (a checkout under /root is not).
 */
export async function whyUserTargetCannotRun(cli: string, user: RunAs): Promise<string | undefined> {
  const helper = await findFusermount();
  if (!helper) return 'fusermount3 is not installed (apt-get install fuse3)';
  const helperProblem = await whyHelperCannotMount(helper);
  if (helperProblem) return helperProblem;
  try {
    if ((fs.statSync('/dev/fuse').mode & 0o006) !== 0o006) return '/dev/fuse is not readable and writable by other users (udev makes it 0666)';
  } catch {
    return '/dev/fuse does not exist';
  }
  const probe = spawnSync('setpriv', [...setprivArgs(user), process.execPath, cli, '--version'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error) return `cannot run setpriv (util-linux): ${probe.error.message}`;
  if (probe.status !== 0) {
    return `${user.name} cannot run ${cli} (exit ${probe.status}: ${(probe.stderr || '').trim().split('\n')[0] ?? ''}); the checkout must be readable by that user`;
  }
  try {
    // The change is a rename over the file: it would replace a symlink by a copy.
    if (!fs.lstatSync(FUSE_CONF).isFile() && !parseFuseConf(fs.readFileSync(FUSE_CONF, 'utf8')).userAllowOther) {
      return `${FUSE_CONF} is not a regular file, and the bench changes only a regular file`;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `cannot read ${FUSE_CONF}: ${(err as Error).message}`;
  }
  return undefined;
}

/** What happened to /etc/fuse.conf for the mount, for the table's header. */
export interface FuseConfChange {
  /** `already`: it allowed allow_other and was not touched; `added`: the bench added the line for the mount. */
  kind: 'already' | 'added';
  /** When the line was added, and how long it stayed. */
  addedAt?: Date;
  heldSeconds?: number;
  /** How the file was put back (or why it could not be). */
  restore?: string;
}

/** The change in force: the file's text before (null: there was none) and as the bench wrote it. */
let pending: { before: string | null; written: string; mode: number; uid: number; gid: number; at: number } | undefined;

function readConf(): string | null {
  try {
    return fs.readFileSync(FUSE_CONF, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Replaces the file in one rename, with the given mode and owner, so no reader ever sees half of it. */
function writeConfAtomically(text: string, mode: number, uid: number, gid: number): void {
  const tmp = path.join(path.dirname(FUSE_CONF), `.fuse.conf.fusekit-bench.${process.pid}`);
  try {
    fs.writeFileSync(tmp, text, { mode });
    fs.chownSync(tmp, uid, gid);
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, FUSE_CONF);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * A run killed while the line was in place leaves it, marked: removed here
 * (at the start of every run). Returns what was done, for the log.
 */
export function removeLeftoverGrant(): string | undefined {
  const text = readConf();
  if (text === null || !text.includes(GRANT)) return undefined;
  const st = fs.statSync(FUSE_CONF);
  writeConfAtomically(text.split(GRANT).join(''), st.mode & 0o7777, st.uid, st.gid);
  return `removed the user_allow_other line an interrupted run had left in ${FUSE_CONF}`;
}

/**
 * Makes fusermount3 accept allow_other from a user: nothing to do when the
 * file already says user_allow_other; else the marked line is appended until
 * restoreFuseConf(). Throws when the file cannot be written.
 */
export function grantAllowOther(): FuseConfChange {
  const before = readConf();
  if (before !== null && parseFuseConf(before).userAllowOther) return { kind: 'already' };
  const st = before === null ? { mode: 0o644, uid: 0, gid: 0 } : fs.statSync(FUSE_CONF);
  const text = before ?? '';
  const written = text + (text === '' || text.endsWith('\n') ? '' : '\n') + GRANT;
  const mode = st.mode & 0o7777;
  writeConfAtomically(written, mode, st.uid, st.gid);
  pending = { before, written, mode, uid: st.uid, gid: st.gid, at: Date.now() };
  return { kind: 'added', addedAt: new Date(pending.at) };
}

/**
 * Puts /etc/fuse.conf back: byte for byte when nobody else changed it in
 * between, else by taking out only the bench's marked line. Synchronous, so
 * the process's exit handler can call it; never throws. Returns what it did
 * (undefined when nothing was pending).
 */
export function restoreFuseConf(): { how: string; heldSeconds: number } | undefined {
  const p = pending;
  if (!p) return undefined;
  pending = undefined;
  const heldSeconds = (Date.now() - p.at) / 1000;
  try {
    const now = readConf();
    if (now === p.written) {
      if (p.before === null) fs.rmSync(FUSE_CONF, { force: true });
      else writeConfAtomically(p.before, p.mode, p.uid, p.gid);
      return { how: p.before === null ? 'removed again (there was none before)' : 'restored byte for byte', heldSeconds };
    }
    if (now?.includes(GRANT)) {
      const st = fs.statSync(FUSE_CONF);
      writeConfAtomically(now.split(GRANT).join(''), st.mode & 0o7777, st.uid, st.gid);
      return { how: 'changed by someone else meanwhile: only the added line was taken out', heldSeconds };
    }
    return { how: 'changed by someone else meanwhile, without the added line: left as it is', heldSeconds };
  } catch (err) {
    const how = `COULD NOT BE RESTORED (${(err as Error).message}): remove the line after '${MARK}' by hand`;
    log(`bench: ${FUSE_CONF} ${how}`);
    return { how, heldSeconds };
  }
}
