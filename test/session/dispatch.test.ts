/**
 * The session without a kernel: requests go in as bytes through an in-memory
 * channel and the replies are checked byte for byte. Covers INIT, the
 * dispatch table's encoding, ENOSYS, errors thrown and returned, interrupts,
 * deadlines, and the lookup and open bookkeeping when a reply does not reach
 * the kernel. Needs no root.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constants as osConstants } from 'node:os';
import { InitFlag, Opcode } from '../../src/abi/index.js';
import { S_IFDIR, S_IFREG } from '../../src/sys/constants.js';
import type { Attr, EntryOut, NodeId } from '../../src/abi/index.js';
import { Errno } from '../../src/fs/errors.js';
import type { Filesystem } from '../../src/fs/filesystem.js';
import { Session } from '../../src/session/session.js';
import type { SessionOptions } from '../../src/session/session.js';
import { MemoryChannel } from '../helpers/memory-channel.js';
import { le32, le64, request, str } from '../helpers/wire.js';

const E = osConstants.errno;

function attr(ino: number, mode: number, size = 0): Attr {
  return {
    ino, mode, size, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096, blocks: 0,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
  };
}

function entry(nodeid: number): EntryOut {
  return { nodeid: nodeid as NodeId, generation: 0, entryTimeout: 1, attrTimeout: 1, attr: attr(nodeid, S_IFREG | 0o644, 6) };
}

/** fuse_init_in of protocol 7.45 offering every capability. */
function initRequest(unique = 1n): Buffer {
  const flags = 0xffffffffn;
  const flags2 = 0xffffffffn;
  return request(Opcode.INIT, [...le32(7), ...le32(45), ...le32(128 * 1024), ...le32(Number(flags)), ...le32(Number(flags2)), ...new Array(44).fill(0)], { unique });
}

let nextUnique = 100n;
function u(): bigint {
  nextUnique += 2n;
  return nextUnique;
}

interface Harness {
  channel: MemoryChannel;
  session: Session;
  warnings: string[];
  forgets: [number, number][];
}

async function started(fs: Filesystem, options: SessionOptions = {}): Promise<Harness> {
  const channel = new MemoryChannel();
  const warnings: string[] = [];
  const forgets: [number, number][] = [];
  const userForget = fs.forget?.bind(fs);
  fs.forget = (nodeid, n) => {
    forgets.push([nodeid, n]);
    userForget?.(nodeid, n);
  };
  const session = new Session(fs, channel, { logger: { warn: (l) => warnings.push(l) }, ...options });
  session.start();
  channel.send(initRequest());
  await session.ready;
  channel.replies();
  return { channel, session, warnings, forgets };
}

function lookup(h: Harness, name: string, unique = u()): bigint {
  h.channel.send(request(Opcode.LOOKUP, str(name), { unique, nodeid: 1 }));
  return unique;
}

const tick = () => new Promise((r) => setImmediate(r));

test('INIT: the reply carries 7.45, the granted flags and max_write; READDIRPLUS only when implemented', async () => {
  const channel = new MemoryChannel();
  const session = new Session({ readdirplus: () => undefined }, channel, { logger: { warn: () => undefined } });
  session.start();
  channel.send(initRequest(7n));
  const info = await session.ready;
  const r = channel.replyTo(7n);
  assert.equal(r.error, 0);
  assert.equal(r.body.readUInt32LE(0), 7, 'major');
  assert.equal(r.body.readUInt32LE(4), 45, 'minor');
  const flags = BigInt(r.body.readUInt32LE(12)) | (BigInt(r.body.readUInt32LE(32)) << 32n);
  assert.equal(flags, info.enabled);
  assert.ok((flags & InitFlag.DO_READDIRPLUS) !== 0n);
  assert.equal(r.body.readUInt32LE(20), 1 << 20, 'max_write');
});

test('a request before INIT is answered EIO; an unknown opcode ENOSYS', async () => {
  const channel = new MemoryChannel();
  const session = new Session({}, channel, { logger: { warn: () => undefined } });
  session.start();
  channel.send(request(Opcode.GETATTR, [...le32(0), ...le32(0), ...le64(0)], { unique: 3n }));
  assert.equal(channel.replyTo(3n).error, -E.EIO);
  channel.send(initRequest());
  await session.ready;
  channel.send(request(9999, [], { unique: 5n }));
  assert.equal(channel.replyTo(5n).error, -E.ENOSYS);
  await tick();
  assert.equal(channel.outstanding, 0, 'every request buffer released');
});

test('LOOKUP: the entry is encoded, counted, and FORGET gives it back to the filesystem', async () => {
  const h = await started({ lookup: ({ name }) => (name === 'hello' ? entry(2) : Errno.of('ENOENT')) });
  const a = lookup(h, 'hello');
  const r = h.channel.replyTo(a);
  assert.equal(r.error, 0);
  assert.equal(r.len, 16 + 128, 'fuse_entry_out');
  assert.equal(r.body.readBigUInt64LE(0), 2n, 'nodeid');
  assert.equal(r.body.readBigUInt64LE(40 + 8), 6n, 'attr.size');
  assert.equal(h.session.lookupCount(2), 1);
  lookup(h, 'hello');
  assert.equal(h.session.lookupCount(2), 2);
  const missing = lookup(h, 'nope');
  assert.equal(h.channel.replyTo(missing).error, -E.ENOENT);
  h.channel.send(request(Opcode.FORGET, le64(2), { unique: 0n, nodeid: 2 }));
  assert.equal(h.session.lookupCount(2), 0);
  assert.deepEqual(h.forgets, [[2, 2]]);
  assert.equal(h.channel.outstanding, 0);
  assert.deepEqual(h.warnings, [], 'a returned Errno is not logged');
});

test('a missing method answers ENOSYS; STATFS without one answers a zeroed statfs', async () => {
  const h = await started({});
  const a = u();
  h.channel.send(request(Opcode.MKDIR, [...le32(0o755), ...le32(0o022), ...str('d')], { unique: a }));
  assert.equal(h.channel.replyTo(a).error, -E.ENOSYS);
  const b = u();
  h.channel.send(request(Opcode.STATFS, [], { unique: b }));
  const r = h.channel.replyTo(b);
  assert.equal(r.error, 0);
  assert.equal(r.len, 16 + 80);
  assert.equal(r.body.readUInt32LE(44), 255, 'namelen');
});

test('a handler that throws answers EIO and is logged once per cause; a thrown errno is answered as such', async () => {
  let mode: 'bug' | 'errno' = 'bug';
  const h = await started({
    getattr: () => {
      if (mode === 'bug') throw new TypeError('a bug in the handler');
      throw Object.assign(new Error('denied'), { code: 'EACCES' });
    },
  });
  const getattr = () => {
    const id = u();
    h.channel.send(request(Opcode.GETATTR, [...le32(0), ...le32(0), ...le64(0)], { unique: id, nodeid: 1 }));
    return h.channel.replyTo(id).error;
  };
  assert.equal(getattr(), -E.EIO);
  assert.equal(getattr(), -E.EIO);
  assert.equal(h.warnings.length, 1, h.warnings.join('\n'));
  assert.match(h.warnings[0]!, /GETATTR failed, answering EIO: TypeError: a bug in the handler/);
  mode = 'errno';
  assert.equal(getattr(), -E.EACCES);
  assert.equal(h.warnings.length, 1);
});

test('a result of the wrong shape answers EIO instead of taking the server down', async () => {
  const h = await started({ lookup: () => ({}) as EntryOut });
  const a = lookup(h, 'x');
  assert.equal(h.channel.replyTo(a).error, -E.EIO);
  assert.equal(h.warnings.length, 1);
  assert.equal(h.channel.outstanding, 0);
});

test('an entry reply the kernel refuses (interrupted caller) is given back to the filesystem', async () => {
  const h = await started({ lookup: () => entry(5) });
  h.channel.writeResult = -E.ENOENT;
  lookup(h, 'x');
  h.channel.writeResult = 0;
  assert.equal(h.session.lookupCount(5), 0);
  assert.deepEqual(h.forgets, [[5, 1]]);
});

test('INTERRUPT aborts the signal of a request still running', async () => {
  let seen: AbortSignal | undefined;
  const h = await started({
    lookup: (_req, ctx) =>
      new Promise((_resolve, reject) => {
        seen = ctx.signal;
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
      }),
  });
  const a = lookup(h, 'slow');
  await tick();
  assert.equal(h.session.inFlight, 1);
  h.channel.send(request(Opcode.INTERRUPT, le64(a), { unique: a | 1n }));
  assert.equal(seen?.aborted, true);
  await tick();
  assert.equal(h.channel.replyTo(a).error, -E.EINTR);
  assert.equal(h.session.inFlight, 0);
  assert.equal(h.channel.outstanding, 0);
});

test('a handler past its deadline: the caller gets ETIMEDOUT, it is logged once, and its late entry is given back', async () => {
  let finish: ((e: EntryOut) => void) | undefined;
  const h = await started(
    {
      lookup: () => new Promise<EntryOut>((resolve) => (finish = resolve)),
      getattr: () => ({ attrTimeout: 1, attr: attr(1, S_IFDIR | 0o755) }),
    },
    { requestDeadlineMs: 100, slowRequestMs: 50 },
  );
  const started0 = performance.now();
  const a = lookup(h, 'stuck');
  // The mount keeps answering other requests meanwhile.
  const g = u();
  h.channel.send(request(Opcode.GETATTR, [...le32(0), ...le32(0), ...le64(0)], { unique: g, nodeid: 1 }));
  assert.equal(h.channel.replyTo(g).error, 0);
  while (!h.channel.written.some((b) => b.readBigUInt64LE(8) === a)) {
    if (performance.now() - started0 > 2000) assert.fail('no answer within 2 s of a 100 ms deadline');
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(h.channel.replyTo(a).error, -E.ETIMEDOUT);
  assert.equal(h.session.stats.expired, 1);
  assert.equal(h.warnings.filter((w) => /not answered within 100 ms/.test(w)).length, 1, h.warnings.join('\n'));
  assert.equal(h.warnings.filter((w) => /unanswered after/.test(w)).length, 1, 'the slow request is reported once');
  assert.equal(h.channel.outstanding, 1, 'the request buffer is kept while the handler runs');
  finish!(entry(9));
  await tick();
  assert.equal(h.channel.written.filter((b) => b.readBigUInt64LE(8) === a).length, 1, 'the late answer is not written');
  assert.equal(h.session.lookupCount(9), 0);
  assert.deepEqual(h.forgets, [[9, 1]]);
  assert.equal(h.channel.outstanding, 0);
});

test('an OPEN whose reply the kernel refuses is released; RELEASE of a delivered one reaches the filesystem', async () => {
  const released: number[] = [];
  const h = await started({
    open: () => ({ fh: 42 }),
    release: ({ fh }) => {
      released.push(fh);
    },
  });
  h.channel.writeResult = -E.ENOENT;
  h.channel.send(request(Opcode.OPEN, [...le32(0), ...le32(0)], { unique: u(), nodeid: 3 }));
  h.channel.writeResult = 0;
  await tick();
  assert.deepEqual(released, [42]);
  const a = u();
  h.channel.send(request(Opcode.OPEN, [...le32(0), ...le32(0)], { unique: a, nodeid: 3 }));
  const r = h.channel.replyTo(a);
  assert.equal(r.error, 0);
  assert.equal(r.body.readBigUInt64LE(0), 42n, 'fh');
});

test('READ: the handler fills the reply buffer in place; the buffer goes back to the pool', async () => {
  const h = await started({
    read: ({ offset, size }, _ctx, dest) => {
      const data = Buffer.from('hello world').subarray(offset, offset + size);
      return data.copy(dest);
    },
  });
  const a = u();
  // fh, offset 6, size 100, read_flags, lock_owner, flags, padding
  h.channel.send(request(Opcode.READ, [...le64(1), ...le64(6), ...le32(100), ...le32(0), ...le64(0), ...le32(0), ...le32(0)], { unique: a, nodeid: 2 }));
  const r = h.channel.replyTo(a);
  assert.equal(r.body.toString(), 'world');
  assert.equal(h.channel.largeTaken, 0);
});

test('READDIRPLUS: each entry but . and .. is one lookup reference, given back if the reply is refused', async () => {
  const h = await started({
    readdirplus: ({ offset }, _ctx, out) => {
      if (offset > 0n) return;
      out.add('.', { ...entry(1), attr: attr(1, S_IFDIR | 0o755) }, 1n);
      out.add('a', entry(7), 2n);
      out.add('b', entry(8), 3n);
    },
  });
  const body = [...le64(0), ...le64(0), ...le32(4096), ...le32(0), ...le64(0), ...le32(0), ...le32(0)];
  h.channel.send(request(Opcode.READDIRPLUS, body, { unique: u() }));
  assert.equal(h.session.lookupCount(7), 1);
  assert.equal(h.session.lookupCount(8), 1);
  assert.equal(h.session.lookupCount(1), 0);
  h.channel.writeResult = -E.ENOENT;
  h.channel.send(request(Opcode.READDIRPLUS, body, { unique: u() }));
  h.channel.writeResult = 0;
  assert.deepEqual(h.forgets, [[7, 1], [8, 1]]);
  assert.equal(h.session.lookupCount(7), 1);
});

test('GETXATTR: size 0 answers the length, a small buffer ERANGE', async () => {
  const h = await started({ getxattr: () => Buffer.from('value') });
  const ask = (size: number) => {
    const id = u();
    h.channel.send(request(Opcode.GETXATTR, [...le32(size), ...le32(0), ...str('user.x')], { unique: id, nodeid: 2 }));
    return h.channel.replyTo(id);
  };
  const probe = ask(0);
  assert.equal(probe.body.readUInt32LE(0), 5);
  assert.equal(ask(2).error, -E.ERANGE);
  assert.equal(ask(64).body.toString(), 'value');
});

test('DESTROY calls destroy and is answered; the end of the channel resolves `ended`', async () => {
  let destroyed = 0;
  const h = await started({ destroy: () => void destroyed++ });
  const a = u();
  h.channel.send(request(Opcode.DESTROY, [], { unique: a }));
  await tick();
  await tick();
  assert.equal(h.channel.replyTo(a).error, 0);
  h.channel.end({ reason: 'aborted' });
  assert.deepEqual(await h.session.ended, { reason: 'aborted' });
  assert.equal(destroyed, 1, 'destroy runs once');
});

test('retrieve: NOTIFY_RETRIEVE carries a fresh notify_unique; the NOTIFY_REPLY with that unique resolves it, and nothing is answered', async () => {
  let notify: import('../../src/fs/filesystem.js').Notifier | undefined;
  const h = await started({ init: (_i, n) => void (notify = n) });
  const pending = notify!.retrieve(7, 4096, 10);
  const [msg] = h.channel.replies();
  assert.equal(msg!.unique, 0n); // a notification
  assert.equal(msg!.error, 5); // NotifyCode.RETRIEVE
  const notifyUnique = msg!.body.readBigUInt64LE(0);
  assert.equal(msg!.body.readBigUInt64LE(8), 7n); // nodeid
  assert.equal(msg!.body.readBigUInt64LE(16), 4096n); // offset
  assert.equal(msg!.body.readUInt32LE(24), 10); // size
  const data = [...Buffer.from('0123456789')];
  h.channel.send(request(Opcode.NOTIFY_REPLY, [
    ...le64(0), // dummy
    ...le64(4096), // offset
    ...le32(10), // size
    ...le32(0), // padding
    ...le64(0), ...le64(0), // dummies
    ...data,
  ], { unique: notifyUnique, nodeid: 7 }));
  assert.equal((await pending).toString(), '0123456789');
  assert.equal(h.channel.replies().length, 0, 'NOTIFY_REPLY gets no reply');
  assert.equal(h.channel.outstanding, 0);
  // No reply at all: the promise times out; a connection that ends fails the rest.
  await assert.rejects(notify!.retrieve(7, 0, 1, { timeoutMs: 20 }), { code: 'ETIMEDOUT' });
  const orphan = notify!.retrieve(7, 0, 1);
  h.channel.end();
  await assert.rejects(orphan, { code: 'ENOTCONN' });
});
