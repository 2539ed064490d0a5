import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as sys from '../../src/sys/index.js';

test('open flags and mode bits agree with node:fs where Node defines them', () => {
  const c = fs.constants;
  for (const name of [
    'O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_EXCL', 'O_NOCTTY', 'O_TRUNC', 'O_APPEND', 'O_DIRECTORY',
    'O_NOATIME', 'O_NOFOLLOW', 'O_SYNC', 'O_DSYNC', 'O_DIRECT', 'O_NONBLOCK',
    'S_IFMT', 'S_IFREG', 'S_IFDIR', 'S_IFCHR', 'S_IFBLK', 'S_IFIFO', 'S_IFLNK', 'S_IFSOCK',
    'F_OK', 'R_OK', 'W_OK', 'X_OK',
  ] as const) {
    assert.equal((sys as Record<string, unknown>)[name], (c as Record<string, number>)[name], name);
  }
  assert.equal(sys.O_PATH, 0o10000000);
  assert.equal(sys.O_CLOEXEC, 0o2000000);
  assert.equal(sys.O_TMPFILE, 0o20000000 | sys.O_DIRECTORY);
  assert.equal(sys.AT_FDCWD, -100);
  assert.equal(sys.AT_EMPTY_PATH, 0x1000);
  assert.equal(sys.UTIME_NOW, 0x3fffffff);
  assert.equal(sys.UTIME_OMIT, 0x3ffffffe);
  assert.equal(sys.STATX_BASIC_STATS, 0x7ff);
  assert.equal(sys.FUSE_DEV_IOC_CLONE, 0x8004e500);
});

test('makedev/major/minor use glibc encoding', () => {
  assert.equal(sys.makedev(8, 1), 0x801);
  assert.equal(sys.makedev(0x12345, 0xabcdef), 0x1200abcd345ef); // from glibc's makedev()
  assert.equal(sys.major(0x1200abcd345ef), 0x12345);
  assert.equal(sys.minor(0x1200abcd345ef), 0xabcdef);
  for (const [ma, mi] of [[0, 0], [1, 3], [259, 1048575], [4095, 255], [4096, 256], [0x1fffff, 0xffffffff]] as const) {
    const dev = sys.makedev(ma, mi);
    assert.equal(sys.major(dev), ma);
    assert.equal(sys.minor(dev), mi);
  }
  const devNull = fs.statSync('/dev/null');
  assert.equal(sys.major(devNull.rdev), 1);
  assert.equal(sys.minor(devNull.rdev), 3);
});
