import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  AbiError,
  InitFlag,
  Opcode,
  decodeInHeader,
  decodeRequest,
  type DecodeOptions,
  type FuseRequest,
} from '../../src/abi/index.js';
import { le32, le64, request, str } from '../helpers/wire.js';

const OPTS: DecodeOptions = { minor: 45, setxattrExt: false };
const EINVAL = 22;
const EOVERFLOW = 75;

// Byte helpers for the table-driven fixtures: `request` builds fuse_in_header + body
// (uid 1000, gid 1001, pid 4242 unless given).
const req = request;

function decode(buf: Buffer, opts: DecodeOptions = OPTS): FuseRequest {
  return decodeRequest(buf, buf.length, opts);
}

/** Narrow a decoded request to one op, failing the test otherwise. */
function as<Op extends FuseRequest['op']>(r: FuseRequest, op: Op): Extract<FuseRequest, { op: Op }> {
  assert.equal(r.op, op);
  return r as Extract<FuseRequest, { op: Op }>;
}

function rejects(fn: () => unknown, errno: number, message?: RegExp): AbiError {
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    return e instanceof AbiError && e.errno === errno && (message === undefined || message.test(e.message));
  });
  return caught as AbiError;
}

// ---- Hand-written fixtures ----

test('LOOKUP: header fields and a zero-copy name', () => {
  const buf = Buffer.from([
    0x2c, 0x00, 0x00, 0x00, // len = 44
    0x01, 0x00, 0x00, 0x00, // opcode = LOOKUP
    0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, // unique = 10 | FUSE_UNIQUE_RESEND
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 1
    0xe8, 0x03, 0x00, 0x00, // uid = 1000
    0xff, 0xff, 0xff, 0xff, // gid = FUSE_INVALID_UIDGID
    0x39, 0x30, 0x00, 0x00, // pid = 12345
    0x00, 0x00, // total_extlen = 0
    0x00, 0x00, // padding
    0x66, 0x6f, 0x6f, 0x00, // "foo\0"
  ]);
  const r = as(decode(buf), 'LOOKUP');
  assert.deepEqual(r.header, {
    len: 44,
    opcode: 1,
    unique: 0x800000000000000an,
    nodeid: 1,
    uid: 1000,
    gid: 0xffffffff,
    pid: 12345,
    totalExtlen: 0,
  });
  assert.equal(r.name, 'foo');
  assert.deepEqual([...r.nameBytes], [0x66, 0x6f, 0x6f]);
  // A view into the request buffer, not a copy.
  assert.equal(r.nameBytes.buffer, buf.buffer);
  assert.equal(r.nameBytes.byteOffset, buf.byteOffset + 40);
});

test('LOOKUP: a non-UTF-8 name keeps its exact bytes', () => {
  const r = as(decode(req(Opcode.LOOKUP, [0xff, 0xfe, 0x41, 0x00])), 'LOOKUP');
  assert.deepEqual([...r.nameBytes], [0xff, 0xfe, 0x41]);
  assert.equal(r.name, '\ufffd\ufffdA');
});

test('INIT: the 64-byte form a 6.18 kernel sends', () => {
  const buf = Buffer.from([
    0x68, 0x00, 0x00, 0x00, // len = 104
    0x1a, 0x00, 0x00, 0x00, // opcode = INIT (26)
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0
    0x00, 0x00, 0x00, 0x00, // uid
    0x00, 0x00, 0x00, 0x00, // gid
    0x00, 0x00, 0x00, 0x00, // pid
    0x00, 0x00, // total_extlen
    0x00, 0x00, // padding
    0x07, 0x00, 0x00, 0x00, // major = 7
    0x2d, 0x00, 0x00, 0x00, // minor = 45
    0x00, 0x00, 0x02, 0x00, // max_readahead = 131072
    0xfb, 0xff, 0xff, 0x73, // flags = 0x73fffffb (INIT_EXT set)
    0xfd, 0x05, 0x00, 0x00, // flags2 = 0x5fd
    ...new Array<number>(44).fill(0), // unused[11]
  ]);
  const r = as(decode(buf), 'INIT');
  assert.equal(r.header.nodeid, 0);
  assert.equal(r.header.unique, 2n);
  assert.deepEqual(r.init, { major: 7, minor: 45, maxReadahead: 131072, flags: 0x5fd_73fffffbn });
  assert.ok(r.init.flags & InitFlag.PASSTHROUGH);
});

test('INIT: 16-byte form, and flags2 only with INIT_EXT', () => {
  const old = as(
    decode(
      req(Opcode.INIT, [
        ...le32(7), // major
        ...le32(31), // minor
        ...le32(65536), // max_readahead
        ...le32(0x3), // flags = ASYNC_READ | POSIX_LOCKS
      ]),
    ),
    'INIT',
  );
  assert.deepEqual(old.init, { major: 7, minor: 31, maxReadahead: 65536, flags: 3n });

  // 64 bytes but no INIT_EXT: whatever sits in flags2 is not a flag.
  const noExt = as(
    decode(req(Opcode.INIT, [...le32(7), ...le32(45), ...le32(0), ...le32(1), ...le32(0xffff), ...new Array(44).fill(0)])),
    'INIT',
  );
  assert.equal(noExt.init.flags, 1n);

  // INIT_EXT promises the 64-byte form.
  rejects(() => decode(req(Opcode.INIT, [...le32(7), ...le32(45), ...le32(0), ...le32(1 << 30)])), EINVAL);
});

test('WRITE: data is exactly `size` bytes, viewed in place', () => {
  const buf = Buffer.from([
    0x55, 0x00, 0x00, 0x00, // len = 85
    0x10, 0x00, 0x00, 0x00, // opcode = WRITE (16)
    0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 32
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 5
    0x00, 0x00, 0x00, 0x00, // uid
    0x00, 0x00, 0x00, 0x00, // gid
    0x00, 0x00, 0x00, 0x00, // pid = 0 (writeback)
    0x00, 0x00, // total_extlen
    0x00, 0x00, // padding
    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 3
    0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // offset = 2^32 + 4096
    0x05, 0x00, 0x00, 0x00, // size = 5
    0x03, 0x00, 0x00, 0x00, // write_flags = CACHE | LOCKOWNER
    0xef, 0xbe, 0xad, 0xde, 0xef, 0xbe, 0xad, 0xde, // lock_owner
    0x02, 0x80, 0x00, 0x00, // flags = O_RDWR | O_LARGEFILE
    0x00, 0x00, 0x00, 0x00, // padding
    0x68, 0x65, 0x6c, 0x6c, 0x6f, // "hello"
  ]);
  const r = as(decode(buf), 'WRITE');
  assert.equal(r.fh, 3);
  assert.equal(r.offset, 2 ** 32 + 4096);
  assert.equal(r.size, 5);
  assert.equal(r.writeFlags, 3);
  assert.equal(r.lockOwner, 0xdeadbeefdeadbeefn);
  assert.equal(r.flags, 0x8002);
  assert.equal(r.data.toString(), 'hello');
  assert.equal(r.data.buffer, buf.buffer);
  assert.equal(r.data.byteOffset, buf.byteOffset + 80);

  // The read buffer is usually larger than the request: only `len` counts.
  const big = Buffer.alloc(4096, 0xee);
  buf.copy(big);
  const r2 = as(decodeRequest(big, buf.length, OPTS), 'WRITE');
  assert.equal(r2.data.length, 5);

  // size says 6, only 5 bytes follow.
  const short = Buffer.from(buf);
  short.writeUInt32LE(6, 40 + 16);
  rejects(() => decode(short), EINVAL, /WRITE/);
});

test('SETATTR: every field of the 88-byte layout', () => {
  const r = as(
    decode(
      req(Opcode.SETATTR, [
        ...le32(0x7ff), // valid
        ...le32(0), // padding
        ...le64(9), // fh
        ...le64(1 << 20), // size
        ...le64(0x1122334455667788n), // lock_owner
        ...le64(1_700_000_000), // atime
        ...le64(-86400), // mtime: 1969-12-31, u64 on the wire, signed in the kernel
        ...le64(1_700_000_002), // ctime
        ...le32(1), // atimensec
        ...le32(2), // mtimensec
        ...le32(999_999_999), // ctimensec
        ...le32(0o100644), // mode
        ...le32(0), // unused4
        ...le32(500), // uid
        ...le32(501), // gid
        ...le32(0), // unused5
      ]),
    ),
    'SETATTR',
  );
  assert.equal(r.valid, 0x7ff);
  assert.equal(r.fh, 9);
  assert.equal(r.size, 1 << 20);
  assert.equal(r.lockOwner, 0x1122334455667788n);
  assert.deepEqual(r.atime, { sec: 1_700_000_000, nsec: 1 });
  assert.deepEqual(r.mtime, { sec: -86400, nsec: 2 });
  assert.deepEqual(r.ctime, { sec: 1_700_000_002, nsec: 999_999_999 });
  assert.equal(r.mode, 0o100644);
  assert.equal(r.uid, 500);
  assert.equal(r.gid, 501);
  rejects(() => decode(req(Opcode.SETATTR, new Array(87).fill(0))), EINVAL, /fuse_setattr_in/);
});

test('MKDIR with an extension area: security context and supplementary groups', () => {
  const body = [
    ...le32(0o40755), // fuse_mkdir_in.mode
    ...le32(0o022), // fuse_mkdir_in.umask
    0x64, 0x00, // name "d\0"; the extension area starts right here, unaligned
    // -- secctx block (40 bytes)
    ...le32(40), // fuse_secctx_header.size
    ...le32(1), // fuse_secctx_header.nr_secctx (= ext type 1)
    ...le32(4), // fuse_secctx.size: context length
    ...le32(0), // fuse_secctx.padding
    ...str('security.selinux'), // 17 bytes with NUL
    0x75, 0x3a, 0x72, 0x00, // context "u:r\0"
    0x00, 0x00, 0x00, // pad the block to 40
    // -- unknown extension type: skipped
    ...le32(8), // size
    ...le32(99), // type
    // -- supplementary groups block (16 bytes)
    ...le32(16), // fuse_ext_header.size
    ...le32(32), // fuse_ext_header.type = FUSE_EXT_GROUPS
    ...le32(1), // nr_groups
    ...le32(100), // groups[0]
  ];
  const r = as(decode(req(Opcode.MKDIR, body, { extlen: (40 + 8 + 16) / 8 })), 'MKDIR');
  assert.equal(r.header.totalExtlen, 8);
  assert.equal(r.mode, 0o40755);
  assert.equal(r.umask, 0o022);
  assert.equal(r.name, 'd');
  assert.equal(r.ext.secctx?.length, 1);
  assert.equal(r.ext.secctx?.[0]?.name, 'security.selinux');
  assert.deepEqual([...(r.ext.secctx?.[0]?.value ?? [])], [0x75, 0x3a, 0x72, 0x00]);
  assert.deepEqual(r.ext.suppGroups, [100]);

  // A block claiming more than the area holds.
  const bad = [...le32(0o40755), ...le32(0), 0x64, 0x00, ...le32(24), ...le32(32), ...le32(1), ...le32(100)];
  rejects(() => decode(req(Opcode.MKDIR, bad, { extlen: 2 })), EINVAL, /extension block/);
});

test('the extension area is cut off before names are parsed', () => {
  // The name's only NUL sits inside the 8-byte extension area.
  const body = [
    0x61, 0x62, // "ab", no NUL before the extension area
    ...le32(8), // fuse_ext_header.size
    ...le32(32), // fuse_ext_header.type
  ];
  rejects(() => decode(req(Opcode.LOOKUP, body, { extlen: 1 })), EINVAL, /NUL/);
  // A LOOKUP with an extension area is otherwise fine: the area is ignored.
  const ok = as(decode(req(Opcode.LOOKUP, [...str('x'), ...le32(8), ...le32(99)], { extlen: 1 })), 'LOOKUP');
  assert.equal(ok.name, 'x');
});

test('RENAME and RENAME2 both decode to RENAME', () => {
  const plain = as(
    decode(
      req(Opcode.RENAME, [
        ...le64(7), // fuse_rename_in.newdir
        ...str('old'), // old name
        ...str('new'), // new name
      ]),
    ),
    'RENAME',
  );
  assert.equal(plain.newdir, 7);
  assert.equal(plain.name, 'old');
  assert.equal(plain.newName, 'new');
  assert.equal(plain.newNameBytes.toString(), 'new');
  assert.equal(plain.flags, 0);

  const wide = as(
    decode(
      req(Opcode.RENAME2, [
        ...le64(8), // fuse_rename2_in.newdir
        ...le32(2), // flags = RENAME_EXCHANGE
        ...le32(0), // padding
        ...str('a'),
        ...str('b'),
      ]),
    ),
    'RENAME',
  );
  assert.deepEqual(
    { newdir: wide.newdir, name: wide.name, newName: wide.newName, flags: wide.flags },
    { newdir: 8, name: 'a', newName: 'b', flags: 2 },
  );
  // The second name must be terminated too.
  rejects(() => decode(req(Opcode.RENAME, [...le64(7), ...str('old'), 0x6e])), EINVAL, /new name/);
});

test('SETXATTR: 8-byte and 16-byte fuse_setxattr_in', () => {
  const compact = as(
    decode(
      req(Opcode.SETXATTR, [
        ...le32(3), // size
        ...le32(1), // flags = XATTR_CREATE
        ...str('user.k'),
        0x61, 0x62, 0x63, // value "abc"
      ]),
    ),
    'SETXATTR',
  );
  assert.equal(compact.name, 'user.k');
  assert.equal(compact.size, 3);
  assert.equal(compact.flags, 1);
  assert.equal(compact.setxattrFlags, 0);
  assert.equal(compact.value.toString(), 'abc');

  const ext = as(
    decode(
      req(Opcode.SETXATTR, [
        ...le32(2), // size
        ...le32(2), // flags = XATTR_REPLACE
        ...le32(1), // setxattr_flags = ACL_KILL_SGID
        ...le32(0), // padding
        ...str('system.posix_acl_access'),
        0x01, 0x02,
      ]),
      { minor: 45, setxattrExt: true },
    ),
    'SETXATTR',
  );
  assert.equal(ext.name, 'system.posix_acl_access');
  assert.equal(ext.setxattrFlags, 1);
  assert.deepEqual([...ext.value], [1, 2]);

  // A value longer than what follows the name.
  rejects(() => decode(req(Opcode.SETXATTR, [...le32(9), ...le32(0), ...str('user.k'), 0x61])), EINVAL);
});

test('BATCH_FORGET and REMOVEMAPPING arrays must fit', () => {
  const r = as(
    decode(
      req(Opcode.BATCH_FORGET, [
        ...le32(2), // count
        ...le32(0), // dummy
        ...le64(5), ...le64(1), // forget_one[0]: nodeid, nlookup
        ...le64(6), ...le64(3), // forget_one[1]
      ]),
    ),
    'BATCH_FORGET',
  );
  assert.deepEqual(r.forgets, [
    { nodeid: 5, nlookup: 1 },
    { nodeid: 6, nlookup: 3 },
  ]);
  rejects(
    () => decode(req(Opcode.BATCH_FORGET, [...le32(3), ...le32(0), ...le64(5), ...le64(1), ...le64(6), ...le64(3)])),
    EINVAL,
    /count 3/,
  );
  rejects(() => decode(req(Opcode.BATCH_FORGET, [...le32(0xffffffff), ...le32(0)])), EINVAL);

  const m = as(
    decode(
      req(Opcode.REMOVEMAPPING, [
        ...le32(1), // count; the array follows unaligned at +4
        ...le64(0x200000), // moffset
        ...le64(0x1000), // len
      ]),
    ),
    'REMOVEMAPPING',
  );
  assert.deepEqual(m.mappings, [{ moffset: 0x200000, len: 0x1000 }]);
  rejects(() => decode(req(Opcode.REMOVEMAPPING, [...le32(2), ...le64(0), ...le64(0)])), EINVAL);
});

// ---- Every other opcode, table-driven ----

interface Case {
  opcode: number;
  body: number[];
  op: FuseRequest['op'];
  expect: Record<string, unknown>;
  opts?: DecodeOptions;
}

const lock = [
  ...le64(100), // lk.start
  ...le64(0x7fffffffffffffffn), // lk.end = OFFSET_MAX
  ...le32(1), // lk.type = F_WRLCK
  ...le32(777), // lk.pid
];
const lkIn = [...le64(4), ...le64(0xabcn), ...lock, ...le32(1), ...le32(0)]; // fh, owner, lk, lk_flags = LK_FLOCK, padding
const readIn = [...le64(2), ...le64(8192), ...le32(4096), ...le32(2), ...le64(0x55n), ...le32(0), ...le32(0)];
const lockExpect = { start: 100, end: 0x7fffffffffffffffn, type: 1, pid: 777 };
const createIn = [...le32(0o102), ...le32(0o100600), ...le32(0o022), ...le32(1)]; // flags O_RDWR|O_CREAT, mode, umask, open_flags
const copyIn = [...le64(1), ...le64(10), ...le64(9), ...le64(2), ...le64(20), ...le64(1 << 30), ...le64(0)];

const CASES: Case[] = [
  { opcode: Opcode.FORGET, body: le64(42), op: 'FORGET', expect: { nlookup: 42 } },
  {
    opcode: Opcode.GETATTR,
    body: [...le32(1), ...le32(0), ...le64(11)], // getattr_flags = GETATTR_FH, dummy, fh
    op: 'GETATTR',
    expect: { getattrFlags: 1, fh: 11 },
  },
  { opcode: Opcode.READLINK, body: [], op: 'READLINK', expect: {} },
  {
    opcode: Opcode.SYMLINK,
    body: [...str('link'), ...str('../target')],
    op: 'SYMLINK',
    expect: { name: 'link', target: '../target', ext: {} },
  },
  {
    opcode: Opcode.MKNOD,
    body: [...le32(0o10644), ...le32(0x0801), ...le32(0o022), ...le32(0), ...str('fifo')], // mode, rdev, umask, padding
    op: 'MKNOD',
    expect: { name: 'fifo', mode: 0o10644, rdev: 0x0801, umask: 0o022, ext: {} },
  },
  { opcode: Opcode.UNLINK, body: str('gone'), op: 'UNLINK', expect: { name: 'gone' } },
  { opcode: Opcode.RMDIR, body: str('dir'), op: 'RMDIR', expect: { name: 'dir' } },
  { opcode: Opcode.LINK, body: [...le64(12), ...str('hard')], op: 'LINK', expect: { oldnodeid: 12, name: 'hard' } },
  { opcode: Opcode.OPEN, body: [...le32(0o1000002), ...le32(1)], op: 'OPEN', expect: { flags: 0o1000002, openFlags: 1 } },
  {
    opcode: Opcode.READ,
    body: readIn, // fh, offset, size, read_flags = LOCKOWNER, lock_owner, flags, padding
    op: 'READ',
    expect: { fh: 2, offset: 8192, size: 4096, readFlags: 2, lockOwner: 0x55n, flags: 0 },
  },
  { opcode: Opcode.STATFS, body: [], op: 'STATFS', expect: {} },
  {
    opcode: Opcode.RELEASE,
    body: [...le64(3), ...le32(0o2), ...le32(2), ...le64(0x99n)], // fh, flags, release_flags = FLOCK_UNLOCK, lock_owner
    op: 'RELEASE',
    expect: { fh: 3, flags: 2, releaseFlags: 2, lockOwner: 0x99n },
  },
  { opcode: Opcode.FSYNC, body: [...le64(3), ...le32(1), ...le32(0)], op: 'FSYNC', expect: { fh: 3, fsyncFlags: 1 } },
  {
    opcode: Opcode.GETXATTR,
    body: [...le32(0), ...le32(0), ...str('user.a')], // size = 0: a size probe
    op: 'GETXATTR',
    expect: { name: 'user.a', size: 0 },
  },
  { opcode: Opcode.LISTXATTR, body: [...le32(4096), ...le32(0)], op: 'LISTXATTR', expect: { size: 4096 } },
  { opcode: Opcode.REMOVEXATTR, body: str('user.a'), op: 'REMOVEXATTR', expect: { name: 'user.a' } },
  {
    opcode: Opcode.FLUSH,
    body: [...le64(3), ...le32(0), ...le32(0), ...le64(0x77n)], // fh, unused, padding, lock_owner
    op: 'FLUSH',
    expect: { fh: 3, lockOwner: 0x77n },
  },
  { opcode: Opcode.OPENDIR, body: [...le32(0o200000), ...le32(0)], op: 'OPENDIR', expect: { flags: 0o200000, openFlags: 0 } },
  {
    opcode: Opcode.READDIR,
    body: [...le64(5), ...le64(0x7ffffffffffffff0n), ...le32(4096), ...le32(0), ...le64(0), ...le32(0), ...le32(0)],
    op: 'READDIR',
    expect: { fh: 5, offset: 0x7ffffffffffffff0n, size: 4096 }, // 63-bit hash cookie stays exact
  },
  {
    opcode: Opcode.RELEASEDIR,
    body: [...le64(5), ...le32(0), ...le32(0), ...le64(0)],
    op: 'RELEASEDIR',
    expect: { fh: 5, releaseFlags: 0, lockOwner: 0n },
  },
  { opcode: Opcode.FSYNCDIR, body: [...le64(5), ...le32(0), ...le32(0)], op: 'FSYNCDIR', expect: { fh: 5, fsyncFlags: 0 } },
  { opcode: Opcode.GETLK, body: lkIn, op: 'GETLK', expect: { fh: 4, owner: 0xabcn, lk: lockExpect, lkFlags: 1 } },
  { opcode: Opcode.SETLK, body: lkIn, op: 'SETLK', expect: { fh: 4, owner: 0xabcn, lk: lockExpect, sleep: false } },
  { opcode: Opcode.SETLKW, body: lkIn, op: 'SETLK', expect: { lk: lockExpect, lkFlags: 1, sleep: true } },
  { opcode: Opcode.ACCESS, body: [...le32(4), ...le32(0)], op: 'ACCESS', expect: { mask: 4 } },
  {
    opcode: Opcode.CREATE,
    body: [...createIn, ...str('new.txt')],
    op: 'CREATE',
    expect: { name: 'new.txt', flags: 0o102, mode: 0o100600, umask: 0o022, openFlags: 1, ext: {} },
  },
  {
    opcode: Opcode.INTERRUPT,
    body: le64(0x40), // fuse_interrupt_in.unique: the target
    op: 'INTERRUPT',
    expect: { target: 0x40n },
  },
  { opcode: Opcode.BMAP, body: [...le64(77), ...le32(4096), ...le32(0)], op: 'BMAP', expect: { block: 77, blocksize: 4096 } },
  { opcode: Opcode.DESTROY, body: [], op: 'DESTROY', expect: {} },
  {
    opcode: Opcode.IOCTL,
    // fh, flags = DIR, cmd, arg, in_size, out_size, then in_size bytes
    body: [...le64(6), ...le32(16), ...le32(0x80086601), ...le64(0x7ffd0000n), ...le32(2), ...le32(8), 0xaa, 0xbb],
    op: 'IOCTL',
    expect: { fh: 6, flags: 16, cmd: 0x80086601, arg: 0x7ffd0000n, inSize: 2, outSize: 8, data: Buffer.from([0xaa, 0xbb]) },
  },
  {
    opcode: Opcode.POLL,
    body: [...le64(6), ...le64(0x1234n), ...le32(1), ...le32(0x19)], // fh, kh, flags = SCHEDULE_NOTIFY, events
    op: 'POLL',
    expect: { fh: 6, kh: 0x1234n, flags: 1, events: 0x19 },
  },
  {
    opcode: Opcode.NOTIFY_REPLY,
    // dummy1, offset, size, dummy2, dummy3, dummy4, then the data
    body: [...le64(0), ...le64(4096), ...le32(3), ...le32(0), ...le64(0), ...le64(0), 1, 2, 3],
    op: 'NOTIFY_REPLY',
    expect: { offset: 4096, size: 3, data: Buffer.from([1, 2, 3]) },
  },
  {
    opcode: Opcode.FALLOCATE,
    body: [...le64(6), ...le64(0), ...le64(1 << 20), ...le32(3), ...le32(0)], // fh, offset, length, mode = KEEP_SIZE|PUNCH_HOLE
    op: 'FALLOCATE',
    expect: { fh: 6, offset: 0, length: 1 << 20, mode: 3 },
  },
  { opcode: Opcode.READDIRPLUS, body: readIn, op: 'READDIRPLUS', expect: { fh: 2, offset: 8192n, size: 4096 } },
  { opcode: Opcode.LSEEK, body: [...le64(6), ...le64(100), ...le32(3), ...le32(0)], op: 'LSEEK', expect: { fh: 6, offset: 100, whence: 3 } },
  {
    opcode: Opcode.COPY_FILE_RANGE,
    body: copyIn, // fh_in, off_in, nodeid_out, fh_out, off_out, len, flags
    op: 'COPY_FILE_RANGE',
    expect: { fhIn: 1, offIn: 10, nodeidOut: 9, fhOut: 2, offOut: 20, len: 1 << 30, flags: 0n, wide: false },
  },
  { opcode: Opcode.COPY_FILE_RANGE_64, body: copyIn, op: 'COPY_FILE_RANGE', expect: { len: 1 << 30, wide: true } },
  {
    opcode: Opcode.SETUPMAPPING,
    body: [...le64(6), ...le64(0), ...le64(0x200000), ...le64(3), ...le64(0x400000)], // fh, foffset, len, flags, moffset
    op: 'SETUPMAPPING',
    expect: { fh: 6, foffset: 0, len: 0x200000, flags: 3n, moffset: 0x400000 },
  },
  { opcode: Opcode.SYNCFS, body: le64(0), op: 'SYNCFS', expect: {} },
  {
    opcode: Opcode.TMPFILE,
    body: [...createIn, ...str('tmp')],
    op: 'TMPFILE',
    expect: { name: 'tmp', flags: 0o102, mode: 0o100600, umask: 0o022, openFlags: 1, ext: {} },
  },
  {
    opcode: Opcode.STATX,
    body: [...le32(1), ...le32(0), ...le64(8), ...le32(0x2000), ...le32(0xfff)], // getattr_flags, reserved, fh, sx_flags, sx_mask
    op: 'STATX',
    expect: { getattrFlags: 1, fh: 8, sxFlags: 0x2000, sxMask: 0xfff },
  },
  // Not FUSE, or not an opcode at all: answered ENOSYS, never thrown.
  { opcode: Opcode.CUSE_INIT, body: new Array(16).fill(0), op: 'UNKNOWN', expect: {} },
  { opcode: 7, body: [], op: 'UNKNOWN', expect: {} },
  { opcode: 0xdead, body: [1, 2, 3], op: 'UNKNOWN', expect: {} },
];

test('every opcode decodes (table)', () => {
  const seen = new Set<number>([
    // covered by the hand-written fixtures above
    Opcode.LOOKUP, Opcode.INIT, Opcode.WRITE, Opcode.SETATTR, Opcode.MKDIR, Opcode.RENAME, Opcode.RENAME2,
    Opcode.SETXATTR, Opcode.BATCH_FORGET, Opcode.REMOVEMAPPING,
  ]);
  for (const c of CASES) {
    const label = `opcode ${c.opcode}`;
    const r = decode(req(c.opcode, c.body, { unique: 0x1234n, nodeid: 3 }), c.opts ?? OPTS);
    assert.equal(r.op, c.op, label);
    assert.equal(r.header.opcode, c.opcode, label);
    assert.equal(r.header.unique, 0x1234n, label);
    assert.equal(r.header.nodeid, 3, label);
    for (const [key, value] of Object.entries(c.expect)) {
      assert.deepEqual((r as unknown as Record<string, unknown>)[key], value, `${label}.${key}`);
    }
    seen.add(c.opcode);
  }
  for (const [name, op] of Object.entries(Opcode)) assert.ok(seen.has(op), `no decode test for ${name}`);
});

test('fixed structs shorter than their size are rejected', () => {
  const sizes: [number, number][] = [
    [Opcode.FORGET, 8], [Opcode.GETATTR, 16], [Opcode.OPEN, 8], [Opcode.READ, 40], [Opcode.WRITE, 40],
    [Opcode.RELEASE, 24], [Opcode.FSYNC, 16], [Opcode.GETXATTR, 8], [Opcode.LISTXATTR, 8], [Opcode.FLUSH, 24],
    [Opcode.READDIR, 40], [Opcode.GETLK, 48], [Opcode.SETLKW, 48], [Opcode.ACCESS, 8], [Opcode.CREATE, 16],
    [Opcode.INTERRUPT, 8], [Opcode.BMAP, 16], [Opcode.IOCTL, 32], [Opcode.POLL, 24], [Opcode.NOTIFY_REPLY, 40],
    [Opcode.BATCH_FORGET, 8], [Opcode.FALLOCATE, 32], [Opcode.RENAME2, 16], [Opcode.LSEEK, 24],
    [Opcode.COPY_FILE_RANGE, 56], [Opcode.SETUPMAPPING, 40], [Opcode.REMOVEMAPPING, 4], [Opcode.SYNCFS, 8],
    [Opcode.STATX, 24], [Opcode.INIT, 16], [Opcode.MKNOD, 16], [Opcode.MKDIR, 8], [Opcode.LINK, 8],
  ];
  for (const [opcode, size] of sizes) {
    const e = rejects(() => decode(req(opcode, new Array(size - 1).fill(0), { unique: 0x42n })), EINVAL);
    // The header was fine, so the caller can still answer this unique.
    assert.equal(e.header?.opcode, opcode);
    assert.equal(e.unique, 0x42n);
  }
});

test('malformed headers', () => {
  // Shorter than fuse_in_header.
  const short = rejects(() => decodeInHeader(Buffer.alloc(39), 39), EINVAL);
  assert.equal(short.header, undefined);
  assert.equal(short.unique, undefined);
  rejects(() => decodeRequest(Buffer.alloc(64), 0, OPTS), EINVAL);

  // header.len disagrees with the number of bytes read.
  const buf = req(Opcode.LOOKUP, str('foo'));
  rejects(() => decodeRequest(Buffer.concat([buf, Buffer.alloc(4)]), buf.length + 1, OPTS), EINVAL, /len 44/);
  rejects(() => decodeRequest(buf, buf.length - 1, OPTS), EINVAL);
  // len beyond the buffer.
  rejects(() => decodeInHeader(buf, buf.length + 8), EINVAL);

  // Missing NUL.
  rejects(() => decode(req(Opcode.LOOKUP, [0x66, 0x6f, 0x6f])), EINVAL, /NUL/);
  rejects(() => decode(req(Opcode.UNLINK, [])), EINVAL, /NUL/);
  rejects(() => decode(req(Opcode.SYMLINK, [...str('a'), 0x62])), EINVAL, /link target/);
  // A stale NUL after `len` in a reused buffer must not terminate the name.
  const stale = Buffer.alloc(128);
  const noNul = req(Opcode.LOOKUP, [0x66, 0x6f, 0x6f]);
  noNul.copy(stale);
  rejects(() => decodeRequest(stale, noNul.length, OPTS), EINVAL, /NUL/);

  // total_extlen is a full u16 (here 0x0201 units); decodeInHeader reads it, decodeRequest checks it fits.
  const wideExt = req(Opcode.MKDIR, [...le32(0), ...le32(0), ...str('d')], { extlen: 0x0201 });
  assert.equal(decodeInHeader(wideExt, wideExt.length).totalExtlen, 0x0201);
  rejects(() => decode(wideExt), EINVAL, /extension area of 4104 bytes/);

  // Extension area longer than the request.
  rejects(() => decode(req(Opcode.MKDIR, [...le32(0), ...le32(0), ...str('d')], { extlen: 2 })), EINVAL, /extension area/);
});

test('u64 values beyond 2^53 are refused, not rounded', () => {
  // nodeid = 2^53 - 1 is the largest accepted.
  const max = decode(req(Opcode.LOOKUP, str('x'), { nodeid: 2n ** 53n - 1n }));
  assert.equal(max.header.nodeid, Number.MAX_SAFE_INTEGER);
  const big = rejects(() => decode(req(Opcode.LOOKUP, str('x'), { nodeid: 2n ** 53n, unique: 0x66n })), EOVERFLOW, /nodeid/);
  // No usable header, but the request id is known, so the caller can still answer.
  assert.equal(big.header, undefined);
  assert.equal(big.unique, 0x66n);
  rejects(() => decodeInHeader(req(Opcode.GETATTR, [], { nodeid: 2n ** 64n - 1n }), 40), EOVERFLOW);

  // A READ offset past 2^53.
  const read = [...le64(2), ...le64(2n ** 60n), ...le32(4096), ...le32(0), ...le64(0), ...le32(0), ...le32(0)];
  const e = rejects(() => decode(req(Opcode.READ, read)), EOVERFLOW, /offset/);
  assert.equal(e.header?.opcode, Opcode.READ);
  // BATCH_FORGET entries are checked too.
  rejects(() => decode(req(Opcode.BATCH_FORGET, [...le32(1), ...le32(0), ...le64(2n ** 62n), ...le64(1)])), EOVERFLOW);

  // Lock ends, owners, cookies and ioctl args stay exact as bigint.
  const lk = as(decode(req(Opcode.GETLK, [...le64(1), ...le64(2n ** 64n - 1n), ...lock, ...le32(0), ...le32(0)])), 'GETLK');
  assert.equal(lk.owner, 2n ** 64n - 1n);

  // copy_file_range len is an upper bound: clamped, not refused.
  const copy = [...le64(1), ...le64(0), ...le64(9), ...le64(2), ...le64(0), ...le64(2n ** 63n - 1n), ...le64(0)];
  assert.equal(as(decode(req(Opcode.COPY_FILE_RANGE_64, copy)), 'COPY_FILE_RANGE').len, Number.MAX_SAFE_INTEGER);
});
