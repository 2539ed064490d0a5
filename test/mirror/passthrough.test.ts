/**
 * The rest of "complete passthrough": mmap, xattrs, fallocate,
 * copy_file_range, SEEK_DATA/SEEK_HOLE, O_DIRECT, O_APPEND from many
 * processes, open flags, and errno values.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeRun, havePython, python, run, sha256, withMirror, errCode } from '../helpers/mount.js';

const T = { timeout: 60_000 };


test('shared writable mmap through MNT reaches SRC; private mmap reads the content', T, async (t) => {
  if (!(await havePython())) return t.skip('python3 not available');
  const big = randomBytes(1024 * 1024 + 123);
  await withMirror(
    async ({ src, mnt }) => {
      const r = await python(
        `
import hashlib, mmap, os, sys
p, big = sys.argv[1:3]
fd = os.open(p, os.O_RDWR)
m = mmap.mmap(fd, 0)
print(m[:5].decode())
m[0:5] = b'MMAPD'
m[8192:8197] = b'PAGE2'
m.flush()
m.close(); os.close(fd)
fd = os.open(big, os.O_RDONLY)
m = mmap.mmap(fd, 0, mmap.MAP_PRIVATE, mmap.PROT_READ)
print(hashlib.sha256(m[:]).hexdigest())
m.close(); os.close(fd)
`,
        [path.join(mnt, 'f'), path.join(mnt, 'big')],
      );
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(r.stdout.trim().split('\n'), ['hello', sha256(big)]);
      const s = fs.readFileSync(path.join(src, 'f'));
      assert.equal(s.subarray(0, 11).toString(), 'MMAPD world');
      assert.equal(s.subarray(8192, 8197).toString(), 'PAGE2');
      assert.equal(s.length, 16384);
    },
    {
      prepare: ({ src }) => {
        const f = Buffer.alloc(16384, 0x2e);
        f.write('hello world', 0);
        fs.writeFileSync(path.join(src, 'f'), f);
        fs.writeFileSync(path.join(src, 'big'), big);
      },
    },
  );
});

test('extended attributes and chmod: set/get/list/remove both ways, with and without the file open', T, async (t) => {
  if (!(await havePython())) return t.skip('python3 not available');
  await withMirror(
    async ({ src, mnt }) => {
      // The server reaches an inode's xattrs and mode through a descriptor it holds
      // open for a file handle when there is one, else through /proc: both must agree.
      const r = await python(
        `
import errno, os, sys
m, s = sys.argv[1:3]
def check(tag):
    os.setxattr(m, 'user.test', b'value\\x00\\xff')
    assert os.getxattr(s, 'user.test') == b'value\\x00\\xff', (tag, 'set through MNT not in SRC')
    assert os.getxattr(m, 'user.test') == b'value\\x00\\xff', tag
    os.setxattr(s, 'user.fromsrc', b'S')
    assert os.getxattr(m, 'user.fromsrc') == b'S', (tag, 'set in SRC not visible through MNT')
    assert sorted(os.listxattr(m)) == sorted(os.listxattr(s)), (tag, os.listxattr(m), os.listxattr(s))
    assert {'user.test', 'user.fromsrc'} <= set(os.listxattr(m)), tag
    big = bytes(range(256)) * 8
    os.setxattr(m, 'user.big', big)
    assert os.getxattr(m, 'user.big') == big and os.getxattr(s, 'user.big') == big, tag
    try:
        os.setxattr(m, 'user.test', b'x', os.XATTR_CREATE); raise SystemExit(tag + ': XATTR_CREATE on existing succeeded')
    except OSError as e:
        assert e.errno == errno.EEXIST, (tag, e)
    try:
        os.setxattr(m, 'user.nope', b'x', os.XATTR_REPLACE); raise SystemExit(tag + ': XATTR_REPLACE on missing succeeded')
    except OSError as e:
        assert e.errno == errno.ENODATA, (tag, e)
    for name in ('user.test', 'user.fromsrc', 'user.big'):
        os.removexattr(m, name)
    try:
        os.getxattr(s, 'user.test'); raise SystemExit(tag + ': removed xattr still in SRC')
    except OSError as e:
        assert e.errno == errno.ENODATA, (tag, e)
    try:
        os.getxattr(m, 'user.missing'); raise SystemExit(tag + ': missing xattr found')
    except OSError as e:
        assert e.errno == errno.ENODATA, (tag, e)
    for mode in (0o640, 0o604):
        os.chmod(m, mode)
        assert os.stat(s).st_mode & 0o7777 == mode, (tag, oct(os.stat(s).st_mode))
check('closed')
held = os.open(m, os.O_RDONLY)
check('open')
os.close(held)
check('closed again')
print('OK')
`,
        [path.join(mnt, 'f'), path.join(src, 'f')],
      );
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout.trim(), 'OK');
    },
    { prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'x') },
  );
});

test('fallocate through MNT allocates in SRC', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    let r = await run('fallocate', ['-l', '1048576', path.join(mnt, 'fa')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    let s = fs.statSync(path.join(src, 'fa'));
    assert.equal(s.size, 1048576);
    assert.ok(s.blocks >= 2048, `only ${s.blocks} blocks allocated`);
    assert.equal((await fs.promises.stat(path.join(mnt, 'fa'))).size, 1048576);

    // --keep-size: blocks grow, size doesn't.
    r = await run('fallocate', ['-n', '-l', '2097152', path.join(mnt, 'fa')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    s = fs.statSync(path.join(src, 'fa'));
    assert.equal(s.size, 1048576);
    assert.ok(s.blocks >= 4096, `only ${s.blocks} blocks after keep-size fallocate`);

    // Punch a hole: the range reads as zeros in SRC.
    await fs.promises.writeFile(path.join(mnt, 'ph'), Buffer.alloc(65536, 0x41));
    r = await run('fallocate', ['-p', '-o', '4096', '-l', '8192', path.join(mnt, 'ph')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    const b = fs.readFileSync(path.join(src, 'ph'));
    assert.equal(b.length, 65536);
    assert.ok(b.subarray(4096, 12288).every((x) => x === 0), 'punched range not zero in SRC');
    assert.ok(b.subarray(0, 4096).every((x) => x === 0x41));
    const m = await fs.promises.readFile(path.join(mnt, 'ph'));
    assert.ok(m.equals(b), 'MNT and SRC differ after punch hole');
  });
});

test('copy_file_range between files on MNT', T, async (t) => {
  if (!(await havePython())) return t.skip('python3 not available');
  const data = randomBytes(3 * 1024 * 1024 + 17);
  await withMirror(
    async ({ src, mnt }) => {
      const r = await python(
        `
import os, sys
a, b = sys.argv[1:3]
fa = os.open(a, os.O_RDONLY)
fb = os.open(b, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
total = os.fstat(fa).st_size
n = 0
while n < total:
    k = os.copy_file_range(fa, fb, total - n, n, n)
    if k == 0:
        break
    n += k
os.close(fa); os.close(fb)
print(n)
`,
        [path.join(mnt, 'a'), path.join(mnt, 'b')],
      );
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout.trim(), String(data.length));
      assert.equal(sha256(fs.readFileSync(path.join(src, 'b'))), sha256(data));
      assert.equal(sha256(await fs.promises.readFile(path.join(mnt, 'b'))), sha256(data));
      // Node's copyFile too.
      await fs.promises.copyFile(path.join(mnt, 'a'), path.join(mnt, 'c'));
      assert.equal(sha256(fs.readFileSync(path.join(src, 'c'))), sha256(data));
    },
    { prepare: ({ src }) => fs.writeFileSync(path.join(src, 'a'), data) },
  );
});

test('SEEK_DATA / SEEK_HOLE through MNT agree with SRC', T, async (t) => {
  if (!(await havePython())) return t.skip('python3 not available');
  await withMirror(
    async ({ src, mnt }) => {
      const code = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
out = []
for off in (0, 100, 5000, 8 * 1024 * 1024 - 1):
    try: out.append(str(os.lseek(fd, off, os.SEEK_HOLE)))
    except OSError as e: out.append('E%d' % e.errno)
    try: out.append(str(os.lseek(fd, off, os.SEEK_DATA)))
    except OSError as e: out.append('E%d' % e.errno)
print(' '.join(out))
`;
      const a = await python(code, [path.join(mnt, 'sparse')]);
      const b = await python(code, [path.join(src, 'sparse')]);
      assert.equal(a.code, 0, describeRun(a));
      assert.equal(b.code, 0, describeRun(b));
      assert.equal(a.stdout.trim(), b.stdout.trim(), 'lseek results through MNT differ from SRC');
    },
    {
      prepare: ({ src }) => {
        const fd = fs.openSync(path.join(src, 'sparse'), 'w');
        fs.writeSync(fd, 'start', 0);
        fs.writeSync(fd, 'end', 8 * 1024 * 1024);
        fs.closeSync(fd);
      },
    },
  );
});

test('O_DIRECT reads and writes through MNT (dd iflag/oflag=direct)', T, async () => {
  const data = randomBytes(4 * 1024 * 1024);
  await withMirror(
    async ({ src, mnt, root }) => {
      const input = path.join(root, 'input.bin');
      fs.writeFileSync(input, data);
      let r = await run('dd', [`if=${input}`, `of=${path.join(mnt, 'd.bin')}`, 'bs=65536', 'oflag=direct', 'status=none'], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(sha256(fs.readFileSync(path.join(src, 'd.bin'))), sha256(data));
      r = await run('dd', [`if=${path.join(mnt, 'd.bin')}`, 'bs=65536', 'iflag=direct', 'status=none'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(sha256(r.stdoutBuf), sha256(data));
      // Overwrite one aligned block in the middle, not truncating.
      const block = randomBytes(65536);
      fs.writeFileSync(path.join(root, 'block.bin'), block);
      r = await run(
        'dd',
        [`if=${path.join(root, 'block.bin')}`, `of=${path.join(mnt, 'd.bin')}`, 'bs=65536', 'seek=7', 'conv=notrunc', 'oflag=direct', 'status=none'],
        { timeoutMs: 30_000 },
      );
      assert.equal(r.code, 0, describeRun(r));
      block.copy(data, 7 * 65536);
      assert.equal(sha256(fs.readFileSync(path.join(src, 'd.bin'))), sha256(data));
      assert.equal(sha256(await fs.promises.readFile(path.join(mnt, 'd.bin'))), sha256(data));
    },
    { watchdogMs: 55_000 },
  );
});

test('O_APPEND from 8 processes at once loses no line', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    const f = path.join(mnt, 'log');
    const procs = Array.from({ length: 8 }, (_, id) =>
      run('/bin/sh', ['-c', 'i=0; while [ $i -lt 200 ]; do echo "$1 $i" >> "$2"; i=$((i+1)); done', 'sh', String(id), f], {
        timeoutMs: 45_000,
      }),
    );
    for (const r of await Promise.all(procs)) assert.equal(r.code, 0, describeRun(r));
    const lines = fs.readFileSync(path.join(src, 'log'), 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1600);
    for (let id = 0; id < 8; id++) {
      const mine = lines.filter((l) => l.startsWith(`${id} `)).map((l) => Number(l.split(' ')[1]));
      assert.deepEqual(mine, Array.from({ length: 200 }, (_, i) => i), `lines of writer ${id}`);
    }
    assert.equal(await fs.promises.readFile(f, 'utf8'), fs.readFileSync(path.join(src, 'log'), 'utf8'));
  }, { watchdogMs: 55_000 });
});

test('open flags: O_EXCL, O_TRUNC, O_RDONLY writes; errno values', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      const M = (n: string) => path.join(mnt, n);
      assert.equal(await errCode(fs.promises.open(M('f'), 'wx')), 'EEXIST');
      await fs.promises.writeFile(M('f'), 'new'); // O_TRUNC
      assert.equal(fs.readFileSync(path.join(src, 'f'), 'utf8'), 'new');
      const fh = await fs.promises.open(M('f'), 'r');
      try {
        assert.equal(await errCode(fh.write('x')), 'EBADF');
      } finally {
        await fh.close();
      }
      const fx = await fs.promises.open(M('g'), 'wx', 0o600);
      await fx.close();
      assert.equal(fs.statSync(path.join(src, 'g')).mode & 0o777, 0o600);

      assert.equal(await errCode(fs.promises.open(M('missing'), 'r')), 'ENOENT');
      assert.equal(await errCode(fs.promises.readlink(M('f'))), 'EINVAL');
      assert.equal(await errCode(fs.promises.readdir(M('f'))), 'ENOTDIR');
      assert.equal(await errCode(fs.promises.open(M('f/x'), 'r')), 'ENOTDIR');
      assert.equal(await errCode(fs.promises.writeFile(M('dir'), 'x')), 'EISDIR');
      assert.equal(await errCode(fs.promises.mkdir(M('missing/sub'))), 'ENOENT');
      assert.equal(await errCode(fs.promises.rmdir(M('missing'))), 'ENOENT');
      assert.equal(await errCode(fs.promises.rename(M('missing'), M('other'))), 'ENOENT');
      assert.equal(await errCode(fs.promises.rename(M('dir'), M('dir/inside'))), 'EINVAL');
    },
    {
      prepare: ({ src }) => {
        fs.writeFileSync(path.join(src, 'f'), 'old content');
        fs.mkdirSync(path.join(src, 'dir'));
      },
    },
  );
});
