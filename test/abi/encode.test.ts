import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  type Attr,
  type EntryOut,
  type FileHandle,
  type InitOut,
  type NodeId,
  type Statx,
  ATTR_OUT_SIZE,
  ENTRY_OUT_SIZE,
  Fopen,
  InitFlag,
  NotifyCode,
  OFFSET_MAX,
  direntSize,
  direntplusSize,
  encodeAttrOut,
  encodeBackingMap,
  encodeBmapOut,
  encodeCopyFileRangeOut,
  encodeDirent,
  encodeDirentplus,
  nameLength,
  encodeEntryOut,
  encodeGetxattrOut,
  encodeInitOut,
  encodeIoctlOut,
  encodeLkOut,
  encodeLseekOut,
  encodeNotifyDelete,
  encodeNotifyIncEpoch,
  encodeNotifyInvalEntry,
  encodeNotifyInvalInode,
  encodeNotifyPoll,
  encodeNotifyPrune,
  encodeNotifyResend,
  encodeNotifyRetrieve,
  encodeNotifyStore,
  encodeOpenOut,
  encodePollOut,
  encodeStatfsOut,
  encodeStatxOut,
  encodeWriteOut,
  timeoutParts,
  writeOutHeader,
} from '../../src/abi/index.js';

/** Reply buffers are reused: start every encoding from garbage so unwritten bytes show. */
function dirty(size = 512): Buffer {
  return Buffer.alloc(size, 0xa5);
}

function u64(buf: Buffer, off: number): bigint {
  return buf.readBigUInt64LE(off);
}

function assertZero(buf: Buffer, from: number, to: number, what: string): void {
  for (let i = from; i < to; i++) assert.equal(buf[i], 0, `${what}: byte ${i} not zeroed`);
}

const ATTR: Attr = {
  ino: 0x1_0000_0002, // above 2^32, to catch 32-bit truncation
  size: 12345,
  blocks: 24,
  atimeSec: 1_700_000_000,
  atimeNsec: 111,
  mtimeSec: -1, // one second before the epoch
  mtimeNsec: 222,
  ctimeSec: 1_700_000_002,
  ctimeNsec: 333,
  mode: 0o100644,
  nlink: 2,
  uid: 1000,
  gid: 1001,
  rdev: 0x0803,
  blksize: 4096,
};

/** fuse_attr at `base`, checked field by field against ATTR. */
function assertAttr(buf: Buffer, base: number, flags = 0): void {
  assert.equal(u64(buf, base + 0), 0x1_0000_0002n); // ino
  assert.equal(u64(buf, base + 8), 12345n); // size
  assert.equal(u64(buf, base + 16), 24n); // blocks
  assert.equal(u64(buf, base + 24), 1_700_000_000n); // atime
  assert.equal(buf.readBigInt64LE(base + 32), -1n); // mtime, two's complement
  assert.equal(u64(buf, base + 40), 1_700_000_002n); // ctime
  assert.equal(buf.readUInt32LE(base + 48), 111); // atimensec
  assert.equal(buf.readUInt32LE(base + 52), 222); // mtimensec
  assert.equal(buf.readUInt32LE(base + 56), 333); // ctimensec
  assert.equal(buf.readUInt32LE(base + 60), 0o100644); // mode
  assert.equal(buf.readUInt32LE(base + 64), 2); // nlink
  assert.equal(buf.readUInt32LE(base + 68), 1000); // uid
  assert.equal(buf.readUInt32LE(base + 72), 1001); // gid
  assert.equal(buf.readUInt32LE(base + 76), 0x0803); // rdev
  assert.equal(buf.readUInt32LE(base + 80), 4096); // blksize
  assert.equal(buf.readUInt32LE(base + 84), flags); // flags
}

const ENTRY: EntryOut = {
  nodeid: 0x20_0000_0001 as NodeId,
  generation: 7,
  entryTimeout: 1.5,
  attrTimeout: Infinity,
  attr: ATTR,
};

test('timeoutParts splits seconds into (sec, nsec)', () => {
  assert.deepEqual(timeoutParts(0), { sec: 0, nsec: 0 });
  assert.deepEqual(timeoutParts(1), { sec: 1, nsec: 0 });
  assert.deepEqual(timeoutParts(1.5), { sec: 1, nsec: 500_000_000 });
  assert.deepEqual(timeoutParts(0.001), { sec: 0, nsec: 1_000_000 });
  assert.deepEqual(timeoutParts(2.9999999999), { sec: 3, nsec: 0 }); // rounds up to a whole second
  assert.deepEqual(timeoutParts(-5), { sec: 0, nsec: 0 });
  assert.deepEqual(timeoutParts(NaN), { sec: 0, nsec: 0 });
  assert.deepEqual(timeoutParts(Infinity), { sec: 2 ** 52, nsec: 0 });
  assert.deepEqual(timeoutParts(1e300), { sec: 2 ** 52, nsec: 0 });
});

test('fuse_out_header', () => {
  const buf = dirty(16);
  writeOutHeader(buf, 16, -2, 0x8000000000000010n);
  assert.equal(buf.readUInt32LE(0), 16); // len
  assert.equal(buf.readInt32LE(4), -2); // error = -ENOENT
  assert.deepEqual([...buf.subarray(4, 8)], [0xfe, 0xff, 0xff, 0xff]);
  assert.equal(u64(buf, 8), 0x8000000000000010n); // unique, resend bit kept
  writeOutHeader(buf, 144, 0, 2n);
  assert.equal(buf.readInt32LE(4), 0);
  // Positive, too negative, or fractional errors would leave the request pending: refused.
  assert.throws(() => writeOutHeader(buf, 16, 2, 2n), RangeError);
  assert.throws(() => writeOutHeader(buf, 16, -512, 2n), RangeError);
  assert.throws(() => writeOutHeader(buf, 16, -1.5, 2n), RangeError);
  writeOutHeader(buf, 16, -511, 2n);
  assert.equal(buf.readInt32LE(4), -511);
});

test('fuse_entry_out and fuse_attr_out', () => {
  const buf = dirty();
  assert.equal(encodeEntryOut(buf, 16, ENTRY), 128);
  const e = 16;
  assert.equal(u64(buf, e + 0), 0x20_0000_0001n); // nodeid
  assert.equal(u64(buf, e + 8), 7n); // generation
  assert.equal(u64(buf, e + 16), 1n); // entry_valid
  assert.equal(u64(buf, e + 24), 2n ** 52n); // attr_valid: Infinity
  assert.equal(buf.readUInt32LE(e + 32), 500_000_000); // entry_valid_nsec
  assert.equal(buf.readUInt32LE(e + 36), 0); // attr_valid_nsec
  assertAttr(buf, e + 40);
  assert.equal(buf[e + ENTRY_OUT_SIZE], 0xa5, 'wrote past the struct');

  // Negative entry: nodeid 0 with a timeout.
  const neg = dirty();
  encodeEntryOut(neg, 0, { ...ENTRY, nodeid: 0 as NodeId, entryTimeout: 30, attrTimeout: -1 });
  assert.equal(u64(neg, 0), 0n);
  assert.equal(u64(neg, 16), 30n);
  assert.equal(u64(neg, 24), 0n);

  const out = dirty();
  assert.equal(encodeAttrOut(out, 0, { attrTimeout: 0.25, attr: { ...ATTR, flags: 2 } }), 104);
  assert.equal(u64(out, 0), 0n); // attr_valid
  assert.equal(out.readUInt32LE(8), 250_000_000); // attr_valid_nsec
  assert.equal(out.readUInt32LE(12), 0); // dummy
  assertAttr(out, 16, 2); // flags = FUSE_ATTR_DAX
  assert.equal(out[ATTR_OUT_SIZE], 0xa5);
});

test('fuse_open_out, including a negative backing id', () => {
  const buf = dirty();
  const o = { fh: 0x1_0000_0009 as FileHandle, openFlags: Fopen.PASSTHROUGH | Fopen.NOFLUSH, backingId: 3 };
  assert.equal(encodeOpenOut(buf, 0, o), 16);
  assert.equal(u64(buf, 0), 0x1_0000_0009n); // fh
  assert.equal(buf.readUInt32LE(8), 0xa0); // open_flags
  assert.equal(buf.readInt32LE(12), 3); // backing_id
  encodeOpenOut(buf, 0, { ...o, backingId: -5 });
  assert.deepEqual([...buf.subarray(12, 16)], [0xfb, 0xff, 0xff, 0xff]);
  encodeOpenOut(buf, 0, { ...o, openFlags: 0, backingId: 0 });
  assertZero(buf, 8, 16, 'open_out without passthrough');
});

test('small fixed replies', () => {
  const buf = dirty();
  assert.equal(encodeWriteOut(buf, 0, 131072), 8);
  assert.equal(buf.readUInt32LE(0), 131072);
  assertZero(buf, 4, 8, 'write_out.padding');

  buf.fill(0xa5);
  assert.equal(encodeGetxattrOut(buf, 0, 17), 8);
  assert.equal(buf.readUInt32LE(0), 17);
  assertZero(buf, 4, 8, 'getxattr_out.padding');

  assert.equal(encodeBmapOut(buf, 0, 2 ** 40), 8);
  assert.equal(u64(buf, 0), 2n ** 40n);

  assert.equal(encodeLseekOut(buf, 0, 2 ** 33 + 5), 8);
  assert.equal(u64(buf, 0), 2n ** 33n + 5n);

  assert.equal(encodeCopyFileRangeOut(buf, 0, 2 ** 35), 8);
  assert.equal(u64(buf, 0), 2n ** 35n); // wider than fuse_write_out could carry

  buf.fill(0xa5);
  assert.equal(encodePollOut(buf, 0, 0x41), 8);
  assert.equal(buf.readUInt32LE(0), 0x41);
  assertZero(buf, 4, 8, 'poll_out.padding');

  assert.equal(encodeIoctlOut(buf, 0, { result: -1, flags: 4, inIovs: 1, outIovs: 2 }), 16);
  assert.equal(buf.readInt32LE(0), -1); // result
  assert.equal(buf.readUInt32LE(4), 4); // flags = RETRY
  assert.equal(buf.readUInt32LE(8), 1); // in_iovs
  assert.equal(buf.readUInt32LE(12), 2); // out_iovs

  buf.fill(0xa5);
  assert.equal(encodeBackingMap(buf, 0, 42), 16);
  assert.equal(buf.readInt32LE(0), 42); // fd
  assertZero(buf, 4, 16, 'backing_map flags + padding');

  // A negative u64 is a bug, not something to wrap silently.
  assert.throws(() => encodeLseekOut(buf, 0, -1), RangeError);
});

test('fuse_statfs_out', () => {
  const buf = dirty();
  const s = { blocks: 2 ** 40, bfree: 1000, bavail: 900, files: 5000, ffree: 4000, bsize: 4096, namelen: 255, frsize: 512 };
  assert.equal(encodeStatfsOut(buf, 16, s), 80);
  const b = 16;
  assert.equal(u64(buf, b + 0), 2n ** 40n); // blocks
  assert.equal(u64(buf, b + 8), 1000n); // bfree
  assert.equal(u64(buf, b + 16), 900n); // bavail
  assert.equal(u64(buf, b + 24), 5000n); // files
  assert.equal(u64(buf, b + 32), 4000n); // ffree
  assert.equal(buf.readUInt32LE(b + 40), 4096); // bsize
  assert.equal(buf.readUInt32LE(b + 44), 255); // namelen
  assert.equal(buf.readUInt32LE(b + 48), 512); // frsize
  assertZero(buf, b + 52, b + 80, 'statfs padding + spare');
  assert.equal(buf[b + 80], 0xa5);
});

test('a missing or NaN 64-bit field is named in the error', () => {
  // It was "u64 field out of range: undefined", which names neither the field nor the structure.
  assert.throws(() => encodeEntryOut(dirty(), 16, { ...ENTRY, attr: { ...ATTR, size: undefined as unknown as number } }), /attributes: size must be a non-negative finite number, not undefined/);
  assert.throws(() => encodeAttrOut(dirty(), 16, { attrTimeout: 1, attr: { ...ATTR, mtimeSec: Number.NaN } }), /attributes: mtimeSec must be a finite number, not NaN/);
  const partial = { blocks: 10, bsize: 4096, namelen: 255, frsize: 4096 } as unknown as Parameters<typeof encodeStatfsOut>[2];
  assert.throws(() => encodeStatfsOut(dirty(), 16, partial), /statfs: bfree must be a non-negative finite number, not undefined/);
});

test('fuse_lk_out', () => {
  const buf = dirty();
  assert.equal(encodeLkOut(buf, 0, { start: 4096, end: OFFSET_MAX, type: 1, pid: 321 }), 24);
  assert.equal(u64(buf, 0), 4096n); // start
  assert.deepEqual([...buf.subarray(8, 16)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // end = OFFSET_MAX
  assert.equal(buf.readUInt32LE(16), 1); // type = F_WRLCK
  assert.equal(buf.readUInt32LE(20), 321); // pid
});

test('fuse_statx_out', () => {
  const stat: Statx = {
    mask: 0xfff,
    blksize: 4096,
    attributes: 0x20n,
    nlink: 1,
    uid: 1000,
    gid: 1000,
    mode: 0o100755,
    ino: 0x1_0000_0001,
    size: 2 ** 34,
    blocks: 8,
    attributesMask: 0x3ffn,
    atime: { sec: 10, nsec: 1 },
    btime: { sec: -20, nsec: 2 },
    ctime: { sec: 30, nsec: 3 },
    mtime: { sec: 40, nsec: 4 },
    rdevMajor: 8,
    rdevMinor: 1,
    devMajor: 0,
    devMinor: 40,
  };
  const buf = dirty();
  assert.equal(encodeStatxOut(buf, 0, { attrTimeout: 2.5, flags: 0, stat }), 288);
  assert.equal(u64(buf, 0), 2n); // attr_valid
  assert.equal(buf.readUInt32LE(8), 500_000_000); // attr_valid_nsec
  assert.equal(buf.readUInt32LE(12), 0); // flags
  assertZero(buf, 16, 32, 'statx_out.spare');
  const s = 32; // struct fuse_statx
  assert.equal(buf.readUInt32LE(s + 0), 0xfff); // mask
  assert.equal(buf.readUInt32LE(s + 4), 4096); // blksize
  assert.equal(u64(buf, s + 8), 0x20n); // attributes
  assert.equal(buf.readUInt32LE(s + 16), 1); // nlink
  assert.equal(buf.readUInt32LE(s + 20), 1000); // uid
  assert.equal(buf.readUInt32LE(s + 24), 1000); // gid
  assert.equal(buf.readUInt16LE(s + 28), 0o100755); // mode (u16)
  assert.equal(buf.readUInt16LE(s + 30), 0); // __spare0
  assert.equal(u64(buf, s + 32), 0x1_0000_0001n); // ino
  assert.equal(u64(buf, s + 40), 2n ** 34n); // size
  assert.equal(u64(buf, s + 48), 8n); // blocks
  assert.equal(u64(buf, s + 56), 0x3ffn); // attributes_mask
  const times: [number, bigint, number][] = [[64, 10n, 1], [80, -20n, 2], [96, 30n, 3], [112, 40n, 4]];
  for (const [off, sec, nsec] of times) {
    assert.equal(buf.readBigInt64LE(s + off), sec); // tv_sec
    assert.equal(buf.readUInt32LE(s + off + 8), nsec); // tv_nsec
    assert.equal(buf.readInt32LE(s + off + 12), 0); // __reserved
  }
  assert.equal(buf.readUInt32LE(s + 128), 8); // rdev_major
  assert.equal(buf.readUInt32LE(s + 132), 1); // rdev_minor
  assert.equal(buf.readUInt32LE(s + 136), 0); // dev_major
  assert.equal(buf.readUInt32LE(s + 140), 40); // dev_minor
  assertZero(buf, s + 144, 288, 'statx __spare2');
  assert.equal(buf[288], 0xa5);
});

const INIT: InitOut = {
  major: 7,
  minor: 45,
  maxReadahead: 131072,
  flags: InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.PASSTHROUGH | InitFlag.REQUEST_TIMEOUT,
  maxBackground: 64,
  congestionThreshold: 48,
  maxWrite: 1 << 20,
  timeGran: 1,
  maxPages: 256,
  mapAlignment: 0,
  maxStackDepth: 1,
  requestTimeout: 30,
};

test('fuse_init_out at minor 45: flags2 and INIT_EXT', () => {
  const buf = dirty();
  assert.equal(encodeInitOut(buf, 0, INIT), 64);
  assert.equal(buf.readUInt32LE(0), 7); // major
  assert.equal(buf.readUInt32LE(4), 45); // minor
  assert.equal(buf.readUInt32LE(8), 131072); // max_readahead
  assert.equal(buf.readUInt32LE(12), 0x1 | 0x20 | 0x400000 | 0x40000000); // flags, INIT_EXT added
  assert.equal(buf.readUInt16LE(16), 64); // max_background
  assert.equal(buf.readUInt16LE(18), 48); // congestion_threshold
  assert.equal(buf.readUInt32LE(20), 1 << 20); // max_write
  assert.equal(buf.readUInt32LE(24), 1); // time_gran
  assert.equal(buf.readUInt16LE(28), 256); // max_pages
  assert.equal(buf.readUInt16LE(30), 0); // map_alignment
  assert.equal(buf.readUInt32LE(32), 0x20 | 0x400); // flags2 = PASSTHROUGH | REQUEST_TIMEOUT
  assert.equal(buf.readUInt32LE(36), 1); // max_stack_depth
  assert.equal(buf.readUInt16LE(40), 30); // request_timeout
  assertZero(buf, 42, 64, 'init_out.unused');
  assert.equal(buf[64], 0xa5);
});

test('fuse_init_out at minor 36 and 31', () => {
  // 7.36: flags2 exists.
  const b36 = dirty();
  assert.equal(encodeInitOut(b36, 0, { ...INIT, minor: 36, flags: InitFlag.SECURITY_CTX }), 64);
  assert.equal(b36.readUInt32LE(12), 0x40000000); // flags = INIT_EXT only
  assert.equal(b36.readUInt32LE(32), 1); // flags2 = SECURITY_CTX
  // Without high bits INIT_EXT is not forced on.
  encodeInitOut(b36, 0, { ...INIT, minor: 36, flags: InitFlag.ASYNC_READ });
  assert.equal(b36.readUInt32LE(12), 1);
  assert.equal(b36.readUInt32LE(32), 0);

  // 7.31: no flags2; bits >= 32 are dropped and INIT_EXT is not added.
  const b31 = dirty();
  assert.equal(encodeInitOut(b31, 0, { ...INIT, minor: 31 }), 64);
  assert.equal(b31.readUInt32LE(4), 31);
  assert.equal(b31.readUInt32LE(12), 0x1 | 0x20 | 0x400000);
  assert.equal(b31.readUInt32LE(32), 0);
  assertZero(b31, 42, 64, 'init_out.unused');
});

test('fuse_init_out is 64 bytes at every accepted minor', () => {
  for (const minor of [31, 36, 45]) assert.equal(encodeInitOut(dirty(), 0, { ...INIT, minor }), 64);
});

test('fuse_dirent records are padded to 8 with zeros', () => {
  // name length -> record size: 24 + n rounded up to 8
  const cases: [number, number][] = [[1, 32], [7, 32], [8, 32], [9, 40]];
  for (const [n, size] of cases) {
    assert.equal(direntSize(n), size);
    const name = Buffer.alloc(n, 0x61);
    const buf = dirty(64);
    assert.equal(encodeDirent(buf, 8, 0x1_0000_0005, 0x7fff_ffff_ffff_fff0n, 8, name), size);
    assert.equal(u64(buf, 8), 0x1_0000_0005n); // ino
    assert.equal(u64(buf, 16), 0x7fff_ffff_ffff_fff0n); // off: next cookie
    assert.equal(buf.readUInt32LE(24), n); // namelen
    assert.equal(buf.readUInt32LE(28), 8); // type = DT_REG
    assert.deepEqual(buf.subarray(32, 32 + n), name); // name, no NUL
    assertZero(buf, 32 + n, 8 + size, `dirent padding (namelen ${n})`);
    assert.equal(buf[8 + size], 0xa5, 'wrote past the record');
  }

  // Records pack back to back.
  const buf = dirty(128);
  let off = 0;
  off += encodeDirent(buf, off, 1, 1n, 4, Buffer.from('.'));
  off += encodeDirent(buf, off, 1, 2n, 4, Buffer.from('..'));
  off += encodeDirent(buf, off, 9, 3n, 8, Buffer.from('file.txt1'));
  assert.equal(off, 32 + 32 + 40);
  assert.equal(buf.readUInt32LE(32 + 16), 2); // second record's namelen
  assert.equal(buf.toString('utf8', 64 + 24, 64 + 33), 'file.txt1');

  // Too little room is an error, not a silently truncated name.
  assert.throws(() => encodeDirent(Buffer.alloc(40), 8, 1, 1n, 8, Buffer.alloc(9)), RangeError);
});

test('fuse_dirent names given as strings are written as UTF-8, and cookies as numbers or bigints', () => {
  for (const name of ['a', 'file.txt1', 'é', '日本語', '\u{1F600}', 'x\u{1F600}y-ß']) {
    const bytes = Buffer.from(name);
    assert.equal(nameLength(name), bytes.length, name);
    const want = dirty(128);
    const got = dirty(128);
    const size = encodeDirent(want, 8, 7, 42n, 8, bytes);
    assert.equal(encodeDirent(got, 8, 7, 42, 8, name), size, name);
    assert.deepEqual(got, want, name);
  }
  // Cookies past 2^53, and off_t -1, keep every bit.
  for (const cookie of [2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, -1n, 0x1_0000_0000n]) {
    const buf = dirty(64);
    encodeDirent(buf, 0, 1, cookie, 8, 'n');
    assert.equal(u64(buf, 8), BigInt.asUintN(64, cookie), String(cookie));
  }
  const buf = dirty(64);
  encodeDirent(buf, 0, 1, 2 ** 53 - 1, 8, 'n');
  assert.equal(u64(buf, 8), 2n ** 53n - 1n);
  assert.throws(() => encodeDirent(dirty(64), 0, 1, -1, 8, 'n'), RangeError);
  // A name whose UTF-8 form does not fit is refused, not truncated.
  assert.throws(() => encodeDirent(Buffer.alloc(32), 0, 1, 1n, 8, 'abcdefg\u00e9'), RangeError);
});

test('fuse_direntplus records', () => {
  const cases: [number, number][] = [[1, 160], [7, 160], [8, 160], [9, 168]];
  for (const [n, size] of cases) {
    assert.equal(direntplusSize(n), size);
    const name = Buffer.alloc(n, 0x62);
    const buf = dirty(256);
    assert.equal(encodeDirentplus(buf, 0, ENTRY, 42n, 8, name), size);
    assert.equal(u64(buf, 0), 0x20_0000_0001n); // entry_out.nodeid
    assert.equal(u64(buf, 16), 1n); // entry_out.entry_valid
    assertAttr(buf, 40); // entry_out.attr
    assert.equal(u64(buf, 128), 0x1_0000_0002n); // dirent.ino = attr.ino
    assert.equal(u64(buf, 136), 42n); // dirent.off
    assert.equal(buf.readUInt32LE(144), n); // dirent.namelen
    assert.equal(buf.readUInt32LE(148), 8); // dirent.type
    assert.deepEqual(buf.subarray(152, 152 + n), name);
    assertZero(buf, 152 + n, size, `direntplus padding (namelen ${n})`);
    assert.equal(buf[size], 0xa5);
  }
  assert.throws(() => encodeDirentplus(Buffer.alloc(160), 0, ENTRY, 1n, 8, Buffer.alloc(9)), RangeError);
});

test('notifications carry unique 0 and the code in error', () => {
  const header = (buf: Buffer, len: number, code: number) => {
    assert.equal(buf.readUInt32LE(0), len);
    assert.equal(buf.readInt32LE(4), code);
    assert.equal(u64(buf, 8), 0n);
  };

  let buf = dirty();
  assert.equal(encodeNotifyPoll(buf, 0xfeedn), 24);
  header(buf, 24, NotifyCode.POLL);
  assert.equal(u64(buf, 16), 0xfeedn); // kh

  buf = dirty();
  assert.equal(encodeNotifyInvalInode(buf, 5, -1, 0), 40);
  header(buf, 40, NotifyCode.INVAL_INODE);
  assert.equal(u64(buf, 16), 5n); // ino
  assert.equal(buf.readBigInt64LE(24), -1n); // off < 0: attributes only
  assert.equal(buf.readBigInt64LE(32), 0n); // len

  buf = dirty();
  assert.equal(encodeNotifyInvalEntry(buf, 1, Buffer.from('abc'), 1), 16 + 16 + 4);
  header(buf, 36, NotifyCode.INVAL_ENTRY);
  assert.equal(u64(buf, 16), 1n); // parent
  assert.equal(buf.readUInt32LE(24), 3); // namelen
  assert.equal(buf.readUInt32LE(28), 1); // flags = EXPIRE_ONLY
  assert.equal(buf.toString('latin1', 32, 36), 'abc\0');

  buf = dirty();
  assert.equal(encodeNotifyDelete(buf, 1, 9, Buffer.from('xy')), 16 + 24 + 3);
  header(buf, 43, NotifyCode.DELETE);
  assert.equal(u64(buf, 16), 1n); // parent
  assert.equal(u64(buf, 24), 9n); // child
  assert.equal(buf.readUInt32LE(32), 2); // namelen
  assert.equal(buf.readUInt32LE(36), 0); // padding
  assert.equal(buf.toString('latin1', 40, 43), 'xy\0');

  buf = dirty();
  assert.equal(encodeNotifyStore(buf, 9, 4096, Buffer.from('data!')), 16 + 24 + 5);
  header(buf, 45, NotifyCode.STORE);
  assert.equal(u64(buf, 16), 9n); // nodeid
  assert.equal(u64(buf, 24), 4096n); // offset
  assert.equal(buf.readUInt32LE(32), 5); // size
  assert.equal(buf.readUInt32LE(36), 0); // padding
  assert.equal(buf.toString('latin1', 40, 45), 'data!');

  buf = dirty();
  assert.equal(encodeNotifyRetrieve(buf, 0x77n, 9, 8192, 4096), 48);
  header(buf, 48, NotifyCode.RETRIEVE);
  assert.equal(u64(buf, 16), 0x77n); // notify_unique
  assert.equal(u64(buf, 24), 9n); // nodeid
  assert.equal(u64(buf, 32), 8192n); // offset
  assert.equal(buf.readUInt32LE(40), 4096); // size
  assert.equal(buf.readUInt32LE(44), 0); // padding

  buf = dirty();
  assert.equal(encodeNotifyResend(buf), 16);
  header(buf, 16, NotifyCode.RESEND);
  assert.equal(encodeNotifyIncEpoch(buf), 16);
  header(buf, 16, NotifyCode.INC_EPOCH);

  buf = dirty();
  assert.equal(encodeNotifyPrune(buf, [5, 0x1_0000_0006]), 16 + 16 + 16);
  header(buf, 48, NotifyCode.PRUNE);
  assert.equal(buf.readUInt32LE(16), 2); // count
  assertZero(buf, 20, 32, 'prune padding + spare');
  assert.equal(u64(buf, 32), 5n);
  assert.equal(u64(buf, 40), 0x1_0000_0006n);

  // Names and data that do not fit are refused, never truncated.
  assert.throws(() => encodeNotifyInvalEntry(Buffer.alloc(35), 1, Buffer.from('abc'), 0), RangeError);
  assert.throws(() => encodeNotifyStore(Buffer.alloc(44), 1, 0, Buffer.from('data!')), RangeError);
});
