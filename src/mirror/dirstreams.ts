/**
 * Open directory streams kept between READDIR requests.
 *
 * The mirror declines OPENDIR (so the kernel caches listings itself), which
 * leaves it no handle to keep a directory open on: each READDIR names only
 * the directory and a cookie. Opening the directory again for every READDIR
 * and seeking to the cookie is what a walk paid before: the kernel asks for
 * one page of records at a time, so a directory of 600 entries took about 30
 * opens, seeks and reads of the same 4 KiB (on ext4 a seek to a hash cookie
 * also rebuilds the directory's hash-ordered read state). Measured on a cold
 * `find -ls` of 5,000 entries: getdents64 took 116 µs a call on average.
 *
 * So the stream a READDIR ends with is kept, with the records it read but
 * could not deliver, under the directory's node id and the cookie the next
 * READDIR will name. A READDIR that names that cookie continues it; any
 * other offset (a second reader, a rewind, offset 0) opens afresh. A stream
 * is closed when its directory has been read to the end and the kernel asked
 * once more (the empty READDIR that ends every listing), when it has not been
 * used for a while, or when too many are open.
 */
import { tryClose } from '../sys/index.js';

/** Streams kept open at most by default; the least recently used is closed beyond. */
const MAX_STREAMS = 32;
/** A stream not continued for this long (ms) is closed. */
const STREAM_IDLE_MS = 2000;
/** Bytes of records read at once into a stream's buffer. */
export const STREAM_BUFFER_BYTES = 32 * 1024;

/** One open directory, positioned where its last READDIR stopped. */
export interface DirectoryStream {
  /** The directory's node id. */
  readonly nodeid: number;
  /** An O_RDONLY descriptor of the directory. */
  readonly fd: number;
  /** getdents64 records; those in [start, end) are read but not delivered yet. */
  readonly buf: Buffer;
  start: number;
  end: number;
  /** The cookie the next READDIR names to continue here: the last delivered record's. */
  cookie: bigint;
  /** getdents64 has returned 0: nothing is left after the records held. */
  atEnd: boolean;
  lastUse: number;
}

/** The directory streams kept between READDIRs, one per directory at most. */
export class DirectoryStreams {
  private readonly streams = new Map<number, DirectoryStream>();
  private readonly spareBuffers: Buffer[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  /** Streams kept open at most (each holds a descriptor: fewer under a low descriptor limit). */
  maxStreams = MAX_STREAMS;

  /** How many are open. */
  get size(): number {
    return this.streams.size;
  }

  /**
   * The stream of `nodeid` positioned at `cookie`, taken out (the caller
   * owns it until it gives it back with `keep` or `close`); undefined when
   * none is. Offset 0 always starts afresh: the listing may have changed.
   */
  take(nodeid: number, cookie: bigint): DirectoryStream | undefined {
    const s = this.streams.get(nodeid);
    if (!s || cookie === 0n || s.cookie !== cookie) return undefined;
    this.streams.delete(nodeid);
    return s;
  }

  /** A new stream on `fd` (which it then owns), positioned at `cookie`. */
  create(nodeid: number, fd: number, cookie: bigint): DirectoryStream {
    const buf = this.spareBuffers.pop() ?? Buffer.allocUnsafeSlow(STREAM_BUFFER_BYTES);
    return { nodeid, fd, buf, start: 0, end: 0, cookie, atEnd: false, lastUse: 0 };
  }

  /**
   * Keeps `s` for the READDIR that continues it, replacing (and closing) any
   * other stream of its directory. One at its end is kept too: the kernel
   * ends every listing with one more READDIR, which it then answers.
   */
  keep(s: DirectoryStream, now: number): void {
    const old = this.streams.get(s.nodeid);
    if (old) {
      this.streams.delete(s.nodeid);
      this.close(old);
    }
    s.lastUse = now;
    this.streams.set(s.nodeid, s);
    // Maps iterate in insertion order and keep() re-inserts: the first is the least recently used.
    if (this.streams.size > this.maxStreams) this.closeLeastRecent();
    this.sweeper ??= setTimeout(() => this.sweep(), STREAM_IDLE_MS).unref();
  }

  /** Closes `s`, which is not kept (taken, or never kept). */
  close(s: DirectoryStream): void {
    tryClose(s.fd);
    this.spareBuffers.push(s.buf);
  }

  /** Closes the least recently used stream kept; false when none is. */
  closeLeastRecent(): boolean {
    const oldest = this.streams.values().next().value as DirectoryStream | undefined;
    if (!oldest) return false;
    this.streams.delete(oldest.nodeid);
    this.close(oldest);
    return true;
  }

  /** Closes every stream (the mirror's destroy). */
  clear(): void {
    if (this.sweeper) clearTimeout(this.sweeper);
    this.sweeper = undefined;
    for (const s of this.streams.values()) this.close(s);
    this.streams.clear();
  }

  /** Closes the streams not continued for STREAM_IDLE_MS, and comes back while any are left. */
  private sweep(): void {
    this.sweeper = undefined;
    const now = performance.now();
    for (const s of this.streams.values()) {
      if (now - s.lastUse < STREAM_IDLE_MS) continue;
      this.streams.delete(s.nodeid);
      this.close(s);
    }
    if (this.streams.size > 0) this.sweeper = setTimeout(() => this.sweep(), STREAM_IDLE_MS).unref();
  }
}
