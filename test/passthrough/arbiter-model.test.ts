// The arbiter run as a server against the kernel model (test/passthrough/kernel-model.ts):
// every sequence of events up to a depth, then long random sequences. The
// server is the arbiter plus a backing registry that issues ids through the
// model's BACKING_OPEN and closes the id `released` hands back. The kernel
// drops its counts at release(2) and the server hears RELEASE later, as a
// separate event; replies can also be held in flight before the kernel
// processes them (several server threads, several openers).
//
// Events in a state: open(inode, wish, access) always; release of any file
// the kernel has open; MAP_SHARED mmap of any open file whose reply had
// DIRECT_IO (again and again: repeats are no-ops for the kernel, but allowed);
// delivery of any queued RELEASE, in any order; with split opens, the kernel
// processing of any reply in flight, in any order. Only impossible events are
// left out. Every prefix is also drained (finish, close, deliver everything)
// and checked for leaks.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Fopen } from '../../src/abi/constants.js';
import { IoModeArbiter, PASSTHROUGH_FORBIDDEN_FLAGS } from '../../src/passthrough/arbiter.js';
import type { ArbiterDecision, InodeIoState, IoMode, IoModeArbiterOptions } from '../../src/passthrough/arbiter.js';
import { KernelIoModel } from './kernel-model.js';
import type { Access, KernelRelease, OpenReplyModel } from './kernel-model.js';
import { mulberry32 } from '../helpers/prng.js';

const WISHES: readonly IoMode[] = ['cached', 'direct', 'passthrough'];
const ACCESSES: readonly Access[] = ['read-only', 'read-write'];
/** The caller sets every FOPEN_* bit; the decision alone must make the reply acceptable. */
const CALLER_FLAGS = 0xff;

interface ArbiterUnderTest {
  decide(key: number, wish: IoMode): ArbiterDecision;
  opened(key: number, decision: ArbiterDecision, backing?: number): void;
  released(key: number, mode: IoMode): number | undefined;
  backingOf(key: number): number | undefined;
  state(key: number): InodeIoState<number>;
  readonly trackedInodes: number;
}

type Event =
  | { kind: 'open'; inode: number; wish: IoMode; access: Access }
  /** The kernel processes a reply the server sent earlier (only with `splitOpens`). */
  | { kind: 'finish'; fh: number }
  /** Last close of the file with this handle: the kernel updates its counts and queues RELEASE. */
  | { kind: 'release'; fh: number }
  /** MAP_SHARED mmap of a DIRECT_IO file; the server never hears of it. */
  | { kind: 'mmap'; fh: number }
  /** The server receives a queued RELEASE. */
  | { kind: 'deliver'; fh: number };

/** `fh` is the handle the server gave an open: opens are numbered 1, 2, 3 … in order. */
function describe(e: Event, fh: number): string {
  return e.kind === 'open' ? `open(ino${e.inode}, ${e.wish}, ${e.access}) → fh${fh}` : `${e.kind}(fh${e.fh})`;
}

interface WorldConfig {
  inodes: number;
  /** Server reply and kernel processing of an open are separate events. */
  splitOpens: boolean;
  arbiter: () => ArbiterUnderTest;
  /** Also check the arbiter's counters against the server's own handle table (off for mutants). */
  whiteBox: boolean;
}

/** Situations worth reaching; the exhaustive test asserts each was reached. */
interface Coverage {
  fallbackCachedOpens: number;
  fallbackDirectOpens: number;
  forcedPassthrough: number;
  /** Passthrough reply reusing a backing the kernel had already dropped from the inode (release or reply lag). */
  reuseAfterKernelDropped: number;
  /** A direct file's shared mmap that put the inode in cached mode. */
  mmapMadeCached: number;
  /** A passthrough wish refused while the kernel had no cached user (the server could not know). */
  fallbackWithoutKernelConflict: number;
  /** Backing ids closed after the server heard the last passthrough RELEASE of their inode. */
  closes: number;
}

function newCoverage(): Coverage {
  return { fallbackCachedOpens: 0, fallbackDirectOpens: 0, forcedPassthrough: 0, reuseAfterKernelDropped: 0, mmapMadeCached: 0, fallbackWithoutKernelConflict: 0, closes: 0 };
}

class Violation extends Error {}

/** `message` is a function when building it costs: checks run millions of times. */
function check(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new Violation(typeof message === 'string' ? message : message());
}

interface InflightReply {
  fh: number;
  inode: number;
  access: Access;
  reply: OpenReplyModel;
}

class World {
  readonly kernel = new KernelIoModel();
  readonly arbiter: ArbiterUnderTest;
  /** The server's open handles (answered, RELEASE not yet received) and the mode each was answered with. */
  private readonly handles = new Map<number, { inode: number; mode: IoMode }>();
  private readonly inflight: InflightReply[] = [];
  private readonly pending: KernelRelease[] = [];
  private readonly registered: number[] = [];
  private readonly closed = new Map<number, number>();
  private nextFh = 1;

  constructor(private readonly cfg: WorldConfig, private readonly cov: Coverage) {
    this.arbiter = cfg.arbiter();
  }

  events(): Event[] {
    const out: Event[] = [];
    for (let inode = 1; inode <= this.cfg.inodes; inode++) {
      for (const wish of WISHES) for (const access of ACCESSES) out.push({ kind: 'open', inode, wish, access });
    }
    for (const r of this.inflight) out.push({ kind: 'finish', fh: r.fh });
    const files = this.kernel.openFiles();
    for (const f of files) out.push({ kind: 'release', fh: f.fh });
    for (const f of files) if (f.openFlags & Fopen.DIRECT_IO) out.push({ kind: 'mmap', fh: f.fh });
    for (const r of this.pending) out.push({ kind: 'deliver', fh: r.fh });
    return out;
  }

  apply(e: Event): void {
    switch (e.kind) {
      case 'open':
        this.serverOpen(e.inode, e.wish, e.access);
        break;
      case 'finish': {
        const i = this.inflight.findIndex((r) => r.fh === e.fh);
        check(i >= 0, () => `no reply in flight for fh${e.fh}`);
        this.kernelFinish(this.inflight.splice(i, 1)[0]!);
        break;
      }
      case 'release':
        this.pending.push(this.kernel.release(this.fileOf(e.fh)));
        break;
      case 'mmap': {
        const file = this.fileOf(e.fh);
        const ino = this.kernel.file(file)!.inode;
        const before = this.kernel.inode(ino).iocachectr;
        const res = this.kernel.mmapShared(file);
        check(res === 'ok', () => `shared mmap of direct fh${e.fh} failed with ${res}`);
        if (this.kernel.inode(ino).iocachectr > before) this.cov.mmapMadeCached++;
        break;
      }
      case 'deliver': {
        const i = this.pending.findIndex((r) => r.fh === e.fh);
        check(i >= 0, () => `no RELEASE pending for fh${e.fh}`);
        this.serverRelease(this.pending.splice(i, 1)[0]!);
        break;
      }
    }
    this.checkStep();
  }

  private fileOf(fh: number): number {
    const f = this.kernel.openFiles().find((x) => x.fh === fh);
    check(f !== undefined, () => `fh${fh} is not open in the kernel`);
    return f.file;
  }

  private serverOpen(inode: number, wish: IoMode, access: Access): void {
    const before = this.arbiter.state(inode);
    const d = this.arbiter.decide(inode, wish);
    const after = this.arbiter.state(inode);
    check(after.cachedOpens === before.cachedOpens && after.directOpens === before.directOpens && after.passthroughOpens === before.passthroughOpens && after.backing === before.backing, 'decide changed the state');
    check(d.conflict === (d.mode !== wish), () => `conflict ${d.conflict} for wish ${wish} answered ${d.mode}`);
    check((d.fallback !== undefined) === (wish === 'passthrough' && d.mode !== 'passthrough'), () => `fallback ${d.fallback} for wish ${wish} answered ${d.mode}`);
    if (d.fallback === 'cached-opens') this.cov.fallbackCachedOpens++;
    if (d.fallback === 'direct-opens') this.cov.fallbackDirectOpens++;
    if (d.fallback !== undefined && this.kernel.inode(inode).iocachectr <= 0) this.cov.fallbackWithoutKernelConflict++;
    if (d.mode === 'passthrough' && wish !== 'passthrough') this.cov.forcedPassthrough++;

    let backingId = 0;
    if (d.backing === 'register') {
      backingId = this.kernel.backingOpen();
      this.registered.push(backingId);
      this.arbiter.opened(inode, d, backingId);
    } else {
      if (d.backing === 'reuse') backingId = this.arbiter.backingOf(inode) ?? 0;
      this.arbiter.opened(inode, d);
    }
    const openFlags = (CALLER_FLAGS & ~d.forbiddenFlags) | d.openFlags;
    const replyMode: IoMode = openFlags & Fopen.PASSTHROUGH ? 'passthrough' : openFlags & Fopen.DIRECT_IO ? 'direct' : 'cached';
    check(replyMode === d.mode, () => `decision ${d.mode} but the reply flags 0x${openFlags.toString(16)} mean ${replyMode}`);
    if (d.mode === 'passthrough') {
      check(backingId > 0 && (d.backing === 'register' || d.backing === 'reuse'), () => `passthrough reply without a backing (${d.backing})`);
      check(this.arbiter.backingOf(inode) === backingId, () => `passthrough reply names id ${backingId}, the arbiter holds ${this.arbiter.backingOf(inode)}`);
      check((openFlags & PASSTHROUGH_FORBIDDEN_FLAGS) === 0 || !this.cfg.whiteBox, 'passthrough reply with forbidden flags');
    } else {
      check(d.backing === 'none', () => `${d.mode} reply with backing ${d.backing}`);
    }
    const fh = this.nextFh++;
    this.handles.set(fh, { inode, mode: d.mode });
    const r: InflightReply = { fh, inode, access, reply: { openFlags, backingId: d.mode === 'passthrough' ? backingId : 0 } };
    if (this.cfg.splitOpens) this.inflight.push(r);
    else this.kernelFinish(r);
  }

  private kernelFinish(r: InflightReply): void {
    const k = this.kernel.inode(r.inode);
    if (r.reply.openFlags & Fopen.PASSTHROUGH) {
      check(k.backingId === undefined || k.backingId === r.reply.backingId, () => `passthrough reply names id ${r.reply.backingId}, the kernel's inode holds id ${k.backingId}`);
      if (k.backingId === undefined && this.arbiter.state(r.inode).passthroughOpens > 1) this.cov.reuseAfterKernelDropped++;
    }
    const out = this.kernel.open(r.inode, r.fh, r.reply, r.access);
    if (!out.ok) {
      // The kernel sends RELEASE for the failed handle; forward it like any other.
      this.pending.push(out.release);
      throw new Violation(`open of fh${r.fh} (flags 0x${r.reply.openFlags.toString(16)}, id ${r.reply.backingId}) failed with EIO: ${out.cause}`);
    }
  }

  private serverRelease(r: KernelRelease): void {
    const h = this.handles.get(r.fh);
    check(h !== undefined, () => `RELEASE for unknown fh${r.fh}`);
    this.handles.delete(r.fh);
    const backing = this.arbiter.released(h.inode, h.mode);
    if (backing !== undefined) {
      check(this.registered.includes(backing), () => `released returned id ${backing}, never registered`);
      check(!this.closed.has(backing), () => `id ${backing} closed twice`);
      check(h.mode === 'passthrough', () => `a ${h.mode} release returned a backing`);
      this.closed.set(backing, 1);
      this.cov.closes++;
      this.kernel.backingClose(backing);
    }
  }

  private checkStep(): void {
    this.kernel.checkInvariants();
    // Off for mutants, so that what catches them is the kernel's own answer.
    if (!this.cfg.whiteBox) return;
    for (const f of this.kernel.openFiles()) {
      // The arbiter never leaves a direct file beside a passthrough one, whose shared mmap would be ENODEV.
      if (f.iomode === 'none') check(this.kernel.inode(f.inode).backingId === undefined, () => `direct fh${f.fh} open on an inode in passthrough`);
    }
    let tracked = 0;
    for (let inode = 1; inode <= this.cfg.inodes; inode++) {
      const s = this.arbiter.state(inode);
      const server = { cached: 0, direct: 0, passthrough: 0 };
      for (const h of this.handles.values()) if (h.inode === inode) server[h.mode]++;
      check(s.cachedOpens === server.cached && s.directOpens === server.direct && s.passthroughOpens === server.passthrough, () => `arbiter counts ${JSON.stringify(s)} differ from the server's handles ${JSON.stringify(server)}`);
      check((s.backing !== undefined) === s.passthroughOpens > 0, () => `backing ${s.backing} with ${s.passthroughOpens} passthrough opens`);
      check(s.passthroughOpens === 0 || s.cachedOpens + s.directOpens === 0, () => `passthrough beside other opens: ${JSON.stringify(s)}`);
      if (s.cachedOpens + s.directOpens + s.passthroughOpens > 0) tracked++;
      // What the kernel counts is a subset of what the server still counts.
      const kernel = { cached: 0, direct: 0, passthrough: 0 };
      for (const f of this.kernel.openFiles()) {
        if (f.inode !== inode) continue;
        const h = this.handles.get(f.fh);
        check(h !== undefined, () => `kernel file fh${f.fh} unknown to the server`);
        kernel[h.mode]++;
      }
      check(kernel.cached <= s.cachedOpens && kernel.direct <= s.directOpens && kernel.passthrough <= s.passthroughOpens, 'the kernel counts an open the server forgot');
      const kb = this.kernel.inode(inode).backingId;
      check(kb === undefined || kb === s.backing, () => `kernel inode holds id ${kb}, the arbiter ${s.backing}`);
    }
    check(this.arbiter.trackedInodes === tracked, () => `trackedInodes ${this.arbiter.trackedInodes}, expected ${tracked}`);
  }

  /** Finish every reply, close every file, deliver every RELEASE; then nothing may be left. */
  drain(): void {
    while (this.inflight.length > 0) this.apply({ kind: 'finish', fh: this.inflight[0]!.fh });
    for (const f of this.kernel.openFiles()) this.apply({ kind: 'release', fh: f.fh });
    while (this.pending.length > 0) this.apply({ kind: 'deliver', fh: this.pending[0]!.fh });
    check(this.handles.size === 0, 'server handles left');
    check(this.arbiter.trackedInodes === 0, () => `trackedInodes ${this.arbiter.trackedInodes} after draining`);
    for (let inode = 1; inode <= this.cfg.inodes; inode++) {
      const s = this.arbiter.state(inode);
      check(s.cachedOpens === 0 && s.directOpens === 0 && s.passthroughOpens === 0 && s.backing === undefined, () => `inode ${inode} not idle: ${JSON.stringify(s)}`);
      const k = this.kernel.inode(inode);
      check(k.iocachectr === 0 && k.backingId === undefined, () => `kernel inode ${inode} not idle`);
    }
    for (const id of this.registered) check(this.closed.get(id) === 1, () => `backing id ${id} was never closed`);
    check(this.kernel.registeredIds.length === 0, () => `ids still registered in the kernel: ${this.kernel.registeredIds.join(',')}`);
  }
}

function fail(prefix: readonly Event[], phase: string, err: unknown): never {
  let opens = 0;
  const seq = prefix.map((e, i) => `  ${i + 1}. ${describe(e, e.kind === 'open' ? ++opens : 0)}`).join('\n');
  throw new Error(`${phase}: ${(err as Error).message}\nsequence:\n${seq}`);
}

function replay(cfg: WorldConfig, cov: Coverage, prefix: readonly Event[]): World {
  const w = new World(cfg, cov);
  try {
    for (const e of prefix) w.apply(e);
  } catch (err) {
    fail(prefix, 'violation', err);
  }
  return w;
}

/** Every sequence of up to `depth` events, each followed by a full drain. */
function exhaust(cfg: WorldConfig, depth: number): { sequences: number; full: number; coverage: Coverage } {
  const cov = newCoverage();
  const prefix: Event[] = [];
  let sequences = 0;
  let full = 0;
  const visit = (): void => {
    const w = replay(cfg, cov, prefix);
    const next = prefix.length < depth ? w.events() : [];
    try {
      w.drain();
    } catch (err) {
      fail(prefix, 'violation while draining', err);
    }
    if (prefix.length > 0) sequences++;
    if (prefix.length === depth) full++;
    for (const e of next) {
      prefix.push(e);
      visit();
      prefix.pop();
    }
  };
  visit();
  return { sequences, full, coverage: cov };
}

const FALLBACK_CONFIGS: IoModeArbiterOptions[] = [
  {},
  { fallbackOnCachedOpens: 'direct' },
  { fallbackOnDirectOpens: 'cached' },
  { fallbackOnCachedOpens: 'direct', fallbackOnDirectOpens: 'cached' },
];

function arbiterWith(options: IoModeArbiterOptions): () => ArbiterUnderTest {
  return () => new IoModeArbiter<number, number>(options);
}

function assertCovered(cov: Coverage, keys: (keyof Coverage)[]): void {
  for (const k of keys) assert.ok(cov[k] > 0, `never reached: ${k} (${JSON.stringify(cov)})`);
}

const ALL_COVERAGE: (keyof Coverage)[] = ['fallbackCachedOpens', 'fallbackDirectOpens', 'forcedPassthrough', 'reuseAfterKernelDropped', 'mmapMadeCached', 'fallbackWithoutKernelConflict', 'closes'];

test('exhaustive: 1 inode, every sequence of up to 6 events', (t) => {
  const started = Date.now();
  const r = exhaust({ inodes: 1, splitOpens: false, arbiter: arbiterWith({}), whiteBox: true }, 6);
  t.diagnostic(`1 inode, depth 6: ${r.sequences} sequences (${r.full} of length 6) in ${Date.now() - started} ms; coverage ${JSON.stringify(r.coverage)}`);
  assert.ok(r.full > 50_000, `only ${r.full} sequences of length 6`);
  assertCovered(r.coverage, ALL_COVERAGE);
});

test('exhaustive: 1 inode, replies processed late, up to 6 events', (t) => {
  const started = Date.now();
  const r = exhaust({ inodes: 1, splitOpens: true, arbiter: arbiterWith({}), whiteBox: true }, 6);
  t.diagnostic(`1 inode, split opens, depth 6: ${r.sequences} sequences (${r.full} of length 6) in ${Date.now() - started} ms`);
  assertCovered(r.coverage, ALL_COVERAGE);
});

test('exhaustive: 2 inodes, every sequence of up to 4 events', (t) => {
  const started = Date.now();
  const r = exhaust({ inodes: 2, splitOpens: false, arbiter: arbiterWith({}), whiteBox: true }, 4);
  t.diagnostic(`2 inodes, depth 4: ${r.sequences} sequences (${r.full} of length 4) in ${Date.now() - started} ms`);
  assertCovered(r.coverage, ['fallbackCachedOpens', 'fallbackDirectOpens', 'forcedPassthrough', 'closes']);
});

test('exhaustive: the other fallback choices, 1 inode, up to 5 events', (t) => {
  for (const options of FALLBACK_CONFIGS.slice(1)) {
    const started = Date.now();
    const r = exhaust({ inodes: 1, splitOpens: false, arbiter: arbiterWith(options), whiteBox: true }, 5);
    t.diagnostic(`${JSON.stringify(options)}, depth 5: ${r.sequences} sequences in ${Date.now() - started} ms`);
    assertCovered(r.coverage, ['fallbackCachedOpens', 'fallbackDirectOpens', 'mmapMadeCached']);
  }
});

test('randomized: 2,000 sequences of 40 events on 3 inodes (seed 20250618)', (t) => {
  const SEED = 20250618;
  const random = mulberry32(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const cov = newCoverage();
  const started = Date.now();
  let events = 0;
  for (let n = 0; n < 2000; n++) {
    const cfg: WorldConfig = { inodes: 3, splitOpens: n % 2 === 1, arbiter: arbiterWith(FALLBACK_CONFIGS[(n >> 1) % 4]!), whiteBox: true };
    const w = new World(cfg, cov);
    const done: Event[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        // Choose a kind of event first, so opens (18 of them) do not crowd out the rest.
        const all = w.events();
        const kind = pick([...new Set(all.map((e) => e.kind))]);
        const e = pick(all.filter((x) => x.kind === kind));
        done.push(e);
        w.apply(e);
        events++;
      }
      w.drain();
    } catch (err) {
      fail(done, `seed ${SEED}, sequence ${n}`, err);
    }
  }
  t.diagnostic(`randomized: 2000 sequences, ${events} events in ${Date.now() - started} ms; coverage ${JSON.stringify(cov)}`);
  assertCovered(cov, ALL_COVERAGE);
});

// ---- the harness catches broken arbiters ----

/** Leaves KEEP_CACHE & co. in passthrough replies (kernel rule 4). */
class KeepsIncompatibleFlags extends IoModeArbiter<number, number> {
  override decide(key: number, wish: IoMode): ArbiterDecision {
    const d = super.decide(key, wish);
    return { ...d, forbiddenFlags: d.forbiddenFlags & ~PASSTHROUGH_FORBIDDEN_FLAGS };
  }
}

/** Does not count direct opens, as if direct I/O were always neutral (ignores the invisible shared mmap). */
class IgnoresDirectOpens extends IoModeArbiter<number, number> {
  override opened(key: number, d: ArbiterDecision, backing?: number): void {
    if (d.mode !== 'direct') super.opened(key, d, backing);
  }
  override released(key: number, mode: IoMode): number | undefined {
    return mode === 'direct' ? undefined : super.released(key, mode);
  }
}

/** Does not count cached opens. */
class IgnoresCachedOpens extends IoModeArbiter<number, number> {
  override opened(key: number, d: ArbiterDecision, backing?: number): void {
    if (d.mode !== 'cached') super.opened(key, d, backing);
  }
  override released(key: number, mode: IoMode): number | undefined {
    return mode === 'cached' ? undefined : super.released(key, mode);
  }
}

/** Closes the backing at every passthrough RELEASE, not only the last. */
class ClosesEarly extends IoModeArbiter<number, number> {
  override released(key: number, mode: IoMode): number | undefined {
    const backing = this.backingOf(key);
    const last = super.released(key, mode);
    return mode === 'passthrough' ? backing : last;
  }
}

/** Never hands a backing back for closing. */
class NeverCloses extends IoModeArbiter<number, number> {
  override released(key: number, mode: IoMode): number | undefined {
    super.released(key, mode);
    return undefined;
  }
}

test('the exhaustive check finds a counterexample for each broken arbiter', (t) => {
  const mutants: [string, () => ArbiterUnderTest, RegExp][] = [
    ['keeps KEEP_CACHE with passthrough', () => new KeepsIncompatibleFlags(), /EIO: EINVAL: flags/],
    ['ignores direct opens', () => new IgnoresDirectOpens(), /EIO: ETXTBSY|direct fh\d+ open on an inode in passthrough|mmap .* ENODEV/],
    ['ignores cached opens', () => new IgnoresCachedOpens(), /EIO: (ETXTBSY|EINVAL: inode is in passthrough)/],
    ['closes the backing at the first passthrough release', () => new ClosesEarly(), /EIO: ENOENT|closed twice|ENOENT/],
    ['never closes a backing', () => new NeverCloses(), /never closed/],
  ];
  for (const [name, arbiter, expected] of mutants) {
    let message = '';
    try {
      exhaust({ inodes: 1, splitOpens: false, arbiter, whiteBox: false }, 4);
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, expected, `mutant "${name}" was not caught as expected; got: ${message || 'no failure'}`);
    t.diagnostic(`mutant "${name}": ${message.split('\n')[0]}`);
  }
});
