/**
 * Request decoding: one device read (header, opcode struct, names/data,
 * extension area) into a typed FuseRequest.
 *
 * Decoders trust nothing: every fixed struct, name and payload must fit inside
 * `header.len`, or an AbiError is thrown. Names and payloads are zero-copy
 * views into the read buffer, valid only until that buffer is reused.
 */

import { constants as osConstants } from 'node:os';

import {
  COMPAT_SETXATTR_IN_SIZE,
  EXT_GROUPS,
  IN_HEADER_SIZE,
  MKNOD_IN_SIZE,
  InitFlag,
  MAX_NR_SECCTX,
  Opcode,
  SETXATTR_IN_SIZE,
  WRITE_IN_SIZE,
  opcodeName,
} from './constants.js';
import type {
  DecodeOptions,
  FileHandle,
  FileLock,
  FuseRequest,
  InHeader,
  NodeId,
  RequestExtensions,
  Timespec,
} from './types.js';

const { EINVAL, EOVERFLOW } = osConstants.errno;

/** A request the codec cannot accept. `errno` is positive; reply with its negation. */
export class AbiError extends Error {
  readonly errno: number;
  /**
   * The request's header when it was itself valid, so the caller can still
   * answer that request with -errno (unless the opcode takes no reply).
   */
  readonly header: InHeader | undefined;
  /**
   * The request id whenever the header was long enough and its length right,
   * even if another header field was unusable (a node id past 2^53): without
   * an answer the caller's system call would wait forever.
   */
  readonly unique: bigint | undefined;

  constructor(errno: number, message: string, header?: InHeader, unique?: bigint) {
    super(message);
    this.name = 'AbiError';
    this.errno = errno;
    this.header = header;
    this.unique = unique ?? header?.unique;
  }
}

// ---- Field readers ----

/**
 * u32 by plain byte loads, about twice as fast as Buffer's checked readers.
 * Every caller has checked the request length first: a typed-array load past
 * the end would give undefined, not an error.
 */
function u32(buf: Buffer, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

const TWO_32 = 0x1_0000_0000;
/** Largest high word of a u64 that still fits in a safe integer (2^53 - 1). */
const MAX_SAFE_HI = 0x1f_ffff;

/** u64 as a number; EOVERFLOW past 2^53 - 1 rather than silently rounding. */
function u64(buf: Buffer, off: number, field: string, header?: InHeader): number {
  const hi = u32(buf, off + 4);
  if (hi > MAX_SAFE_HI) {
    throw new AbiError(EOVERFLOW, `${field} does not fit in a safe integer`, header);
  }
  return hi * TWO_32 + u32(buf, off);
}

/**
 * A time in seconds. The wire type is u64, but the kernel stores time64_t
 * there, so pre-1970 times arrive as two's complement: read it signed.
 */
function i64(buf: Buffer, off: number, field: string, header: InHeader): number {
  const hi = u32(buf, off + 4) | 0;
  if (hi > MAX_SAFE_HI || hi < -MAX_SAFE_HI - 1) {
    throw new AbiError(EOVERFLOW, `${field} does not fit in a safe integer`, header);
  }
  return hi * TWO_32 + u32(buf, off);
}

// ---- Header ----

/**
 * Decode and check `fuse_in_header`. `len` is the byte count read() returned;
 * the header's own length must agree with it.
 */
export function decodeInHeader(buf: Buffer, len: number): InHeader {
  if (len < IN_HEADER_SIZE) {
    throw new AbiError(EINVAL, `request of ${len} bytes is shorter than fuse_in_header`);
  }
  if (len > buf.length) {
    throw new AbiError(EINVAL, `request length ${len} exceeds the ${buf.length}-byte buffer`);
  }
  const declared = u32(buf, 0);
  if (declared !== len) {
    throw new AbiError(EINVAL, `fuse_in_header.len ${declared} but ${len} bytes were read`);
  }
  const unique = buf.readBigUInt64LE(8);
  const nodeidHi = u32(buf, 20);
  if (nodeidHi > MAX_SAFE_HI) {
    throw new AbiError(EOVERFLOW, 'nodeid does not fit in a safe integer', undefined, unique);
  }
  return {
    len,
    opcode: u32(buf, 4),
    unique,
    nodeid: (nodeidHi * TWO_32 + u32(buf, 16)) as NodeId,
    uid: u32(buf, 24),
    gid: u32(buf, 28),
    pid: u32(buf, 32),
    totalExtlen: buf[36]! | (buf[37]! << 8),
  };
}

// ---- Request body ----
//
// Helpers take (buf, end, header) rather than a context object so that a
// request costs no allocation beyond its result. `end` is where the arguments
// stop: the request length minus the extension area.

const ARGS = IN_HEADER_SIZE;

function need(end: number, size: number, what: string, header: InHeader): void {
  if (ARGS + size > end) {
    throw new AbiError(
      EINVAL,
      `${opcodeName(header.opcode)}: ${what} needs ${size} bytes, request has ${end - ARGS}`,
      header,
    );
  }
}

/** Index of the NUL ending the name that starts at `start`; the name must end before `end`. */
function nulAt(buf: Buffer, start: number, end: number, what: string, header: InHeader): number {
  const nul = start < end ? buf.indexOf(0, start) : -1;
  if (nul < 0 || nul >= end) {
    throw new AbiError(EINVAL, `${opcodeName(header.opcode)}: ${what} is not NUL-terminated`, header);
  }
  return nul;
}

function fileLock(buf: Buffer, off: number, header: InHeader): FileLock {
  return {
    start: u64(buf, off, 'lk.start', header),
    end: buf.readBigUInt64LE(off + 8),
    type: u32(buf, off + 16),
    pid: u32(buf, off + 20),
  };
}

function timespec(buf: Buffer, secOff: number, nsecOff: number, field: string, header: InHeader): Timespec {
  return { sec: i64(buf, secOff, field, header), nsec: u32(buf, nsecOff) };
}

/**
 * Parse the extension area [start, stop): security-context blocks (type 0-31,
 * the type doubling as the context count) and supplementary groups (type 32).
 * Unknown block types are skipped: newer kernels may add some.
 */
function decodeExtensions(buf: Buffer, start: number, stop: number, header: InHeader): RequestExtensions {
  const ext: RequestExtensions = {};
  let p = start;
  while (p < stop) {
    if (stop - p < 8) throw new AbiError(EINVAL, 'truncated fuse_ext_header', header);
    const size = u32(buf, p);
    const type = u32(buf, p + 4);
    if (size < 8 || size % 8 !== 0 || size > stop - p) {
      throw new AbiError(EINVAL, `extension block of ${size} bytes does not fit`, header);
    }
    const blockEnd = p + size;
    if (type <= MAX_NR_SECCTX) {
      const list = (ext.secctx ??= []);
      let q = p + 8;
      for (let i = 0; i < type; i++) {
        if (blockEnd - q < 8) throw new AbiError(EINVAL, 'truncated fuse_secctx', header);
        const valueLen = u32(buf, q);
        q += 8;
        const nul = nulAt(buf, q, blockEnd, 'security context name', header);
        const name = buf.toString('utf8', q, nul);
        q = nul + 1;
        if (valueLen > blockEnd - q) throw new AbiError(EINVAL, 'security context value does not fit', header);
        list.push({ name, value: buf.subarray(q, q + valueLen) });
        q += valueLen;
      }
    } else if (type === EXT_GROUPS) {
      if (size < 12) throw new AbiError(EINVAL, 'truncated fuse_supp_groups', header);
      const count = u32(buf, p + 8);
      if (count > (size - 12) / 4) throw new AbiError(EINVAL, 'supplementary groups do not fit', header);
      const groups = (ext.suppGroups ??= []);
      for (let i = 0; i < count; i++) groups.push(u32(buf, p + 12 + 4 * i));
    }
    p = blockEnd;
  }
  return ext;
}

const INIT_EXT_BIT = Number(InitFlag.INIT_EXT);

/** The request kinds whose whole body is one name. */
const NAME_ONLY_OPS: Record<number, 'LOOKUP' | 'UNLINK' | 'RMDIR' | 'REMOVEXATTR'> = {
  [Opcode.LOOKUP]: 'LOOKUP',
  [Opcode.UNLINK]: 'UNLINK',
  [Opcode.RMDIR]: 'RMDIR',
  [Opcode.REMOVEXATTR]: 'REMOVEXATTR',
};

/**
 * Decode one request. `len` is the byte count read() returned.
 *
 * Throws AbiError for malformed input (with `header` set once the header
 * itself was valid). An opcode this codec does not know is not an error: it
 * decodes to `{ op: 'UNKNOWN' }`, to be answered with ENOSYS.
 */
export function decodeRequest(buf: Buffer, len: number, opts: DecodeOptions, decodedHeader?: InHeader): FuseRequest {
  // A caller that has already read the header (to count or route the request) passes it in.
  const header = decodedHeader ?? decodeInHeader(buf, len);
  const extLen = header.totalExtlen * 8;
  if (extLen > len - IN_HEADER_SIZE) {
    throw new AbiError(EINVAL, `extension area of ${extLen} bytes does not fit in a ${len}-byte request`, header);
  }
  // Arguments end where the extension area starts; names are searched only up to here.
  const end = len - extLen;
  const A = ARGS;
  const h = header;

  switch (header.opcode) {
    case Opcode.INIT: {
      need(end, 16, 'fuse_init_in', h);
      const flags = u32(buf, A + 12);
      // flags2 exists only in the 64-byte form, which INIT_EXT announces (7.36+).
      let flags2 = 0;
      if ((flags & INIT_EXT_BIT) !== 0) {
        need(end, 64, 'fuse_init_in with INIT_EXT', h);
        flags2 = u32(buf, A + 16);
      }
      return {
        op: 'INIT',
        header,
        init: {
          major: u32(buf, A),
          minor: u32(buf, A + 4),
          maxReadahead: u32(buf, A + 8),
          flags: (BigInt(flags2) << 32n) | BigInt(flags),
        },
      };
    }

    case Opcode.LOOKUP:
    case Opcode.UNLINK:
    case Opcode.RMDIR:
    case Opcode.REMOVEXATTR: {
      const nul = nulAt(buf, A, end, 'name', h);
      return {
        op: NAME_ONLY_OPS[header.opcode]!,
        header,
        name: buf.toString('utf8', A, nul),
        nameBytes: buf.subarray(A, nul),
      };
    }

    case Opcode.FORGET:
      need(end, 8, 'fuse_forget_in', h);
      return { op: 'FORGET', header, nlookup: u64(buf, A, 'nlookup', h) };

    case Opcode.BATCH_FORGET: {
      need(end, 8, 'fuse_batch_forget_in', h);
      const count = u32(buf, A);
      if (count > (end - A - 8) / 16) {
        throw new AbiError(EINVAL, `BATCH_FORGET count ${count} exceeds the request`, h);
      }
      const forgets: { nodeid: NodeId; nlookup: number }[] = new Array(count);
      for (let i = 0, p = A + 8; i < count; i++, p += 16) {
        forgets[i] = { nodeid: u64(buf, p, 'nodeid', h) as NodeId, nlookup: u64(buf, p + 8, 'nlookup', h) };
      }
      return { op: 'BATCH_FORGET', header, forgets };
    }

    case Opcode.GETATTR:
      need(end, 16, 'fuse_getattr_in', h);
      return { op: 'GETATTR', header, getattrFlags: u32(buf, A), fh: u64(buf, A + 8, 'fh', h) as FileHandle };

    case Opcode.SETATTR:
      need(end, 88, 'fuse_setattr_in', h);
      return {
        op: 'SETATTR',
        header,
        valid: u32(buf, A),
        fh: u64(buf, A + 8, 'fh', h) as FileHandle,
        size: u64(buf, A + 16, 'size', h),
        lockOwner: buf.readBigUInt64LE(A + 24),
        atime: timespec(buf, A + 32, A + 56, 'atime', h),
        mtime: timespec(buf, A + 40, A + 60, 'mtime', h),
        ctime: timespec(buf, A + 48, A + 64, 'ctime', h),
        mode: u32(buf, A + 68),
        uid: u32(buf, A + 76),
        gid: u32(buf, A + 80),
      };

    case Opcode.READLINK:
      return { op: 'READLINK', header };

    case Opcode.SYMLINK: {
      const nul = nulAt(buf, A, end, 'name', h);
      const tStart = nul + 1;
      const tNul = nulAt(buf, tStart, end, 'link target', h);
      return {
        op: 'SYMLINK',
        header,
        name: buf.toString('utf8', A, nul),
        nameBytes: buf.subarray(A, nul),
        target: buf.toString('utf8', tStart, tNul),
        targetBytes: buf.subarray(tStart, tNul),
        ext: decodeExtensions(buf, end, len, h),
      };
    }

    case Opcode.MKNOD: {
      const size = MKNOD_IN_SIZE;
      need(end, size, 'fuse_mknod_in', h);
      const start = A + size;
      const nul = nulAt(buf, start, end, 'name', h);
      return {
        op: 'MKNOD',
        header,
        name: buf.toString('utf8', start, nul),
        nameBytes: buf.subarray(start, nul),
        mode: u32(buf, A),
        rdev: u32(buf, A + 4),
        umask: size === 16 ? u32(buf, A + 8) : 0,
        ext: decodeExtensions(buf, end, len, h),
      };
    }

    case Opcode.MKDIR: {
      need(end, 8, 'fuse_mkdir_in', h);
      const start = A + 8;
      const nul = nulAt(buf, start, end, 'name', h);
      return {
        op: 'MKDIR',
        header,
        name: buf.toString('utf8', start, nul),
        nameBytes: buf.subarray(start, nul),
        mode: u32(buf, A),
        umask: u32(buf, A + 4),
        ext: decodeExtensions(buf, end, len, h),
      };
    }

    case Opcode.RENAME:
    case Opcode.RENAME2: {
      // RENAME carries only newdir; RENAME2 (sent when flags != 0) adds flags.
      const wide = header.opcode === Opcode.RENAME2;
      const size = wide ? 16 : 8;
      need(end, size, wide ? 'fuse_rename2_in' : 'fuse_rename_in', h);
      const start = A + size;
      const nul = nulAt(buf, start, end, 'old name', h);
      const newStart = nul + 1;
      const newNul = nulAt(buf, newStart, end, 'new name', h);
      return {
        op: 'RENAME',
        header,
        name: buf.toString('utf8', start, nul),
        nameBytes: buf.subarray(start, nul),
        newdir: u64(buf, A, 'newdir', h) as NodeId,
        newName: buf.toString('utf8', newStart, newNul),
        newNameBytes: buf.subarray(newStart, newNul),
        flags: wide ? u32(buf, A + 8) : 0,
      };
    }

    case Opcode.LINK: {
      need(end, 8, 'fuse_link_in', h);
      const start = A + 8;
      const nul = nulAt(buf, start, end, 'name', h);
      return {
        op: 'LINK',
        header,
        name: buf.toString('utf8', start, nul),
        nameBytes: buf.subarray(start, nul),
        oldnodeid: u64(buf, A, 'oldnodeid', h) as NodeId,
      };
    }

    case Opcode.OPEN:
    case Opcode.OPENDIR:
      need(end, 8, 'fuse_open_in', h);
      return {
        op: header.opcode === Opcode.OPEN ? 'OPEN' : 'OPENDIR',
        header,
        flags: u32(buf, A),
        openFlags: u32(buf, A + 4),
      };

    case Opcode.READ: {
      need(end, 40, 'fuse_read_in', h);
      return {
        op: 'READ',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        offset: u64(buf, A + 8, 'offset', h),
        size: u32(buf, A + 16),
        readFlags: u32(buf, A + 20),
        lockOwner: buf.readBigUInt64LE(A + 24),
        flags: u32(buf, A + 32),
      };
    }

    case Opcode.WRITE: {
      const structSize = WRITE_IN_SIZE;
      need(end, structSize, 'fuse_write_in', h);
      const size = u32(buf, A + 16);
      const dataStart = A + structSize;
      if (size > end - dataStart) {
        throw new AbiError(EINVAL, `WRITE of ${size} bytes carries only ${end - dataStart}`, h);
      }
      return {
        op: 'WRITE',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        offset: u64(buf, A + 8, 'offset', h),
        size,
        writeFlags: u32(buf, A + 20),
        lockOwner: buf.readBigUInt64LE(A + 24),
        flags: u32(buf, A + 32),
        data: buf.subarray(dataStart, dataStart + size),
      };
    }

    case Opcode.STATFS:
      return { op: 'STATFS', header };

    case Opcode.RELEASE:
    case Opcode.RELEASEDIR:
      need(end, 24, 'fuse_release_in', h);
      return {
        op: header.opcode === Opcode.RELEASE ? 'RELEASE' : 'RELEASEDIR',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        flags: u32(buf, A + 8),
        releaseFlags: u32(buf, A + 12),
        lockOwner: buf.readBigUInt64LE(A + 16),
      };

    case Opcode.FSYNC:
    case Opcode.FSYNCDIR:
      need(end, 16, 'fuse_fsync_in', h);
      return {
        op: header.opcode === Opcode.FSYNC ? 'FSYNC' : 'FSYNCDIR',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        fsyncFlags: u32(buf, A + 8),
      };

    case Opcode.SETXATTR: {
      // The 16-byte form is sent only after the server enabled SETXATTR_EXT.
      const structSize = opts.setxattrExt ? SETXATTR_IN_SIZE : COMPAT_SETXATTR_IN_SIZE;
      need(end, structSize, 'fuse_setxattr_in', h);
      const size = u32(buf, A);
      const start = A + structSize;
      const nul = nulAt(buf, start, end, 'name', h);
      const valueStart = nul + 1;
      if (size > end - valueStart) {
        throw new AbiError(EINVAL, `SETXATTR value of ${size} bytes does not fit`, h);
      }
      return {
        op: 'SETXATTR',
        header,
        name: buf.toString('utf8', start, nul),
        nameBytes: buf.subarray(start, nul),
        size,
        flags: u32(buf, A + 4),
        setxattrFlags: opts.setxattrExt ? u32(buf, A + 8) : 0,
        value: buf.subarray(valueStart, valueStart + size),
      };
    }

    case Opcode.GETXATTR: {
      need(end, 8, 'fuse_getxattr_in', h);
      const start = A + 8;
      const nul = nulAt(buf, start, end, 'name', h);
      return {
        op: 'GETXATTR',
        header,
        name: buf.toString('utf8', start, nul),
        nameBytes: buf.subarray(start, nul),
        size: u32(buf, A),
      };
    }

    case Opcode.LISTXATTR:
      need(end, 8, 'fuse_getxattr_in', h);
      return { op: 'LISTXATTR', header, size: u32(buf, A) };

    case Opcode.FLUSH:
      need(end, 24, 'fuse_flush_in', h);
      return { op: 'FLUSH', header, fh: u64(buf, A, 'fh', h) as FileHandle, lockOwner: buf.readBigUInt64LE(A + 16) };

    case Opcode.READDIR:
    case Opcode.READDIRPLUS:
      need(end, 40, 'fuse_read_in', h);
      return {
        op: header.opcode === Opcode.READDIR ? 'READDIR' : 'READDIRPLUS',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        offset: buf.readBigUInt64LE(A + 8),
        size: u32(buf, A + 16),
      };

    case Opcode.GETLK:
      need(end, 48, 'fuse_lk_in', h);
      return {
        op: 'GETLK',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        owner: buf.readBigUInt64LE(A + 8),
        lk: fileLock(buf, A + 16, h),
        lkFlags: u32(buf, A + 40),
      };

    case Opcode.SETLK:
    case Opcode.SETLKW:
      need(end, 48, 'fuse_lk_in', h);
      return {
        op: 'SETLK',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        owner: buf.readBigUInt64LE(A + 8),
        lk: fileLock(buf, A + 16, h),
        lkFlags: u32(buf, A + 40),
        sleep: header.opcode === Opcode.SETLKW,
      };

    case Opcode.ACCESS:
      need(end, 8, 'fuse_access_in', h);
      return { op: 'ACCESS', header, mask: u32(buf, A) };

    case Opcode.CREATE:
    case Opcode.TMPFILE: {
      need(end, 16, 'fuse_create_in', h);
      const start = A + 16;
      const nul = nulAt(buf, start, end, 'name', h);
      return {
        op: header.opcode === Opcode.CREATE ? 'CREATE' : 'TMPFILE',
        header,
        name: buf.toString('utf8', start, nul),
        nameBytes: buf.subarray(start, nul),
        flags: u32(buf, A),
        mode: u32(buf, A + 4),
        umask: u32(buf, A + 8),
        openFlags: u32(buf, A + 12),
        ext: decodeExtensions(buf, end, len, h),
      };
    }

    case Opcode.INTERRUPT:
      need(end, 8, 'fuse_interrupt_in', h);
      return { op: 'INTERRUPT', header, target: buf.readBigUInt64LE(A) };

    case Opcode.BMAP:
      need(end, 16, 'fuse_bmap_in', h);
      return { op: 'BMAP', header, block: u64(buf, A, 'block', h), blocksize: u32(buf, A + 8) };

    case Opcode.DESTROY:
      return { op: 'DESTROY', header };

    case Opcode.IOCTL: {
      need(end, 32, 'fuse_ioctl_in', h);
      const inSize = u32(buf, A + 24);
      const dataStart = A + 32;
      if (inSize > end - dataStart) {
        throw new AbiError(EINVAL, `IOCTL input of ${inSize} bytes does not fit`, h);
      }
      return {
        op: 'IOCTL',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        flags: u32(buf, A + 8),
        cmd: u32(buf, A + 12),
        arg: buf.readBigUInt64LE(A + 16),
        inSize,
        outSize: u32(buf, A + 28),
        data: buf.subarray(dataStart, dataStart + inSize),
      };
    }

    case Opcode.POLL:
      need(end, 24, 'fuse_poll_in', h);
      return {
        op: 'POLL',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        kh: buf.readBigUInt64LE(A + 8),
        flags: u32(buf, A + 16),
        events: u32(buf, A + 20),
      };

    case Opcode.NOTIFY_REPLY: {
      need(end, 40, 'fuse_notify_retrieve_in', h);
      const size = u32(buf, A + 16);
      const dataStart = A + 40;
      if (size > end - dataStart) {
        throw new AbiError(EINVAL, `NOTIFY_REPLY of ${size} bytes does not fit`, h);
      }
      return {
        op: 'NOTIFY_REPLY',
        header,
        offset: u64(buf, A + 8, 'offset', h),
        size,
        data: buf.subarray(dataStart, dataStart + size),
      };
    }

    case Opcode.FALLOCATE:
      need(end, 32, 'fuse_fallocate_in', h);
      return {
        op: 'FALLOCATE',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        offset: u64(buf, A + 8, 'offset', h),
        length: u64(buf, A + 16, 'length', h),
        mode: u32(buf, A + 24),
      };

    case Opcode.LSEEK:
      need(end, 24, 'fuse_lseek_in', h);
      return {
        op: 'LSEEK',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        offset: u64(buf, A + 8, 'offset', h),
        whence: u32(buf, A + 16),
      };

    case Opcode.COPY_FILE_RANGE:
    case Opcode.COPY_FILE_RANGE_64: {
      need(end, 56, 'fuse_copy_file_range_in', h);
      // len is an upper bound (a short copy is a valid answer), so clamp it instead of failing.
      const lenHi = u32(buf, A + 44);
      const copyLen = lenHi > MAX_SAFE_HI ? Number.MAX_SAFE_INTEGER : lenHi * TWO_32 + u32(buf, A + 40);
      return {
        op: 'COPY_FILE_RANGE',
        header,
        fhIn: u64(buf, A, 'fh_in', h) as FileHandle,
        offIn: u64(buf, A + 8, 'off_in', h),
        nodeidOut: u64(buf, A + 16, 'nodeid_out', h) as NodeId,
        fhOut: u64(buf, A + 24, 'fh_out', h) as FileHandle,
        offOut: u64(buf, A + 32, 'off_out', h),
        len: copyLen,
        flags: buf.readBigUInt64LE(A + 48),
        wide: header.opcode === Opcode.COPY_FILE_RANGE_64,
      };
    }

    case Opcode.SETUPMAPPING:
      need(end, 40, 'fuse_setupmapping_in', h);
      return {
        op: 'SETUPMAPPING',
        header,
        fh: u64(buf, A, 'fh', h) as FileHandle,
        foffset: u64(buf, A + 8, 'foffset', h),
        len: u64(buf, A + 16, 'len', h),
        flags: buf.readBigUInt64LE(A + 24),
        moffset: u64(buf, A + 32, 'moffset', h),
      };

    case Opcode.REMOVEMAPPING: {
      // fuse_removemapping_in is 4 bytes, so the entries start unaligned at +4.
      need(end, 4, 'fuse_removemapping_in', h);
      const count = u32(buf, A);
      if (count > (end - A - 4) / 16) {
        throw new AbiError(EINVAL, `REMOVEMAPPING count ${count} exceeds the request`, h);
      }
      const mappings: { moffset: number; len: number }[] = new Array(count);
      for (let i = 0, p = A + 4; i < count; i++, p += 16) {
        mappings[i] = { moffset: u64(buf, p, 'moffset', h), len: u64(buf, p + 8, 'len', h) };
      }
      return { op: 'REMOVEMAPPING', header, mappings };
    }

    case Opcode.SYNCFS:
      need(end, 8, 'fuse_syncfs_in', h);
      return { op: 'SYNCFS', header };

    case Opcode.STATX:
      need(end, 24, 'fuse_statx_in', h);
      return {
        op: 'STATX',
        header,
        getattrFlags: u32(buf, A),
        fh: u64(buf, A + 8, 'fh', h) as FileHandle,
        sxFlags: u32(buf, A + 16),
        sxMask: u32(buf, A + 20),
      };

    default:
      // Includes CUSE_INIT: fusekit serves FUSE mounts, not CUSE devices.
      return { op: 'UNKNOWN', header };
  }
}

/** A name that is `.` or `..`, as the kernel's raw bytes. */
export function isDotOrDotDot(b: Buffer): boolean {
  return (b.length === 1 && b[0] === 0x2e) || (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e);
}
