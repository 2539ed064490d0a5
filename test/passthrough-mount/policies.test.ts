/**
 * What each passthrough policy does to the requests the server sees, checked
 * through the stats file: in passthrough the kernel reads and writes the
 * backing file itself (no READ/WRITE requests), otherwise it asks the server.
 * Also: readonly's writable opens and their conflicts with passthrough
 * readers, CREATE in passthrough, mmap, and a mirror of a mirror (stack depth).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeRun, errCode, fdCount, havePython, pollUntil, python, run, sha256, withMirror } from '../helpers/mount.js';
import { argsWithStats, freshStats, pt, req, statsLine, type StatsJson } from '../helpers/stats.js';
import { cmp, dropFileCaches, withMirrorStack } from './common.js';

const T = { timeout: 60_000 };
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------
// (a), (b): 64 MiB written with dd conv=fsync, caches dropped, read back.

async function bigRoundTrip(root: string, src: string, mnt: string): Promise<void> {
  const input = path.join(root, 'input.bin');
  const r0 = await run('dd', ['if=/dev/urandom', `of=${input}`, 'bs=1M', 'count=64', 'status=none'], { timeoutMs: 30_000 });
  assert.equal(r0.code, 0, describeRun(r0));
  const big = path.join(mnt, 'big');
  const w = await run('dd', [`if=${input}`, `of=${big}`, 'bs=1M', 'conv=fsync', 'status=none'], { timeoutMs: 40_000 });
  assert.equal(w.code, 0, describeRun(w));
  // Right after the write, stat through MNT shows the full size (GETATTR answered from the source file).
  assert.equal((await fs.promises.stat(big)).size, 64 * MiB, 'size through MNT right after the write');
  assert.equal(fs.statSync(path.join(src, 'big')).size, 64 * MiB, 'size in SRC');
  await dropFileCaches([big, path.join(src, 'big')]);
  let diff = await cmp(big, path.join(src, 'big'));
  assert.equal(diff, undefined, diff);
  diff = await cmp(big, input);
  assert.equal(diff, undefined, diff);
}

test('--passthrough always: 64 MiB written (dd conv=fsync) and read back through MNT without one READ or WRITE request', T, async (t) => {
  let stats = '';
  await withMirror(
    async ({ root, src, mnt }) => {
      await bigRoundTrip(root, src, mnt);
      const s = await freshStats(stats, 'stats after the round trip');
      t.diagnostic(`always: ${statsLine(s, ['CREATE', 'OPEN', 'READ', 'WRITE', 'FSYNC', 'GETATTR'])}`);
      assert.equal(req(s, 'READ'), 0, `READ requests: ${statsLine(s)}`);
      assert.equal(req(s, 'WRITE'), 0, `WRITE requests: ${statsLine(s)}`);
      assert.ok(pt(s).opens.passthrough > 0, `no passthrough opens: ${statsLine(s)}`);
      assert.ok(req(s, 'FSYNC') > 0, 'conv=fsync must still reach the server as FSYNC');
    },
    { args: argsWithStats(['--passthrough', 'always'], (f) => (stats = f)) },
  );
});

test('--passthrough never: the same 64 MiB round trip goes through READ and WRITE requests', T, async (t) => {
  let stats = '';
  await withMirror(
    async ({ root, src, mnt }) => {
      await bigRoundTrip(root, src, mnt);
      const s = await freshStats(stats, 'stats after the round trip');
      t.diagnostic(`never: ${statsLine(s, ['CREATE', 'OPEN', 'READ', 'WRITE', 'FSYNC', 'GETATTR'])}`);
      assert.ok(req(s, 'READ') > 0, `no READ requests: ${statsLine(s)}`);
      assert.ok(req(s, 'WRITE') > 0, `no WRITE requests: ${statsLine(s)}`);
      assert.equal(pt(s).opens.passthrough, 0, `passthrough opens under never: ${statsLine(s)}`);
    },
    { args: argsWithStats(['--passthrough', 'never'], (f) => (stats = f)) },
  );
});

// ---------------------------------------------------------------------------
// (c) readonly

test('--passthrough readonly: a read-only open is passthrough (no READ), a writable open reaches the server (WRITE)', T, async (t) => {
  let stats = '';
  const content = randomBytes(MiB + 17);
  await withMirror(
    async ({ src, mnt }) => {
      const got = await fs.promises.readFile(path.join(mnt, 'r'));
      assert.equal(sha256(got), sha256(content), 'content read through MNT');
      let s = await freshStats(stats, 'stats after the read');
      t.diagnostic(`readonly, after reading: ${statsLine(s)}`);
      assert.equal(req(s, 'READ'), 0, `the read-only open was not passthrough: ${statsLine(s)}`);
      assert.ok(pt(s).opens.passthrough >= 1, statsLine(s));

      const fh = await fs.promises.open(path.join(mnt, 'w'), 'r+');
      try {
        await fh.write(Buffer.from('through-the-server'), 0, 18, 0);
      } finally {
        await fh.close();
      }
      assert.equal(fs.readFileSync(path.join(src, 'w'), 'utf8'), 'through-the-server');
      s = await freshStats(stats, 'stats after the write');
      t.diagnostic(`readonly, after writing: ${statsLine(s)}`);
      assert.ok(req(s, 'WRITE') > 0, `the writable open's write did not reach the server: ${statsLine(s)}`);
      assert.ok(pt(s).opens.cached + pt(s).opens.direct >= 1, `the writable open was passthrough: ${statsLine(s)}`);
      assert.equal(req(s, 'READ'), 0, statsLine(s));
    },
    {
      prepare: ({ src }) => {
        fs.writeFileSync(path.join(src, 'r'), content);
        fs.writeFileSync(path.join(src, 'w'), '');
      },
      args: argsWithStats(['--passthrough', 'readonly'], (f) => (stats = f)),
    },
  );
});

/**
 * SRC/f is 8 KiB of 'A', mirrored with `--passthrough readonly` and `args`.
 * MNT/f is opened for reading (so the inode is in passthrough) and read;
 * `whileHeld` runs while that reader is open, `afterwards` once it is closed.
 */
async function withHeldReader(
  args: readonly string[],
  whileHeld: (file: string, reader: fs.promises.FileHandle) => Promise<void>,
  afterwards: (ctx: { src: string; file: string; stats: string }) => Promise<void>,
): Promise<void> {
  let stats = '';
  await withMirror(
    async ({ src, mnt }) => {
      const file = path.join(mnt, 'f');
      const reader = await fs.promises.open(file, 'r');
      try {
        const b = Buffer.alloc(8);
        await reader.read(b, 0, 8, 0);
        assert.equal(b.toString(), 'AAAAAAAA');
        await whileHeld(file, reader);
      } finally {
        await reader.close();
      }
      await afterwards({ src, file, stats });
    },
    {
      prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'A'.repeat(8192)),
      args: argsWithStats(['--passthrough', 'readonly', ...args], (f) => (stats = f)),
    },
  );
}

test('--passthrough readonly (share): a writer opening a file held by a passthrough reader succeeds and the reader sees its data', T, async (t) => {
  await withHeldReader(
    [],
    async (file, reader) => {
      const writer = await fs.promises.open(file, 'r+'); // must not fail (EIO would be a wrong reply)
      try {
        await writer.write(Buffer.from('WRITER'), 0, 6, 0);
      } finally {
        await writer.close();
      }
      const b = Buffer.alloc(8);
      await reader.read(b, 0, 8, 0);
      assert.equal(b.toString(), 'WRITERAA', 'the reader does not see the writer\'s data');
    },
    async ({ src, file, stats }) => {
      assert.equal(fs.readFileSync(path.join(src, 'f'), 'utf8').slice(0, 8), 'WRITERAA');
      assert.equal((await fs.promises.readFile(file, 'utf8')).slice(0, 8), 'WRITERAA');
      const s = await freshStats(stats, 'stats after the shared write');
      t.diagnostic(`readonly/share: ${statsLine(s)}`);
      assert.ok(pt(s).conflicts >= 1, `the writable open was not a conflict: ${statsLine(s)}`);
      assert.equal(pt(s).fallbacks['refused-writable-open'] ?? 0, 0);
      assert.equal(s.errors['EBUSY'] ?? 0, 0);
    },
  );
});

test('--passthrough readonly --writable-conflict refuse: that writable open fails with EBUSY, and works once the reader is gone', T, async (t) => {
  await withHeldReader(
    ['--writable-conflict', 'refuse'],
    async (file) => {
      assert.equal(await errCode(fs.promises.open(file, 'r+')), 'EBUSY', 'O_RDWR open while a passthrough reader holds the file');
      assert.equal(await errCode(fs.promises.open(file, 'a')), 'EBUSY', 'O_WRONLY|O_APPEND open while a passthrough reader holds the file');
      // Another read-only open is still fine.
      assert.equal((await fs.promises.readFile(file, 'utf8')).slice(0, 4), 'AAAA');
    },
    async ({ src, file, stats }) => {
      assert.equal(fs.readFileSync(path.join(src, 'f'), 'utf8'), 'A'.repeat(8192), 'SRC changed by a refused open');
      // RELEASE reaches the server shortly after close(2); then the writable open is served again.
      await pollUntil(async () => (await errCode(fs.promises.writeFile(file, 'written'))) === undefined, {
        timeoutMs: 5000,
        what: 'a writable open to succeed after the reader closed',
      });
      assert.equal(fs.readFileSync(path.join(src, 'f'), 'utf8'), 'written');
      const s = await freshStats(stats, 'stats after the refused opens');
      t.diagnostic(`readonly/refuse: ${statsLine(s)}`);
      assert.ok((pt(s).fallbacks['refused-writable-open'] ?? 0) >= 2, statsLine(s));
      assert.ok((s.errors['EBUSY'] ?? 0) >= 2, statsLine(s));
    },
  );
});

test('--passthrough readonly --writable-conflict refuse: 50 refused OPENs and CREATEs leak no handle, descriptor, backing id or lookup reference', T, async (t) => {
  let stats = '';
  await withMirror(
    async ({ src, mnt, proc }) => {
      const settled = await freshStats(stats, 'stats before the refusals', (s) => s.openHandles === 0);
      const fdsBefore = fdCount(proc.pid);
      const reader = await fs.promises.open(path.join(mnt, 'f'), 'r');
      try {
        const b = Buffer.alloc(8);
        await reader.read(b, 0, 8, 0);
        for (let i = 0; i < 50; i++) {
          assert.equal(await errCode(fs.promises.open(path.join(mnt, 'f'), 'r+')), 'EBUSY', `OPEN ${i}`);
        }
        // A name the kernel has not looked up yet, linked to the same file: open(O_CREAT) sends CREATE,
        // which the mirror answers with the existing inode, already in passthrough.
        for (let i = 0; i < 50; i++) {
          const name = path.join(mnt, `link${i}`);
          assert.equal(await errCode(fs.promises.open(name, 'a')), 'EBUSY', `CREATE of ${name}`);
        }
        const during = await freshStats(stats, 'stats while the reader is open', (s) => (s.errors['EBUSY'] ?? 0) >= 100);
        t.diagnostic(`during: ${statsLine(during)} openHandles=${during.openHandles} fds=${fdCount(proc.pid)} (before ${fdsBefore})`);
        assert.equal(during.openHandles, 1, 'only the reader holds an open handle');
        assert.equal(pt(during).backingIdsOpen, 1, 'one backing id, the reader\'s');
        assert.equal(pt(during).fallbacks['refused-writable-open'], 100);
      } finally {
        await reader.close();
      }
      // Once the kernel forgets everything, the server is back where it started: no handle, no backing id,
      // no node beyond those the kernel still holds, no descriptor.
      await pollUntil(
        async () => {
          fs.writeFileSync('/proc/sys/vm/drop_caches', '2');
          const s = await freshStats(stats, 'stats after the reader closed');
          return s.openHandles === 0 && pt(s).backingIdsOpen === 0 && s.nodes === 0 && fdCount(proc.pid) <= fdsBefore;
        },
        { timeoutMs: 10_000, what: `handles, backing ids, nodes and descriptors back to the start (${statsLine(settled)}, ${fdsBefore} fds)` },
      );
      assert.equal(fs.readFileSync(path.join(src, 'f'), 'utf8'), 'A'.repeat(8192), 'SRC changed by a refused open');
    },
    {
      prepare: ({ src }) => {
        fs.writeFileSync(path.join(src, 'f'), 'A'.repeat(8192));
        for (let i = 0; i < 50; i++) fs.linkSync(path.join(src, 'f'), path.join(src, `link${i}`));
      },
      args: argsWithStats(['--passthrough', 'readonly', '--writable-conflict', 'refuse'], (f) => (stats = f)),
    },
  );
});

// ---------------------------------------------------------------------------
// (d) CREATE

test('--passthrough auto: a file created by dd of=MNT/new is passthrough from CREATE on (no WRITE requests)', T, async (t) => {
  let stats = '';
  await withMirror(
    async ({ root, src, mnt }) => {
      const input = path.join(root, 'input.bin');
      fs.writeFileSync(input, randomBytes(MiB));
      const r = await run('dd', [`if=${input}`, `of=${path.join(mnt, 'new')}`, 'bs=64k', 'status=none'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, describeRun(r));
      const diff = await cmp(path.join(src, 'new'), input);
      assert.equal(diff, undefined, diff);
      const s = await freshStats(stats, 'stats after dd');
      t.diagnostic(`auto/create: ${statsLine(s)}`);
      assert.ok(req(s, 'CREATE') >= 1, `dd did not CREATE: ${statsLine(s)}`);
      assert.equal(req(s, 'WRITE'), 0, `WRITE requests for a file created in passthrough: ${statsLine(s)}`);
      assert.ok(pt(s).opens.passthrough >= 1, statsLine(s));
    },
    { args: argsWithStats(['--passthrough', 'auto'], (f) => (stats = f)) },
  );
});

// ---------------------------------------------------------------------------
// (e) mmap

const MMAP_PY = `
import mmap, os, sys
shared, private = sys.argv[1:3]
fd = os.open(shared, os.O_RDWR)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
assert m[0:8] == b'........', m[0:8]
m[4096:4102] = b'SHARED'
m[0:3] = b'TOP'
m.flush()
m.close(); os.close(fd)
fd = os.open(private, os.O_RDONLY)
m = mmap.mmap(fd, 0, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
assert m[0:8] == b'........', m[0:8]
m[4096:4103] = b'PRIVATE'
assert m[4096:4103] == b'PRIVATE', 'a private mapping must see its own write'
m.close(); os.close(fd)
print('OK')
`;

for (const policy of ['auto', 'never'] as const) {
  test(`--passthrough ${policy}: MAP_SHARED writes reach SRC, MAP_PRIVATE writes do not`, T, async (t) => {
    if (!(await havePython())) return t.skip('python3 not available');
    let stats = '';
    await withMirror(
      async ({ src, mnt }) => {
        const r = await python(MMAP_PY, [path.join(mnt, 'shared'), path.join(mnt, 'private')]);
        assert.equal(r.code, 0, describeRun(r));
        assert.equal(r.stdout.trim(), 'OK');
        const sh = fs.readFileSync(path.join(src, 'shared'));
        assert.equal(sh.length, 3 * 4096, 'a shared mapping changed the size');
        assert.equal(sh.subarray(0, 8).toString(), 'TOP.....');
        assert.equal(sh.subarray(4096, 4104).toString(), 'SHARED..');
        const pr = fs.readFileSync(path.join(src, 'private'));
        assert.ok(pr.equals(Buffer.alloc(3 * 4096, '.')), 'a private mapping\'s write reached SRC');
        assert.ok((await fs.promises.readFile(path.join(mnt, 'shared'))).equals(sh), 'MNT and SRC differ (shared)');
        assert.ok((await fs.promises.readFile(path.join(mnt, 'private'))).equals(pr), 'MNT and SRC differ (private)');
        const s: StatsJson = await freshStats(stats, 'stats after the mappings');
        t.diagnostic(`${policy}/mmap: ${statsLine(s)}`);
        if (policy === 'auto') {
          assert.ok(pt(s).opens.passthrough >= 2, statsLine(s));
          assert.equal(req(s, 'WRITE'), 0, `shared-mapping writes of a passthrough file reached the server: ${statsLine(s)}`);
        } else {
          assert.equal(pt(s).opens.passthrough, 0, statsLine(s));
          assert.ok(req(s, 'WRITE') > 0, `the shared mapping's pages were not written back through the server: ${statsLine(s)}`);
        }
      },
      {
        prepare: ({ src }) => {
          fs.writeFileSync(path.join(src, 'shared'), Buffer.alloc(3 * 4096, '.'));
          fs.writeFileSync(path.join(src, 'private'), Buffer.alloc(3 * 4096, '.'));
        },
        args: argsWithStats(['--passthrough', policy], (f) => (stats = f)),
      },
    );
  });
}

// ---------------------------------------------------------------------------
// (f) a mirror of a mirror

test('a mirror of a mirror: stacked too deep it falls back (stack-depth); with max_stack_depth=2 it is passthrough', T, async (t) => {
  const content = randomBytes(256 * 1024 + 5);
  await withMirrorStack(
    [
      { from: 'src', args: ['--passthrough', 'auto'] }, // SRC -> MNT1
      { from: 0, args: ['--passthrough', 'auto'] }, // MNT1 -> MNT2 (depth 1 only: backing files on MNT1 are too deep)
      { from: 0, args: ['--passthrough', 'auto', '-o', 'max_stack_depth=2'] }, // MNT1 -> MNT3
    ],
    async ({ src, mnts, stats }) => {
      const [, mnt2, mnt3] = mnts as [string, string, string];
      // Outer mirror at depth 1: reads and writes work, through the server.
      assert.equal(sha256(await fs.promises.readFile(path.join(mnt2, 'data'))), sha256(content), 'read through MNT2');
      await fs.promises.writeFile(path.join(mnt2, 'from-mnt2'), 'written through two mirrors');
      const fh = await fs.promises.open(path.join(mnt2, 'data'), 'r+');
      try {
        await fh.write(Buffer.from('OUTER'), 0, 5, 4096);
      } finally {
        await fh.close();
      }
      assert.equal(fs.readFileSync(path.join(src, 'from-mnt2'), 'utf8'), 'written through two mirrors');
      assert.equal(fs.readFileSync(path.join(src, 'data')).subarray(4096, 4101).toString(), 'OUTER');
      const s2 = await freshStats(stats[1]!, 'outer (MNT2) stats');
      t.diagnostic(`outer MNT1->MNT2 (max_stack_depth=1): ${statsLine(s2)}`);
      assert.ok((pt(s2).fallbacks['stack-depth'] ?? 0) > 0, `no stack-depth fallback: ${statsLine(s2)}`);
      assert.equal(pt(s2).opens.passthrough, 0, statsLine(s2));
      assert.ok(req(s2, 'READ') > 0 && req(s2, 'WRITE') > 0, statsLine(s2));

      // max_stack_depth=2: passthrough onto MNT1's files.
      const expected = fs.readFileSync(path.join(src, 'data'));
      assert.ok((await fs.promises.readFile(path.join(mnt3, 'data'))).equals(expected), 'read through MNT3');
      const s3 = await freshStats(stats[2]!, 'MNT3 stats');
      t.diagnostic(`MNT1->MNT3 (max_stack_depth=2): ${statsLine(s3)}`);
      assert.ok(pt(s3).opens.passthrough > 0, `no passthrough with max_stack_depth=2: ${statsLine(s3)}`);
      assert.equal(req(s3, 'READ'), 0, statsLine(s3));
      assert.equal(pt(s3).fallbacks['stack-depth'] ?? 0, 0, statsLine(s3));

      const s1 = await freshStats(stats[0]!, 'inner (MNT1) stats');
      t.diagnostic(`inner SRC->MNT1: ${statsLine(s1)}`);
      assert.ok(pt(s1).opens.passthrough > 0, statsLine(s1));
    },
    { prepare: ({ src }) => fs.writeFileSync(path.join(src, 'data'), content), watchdogMs: 55_000 },
  );
});
