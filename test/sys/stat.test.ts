import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import * as testSys from '../helpers/libc.js';
import { withTempDir } from '../helpers/tempdir.js';

function ns(sec: number, nsec: number): bigint {
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

type CountField = 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'blksize' | 'blocks';

/** Each named field of `st` equals the same field of Node's bigint stat. */
function assertSameFields<K extends CountField>(st: Record<K, number>, ref: fs.BigIntStats, fields: readonly K[]): void {
  for (const f of fields) assert.equal(BigInt(st[f]), ref[f], f);
}

function assertMatchesNode(st: sys.Stat, ref: fs.BigIntStats): void {
  assertSameFields(st, ref, ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'blksize', 'blocks']);
  assert.equal(ns(st.atimeSec, st.atimeNsec), ref.atimeNs);
  assert.equal(ns(st.mtimeSec, st.mtimeNsec), ref.mtimeNs);
  assert.equal(ns(st.ctimeSec, st.ctimeNsec), ref.ctimeNs);
}

test('fstatat, fstat and lstat match fs.lstatSync', withTempDir((dir) => {
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'x'.repeat(12345));
  fs.utimesSync(file, new Date(1_000_000_123), new Date(1_700_000_000_456)); // ms precision via Date
  fs.symlinkSync('file', path.join(dir, 'link'));
  const dirfd = sys.open(dir, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    assertMatchesNode(sys.fstatat(dirfd, 'file', sys.AT_SYMLINK_NOFOLLOW), fs.lstatSync(file, { bigint: true }));
    assertMatchesNode(sys.fstatat(dirfd, Buffer.from('file'), 0), fs.lstatSync(file, { bigint: true }));
    assertMatchesNode(sys.fstatat(sys.AT_FDCWD, file, 0), fs.lstatSync(file, { bigint: true }));
    const link = sys.fstatat(dirfd, 'link', sys.AT_SYMLINK_NOFOLLOW);
    assert.equal(link.mode & sys.S_IFMT, sys.S_IFLNK);
    assertMatchesNode(link, fs.lstatSync(path.join(dir, 'link'), { bigint: true }));
    assertMatchesNode(testSys.lstat(path.join(dir, 'link')), fs.lstatSync(path.join(dir, 'link'), { bigint: true }));
    // following the link lands on the file
    assert.equal(sys.fstatat(dirfd, 'link', 0).ino, sys.fstatat(dirfd, 'file', 0).ino);

    const fd = sys.openat(dirfd, 'file', sys.O_RDONLY | sys.O_CLOEXEC);
    try {
      assertMatchesNode(sys.fstat(fd), fs.fstatSync(fd, { bigint: true }));
    } finally {
      sys.close(fd);
    }
    assertMatchesNode(sys.fstatat(dirfd, '', sys.AT_EMPTY_PATH), fs.lstatSync(dir, { bigint: true }));
  } finally {
    sys.close(dirfd);
  }
}));

test('exact nanosecond timestamps come through', withTempDir((dir) => {
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, '');
  sys.utimensat(sys.AT_FDCWD, file, { sec: 1_600_000_000, nsec: 123_456_789 }, { sec: 1_234_567_890, nsec: 987_654_321 }, 0);
  const st = testSys.lstat(file);
  assert.deepEqual([st.atimeSec, st.atimeNsec, st.mtimeSec, st.mtimeNsec], [1_600_000_000, 123_456_789, 1_234_567_890, 987_654_321]);
  assert.equal(fs.lstatSync(file, { bigint: true }).mtimeNs, 1_234_567_890_987_654_321n);
}));

test('tryFstatat fills the caller object or returns -errno', withTempDir((dir) => {
  fs.writeFileSync(path.join(dir, 'a'), 'abc');
  const dirfd = sys.open(dir, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    const out = sys.emptyStat();
    assert.equal(sys.tryFstatat(dirfd, 'a', sys.AT_SYMLINK_NOFOLLOW, out), 0);
    assertMatchesNode(out, fs.lstatSync(path.join(dir, 'a'), { bigint: true }));
    const before = { ...out };
    assert.equal(sys.tryFstatat(dirfd, 'missing', 0, out), -os.constants.errno.ENOENT);
    assert.deepEqual(out, before); // untouched on failure
    assert.equal(sys.tryFstatat(dirfd, 'a/b', 0, out), -os.constants.errno.ENOTDIR);
    assert.equal(sys.tryFstatat(-1, 'a', 0, out), -os.constants.errno.EBADF);
  } finally {
    sys.close(dirfd);
  }
}));

test('O_PATH openat then fstatat(fd, "", AT_EMPTY_PATH)', withTempDir((dir) => {
  fs.writeFileSync(path.join(dir, 'f'), 'hello');
  fs.symlinkSync('f', path.join(dir, 'l'));
  const fd = sys.openat(sys.AT_FDCWD, path.join(dir, 'f'), sys.O_PATH | sys.O_CLOEXEC);
  const lfd = sys.openat(sys.AT_FDCWD, path.join(dir, 'l'), sys.O_PATH | sys.O_NOFOLLOW | sys.O_CLOEXEC);
  try {
    const st = sys.fstatat(fd, '', sys.AT_EMPTY_PATH);
    assertMatchesNode(st, fs.lstatSync(path.join(dir, 'f'), { bigint: true }));
    assert.equal(st.size, 5);
    const lst = sys.fstatat(lfd, '', sys.AT_EMPTY_PATH | sys.AT_SYMLINK_NOFOLLOW);
    assert.equal(lst.mode & sys.S_IFMT, sys.S_IFLNK);
    // an O_PATH fd cannot be read
    assert.throws(() => testSys.read(fd, Buffer.alloc(4), 0, 4), { code: 'EBADF', syscall: 'read' });
  } finally {
    sys.close(fd);
    sys.close(lfd);
  }
}));

test('statx matches fs.statSync including birth time', withTempDir((dir) => {
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'statx');
  const want = sys.STATX_BASIC_STATS | sys.STATX_BTIME | sys.STATX_MNT_ID;
  const sx = sys.statx(sys.AT_FDCWD, file, sys.AT_SYMLINK_NOFOLLOW, want);
  const ref = fs.lstatSync(file, { bigint: true });
  assert.equal(sx.mask & sys.STATX_BASIC_STATS, sys.STATX_BASIC_STATS);
  assertSameFields(sx, ref, ['ino', 'size', 'mode', 'nlink', 'uid', 'gid', 'blocks', 'blksize']);
  assert.equal(ns(sx.mtime.sec, sx.mtime.nsec), ref.mtimeNs);
  assert.equal(ns(sx.ctime.sec, sx.ctime.nsec), ref.ctimeNs);
  assert.equal(ns(sx.atime.sec, sx.atime.nsec), ref.atimeNs);
  assert.equal(BigInt(sys.makedev(sx.devMajor, sx.devMinor)), ref.dev);
  assert.equal(typeof sx.attributes, 'bigint');
  assert.equal(typeof sx.mntId, 'bigint');
  if (sx.mask & sys.STATX_BTIME) assert.equal(ns(sx.btime.sec, sx.btime.nsec), ref.birthtimeNs);
  if (sx.mask & sys.STATX_MNT_ID) assert.ok(sx.mntId > 0n);

  const dev = sys.statx(sys.AT_FDCWD, '/dev/null', 0, sys.STATX_BASIC_STATS);
  assert.deepEqual([dev.rdevMajor, dev.rdevMinor], [1, 3]);
  assert.throws(() => sys.statx(sys.AT_FDCWD, path.join(dir, 'missing'), 0, want), { code: 'ENOENT', syscall: 'statx' });
}));

test('statfs and fstatfs match fs.statfsSync', withTempDir((dir) => {
  const ref = fs.statfsSync(dir);
  const st = testSys.statfs(dir);
  assert.equal(st.type, ref.type);
  assert.equal(st.bsize, ref.bsize);
  assert.equal(st.blocks, ref.blocks);
  assert.equal(st.files, ref.files);
  assert.ok(Math.abs(st.bfree - ref.bfree) < 4096); // other writers may move these
  assert.ok(Math.abs(st.bavail - ref.bavail) < 4096);
  assert.ok(Math.abs(st.ffree - ref.ffree) < 4096);
  assert.ok(st.namelen >= 255);
  assert.ok(st.frsize > 0);
  const fd = sys.open(dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    const fst = sys.fstatfs(fd);
    assert.equal(fst.type, st.type);
    assert.equal(fst.blocks, st.blocks);
    assert.equal(fst.flags, st.flags);
  } finally {
    sys.close(fd);
  }
  assert.throws(() => testSys.statfs(path.join(dir, 'missing')), { code: 'ENOENT', syscall: 'statfs' });
}));
