import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { withTempDir } from '../helpers/tempdir.js';

interface Entry {
  ino: number;
  off: bigint;
  type: number;
  name: Buffer;
}

function listAll(fd: number, bufSize: number): Entry[] {
  const buf = Buffer.alloc(bufSize);
  const out: Entry[] = [];
  for (;;) {
    const n = sys.getdents64(fd, buf);
    if (n === 0) return out;
    const used = sys.parseDirents(buf, n, (ino, off, type, name) => {
      out.push({ ino, off, type, name: Buffer.from(name) });
    });
    assert.equal(used, n);
  }
}

const rawName = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xc0, 0x2d, 0x6e, 0x61, 0x6d, 0x65]); // invalid UTF-8

function populate(dir: string): void {
  fs.writeFileSync(path.join(dir, 'file.txt'), 'x');
  fs.mkdirSync(path.join(dir, 'subdir'));
  fs.symlinkSync('file.txt', path.join(dir, 'link'));
  fs.writeFileSync(Buffer.concat([Buffer.from(dir + '/'), rawName]), 'raw');
  sys.mknodat(sys.AT_FDCWD, path.join(dir, 'fifo'), sys.S_IFIFO | 0o600, 0);
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(dir, `n${i}-${'z'.repeat(i % 40)}`), '');
}

test('getdents64 + parseDirents list what fs.readdirSync lists', withTempDir((dir) => {
  populate(dir);
  const fd = sys.open(dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    const entries = listAll(fd, 4096);
    const names = entries.map((e) => e.name.toString('latin1')).filter((n) => n !== '.' && n !== '..').sort();
    const expected = fs.readdirSync(dir, { encoding: 'buffer' }).map((n) => n.toString('latin1')).sort();
    assert.deepEqual(names, expected);
    assert.ok(entries.some((e) => e.name.equals(Buffer.from('.'))));
    assert.ok(entries.some((e) => e.name.equals(Buffer.from('..'))));
    const raw = entries.find((e) => e.name.equals(rawName));
    assert.ok(raw, 'non-UTF-8 name listed with exact bytes');
    assert.equal(BigInt(raw.ino), fs.lstatSync(Buffer.concat([Buffer.from(dir + '/'), rawName]), { bigint: true }).ino);

    const byName = new Map(entries.map((e) => [e.name.toString('latin1'), e]));
    const types: [string, number][] = [['file.txt', sys.DT_REG], ['subdir', sys.DT_DIR], ['link', sys.DT_LNK], ['fifo', sys.DT_FIFO]];
    for (const [name, type] of types) {
      const e = byName.get(name)!;
      assert.ok(e.type === type || e.type === sys.DT_UNKNOWN, name);
      assert.equal(BigInt(e.ino), fs.lstatSync(path.join(dir, name), { bigint: true }).ino);
    }
    // a buffer smaller than one record is an error, not a crash
    sys.lseek(fd, 0, sys.SEEK_SET);
    assert.throws(() => sys.getdents64(fd, Buffer.alloc(8)), { code: 'EINVAL', syscall: 'getdents64' });
    // a tiny buffer still makes progress one record at a time
    sys.lseek(fd, 0, sys.SEEK_SET);
    assert.equal(listAll(fd, 300).length, entries.length);
  } finally {
    sys.close(fd);
  }
}));

test('parseDirents stops when visit returns false and can resume', withTempDir((dir) => {
  populate(dir);
  const fd = sys.open(dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    const all = listAll(fd, 1 << 16);
    sys.lseek(fd, 0, sys.SEEK_SET);
    const buf = Buffer.alloc(1 << 16);
    const n = sys.getdents64(fd, buf);
    const first: Entry[] = [];
    const used = sys.parseDirents(buf, n, (ino, off, type, name) => {
      if (first.length === 5) return false;
      first.push({ ino, off, type, name: Buffer.from(name) });
      return true;
    });
    assert.equal(first.length, 5);
    assert.ok(used > 0 && used < n);
    const rest: Entry[] = [];
    assert.equal(sys.parseDirents(buf, n, (ino, off, type, name) => {
      rest.push({ ino, off, type, name: Buffer.from(name) });
    }, used), n);
    assert.deepEqual([...first, ...rest], all);

    // d_off of an entry is a cookie for lseek: reading from it yields the entries after it
    const cookie = all[9]!.off;
    sys.lseek(fd, cookie, sys.SEEK_SET);
    const after = listAll(fd, 4096);
    assert.deepEqual(after.map((e) => e.name.toString('latin1')), all.slice(10).map((e) => e.name.toString('latin1')));
  } finally {
    sys.close(fd);
  }
}));

test('parseDirents ignores truncated or malformed records', () => {
  const buf = Buffer.alloc(64);
  // one valid record: ino 7, off 1, reclen 24, DT_REG, "ab"
  buf.writeBigUInt64LE(7n, 0);
  buf.writeBigInt64LE(1n, 8);
  buf.writeUInt16LE(24, 16);
  buf[18] = sys.DT_REG;
  buf.write('ab\0', 19, 'latin1');
  buf.fill(0x41, 22, 24); // garbage after the NUL is allowed
  // then a record with reclen 0
  buf.writeUInt16LE(0, 24 + 16);
  const seen: string[] = [];
  assert.equal(sys.parseDirents(buf, 64, (_i, _o, _t, name) => { seen.push(name.toString()); }), 24);
  assert.deepEqual(seen, ['ab']);
  // a len that cuts the first record short yields nothing
  assert.equal(sys.parseDirents(buf, 20, () => { throw new Error('visited'); }), 0);
});
