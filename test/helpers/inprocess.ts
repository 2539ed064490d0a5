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
import { forceUnmount, withTimeout } from './mount.js';

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
