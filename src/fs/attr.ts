/**
 * Helpers for the values every filesystem builds: attributes from a Node
 * `fs.Stats` (or from a mode and a size with sensible defaults), and node ids
 * from plain numbers.
 */
import type { BigIntStats, Stats } from 'node:fs';
import type { Attr, NodeId } from '../abi/types.js';

const NS_PER_MS = 1_000_000;
const NS_PER_S = 1_000_000_000n;

/**
 * A node id from a number: an integer from 1 (the root) to 2^53 - 1.
 *
 * Node ids are branded so that one is never passed where an inode number, a
 * file handle or a count is expected: they look alike (all integers) but mean
 * different things to the kernel, and mixing them is a silent bug (the kernel
 * would cache the wrong inode). This function is the one place a number
 * becomes a node id; it throws a RangeError for anything else.
 */
export function nodeId(n: number): NodeId {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`not a node id: ${n} (node ids are integers from 1)`);
  return n as NodeId;
}

/** Seconds and nanoseconds of a time given as milliseconds since the epoch (fractions kept to the nanosecond where the double allows). */
function splitMs(ms: number): [number, number] {
  const sec = Math.floor(ms / 1000);
  return [sec, Math.round((ms - sec * 1000) * NS_PER_MS)];
}

function splitNs(ns: bigint): [number, number] {
  let sec = ns / NS_PER_S;
  let nsec = ns % NS_PER_S;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS_PER_S;
  }
  return [Number(sec), Number(nsec)];
}

/**
 * The attributes of a `fs.Stats` or `fs.BigIntStats` (from `fs.stat`,
 * `fs.lstat`, `fs.fstat`), as GETATTR and LOOKUP replies carry them. With
 * BigIntStats (`{ bigint: true }`) times keep full nanosecond precision; with
 * Stats they are as precise as the double's milliseconds.
 *
 * `ino` is the source's inode number, shown in `st_ino`; pass `{ ino }` to
 * show another (the node id, say).
 */
export function attrFromStats(st: Stats | BigIntStats, override: Partial<Attr> = {}): Attr {
  let a: Attr;
  if (typeof st.size === 'bigint') {
    const b = st as BigIntStats;
    const [atimeSec, atimeNsec] = splitNs(b.atimeNs);
    const [mtimeSec, mtimeNsec] = splitNs(b.mtimeNs);
    const [ctimeSec, ctimeNsec] = splitNs(b.ctimeNs);
    a = {
      ino: Number(b.ino), size: Number(b.size), blocks: Number(b.blocks), mode: Number(b.mode), nlink: Number(b.nlink),
      uid: Number(b.uid), gid: Number(b.gid), rdev: Number(b.rdev), blksize: Number(b.blksize),
      atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec,
    };
  } else {
    const s = st as Stats;
    const [atimeSec, atimeNsec] = splitMs(s.atimeMs);
    const [mtimeSec, mtimeNsec] = splitMs(s.mtimeMs);
    const [ctimeSec, ctimeNsec] = splitMs(s.ctimeMs);
    a = {
      ino: s.ino, size: s.size, blocks: s.blocks, mode: s.mode, nlink: s.nlink, uid: s.uid, gid: s.gid, rdev: s.rdev,
      blksize: s.blksize, atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec,
    };
  }
  return Object.assign(a, override);
}

/** What `makeAttr` needs: the type and permission bits; everything else has a default. */
export interface AttrInit extends Partial<Omit<Attr, 'mode'>> {
  /** S_IFMT type bits plus permission bits, e.g. `S_IFREG | 0o644`. */
  mode: number;
  /** All three times at once, as a Date or milliseconds since the epoch (default: now). Overridden by the per-field values. */
  time?: Date | number;
}

/**
 * Attributes with sensible defaults: size 0, one link (two for a directory),
 * owned by this process's user and group, all three times now, 512-byte
 * blocks counted from the size, 4 KiB preferred I/O size. `ino` defaults to 0;
 * set it (usually to the node id) so that `st_ino` is unique.
 */
export function makeAttr(init: AttrInit): Attr {
  const { time, ...fields } = init;
  const ms = time === undefined ? Date.now() : typeof time === 'number' ? time : time.getTime();
  const [sec, nsec] = splitMs(ms);
  const size = fields.size ?? 0;
  return {
    ino: 0,
    size,
    blocks: Math.ceil(size / 512),
    nlink: (init.mode & 0o170000) === 0o040000 ? 2 : 1,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    rdev: 0,
    blksize: 4096,
    atimeSec: sec, atimeNsec: nsec, mtimeSec: sec, mtimeNsec: nsec, ctimeSec: sec, ctimeNsec: nsec,
    ...fields,
  };
}
