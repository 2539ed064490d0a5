/**
 * mount() in a process of its own (test/mount/child.ts), as root and as an
 * ordinary user: a second mount at or under a path the process serves
 * finishes, and unmountOnSignal / autoUnmount leave no mount after SIGINT,
 * SIGTERM or SIGKILL. Each child has a hard deadline, and whatever it leaves
 * is aborted and detached from here.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeRun, isMounted, run, sleep } from '../helpers/mount.js';
import { makeUserDirs, runAsUser, startUserServer, unprivilegedMountsUnavailable, userReadableRoot, waitUnmounted, type UserDirs } from './common.js';

const T = { timeout: 60_000 };
const USER_T = { ...T, skip: unprivilegedMountsUnavailable() };

async function child(): Promise<string> {
  return path.join(await userReadableRoot(), 'dist', 'test', 'mount', 'child.js');
}

type Step = { step: string; [k: string]: unknown };
const steps = (stdout: string): Step[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Step);

async function withDirs(fn: (d: UserDirs) => Promise<void>): Promise<void> {
  const d = makeUserDirs('fusekit-signals-');
  try {
    await fn(d);
  } finally {
    d.cleanup();
  }
}

for (const asRoot of [true, false]) {
  const who = asRoot ? 'root' : 'a user';
  const opts = asRoot ? T : USER_T;

  test(`${who}: mount() again at, and under, a path the process serves finishes within seconds`, opts, async () => {
    await withDirs(async (d) => {
      const args = [await child(), 'nested', d.mnt];
      const r = asRoot ? await run(process.execPath, args, { timeoutMs: 20_000 }) : await runAsUser(process.execPath, args, { timeoutMs: 20_000 });
      assert.equal(r.timedOut, false, `hung: ${describeRun(r)}`);
      assert.equal(r.code, 0, describeRun(r));
      const s = steps(r.stdout);
      const again = s.find((x) => x.step === 'again');
      assert.deepEqual({ mounted: again?.mounted, code: again?.code }, { mounted: false, code: 'EBUSY' }, describeRun(r));
      const inner = s.find((x) => x.step === 'inner');
      if (asRoot) {
        assert.deepEqual(inner, { step: 'inner', mounted: true, read: 'inner' });
        const busy = s.find((x) => x.step === 'outer-while-inner');
        assert.deepEqual({ unmounted: busy?.unmounted, code: busy?.code }, { unmounted: false, code: 'EBUSY' });
        assert.deepEqual(s.find((x) => x.step === 'inner-unmount')?.end, { reason: 'unmounted' });
      } else {
        // fusermount3 runs as root, and a mount without allow_other lets in only its owner.
        assert.equal(inner?.mounted, false, describeRun(r));
        assert.match(String(inner?.message), /inside the FUSE mount at \S+, which lets in only its owner unless mounted with allow_other/);
      }
      assert.deepEqual(s.find((x) => x.step === 'first-unmount')?.end, { reason: 'unmounted' });
      assert.equal(isMounted(d.mnt), false);
    });
  });

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    test(`${who}: unmountOnSignal, ${sig}: unmounted, then the process ends by the signal`, opts, async () => {
      await withDirs(async (d) => {
        const server = await startUserServer([await child(), 'serve', d.mnt, JSON.stringify({ unmountOnSignal: true })], d.mnt, { ready: /"step":"ready"/, asRoot });
        try {
          server.child.kill(sig);
          const e = await server.waitExit(10_000);
          assert.deepEqual(e, { code: null, signal: sig }, server.stderr());
          assert.deepEqual(steps(server.stdout()).pop(), { step: 'ended', reason: 'unmounted' });
          assert.equal(isMounted(d.mnt), false);
        } finally {
          await server.destroy();
        }
      });
    });
  }

  test(`${who}: autoUnmount, SIGKILL: the mount is gone within a second, also when its root's attributes are cached`, opts, async () => {
    await withDirs(async (d) => {
      const server = await startUserServer([await child(), 'serve', d.mnt, JSON.stringify({ unmountOnSignal: true, autoUnmount: true })], d.mnt, { ready: /"step":"ready"/, asRoot });
      try {
        const ready = steps(server.stdout()).find((x) => x.step === 'ready');
        assert.deepEqual({ method: ready?.method, autoUnmount: ready?.autoUnmount }, { method: 'fusermount', autoUnmount: true });
        // The owner stats the mount: for the next second the kernel answers a stat of it from its cache, dead connection or not.
        const st = asRoot ? await run('stat', [d.mnt], { timeoutMs: 5000 }) : await runAsUser('stat', [d.mnt], { timeoutMs: 5000 });
        assert.equal(st.code, 0, describeRun(st));
        server.child.kill('SIGKILL');
        await server.waitExit(10_000);
        const took = await waitUnmounted(d.mnt, 1000);
        assert.notEqual(took, undefined, `${d.mnt} still mounted a second after SIGKILL`);
      } finally {
        await server.destroy();
      }
    });
  });
}

test('root: unmountOnSignal with a SIGTERM listener of the application: unmounted, not raised again', T, async () => {
  await withDirs(async (d) => {
    const server = await startUserServer([await child(), 'serve', d.mnt, JSON.stringify({ unmountOnSignal: true }), 'own-listener'], d.mnt, { ready: /"step":"ready"/, asRoot: true });
    try {
      server.child.kill('SIGTERM');
      const e = await server.waitExit(10_000);
      assert.deepEqual(e, { code: 5, signal: null }, server.stderr());
      assert.deepEqual(steps(server.stdout()).map((x) => x.step), ['ready', 'own-listener', 'ended']);
      assert.equal(isMounted(d.mnt), false);
    } finally {
      await server.destroy();
    }
  });
});

test('root: without either option, SIGKILL leaves a dead mount (what the options are for)', T, async () => {
  await withDirs(async (d) => {
    const server = await startUserServer([await child(), 'serve', d.mnt, '{}'], d.mnt, { ready: /"step":"ready"/, asRoot: true });
    try {
      server.child.kill('SIGKILL');
      await server.waitExit(10_000);
      await sleep(300);
      assert.ok(isMounted(d.mnt), 'the mount outlives its server');
      const r = await run('stat', [d.mnt], { timeoutMs: 5000 });
      assert.match(r.stderr, /not connected/, describeRun(r));
    } finally {
      await server.destroy();
    }
  });
});
