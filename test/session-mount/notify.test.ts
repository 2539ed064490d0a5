/**
 * Every notification, on a real mount, checked by its effect on the kernel's
 * caches: what reaches the server afterwards, and what a reader sees. The
 * filesystem below caches everything for an hour, so only a notification can
 * make the kernel ask again. Clients run on libuv's pool (fs.promises) or in
 * child processes: this process's main thread serves the mount.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { Fopen, InitFlag, POLL_SCHEDULE_NOTIFY, ROOT_ID, UNIQUE_RESEND } from '../../src/abi/index.js';
import type { EntryOut, NodeId } from '../../src/abi/index.js';
import { makeAttr } from '../../src/fs/attr.js';
import { Errno } from '../../src/fs/errors.js';
import type { Filesystem, InitInfo, Notifier, RequestContext } from '../../src/fs/filesystem.js';
import { S_IFDIR, S_IFREG, DT_REG } from '../../src/sys/constants.js';
import type { LookupRequest, PollRequest, ReadRequest } from '../../src/abi/types.js';
import { withInProcessMount } from '../helpers/inprocess.js';
import { pollUntil, sleep, withTimeout } from '../helpers/mount.js';

const E = osConstants.errno;
const HOUR = 3600;
const PAGE = 4096;

interface Node {
  nodeid: number;
  data: Buffer;
}

/** A flat directory of files held in memory, cached by the kernel for an hour, counting what reaches it. */
class CountingFs implements Filesystem {
  readonly names = new Map<string, Node>();
  readonly counts: Record<string, number> = {};
  readonly reads: { nodeid: number; offset: number; size: number }[] = [];
  readonly lookups: { name: string; unique: bigint }[] = [];
  readonly polls: PollRequest[] = [];
  readonly forgotten: number[] = [];
  notify!: Notifier;
  info!: InitInfo;
  ready = 0;
  /** Names whose LOOKUP waits until `releaseHeld()`. */
  readonly held = new Set<string>();
  private readonly waiting: (() => void)[] = [];
  private nextId = 2;

  add(name: string, data: Buffer): Node {
    const n = { nodeid: this.nextId++, data };
    this.names.set(name, n);
    return n;
  }

  /** Lets every held LOOKUP answer, and holds no more. */
  releaseHeld(): void {
    this.held.clear();
    for (const w of this.waiting.splice(0)) w();
  }

  private count(op: string): void {
    this.counts[op] = (this.counts[op] ?? 0) + 1;
  }

  private nodeById(id: number): Node | undefined {
    for (const n of this.names.values()) if (n.nodeid === id) return n;
    return undefined;
  }

  private entry(n: Node): EntryOut {
    return { nodeid: n.nodeid as NodeId, generation: 0, entryTimeout: HOUR, attrTimeout: HOUR, attr: makeAttr({ ino: n.nodeid, mode: S_IFREG | 0o644, size: n.data.length, time: 1_000_000_000_000 }) };
  }

  init(info: InitInfo, notify: Notifier): void {
    this.info = info;
    this.notify = notify;
  }

  async lookup(req: LookupRequest, ctx: RequestContext): Promise<EntryOut | Errno> {
    this.count('LOOKUP');
    this.lookups.push({ name: req.name, unique: ctx.unique });
    if (this.held.has(req.name)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const n = this.names.get(req.name);
    return n ? this.entry(n) : Errno.of(E.ENOENT);
  }

  getattr(_req: unknown, ctx: RequestContext) {
    this.count('GETATTR');
    if (ctx.nodeid === ROOT_ID) return { attrTimeout: HOUR, attr: makeAttr({ ino: ROOT_ID, mode: S_IFDIR | 0o755, time: 1_000_000_000_000 }) };
    const n = this.nodeById(ctx.nodeid);
    return n ? { attrTimeout: HOUR, attr: this.entry(n).attr } : Errno.of(E.ENOENT);
  }

  forget(nodeid: NodeId): void {
    this.forgotten.push(nodeid);
  }

  open() {
    this.count('OPEN');
    // KEEP_CACHE: an open does not drop the pages, so only notifications change them.
    return { fh: 1, openFlags: Fopen.KEEP_CACHE };
  }

  read(req: ReadRequest, ctx: RequestContext): Buffer | Errno {
    this.count('READ');
    this.reads.push({ nodeid: ctx.nodeid, offset: req.offset, size: req.size });
    const n = this.nodeById(ctx.nodeid);
    return n ? n.data.subarray(req.offset, req.offset + req.size) : Errno.of(E.ENOENT);
  }

  readdir(req: { offset: bigint }, _ctx: RequestContext, out: { add(name: string, ino: number, type: number, next: bigint): boolean }): void {
    let i = 0n;
    for (const [name, n] of this.names) {
      i++;
      if (i <= req.offset) continue;
      if (!out.add(name, n.nodeid, DT_REG, i)) break;
    }
  }

  poll(req: PollRequest): number {
    this.count('POLL');
    this.polls.push(req);
    return this.ready & req.events;
  }
}

function filled(byte: string, size: number): Buffer {
  return Buffer.alloc(size, byte);
}

async function readAt(file: string, offset: number, size: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const b = Buffer.alloc(size);
    const { bytesRead } = await fh.read(b, 0, size, offset);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const opts = { timeout: 60_000 };

test('store: the stored bytes are read back with no READ reaching the server', opts, async () => {
  const fs = new CountingFs();
  const f = fs.add('f', filled('a', 2 * PAGE));
  await withInProcessMount(fs, async ({ mnt }) => {
    await fsp.stat(path.join(mnt, 'f'));
    const stored = Buffer.concat([filled('S', PAGE), filled('T', PAGE)]);
    assert.equal(await fs.notify.store(f.nodeid, 0, stored), 0);
    const got = await fsp.readFile(path.join(mnt, 'f'));
    assert.deepEqual(got, stored, 'the page cache holds what was stored, not the server data');
    assert.equal(fs.counts.READ ?? 0, 0, 'no READ reached the server');
    // A node the kernel does not have: ENOENT.
    assert.equal(await fs.notify.store(999, 0, stored), -E.ENOENT);
  });
});

test('invalInode with a range: the next read of that range reaches the server, the rest stays cached', opts, async () => {
  const fs = new CountingFs();
  const f = fs.add('f', filled('a', 4 * PAGE));
  await withInProcessMount(fs, async ({ mnt }) => {
    const file = path.join(mnt, 'f');
    assert.deepEqual(await fsp.readFile(file), f.data);
    const readsAfterFirst = fs.reads.length;
    assert.ok(readsAfterFirst > 0);
    assert.deepEqual(await fsp.readFile(file), f.data);
    assert.equal(fs.reads.length, readsAfterFirst, `cached: no READ the second time ${JSON.stringify(fs.reads)}`);

    // The server's data changes everywhere; only page 2 is invalidated.
    f.data = filled('b', 4 * PAGE);
    assert.equal(await fs.notify.invalInode(f.nodeid, 2 * PAGE, PAGE), 0);
    assert.deepEqual(await readAt(file, 2 * PAGE, PAGE), filled('b', PAGE), 'the invalidated page comes from the server');
    const after = fs.reads.slice(readsAfterFirst);
    assert.ok(after.some((r) => r.offset <= 2 * PAGE && r.offset + r.size > 2 * PAGE), `a READ covered page 2: ${JSON.stringify(after)}`);
    assert.deepEqual(await readAt(file, 0, PAGE), filled('a', PAGE), 'page 0 was not invalidated');

    // Attributes: invalAttr makes the next stat ask, and sees the new size.
    const getattrs = fs.counts.GETATTR ?? 0;
    f.data = filled('c', 5 * PAGE);
    assert.equal(fs.notify.invalAttr(f.nodeid), 0);
    assert.equal((await fsp.stat(file)).size, 5 * PAGE);
    assert.ok((fs.counts.GETATTR ?? 0) > getattrs, 'GETATTR reached the server');
    assert.equal(fs.notify.invalAttr(999), -E.ENOENT);
  });
});

test('retrieve: resolves with the bytes the kernel holds, through NOTIFY_REPLY', opts, async () => {
  const fs = new CountingFs();
  const content = Buffer.from(Array.from({ length: 3 * PAGE }, (_, i) => i % 251));
  const f = fs.add('f', content);
  await withInProcessMount(fs, async ({ mnt, m }) => {
    await fsp.readFile(path.join(mnt, 'f'));
    // The server forgets the data: what comes back can only be the kernel's copy.
    f.data = filled('z', 3 * PAGE);
    const got = await fs.notify.retrieve(f.nodeid, 0, 3 * PAGE);
    assert.deepEqual(got, content);
    const middle = await fs.notify.retrieve(f.nodeid, PAGE, 100);
    assert.deepEqual(middle, content.subarray(PAGE, PAGE + 100));
    assert.equal((m.session.stats.requests.NOTIFY_REPLY ?? 0), 2);
    await assert.rejects(fs.notify.retrieve(999, 0, PAGE), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });
});

test('pollWakeup: poll and epoll on a file wake when the filesystem says so', opts, async () => {
  const fs = new CountingFs();
  fs.add('f', filled('a', 10));
  await withInProcessMount(fs, async ({ mnt }) => {
    for (const how of ['poll', 'epoll']) {
      fs.ready = 0;
      fs.polls.length = 0;
      const code =
        how === 'poll'
          ? 'import select,sys\nf=open(sys.argv[1],"rb")\np=select.poll()\np.register(f,select.POLLIN)\nprint(p.poll(20000))'
          : 'import select,sys\nf=open(sys.argv[1],"rb")\np=select.epoll()\np.register(f.fileno(),select.EPOLLIN)\nprint(p.poll(20))';
      const child = spawn('python3', ['-c', code, path.join(mnt, 'f')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        const waiting = await pollUntil(() => fs.polls.find((p) => (p.flags & POLL_SCHEDULE_NOTIFY) !== 0), { timeoutMs: 10_000, what: `a ${how} that waits` });
        await sleep(100);
        assert.equal(out, '', `${how} did not return before the wakeup`);
        fs.ready = 1; // POLLIN
        assert.equal(fs.notify.pollWakeup(waiting.kh), 0);
        assert.equal(await withTimeout(exited, 10_000, `${how} to return`), 0);
        assert.match(out, /1\)\]/, `${how} reported POLLIN: ${out}`);
      } finally {
        child.kill('SIGKILL');
      }
    }
  });
});

test('delete: the name is gone and the open inode counts as deleted, despite an hour of entry cache', opts, async () => {
  const fs = new CountingFs();
  const g = fs.add('g', filled('g', 10));
  await withInProcessMount(fs, async ({ mnt }) => {
    const file = path.join(mnt, 'g');
    const fh = await fsp.open(file, 'r');
    try {
      await fsp.stat(file);
      fs.names.delete('g');
      await fsp.stat(file); // still cached: no LOOKUP
      const lookups = fs.counts.LOOKUP ?? 0;
      assert.equal(await fs.notify.delete(ROOT_ID, g.nodeid, 'g'), 0);
      await assert.rejects(fsp.stat(file), { code: 'ENOENT' });
      assert.equal(fs.counts.LOOKUP ?? 0, lookups + 1);
      assert.equal((await fh.stat()).nlink, 0, 'the open file counts as deleted');
    } finally {
      await fh.close();
    }
  });
});

test('invalEntry, plain and expireOnly, and incEpoch: the next use of a cached name sends LOOKUP', opts, async () => {
  const fs = new CountingFs();
  fs.add('a', filled('1', 1));
  fs.add('b', filled('2', 2));
  await withInProcessMount(fs, async ({ mnt }) => {
    const a = path.join(mnt, 'a');
    const b = path.join(mnt, 'b');
    const inoA = (await fsp.stat(a)).ino;
    await fsp.stat(b);
    // The server swaps a for a new inode; the kernel does not know.
    fs.add('a', filled('3', 3));
    assert.equal((await fsp.stat(a)).ino, inoA, 'still the cached entry');
    assert.equal(await fs.notify.invalEntry(ROOT_ID, 'a'), 0);
    assert.notEqual((await fsp.stat(a)).ino, inoA, 'LOOKUP found the new inode');

    const expire = (fs.info.enabled & InitFlag.HAS_EXPIRE_ONLY) !== 0n;
    const lookups = fs.counts.LOOKUP ?? 0;
    const r = await fs.notify.invalEntry(ROOT_ID, 'b', { expireOnly: true });
    if (expire) {
      assert.equal(r, 0);
      await fsp.stat(b);
      assert.equal(fs.counts.LOOKUP ?? 0, lookups + 1, 'an expired name is looked up again');
    } else {
      assert.equal(r, -E.ENOSYS);
    }
    assert.equal(await fs.notify.invalEntry(ROOT_ID, 'never-seen'), -E.ENOENT);

    const epochBefore = fs.counts.LOOKUP ?? 0;
    await fsp.stat(a);
    await fsp.stat(b);
    assert.equal(fs.counts.LOOKUP ?? 0, epochBefore, 'both names cached');
    const e = fs.notify.incEpoch();
    if (fs.info.minor >= 44) {
      assert.equal(e, 0);
      await fsp.stat(a);
      await fsp.stat(b);
      assert.equal(fs.counts.LOOKUP ?? 0, epochBefore + 2, 'every name from before the epoch is looked up again');
    } else {
      assert.equal(e, -E.ENOSYS);
    }
  });
});

test('prune: the kernel drops an unused node and sends FORGET for it', opts, async () => {
  const fs = new CountingFs();
  const p = fs.add('p', filled('p', 1));
  await withInProcessMount(fs, async ({ mnt }) => {
    await fsp.stat(path.join(mnt, 'p'));
    const r = fs.notify.prune([p.nodeid]);
    if (fs.info.minor < 45) {
      assert.equal(r, -E.ENOSYS);
      return;
    }
    assert.equal(r, 0);
    await pollUntil(() => fs.forgotten.includes(p.nodeid), { timeoutMs: 5000, what: 'FORGET of the pruned node' });
  });
});

test('resend: requests the server holds come again, marked as resent (or ENOSYS where not offered)', opts, async () => {
  const fs = new CountingFs();
  fs.add('slow', filled('s', 1));
  fs.held.add('slow');
  await withInProcessMount(fs, async ({ mnt }) => {
    const stat = fsp.stat(path.join(mnt, 'slow'));
    await pollUntil(() => fs.lookups.some((l) => l.name === 'slow'), { timeoutMs: 5000, what: 'the held LOOKUP' });
    const r = fs.notify.resend();
    if ((fs.info.enabled & InitFlag.HAS_RESEND) === 0n) {
      assert.equal(r, -E.ENOSYS);
    } else {
      assert.equal(r, 0);
      const again = await pollUntil(() => fs.lookups.find((l) => l.name === 'slow' && (l.unique & UNIQUE_RESEND) !== 0n), { timeoutMs: 5000, what: 'the resent LOOKUP' });
      assert.ok(again);
    }
    fs.releaseHeld();
    assert.equal((await withTimeout(stat, 10_000, 'the held stat')).size, 1);
  });
});

test('no deadlock: an entry invalidation for a directory whose LOOKUP is in flight, from a handler and from outside any request', opts, async () => {
  const fs = new CountingFs();
  fs.add('held', filled('h', 1));
  fs.add('other', filled('o', 1));
  await withInProcessMount(fs, async ({ mnt }) => {
    await fsp.stat(path.join(mnt, 'other'));
    fs.held.add('held');
    const stat = fsp.stat(path.join(mnt, 'held'));
    await pollUntil(() => fs.lookups.some((l) => l.name === 'held'), { timeoutMs: 5000, what: 'the held LOOKUP' });
    // From outside any request, while the kernel holds the root's lock for that LOOKUP:
    // written on the serving thread this would never return.
    let settled = false;
    const inval = fs.notify.invalEntry(ROOT_ID, 'other').then((r) => {
      settled = true;
      return r;
    });
    await sleep(200);
    // The serving thread still serves (a GETATTR on the root needs no directory lock).
    await withTimeout(fsp.stat(mnt), 5000, 'stat of the root while the invalidation waits');
    assert.equal(settled, false, 'the invalidation waits for the LOOKUP that holds the lock');
    fs.releaseHeld();
    await withTimeout(stat, 5000, 'the held stat');
    assert.equal(await withTimeout(inval, 5000, 'the invalidation'), 0);

    // From inside a LOOKUP handler, on the directory the kernel has locked for it, not awaited.
    let fromHandler: Promise<number> | undefined;
    const orig = fs.lookup.bind(fs);
    fs.lookup = async (req, ctx) => {
      if (req.name === 'third') fromHandler = fs.notify.invalEntry(ROOT_ID, 'other');
      return orig(req, ctx);
    };
    fs.add('third', filled('3', 3));
    await fsp.stat(path.join(mnt, 'other'));
    await withTimeout(fsp.stat(path.join(mnt, 'third')), 5000, 'stat of third');
    assert.ok(fromHandler);
    assert.equal(await withTimeout(fromHandler, 5000, 'the invalidation sent from the handler'), 0);
  });
});
