/**
 * Notifications: messages the server sends the kernel unasked (unique 0),
 * written at once like replies. The session hands one `Notifier` to the
 * filesystem's `init`.
 */
import { encodeNotifyInvalEntry, encodeNotifyInvalInode, encodeNotifyPrune } from '../abi/index.js';
import type { Notifier } from '../fs/filesystem.js';
import type { Channel } from '../transport/channel.js';
import { constants as osConstants } from 'node:os';

const E = osConstants.errno;
/** Node ids per NOTIFY_PRUNE message: 32 bytes of headers plus 8 per id fit the 64 KiB buffer. */
const PRUNE_BATCH = 4096;

/** Writes notifications through the channel; `minor` is the negotiated protocol minor once INIT is done. */
export class ChannelNotifier implements Notifier {
  private readonly buf = Buffer.allocUnsafeSlow(64 * 1024);

  constructor(private readonly channel: Channel, private readonly minor: () => number) {}

  invalInode(nodeid: number, offset = 0, length = 0): number {
    return this.channel.write(this.buf, encodeNotifyInvalInode(this.buf, nodeid, offset, length));
  }

  invalEntry(parent: number, name: string | Buffer): number {
    const bytes = typeof name === 'string' ? Buffer.from(name) : name;
    return this.channel.write(this.buf, encodeNotifyInvalEntry(this.buf, parent, bytes, 0));
  }

  prune(nodeids: readonly number[]): number {
    if (this.minor() < 45) return -E.ENOSYS;
    for (let i = 0; i < nodeids.length; i += PRUNE_BATCH) {
      const r = this.channel.write(this.buf, encodeNotifyPrune(this.buf, nodeids.slice(i, i + PRUNE_BATCH)));
      if (r < 0) return r;
    }
    return 0;
  }
}
