/**
 * INIT negotiation as a pure function: what the kernel offered plus what the
 * filesystem wants gives the reply. Kept apart from the session so every
 * protocol minor can be tested without a mount.
 */
import { COMPAT_INIT_OUT_SIZE, InitFlag, INIT_FLAG_SINCE_MINOR, KERNEL_VERSION, KERNEL_MINOR_VERSION, MIN_SUPPORTED_MINOR } from '../abi/constants.js';
import type { InitIn, InitOut } from '../abi/types.js';

const PAGE = 4096;

/**
 * Capabilities asked for unless refused; each is granted only if the kernel
 * offers it. ABORT_ERROR: a connection aborted from outside (fusectl, the
 * kernel's request timeout) then ends as aborted, not as unmounted, so the
 * owner knows a dead mount is left to detach.
 */
export const DEFAULT_WANT =
  InitFlag.ASYNC_READ | InitFlag.ATOMIC_O_TRUNC | InitFlag.BIG_WRITES | InitFlag.AUTO_INVAL_DATA |
  InitFlag.ASYNC_DIO | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES | InitFlag.SETXATTR_EXT |
  InitFlag.INIT_EXT | InitFlag.DIRECT_IO_ALLOW_MMAP | InitFlag.ABORT_ERROR;

export interface NegotiationWishes {
  /** Capabilities wanted beyond DEFAULT_WANT (e.g. READDIRPLUS when the filesystem lists with attributes). */
  want: bigint;
  refuse: bigint;
  maxWrite: number;
  maxReadahead?: number;
  maxBackground: number;
  /** Announced only when PASSTHROUGH is granted (1 or 2). */
  maxStackDepth: number;
  /**
   * Seconds after which the kernel aborts the whole connection if a request is
   * still unanswered (REQUEST_TIMEOUT, 7.43+); 0 = never. At most 65535.
   */
  requestTimeout?: number;
}

export type Negotiation =
  /** Reply with just our major; the kernel sends INIT again. */
  | { kind: 'retry'; reply: InitOut; replySize: typeof COMPAT_INIT_OUT_SIZE }
  | { kind: 'refuse'; reason: string }
  | { kind: 'accept'; minor: number; enabled: bigint; reply: InitOut };

function emptyReply(major: number, minor: number): InitOut {
  return {
    major, minor, maxReadahead: 0, flags: 0n, maxBackground: 0, congestionThreshold: 0, maxWrite: 0,
    timeGran: 0, maxPages: 0, mapAlignment: 0, maxStackDepth: 0, requestTimeout: 0,
  };
}

export function negotiateInit(k: InitIn, w: NegotiationWishes): Negotiation {
  if (k.major > KERNEL_VERSION) return { kind: 'retry', reply: emptyReply(KERNEL_VERSION, KERNEL_MINOR_VERSION), replySize: COMPAT_INIT_OUT_SIZE };
  const minor = Math.min(k.minor, KERNEL_MINOR_VERSION);
  if (k.major < KERNEL_VERSION || minor < MIN_SUPPORTED_MINOR) {
    return { kind: 'refuse', reason: `kernel FUSE protocol ${k.major}.${k.minor} is older than the minimum 7.${MIN_SUPPORTED_MINOR}` };
  }
  const requestTimeout = Math.min(Math.max(0, Math.ceil(w.requestTimeout ?? 0)), 0xffff);
  const want = DEFAULT_WANT | w.want | (requestTimeout > 0 ? InitFlag.REQUEST_TIMEOUT : 0n);
  let enabled = want & ~w.refuse & k.flags;
  // A bit the kernel offers but that postdates the negotiated minor would be misread: drop it.
  for (const [name, bit] of Object.entries(InitFlag)) {
    if ((enabled & bit) !== 0n && INIT_FLAG_SINCE_MINOR[name as keyof typeof InitFlag] > minor) enabled &= ~bit;
  }
  // Writeback caching switches passthrough off for the whole connection: passthrough wins.
  if ((enabled & InitFlag.PASSTHROUGH) !== 0n) enabled &= ~InitFlag.WRITEBACK_CACHE;
  const maxBackground = Math.min(w.maxBackground, 0xffff);
  const reply: InitOut = {
    major: KERNEL_VERSION,
    minor,
    flags: enabled,
    maxReadahead: Math.min(k.maxReadahead, w.maxReadahead ?? k.maxReadahead),
    maxBackground,
    congestionThreshold: Math.floor((maxBackground * 3) / 4),
    maxWrite: w.maxWrite,
    timeGran: 1,
    // The field is 16 bits wide; the kernel clamps it to its own max_pages_limit.
    maxPages: (enabled & InitFlag.MAX_PAGES) !== 0n ? Math.min(Math.ceil(w.maxWrite / PAGE), 0xffff) : 0,
    mapAlignment: 0,
    maxStackDepth: (enabled & InitFlag.PASSTHROUGH) !== 0n ? w.maxStackDepth : 0,
    requestTimeout: (enabled & InitFlag.REQUEST_TIMEOUT) !== 0n ? requestTimeout : 0,
  };
  return { kind: 'accept', minor, enabled, reply };
}
