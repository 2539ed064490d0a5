import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import * as testSys from '../helpers/libc.js';
import { withTempDir } from '../helpers/tempdir.js';

const { EAGAIN, ENXIO, ENOENT, EEXIST } = os.constants.errno;

test('open/openat, write, read, pread, pwrite, lseek, close', withTempDir((dir) => {
  const dirfd = sys.open(dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
  const fd = sys.openat(dirfd, 'data', sys.O_RDWR | sys.O_CREAT | sys.O_EXCL | sys.O_CLOEXEC, 0o640);
  try {
    assert.equal(fs.statSync(path.join(dir, 'data')).mode & 0o777, 0o640 & ~process.umask());
    const src = Buffer.from('..hello world..');
    assert.equal(testSys.write(fd, src, 2, 11), 11);
    assert.equal(fs.readFileSync(path.join(dir, 'data'), 'latin1'), 'hello world');
    assert.equal(sys.lseek(fd, 0, sys.SEEK_CUR), 11);
    assert.equal(sys.lseek(fd, 0, sys.SEEK_SET), 0);
    const dst = Buffer.alloc(32, 0x2a);
    assert.equal(testSys.read(fd, dst, 4, 5), 5);
    assert.equal(dst.subarray(0, 10).toString('latin1'), '****hello*');
    assert.equal(sys.tryRead(fd, dst, 0, 32), 6); // the rest: " world"
    assert.equal(testSys.read(fd, dst, 0, 32), 0); // EOF
    assert.equal(testSys.pwrite(fd, Buffer.from('XY'), 0, 2, 6), 2);
    assert.equal(testSys.pread(fd, dst, 1, 8, 3), 8);
    assert.equal(dst.subarray(1, 9).toString('latin1'), 'lo XYrld');
    assert.equal(sys.lseek(fd, 0, sys.SEEK_END), 11);
    assert.equal(sys.tryWrite(fd, Buffer.from('!'), 0, 1), 1);
    assert.equal(fs.readFileSync(path.join(dir, 'data'), 'latin1'), 'hello XYrld!');
    assert.throws(() => sys.openat(dirfd, 'data', sys.O_RDWR | sys.O_CREAT | sys.O_EXCL, 0o600), {
      code: 'EEXIST', errno: EEXIST, syscall: 'openat',
    });
    assert.throws(() => sys.openat(dirfd, 'nope', sys.O_RDONLY), { code: 'ENOENT', errno: ENOENT, syscall: 'openat' });
    assert.throws(() => sys.open(path.join(dir, 'nope'), sys.O_RDONLY), { code: 'ENOENT', syscall: 'open' });
    assert.equal(testSys.tryOpenat(dirfd, 'nope', sys.O_RDONLY), -ENOENT);
    const fd2 = testSys.tryOpenat(dirfd, 'data', sys.O_RDONLY | sys.O_CLOEXEC);
    assert.ok(fd2 >= 0);
    assert.equal(sys.tryClose(fd2), 0);
  } finally {
    sys.close(fd);
    sys.close(dirfd);
  }
}));

test('Buffer names are exact bytes, including non-UTF-8', withTempDir((dir) => {
  const raw = Buffer.from([0x6e, 0xff, 0xfe, 0x80, 0x2e, 0x62]); // not valid UTF-8
  const dirfd = sys.open(dir, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    sys.close(sys.openat(dirfd, raw, sys.O_WRONLY | sys.O_CREAT | sys.O_CLOEXEC, 0o600));
    const names = fs.readdirSync(dir, { encoding: 'buffer' });
    assert.equal(names.length, 1);
    assert.ok(names[0]!.equals(raw));
    // a long name grows the scratch buffer
    const long = Buffer.alloc(255, 0x61);
    sys.mkdirat(dirfd, long, 0o700);
    const nested = Buffer.concat([long, Buffer.from('/'), long, Buffer.from('/'), long, Buffer.from('/'), long, Buffer.from('/'), long]);
    assert.throws(() => sys.fstatat(dirfd, nested, 0), { code: 'ENOENT' }); // 1279 bytes: slot grew, no crash
    assert.equal(sys.fstatat(dirfd, long, 0).mode & sys.S_IFMT, sys.S_IFDIR);
  } finally {
    sys.close(dirfd);
  }
}));

test('tryRead returns -EAGAIN on a drained non-blocking fd; pollOne reports readiness', withTempDir((dir) => {
  const fifo = path.join(dir, 'fifo');
  sys.mknodat(sys.AT_FDCWD, fifo, sys.S_IFIFO | 0o600, 0);
  const fd = sys.open(fifo, sys.O_RDWR | sys.O_NONBLOCK | sys.O_CLOEXEC);
  try {
    const buf = Buffer.alloc(64);
    assert.equal(sys.tryRead(fd, buf, 0, 64), -EAGAIN);
    assert.throws(() => testSys.read(fd, buf, 0, 64), { code: 'EAGAIN', syscall: 'read' });
    assert.equal(testSys.pollOne(fd, sys.POLLIN, 0), 0);
    assert.equal(testSys.pollOne(fd, sys.POLLIN, 10), 0); // timeout
    assert.equal(sys.tryWrite(fd, Buffer.from('ping'), 0, 4), 4);
    assert.equal(testSys.pollOne(fd, sys.POLLIN, 1000) & sys.POLLIN, sys.POLLIN);
    assert.equal(sys.tryRead(fd, buf, 10, 54), 4);
    assert.equal(buf.subarray(10, 14).toString(), 'ping');
    assert.equal(sys.tryRead(fd, buf, 0, 64), -EAGAIN);
    assert.equal(testSys.pollOne(fd, sys.POLLOUT, 0) & sys.POLLOUT, sys.POLLOUT);
  } finally {
    sys.close(fd);
  }
  // a closed fd is reported through revents, not an exception
  assert.equal(testSys.pollOne(fd, sys.POLLIN, 0), sys.POLLNVAL);
}));

test('ftruncate, truncate, fsync, fdatasync, syncfs', withTempDir((dir) => {
  const file = path.join(dir, 'f');
  const fd = sys.open(file, sys.O_RDWR | sys.O_CREAT | sys.O_CLOEXEC, 0o600);
  try {
    sys.ftruncate(fd, 5 * 2 ** 32); // needs the full 64-bit argument
    assert.equal(fs.statSync(file).size, 5 * 2 ** 32);
    sys.truncate(file, 3);
    assert.equal(sys.fstat(fd).size, 3);
    testSys.fsync(fd);
    testSys.fdatasync(fd);
    testSys.syncfs(fd);
  } finally {
    sys.close(fd);
  }
  assert.throws(() => sys.truncate(path.join(dir, 'missing'), 0), { code: 'ENOENT', syscall: 'truncate' });
}));

test('fallocate and lseek SEEK_DATA/SEEK_HOLE on a sparse file', withTempDir((dir) => {
  const fd = sys.open(path.join(dir, 'sparse'), sys.O_RDWR | sys.O_CREAT | sys.O_CLOEXEC, 0o600);
  try {
    const MiB = 1 << 20;
    sys.ftruncate(fd, 8 * MiB);
    testSys.pwrite(fd, Buffer.alloc(MiB, 1), 0, MiB, 2 * MiB);
    try {
      sys.fallocate(fd, 0, 9 * MiB, MiB); // extends the size
    } catch (err) {
      if ((err as sys.SysError).code === 'EOPNOTSUPP') return; // filesystem without fallocate
      throw err;
    }
    assert.equal(sys.fstat(fd).size, 10 * MiB);
    const blocks = sys.fstat(fd).blocks;
    sys.fallocate(fd, sys.FALLOC_FL_KEEP_SIZE, 12 * MiB, MiB);
    assert.equal(sys.fstat(fd).size, 10 * MiB);
    assert.ok(sys.fstat(fd).blocks > blocks);
    assert.throws(() => sys.lseek(fd, 10 * MiB, sys.SEEK_DATA), { code: 'ENXIO', errno: ENXIO, syscall: 'lseek' });

    const data = sys.lseek(fd, 0, sys.SEEK_DATA);
    const hole = sys.lseek(fd, data, sys.SEEK_HOLE);
    if (data === 0) return; // filesystem reports no holes (allowed by POSIX)
    assert.equal(data, 2 * MiB);
    assert.equal(hole, 3 * MiB);
    sys.fallocate(fd, sys.FALLOC_FL_PUNCH_HOLE | sys.FALLOC_FL_KEEP_SIZE, 2 * MiB, MiB / 2);
    assert.equal(sys.lseek(fd, 0, sys.SEEK_DATA), 2 * MiB + MiB / 2);
    assert.equal(sys.lseek(fd, 0, sys.SEEK_HOLE), 0);
    const back = Buffer.alloc(16, 9);
    assert.equal(testSys.pread(fd, back, 0, 16, 2 * MiB), 16);
    assert.ok(back.equals(Buffer.alloc(16, 0)));
  } finally {
    sys.close(fd);
  }
}));

test('copyFileRange with explicit and implicit offsets', withTempDir((dir) => {
  fs.writeFileSync(path.join(dir, 'src'), '0123456789abcdef');
  const src = sys.open(path.join(dir, 'src'), sys.O_RDONLY | sys.O_CLOEXEC);
  const dst = sys.open(path.join(dir, 'dst'), sys.O_RDWR | sys.O_CREAT | sys.O_CLOEXEC, 0o600);
  try {
    assert.equal(sys.copyFileRange(src, 10, dst, 0, 6, 0), 6);
    assert.equal(fs.readFileSync(path.join(dir, 'dst'), 'latin1'), 'abcdef');
    assert.equal(sys.lseek(src, 0, sys.SEEK_CUR), 0); // explicit offsets leave file positions alone
    assert.equal(sys.lseek(dst, 0, sys.SEEK_CUR), 0);
    sys.lseek(src, 2, sys.SEEK_SET);
    sys.lseek(dst, 6, sys.SEEK_SET);
    assert.equal(sys.copyFileRange(src, null, dst, null, 3, 0), 3);
    assert.equal(sys.lseek(src, 0, sys.SEEK_CUR), 5);
    assert.equal(fs.readFileSync(path.join(dir, 'dst'), 'latin1'), 'abcdef234');
    assert.equal(sys.copyFileRange(src, 100, dst, 0, 5, 0), 0); // past EOF
    assert.throws(() => sys.copyFileRange(src, 0, dst, 0, 5, 1), { code: 'EINVAL', syscall: 'copy_file_range' });
  } finally {
    sys.close(src);
    sys.close(dst);
  }
}));

test('faccessat', withTempDir((dir) => {
  fs.writeFileSync(path.join(dir, 'f'), '');
  testSys.faccessat(sys.AT_FDCWD, path.join(dir, 'f'), sys.F_OK, 0);
  testSys.faccessat(sys.AT_FDCWD, path.join(dir, 'f'), sys.R_OK | sys.W_OK, sys.AT_EACCESS);
  assert.throws(() => testSys.faccessat(sys.AT_FDCWD, path.join(dir, 'g'), sys.F_OK, 0), { code: 'ENOENT', syscall: 'faccessat' });
  if (process.getuid!() !== 0) {
    fs.chmodSync(path.join(dir, 'f'), 0);
    assert.throws(() => testSys.faccessat(sys.AT_FDCWD, path.join(dir, 'f'), sys.R_OK, 0), { code: 'EACCES' });
  } else {
    // root still lacks X on a file with no x bit at all
    assert.throws(() => testSys.faccessat(sys.AT_FDCWD, path.join(dir, 'f'), sys.X_OK, 0), { code: 'EACCES' });
  }
}));

test('watchReadable calls back from the event loop while a descriptor is readable; pause, resume, close', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-watch-'));
  const fifo = path.join(dir, 'fifo');
  sys.mknodat(sys.AT_FDCWD, fifo, sys.S_IFIFO | 0o600, 0);
  const fd = sys.open(fifo, sys.O_RDWR | sys.O_NONBLOCK | sys.O_CLOEXEC);
  const buf = Buffer.alloc(64);
  let calls = 0;
  let wake: (() => void) | undefined;
  const watch = sys.watchReadable(fd, () => {
    calls++;
    // Level-triggered: drain, or it fires again on the next loop turn.
    while (sys.tryRead(fd, buf, 0, 64) > 0);
    wake?.();
  });
  const next = () => new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no callback within 2 s')), 2000);
    wake = () => { clearTimeout(t); wake = undefined; resolve(); };
  });
  try {
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, 0, 'nothing to read, no callback');
    let p = next();
    sys.tryWrite(fd, Buffer.from('a'), 0, 1);
    await p;
    assert.equal(calls, 1);
    watch.pause();
    sys.tryWrite(fd, Buffer.from('b'), 0, 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, 1, 'paused: no callback');
    p = next();
    watch.resume();
    await p;
    assert.equal(calls, 2, 'resumed: the pending byte is seen');
  } finally {
    watch.close();
    sys.close(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
