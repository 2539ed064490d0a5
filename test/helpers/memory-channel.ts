/**
 * An in-memory channel: the session's requests come from the test as bytes
 * and its replies are kept as bytes, so codec, dispatch, errors, interrupts
 * and lookup counting can be checked exactly, with no mount and no root.
 */
import type { Channel, ChannelEnd, ChannelHandlers } from '../../src/transport/channel.js';
import { parseReply } from './wire.js';
import type { ParsedReply } from './wire.js';

export class MemoryChannel implements Channel {
  readonly readBufferSize: number;
  readonly replyScratch: Buffer;
  /** Every reply and notification written, as copies, in order. */
  readonly written: Buffer[] = [];
  /** Request buffers handed to the session and not yet released. */
  outstanding = 0;
  /** Large buffers taken and not given back. */
  largeTaken = 0;
  /** Backing ids registered and not closed. */
  readonly backingIds = new Set<number>();
  /** What the next writes return (a negative errno simulates an interrupted request, whose reply the kernel refuses). */
  writeResult = 0;
  private nextBackingId = 1;
  private handlers: ChannelHandlers | undefined;
  readonly faults: string[] = [];

  constructor(maxWrite = 1 << 20) {
    this.readBufferSize = maxWrite + 4096;
    this.replyScratch = Buffer.alloc(this.readBufferSize);
  }

  start(handlers: ChannelHandlers): void {
    this.handlers = handlers;
  }

  /** Hands one request to the session, as the device read would. */
  send(bytes: Buffer): void {
    if (!this.handlers) throw new Error('channel not started');
    const buf = Buffer.alloc(this.readBufferSize);
    bytes.copy(buf);
    this.outstanding++;
    let released = false;
    try {
      this.handlers.request({
        buf,
        len: bytes.length,
        release: () => {
          if (!released) {
            released = true;
            this.outstanding--;
          }
        },
      });
    } catch (err) {
      this.faults.push(String(err));
    }
  }

  write(buf: Buffer, len: number): number {
    this.written.push(Buffer.from(buf.subarray(0, len)));
    return this.writeResult;
  }

  takeLargeBuffer(): Buffer | undefined {
    this.largeTaken++;
    return Buffer.alloc(this.readBufferSize);
  }

  giveLargeBuffer(_b: Buffer): void {
    this.largeTaken--;
  }

  backingOpen(_fd: number): number {
    const id = this.nextBackingId++;
    this.backingIds.add(id);
    return id;
  }

  backingClose(id: number): void {
    this.backingIds.delete(id);
  }

  /** Ends the connection as an unmount or abort would. */
  end(end: ChannelEnd = { reason: 'unmounted' }): void {
    this.handlers?.end(end);
  }

  /** The replies written so far, parsed; `clear` empties the list. */
  replies(clear = true): ParsedReply[] {
    const r = this.written.map(parseReply);
    if (clear) this.written.length = 0;
    return r;
  }

  /** The one reply to `unique`, failing if there is not exactly one. */
  replyTo(unique: bigint): ParsedReply {
    const r = this.written.map(parseReply).filter((p) => p.unique === unique);
    if (r.length !== 1) throw new Error(`expected one reply to ${unique}, found ${r.length}`);
    return r[0]!;
  }
}
