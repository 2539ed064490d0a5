/**
 * mount() and its handle, in this process (root): abort(), forceUnmount(),
 * relative mountpoints, the mountpoint refusals. Every call on the mounts
 * from here is asynchronous (this thread serves them), and every step has a
 * deadline. A second mount at or under a served path is tested in a child
 * process (child-process.test.ts): done here, a regression to a synchronous call
 * would block this thread, deadlines included.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount, forceUnmount, MountError } from '../../src/session/mount.js';
import type { FuseMount } from '../../src/session/mount.js';
import { MemoryFilesystem } from '../../examples/memfs.js';
import { MirrorFilesystem } from '../../src/mirror/mirror.js';
import { forceUnmount as helperForceUnmount, isMounted, mountsUnder, withMirror, withTimeout } from '../helpers/mount.js';
import { connectionIdOf } from '../../src/transport/mount.js';
import { run } from '../helpers/proc.js';

const T = { timeout: 60_000 };
const STEP = 5000;

/** A fresh directory with an empty `mnt`; cleans up whatever the test left mounted under it. */
async function withRoot(fn: (root: string, mnt: string, keep: (m: FuseMount) => FuseMount) => Promise<void>): Promise<void> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-lifecycle-')));
  const mnt = path.join(root, 'mnt');
  fs.mkdirSync(mnt);
  const mounts: FuseMount[] = [];
  try {
    await fn(root, mnt, (m) => {
      mounts.push(m);
      return m;
    });
  } finally {
    // Innermost first, each aborted by the library (asynchronously: this thread serves them).
    for (const m of mounts.reverse()) await withTimeout(m.abort(), STEP, 'abort during cleanup').catch(() => undefined);
    // Last resort, without this thread: abort every connection under root through fusectl, then detach.
    const under = () => mountsUnder(root).filter((p) => p !== root);
    for (const p of under()) {
      const id = connectionIdOf(p);
      if (id !== undefined) try { fs.writeFileSync(`/sys/fs/fuse/connections/${id}/abort`, '1'); } catch { /* gone */ }
    }
    for (const p of under()) helperForceUnmount(p);
    if (under().length === 0) fs.rmSync(root, { recursive: true, force: true });
  }
}

test('abort() ends the session as aborted and leaves no mount', T, async () => {
  await withRoot(async (_root, mnt, keep) => {
    const m = keep(await withTimeout(mount(mnt, new MemoryFilesystem()), STEP, 'mount'));
    await fs.promises.writeFile(path.join(mnt, 'f'), 'x');
    assert.deepEqual(await withTimeout(m.abort(), STEP, 'abort'), { reason: 'aborted' });
    assert.deepEqual(await m.ended, { reason: 'aborted' });
    assert.equal(isMounted(mnt), false);
  });
});

test('a connection aborted from outside (fusectl) ends as aborted, not unmounted', T, async () => {
  await withRoot(async (_root, mnt, keep) => {
    const m = keep(await withTimeout(mount(mnt, new MemoryFilesystem()), STEP, 'mount'));
    const id = connectionIdOf(mnt);
    assert.ok(id !== undefined);
    fs.writeFileSync(`/sys/fs/fuse/connections/${id}/abort`, '1');
    // It used to say unmounted while the dead mount stayed in the table.
    assert.deepEqual(await withTimeout(m.ended, STEP, 'ended'), { reason: 'aborted' });
  });
});

test("the kernel's request timeout ends the connection as aborted, and the dead mount stays until detached", { timeout: 90_000 }, async () => {
  await withRoot(async (_root, mnt, keep) => {
    const memory = new MemoryFilesystem();
    const lookup = memory.lookup.bind(memory);
    type Args = Parameters<typeof lookup>;
    const fsys = Object.assign(memory, { lookup: (req: Args[0], ctx: Args[1]) => (req.name === 'hang' ? new Promise<never>(() => undefined) : lookup(req, ctx)) });
    const m = keep(await withTimeout(mount(mnt, fsys, { kernelRequestTimeout: 1, requestDeadlineMs: 0, slowRequestMs: 0 }), STEP, 'mount'));
    // In a child: this thread must keep serving. The kernel looks for expired requests every 15 s or so.
    const stat = run('stat', [path.join(mnt, 'hang')], { timeoutMs: 60_000 });
    assert.deepEqual(await withTimeout(m.ended, 60_000, 'ended'), { reason: 'aborted' });
    assert.match((await stat).stderr, /Transport endpoint is not connected|Software caused connection abort/);
    assert.equal(isMounted(mnt), true, 'still in the mount table');
  });
});

test("an init() that throws or never settles is the filesystem's failure, said so with a code, and leaves nothing mounted", T, async () => {
  await withRoot(async (_root, mnt) => {
    const hanging = Object.assign(new MemoryFilesystem(), { init: () => new Promise<never>(() => undefined) });
    await assert.rejects(mount(mnt, hanging, { initTimeoutMs: 1500 }), (e: unknown) => {
      assert.ok(e instanceof MountError, String(e));
      // It used to blame the kernel.
      assert.match(e.message, /the filesystem's init\(\) did not settle within 1500 ms \(initTimeoutMs\)/);
      assert.equal(e.code, 'ETIMEDOUT');
      assert.equal(e.option, 'initTimeoutMs');
      return true;
    });
    assert.equal(isMounted(mnt), false);
    const denied = Object.assign(new MemoryFilesystem(), {
      init: () => {
        throw Object.assign(new Error('no key for the store'), { code: 'EACCES' });
      },
    });
    await assert.rejects(mount(mnt, denied), (e: unknown) => {
      assert.ok(e instanceof MountError, String(e));
      assert.match(e.message, /init failed: Error: no key for the store/);
      assert.equal(e.code, 'EACCES');
      return true;
    });
    assert.equal(isMounted(mnt), false);
  });
});

test('forceUnmount() of a mount of this process aborts it', T, async () => {
  await withRoot(async (_root, mnt, keep) => {
    const m = keep(await withTimeout(mount(mnt, new MemoryFilesystem()), STEP, 'mount'));
    await withTimeout(forceUnmount(mnt), STEP, 'forceUnmount');
    assert.deepEqual(await withTimeout(m.ended, STEP, 'ended'), { reason: 'aborted' });
    assert.equal(isMounted(mnt), false);
  });
});

test('a relative mountpoint (through a symlink) is made absolute and canonical, and unmount() finds it', T, async () => {
  await withRoot(async (root, mnt, keep) => {
    fs.symlinkSync('mnt', path.join(root, 'link'));
    const cwd = process.cwd();
    process.chdir(root);
    let m: FuseMount;
    try {
      m = keep(await withTimeout(mount('link', new MemoryFilesystem()), STEP, 'mount'));
    } finally {
      process.chdir(cwd);
    }
    assert.equal(m.mountpoint, mnt);
    assert.ok(isMounted(mnt));
    assert.deepEqual(await withTimeout(m.unmount(), STEP, 'unmount of a mount made with a relative path'), { reason: 'unmounted' });
    assert.equal(isMounted(mnt), false);
  });
});

test('two mount() calls racing for one mountpoint: one mounts, the other is refused as busy, and unmount() ends the one', T, async () => {
  await withRoot(async (root, mnt, keep) => {
    // Also under another spelling of the same directory, resolved only after the first call has started.
    fs.symlinkSync('mnt', path.join(root, 'link'));
    for (const second of [mnt, path.join(root, 'link')]) {
      const results = await withTimeout(Promise.allSettled([mount(mnt, new MemoryFilesystem()), mount(second, new MemoryFilesystem())]), STEP, 'both mounts');
      const mounted = results.filter((r): r is PromiseFulfilledResult<FuseMount> => r.status === 'fulfilled').map((r) => keep(r.value));
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
      assert.equal(mounted.length, 1, `one mount, not ${mounted.length} (${second})`);
      assert.equal(refused.length, 1);
      assert.ok(refused[0] instanceof MountError);
      assert.equal(refused[0].code, 'EBUSY');
      assert.match(refused[0].message, /being mounted by another mount\(\) call of this process/);
      assert.equal(mountsUnder(root).filter((p) => p === mnt).length, 1, 'one mount in the table');
      assert.deepEqual(await withTimeout(mounted[0]!.unmount(), STEP, 'unmount'), { reason: 'unmounted' });
      assert.equal(isMounted(mnt), false);
    }
  });
});

test("a non-empty mountpoint is refused naming mount()'s option, nonEmpty", T, async () => {
  await withRoot(async (_root, mnt, keep) => {
    fs.writeFileSync(path.join(mnt, 'occupied'), '');
    await assert.rejects(mount(mnt, new MemoryFilesystem()), (e: unknown) => {
      assert.ok(e instanceof MountError);
      assert.equal(e.code, 'ENOTEMPTY');
      assert.equal(e.option, 'nonEmpty');
      assert.match(e.message, /not empty \(pass nonEmpty: true to mount\(\) to mount over it\)/);
      assert.doesNotMatch(e.message, /-o nonempty/);
      return true;
    });
    assert.equal(isMounted(mnt), false);
    const m = keep(await withTimeout(mount(mnt, new MemoryFilesystem(), { nonEmpty: true }), STEP, 'mount with nonEmpty'));
    assert.deepEqual(await withTimeout(m.unmount(), STEP, 'unmount'), { reason: 'unmounted' });
    assert.deepEqual(fs.readdirSync(mnt), ['occupied']);
  });
});

test('mount() refuses arguments JavaScript callers get wrong, before it mounts anything', T, async () => {
  await withRoot(async (_root, mnt) => {
    const fsys = new MemoryFilesystem();
    const refusals: [unknown[], RegExp, string | undefined][] = [
      [[mnt, null], /needs a filesystem: .* not null/, undefined],
      [[undefined, fsys], /needs the mountpoint as a path .* not undefined/, undefined],
      [['', fsys], /needs the mountpoint as a path/, undefined],
      [[mnt, fsys, null], /options must be an object/, undefined],
      [[mnt, fsys, { mountMethod: 'bogus' }], /mountMethod must be one of auto, syscall, fusermount, not "bogus"/, 'mountMethod'],
      [[mnt, fsys, { passthrough: 'auto' }], /passthrough must be an object/, 'passthrough'],
      [[mnt, fsys, { passthrough: { policy: 'sometimes' } }], /passthrough\.policy must be one of auto, always, readonly, never/, 'passthrough'],
      [[mnt, fsys, { requestDeadlineMs: -5 }], /requestDeadlineMs must be a number of 0 or more, not -5/, 'requestDeadlineMs'],
      // Too small for the kernel's read buffers (it mounted, then ended during INIT with no word why).
      [[mnt, fsys, { maxWrite: 100 }], /maxWrite must be a whole number of 4096 or more, not 100/, 'maxWrite'],
      [[mnt, fsys, { maxRead: -5 }], /maxRead must be a whole number of 0 or more, not -5/, 'maxRead'],
      [[mnt, fsys, { maxRead: 1.5 }], /maxRead must be a whole number/, 'maxRead'],
    ];
    for (const [args, message, option] of refusals) {
      await assert.rejects((mount as (...a: unknown[]) => Promise<FuseMount>)(...args), (e: unknown) => {
        assert.ok(e instanceof MountError, String(e));
        assert.match(e.message, message);
        assert.equal(e.option, option);
        return true;
      });
      assert.equal(isMounted(mnt), false, `nothing mounted for ${message}`);
    }
  });
});

test('a maxWrite past what the kernel can send mounts with the kernel\'s limit, which InitInfo.maxWrite reports', T, async () => {
  // 512 MiB once made a max_pages the INIT reply cannot hold: an uncaught RangeError ended the process, leaving a dead mount.
  const limit = Number(fs.readFileSync('/proc/sys/fs/fuse/max_pages_limit', 'utf8')) * 4096;
  await withRoot(async (_root, mnt, keep) => {
    const m = keep(await withTimeout(mount(mnt, new MemoryFilesystem(), { maxWrite: 512 * 1024 * 1024 }), STEP, 'mount'));
    assert.equal(m.info.maxWrite, Math.min(limit, 512 * 1024 * 1024));
    await fs.promises.writeFile(path.join(mnt, 'f'), Buffer.alloc(3 << 20, 1));
    assert.equal((await fs.promises.readFile(path.join(mnt, 'f'))).length, 3 << 20);
    assert.deepEqual(await withTimeout(m.unmount(), STEP, 'unmount'), { reason: 'unmounted' });
  });
});

test('a mirror refuses a mountpoint inside its source', T, async () => {
  await withRoot(async (root) => {
    const inner = path.join(root, 'inner');
    fs.mkdirSync(inner);
    await assert.rejects(mount(inner, new MirrorFilesystem(root)), (e: unknown) => {
      assert.ok(e instanceof MountError);
      assert.match(e.message, new RegExp(`the mountpoint ${inner} lies inside the source ${root}`));
      return true;
    });
    assert.equal(isMounted(inner), false);
  });
});

test("another process's FUSE mount at the mountpoint is refused as busy, naming nonEmpty", T, async () => {
  await withMirror(async ({ mnt }) => {
    await assert.rejects(withTimeout(mount(mnt, new MemoryFilesystem()), STEP, 'mount over a mirror'), (e: unknown) => {
      assert.ok(e instanceof MountError);
      assert.equal(e.code, 'EBUSY');
      assert.equal(e.option, 'nonEmpty');
      assert.match(e.message, /is already a FUSE mount \(fuse\.fusekit, another process's\); unmount it first/);
      return true;
    });
    assert.equal(mountsUnder(mnt).filter((p) => p === mnt).length, 1, 'nothing stacked on the mirror');
  });
});

test('the mountpoint checks give one sentence each: missing, not a directory; autoUnmount needs fusermount3', T, async () => {
  await withRoot(async (root) => {
    await assert.rejects(mount(path.join(root, 'nothing'), new MemoryFilesystem()), { code: 'ENOENT', message: `mountpoint ${root}/nothing does not exist` });
    fs.writeFileSync(path.join(root, 'file'), '');
    await assert.rejects(mount(path.join(root, 'file'), new MemoryFilesystem()), { code: 'ENOTDIR' });
    await assert.rejects(mount(root, new MemoryFilesystem(), { mountMethod: 'syscall', autoUnmount: true }), { code: 'EINVAL', option: 'autoUnmount' });
  });
});
