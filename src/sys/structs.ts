/**
 * The structs the wrappers hand to glibc, laid out as this machine's table in
 * arch.ts says. One off-heap scratch block holds every struct argument and
 * result, each 8-byte aligned so that every view on it is stable; decoders
 * turn a filled struct into its JS shape, encoders do the reverse. Fields are
 * read at the width the table gives, since that too differs (st_nlink and
 * st_blksize are 8 bytes on x86-64, 4 on arm64).
 *
 * Shared by libc.ts and test/helpers/libc.ts; not part of the sys layer's exports.
 */

import { arch } from './arch.js';
import type { Field } from './arch.js';
import type { Attr, Statx, Timespec } from '../abi/types.js';

/** `struct stat` (64-bit fields are JS numbers, exact below 2^53): the FUSE attribute fields, so a Stat answers GETATTR as it is, plus the device. */
export interface Stat extends Omit<Attr, 'flags'> {
  dev: number;
}

/** `struct statx` (the same layout FUSE carries as `fuse_statx`), plus the fields FUSE has no room for. Fields not reported in `mask` are zero. */
export interface StatxResult extends Statx {
  mntId: bigint;
  dioMemAlign: number;
  dioOffsetAlign: number;
  subvol: bigint;
}

/** `struct statfs`. */
export interface StatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  flags: number;
}

// ---------------------------------------------------------------------------
// The scratch block

// Every struct starts 8-byte aligned, as its widest members need.
const ALIGN = 8;
let scratchBytes = 0;
function reserve(bytes: number): number {
  const at = scratchBytes;
  scratchBytes += Math.ceil(bytes / ALIGN) * ALIGN;
  return at;
}

/** The ioctls that take a pointer to one u32. */
const u32Arg: Field = { offset: 0, size: 4 };
/** loff_t, 64-bit everywhere. */
const loff: Field = { offset: 0, size: 8 };

const STAT = reserve(arch.stat.bytes);
const STATX = reserve(arch.statx.bytes);
const STATFS = reserve(arch.statfs.bytes);
const TIMES = reserve(2 * arch.timespec.bytes);
const IOCTL_ARG = reserve(Math.max(arch.fuseBackingMap.bytes, u32Arg.size)); // a struct fuse_backing_map, or a u32
const OFF_IN = reserve(loff.size);
const OFF_OUT = reserve(loff.size);

const scratch = new ArrayBuffer(scratchBytes);
const u8 = new Uint8Array(scratch);
const u16 = new Uint16Array(scratch);
const u32 = new Uint32Array(scratch);
const i32 = new Int32Array(scratch);
const u64big = new BigUint64Array(scratch);

/** Where fstat/fstatat write `struct stat`. */
export const statBuf = Buffer.from(scratch, STAT, arch.stat.bytes);
/** Where statx writes `struct statx`. */
export const statxBuf = Buffer.from(scratch, STATX, arch.statx.bytes);
/** Where statfs/fstatfs write `struct statfs`. */
export const statfsBuf = Buffer.from(scratch, STATFS, arch.statfs.bytes);
const timesBuf = Buffer.from(scratch, TIMES, 2 * arch.timespec.bytes);
const backingMapBuf = Buffer.from(scratch, IOCTL_ARG, arch.fuseBackingMap.bytes);
const u32ArgBuf = Buffer.from(scratch, IOCTL_ARG, u32Arg.size);
const offInBuf = Buffer.from(scratch, OFF_IN, loff.size);
const offOutBuf = Buffer.from(scratch, OFF_OUT, loff.size);

// ---------------------------------------------------------------------------
// Field access in the scratch block, for a struct placed at `base`. The
// table's offsets are aligned to the field's width, so each read is one or two
// typed-array loads. (The table's objects are object literals, so V8 keeps
// their property loads fast; objects built key by key are not.)

const TWO_32 = 2 ** 32;

function uint(base: number, f: Field): number {
  const at = base + f.offset;
  switch (f.size) {
    case 8:
      return u32[at >> 2]! + u32[(at >> 2) + 1]! * TWO_32;
    case 4:
      return u32[at >> 2]!;
    case 2:
      return u16[at >> 1]!;
    default:
      return u8[at]!;
  }
}

function int(base: number, f: Field): number {
  if (f.size === 8) {
    const at = base + f.offset;
    return u32[at >> 2]! + i32[(at >> 2) + 1]! * TWO_32;
  }
  const unused = 32 - 8 * f.size; // sign-extend from the field's top bit
  return (uint(base, f) << unused) >> unused;
}

/** An 8-byte unsigned field, exactly. */
function bigUint(base: number, f: Field): bigint {
  return u64big[(base + f.offset) >> 3]!;
}

/** Stores an integer (signed or not: the low bits are the same) at the field's width. */
function put(base: number, f: Field, value: number): void {
  const at = base + f.offset;
  switch (f.size) {
    case 8: {
      const hi = Math.floor(value / TWO_32);
      u32[at >> 2] = value - hi * TWO_32;
      i32[(at >> 2) + 1] = hi;
      return;
    }
    case 4:
      u32[at >> 2] = value;
      return;
    case 2:
      u16[at >> 1] = value;
      return;
    default:
      u8[at] = value;
  }
}

/** An unsigned field of a struct at `base` in any Buffer (8-byte fields are exact below 2^53). */
export function readUint(buf: Buffer, base: number, f: Field): number {
  const at = base + f.offset;
  return f.size === 8 ? buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32 : buf.readUIntLE(at, f.size);
}

// ---------------------------------------------------------------------------
// struct stat

const st = arch.stat.fields;
const ts = arch.timespec.fields;
const ST_ATIM = STAT + st.st_atim.offset;
const ST_MTIM = STAT + st.st_mtim.offset;
const ST_CTIM = STAT + st.st_ctim.offset;

/** A zeroed Stat, e.g. as the reusable `out` object for tryFstatat. */
export function emptyStat(): Stat {
  return {
    dev: 0, ino: 0, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 0, blocks: 0,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
  };
}

/** Copies the `struct stat` in statBuf into `out`. */
export function decodeStatInto(out: Stat): void {
  out.dev = uint(STAT, st.st_dev);
  out.ino = uint(STAT, st.st_ino);
  out.mode = uint(STAT, st.st_mode);
  out.nlink = uint(STAT, st.st_nlink);
  out.uid = uint(STAT, st.st_uid);
  out.gid = uint(STAT, st.st_gid);
  out.rdev = uint(STAT, st.st_rdev);
  out.size = int(STAT, st.st_size);
  out.blksize = int(STAT, st.st_blksize);
  out.blocks = int(STAT, st.st_blocks);
  out.atimeSec = int(ST_ATIM, ts.tv_sec);
  out.atimeNsec = int(ST_ATIM, ts.tv_nsec);
  out.mtimeSec = int(ST_MTIM, ts.tv_sec);
  out.mtimeNsec = int(ST_MTIM, ts.tv_nsec);
  out.ctimeSec = int(ST_CTIM, ts.tv_sec);
  out.ctimeNsec = int(ST_CTIM, ts.tv_nsec);
}

/** The `struct stat` in statBuf, as a new Stat. */
export function decodeStat(): Stat {
  const out = emptyStat();
  decodeStatInto(out);
  return out;
}

// ---------------------------------------------------------------------------
// struct statx

const stx = arch.statx.fields;
const stxTs = arch.statxTimestamp.fields;

function statxTime(field: Field): Timespec {
  const at = STATX + field.offset;
  return { sec: int(at, stxTs.tv_sec), nsec: uint(at, stxTs.tv_nsec) };
}

/** The `struct statx` in statxBuf. */
export function decodeStatx(): StatxResult {
  return {
    mask: uint(STATX, stx.stx_mask),
    blksize: uint(STATX, stx.stx_blksize),
    attributes: bigUint(STATX, stx.stx_attributes),
    nlink: uint(STATX, stx.stx_nlink),
    uid: uint(STATX, stx.stx_uid),
    gid: uint(STATX, stx.stx_gid),
    mode: uint(STATX, stx.stx_mode),
    ino: uint(STATX, stx.stx_ino),
    size: uint(STATX, stx.stx_size),
    blocks: uint(STATX, stx.stx_blocks),
    attributesMask: bigUint(STATX, stx.stx_attributes_mask),
    atime: statxTime(stx.stx_atime),
    btime: statxTime(stx.stx_btime),
    ctime: statxTime(stx.stx_ctime),
    mtime: statxTime(stx.stx_mtime),
    rdevMajor: uint(STATX, stx.stx_rdev_major),
    rdevMinor: uint(STATX, stx.stx_rdev_minor),
    devMajor: uint(STATX, stx.stx_dev_major),
    devMinor: uint(STATX, stx.stx_dev_minor),
    mntId: bigUint(STATX, stx.stx_mnt_id),
    dioMemAlign: uint(STATX, stx.stx_dio_mem_align),
    dioOffsetAlign: uint(STATX, stx.stx_dio_offset_align),
    subvol: bigUint(STATX, stx.stx_subvol),
  };
}

// ---------------------------------------------------------------------------
// struct statfs

const sfs = arch.statfs.fields;

/** The `struct statfs` in statfsBuf. */
export function decodeStatfs(): StatFs {
  return {
    type: int(STATFS, sfs.f_type),
    bsize: int(STATFS, sfs.f_bsize),
    blocks: uint(STATFS, sfs.f_blocks),
    bfree: uint(STATFS, sfs.f_bfree),
    bavail: uint(STATFS, sfs.f_bavail),
    files: uint(STATFS, sfs.f_files),
    ffree: uint(STATFS, sfs.f_ffree),
    namelen: int(STATFS, sfs.f_namelen),
    frsize: int(STATFS, sfs.f_frsize),
    flags: int(STATFS, sfs.f_flags),
  };
}

// ---------------------------------------------------------------------------
// Arguments

const ATIME = TIMES;
const MTIME = TIMES + arch.timespec.bytes;

/** Fills timesBuf with `{atime, mtime}`, the utimensat/futimens argument. `nsec` may be UTIME_NOW or UTIME_OMIT. */
export function encodeTimes(atime: Timespec, mtime: Timespec): Buffer {
  put(ATIME, ts.tv_sec, atime.sec);
  put(ATIME, ts.tv_nsec, atime.nsec);
  put(MTIME, ts.tv_sec, mtime.sec);
  put(MTIME, ts.tv_nsec, mtime.nsec);
  return timesBuf;
}

const backingMap = arch.fuseBackingMap.fields;

/** A `struct fuse_backing_map` registering `fd` with no flags. */
export function encodeBackingMap(fd: number): Buffer {
  put(IOCTL_ARG, backingMap.fd, fd);
  put(IOCTL_ARG, backingMap.flags, 0);
  put(IOCTL_ARG, backingMap.padding, 0);
  return backingMapBuf;
}

/** A pointer to a u32 holding `value`, for ioctls that take one. */
export function encodeU32(value: number): Buffer {
  put(IOCTL_ARG, u32Arg, value);
  return u32ArgBuf;
}

/** copy_file_range's `loff_t *off_in`: NULL for a null offset (use and advance the file position). */
export function encodeOffIn(offset: number | null): Buffer | null {
  if (offset === null) return null;
  put(OFF_IN, loff, offset);
  return offInBuf;
}

/** copy_file_range's `loff_t *off_out`, as encodeOffIn. */
export function encodeOffOut(offset: number | null): Buffer | null {
  if (offset === null) return null;
  put(OFF_OUT, loff, offset);
  return offOutBuf;
}
