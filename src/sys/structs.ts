/**
 * The structs the wrappers hand to glibc, laid out as an architecture's table
 * in arch.ts says (the module's exports use this machine's). One off-heap
 * scratch block holds every struct argument and result, each 8-byte aligned so
 * that every view on it is stable; decoders turn a filled struct into its JS
 * shape, encoders do the reverse. Fields are read at the width the table
 * gives, since that too differs (st_nlink and st_blksize are 8 bytes on
 * x86-64, 4 on arm64).
 *
 * Shared by libc.ts and test/helpers/libc.ts; not part of the sys layer's exports.
 */

import { arch } from './arch.js';
import type { ArchLayout, Field } from './arch.js';
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

const TWO_32 = 2 ** 32;

/** An unsigned field of a struct at `base` in any Buffer (8-byte fields are exact below 2^53). */
export function readUint(buf: Buffer, base: number, f: Field): number {
  const at = base + f.offset;
  return f.size === 8 ? buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32 : buf.readUIntLE(at, f.size);
}

/** A zeroed Stat, e.g. as the reusable `out` object for tryFstatat. */
export function emptyStat(): Stat {
  return {
    dev: 0, ino: 0, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 0, blocks: 0,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
  };
}

/** One architecture's scratch block, with the decoders and encoders that use it. */
export interface Structs {
  /** Where fstat/fstatat write `struct stat`. */
  readonly statBuf: Buffer;
  /** Where statx writes `struct statx`. */
  readonly statxBuf: Buffer;
  /** Where statfs/fstatfs write `struct statfs`. */
  readonly statfsBuf: Buffer;
  /** Copies the `struct stat` in statBuf into `out`. */
  readonly decodeStatInto: (out: Stat) => void;
  /** The `struct stat` in statBuf, as a new Stat. */
  readonly decodeStat: () => Stat;
  /** The `struct statx` in statxBuf. */
  readonly decodeStatx: () => StatxResult;
  /** The `struct statfs` in statfsBuf. */
  readonly decodeStatfs: () => StatFs;
  /** Fills the `struct timespec[2]` argument of utimensat/futimens. `nsec` may be UTIME_NOW or UTIME_OMIT. */
  readonly encodeTimes: (atime: Timespec, mtime: Timespec) => Buffer;
  /** A `struct fuse_backing_map` registering `fd` with no flags. */
  readonly encodeBackingMap: (fd: number) => Buffer;
  /** A pointer to a u32 holding `value`, for ioctls that take one. */
  readonly encodeU32: (value: number) => Buffer;
  /** copy_file_range's `loff_t *off_in`: NULL for a null offset (use and advance the file position). */
  readonly encodeOffIn: (offset: number | null) => Buffer | null;
  /** copy_file_range's `loff_t *off_out`, as encodeOffIn. */
  readonly encodeOffOut: (offset: number | null) => Buffer | null;
}

/**
 * A scratch block laid out for `layout`. The sys layer uses the one for this
 * machine (below); a test can build another architecture's to decode structs
 * that architecture's compiler laid out.
 */
export function structsFor(layout: ArchLayout): Structs {
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

  const STAT = reserve(layout.stat.bytes);
  const STATX = reserve(layout.statx.bytes);
  const STATFS = reserve(layout.statfs.bytes);
  const TIMES = reserve(2 * layout.timespec.bytes);
  const IOCTL_ARG = reserve(Math.max(layout.fuseBackingMap.bytes, u32Arg.size)); // a struct fuse_backing_map, or a u32
  const OFF_IN = reserve(loff.size);
  const OFF_OUT = reserve(loff.size);

  const scratch = new ArrayBuffer(scratchBytes);
  const u8 = new Uint8Array(scratch);
  const u16 = new Uint16Array(scratch);
  const u32 = new Uint32Array(scratch);
  const i32 = new Int32Array(scratch);
  const u64big = new BigUint64Array(scratch);

  const statBuf = Buffer.from(scratch, STAT, layout.stat.bytes);
  const statxBuf = Buffer.from(scratch, STATX, layout.statx.bytes);
  const statfsBuf = Buffer.from(scratch, STATFS, layout.statfs.bytes);
  const timesBuf = Buffer.from(scratch, TIMES, 2 * layout.timespec.bytes);
  const backingMapBuf = Buffer.from(scratch, IOCTL_ARG, layout.fuseBackingMap.bytes);
  const u32ArgBuf = Buffer.from(scratch, IOCTL_ARG, u32Arg.size);
  const offInBuf = Buffer.from(scratch, OFF_IN, loff.size);
  const offOutBuf = Buffer.from(scratch, OFF_OUT, loff.size);

  // -------------------------------------------------------------------------
  // Field access. Each field gets a reader (or writer) made once, specialised
  // to its place in the scratch block and its width: V8 inlines each at its
  // call site, so a decode costs what fixed offsets did (a generic reader
  // taking the field as an argument measured 5x slower for struct stat). The
  // table's offsets are aligned to the field's width, so each access is one or
  // two typed-array loads or stores.

  /** Reads an unsigned field of the struct at `base`. 8-byte fields are exact below 2^53. */
  function uintReader(base: number, f: Field): () => number {
    const at = base + f.offset;
    const word = at >> 2;
    switch (f.size) {
      case 8:
        return () => u32[word]! + u32[word + 1]! * TWO_32;
      case 4:
        return () => u32[word]!;
      case 2:
        return () => u16[at >> 1]!;
      default:
        return () => u8[at]!;
    }
  }

  /** Reads a signed field of the struct at `base`. */
  function intReader(base: number, f: Field): () => number {
    if (f.size === 8) {
      const word = (base + f.offset) >> 2;
      return () => u32[word]! + i32[word + 1]! * TWO_32;
    }
    const read = uintReader(base, f);
    const unused = 32 - 8 * f.size; // sign-extend from the field's top bit
    return () => (read() << unused) >> unused;
  }

  /** Reads an 8-byte unsigned field exactly. */
  function bigUintReader(base: number, f: Field): () => bigint {
    const index = (base + f.offset) >> 3;
    return () => u64big[index]!;
  }

  /** Writes an integer field (signed or not: the low bits are the same). */
  function writer(base: number, f: Field): (value: number) => void {
    const at = base + f.offset;
    const word = at >> 2;
    switch (f.size) {
      case 8:
        return (value) => {
          const hi = Math.floor(value / TWO_32);
          u32[word] = value - hi * TWO_32;
          i32[word + 1] = hi;
        };
      case 4:
        return (value) => void (u32[word] = value);
      case 2:
        return (value) => void (u16[at >> 1] = value);
      default:
        return (value) => void (u8[at] = value);
    }
  }

  // -------------------------------------------------------------------------
  // struct stat

  const st = layout.stat.fields;
  const ts = layout.timespec.fields;
  const stDev = uintReader(STAT, st.st_dev);
  const stIno = uintReader(STAT, st.st_ino);
  const stMode = uintReader(STAT, st.st_mode);
  const stNlink = uintReader(STAT, st.st_nlink);
  const stUid = uintReader(STAT, st.st_uid);
  const stGid = uintReader(STAT, st.st_gid);
  const stRdev = uintReader(STAT, st.st_rdev);
  const stSize = intReader(STAT, st.st_size);
  const stBlksize = intReader(STAT, st.st_blksize);
  const stBlocks = intReader(STAT, st.st_blocks);
  const stAtimeSec = intReader(STAT + st.st_atim.offset, ts.tv_sec);
  const stAtimeNsec = intReader(STAT + st.st_atim.offset, ts.tv_nsec);
  const stMtimeSec = intReader(STAT + st.st_mtim.offset, ts.tv_sec);
  const stMtimeNsec = intReader(STAT + st.st_mtim.offset, ts.tv_nsec);
  const stCtimeSec = intReader(STAT + st.st_ctim.offset, ts.tv_sec);
  const stCtimeNsec = intReader(STAT + st.st_ctim.offset, ts.tv_nsec);

  function decodeStatInto(out: Stat): void {
    out.dev = stDev();
    out.ino = stIno();
    out.mode = stMode();
    out.nlink = stNlink();
    out.uid = stUid();
    out.gid = stGid();
    out.rdev = stRdev();
    out.size = stSize();
    out.blksize = stBlksize();
    out.blocks = stBlocks();
    out.atimeSec = stAtimeSec();
    out.atimeNsec = stAtimeNsec();
    out.mtimeSec = stMtimeSec();
    out.mtimeNsec = stMtimeNsec();
    out.ctimeSec = stCtimeSec();
    out.ctimeNsec = stCtimeNsec();
  }

  function decodeStat(): Stat {
    const out = emptyStat();
    decodeStatInto(out);
    return out;
  }

  // -------------------------------------------------------------------------
  // struct statx

  const stx = layout.statx.fields;
  const stxTs = layout.statxTimestamp.fields;

  function timestampReader(f: Field): () => Timespec {
    const sec = intReader(STATX + f.offset, stxTs.tv_sec);
    const nsec = uintReader(STATX + f.offset, stxTs.tv_nsec);
    return () => ({ sec: sec(), nsec: nsec() });
  }

  const stxMask = uintReader(STATX, stx.stx_mask);
  const stxBlksize = uintReader(STATX, stx.stx_blksize);
  const stxAttributes = bigUintReader(STATX, stx.stx_attributes);
  const stxNlink = uintReader(STATX, stx.stx_nlink);
  const stxUid = uintReader(STATX, stx.stx_uid);
  const stxGid = uintReader(STATX, stx.stx_gid);
  const stxMode = uintReader(STATX, stx.stx_mode);
  const stxIno = uintReader(STATX, stx.stx_ino);
  const stxSize = uintReader(STATX, stx.stx_size);
  const stxBlocks = uintReader(STATX, stx.stx_blocks);
  const stxAttributesMask = bigUintReader(STATX, stx.stx_attributes_mask);
  const stxAtime = timestampReader(stx.stx_atime);
  const stxBtime = timestampReader(stx.stx_btime);
  const stxCtime = timestampReader(stx.stx_ctime);
  const stxMtime = timestampReader(stx.stx_mtime);
  const stxRdevMajor = uintReader(STATX, stx.stx_rdev_major);
  const stxRdevMinor = uintReader(STATX, stx.stx_rdev_minor);
  const stxDevMajor = uintReader(STATX, stx.stx_dev_major);
  const stxDevMinor = uintReader(STATX, stx.stx_dev_minor);
  const stxMntId = bigUintReader(STATX, stx.stx_mnt_id);
  const stxDioMemAlign = uintReader(STATX, stx.stx_dio_mem_align);
  const stxDioOffsetAlign = uintReader(STATX, stx.stx_dio_offset_align);
  const stxSubvol = bigUintReader(STATX, stx.stx_subvol);

  function decodeStatx(): StatxResult {
    return {
      mask: stxMask(),
      blksize: stxBlksize(),
      attributes: stxAttributes(),
      nlink: stxNlink(),
      uid: stxUid(),
      gid: stxGid(),
      mode: stxMode(),
      ino: stxIno(),
      size: stxSize(),
      blocks: stxBlocks(),
      attributesMask: stxAttributesMask(),
      atime: stxAtime(),
      btime: stxBtime(),
      ctime: stxCtime(),
      mtime: stxMtime(),
      rdevMajor: stxRdevMajor(),
      rdevMinor: stxRdevMinor(),
      devMajor: stxDevMajor(),
      devMinor: stxDevMinor(),
      mntId: stxMntId(),
      dioMemAlign: stxDioMemAlign(),
      dioOffsetAlign: stxDioOffsetAlign(),
      subvol: stxSubvol(),
    };
  }

  // -------------------------------------------------------------------------
  // struct statfs

  const sfs = layout.statfs.fields;
  const statfsType = intReader(STATFS, sfs.f_type);
  const statfsBsize = intReader(STATFS, sfs.f_bsize);
  const statfsBlocks = uintReader(STATFS, sfs.f_blocks);
  const statfsBfree = uintReader(STATFS, sfs.f_bfree);
  const statfsBavail = uintReader(STATFS, sfs.f_bavail);
  const statfsFiles = uintReader(STATFS, sfs.f_files);
  const statfsFfree = uintReader(STATFS, sfs.f_ffree);
  const statfsNamelen = intReader(STATFS, sfs.f_namelen);
  const statfsFrsize = intReader(STATFS, sfs.f_frsize);
  const statfsFlags = intReader(STATFS, sfs.f_flags);

  function decodeStatfs(): StatFs {
    return {
      type: statfsType(),
      bsize: statfsBsize(),
      blocks: statfsBlocks(),
      bfree: statfsBfree(),
      bavail: statfsBavail(),
      files: statfsFiles(),
      ffree: statfsFfree(),
      namelen: statfsNamelen(),
      frsize: statfsFrsize(),
      flags: statfsFlags(),
    };
  }

  // -------------------------------------------------------------------------
  // Arguments

  const setAtimeSec = writer(TIMES, ts.tv_sec);
  const setAtimeNsec = writer(TIMES, ts.tv_nsec);
  const setMtimeSec = writer(TIMES + layout.timespec.bytes, ts.tv_sec);
  const setMtimeNsec = writer(TIMES + layout.timespec.bytes, ts.tv_nsec);

  function encodeTimes(atime: Timespec, mtime: Timespec): Buffer {
    setAtimeSec(atime.sec);
    setAtimeNsec(atime.nsec);
    setMtimeSec(mtime.sec);
    setMtimeNsec(mtime.nsec);
    return timesBuf;
  }

  const backingMap = layout.fuseBackingMap.fields;
  const setBackingFd = writer(IOCTL_ARG, backingMap.fd);
  const setBackingFlags = writer(IOCTL_ARG, backingMap.flags);
  const setBackingPadding = writer(IOCTL_ARG, backingMap.padding);

  function encodeBackingMap(fd: number): Buffer {
    setBackingFd(fd);
    setBackingFlags(0);
    setBackingPadding(0);
    return backingMapBuf;
  }

  const setU32Arg = writer(IOCTL_ARG, u32Arg);

  function encodeU32(value: number): Buffer {
    setU32Arg(value);
    return u32ArgBuf;
  }

  const setOffIn = writer(OFF_IN, loff);
  const setOffOut = writer(OFF_OUT, loff);

  function encodeOffIn(offset: number | null): Buffer | null {
    if (offset === null) return null;
    setOffIn(offset);
    return offInBuf;
  }

  function encodeOffOut(offset: number | null): Buffer | null {
    if (offset === null) return null;
    setOffOut(offset);
    return offOutBuf;
  }

  return {
    statBuf, statxBuf, statfsBuf, decodeStatInto, decodeStat, decodeStatx, decodeStatfs,
    encodeTimes, encodeBackingMap, encodeU32, encodeOffIn, encodeOffOut,
  };
}

/** This machine's structs. */
export const {
  statBuf, statxBuf, statfsBuf, decodeStatInto, decodeStat, decodeStatx, decodeStatfs,
  encodeTimes, encodeBackingMap, encodeU32, encodeOffIn, encodeOffOut,
} = structsFor(arch);
