/**
 * Mounting a Filesystem inside the test process. Everything that touches the
 * mount runs in child processes (`run`), because this process's main thread is
 * the server: a synchronous call on the mount from here would wait for itself.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mount } from '../../src/session/mount.js';
import type { FuseMount, MountOptions } from '../../src/session/mount.js';
import type { Filesystem } from '../../src/fs/filesystem.js';
import { forceUnmount, spawnMirror, withTimeout } from './mount.js';

export interface InProcessMount {
  m: FuseMount;
  mnt: string;
  logs: string[];
}

export async function withInProcessMount<T>(
  filesystem: Filesystem,
  fn: (t: InProcessMount) => Promise<T>,
  config: MountOptions = {},
): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-inproc-'));
  const mnt = path.join(root, 'mnt');
  fs.mkdirSync(mnt);
  const logs: string[] = [];
  let m: FuseMount | undefined;
  try {
    m = await withTimeout(mount(mnt, filesystem, { logger: { warn: (l) => logs.push(l) }, ...config }), 10_000, 'mount');
    return await fn({ m, mnt, logs });
  } finally {
    if (m) {
      // Abort rather than unmount: a test may leave a request unanswered on purpose.
      forceUnmount(mnt);
      await withTimeout(m.ended, 10_000, 'session end').catch(() => undefined);
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** What `withMirrorOverInProcessMount` hands its callback. */
export interface MirrorOverInProcessMount {
  /** The CLI mirror's mount point. */
  mnt: string;
  /** Its stats file. */
  statsFile: string;
  /** What it wrote on stderr so far. */
  stderr(): string;
}

/**
 * `fusekit mirror` (a child process) whose SRC is a FUSE mount this process
 * serves with `inner`: a source slower than a disk, or one whose changes
 * raise no inotify event. This process serves the inner mount, so `fn` must
 * reach the outer one with asynchronous calls or child processes only (a
 * synchronous call would wait for this very thread). The mirror gets `args`
 * and a stats file; both mounts are gone when the promise settles.
 */
export async function withMirrorOverInProcessMount<T>(inner: Filesystem, args: readonly string[], fn: (t: MirrorOverInProcessMount) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-over-inproc-'));
  const mnt = path.join(root, 'mnt');
  fs.mkdirSync(mnt);
  try {
    return await withInProcessMount(inner, async ({ mnt: src }) => {
      const statsFile = path.join(root, 'stats.json');
      const m = await spawnMirror(src, mnt, [...args, '--stats-file', statsFile], { readyTimeoutMs: 20_000 });
      try {
        return await fn({ mnt, statsFile, stderr: () => m.stderr() });
      } catch (err) {
        forceUnmount(mnt);
        throw err;
      } finally {
        await m.stop();
      }
    });
  } finally {
    forceUnmount(mnt);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
