/**
 * The fuse-native entry point's life cycle and options on real mounts:
 * mount/unmount/mount again, bad mountpoints, loading from CommonJS and ESM
 * by package name, fuse-native's README example as written, and every option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Fuse } from '../../src/fuse-native/index.js';
import type { FuseOperations, FuseOptions } from '../../src/fuse-native/index.js';
import { describeRun, forceUnmount, mountAt, run, sleep, withTimeout } from '../helpers/mount.js';
import { readMountInfo } from '../../src/transport/mount.js';
import { consumerDir, recordingOps, scratch, startProgram, withFuse, type Recorded } from './helpers.js';

function mountP(fuse: Fuse): Promise<Error | null> {
  return withTimeout(new Promise((resolve) => fuse.mount((err) => resolve(err))), 10_000, 'mount');
}

function unmountP(fuse: Fuse): Promise<Error | null> {
  return withTimeout(new Promise((resolve) => fuse.unmount((err) => resolve(err))), 10_000, 'unmount');
}

const sh = (script: string) => run('sh', ['-c', script], { timeoutMs: 20_000 });

test('mount, unmount and mount again on the same directory; an instance mounts once, as in fuse-native', { timeout: 60_000 }, async () => {
  const d = scratch();
  try {
    const first = new Fuse(d.mnt, recordingOps([]));
    assert.equal(await mountP(first), null);
    assert.ok(mountAt(d.mnt)?.fsType.startsWith('fuse'));
    // A second mount on a mounted directory is refused without force.
    const second = new Fuse(d.mnt, recordingOps([]));
    assert.match(String(await mountP(second)), /Mountpoint in use/);
    assert.equal(await unmountP(first), null);
    assert.equal(mountAt(d.mnt), undefined);
    const third = new Fuse(d.mnt, recordingOps([]));
    assert.equal(await mountP(third), null);
    const r = await sh(`touch ${d.mnt}/x && ls ${d.mnt}`);
    assert.equal(r.stdout, 'x\n', describeRun(r));
    assert.equal(await unmountP(third), null);
    assert.match(String(await mountP(first)), /closed/, 'an unmounted instance does not mount again');
    assert.equal(mountAt(d.mnt), undefined);
  } finally {
    d.cleanup();
  }
});

test('a missing mountpoint and a mountpoint that is a file give an error; mkdir creates it', { timeout: 60_000 }, async () => {
  const d = scratch();
  try {
    const missing = path.join(d.root, 'made', 'deep');
    assert.match(String(await mountP(new Fuse(missing, {}))), /Mountpoint does not exist/);
    fs.writeFileSync(path.join(d.root, 'file'), '');
    assert.match(String(await mountP(new Fuse(path.join(d.root, 'file'), {}))), /Mountpoint is not a directory/);
    fs.writeFileSync(path.join(d.mnt, 'occupied'), '');
    assert.match(String(await mountP(new Fuse(d.mnt, {}))), /not empty/);
    const made = new Fuse(missing, {}, { mkdir: true });
    assert.equal(await mountP(made), null);
    // No operations at all: the root is an empty directory.
    const r = await sh(`stat -c %F ${missing} && ls -A ${missing} | wc -l`);
    assert.equal(r.stdout, 'directory\n0\n', describeRun(r));
    assert.equal(await unmountP(made), null);
    const over = new Fuse(d.mnt, {}, { nonempty: true });
    assert.equal(await mountP(over), null);
    Fuse.unmount(d.mnt, () => undefined);
    await sleep(200);
    assert.equal(mountAt(d.mnt), undefined, 'the static unmount detached it');
  } finally {
    d.cleanup();
  }
});

test('static helpers: isConfigured, configure, unconfigure, errno constants', async () => {
  const configured = await new Promise((resolve) => Fuse.isConfigured((err, ok) => resolve([err, ok])));
  assert.deepEqual(configured, [null, true]);
  assert.equal(await new Promise((resolve) => Fuse.configure(resolve)), null);
  assert.equal(await new Promise((resolve) => Fuse.unconfigure(resolve)), null);
  assert.equal(Fuse.ENOENT, -2);
  assert.equal(Fuse.EWOULDBLOCK, -11);
  assert.equal(Fuse.EDEADLOCK, -35);
  assert.equal(Fuse.EMEDIUMTYPE, -124);
  assert.equal(new Fuse('/tmp', {}).errno('enoent'), -2);
  assert.equal(new Fuse('/tmp', {}).errno('nonsense'), -1);
});

test('mount options reach the mount table: allowOther, defaultPermissions, maxRead, fsname, subtype, and macOS-only ones are accepted', { timeout: 60_000 }, async () => {
  const opts: FuseOptions = {
    allowOther: true, defaultPermissions: true, maxRead: 65536, fsname: 'myfs', subtype: 'mine', allowRoot: true,
    displayFolder: true, name: 'Vol', autoCache: true, acAttrTimeout: 1, noforget: true, remember: 1, modules: 'subdir',
    blkdev: false, blksize: 4096, userId: 0,
  };
  await withFuse(recordingOps([]), opts, async (_fuse, mnt) => {
    const e = readMountInfo().find((x) => x.mountPoint === mnt)!;
    assert.equal(e.fsType, 'fuse.mine');
    assert.equal(e.source, 'myfs');
    assert.match(e.superOptions, /allow_other/);
    assert.match(e.superOptions, /default_permissions/);
    assert.match(e.superOptions, /max_read=65536/);
  });
  const d = scratch();
  try {
    assert.match(String(await mountP(new Fuse(d.mnt, {}, { fd: 3 }))), /fd option/);
  } finally {
    d.cleanup();
  }
});

test('uid, gid and umask override every attribute reply', { timeout: 60_000 }, async () => {
  const ops = recordingOps([]);
  await withFuse(ops, { uid: 1234, gid: 5678, umask: 0o027 }, async (_fuse, mnt) => {
    const r = await sh(`echo x > ${mnt}/f && stat -c '%u %g %a' ${mnt}/f ${mnt}`);
    assert.equal(r.stdout, '1234 5678 750\n1234 5678 750\n', describeRun(r));
  });
});

test('entryTimeout and attrTimeout decide how often the program is asked', { timeout: 60_000 }, async () => {
  for (const [timeout, expectMany] of [[0, true], [60, false]] as const) {
    const log: Recorded[] = [];
    await withFuse(recordingOps(log), { entryTimeout: timeout, attrTimeout: timeout }, async (_fuse, mnt) => {
      await sh(`touch ${mnt}/f`);
      const before = log.filter((c) => c.op === 'getattr' && c.args[0] === '/f').length;
      await sh(`for i in 1 2 3 4 5; do stat ${mnt}/f >/dev/null; done`);
      const asked = log.filter((c) => c.op === 'getattr' && c.args[0] === '/f').length - before;
      if (expectMany) assert.ok(asked >= 5, `timeout 0: ${asked} getattr for 5 stats`);
      else assert.equal(asked, 0, `timeout 60: ${asked} getattr for 5 stats`);
    });
  }
});

test('kernelCache keeps file data cached across opens', { timeout: 60_000 }, async () => {
  for (const kernelCache of [false, true]) {
    const log: Recorded[] = [];
    await withFuse(recordingOps(log), { kernelCache }, async (_fuse, mnt) => {
      await sh(`echo hello > ${mnt}/f`);
      await sh(`cat ${mnt}/f >/dev/null`);
      const before = log.filter((c) => c.op === 'read').length;
      await sh(`cat ${mnt}/f >/dev/null; cat ${mnt}/f >/dev/null`);
      const reads = log.filter((c) => c.op === 'read').length - before;
      if (kernelCache) assert.equal(reads, 0, 'served from the page cache');
      else assert.ok(reads >= 2, `each open drops the cache: ${reads} reads`);
    });
  }
});

const UNLINK_OPEN = `
import os, sys
m = sys.argv[1]
fd = os.open(m + '/f', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'x')
os.unlink(m + '/f')
print(sorted(n[:12] for n in os.listdir(m)))
os.close(fd)
print(sorted(os.listdir(m)))
`;

test("a file unlinked while open: hidden as libfuse 2 does, or nameless with hardRemove", { timeout: 60_000 }, async () => {
  for (const hardRemove of [false, true]) {
    const log: Recorded[] = [];
    await withFuse(recordingOps(log), { hardRemove }, async (_fuse, mnt) => {
      const r = await run('python3', ['-c', UNLINK_OPEN, mnt], { timeoutMs: 20_000 });
      assert.equal(r.stdout, hardRemove ? '[]\n[]\n' : "['.fuse_hidden']\n[]\n", describeRun(r));
      const renamed = log.some((c) => c.op === 'rename' && String(c.args[1]).startsWith('/.fuse_hidden'));
      assert.equal(renamed, !hardRemove);
    });
  }
});

// ---- child programs that load the package by name ----

const FIXTURE = `
const files = { '/': { mode: 0o40755 }, '/f': { mode: 0o100644, data: Buffer.from('hi\\n') } }
const log = (l) => process.stdout.write(l + '\\n')
function start (Fuse) {
  const [mnt, optsJson] = process.argv.slice(2)
  const ops = {
    getattr (p, cb) {
      const f = files[p]
      if (!f) return cb(Fuse.ENOENT)
      cb(null, { mode: f.mode, size: f.data ? f.data.length : 4096, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) })
    },
    readdir (p, cb) { cb(null, Object.keys(files).filter(k => k !== '/').map(k => k.slice(1))) },
    open (p, flags, cb) { cb(0, 5) },
    read (p, fd, buf, len, pos, cb) { const d = files[p].data.subarray(pos, pos + len); d.copy(buf); cb(d.length) }
  }
  const fuse = new Fuse(mnt, ops, JSON.parse(optsJson))
  fuse.mount(err => log(err ? 'ERROR ' + err.message : 'MOUNTED ' + fuse.mnt))
  process.stdin.on('data', d => {
    const cmd = String(d).trim()
    if (cmd === 'unmount') fuse.unmount(err => { log('UNMOUNTED ' + (err ? err.message : 'ok')); process.exit(0) })
    if (cmd === 'exit') process.exit(0)
  })
}
`;

const CJS = `const Fuse = require('fusekit/fuse-native')\n${FIXTURE}\nstart(Fuse)\n`;
const ESM = `import Fuse from 'fusekit/fuse-native'\n${FIXTURE}\nstart(Fuse)\n`;

test('require() and import of fusekit/fuse-native both give the class, without warnings', { timeout: 60_000 }, async () => {
  const d = scratch();
  const dir = consumerDir(d.root);
  fs.writeFileSync(path.join(dir, 'prog.cjs'), CJS);
  fs.writeFileSync(path.join(dir, 'prog.mjs'), ESM);
  try {
    for (const file of ['prog.cjs', 'prog.mjs']) {
      const p = startProgram(dir, file, [d.mnt, '{}']);
      try {
        await p.waitLine(/^MOUNTED/);
        const r = await sh(`cat ${d.mnt}/f && ls ${d.mnt}`);
        assert.equal(r.stdout, 'hi\nf\n', `${file}: ${describeRun(r)}`);
        p.child.stdin!.write('unmount\n');
        assert.equal(await p.waitLine(/^UNMOUNTED/), 'UNMOUNTED ok');
        await withTimeout(p.exited, 10_000, 'exit');
        assert.equal(p.stderr(), '', `${file} wrote to stderr`);
        assert.equal(mountAt(d.mnt), undefined);
      } finally {
        p.child.kill('SIGKILL');
        forceUnmount(d.mnt);
      }
    }
  } finally {
    d.cleanup();
  }
});

// Holds a file of its own mount open across unmount(cb), then lets Node run out of work.
const SELF_HOLD = `
import Fuse from 'fusekit/fuse-native';
import fs from 'node:fs';
const ops = {
  getattr: (p, cb) => p === '/' ? cb(0, { mode: 0o40755, size: 4096 }) : p === '/f' ? cb(0, { mode: 0o100644, size: 5 }) : cb(Fuse.ENOENT),
  open: (p, flags, cb) => cb(0, 1),
  read: (p, fd, buf, len, pos, cb) => cb(buf.write('abcde'.slice(pos, pos + len))),
};
const fuse = new Fuse(process.argv[2], ops);
fuse.mount(async (err) => {
  if (err) { console.log('ERROR', err.message); return; }
  console.log('MOUNTED');
  process.stdin.once('data', async () => {
    process.stdin.destroy();
    globalThis.held = await fs.promises.open(process.argv[2] + '/f', 'r');
    const b = Buffer.alloc(5);
    await globalThis.held.read(b, 0, 5, 0);
    fuse.unmount((e) => console.log('UNMOUNTED', e, b.toString()));
  });
});
process.on('exit', () => console.log('EXIT'));
`;

test('a program that unmounts while it holds a file of its own mount still exits, as under fuse-native', { timeout: 60_000 }, async () => {
  const d = scratch();
  const dir = consumerDir(d.root);
  fs.writeFileSync(path.join(dir, 'hold.mjs'), SELF_HOLD);
  const p = startProgram(dir, 'hold.mjs', [d.mnt]);
  let connection: number | undefined;
  try {
    await p.waitLine(/^MOUNTED/);
    connection = readMountInfo().find((e) => e.mountPoint === d.mnt)?.minor;
    assert.notEqual(connection, undefined, 'the mount is in the mount table');
    p.child.stdin!.write('go\n');
    assert.equal(await p.waitLine(/^UNMOUNTED/), 'UNMOUNTED null abcde');
    // Before: the mount kept Node running, and a SIGTERM then hung the exit for
    // good (the kernel's FLUSH of the held file waited on the exiting server).
    assert.equal(await withTimeout(p.exited, 10_000, 'the program to exit on its own'), 0, p.stderr());
    assert.ok(p.lines.includes('EXIT'));
    assert.equal(mountAt(d.mnt), undefined);
  } finally {
    p.child.kill('SIGKILL');
    // An exit stuck in the kernel ends only when its connection is aborted.
    for (let i = 0; i < 20 && connection !== undefined && fs.existsSync(`/sys/fs/fuse/connections/${connection}`); i++) {
      await sleep(100);
      fs.writeFileSync(`/sys/fs/fuse/connections/${connection}/abort`, '1');
    }
    forceUnmount(d.mnt);
    d.cleanup();
  }
});

test('debug (or DEBUG=fuse-bindings) traces requests; autoUnmount unmounts at exit; force replaces a dead mount', { timeout: 60_000 }, async () => {
  const d = scratch();
  const dir = consumerDir(d.root);
  fs.writeFileSync(path.join(dir, 'prog.cjs'), CJS);
  const programs: ReturnType<typeof startProgram>[] = [];
  const start = (opts: FuseOptions) => {
    const p = startProgram(dir, 'prog.cjs', [d.mnt, JSON.stringify(opts)]);
    programs.push(p);
    return p;
  };
  try {
    let p = start({ debug: true, autoUnmount: true });
    await p.waitLine(/^MOUNTED/);
    await sh(`cat ${d.mnt}/f`);
    assert.match(p.stderr(), /LOOKUP .*name="f"/);
    p.child.stdin!.write('exit\n');
    await withTimeout(p.exited, 10_000, 'exit');
    assert.equal(mountAt(d.mnt), undefined, 'autoUnmount: nothing left at exit');

    // Without autoUnmount an exit leaves a dead mount (ENOTCONN) behind...
    p = start({});
    await p.waitLine(/^MOUNTED/);
    p.child.stdin!.write('exit\n');
    await withTimeout(p.exited, 10_000, 'exit');
    assert.ok(mountAt(d.mnt), 'the dead mount is still there');
    const dead = await sh(`stat ${d.mnt} 2>&1`);
    assert.match(dead.stdout, /not connected/);
    p = start({});
    assert.match(await p.waitLine(/^(MOUNTED|ERROR)/), /^ERROR/);
    // ...which force detaches before mounting.
    p = start({ force: true });
    await p.waitLine(/^MOUNTED/);
    const r = await sh(`cat ${d.mnt}/f`);
    assert.equal(r.stdout, 'hi\n', describeRun(r));
    p.child.stdin!.write('unmount\n');
    await p.waitLine(/^UNMOUNTED/);
  } finally {
    for (const p of programs) p.child.kill('SIGKILL');
    forceUnmount(d.mnt);
    d.cleanup();
  }
});

test('DEBUG=fuse-bindings turns tracing on as the debug option does', { timeout: 60_000 }, async () => {
  const d = scratch();
  const dir = consumerDir(d.root);
  fs.writeFileSync(path.join(dir, 'prog.cjs'), CJS);
  const saved = process.env['DEBUG'];
  process.env['DEBUG'] = 'fuse-bindings';
  const p = startProgram(dir, 'prog.cjs', [d.mnt, '{}']);
  if (saved === undefined) delete process.env['DEBUG'];
  else process.env['DEBUG'] = saved;
  try {
    await p.waitLine(/^MOUNTED/);
    await sh(`cat ${d.mnt}/f`);
    assert.match(p.stderr(), /OPEN node=/);
    p.child.stdin!.write('unmount\n');
    await p.waitLine(/^UNMOUNTED/);
  } finally {
    p.child.kill('SIGKILL');
    forceUnmount(d.mnt);
    d.cleanup();
  }
});

/** fuse-native's README example, exactly as its README shows it. */
const README_EXAMPLE = `
const ops = {
  readdir: function (path, cb) {
    if (path === '/') return cb(null, ['test'])
    return cb(Fuse.ENOENT)
  },
  getattr: function (path, cb) {
    if (path === '/') return cb(null, stat({ mode: 'dir', size: 4096 }))
    if (path === '/test') return cb(null, stat({ mode: 'file', size: 11 }))
    return cb(Fuse.ENOENT)
  },
  open: function (path, flags, cb) {
    return cb(0, 42)
  },
  release: function (path, fd, cb) {
    return cb(0)
  },
  read: function (path, fd, buf, len, pos, cb) {
    var str = 'hello world'.slice(pos, pos + len)
    if (!str) return cb(0)
    buf.write(str)
    return cb(str.length)
  }
}

const fuse = new Fuse(mnt, ops, { debug: true })
fuse.mount(function (err) {
  fs.readFile(path.join(mnt, 'test'), function (err, buf) {
    // buf should be 'hello world'
  })
})
`;

test("fuse-native's README example runs as written", { timeout: 60_000 }, async () => {
  const d = scratch();
  const dir = consumerDir(d.root);
  // What the README leaves to its reader: the require lines, the mountpoint, and a stat() helper like fuse-native's tests use.
  const preamble = `const Fuse = require('fusekit/fuse-native')
const fs = require('fs')
const path = require('path')
const mnt = process.argv[2]
function stat (st) {
  return { mtime: new Date(), atime: new Date(), ctime: new Date(), size: st.size, mode: st.mode === 'dir' ? 16877 : 33188, uid: process.getuid(), gid: process.getgid() }
}
`;
  const epilogue = `process.stdin.on('data', () => fuse.unmount(err => { console.log('UNMOUNTED', err); process.exit(0) }))\nsetInterval(() => {}, 1000)\n`;
  fs.writeFileSync(path.join(dir, 'example.js'), preamble + README_EXAMPLE + epilogue);
  const p = startProgram(dir, 'example.js', [d.mnt]);
  try {
    const deadline = Date.now() + 10_000;
    while (!mountAt(d.mnt)?.fsType.startsWith('fuse') && Date.now() < deadline) await sleep(20);
    const r = await sh(`cat ${d.mnt}/test; echo; ls ${d.mnt}; stat -c '%s %F' ${d.mnt}/test`);
    assert.equal(r.stdout, 'hello world\ntest\n11 regular file\n', `${describeRun(r)}\n${p.stderr()}`);
    assert.match(p.stderr(), /READ node=\d+/, 'debug: true traces requests');
    p.child.stdin!.write('x\n');
    assert.equal(await p.waitLine(/^UNMOUNTED/), 'UNMOUNTED null');
  } finally {
    p.child.kill('SIGKILL');
    forceUnmount(d.mnt);
    d.cleanup();
  }
});

// The ops type accepts what fuse-native programs write.
const _typed: FuseOperations = { getattr(_p, cb) { cb(0, { mode: 0o40755 }); } };
void _typed;

test('writing over a file truncates it as libfuse 2 did (ftruncate after the open), whose open never looks at O_TRUNC', { timeout: 60_000 }, async () => {
  const log: Recorded[] = [];
  await withFuse(recordingOps(log), {}, async (_fuse, mnt) => {
    const r = await sh(`echo 'long content' > ${mnt}/x && echo hi > ${mnt}/x && cat ${mnt}/x`);
    assert.equal(r.stdout, 'hi\n', describeRun(r));
    const truncations = log.filter((e) => (e.op === 'ftruncate' || e.op === 'truncate') && e.args[0] === '/x');
    assert.ok(truncations.some((e) => e.args[e.args.length - 1] === 0), JSON.stringify(truncations));
  });
});

test("unmount(cb) with a file open detaches at once, as fuse-native's fusermount -uz does; the open file is served until closed", { timeout: 60_000 }, async () => {
  const d = scratch();
  try {
    const fuse = new Fuse(d.mnt, recordingOps([]));
    assert.equal(await mountP(fuse), null);
    const w = await sh(`echo kept > ${d.mnt}/f`);
    assert.equal(w.code, 0, describeRun(w));
    const fh = await fs.promises.open(path.join(d.mnt, 'f'), 'r');
    try {
      assert.equal(await unmountP(fuse), null);
      assert.equal(mountAt(d.mnt), undefined, 'detached');
      const buf = Buffer.alloc(16);
      const { bytesRead } = await withTimeout(fh.read(buf, 0, 16, 0), 5000, 'read on the detached mount');
      assert.equal(buf.subarray(0, bytesRead).toString(), 'kept\n');
    } finally {
      await fh.close();
    }
  } finally {
    d.cleanup();
  }
});

test('a stat object reused for several files (one ino) still gives each file its own inode number, as libfuse 2 did', { timeout: 60_000 }, async () => {
  const base = { mode: 0o100644, size: 5, uid: 0, gid: 0, nlink: 1, ino: 7, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };
  const data: Record<string, string> = { '/a': 'aaaa\n', '/b': 'bbbb\n' };
  const ops: FuseOperations = {
    getattr: (p, cb) => (p === '/' ? cb(0, { ...base, mode: 0o40755, nlink: 2 }) : data[p] ? cb(0, base) : cb(Fuse.ENOENT)),
    readdir: (_p, cb) => cb(0, ['a', 'b']),
    open: (_p, _flags, cb) => cb(0, 1),
    read: (p, _fd, buf, len, pos, cb) => cb(Buffer.from(data[p]!).copy(buf, 0, pos, Math.min(5, pos + len))),
  };
  await withFuse(ops, {}, async (_fuse, mnt) => {
    const r = await sh(`stat -c %i ${mnt}/a ${mnt}/b; cmp ${mnt}/a ${mnt}/b >/dev/null; echo cmp=$?`);
    const [ia, ib, cmp] = r.stdout.trim().split('\n');
    assert.notEqual(ia, ib, describeRun(r));
    assert.equal(cmp, 'cmp=1', describeRun(r));
  });
});

test('umask given as a string is read as octal, as libfuse reads it', { timeout: 60_000 }, async () => {
  await withFuse(recordingOps([]), { umask: '0077' }, async (_fuse, mnt) => {
    const r = await sh(`echo x > ${mnt}/f && stat -c '%a' ${mnt}/f`);
    assert.equal(r.stdout, '700\n', describeRun(r));
  });
});
