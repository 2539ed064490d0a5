/**
 * The dispatch table: one typed row per operation the filesystem answers.
 * A row says which `Filesystem` method a request calls and how the method's
 * result is encoded as the reply. `OperationResults` ties each opcode to the
 * result type of its method and of its encoder, so a row that answers with the
 * wrong shape does not compile.
 *
 * The session handles the requests that never reach a row itself: INIT,
 * FORGET, BATCH_FORGET, INTERRUPT, DESTROY and NOTIFY_REPLY.
 */
import {
  encodeAttrOut, encodeBmapOut, encodeCopyFileRangeOut, encodeLkOut, encodeLseekOut,
  encodePollOut, encodeStatfsOut, encodeStatxOut, encodeWriteOut,
} from '../abi/index.js';
import type { AttrOut, EntryOut, FileLock, FuseRequest, StatfsOut, StatxOut } from '../abi/index.js';
import type { CreateReply, Filesystem, HandlerResult, IoctlReply, OpenReply } from '../fs/filesystem.js';
import type { Exchange, ReplyWriter } from './replies.js';
import { checkAttrType } from './replies.js';

/** What each operation's method returns on success, which is what its reply encodes. */
export interface OperationResults {
  LOOKUP: EntryOut;
  GETATTR: AttrOut;
  SETATTR: AttrOut;
  READLINK: string | Buffer;
  SYMLINK: EntryOut;
  MKNOD: EntryOut;
  MKDIR: EntryOut;
  UNLINK: void;
  RMDIR: void;
  RENAME: void;
  LINK: EntryOut;
  OPEN: OpenReply;
  READ: number | Uint8Array;
  WRITE: number;
  STATFS: StatfsOut;
  RELEASE: void;
  FSYNC: void;
  SETXATTR: void;
  GETXATTR: Buffer;
  LISTXATTR: (string | Buffer)[];
  REMOVEXATTR: void;
  FLUSH: void;
  OPENDIR: OpenReply;
  READDIR: void;
  READDIRPLUS: void;
  RELEASEDIR: void;
  FSYNCDIR: void;
  GETLK: FileLock;
  SETLK: void;
  ACCESS: void;
  CREATE: CreateReply;
  TMPFILE: CreateReply;
  BMAP: number;
  IOCTL: IoctlReply;
  POLL: number;
  FALLOCATE: void;
  LSEEK: number;
  COPY_FILE_RANGE: number;
  SYNCFS: void;
  STATX: StatxOut;
}

/** Opcodes answered through the table. */
export type DispatchedOp = keyof OperationResults;
/** The decoded request of each dispatched opcode. */
export type RequestOf = { [O in DispatchedOp]: Extract<FuseRequest, { op: O }> };
/** Any request the table answers. */
export type DispatchedRequest = RequestOf[DispatchedOp];

/** Returned by `call` when the filesystem lacks the method: the request is answered ENOSYS. */
export const NOT_IMPLEMENTED: unique symbol = Symbol('not implemented');

/** One row of the table. */
export interface Operation<Q, T> {
  /** Calls the filesystem's method, or returns NOT_IMPLEMENTED when it has none. */
  call(fs: Filesystem, req: Q, x: Exchange, out: ReplyWriter): HandlerResult<T> | typeof NOT_IMPLEMENTED;
  /** Encodes and writes the reply for a successful result. May throw: the request is then answered EIO and the cause logged. */
  reply(out: ReplyWriter, x: Exchange, req: Q, value: T): void;
  /**
   * A successful result that will never be delivered (the request was already
   * answered when it came): give back what it granted. Rows that grant
   * nothing (no lookup reference, no open) have none.
   */
  discard?(out: ReplyWriter, x: Exchange, req: Q, value: T): void;
}

/** Every row, keyed by opcode; the key fixes both the request type and the result type. */
export type OperationTable = { [O in DispatchedOp]: Operation<RequestOf[O], OperationResults[O]> };

const NOSYS: typeof NOT_IMPLEMENTED = NOT_IMPLEMENTED;

/** Answers a method that returns nothing on success. */
function replyEmpty(out: ReplyWriter, x: Exchange): void {
  out.empty(x);
}

function replyEntry(out: ReplyWriter, x: Exchange, _req: unknown, e: EntryOut): void {
  out.entry(x, e);
}

function discardEntry(out: ReplyWriter, _x: Exchange, _req: unknown, e: EntryOut): void {
  out.discardEntry(e);
}

function replyAttr(out: ReplyWriter, x: Exchange, _req: unknown, a: AttrOut): void {
  checkAttrType(a.attr.mode, x.op);
  out.struct(x, encodeAttrOut, a);
}

const WRITE_OUT_MAX = 0xffffffff;

export const OPERATIONS: OperationTable = {
  LOOKUP: { call: (fs, q, x) => (fs.lookup ? fs.lookup(q, x) : NOSYS), reply: replyEntry, discard: discardEntry },
  GETATTR: { call: (fs, q, x) => (fs.getattr ? fs.getattr(q, x) : NOSYS), reply: replyAttr },
  SETATTR: { call: (fs, q, x) => (fs.setattr ? fs.setattr(q, x) : NOSYS), reply: replyAttr },
  READLINK: {
    call: (fs, q, x) => (fs.readlink ? fs.readlink(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.bytes(x, typeof v === 'string' ? Buffer.from(v) : v),
  },
  SYMLINK: { call: (fs, q, x) => (fs.symlink ? fs.symlink(q, x) : NOSYS), reply: replyEntry, discard: discardEntry },
  MKNOD: { call: (fs, q, x) => (fs.mknod ? fs.mknod(q, x) : NOSYS), reply: replyEntry, discard: discardEntry },
  MKDIR: { call: (fs, q, x) => (fs.mkdir ? fs.mkdir(q, x) : NOSYS), reply: replyEntry, discard: discardEntry },
  UNLINK: { call: (fs, q, x) => (fs.unlink ? fs.unlink(q, x) : NOSYS), reply: replyEmpty },
  RMDIR: { call: (fs, q, x) => (fs.rmdir ? fs.rmdir(q, x) : NOSYS), reply: replyEmpty },
  RENAME: { call: (fs, q, x) => (fs.rename ? fs.rename(q, x) : NOSYS), reply: replyEmpty },
  LINK: { call: (fs, q, x) => (fs.link ? fs.link(q, x) : NOSYS), reply: replyEntry, discard: discardEntry },
  OPEN: {
    call: (fs, q, x) => (fs.open ? fs.open(q, x) : NOSYS),
    reply: (out, x, q, v) => out.open(x, q.flags, v, true),
    discard: (out, x, _q, v) => out.undoOpen(x, x.nodeid, v.fh, true, false),
  },
  READ: {
    call: (fs, q, x, out) => (fs.read ? fs.read(q, x, out.takeDataBuffer(x, q.size)) : NOSYS),
    reply: (out, x, _q, v) => out.read(x, v),
  },
  WRITE: {
    call: (fs, q, x) => (fs.write ? fs.write(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.struct(x, encodeWriteOut, v),
  },
  STATFS: {
    // Missing: a zeroed answer (df shows an empty filesystem) rather than ENOSYS, which statfs(2) would report.
    call: (fs, q, x) => (fs.statfs ? fs.statfs(q, x) : { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 512, namelen: 255, frsize: 0 }),
    reply: (out, x, _q, v) => out.struct(x, encodeStatfsOut, v),
  },
  RELEASE: {
    // The kernel has already left the file's I/O mode when RELEASE arrives.
    call: (fs, q, x, out) => {
      out.releasePassthrough(q.header.nodeid, q.fh);
      return fs.release ? fs.release(q, x) : undefined;
    },
    reply: replyEmpty,
  },
  FSYNC: { call: (fs, q, x) => (fs.fsync ? fs.fsync(q, x) : NOSYS), reply: replyEmpty },
  SETXATTR: { call: (fs, q, x) => (fs.setxattr ? fs.setxattr(q, x) : NOSYS), reply: replyEmpty },
  GETXATTR: {
    call: (fs, q, x) => (fs.getxattr ? fs.getxattr(q, x) : NOSYS),
    reply: (out, x, q, v) => out.sized(x, xattrValue(v), q.size),
  },
  LISTXATTR: {
    call: (fs, q, x) => (fs.listxattr ? fs.listxattr(q, x) : NOSYS),
    reply: (out, x, q, v) => out.sized(x, joinNames(v), q.size),
  },
  REMOVEXATTR: { call: (fs, q, x) => (fs.removexattr ? fs.removexattr(q, x) : NOSYS), reply: replyEmpty },
  FLUSH: { call: (fs, q, x) => (fs.flush ? fs.flush(q, x) : NOSYS), reply: replyEmpty },
  OPENDIR: {
    call: (fs, q, x) => (fs.opendir ? fs.opendir(q, x) : NOSYS),
    reply: (out, x, q, v) => out.open(x, q.flags, v, false),
    discard: (out, x, _q, v) => out.undoOpen(x, x.nodeid, v.fh, false, false),
  },
  READDIR: {
    call: (fs, q, x, out) => {
      if (!fs.readdir) return NOSYS;
      const sink = out.takeDirentWriter(x, q.size);
      return fs.readdir(q, x, sink);
    },
    reply: (out, x) => out.dir(x),
  },
  READDIRPLUS: {
    call: (fs, q, x, out) => {
      if (!fs.readdirplus) return NOSYS;
      const sink = out.takeDirentPlusWriter(x, q.size);
      return fs.readdirplus(q, x, sink);
    },
    reply: (out, x) => out.dir(x),
    discard: (out, x) => out.discardDir(x),
  },
  RELEASEDIR: { call: (fs, q, x) => (fs.releasedir ? fs.releasedir(q, x) : undefined), reply: replyEmpty },
  FSYNCDIR: { call: (fs, q, x) => (fs.fsyncdir ? fs.fsyncdir(q, x) : NOSYS), reply: replyEmpty },
  GETLK: {
    call: (fs, q, x) => (fs.getlk ? fs.getlk(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.struct(x, encodeLkOut, v),
  },
  SETLK: { call: (fs, q, x) => (fs.setlk ? fs.setlk(q, x) : NOSYS), reply: replyEmpty },
  ACCESS: { call: (fs, q, x) => (fs.access ? fs.access(q, x) : NOSYS), reply: replyEmpty },
  CREATE: {
    call: (fs, q, x) => (fs.create ? fs.create(q, x) : NOSYS),
    reply: (out, x, q, v) => out.create(x, q.flags, v),
    discard: (out, x, _q, v) => out.discardCreate(x, v),
  },
  TMPFILE: {
    call: (fs, q, x) => (fs.tmpfile ? fs.tmpfile(q, x) : NOSYS),
    reply: (out, x, q, v) => out.create(x, q.flags, v),
    discard: (out, x, _q, v) => out.discardCreate(x, v),
  },
  BMAP: {
    call: (fs, q, x) => (fs.bmap ? fs.bmap(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.struct(x, encodeBmapOut, v),
  },
  IOCTL: {
    call: (fs, q, x) => (fs.ioctl ? fs.ioctl(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.ioctl(x, v),
  },
  POLL: {
    call: (fs, q, x) => (fs.poll ? fs.poll(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.struct(x, encodePollOut, v),
  },
  FALLOCATE: { call: (fs, q, x) => (fs.fallocate ? fs.fallocate(q, x) : NOSYS), reply: replyEmpty },
  LSEEK: {
    call: (fs, q, x) => (fs.lseek ? fs.lseek(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.struct(x, encodeLseekOut, v),
  },
  COPY_FILE_RANGE: {
    call: (fs, q, x) => (fs.copyFileRange ? fs.copyFileRange(q, x) : NOSYS),
    // COPY_FILE_RANGE_64 answers with a 64-bit count; the original opcode with fuse_write_out's 32 bits.
    reply: (out, x, q, v) => (q.wide ? out.struct(x, encodeCopyFileRangeOut, v) : out.struct(x, encodeWriteOut, Math.min(v, WRITE_OUT_MAX))),
  },
  SYNCFS: { call: (fs, q, x) => (fs.syncfs ? fs.syncfs(q, x) : NOSYS), reply: replyEmpty },
  STATX: {
    call: (fs, q, x) => (fs.statx ? fs.statx(q, x) : NOSYS),
    reply: (out, x, _q, v) => out.struct(x, encodeStatxOut, v),
  },
};

/** GETXATTR's value as bytes: a string (an easy slip where a Buffer is asked for) as its UTF-8; anything else is the handler's error. */
function xattrValue(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`getxattr must give the value as a Buffer (or a string), not ${v === null ? 'null' : typeof v}`);
}

/** LISTXATTR's reply: each name followed by a NUL. */
function joinNames(names: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of names) parts.push(typeof n === 'string' ? Buffer.from(n) : n, Buffer.alloc(1));
  return Buffer.concat(parts);
}
