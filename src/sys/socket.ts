/**
 * UNIX sockets and descriptor flags: socketpair(2), recvmsg(2) with
 * SCM_RIGHTS (how a descriptor opened by another process, such as
 * fusermount3, reaches this one; Node cannot receive one by itself) and
 * fcntl(2) for close-on-exec and non-blocking flags.
 *
 * Same conventions as libc.ts: synchronous koffi calls, SysError on failure.
 * libc is loaded here on its own handle (koffi returns the same library).
 */

import os from 'node:os';
import koffi from 'koffi';
import { throwErrno } from './errors.js';
import { O_NONBLOCK } from './constants.js';

// Linux values, identical on x86-64 and arm64 (both use the generic
// definitions for these).
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
/** recvmsg: the control buffer was too small; descriptors that did not fit were closed by the kernel. */
export const MSG_CTRUNC = 0x8;
export const MSG_DONTWAIT = 0x40;
/** recvmsg: set close-on-exec on received descriptors atomically. */
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const FD_CLOEXEC = 1;

/**
 * Struct layouts for recvmsg, in bytes. They are the same on x86-64 and
 * arm64 (both LP64: pointers and size_t are 8 bytes, int and socklen_t 4, and
 * the control-message alignment is sizeof(size_t) = 8), so one table serves
 * both.
 */
const LAYOUT = {
  msghdr: { size: 56, name: 0, namelen: 8, iov: 16, iovlen: 24, control: 32, controllen: 40, flags: 48 },
  iovec: { size: 16, base: 0, len: 8 },
  /** `struct cmsghdr`; CMSG_DATA starts at `data` (CMSG_ALIGN(sizeof(struct cmsghdr))). */
  cmsghdr: { size: 16, len: 0, level: 8, type: 12, data: 16 },
  /** CMSG_ALIGN granularity. */
  align: 8,
} as const;

const cmsgAlign = (n: number) => (n + LAYOUT.align - 1) & ~(LAYOUT.align - 1);
/** CMSG_SPACE(n): room one control message with n data bytes takes. */
const cmsgSpace = (n: number) => LAYOUT.cmsghdr.data + cmsgAlign(n);

const { EINTR, EAGAIN } = os.constants.errno;

const libc = koffi.load('libc.so.6');

type Ptr = Buffer | null;
const c_socketpair = libc.func('int socketpair(int, int, int, void *)') as unknown as (
  domain: number, type: number, protocol: number, sv: Ptr,
) => number;
const c_recvmsg = libc.func('intptr_t recvmsg(int, void *, int)') as unknown as (fd: number, msg: Ptr, flags: number) => number;
const c_sendmsg = libc.func('intptr_t sendmsg(int, const void *, int)') as unknown as (fd: number, msg: Ptr, flags: number) => number;
// fcntl is variadic; its third argument is an int for every command used here,
// which travels in the same register either way on both ABIs.
const c_fcntl = libc.func('int fcntl(int, int, int)') as unknown as (fd: number, cmd: number, arg: number) => number;

/** A connected pair of sockets; returns both descriptors. `type` may include SOCK_CLOEXEC and SOCK_NONBLOCK. */
export function socketpair(domain: number, type: number, protocol = 0): [number, number] {
  const sv = Buffer.alloc(8);
  if (c_socketpair(domain, type, protocol, sv) < 0) throwErrno('socketpair');
  return [sv.readInt32LE(0), sv.readInt32LE(4)];
}

/** fcntl(fd, cmd, arg) for the integer commands (F_GETFD, F_SETFD, F_GETFL, F_SETFL). */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  const r = c_fcntl(fd, cmd, arg);
  if (r < 0) throwErrno('fcntl');
  return r;
}

/** Sets or clears O_NONBLOCK on the open file description of `fd`. */
export function setNonBlocking(fd: number, on: boolean): void {
  const fl = fcntl(fd, F_GETFL);
  const want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
  if (want !== fl) fcntl(fd, F_SETFL, want);
}

/** Whether `fd` has FD_CLOEXEC set. */
export function isCloseOnExec(fd: number): boolean {
  return (fcntl(fd, F_GETFD) & FD_CLOEXEC) !== 0;
}

/** What one recvmsg brought. */
export interface ReceivedMessage {
  /** Data bytes received; 0 means the peer closed the connection. */
  bytes: number;
  /** The data bytes themselves (a copy). */
  data: Buffer;
  /** Descriptors from SCM_RIGHTS control messages, in order; the caller owns (and must close) them. */
  fds: number[];
  /** MSG_CTRUNC: the control buffer was too small, and descriptors that did not fit are lost. */
  truncated: boolean;
  /** Control messages that were not SCM_RIGHTS at SOL_SOCKET, as "level/type". */
  otherControl: string[];
}

interface MessageBlock {
  block: Buffer;
  dataAt: number;
  controlAt: number;
}

/**
 * One block holding a msghdr, its single iovec, the data bytes and the control
 * buffer, with the header's pointers filled in. A Buffer's memory does not
 * move, so the addresses stay valid while the block is referenced.
 */
function messageBlock(dataLen: number, controlLen: number): MessageBlock {
  const L = LAYOUT;
  const iovAt = L.msghdr.size;
  const dataAt = iovAt + L.iovec.size;
  const controlAt = dataAt + cmsgAlign(Math.max(dataLen, 1));
  const block = Buffer.alloc(controlAt + controlLen);
  const base = koffi.address(block);
  block.writeBigUInt64LE(base + BigInt(iovAt), L.msghdr.iov);
  block.writeBigUInt64LE(1n, L.msghdr.iovlen);
  block.writeBigUInt64LE(controlLen ? base + BigInt(controlAt) : 0n, L.msghdr.control);
  block.writeBigUInt64LE(BigInt(controlLen), L.msghdr.controllen);
  block.writeBigUInt64LE(base + BigInt(dataAt), iovAt + L.iovec.base);
  block.writeBigUInt64LE(BigInt(dataLen), iovAt + L.iovec.len);
  return { block, dataAt, controlAt };
}

/**
 * recvmsg(2) with room for `maxFds` descriptors and `maxData` data bytes.
 * Returns undefined instead of throwing on EAGAIN (with MSG_DONTWAIT or a
 * non-blocking socket); retries EINTR. Pass MSG_CMSG_CLOEXEC in `flags` to
 * receive the descriptors close-on-exec.
 */
export function recvmsg(fd: number, flags: number, maxFds = 1, maxData = 1): ReceivedMessage | undefined {
  const L = LAYOUT;
  const { block, dataAt, controlAt } = messageBlock(maxData, cmsgSpace(4 * maxFds));
  let n: number;
  for (;;) {
    n = c_recvmsg(fd, block, flags);
    if (n >= 0) break;
    const e = koffi.errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return undefined;
    throwErrno('recvmsg', e);
  }
  const msgFlags = block.readInt32LE(L.msghdr.flags);
  const used = Number(block.readBigUInt64LE(L.msghdr.controllen));
  const fds: number[] = [];
  const otherControl: string[] = [];
  // Walk the control messages as CMSG_FIRSTHDR/CMSG_NXTHDR do.
  let at = 0;
  while (at + L.cmsghdr.size <= used) {
    const h = controlAt + at;
    const len = Number(block.readBigUInt64LE(h + L.cmsghdr.len));
    if (len < L.cmsghdr.data || at + len > used) break;
    const level = block.readInt32LE(h + L.cmsghdr.level);
    const type = block.readInt32LE(h + L.cmsghdr.type);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let p = L.cmsghdr.data; p + 4 <= len; p += 4) fds.push(block.readInt32LE(h + p));
    } else {
      otherControl.push(`${level}/${type}`);
    }
    at += cmsgAlign(len);
  }
  return {
    bytes: n,
    data: Buffer.from(block.subarray(dataAt, dataAt + n)),
    fds,
    truncated: (msgFlags & MSG_CTRUNC) !== 0,
    otherControl,
  };
}

/**
 * sendmsg(2) of `data` (at least one byte: a descriptor cannot travel alone on
 * a stream socket) with `fds` in one SCM_RIGHTS message. Returns the bytes sent.
 */
export function sendmsg(fd: number, data: Buffer, fds: readonly number[] = [], flags = 0): number {
  const L = LAYOUT;
  const controlLen = fds.length ? cmsgSpace(4 * fds.length) : 0;
  const { block, dataAt, controlAt } = messageBlock(data.length, controlLen);
  data.copy(block, dataAt);
  if (fds.length) {
    block.writeBigUInt64LE(BigInt(L.cmsghdr.data + 4 * fds.length), controlAt + L.cmsghdr.len);
    block.writeInt32LE(SOL_SOCKET, controlAt + L.cmsghdr.level);
    block.writeInt32LE(SCM_RIGHTS, controlAt + L.cmsghdr.type);
    for (let i = 0; i < fds.length; i++) block.writeInt32LE(fds[i] as number, controlAt + L.cmsghdr.data + 4 * i);
  }
  for (;;) {
    const n = c_sendmsg(fd, block, flags);
    if (n >= 0) return n;
    const e = koffi.errno();
    if (e !== EINTR) throwErrno('sendmsg', e);
  }
}
