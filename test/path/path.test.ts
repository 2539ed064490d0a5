/**
 * The path layer on real mounts: the node table under renames (of open files,
 * of subtrees with lookups in flight), hard links, files unlinked while open,
 * listings while the directory changes, and concurrency.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRun, RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2, dropCaches } from '../helpers/mount.js';
import { PathMemoryFilesystem } from '../../examples/path-memfs.js';
import { LoggedMemoryFilesystem, py, sh, waitFor, withPathMount } from './helpers.js';
import { everydayScenario } from '../helpers/scenario.js';
import { PathAdapter } from '../../src/path/adapter.js';
import type { PathFilesystem } from '../../src/path/filesystem.js';
import { Errno } from '../../src/fs/errors.js';
import { InitFlag } from '../../src/abi/constants.js';
import type { DirentSink, OpenReply, RequestContext } from '../../src/fs/filesystem.js';
import type { OpendirRequest, ReaddirRequest } from '../../src/abi/types.js';

// Every request reaches the filesystem: the tests look at the paths it gets.
const NO_CACHE = { entryTimeout: 0, attrTimeout: 0 };

test('a path filesystem behaves like a filesystem', { timeout: 60_000 }, async () => {
  await withPathMount(new PathMemoryFilesystem(), {}, async ({ mnt }) => {
    await everydayScenario(mnt);
    let r = await sh(`cd ${mnt} && touch t`);
    assert.equal(r.code, 0, describeRun(r));
    r = await py(`
import os, sys
p = sys.argv[1] + '/t'
os.setxattr(p, 'user.k', b'v1')
print(os.getxattr(p, 'user.k').decode(), os.listxattr(p), os.statvfs(sys.argv[1]).f_blocks)
os.removexattr(p, 'user.k')
try:
    os.getxattr(p, 'user.k')
except OSError as e:
    print(e.errno)
`, [mnt]);
    assert.equal(r.stdout, "v1 ['user.k'] 1048576\n61\n", describeRun(r));
  });
});

test('hard links are one node with several names', { timeout: 60_000 }, async () => {
  await withPathMount(new PathMemoryFilesystem(), NO_CACHE, async ({ mnt, adapter }) => {
    const r = await sh(`cd ${mnt} && mkdir d && echo one > a && ln a d/b && stat -c '%i %h' a d/b && echo two >> d/b && cat a && rm a && cat d/b && stat -c %h d/b`);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], lines[1], describeRun(r));
    assert.match(lines[0]!, / 2$/);
    assert.deepEqual(lines.slice(2), ['one', 'two', 'one', 'two', '1']);
    // One node carries both names while both exist: the table has no node for `a` any more.
    const named = [...adapter.nodes.values()].filter((n) => n.names.some((x) => x.name === 'b'));
    assert.equal(named.length, 1);
    assert.deepEqual(named[0]!.names.map((x) => x.name), ['b']);
  });
});

test('a second name reached by lookup alone is recognised by its inode number', { timeout: 60_000 }, async () => {
  await withPathMount(new PathMemoryFilesystem(), NO_CACHE, async ({ mnt, adapter }) => {
    let r = await sh(`cd ${mnt} && echo x > a && ln a b`);
    assert.equal(r.code, 0, describeRun(r));
    // Forget everything the kernel knows, then reach the file by each name afresh.
    await dropCaches(2);
    r = await sh(`cd ${mnt} && stat -c %i a b`);
    const [ia, ib] = r.stdout.trim().split('\n');
    assert.equal(ia, ib);
    const withB = [...adapter.nodes.values()].find((n) => n.names.some((x) => x.name === 'b'));
    assert.ok(withB?.names.some((x) => x.name === 'a'), 'a and b share a node');
  });
});

const UNLINK_OPEN = `
import os, sys
d = sys.argv[1]
fd = os.open(d + '/f', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'before ')
os.unlink(d + '/f')
print(sorted(os.listdir(d)))
os.write(fd, b'after')
print(os.pread(fd, 100, 0).decode(), os.fstat(fd).st_nlink, os.fstat(fd).st_size)
try:
    os.rmdir(d)
    print('rmdir ok')
except OSError as e:
    print('rmdir', e.errno)
os.close(fd)
print(sorted(os.listdir(d)) if os.path.isdir(d) else 'gone')
`;

test('a file unlinked while open keeps working through its handle, without a name', { timeout: 60_000 }, async () => {
  const fs = new LoggedMemoryFilesystem();
  await withPathMount(fs, {}, async ({ mnt }) => {
    await sh(`mkdir ${mnt}/d`);
    const r = await py(UNLINK_OPEN, [`${mnt}/d`]);
    assert.equal(r.stdout, "[]\nbefore after 0 12\nrmdir ok\ngone\n", describeRun(r));
    // The write after the unlink reached the filesystem with no path, only the handle.
    const writes = fs.calls.filter((c) => c.op === 'write' && c.phase === 'start');
    assert.deepEqual(writes.map((c) => c.path), ['/d/f', null]);
    assert.ok(fs.calls.some((c) => c.op === 'release' && c.path === null));
  });
});

test("with unlinkedOpen 'hide' a file unlinked while open is renamed away until its last close (libfuse)", { timeout: 60_000 }, async () => {
  const fs = new LoggedMemoryFilesystem();
  await withPathMount(fs, { unlinkedOpen: 'hide' }, async ({ mnt }) => {
    await sh(`mkdir ${mnt}/d`);
    const r = await py(UNLINK_OPEN, [`${mnt}/d`]);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^\['\.fuse_hidden[0-9a-f]{16}'\]$/, describeRun(r));
    assert.equal(lines[1], 'before after 1 12');
    assert.equal(lines[2], 'rmdir 39'); // ENOTEMPTY: the hidden name is still there
    assert.equal(lines[3], '[]');
    const hidden = fs.calls.find((c) => c.op === 'rename')!;
    assert.equal(hidden.path, '/d/f');
    assert.match(hidden.to!, /^\/d\/\.fuse_hidden/);
    assert.ok(fs.calls.some((c) => c.op === 'write' && c.path === hidden.to));
    assert.ok(fs.calls.some((c) => c.op === 'unlink' && c.path === hidden.to), 'removed at the last release');
  });
});

test('renames of open files and of their directories move the paths requests get', { timeout: 60_000 }, async () => {
  const fs = new LoggedMemoryFilesystem();
  await withPathMount(fs, NO_CACHE, async ({ mnt }) => {
    const r = await py(`
import os, sys
m = sys.argv[1]
os.makedirs(m + '/d/e')
fd = os.open(m + '/d/e/f', os.O_RDWR | os.O_CREAT, 0o644)
os.rename(m + '/d/e/f', m + '/d/e/g')
os.write(fd, b'1')
os.rename(m + '/d', m + '/x')
os.write(fd, b'2')
os.rename(m + '/x/e', m + '/e2')
os.write(fd, b'3')
os.close(fd)
print(open(m + '/e2/g').read(), sorted(os.listdir(m)))
`, [mnt]);
    assert.equal(r.stdout, "123 ['e2', 'x']\n", describeRun(r));
    const writes = fs.calls.filter((c) => c.op === 'write' && c.phase === 'start').map((c) => c.path);
    assert.deepEqual(writes, ['/d/e/g', '/x/e/g', '/e2/g']);
  });
});

test('a rename of a subtree waits for lookups in flight below it, and later requests see the new path', { timeout: 60_000 }, async () => {
  const fs = new LoggedMemoryFilesystem();
  await withPathMount(fs, NO_CACHE, async ({ mnt }) => {
    let r = await sh(`mkdir -p ${mnt}/a/b/c && echo data > ${mnt}/a/b/c/f`);
    assert.equal(r.code, 0, describeRun(r));
    const open = fs.hold('getattr', '/a/b/c/f');
    const stat = sh(`stat -c %s ${mnt}/a/b/c/f`);
    await waitFor(() => fs.started('getattr', '/a/b/c/f'), 10_000, 'the lookup to reach the filesystem');
    // Unrelated paths are not held up meanwhile.
    r = await sh(`mkdir ${mnt}/other && stat -c %F ${mnt}/other`);
    assert.equal(r.stdout, 'directory\n', describeRun(r));
    const mv = sh(`mv ${mnt}/a ${mnt}/z`);
    await new Promise((res) => setTimeout(res, 300));
    assert.ok(!fs.started('rename', '/a'), `the rename waited for the lookup under it: ${JSON.stringify(fs.calls.slice(-12))}`);
    open();
    const [st, mvr] = await Promise.all([stat, mv]);
    assert.equal(st.stdout, '5\n', describeRun(st));
    assert.equal(mvr.code, 0, describeRun(mvr));
    const endOfLookup = fs.calls.findIndex((c) => c.op === 'getattr' && c.path === '/a/b/c/f' && c.phase === 'end');
    const startOfRename = fs.calls.findIndex((c) => c.op === 'rename' && c.path === '/a' && c.phase === 'start');
    assert.ok(endOfLookup >= 0 && startOfRename > endOfLookup, 'the lookup ended before the rename started');
    const before = fs.calls.length;
    r = await sh(`cat ${mnt}/z/b/c/f`);
    assert.equal(r.stdout, 'data\n', describeRun(r));
    const later = fs.calls.slice(before).filter((c) => c.path !== null);
    assert.ok(later.length > 0 && later.every((c) => c.path!.startsWith('/z')), JSON.stringify(later));
  });
});

test('requests on other paths do not wait behind a rename that waits for a slow request', { timeout: 60_000 }, async () => {
  const fs = new LoggedMemoryFilesystem();
  await withPathMount(fs, NO_CACHE, async ({ mnt }) => {
    let r = await sh(`mkdir -p ${mnt}/d ${mnt}/other && echo x > ${mnt}/d/slow && echo y > ${mnt}/other/f`);
    assert.equal(r.code, 0, describeRun(r));
    const open = fs.hold('getattr', '/d/slow');
    const stat = sh(`stat -c %s ${mnt}/d/slow`);
    await waitFor(() => fs.started('getattr', '/d/slow'), 10_000, 'the slow getattr to reach the filesystem');
    const mv = sh(`mv ${mnt}/d ${mnt}/e`);
    await new Promise((res) => setTimeout(res, 300));
    assert.ok(!fs.started('rename', '/d'), 'the rename waits for the getattr under it');
    // Served while the rename still waits: they share no node with it.
    r = await sh(`cat ${mnt}/other/f && stat -c %F ${mnt}/other`);
    assert.equal(r.stdout, 'y\ndirectory\n', describeRun(r));
    assert.ok(!fs.started('rename', '/d'), 'the slow getattr was still held');
    open();
    const [st, mvr] = await Promise.all([stat, mv]);
    assert.equal(st.stdout, '2\n', describeRun(st));
    assert.equal(mvr.code, 0, describeRun(mvr));
  });
});

test('a handler that never settles holds up only the renames above it, until their deadline; the mount keeps serving', { timeout: 60_000 }, async () => {
  const fs = new (class extends LoggedMemoryFilesystem {
    hang = false;
    override getattr(path: string | null, fh: number | undefined) {
      // Every getattr of the file, the kernel's retries included, never settles.
      if (this.hang && path === '/d/hang') return new Promise<never>(() => undefined) as never;
      return super.getattr(path, fh);
    }
  })();
  await withPathMount(fs, NO_CACHE, async ({ mnt }) => {
    let r = await sh(`mkdir -p ${mnt}/d ${mnt}/other && echo x > ${mnt}/d/hang && echo ok > ${mnt}/d/ok && echo y > ${mnt}/other/f`);
    assert.equal(r.code, 0, describeRun(r));
    fs.hang = true;
    {
      const st = await sh(`stat ${mnt}/d/hang`);
      assert.match(st.stderr, /timed out/, describeRun(st));
      const mv = await sh(`mv ${mnt}/d ${mnt}/e`);
      assert.notEqual(mv.code, 0, describeRun(mv));
      assert.match(mv.stderr, /timed out/, describeRun(mv));
      // The rename gave its place up: everything else is served, under d too.
      r = await sh(`cat ${mnt}/other/f ${mnt}/d/ok && ls ${mnt}`);
      assert.equal(r.stdout, 'y\nok\nd\nother\n', describeRun(r));
    }
  }, { requestDeadlineMs: 1500 });
});

test('a rename over a file waits for a read in flight on it, so the read never reaches the wrong file', { timeout: 60_000 }, async () => {
  const fs = new LoggedMemoryFilesystem();
  await withPathMount(fs, NO_CACHE, async ({ mnt }) => {
    await sh(`echo old > ${mnt}/f && echo new > ${mnt}/g`);
    const open = fs.hold('read', '/f');
    // O_DIRECT keeps the page cache out: the read reaches the filesystem.
    const reader = py(`
import os, sys, mmap
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
n = os.readv(fd, [buf])
print(buf[:n].decode().strip())
`, [`${mnt}/f`]);
    await waitFor(() => fs.started('read', '/f'), 10_000, 'the read to reach the filesystem');
    const mv = sh(`mv ${mnt}/g ${mnt}/f`);
    await new Promise((res) => setTimeout(res, 300));
    assert.ok(!fs.started('rename', '/g'), 'the rename waited for the read on the file it replaces');
    open();
    const [rd, mvr] = await Promise.all([reader, mv]);
    assert.equal(rd.stdout, 'old\n', describeRun(rd));
    assert.equal(mvr.code, 0, describeRun(mvr));
    const r = await sh(`cat ${mnt}/f; ls ${mnt}`);
    assert.equal(r.stdout, 'new\nf\n');
  });
});

test('RENAME_EXCHANGE swaps the nodes and RENAME_NOREPLACE refuses', { timeout: 60_000 }, async () => {
  await withPathMount(new PathMemoryFilesystem(), NO_CACHE, async ({ mnt }) => {
    await sh(`mkdir ${mnt}/d && echo A > ${mnt}/a && echo B > ${mnt}/d/b && echo inner > ${mnt}/d/in`);
    assert.equal(await renameat2(`${mnt}/a`, `${mnt}/d`, RENAME_NOREPLACE), 'EEXIST');
    assert.equal(await renameat2(`${mnt}/a`, `${mnt}/d`, RENAME_EXCHANGE), 'OK');
    const r = await sh(`cd ${mnt} && cat d && cat a/b a/in && stat -c %F a d`);
    assert.equal(r.stdout, 'A\nB\ninner\ndirectory\nregular file\n', describeRun(r));
  });
});

/**
 * Python that makes MNT/dir with `files` names f000..., opens it with libc
 * (dp; next_name() reads one name), reads `marked` names into `seen`, tells
 * the position into `pos` and reads the next five into `ahead`.
 */
function dirStream(files: number, marked: number): string {
  return `import ctypes, os, sys
d = sys.argv[1] + '/dir'
os.mkdir(d)
for i in range(${files}):
    open('%s/f%03d' % (d, i), 'w').close()
libc = ctypes.CDLL(None, use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [('ino', ctypes.c_uint64), ('off', ctypes.c_int64), ('reclen', ctypes.c_ushort), ('type', ctypes.c_ubyte), ('name', ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.readdir.argtypes = [ctypes.c_void_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.telldir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
dp = libc.opendir(d.encode())
def next_name():
    e = libc.readdir(dp)
    return e.contents.name.decode() if e else None
seen = [next_name() for _ in range(${marked})]
pos = libc.telldir(dp)
ahead = [next_name() for _ in range(5)]`;
}

/** Runs `fn` on a path memory filesystem mounted once listing with READDIRPLUS and once with plain READDIR. */
async function withEachListingKind(fn: (mnt: string, readdirPlus: boolean) => Promise<void>): Promise<void> {
  for (const readdirPlus of [true, false]) {
    const fs = new PathMemoryFilesystem();
    Object.defineProperty(fs, 'readdirPlus', { value: readdirPlus });
    await withPathMount(fs, {}, ({ mnt }) => fn(mnt, readdirPlus));
  }
}

test('a listing stays consistent, and its offsets valid, while the directory changes', { timeout: 60_000 }, async () => {
  await withEachListingKind(async (mnt, readdirPlus) => {
      const r = await py(`${dirStream(600, 200)}
# Change the directory: remove some names not yet read, add new ones.
for i in range(500, 600):
    os.unlink('%s/f%03d' % (d, i))
for i in range(100):
    open('%s/n%03d' % (d, i), 'w').close()
libc.seekdir(dp, pos)
again = [next_name() for _ in range(5)]
while True:
    n = next_name()
    if n is None: break
    seen.append(n)
seen += again
dups = len(seen) - len(set(seen))
missing = [('f%03d' % i) for i in range(500) if ('f%03d' % i) not in seen]
print('same-after-seekdir' if again == ahead else 'differs %r %r' % (again, ahead), 'dups', dups, 'missing', len(missing), 'dots', '.' in seen and '..' in seen)
`, [mnt]);
      assert.equal(r.stdout, 'same-after-seekdir dups 0 missing 0 dots True\n', `readdirPlus=${readdirPlus}: ${describeRun(r)}`);
      const after = await sh(`ls -f ${mnt}/dir | wc -l`);
      assert.equal(after.stdout.trim(), String(500 + 100 + 2), 'a new listing shows the changes');
  });
});

test('an offset told before a rewind still resumes in its own listing after the directory changed', { timeout: 60_000 }, async () => {
  await withEachListingKind(async (mnt, readdirPlus) => {
      const r = await py(`${dirStream(300, 150)}
# Names before the mark go away, and the reader starts over.
for i in range(40):
    os.unlink('%s/f%03d' % (d, i))
libc.seekdir(dp, 0)
fresh = [next_name() for _ in range(400)]
libc.seekdir(dp, pos)
again = [next_name() for _ in range(5)]
print('same-after-rewind' if again == ahead else 'differs %r %r' % (again, ahead), 'new-listing' if 'f000' not in fresh else 'old-listing')
`, [mnt]);
      assert.equal(r.stdout, 'same-after-rewind new-listing\n', `readdirPlus=${readdirPlus}: ${describeRun(r)}`);
  });
});

test('lookup references return to zero and the node table empties once the kernel forgets', { timeout: 60_000 }, async () => {
  await withPathMount(new PathMemoryFilesystem(), {}, async ({ mnt, adapter, m }) => {
    const r = await sh(`cd ${mnt} && mkdir -p x/y && for i in $(seq 1 100); do echo $i > x/y/f$i; done && ls -lR >/dev/null && mv x z && cat z/y/f1`);
    assert.equal(r.stdout, '1\n', describeRun(r));
    assert.ok(adapter.nodes.size > 100);
    const deadline = Date.now() + 10_000;
    while ((m.session.knownNodes > 0 || adapter.nodes.size > 1) && Date.now() < deadline) {
      await dropCaches(2);
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(m.session.knownNodes, 0);
    assert.equal(adapter.nodes.size, 1, 'only the root is left');
  });
});

/** A flat directory whose listing is one array, changed in place behind the mount's back. */
function flatFilesystem(names: string[]): PathFilesystem {
  const dirAttr = { mode: 0o40755 };
  const fileAttr = { mode: 0o100644, size: 0 };
  return {
    getattr: (p) => (p === '/' ? dirAttr : p !== null && names.includes(p.slice(1)) ? fileAttr : Errno.of('ENOENT')),
    readdir: () => names,
  };
}

const SCANDIR = `
import os, sys, json
print(json.dumps(sorted([e.name, e.inode()] for e in os.scandir(sys.argv[1]))))
`;

test('a listing kept encoded between handles is encoded again when the names or the known nodes change', { timeout: 60_000 }, async () => {
  // Enough names for several READDIRs, and names of every UTF-8 length.
  const names = ['é', 'ß-ü', '日本語', '\u{1F600}x'];
  for (let i = 0; i < 3000; i++) names.push('name-' + String(i).padStart(5, '0'));
  await withPathMount(flatFilesystem(names), NO_CACHE, async ({ mnt }) => {
    const scan = async () => {
      const r = await py(SCANDIR, [mnt]);
      assert.equal(r.code, 0, describeRun(r));
      return new Map(JSON.parse(r.stdout) as [string, number][]);
    };
    let listed = await scan();
    assert.deepEqual([...listed.keys()].sort(), [...names].sort());
    assert.equal(listed.get('日本語'), 0xffffffff, 'a name the kernel has not looked up has no inode number yet');
    // The same listing again: the same entries (now from the kept records).
    assert.deepEqual(await scan(), listed);

    // A lookup makes the node known: its node id is d_ino from then on.
    const st = await py(`import os, sys; print(os.lstat(sys.argv[1]).st_ino)`, [`${mnt}/日本語`]);
    listed = await scan();
    assert.equal(listed.get('日本語'), Number(st.stdout), describeRun(st));

    // Names changed in the filesystem's own array: the next listing shows them.
    names.splice(10, 5);
    names.push('added-later');
    listed = await scan();
    assert.deepEqual([...listed.keys()].sort(), [...names].sort());
  });
});

test('READDIR records handed to a sink other than the reply writer are the same entries', () => {
  const names = ['a', 'é', 'name-1', '..', 'last'];
  const adapter = new PathAdapter(flatFilesystem(names));
  const ctx = { nodeid: 1, uid: 0, gid: 0, pid: 1, unique: 1n } as unknown as RequestContext;
  const { fh } = adapter.opendir({ flags: 0 } as OpendirRequest, ctx) as OpenReply;
  const seen: [string, number, number, bigint][] = [];
  let room = 4;
  const sink: DirentSink = {
    add: (name, ino, type, next) => {
      if (room === 0) return false;
      room--;
      seen.push([String(name), ino, type, next]);
      return true;
    },
  };
  adapter.readdir({ fh, offset: 0n, size: 4096 } as ReaddirRequest, ctx, sink);
  // Resume after the last entry the sink took; the filesystem's own '..' is left out.
  room = 10;
  adapter.readdir({ fh, offset: seen[seen.length - 1]![3], size: 4096 } as ReaddirRequest, ctx, sink);
  assert.deepEqual(seen.map(([name, , , next]) => [name, next]), [
    ['.', 1n], ['..', 2n], ['a', 3n], ['é', 4n], ['name-1', 5n], ['last', 7n],
  ]);
  assert.deepEqual(seen.map(([, ino, type]) => [ino, type]).slice(2, 4), [[0xffffffff, 0], [0xffffffff, 0]]);
});

test('attributes of the wrong shape from getattr answer EIO, each shape logged once with what to return', { timeout: 60_000 }, async () => {
  const S_IFDIR = 0o040000;
  const fs: PathFilesystem = {
    getattr: (p: string) => {
      if (p === '/') return { mode: S_IFDIR | 0o755 };
      if (p.startsWith('/undefined')) return undefined as never;
      if (p.startsWith('/string')) return 'attributes' as never;
      if (p.startsWith('/notype')) return { mode: 0o644, size: 1 };
      return Errno.of(2);
    },
  };
  await withPathMount(fs, {}, async ({ mnt, logs }) => {
    for (const name of ['undefined1', 'undefined2', 'string1', 'string2', 'notype1', 'notype2']) {
      const r = await sh(`stat ${mnt}/${name}`);
      assert.match(r.stderr, /Input\/output error/, `${name}: ${describeRun(r)}`);
    }
    assert.match((await sh(`stat ${mnt}/missing`)).stderr, /No such file or directory/);
    const lines = logs.filter((l) => l.includes('LOOKUP failed'));
    assert.equal(lines.filter((l) => l.includes('returned undefined where attributes were expected')).length, 1, logs.join('\n'));
    assert.equal(lines.filter((l) => l.includes('returned string where attributes were expected')).length, 1, logs.join('\n'));
    assert.equal(lines.filter((l) => l.includes('whose mode has no file type')).length, 1, logs.join('\n'));
  });
});

const NON_UTF8_NAMES = `
import errno, os, sys
d = sys.argv[1].encode()
def code(f):
    try:
        f()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
print('create', code(lambda: os.close(os.open(d + b'/r\\xe9sum\\xe9', os.O_CREAT | os.O_WRONLY, 0o644))))
print('mkdir', code(lambda: os.mkdir(d + b'/d\\xff')))
print('symlink', code(lambda: os.symlink(b'target', d + b'/l\\xff')))
print('symlink target', code(lambda: os.symlink(b't\\xff', d + b'/l')))
print('utf8', code(lambda: os.close(os.open(d + b'/r\\xc3\\xa9sum\\xc3\\xa9', os.O_CREAT | os.O_WRONLY, 0o644))))
print('rename to', code(lambda: os.rename(d + b'/r\\xc3\\xa9sum\\xc3\\xa9', d + b'/r\\xe8sum\\xe8')))
print('lookup', code(lambda: os.stat(d + b'/r\\xe9sum\\xe9')))
print('unlink', code(lambda: os.unlink(d + b'/r\\xe8sum\\xe8')))
print('names', sorted(os.listdir(d)))
`;

test('a name that is not valid UTF-8 never reaches a path filesystem: not found, and not created', { timeout: 60_000 }, async () => {
  await withPathMount(new PathMemoryFilesystem(), {}, async ({ mnt }) => {
    const r = await py(NON_UTF8_NAMES, [mnt]);
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'create EILSEQ', 'mkdir EILSEQ', 'symlink EILSEQ', 'symlink target EILSEQ', 'utf8 ok', 'rename to EILSEQ', 'lookup ENOENT', 'unlink ENOENT',
      "names [b'r\\xc3\\xa9sum\\xc3\\xa9']",
    ]);
  });
});

test('O_TRUNC reaches a path filesystem as a truncate to 0 after the open, unless its initFlags ask for ATOMIC_O_TRUNC', { timeout: 60_000 }, async () => {
  // 'no open': the kernel sends no OPEN at all, so the truncate must come as a SETATTR.
  // 'no truncate': nothing can empty the file, so the open must fail rather than keep the old tail.
  // 'truncate ENOSYS': passed on as OPEN's answer it would stop the kernel sending OPEN at all.
  for (const variant of ['plain', 'atomic', 'no open', 'no truncate', 'truncate ENOSYS'] as const) {
    const calls: string[] = [];
    let data = Buffer.from('long content\n');
    const S_IFDIR = 0o040000;
    const S_IFREG = 0o100000;
    const atomic = variant === 'atomic';
    const fs: PathFilesystem = {
      initFlags: atomic ? InitFlag.ATOMIC_O_TRUNC : undefined,
      getattr: (p: string) => (p === '/' ? { mode: S_IFDIR | 0o755 } : p === '/x' ? { mode: S_IFREG | 0o644, size: data.length } : Errno.of(2)),
      open: (_p: string, flags: number) => {
        calls.push(`open${flags & 0o1000 ? ' O_TRUNC' : ''}`);
        if (atomic && flags & 0o1000) data = Buffer.alloc(0);
        return 1;
      },
      truncate: (_p: string | null, size: number, fh: number | undefined) => {
        calls.push(`truncate ${size} fh=${fh}`);
        data = data.subarray(0, size);
      },
      write: (_p: string | null, _fh: number, buf: Buffer, offset: number) => {
        const grown = Buffer.alloc(Math.max(data.length, offset + buf.length));
        data.copy(grown);
        buf.copy(grown, offset);
        data = grown;
        return buf.length;
      },
      read: (_p: string | null, _fh: number, buf: Buffer, offset: number) => (offset >= data.length ? 0 : data.copy(buf, 0, offset)),
    };
    if (variant === 'no open') delete fs.open;
    if (variant === 'no truncate') delete fs.truncate;
    if (variant === 'truncate ENOSYS') fs.truncate = () => Errno.of('ENOSYS');
    await withPathMount(fs, { attrTimeout: 0, entryTimeout: 0 }, async ({ mnt, logs }) => {
      const r = await sh(`echo hi > ${mnt}/x && cat ${mnt}/x`);
      const truncating = calls.filter((c) => c === 'open O_TRUNC' || c.startsWith('truncate'));
      if (variant === 'truncate ENOSYS') {
        assert.match(r.stderr, /Operation not supported/, describeRun(r));
        const opensBefore = calls.filter((c) => c.startsWith('open')).length;
        assert.equal((await sh(`cat ${mnt}/x`)).stdout, 'long content\n');
        assert.equal(calls.filter((c) => c.startsWith('open')).length, opensBefore + 1, 'the next open still reached the filesystem');
        return;
      }
      if (variant === 'no truncate') {
        assert.match(r.stderr, /Input\/output error/, describeRun(r));
        assert.equal(data.toString(), 'long content\n', 'nothing written over the old content');
        assert.equal(logs.filter((l) => l.includes('an open with O_TRUNC needs `truncate`')).length, 1, logs.join('\n'));
        return;
      }
      assert.equal(r.stdout, 'hi\n', `${variant}: ${describeRun(r)}`);
      const want = { plain: ['open O_TRUNC', 'truncate 0 fh=1'], atomic: ['open O_TRUNC'], 'no open': ['truncate 0 fh=undefined'] }[variant];
      assert.deepEqual(truncating, want, variant);
    });
  }
});

test('mountPaths() refuses a missing filesystem or options before it mounts anything', async () => {
  const { mountPaths } = await import('../../src/path/mount.js');
  const { MountError } = await import('../../src/session/mount.js');
  const call = mountPaths as (...a: unknown[]) => Promise<unknown>;
  await assert.rejects(call('/nonexistent-mnt', null), (e: unknown) => e instanceof MountError && /needs a filesystem: .* not null/.test(e.message));
  await assert.rejects(call('/nonexistent-mnt', new PathMemoryFilesystem(), null), (e: unknown) => e instanceof MountError && /options must be an object/.test(e.message));
  // These were taken without a word: a read-write mount for readonly, unlinked files kept for 'hidden', a negative timeout.
  const fsys = new PathMemoryFilesystem();
  await assert.rejects(call('/nonexistent-mnt', fsys, { readonly: true }), (e: unknown) => e instanceof MountError && /unknown option readonly: did you mean readOnly\?/.test(e.message));
  await assert.rejects(call('/nonexistent-mnt', fsys, { unlinkedOpen: 'hidden' }), (e: unknown) => e instanceof MountError && /unlinkedOpen must be 'keep' or 'hide', not "hidden"/.test(e.message));
  await assert.rejects(call('/nonexistent-mnt', fsys, { entryTimeout: -1 }), (e: unknown) => e instanceof MountError && /entryTimeout must be a number of seconds, 0 or more, not -1/.test(e.message));
});

test('replies a path filesystem gets wrong are its error, logged once: names with a slash, a listing that is no list, a handle past 2^53; a string xattr value is taken as UTF-8', { timeout: 60_000 }, async () => {
  const S_IFDIR = 0o040000;
  const S_IFREG = 0o100000;
  const fs: PathFilesystem = {
    getattr: (p: string) => (p === '/' || p === '/slash' || p === '/number' ? { mode: S_IFDIR | 0o755 } : p === '/f' ? { mode: S_IFREG | 0o644, size: 1 } : Errno.of(2)),
    readdir: (p: string) => (p === '/slash' ? ['a/b'] : p === '/number' ? (42 as unknown as string[]) : ['f', 'slash', 'number']),
    open: () => 2 ** 60,
    getxattr: () => 'text value' as unknown as Buffer,
  };
  await withPathMount(fs, {}, async ({ mnt, logs }) => {
    for (const dir of ['slash', 'number']) {
      const r = await sh(`ls ${mnt}/${dir}`);
      assert.match(r.stderr, /Input\/output error/, `${dir}: ${describeRun(r)}`);
    }
    assert.match((await sh(`cat ${mnt}/f`)).stderr, /Input\/output error/);
    assert.equal((await py('import os, sys; print(os.getxattr(sys.argv[1], "user.x").decode())', [`${mnt}/f`])).stdout, 'text value\n');
    const once = (re: RegExp) => assert.equal(logs.filter((l) => re.test(l)).length, 1, `${re}: ${logs.join('\n')}`);
    once(/readdir gave "a\/b" as a name/);
    once(/readdir must give an array of names .* not number/);
    once(/must give a handle that is a whole number from 0 to 2\^53-1, not 1152921504606847000/);
  });
});
