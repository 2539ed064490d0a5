/**
 * Inode identity and lifetime: inodes held as O_PATH descriptors survive
 * renames behind the mirror's back, are released when the kernel forgets
 * them, symlinks are never followed by the server (nothing outside SRC is
 * touched), and a blocked FIFO open doesn't stall the server.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  describeRun,
  dropCaches,
  fdCount,
  havePython,
  lstatBig,
  python,
  run,
  sleep,
  withMirror,
  withTimeout,
} from '../helpers/mount.js';

const T = { timeout: 60_000 };

test('an fd opened through MNT survives a rename in SRC; the new name resolves through MNT', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      const fh = await fs.promises.open(path.join(mnt, 'dir1', 'file'), 'r+');
      try {
        const before = await fs.promises.lstat(path.join(mnt, 'dir1', 'file'), { bigint: true });
        fs.renameSync(path.join(src, 'dir1', 'file'), path.join(src, 'dir2', 'moved'));

        const buf = Buffer.alloc(100);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        assert.equal(buf.subarray(0, bytesRead).toString(), 'original content');
        assert.equal((await fh.stat()).size, 'original content'.length);

        // Writes through the open fd land in the renamed file.
        await fh.write('ORIGINAL', 0);
        await fh.sync();
        assert.equal(fs.readFileSync(path.join(src, 'dir2', 'moved'), 'utf8'), 'ORIGINAL content');

        const after = await fs.promises.lstat(path.join(mnt, 'dir2', 'moved'), { bigint: true });
        assert.ok(after.isFile());
        assert.equal(after.ino, before.ino, 'the new name is a different inode through MNT');
        assert.equal(await fs.promises.readFile(path.join(mnt, 'dir2', 'moved'), 'utf8'), 'ORIGINAL content');
      } finally {
        await fh.close();
      }
    },
    {
      prepare: ({ src }) => {
        fs.mkdirSync(path.join(src, 'dir1'));
        fs.mkdirSync(path.join(src, 'dir2'));
        fs.writeFileSync(path.join(src, 'dir1', 'file'), 'original content');
      },
    },
  );
});

test('a cached directory inode follows its directory when renamed in SRC', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      // Look the tree up through MNT so the kernel holds the inodes.
      assert.equal(await fs.promises.readFile(path.join(mnt, 'a', 'b', 'f'), 'utf8'), 'deep');
      fs.renameSync(path.join(src, 'a'), path.join(src, 'z'));
      assert.equal(await fs.promises.readFile(path.join(mnt, 'z', 'b', 'f'), 'utf8'), 'deep');
      await fs.promises.writeFile(path.join(mnt, 'z', 'b', 'g'), 'new');
      assert.equal(fs.readFileSync(path.join(src, 'z', 'b', 'g'), 'utf8'), 'new');
    },
    {
      prepare: ({ src }) => {
        fs.mkdirSync(path.join(src, 'a', 'b'), { recursive: true });
        fs.writeFileSync(path.join(src, 'a', 'b', 'f'), 'deep');
      },
    },
  );
});

test('a directory fd held through MNT keeps working after the directory is renamed in SRC', T, async (t) => {
  if (!(await havePython())) {
    t.skip('python3 not available');
    return;
  }
  await withMirror(
    async ({ src, mnt }) => {
      const code = `
import os, sys
mnt_d1, src_d1, src_d2 = sys.argv[1:4]
dfd = os.open(mnt_d1, os.O_RDONLY | os.O_DIRECTORY)
os.rename(src_d1, src_d2)
fd = os.open('existing', os.O_RDONLY, dir_fd=dfd)
print(os.read(fd, 100).decode()); os.close(fd)
fd = os.open('created', os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=dfd)
os.write(fd, b'via dirfd'); os.close(fd)
os.mkdir('subdir', dir_fd=dfd)
print(' '.join(sorted(os.listdir(dfd))))
`;
      const r = await python(code, [path.join(mnt, 'd1'), path.join(src, 'd1'), path.join(src, 'd2')]);
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(r.stdout.trim().split('\n'), ['old content', 'created existing subdir']);
      assert.equal(fs.readFileSync(path.join(src, 'd2', 'created'), 'utf8'), 'via dirfd');
      assert.ok(fs.statSync(path.join(src, 'd2', 'subdir')).isDirectory());
      assert.equal(fs.existsSync(path.join(src, 'd1')), false, 'something recreated the old path');
    },
    {
      prepare: ({ src }) => {
        fs.mkdirSync(path.join(src, 'd1'));
        fs.writeFileSync(path.join(src, 'd1', 'existing'), 'old content');
      },
    },
  );
});

/**
 * Inodes held by file handle keep a descriptor only while it is in a bounded
 * cache: with 200 descriptors the server keeps 100, so stat-ing 300 other
 * files through MNT drops the descriptor of every inode looked up before.
 */
const SMALL_CACHE = { nofile: 200 };
const OTHERS = 300;

function makeOthers(src: string): void {
  fs.mkdirSync(path.join(src, 'others'));
  for (let i = 0; i < OTHERS; i++) fs.writeFileSync(path.join(src, 'others', `o${i}`), '');
}

async function pushOutOfCache(mnt: string): Promise<void> {
  for (let i = 0; i < OTHERS; i++) await fs.promises.lstat(path.join(mnt, 'others', `o${i}`));
}

/** Lists and stats every file, then holds HELD of them open while it makes, stats and reads others; then closes them and reads again. */
const HOLD_OPEN = `
import os, sys
d, held = sys.argv[1], int(sys.argv[2])
names = sorted(os.listdir(d))
for n in names: os.lstat(os.path.join(d, n))
fds = [os.open(os.path.join(d, n), os.O_RDONLY) for n in names[:held]]
os.mkdir(os.path.join(d, 'newdir'))
print(os.read(os.open(os.path.join(d, names[-1]), os.O_RDONLY), 100).decode(), len(os.listdir(d)))
for fd in fds: os.close(fd)
print(open(os.path.join(d, names[0])).read(), os.stat(os.path.join(d, names[1])).st_size)
`;

for (const [how, spawn] of [
  ['by file handle', { nofile: 600 }],
  ['by descriptor (no CAP_DAC_READ_SEARCH)', { nofile: 600, dropCapabilities: ['dac_read_search'] }],
] as const) {
  test(`${how}: a client may hold open most of the descriptor limit's worth of files, and the mount keeps serving`, T, async (t) => {
    if (!(await havePython())) {
      t.skip('python3 not available');
      return;
    }
    // Each open file once cost the server two descriptors (the file's and the
    // inode's): with 600, holding 400 files open ran lookups and opens out of them.
    await withMirror(
      async ({ mnt }) => {
        const r = await python(HOLD_OPEN, [path.join(mnt, 'many'), '400'], 60_000);
        assert.equal(r.code, 0, describeRun(r));
        assert.deepEqual(r.stdout.trim().split('\n'), ['c499 501', 'c000 4']);
      },
      {
        spawn,
        prepare: ({ src }) => {
          fs.mkdirSync(path.join(src, 'many'));
          for (let i = 0; i < 500; i++) fs.writeFileSync(path.join(src, 'many', `f${String(i).padStart(3, '0')}`), `c${String(i).padStart(3, '0')}`);
        },
      },
    );
  });
}

test('by file handle: descriptors the cache lets go of are closed even when requests never stop coming', T, async (t) => {
  if (!(await havePython())) {
    t.skip('python3 not available');
    return;
  }
  // Four clients each stat 300 files as fast as replies come: the device
  // seldom runs dry, and every lookup evicts a descriptor from the cache.
  // Closed only when the server finds nothing to read, they piled up until
  // lookups failed with EMFILE.
  await withMirror(
    async ({ mnt }) => {
      const code = `
import os, sys
d = sys.argv[1]
for n in range(8):
  for i in range(${OTHERS}): os.lstat(os.path.join(d, 'o%d' % i))
print('ok')
`;
      const runs = await Promise.all([1, 2, 3, 4].map((c) => python(code, [path.join(mnt, `others${c}`)], 60_000)));
      for (const r of runs) assert.equal(r.stdout.trim(), 'ok', describeRun(r));
    },
    {
      spawn: SMALL_CACHE,
      prepare: ({ src }) => {
        for (let c = 1; c <= 4; c++) {
          fs.mkdirSync(path.join(src, `others${c}`));
          for (let i = 0; i < OTHERS; i++) fs.writeFileSync(path.join(src, `others${c}`, `o${i}`), '');
        }
      },
    },
  );
});

test('by file handle, its descriptor dropped: a directory renamed in SRC is still the one a held fd names', T, async (t) => {
  if (!(await havePython())) {
    t.skip('python3 not available');
    return;
  }
  await withMirror(
    async ({ src, mnt }) => {
      const code = `
import os, sys
mnt_d1, src_d1, src_d2, mnt_others = sys.argv[1:5]
dfd = os.open(mnt_d1, os.O_RDONLY | os.O_DIRECTORY)
for i in range(${OTHERS}): os.lstat(os.path.join(mnt_others, 'o%d' % i))
os.rename(src_d1, src_d2)
fd = os.open('existing', os.O_RDONLY, dir_fd=dfd)
print(os.read(fd, 100).decode()); os.close(fd)
fd = os.open('created', os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=dfd)
os.write(fd, b'via dirfd'); os.close(fd)
print(' '.join(sorted(os.listdir(dfd))))
`;
      const r = await python(code, [path.join(mnt, 'd1'), path.join(src, 'd1'), path.join(src, 'd2'), path.join(mnt, 'others')]);
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(r.stdout.trim().split('\n'), ['old content', 'created existing']);
      assert.equal(fs.readFileSync(path.join(src, 'd2', 'created'), 'utf8'), 'via dirfd');
      assert.equal(fs.existsSync(path.join(src, 'd1')), false, 'something recreated the old path');
    },
    {
      spawn: SMALL_CACHE,
      prepare: ({ src }) => {
        fs.mkdirSync(path.join(src, 'd1'));
        fs.writeFileSync(path.join(src, 'd1', 'existing'), 'old content');
        makeOthers(src);
      },
    },
  );
});

test('by file handle, its descriptor dropped: a file replaced in SRC under a reused inode number is a new file through MNT', T, async (t) => {
  await withMirror(
    async ({ src, mnt }) => {
      const old = await fs.promises.lstat(path.join(mnt, 'f'), { bigint: true });
      await pushOutOfCache(mnt);
      // ext4 hands a freed inode number to a file created next in the same
      // directory, once the removal is committed; other files created on the
      // machine meanwhile may take it first, so try a few names.
      fs.unlinkSync(path.join(src, 'f'));
      const sync = await run('sync', [src], { timeoutMs: 30_000 });
      assert.equal(sync.code, 0, describeRun(sync));
      let g = '';
      for (let i = 0; i < 20 && !g; i++) {
        fs.writeFileSync(path.join(src, `g${i}`), 'new file');
        if (fs.lstatSync(path.join(src, `g${i}`), { bigint: true }).ino === old.ino) g = `g${i}`;
      }
      if (!g) {
        t.skip('the source did not reuse the inode number');
        return;
      }
      assert.equal(await fs.promises.readFile(path.join(mnt, g), 'utf8'), 'new file');
      await fs.promises.appendFile(path.join(mnt, g), ' appended');
      assert.equal(fs.readFileSync(path.join(src, g), 'utf8'), 'new file appended');
      // The kernel may still hold the old name's inode: it is gone, not the new file.
      const code = await fs.promises.readFile(path.join(mnt, 'f'), 'utf8').then(() => 'read', (e: NodeJS.ErrnoException) => e.code);
      assert.ok(code === 'ENOENT' || code === 'ESTALE', `reading the removed file gave ${code}`);
    },
    {
      spawn: SMALL_CACHE,
      prepare: ({ src }) => {
        fs.writeFileSync(path.join(src, 'f'), 'old file');
        makeOthers(src);
      },
    },
  );
});

test('an fd opened through MNT survives unlink in SRC', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      const fh = await fs.promises.open(path.join(mnt, 'f'), 'r+');
      try {
        fs.unlinkSync(path.join(src, 'f'));
        const buf = Buffer.alloc(64);
        const { bytesRead } = await fh.read(buf, 0, 64, 0);
        assert.equal(buf.subarray(0, bytesRead).toString(), 'still here');
        await fh.write('STILL', 0);
        const again = Buffer.alloc(64);
        const r2 = await fh.read(again, 0, 64, 0);
        assert.equal(again.subarray(0, r2.bytesRead).toString(), 'STILL here');
      } finally {
        await fh.close();
      }
      assert.deepEqual(fs.readdirSync(src), []);
    },
    { prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'still here') },
  );
});

test('symlinks pointing outside SRC are returned as symlinks, never followed by the server', T, async () => {
  await withMirror(
    async ({ src, mnt, root }) => {
      const secret = path.join(root, 'outside', 'secret');
      // readlink/lstat report the link itself.
      assert.equal(await fs.promises.readlink(path.join(mnt, 'hostlink')), '/etc/hostname');
      assert.ok((await fs.promises.lstat(path.join(mnt, 'hostlink'))).isSymbolicLink());
      assert.equal(await fs.promises.readlink(path.join(mnt, 'uplink')), '../..');
      assert.ok((await fs.promises.lstat(path.join(mnt, 'etclink'))).isSymbolicLink());
      // The kernel (not the server) resolves them, in the caller's namespace.
      assert.equal(await fs.promises.realpath(path.join(mnt, 'hostlink')), fs.realpathSync('/etc/hostname'));
      assert.deepEqual(await fs.promises.readFile(path.join(mnt, 'hostlink')), fs.readFileSync('/etc/hostname'));

      // MNT/.. is the parent of MNT as the kernel sees it.
      const up = await fs.promises.stat(mnt + '/..', { bigint: true });
      const parent = fs.statSync(path.dirname(mnt), { bigint: true });
      assert.equal(up.ino, parent.ino);
      assert.equal(up.dev, parent.dev);
      assert.deepEqual((await fs.promises.readdir(mnt + '/..')).sort(), fs.readdirSync(root).sort());

      const secretBefore = await lstatBig(secret);
      // touch -h / lchown act on the link in SRC, not on the file outside.
      const r = await run('touch', ['-h', '-d', '@500000000.5', path.join(mnt, 'outlink')], { timeoutMs: 10_000 });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal((await lstatBig(path.join(src, 'outlink'))).mtimeNs, 500000000500000000n);
      await fs.promises.lchown(path.join(mnt, 'outlink'), 2222, 3333);
      assert.equal(fs.lstatSync(path.join(src, 'outlink')).uid, 2222);
      // A hard link of a symlink links the symlink, not its target.
      await fs.promises.link(path.join(mnt, 'outlink'), path.join(mnt, 'outlink-hl'));
      assert.ok(fs.lstatSync(path.join(src, 'outlink-hl')).isSymbolicLink(), 'hard link made to the target');
      assert.equal(fs.readlinkSync(path.join(src, 'outlink-hl')), secret);
      // Renaming a symlink keeps it a symlink.
      await fs.promises.rename(path.join(mnt, 'outlink-hl'), path.join(mnt, 'outlink-moved'));
      assert.ok(fs.lstatSync(path.join(src, 'outlink-moved')).isSymbolicLink());
      // Unlinking a symlink removes the link only.
      await fs.promises.unlink(path.join(mnt, 'outlink-moved'));

      const secretAfter = await lstatBig(secret);
      assert.equal(secretAfter.mtimeNs, secretBefore.mtimeNs, 'file outside SRC had its mtime changed');
      assert.equal(secretAfter.uid, secretBefore.uid, 'file outside SRC was chowned');
      assert.equal(secretAfter.nlink, 1n, 'file outside SRC got a hard link');
      assert.equal(fs.readFileSync(secret, 'utf8'), 'do not touch');
      assert.deepEqual(fs.readdirSync(path.join(root, 'outside')), ['secret']);
    },
    {
      prepare: ({ src, root }) => {
        fs.mkdirSync(path.join(root, 'outside'));
        fs.writeFileSync(path.join(root, 'outside', 'secret'), 'do not touch');
        fs.symlinkSync('/etc/hostname', path.join(src, 'hostlink'));
        fs.symlinkSync('/etc', path.join(src, 'etclink'));
        fs.symlinkSync('../..', path.join(src, 'uplink'));
        fs.symlinkSync(path.join(root, 'outside', 'secret'), path.join(src, 'outlink'));
      },
    },
  );
});

test('inode lifetime: O_PATH fds are released after the kernel forgets the inodes', { timeout: 120_000 }, async (t) => {
  const DIRS = 30;
  const PER = 100;
  await withMirror(
    async ({ mnt, proc }) => {
      await fs.promises.stat(mnt);
      await sleep(300);
      const baseline = fdCount(proc.pid);

      // Stat every entry (-printf %s forces a lookup of each one).
      const f = await run('find', [mnt, '-printf', '%i %s %p\\n'], { timeoutMs: 60_000 });
      assert.equal(f.code, 0, describeRun(f));
      const count = f.stdout.split('\n').filter((l) => l !== '').length;
      assert.equal(count, 1 + DIRS + DIRS * PER);
      const peak = fdCount(proc.pid);
      t.diagnostic(`server fds: baseline ${baseline}, after find ${peak}`);

      let now = peak;
      const end = Date.now() + 10_000;
      let lastDrop = 0;
      while (Date.now() < end) {
        if (Date.now() - lastDrop >= 2000) {
          await dropCaches(2);
          lastDrop = Date.now();
        }
        now = fdCount(proc.pid);
        if (now <= baseline + 5) break;
        await sleep(200);
      }
      t.diagnostic(`server fds after drop_caches: ${now}`);
      assert.ok(now <= baseline + 5, `server still holds ${now} fds (baseline ${baseline}, peak ${peak}) 10 s after drop_caches`);
      // And the mirror still works afterwards (inodes are looked up afresh).
      const again = await run('find', [mnt, '-printf', '%s\\n'], { timeoutMs: 60_000 });
      assert.equal(again.code, 0, describeRun(again));
      assert.equal(again.stdout.split('\n').filter((l) => l !== '').length, 1 + DIRS + DIRS * PER);
    },
    {
      prepare: ({ src }) => {
        for (let d = 0; d < DIRS; d++) {
          const dir = path.join(src, `d${d}`);
          fs.mkdirSync(dir);
          for (let i = 0; i < PER; i++) fs.writeFileSync(path.join(dir, `f${i}`), `${d}/${i}`);
        }
      },
      watchdogMs: 110_000,
    },
  );
});

test('a reader blocked opening a FIFO through MNT does not stall the mirror', T, async () => {
  await withMirror(
    async ({ mnt }) => {
      const fifo = path.join(mnt, 'fifo');
      const reader = run('cat', [fifo], { timeoutMs: 30_000 });
      await sleep(500);

      const ls = await run('ls', ['-la', path.join(mnt, 'other')], { timeoutMs: 5000 });
      assert.equal(ls.timedOut, false, 'ls did not answer within 5 s while a FIFO reader was blocked');
      assert.equal(ls.code, 0, describeRun(ls));
      assert.match(ls.stdout, /f0/);
      assert.equal(await withTimeout(fs.promises.readFile(path.join(mnt, 'other', 'f3'), 'utf8'), 5000, 'readFile'), 'content 3');
      await withTimeout(fs.promises.writeFile(path.join(mnt, 'other', 'new'), 'x'), 5000, 'writeFile');

      // A writer releases the reader.
      const w = await run('/bin/sh', ['-c', 'printf hello > "$1"', 'sh', fifo], { timeoutMs: 10_000 });
      assert.equal(w.code, 0, describeRun(w));
      const r = await reader;
      assert.equal(r.timedOut, false, 'reader never finished');
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout, 'hello');
    },
    {
      prepare: async ({ src }) => {
        const r = await run('mkfifo', [path.join(src, 'fifo')], { timeoutMs: 10_000 });
        assert.equal(r.code, 0, describeRun(r));
        fs.mkdirSync(path.join(src, 'other'));
        for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(src, 'other', `f${i}`), `content ${i}`);
      },
    },
  );
});
