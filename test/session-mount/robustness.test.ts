import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { withInProcessMount } from '../helpers/inprocess.js';
import { run, describeRun, sleep, withTimeout } from '../helpers/mount.js';
import { Errno, FuseError, Fopen, ROOT_ID, S_IFDIR, S_IFREG, DT_REG } from '../../src/index.js';
import type { Attr, Filesystem, NodeId, ReadRequest, RequestContext } from '../../src/index.js';

function attr(ino: number, mode: number, size: number): Attr {
  return {
    ino, mode, size, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, blocks: 0,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
  };
}

/** A flat directory of files whose read behaviour is chosen per file. */
function flatFs(files: Record<string, (req: ReadRequest, ctx: RequestContext) => unknown>, extra: Partial<Filesystem> = {}): Filesystem {
  const names = Object.keys(files);
  const idOf = (name: string) => names.indexOf(name) + 2;
  return {
    lookup: ({ name }, ctx) => {
      if (ctx.nodeid !== ROOT_ID || !names.includes(name)) throw new FuseError('ENOENT');
      const id = idOf(name);
      return { nodeid: id as NodeId, generation: 0, entryTimeout: 0, attrTimeout: 0, attr: attr(id, S_IFREG | 0o644, 1 << 20) };
    },
    getattr: (_req, ctx) => ({ attrTimeout: 0, attr: ctx.nodeid === ROOT_ID ? attr(1, S_IFDIR | 0o755, 0) : attr(ctx.nodeid, S_IFREG | 0o644, 1 << 20) }),
    open: () => ({ fh: 0 }),
    read: (req, ctx) => files[names[ctx.nodeid - 2]](req, ctx) as never,
    readdir: (req, _ctx, out) => {
      for (let i = Number(req.offset); i < names.length; i++) if (!out.add(names[i], i + 2, DT_REG, BigInt(i + 1))) return;
    },
    ...extra,
  };
}

const cat = (file: string, timeoutMs = 10_000) => run('head', ['-c', '16', file], { timeoutMs });

test('a throwing handler answers EIO, is logged once per cause, and the server keeps serving', { timeout: 60_000 }, async () => {
  const filesystem = flatFs({
    ok: () => Buffer.from('fine'),
    boom: () => { throw new Error('handler exploded'); },
    reject: async () => { throw new TypeError('async handler exploded'); },
    denied: () => { throw new FuseError('EACCES'); },
    nodeerr: () => { throw Object.assign(new Error('like node'), { code: 'ENOTDIR' }); },
    wrongShape: () => 'not a buffer',
    returned: () => Errno.of(30), // EROFS
    returnedAsync: async () => Errno.of(95), // EOPNOTSUPP
  });
  await withInProcessMount(filesystem, async ({ mnt, logs, m }) => {
    for (let i = 0; i < 3; i++) {
      const r = await cat(`${mnt}/boom`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Input\/output error/, describeRun(r));
    }
    assert.match((await cat(`${mnt}/reject`)).stderr, /Input\/output error/);
    assert.match((await cat(`${mnt}/denied`)).stderr, /Permission denied/);
    assert.match((await cat(`${mnt}/nodeerr`)).stderr, /Not a directory/);
    assert.match((await cat(`${mnt}/wrongShape`)).stderr, /Input\/output error/);
    // A returned Errno answers that errno, like a thrown FuseError, and is no error of the filesystem's.
    assert.match((await cat(`${mnt}/returned`)).stderr, /Read-only file system/);
    assert.match((await cat(`${mnt}/returnedAsync`)).stderr, /Operation not supported/);
    assert.equal(logs.filter((l) => /EROFS|EOPNOTSUPP|returned/.test(l)).length, 0, logs.join('\n'));
    const ok = await cat(`${mnt}/ok`);
    assert.equal(ok.stdout, 'fine', describeRun(ok));
    const boomLines = logs.filter((l) => l.includes('Error: handler exploded'));
    assert.equal(boomLines.length, 1, logs.join('\n'));
    assert.equal(logs.filter((l) => l.includes('async handler exploded')).length, 1);
    assert.ok(!logs.some((l) => l.includes('EACCES') || l.includes('like node')), 'errno-carrying errors are not logged');
    assert.ok((m.session.stats.errors.EIO ?? 0) >= 5);
  });
});

test('a thrown value with no text, or with a code that cannot be read, still answers EIO at once, and the server keeps serving', { timeout: 60_000 }, async () => {
  const oddStack = () => {
    const e = new Error('odd stack');
    Object.defineProperty(e, 'stack', { value: 5 });
    return e;
  };
  const filesystem = flatFs({
    ok: () => Buffer.from('fine'),
    bare: () => { throw Object.create(null); },
    bareAsync: async () => { throw Object.create(null); },
    badToString: () => { throw { toString() { throw new Error('no text'); } }; },
    badCode: () => { throw { get code() { throw new Error('no code'); } }; },
    oddStack: () => { throw oddStack(); },
  });
  await withInProcessMount(filesystem, async ({ mnt, logs }) => {
    for (const name of ['bare', 'bareAsync', 'badToString', 'badCode', 'oddStack', 'bare']) {
      const r = await cat(`${mnt}/${name}`, 5000);
      assert.equal(r.timedOut, false, `${name} hung: ${describeRun(r)}`);
      assert.match(r.stderr, /Input\/output error/, `${name}: ${describeRun(r)}`);
    }
    const ok = await cat(`${mnt}/ok`);
    assert.equal(ok.stdout, 'fine', describeRun(ok));
    assert.equal(logs.filter((l) => l.includes('cannot be shown as text')).length, 1, logs.join('\n'));
    assert.equal(logs.filter((l) => l.includes('Error: odd stack')).length, 1, logs.join('\n'));
  });
});

test('a read that gives no byte count (NaN, negative, fractional, more than asked for) answers EIO at once and says what read must give', { timeout: 60_000 }, async () => {
  // NaN once made a reply the kernel refused: the caller then waited for
  // ever, beyond the reach of SIGKILL and of the request deadline.
  const filesystem = flatFs({
    ok: () => Buffer.from('fine'),
    nan: () => Number.NaN,
    nanAsync: async () => Number.NaN,
    negative: () => -5,
    fractional: () => 1.5,
    infinite: () => Number.POSITIVE_INFINITY,
    // One more byte than asked for: the reply would carry whatever the pooled buffer held before.
    tooMany: (req) => req.size + 1,
  });
  await withInProcessMount(filesystem, async ({ mnt, logs }) => {
    for (const name of ['nan', 'nanAsync', 'negative', 'fractional', 'infinite', 'tooMany']) {
      const r = await cat(`${mnt}/${name}`, 5000);
      assert.equal(r.timedOut, false, `${name} hung: ${describeRun(r)}`);
      assert.match(r.stderr, /Input\/output error/, `${name}: ${describeRun(r)}`);
    }
    const ok = await cat(`${mnt}/ok`);
    assert.equal(ok.stdout, 'fine', describeRun(ok));
    assert.ok(logs.some((l) => /read must give a byte count .* not NaN/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /not -5/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /more than the \d+ bytes asked for/.test(l)), logs.join('\n'));
  }, { requestDeadlineMs: 3000 });
});

test('attributes whose mode has no file type answer EIO and are logged once, naming the mode', { timeout: 60_000 }, async () => {
  // The kernel used to take such a LOOKUP reply and answer the caller EIO itself: nothing was logged.
  const filesystem: Filesystem = {
    lookup: ({ name }, ctx) => {
      if (ctx.nodeid !== ROOT_ID || (name !== 'notype' && name !== 'ok')) return Errno.of('ENOENT');
      const id = name === 'ok' ? 2 : 3;
      return { nodeid: id as NodeId, generation: 0, entryTimeout: 0, attrTimeout: 0, attr: attr(id, name === 'ok' ? S_IFREG | 0o644 : 0o644, 1) };
    },
    getattr: (_req, ctx) => ({ attrTimeout: 0, attr: ctx.nodeid === ROOT_ID ? attr(1, S_IFDIR | 0o755, 0) : attr(ctx.nodeid, S_IFREG | 0o644, 1) }),
  };
  await withInProcessMount(filesystem, async ({ mnt, logs, m }) => {
    const bad = await run('stat', [`${mnt}/notype`], { timeoutMs: 5000 });
    assert.match(bad.stderr, /Input\/output error/, describeRun(bad));
    const again = await run('stat', [`${mnt}/notype`], { timeoutMs: 5000 });
    assert.match(again.stderr, /Input\/output error/, describeRun(again));
    assert.equal((await run('stat', ['-c', '%F', `${mnt}/ok`], { timeoutMs: 5000 })).stdout, 'regular file\n');
    assert.equal(logs.filter((l) => /LOOKUP gave attributes whose mode \(0o644\) has no file type/.test(l)).length, 1, logs.join('\n'));
    // Every handler here answers synchronously: one request at a time was in flight (the count once stayed 0).
    assert.equal(m.session.stats.inFlightMax, 1);
  });
});

test('past 1000 distinct causes of failure, one line says so and later new causes are not logged', { timeout: 60_000 }, async () => {
  const filesystem: Filesystem = {
    lookup: ({ name }) => {
      throw new Error(`cause ${name}`);
    },
    getattr: () => ({ attrTimeout: 0, attr: attr(1, S_IFDIR | 0o755, 0) }),
  };
  await withInProcessMount(filesystem, async ({ mnt, logs, m }) => {
    const names = Array.from({ length: 1010 }, (_, i) => `u-${i}`);
    for (const name of [...names, ...names.slice(-5)]) {
      await assert.rejects(fsp.stat(`${mnt}/${name}`), { code: 'EIO' });
    }
    assert.equal(logs.filter((l) => /failed, answering EIO: Error: cause u-/.test(l)).length, 1000, logs.slice(-3).join('\n'));
    assert.equal(logs.filter((l) => l.includes('1000 distinct failures logged')).length, 1, logs.slice(-3).join('\n'));
    assert.ok((m.session.stats.errors.EIO ?? 0) >= 1015);
  });
});

test('a destroy() that never settles keeps unmount() waiting no longer than the request deadline', { timeout: 60_000 }, async () => {
  const filesystem = flatFs({ a: () => Buffer.from('a') }, { destroy: () => new Promise<void>(() => {}) });
  await withInProcessMount(
    filesystem,
    async ({ m, logs }) => {
      assert.deepEqual(await withTimeout(m.unmount(), 10_000, 'unmount with a destroy() that never settles'), { reason: 'unmounted' });
      assert.equal(logs.filter((l) => l.includes('did not settle within 300 ms')).length, 1, logs.join('\n'));
    },
    { requestDeadlineMs: 300 },
  );
});

test('unimplemented operations answer ENOSYS', { timeout: 30_000 }, async () => {
  await withInProcessMount(flatFs({ a: () => Buffer.from('a') }), async ({ mnt }) => {
    const r = await run('mkdir', [`${mnt}/newdir`], { timeoutMs: 10_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Function not implemented/, describeRun(r));
  });
});

test('a handler that never answers does not stall other requests', { timeout: 60_000 }, async () => {
  const filesystem = flatFs({
    never: () => new Promise(() => {}),
    ok: () => Buffer.from('still here'),
  });
  await withInProcessMount(filesystem, async ({ mnt, m }) => {
    const stuck = run('head', ['-c', '16', `${mnt}/never`], { timeoutMs: 30_000 });
    await sleep(300);
    for (let i = 0; i < 5; i++) {
      const r = await cat(`${mnt}/ok`, 5000);
      assert.equal(r.stdout, 'still here', describeRun(r));
    }
    const ls = await run('ls', [mnt], { timeoutMs: 5000 });
    assert.equal(ls.code, 0);
    assert.ok(m.session.inFlight >= 1);
    // The abort at the end of withInProcessMount releases the stuck reader.
    void stuck;
  });
});

test('INTERRUPT reaches the handler as an aborted AbortSignal', { timeout: 60_000 }, async () => {
  let sawAbort = false;
  let started!: () => void;
  const startedP = new Promise<void>((r) => { started = r; });
  const filesystem = flatFs({
    slow: (_req, ctx) => new Promise((_resolve, reject) => {
      started();
      ctx.signal.addEventListener('abort', () => {
        sawAbort = true;
        reject(ctx.signal.reason);
      });
    }),
  }, {
    // Direct I/O makes the read a request the caller waits for (readahead is never interrupted).
    open: () => ({ fh: 0, openFlags: Fopen.DIRECT_IO }),
  });
  await withInProcessMount(filesystem, async ({ mnt }) => {
    const child = run('head', ['-c', '16', `${mnt}/slow`], { timeoutMs: 20_000 });
    await startedP;
    // Any signal to a process waiting on FUSE makes the kernel send INTERRUPT.
    await run('pkill', ['-TERM', '-f', `head -c 16 ${mnt}/slow`], { timeoutMs: 5000 });
    const r = await child;
    assert.ok(r.signal === 'SIGTERM' || r.code !== 0, describeRun(r));
    const deadline = Date.now() + 5000;
    while (!sawAbort && Date.now() < deadline) await sleep(20);
    assert.ok(sawAbort, 'the handler saw the interrupt');
  });
});

test('64 requests in flight at once, while handlers use fs.promises', { timeout: 90_000 }, async () => {
  const N = 64;
  const names = Array.from({ length: N }, (_, i) => `f${i}`);
  let waiting: (() => void)[] = [];
  let peak = 0;
  const files: Record<string, (req: ReadRequest) => unknown> = {};
  for (const name of names) {
    files[name] = async (req) => {
      // Every handler uses the thread pool while the others are parked.
      await fsp.stat('/');
      if (req.offset > 0) return Buffer.alloc(0);
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        peak = Math.max(peak, waiting.length);
        if (waiting.length >= N) {
          const all = waiting;
          waiting = [];
          for (const w of all) w();
        }
      });
      return Buffer.from(`content of ${name}`);
    };
  }
  await withInProcessMount(flatFs(files), async ({ mnt, m }) => {
    const script = `
      const fsp = require('node:fs/promises');
      const names = ${JSON.stringify(names)};
      Promise.all(names.map((n) => fsp.readFile(${JSON.stringify(mnt)} + '/' + n, 'utf8')))
        .then((all) => { console.log(JSON.stringify(all)); });`;
    const r = await run(process.execPath, ['-e', script], {
      timeoutMs: 30_000,
      env: { ...process.env, UV_THREADPOOL_SIZE: '128', NODE_TEST_CONTEXT: '' },
    });
    // If the server could not hold 64 requests at once, the barrier never opens and the reader times out.
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(JSON.parse(r.stdout), names.map((n) => `content of ${n}`));
    assert.equal(peak, N);
    assert.ok(m.session.stats.inFlightMax >= N);
  });
});

test('with every read buffer held by slow WRITEs, reading pauses and resumes; nothing is lost', { timeout: 60_000 }, async () => {
  const LIMIT = 2;
  const WRITERS = 6;
  const data = new Map<number, Buffer>();
  let busy = 0;
  let peak = 0;
  const fsys = flatFs(Object.fromEntries(Array.from({ length: WRITERS }, (_, i) => [`w${i}`, () => Buffer.alloc(0)])), {
    open: () => ({ fh: 0, openFlags: Fopen.DIRECT_IO }),
    setattr: (_req, ctx) => ({ attrTimeout: 0, attr: attr(ctx.nodeid, S_IFREG | 0o644, 0) }),
    write: async (req, ctx) => {
      busy++;
      peak = Math.max(peak, busy);
      await sleep(100);
      busy--;
      const prev = data.get(ctx.nodeid) ?? Buffer.alloc(0);
      const next = Buffer.alloc(Math.max(prev.length, req.offset + req.data.length));
      prev.copy(next);
      req.data.copy(next, req.offset);
      data.set(ctx.nodeid, next);
      return req.data.length;
    },
  });
  await withInProcessMount(fsys, async ({ mnt }) => {
    // Each writer sends 4 WRITEs of 64 KiB (direct I/O: one request per write(2)), all at once.
    const script = `
      const fs = require('node:fs');
      const n = ${WRITERS};
      let left = n;
      for (let i = 0; i < n; i++) {
        const buf = Buffer.alloc(256 * 1024, 65 + i);
        fs.open(${JSON.stringify(mnt)} + '/w' + i, 'r+', (err, fd) => {
          if (err) throw err;
          let off = 0;
          const next = () => {
            if (off >= buf.length) {
              fs.closeSync(fd);
              // Later, on an idle mount: only the device watch can wake the server now.
              if (--left === 0) setTimeout(() => { fs.statSync(${JSON.stringify(mnt)} + '/w0'); console.log('done'); }, 300);
              return;
            }
            fs.write(fd, buf, off, 64 * 1024, off, (e) => { if (e) throw e; off += 64 * 1024; next(); });
          };
          next();
        });
      }`;
    const r = await run(process.execPath, ['-e', script], { timeoutMs: 20_000, env: { ...process.env, UV_THREADPOOL_SIZE: '16', NODE_TEST_CONTEXT: '' } });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), 'done');
  }, { maxLargeBuffers: LIMIT });
  assert.ok(peak <= LIMIT, `at most ${LIMIT} WRITEs held buffers at once (saw ${peak})`);
  assert.ok(peak >= 1);
  for (let i = 0; i < WRITERS; i++) assert.deepEqual(data.get(i + 2), Buffer.alloc(256 * 1024, 65 + i), `file w${i}`);
});
