/**
 * Reply and notification encoding.
 *
 * Every encoder writes one struct at `buf[off..]` and returns the number of
 * bytes it wrote, so a reply is assembled as
 * `OUT_HEADER_SIZE + encodeX(buf, OUT_HEADER_SIZE, ...)` followed by
 * `writeOutHeader`. Reply buffers are reused between requests, so every
 * padding and reserved byte is written explicitly: stale bytes from an earlier
 * reply must not reach the kernel.
 *
 * Notification encoders write their own header (unique 0, error = notify code)
 * at offset 0 and return the total length.
 */

import {
  ATTR_OUT_SIZE,
  ATTR_SIZE,
  BACKING_MAP_SIZE,
  DIRENT_BASE_SIZE,
  DIRENTPLUS_BASE_SIZE,
  ENTRY_OUT_SIZE,
  INIT_OUT_SIZE,
  InitFlag,
  IOCTL_OUT_SIZE,
  LK_OUT_SIZE,
  MAX_ERRNO,
  NotifyCode,
  OPEN_OUT_SIZE,
  OUT_HEADER_SIZE,
  STATFS_OUT_SIZE,
  STATX_OUT_SIZE,
} from './constants.js';
import type { Attr, AttrOut, EntryOut, FileLock, InitOut, OpenOut, StatfsOut, StatxOut, Timespec } from './types.js';

// ---- Field writers ----
//
// Plain byte stores, about three times faster than Buffer's checked write
// methods; this matters for READDIRPLUS, which encodes hundreds of records per
// reply. Each encoder checks its room once up front (ensureRoom), because a
// typed-array store past the end is silently dropped. u32/u16 fields are
// stored modulo 2^32/2^16 like a C assignment; u64 fields refuse negative and
// non-finite numbers, where wrapping would turn a bug into a huge size.

const TWO_32 = 0x1_0000_0000;
const TWO_64 = 2 ** 64;

function put16(buf: Buffer, off: number, v: number): void {
  buf[off] = v;
  buf[off + 1] = v >>> 8;
}

/** u32 or i32: the low 32 bits of `v`. */
function put32(buf: Buffer, off: number, v: number): void {
  buf[off] = v;
  buf[off + 1] = v >>> 8;
  buf[off + 2] = v >>> 16;
  buf[off + 3] = v >>> 24;
}

function putU64(buf: Buffer, off: number, n: number): void {
  if (!(n >= 0 && n < TWO_64)) throw new RangeError(`u64 field out of range: ${n}`);
  put32(buf, off, n >>> 0);
  put32(buf, off + 4, Math.floor(n / TWO_32));
}

/** The 64-bit fields of `fuse_attr` and `fuse_statfs_out`, which a missing or NaN value cannot be written into, with whether they may be negative. */
const ATTR_WIDE_FIELDS: readonly (readonly [string, boolean])[] = [['ino', false], ['size', false], ['blocks', false], ['atimeSec', true], ['mtimeSec', true], ['ctimeSec', true]];
const STATFS_WIDE_FIELDS: readonly (readonly [string, boolean])[] = [['blocks', false], ['bfree', false], ['bavail', false], ['files', false], ['ffree', false]];

/** The RangeError of a 64-bit field, as a TypeError that names the field (found again: this path is only taken on failure). */
function namingField(what: string, value: object, fields: readonly (readonly [string, boolean])[], err: unknown): Error {
  for (const [name, signed] of fields) {
    const v = (value as Record<string, unknown>)[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || (!signed && (v < 0 || v >= TWO_64))) {
      return new TypeError(`${what}: ${name} must be a ${signed ? '' : 'non-negative '}finite number, not ${String(v)}`);
    }
  }
  return err as Error;
}

/** Two's complement i64; used for times, which may be before 1970. */
function putI64(buf: Buffer, off: number, n: number): void {
  if (!Number.isFinite(n)) throw new RangeError(`i64 field out of range: ${n}`);
  const hi = Math.floor(n / TWO_32);
  put32(buf, off, (n - hi * TWO_32) >>> 0);
  put32(buf, off + 4, hi);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A u64 from a bigint; negative values keep their two's-complement bit pattern (an off_t cookie of -1 stays all ones). */
function putBigU64(buf: Buffer, off: number, n: bigint): void {
  // Cookies and handles are small: two 32-bit stores, several times cheaper than writeBigUInt64LE.
  if (n >= 0n && n <= MAX_SAFE) {
    const v = Number(n);
    put32(buf, off, v >>> 0);
    put32(buf, off + 4, Math.floor(v / TWO_32));
    return;
  }
  buf.writeBigUInt64LE(BigInt.asUintN(64, n), off);
}

function zero(buf: Buffer, from: number, to: number): void {
  for (let i = from; i < to; i++) buf[i] = 0;
}

/** Typed-array stores past the end are dropped and Buffer.copy truncates, so every encoder checks its room first. */
function ensureRoom(buf: Buffer, off: number, size: number, what: string): void {
  if (!(off >= 0 && off + size <= buf.length)) {
    throw new RangeError(`${what} needs ${size} bytes at offset ${off}, buffer has ${buf.length}`);
  }
}

// ---- Header ----

/**
 * Write `fuse_out_header`. `error` is 0 or a negative errno in -1..-511; the
 * kernel rejects anything else with EINVAL and leaves the request pending
 * forever, so that is refused here as a programming error.
 */
export function writeOutHeader(buf: Buffer, len: number, error: number, unique: bigint): void {
  if (!Number.isInteger(error) || error > 0 || error < -MAX_ERRNO) {
    throw new RangeError(`reply error must be 0 or -1..-${MAX_ERRNO}, got ${error}`);
  }
  writeHeader(buf, len, error, unique);
}

function writeHeader(buf: Buffer, len: number, error: number, unique: bigint): void {
  ensureRoom(buf, 0, OUT_HEADER_SIZE, 'fuse_out_header');
  put32(buf, 0, len);
  put32(buf, 4, error);
  buf.writeBigUInt64LE(unique, 8);
}

// ---- Timeouts ----

/**
 * Longest cache timeout written. Beyond it the kernel saturates to "forever"
 * anyway, and it keeps the seconds exact in a double.
 */
const MAX_TIMEOUT_SEC = 2 ** 52;

/**
 * Split a cache timeout in seconds into the wire's (u64 seconds, u32 nsec).
 * Negative and NaN mean "do not cache" (0); Infinity and huge values become
 * 2^52 s, which the kernel treats as never expiring.
 */
export function timeoutParts(seconds: number): Timespec {
  if (!(seconds > 0)) return { sec: 0, nsec: 0 };
  if (seconds >= MAX_TIMEOUT_SEC) return { sec: MAX_TIMEOUT_SEC, nsec: 0 };
  let sec = Math.floor(seconds);
  let nsec = Math.round((seconds - sec) * 1e9);
  if (nsec >= 1e9) {
    // 0.9999999999 rounds up to a whole second.
    sec += 1;
    nsec -= 1e9;
  }
  return { sec, nsec };
}

// ---- Attributes and entries ----

/** `struct fuse_attr` (88 bytes). A field that cannot be written is named in the error. */
export function encodeAttr(buf: Buffer, off: number, attr: Attr): number {
  try {
    return writeAttr(buf, off, attr);
  } catch (err) {
    throw namingField('attributes', attr, ATTR_WIDE_FIELDS, err);
  }
}

function writeAttr(buf: Buffer, off: number, attr: Attr): number {
  ensureRoom(buf, off, ATTR_SIZE, 'fuse_attr');
  putU64(buf, off, attr.ino);
  putU64(buf, off + 8, attr.size);
  putU64(buf, off + 16, attr.blocks);
  putI64(buf, off + 24, attr.atimeSec);
  putI64(buf, off + 32, attr.mtimeSec);
  putI64(buf, off + 40, attr.ctimeSec);
  put32(buf, off + 48, attr.atimeNsec);
  put32(buf, off + 52, attr.mtimeNsec);
  put32(buf, off + 56, attr.ctimeNsec);
  put32(buf, off + 60, attr.mode);
  put32(buf, off + 64, attr.nlink);
  put32(buf, off + 68, attr.uid);
  put32(buf, off + 72, attr.gid);
  put32(buf, off + 76, attr.rdev);
  put32(buf, off + 80, attr.blksize);
  put32(buf, off + 84, attr.flags ?? 0);
  return ATTR_SIZE;
}

/** `struct fuse_entry_out` (128 bytes): the reply to LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, and the head of CREATE/TMPFILE. */
export function encodeEntryOut(buf: Buffer, off: number, e: EntryOut): number {
  ensureRoom(buf, off, ENTRY_OUT_SIZE, 'fuse_entry_out');
  const entry = timeoutParts(e.entryTimeout);
  const attr = timeoutParts(e.attrTimeout);
  putU64(buf, off, e.nodeid);
  putU64(buf, off + 8, e.generation);
  putU64(buf, off + 16, entry.sec);
  putU64(buf, off + 24, attr.sec);
  put32(buf, off + 32, entry.nsec);
  put32(buf, off + 36, attr.nsec);
  encodeAttr(buf, off + 40, e.attr);
  return ENTRY_OUT_SIZE;
}

/** `struct fuse_attr_out` (104 bytes): the reply to GETATTR and SETATTR. */
export function encodeAttrOut(buf: Buffer, off: number, a: AttrOut): number {
  ensureRoom(buf, off, ATTR_OUT_SIZE, 'fuse_attr_out');
  const t = timeoutParts(a.attrTimeout);
  putU64(buf, off, t.sec);
  put32(buf, off + 8, t.nsec);
  put32(buf, off + 12, 0); // dummy
  encodeAttr(buf, off + 16, a.attr);
  return ATTR_OUT_SIZE;
}

// ---- Small fixed replies ----

/** `struct fuse_open_out` (16 bytes): the reply to OPEN and OPENDIR, and the tail of CREATE/TMPFILE. */
export function encodeOpenOut(buf: Buffer, off: number, o: OpenOut): number {
  ensureRoom(buf, off, OPEN_OUT_SIZE, 'fuse_open_out');
  putU64(buf, off, o.fh);
  put32(buf, off + 8, o.openFlags);
  // Signed; read only with FOPEN_PASSTHROUGH, and 0 keeps the old padding meaning otherwise.
  put32(buf, off + 12, o.backingId);
  return OPEN_OUT_SIZE;
}

/** `struct fuse_write_out` (8 bytes): bytes written, for WRITE and COPY_FILE_RANGE (32-bit). */
export function encodeWriteOut(buf: Buffer, off: number, size: number): number {
  return putU32Pair(buf, off, size, 'fuse_write_out');
}

/** `struct fuse_getxattr_out` (8 bytes): the size a GETXATTR/LISTXATTR value needs, for size-0 probes. */
export function encodeGetxattrOut(buf: Buffer, off: number, size: number): number {
  return putU32Pair(buf, off, size, 'fuse_getxattr_out');
}

/** `struct fuse_poll_out` (8 bytes). */
export function encodePollOut(buf: Buffer, off: number, revents: number): number {
  return putU32Pair(buf, off, revents, 'fuse_poll_out');
}

/** The three 8-byte replies that are one u32 and padding. */
function putU32Pair(buf: Buffer, off: number, v: number, what: string): number {
  ensureRoom(buf, off, 8, what);
  put32(buf, off, v);
  put32(buf, off + 4, 0);
  return 8;
}

/** `struct fuse_bmap_out` (8 bytes). */
export function encodeBmapOut(buf: Buffer, off: number, block: number): number {
  return putU64Reply(buf, off, block, 'fuse_bmap_out');
}

/** `struct fuse_lseek_out` (8 bytes). */
export function encodeLseekOut(buf: Buffer, off: number, offset: number): number {
  return putU64Reply(buf, off, offset, 'fuse_lseek_out');
}

/** `struct fuse_copy_file_range_out` (8 bytes): the 64-bit count for COPY_FILE_RANGE_64. */
export function encodeCopyFileRangeOut(buf: Buffer, off: number, bytes: number): number {
  return putU64Reply(buf, off, bytes, 'fuse_copy_file_range_out');
}

function putU64Reply(buf: Buffer, off: number, v: number, what: string): number {
  ensureRoom(buf, off, 8, what);
  putU64(buf, off, v);
  return 8;
}

/** `struct fuse_statfs_out` (80 bytes). */
export function encodeStatfsOut(buf: Buffer, off: number, s: StatfsOut): number {
  ensureRoom(buf, off, STATFS_OUT_SIZE, 'fuse_statfs_out');
  // blocks, bfree, bavail, files, ffree: one u64 after the other (a rare reply: by name, in a loop).
  const counts = s as unknown as Record<string, number>;
  try {
    for (let i = 0; i < STATFS_WIDE_FIELDS.length; i++) putU64(buf, off + 8 * i, counts[STATFS_WIDE_FIELDS[i]![0]]!);
  } catch (err) {
    throw namingField('statfs', s, STATFS_WIDE_FIELDS, err);
  }
  put32(buf, off + 40, s.bsize);
  put32(buf, off + 44, s.namelen);
  put32(buf, off + 48, s.frsize);
  zero(buf, off + 52, off + STATFS_OUT_SIZE); // padding + spare[6]
  return STATFS_OUT_SIZE;
}

/** `struct fuse_lk_out` (24 bytes): the conflicting lock for GETLK, or type F_UNLCK. */
export function encodeLkOut(buf: Buffer, off: number, lk: FileLock): number {
  ensureRoom(buf, off, LK_OUT_SIZE, 'fuse_lk_out');
  putU64(buf, off, lk.start);
  putBigU64(buf, off + 8, lk.end);
  put32(buf, off + 16, lk.type);
  put32(buf, off + 20, lk.pid);
  return LK_OUT_SIZE;
}

/** Fields of `struct fuse_ioctl_out`; the output data (or iovec arrays) follow it. */
export interface IoctlOut {
  /** The ioctl's return value. */
  result: number;
  /** IoctlFlag bits; RETRY only for unrestricted (CUSE) ioctls. */
  flags: number;
  inIovs: number;
  outIovs: number;
}

/** `struct fuse_ioctl_out` (16 bytes). */
export function encodeIoctlOut(buf: Buffer, off: number, o: IoctlOut): number {
  ensureRoom(buf, off, IOCTL_OUT_SIZE, 'fuse_ioctl_out');
  put32(buf, off, o.result);
  put32(buf, off + 4, o.flags);
  put32(buf, off + 8, o.inIovs);
  put32(buf, off + 12, o.outIovs);
  return IOCTL_OUT_SIZE;
}

// ---- statx ----

/** `struct fuse_sx_time` (16 bytes). */
function putSxTime(buf: Buffer, off: number, t: Timespec): void {
  putI64(buf, off, t.sec);
  put32(buf, off + 8, t.nsec);
  put32(buf, off + 12, 0);
}

/** `struct fuse_statx_out` (288 bytes): 32-byte head, then `struct fuse_statx`, which is statx(2)'s layout. */
export function encodeStatxOut(buf: Buffer, off: number, s: StatxOut): number {
  ensureRoom(buf, off, STATX_OUT_SIZE, 'fuse_statx_out');
  const t = timeoutParts(s.attrTimeout);
  putU64(buf, off, t.sec);
  put32(buf, off + 8, t.nsec);
  put32(buf, off + 12, s.flags);
  zero(buf, off + 16, off + 32); // spare[2]

  const st = s.stat;
  const p = off + 32;
  put32(buf, p, st.mask);
  put32(buf, p + 4, st.blksize);
  putBigU64(buf, p + 8, st.attributes);
  put32(buf, p + 16, st.nlink);
  put32(buf, p + 20, st.uid);
  put32(buf, p + 24, st.gid);
  put16(buf, p + 28, st.mode);
  put16(buf, p + 30, 0);
  putU64(buf, p + 32, st.ino);
  putU64(buf, p + 40, st.size);
  putU64(buf, p + 48, st.blocks);
  putBigU64(buf, p + 56, st.attributesMask);
  putSxTime(buf, p + 64, st.atime);
  putSxTime(buf, p + 80, st.btime);
  putSxTime(buf, p + 96, st.ctime);
  putSxTime(buf, p + 112, st.mtime);
  put32(buf, p + 128, st.rdevMajor);
  put32(buf, p + 132, st.rdevMinor);
  put32(buf, p + 136, st.devMajor);
  put32(buf, p + 140, st.devMinor);
  zero(buf, p + 144, off + STATX_OUT_SIZE); // __spare2[14]
  return STATX_OUT_SIZE;
}

// ---- INIT ----

const INIT_EXT_BIT = Number(InitFlag.INIT_EXT);

/**
 * `struct fuse_init_out` (64 bytes; every minor fusekit accepts, 7.31 on, reads all of it). The 64-bit flag set is split
 * into flags/flags2; with bits >= 32 present, INIT_EXT is set in `flags`
 * because the kernel ignores flags2 without it. Below 7.36 flags2 does not
 * exist, so bits >= 32 are dropped.
 *
 * Sent once per connection, so this one uses Buffer's checked writers: a
 * max_background of 70000 must fail here, not wrap to 4464.
 */
export function encodeInitOut(buf: Buffer, off: number, init: InitOut): number {
  let lo = Number(init.flags & 0xffff_ffffn);
  const hi = init.minor >= 36 ? Number((init.flags >> 32n) & 0xffff_ffffn) : 0;
  if (hi !== 0) lo = (lo | INIT_EXT_BIT) >>> 0;

  buf.writeUInt32LE(init.major, off);
  buf.writeUInt32LE(init.minor, off + 4);

  buf.writeUInt32LE(init.maxReadahead, off + 8);
  buf.writeUInt32LE(lo, off + 12);
  buf.writeUInt16LE(init.maxBackground, off + 16);
  buf.writeUInt16LE(init.congestionThreshold, off + 18);
  buf.writeUInt32LE(init.maxWrite, off + 20);

  buf.writeUInt32LE(init.timeGran, off + 24);
  buf.writeUInt16LE(init.maxPages, off + 28);
  buf.writeUInt16LE(init.mapAlignment, off + 30);
  buf.writeUInt32LE(hi, off + 32);
  buf.writeUInt32LE(init.maxStackDepth, off + 36);
  buf.writeUInt16LE(init.requestTimeout, off + 40);
  buf.fill(0, off + 42, off + INIT_OUT_SIZE); // unused[11]
  return INIT_OUT_SIZE;
}

// ---- Directory records ----

/** Bytes one READDIR record takes: 24-byte head + name, padded to 8. */
export function direntSize(nameLen: number): number {
  return (DIRENT_BASE_SIZE + nameLen + 7) & ~7;
}

/** Bytes one READDIRPLUS record takes: entry_out + dirent head + name, padded to 8. */
export function direntplusSize(nameLen: number): number {
  return (DIRENTPLUS_BASE_SIZE + nameLen + 7) & ~7;
}

/**
 * Bytes of `name` in UTF-8. Directory entry names are mostly ASCII, where this
 * is a short scan; anything else is measured by Buffer.byteLength.
 */
export function nameLength(name: string | Buffer): number {
  if (typeof name !== 'string') return name.length;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) >= 0x80) return Buffer.byteLength(name, 'utf8');
  return name.length;
}

/** Writes `name` (of `len` UTF-8 bytes, as `nameLength` gave) at buf[off..]; the caller checked the room. */
function putName(buf: Buffer, off: number, name: string | Buffer, len: number): void {
  if (typeof name !== 'string') name.copy(buf, off);
  else if (len === name.length) for (let i = 0; i < len; i++) buf[off + i] = name.charCodeAt(i);
  else buf.write(name, off, len, 'utf8');
}

/**
 * One `struct fuse_dirent` with its name (no NUL) and zero padding.
 * `nextOffset` is the cookie the kernel sends back to continue after this
 * entry (a bigint, or a number when it is a safe integer); `type` is the DT_*
 * value, `(mode & S_IFMT) >> 12`. A string name is written as UTF-8 without
 * an intermediate Buffer.
 */
export function encodeDirent(
  buf: Buffer,
  off: number,
  ino: number,
  nextOffset: bigint | number,
  type: number,
  name: string | Buffer,
): number {
  const nameLen = nameLength(name);
  const size = direntSize(nameLen);
  ensureRoom(buf, off, size, 'fuse_dirent');
  putU64(buf, off, ino);
  if (typeof nextOffset === 'number') putU64(buf, off + 8, nextOffset);
  else putBigU64(buf, off + 8, nextOffset);
  put32(buf, off + 16, nameLen);
  put32(buf, off + 20, type);
  const nameOff = off + DIRENT_BASE_SIZE;
  putName(buf, nameOff, name, nameLen);
  zero(buf, nameOff + nameLen, off + size);
  return size;
}

/** One `struct fuse_direntplus`: entry_out (a lookup reference unless the name is "." or "..") then the dirent. */
export function encodeDirentplus(
  buf: Buffer,
  off: number,
  entry: EntryOut,
  nextOffset: bigint,
  type: number,
  name: string | Buffer,
): number {
  ensureRoom(buf, off, direntplusSize(nameLength(name)), 'fuse_direntplus');
  encodeEntryOut(buf, off, entry);
  return ENTRY_OUT_SIZE + encodeDirent(buf, off + ENTRY_OUT_SIZE, entry.attr.ino, nextOffset, type, name);
}

// ---- Notifications (unique 0, error = code) ----

/** NOTIFY_POLL: wake the pollers that registered `kh` in a POLL request. */
export function encodeNotifyPoll(buf: Buffer, kh: bigint): number {
  const total = OUT_HEADER_SIZE + 8;
  ensureRoom(buf, 0, total, 'NOTIFY_POLL');
  writeHeader(buf, total, NotifyCode.POLL, 0n);
  putBigU64(buf, 16, kh);
  return total;
}

/**
 * NOTIFY_INVAL_INODE: drop cached attributes, and with `off` >= 0 also cached
 * pages from `off` for `len` bytes (`len` <= 0: to end of file).
 */
export function encodeNotifyInvalInode(buf: Buffer, nodeid: number, off: number, len: number): number {
  const total = OUT_HEADER_SIZE + 24;
  ensureRoom(buf, 0, total, 'NOTIFY_INVAL_INODE');
  writeHeader(buf, total, NotifyCode.INVAL_INODE, 0n);
  putU64(buf, 16, nodeid);
  putI64(buf, 24, off);
  putI64(buf, 32, len);
  return total;
}

/**
 * NOTIFY_INVAL_ENTRY: drop (or with EXPIRE_ONLY, expire) the dentry `name` in
 * `parent`. The kernel wants exactly struct + name + NUL, no padding.
 */
export function encodeNotifyInvalEntry(buf: Buffer, parent: number, nameBytes: Buffer, flags: number): number {
  const nameLen = nameBytes.length;
  const total = OUT_HEADER_SIZE + 16 + nameLen + 1;
  ensureRoom(buf, 0, total, 'NOTIFY_INVAL_ENTRY');
  writeHeader(buf, total, NotifyCode.INVAL_ENTRY, 0n);
  putU64(buf, 16, parent);
  put32(buf, 24, nameLen);
  put32(buf, 28, flags);
  nameBytes.copy(buf, 32);
  buf[32 + nameLen] = 0;
  return total;
}

/** NOTIFY_DELETE: like INVAL_ENTRY, and marks `child` deleted if it is still the inode under that name. */
export function encodeNotifyDelete(buf: Buffer, parent: number, child: number, nameBytes: Buffer): number {
  const nameLen = nameBytes.length;
  const total = OUT_HEADER_SIZE + 24 + nameLen + 1;
  ensureRoom(buf, 0, total, 'NOTIFY_DELETE');
  writeHeader(buf, total, NotifyCode.DELETE, 0n);
  putU64(buf, 16, parent);
  putU64(buf, 24, child);
  put32(buf, 32, nameLen);
  put32(buf, 36, 0);
  nameBytes.copy(buf, 40);
  buf[40 + nameLen] = 0;
  return total;
}

/** NOTIFY_STORE: put `data` into the page cache of `nodeid` at `offset`. */
export function encodeNotifyStore(buf: Buffer, nodeid: number, offset: number, data: Buffer): number {
  const total = OUT_HEADER_SIZE + 24 + data.length;
  ensureRoom(buf, 0, total, 'NOTIFY_STORE');
  writeHeader(buf, total, NotifyCode.STORE, 0n);
  putU64(buf, 16, nodeid);
  putU64(buf, 24, offset);
  put32(buf, 32, data.length);
  put32(buf, 36, 0);
  data.copy(buf, 40);
  return total;
}

/**
 * NOTIFY_RETRIEVE: ask for cached pages; they come back as a NOTIFY_REPLY
 * request whose unique is `notifyUnique`.
 */
export function encodeNotifyRetrieve(
  buf: Buffer,
  notifyUnique: bigint,
  nodeid: number,
  offset: number,
  size: number,
): number {
  const total = OUT_HEADER_SIZE + 32;
  ensureRoom(buf, 0, total, 'NOTIFY_RETRIEVE');
  writeHeader(buf, total, NotifyCode.RETRIEVE, 0n);
  putBigU64(buf, 16, notifyUnique);
  putU64(buf, 24, nodeid);
  putU64(buf, 32, offset);
  put32(buf, 40, size);
  put32(buf, 44, 0);
  return total;
}

/** NOTIFY_RESEND: the kernel requeues every request read but not yet answered (7.40). */
export function encodeNotifyResend(buf: Buffer): number {
  writeHeader(buf, OUT_HEADER_SIZE, NotifyCode.RESEND, 0n);
  return OUT_HEADER_SIZE;
}

/** NOTIFY_INC_EPOCH: dentries created before this fail their next revalidation (7.44). */
export function encodeNotifyIncEpoch(buf: Buffer): number {
  writeHeader(buf, OUT_HEADER_SIZE, NotifyCode.INC_EPOCH, 0n);
  return OUT_HEADER_SIZE;
}

/** NOTIFY_PRUNE: ask the kernel to drop unused cached inodes for these node ids (7.45). */
export function encodeNotifyPrune(buf: Buffer, nodeids: readonly number[]): number {
  const count = nodeids.length;
  const total = OUT_HEADER_SIZE + 16 + 8 * count;
  ensureRoom(buf, 0, total, 'NOTIFY_PRUNE');
  writeHeader(buf, total, NotifyCode.PRUNE, 0n);
  put32(buf, 16, count);
  put32(buf, 20, 0);
  zero(buf, 24, 32); // spare
  for (let i = 0; i < count; i++) putU64(buf, 32 + 8 * i, nodeids[i]!);
  return total;
}

// ---- Device ioctl arguments ----

/** `struct fuse_backing_map` (16 bytes) for FUSE_DEV_IOC_BACKING_OPEN; flags and padding must be 0 on 6.18. */
export function encodeBackingMap(buf: Buffer, off: number, fd: number): number {
  ensureRoom(buf, off, BACKING_MAP_SIZE, 'fuse_backing_map');
  put32(buf, off, fd);
  zero(buf, off + 4, off + BACKING_MAP_SIZE); // flags + padding
  return BACKING_MAP_SIZE;
}
