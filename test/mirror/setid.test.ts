import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror, describeRun } from '../helpers/mount.js';

const T = { timeout: 60_000 };

/** Runs a shell command as the unprivileged user nobody, who lacks CAP_FSETID. */
const asNobody = (cmd: string) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', cmd], { timeoutMs: 15_000 });

// The kernel leaves clearing set-ID bits to the mirror (HANDLE_KILLPRIV_V2); the
// mirror must do it exactly where the VFS would on the source.
for (const policy of ['auto', 'never']) {
  test(`set-ID bits are cleared on write, truncate and O_TRUNC by an unprivileged caller, as on the source (--passthrough ${policy})`, T, async () => {
    await withMirror(async ({ src, mnt }) => {
      const cases: [string, (f: string) => string][] = [
        ['append', (f) => `echo more >> ${f}`],
        ['truncate', (f) => `truncate -s 1 ${f}`],
        ['O_TRUNC', (f) => `echo new > ${f}`],
      ];
      for (const [name, cmd] of cases) {
        const native = path.join(src, `native-${name}`);
        const mirrored = `mirrored-${name}`;
        for (const f of [native, path.join(src, mirrored)]) {
          fs.writeFileSync(f, 'data\n');
          fs.chmodSync(f, 0o6777);
        }
        let r = await asNobody(cmd(native));
        assert.equal(r.code, 0, describeRun(r));
        r = await asNobody(cmd(path.join(mnt, mirrored)));
        assert.equal(r.code, 0, describeRun(r));
        const want = fs.statSync(native).mode & 0o7777;
        assert.equal(want, 0o777, `the source itself clears set-ID bits on ${name}`);
        assert.equal((await fs.promises.stat(path.join(src, mirrored))).mode & 0o7777, want, name);
      }
      // Root keeps them (CAP_FSETID), through the mirror as on the source.
      fs.writeFileSync(path.join(src, 'rootfile'), 'data\n');
      fs.chmodSync(path.join(src, 'rootfile'), 0o6755);
      await fs.promises.appendFile(path.join(mnt, 'rootfile'), 'more\n');
      assert.equal((await fs.promises.stat(path.join(src, 'rootfile'))).mode & 0o7777, 0o6755);
    }, { args: ['-o', 'allow_other', '--passthrough', policy], prepare: ({ root, src }) => {
      // nobody must be able to reach both trees.
      fs.chmodSync(root, 0o755);
      fs.chmodSync(src, 0o777);
    } });
  });
}

/** One side of a race, as nobody: `swap` points DIR/x at TARGET again and again (symlink, or hard link with `link`); `create` makes DIR/x set-user-ID, exclusively, again and again. */
const RACE = `
import os, sys, time
mode, d, arg, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
end = time.time() + secs
x, s = os.path.join(d, 'x'), os.path.join(d, 's')
while time.time() < end:
    try:
        if mode == 'swap': os.symlink(arg, s); os.rename(s, x)
        elif mode == 'link': os.link(arg, s); os.rename(s, x)
        else:
            try: os.unlink(x)
            except OSError: pass
            os.close(os.open(x, os.O_CREAT | os.O_EXCL | os.O_WRONLY, int(arg, 8)))
    except OSError: pass
`;
// The system's python: a python3 earlier in root's PATH may be out of nobody's reach.
const asNobodyPy = (args: string[]) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-c', RACE, ...args], { timeoutMs: 30_000 });

test('a name swapped in SRC while a file is created through MNT never makes the server chown or chmod another file', { timeout: 90_000 }, async () => {
  // The server once gave a new file to its caller by name (fchownat, then
  // fchmodat following symlinks) after creating it as root: nobody, able to
  // write a directory in SRC, could swap in a symlink or a hard link and have
  // a root-owned file made set-user-ID and world-writable, or another user's
  // file given to it, within a second or two.
  await withMirror(async ({ root, src, mnt }) => {
    const target = path.join(root, 'outside-target');
    fs.writeFileSync(target, 'root\n');
    fs.chmodSync(target, 0o644);
    const victim = path.join(root, 'victim');
    fs.writeFileSync(victim, 'daemon\n');
    fs.chownSync(victim, 1, 1);
    fs.chmodSync(victim, 0o666);
    for (const [swap, arg, mode] of [['swap', target, '4777'], ['link', victim, '644']] as const) {
      const attacker = asNobodyPy([swap, path.join(src, 'race'), arg, '5']);
      const creator = asNobodyPy(['create', path.join(mnt, 'race'), mode, '5']);
      const [a, c] = await Promise.all([attacker, creator]);
      assert.equal(a.code, 0, describeRun(a));
      assert.equal(c.code, 0, describeRun(c));
    }
    const t = fs.statSync(target);
    assert.equal(t.mode & 0o7777, 0o644, 'the root-owned file outside SRC kept its mode');
    assert.equal(t.uid, 0);
    const v = fs.statSync(victim);
    assert.deepEqual([v.uid, v.gid], [1, 1], "daemon's file kept its owner");
  }, { args: ['-o', 'allow_other'], prepare: ({ root, src }) => {
    fs.chmodSync(root, 0o755);
    fs.mkdirSync(path.join(src, 'race'), { mode: 0o777 });
    fs.chmodSync(path.join(src, 'race'), 0o777);
  } });
});

test('O_TMPFILE keeps the set-user-ID bit its creator asked for, as on the source', T, async () => {
  const code = `/usr/bin/python3 -c "
import os, sys
d = sys.argv[1]
fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o4755)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.link('/proc/self/fd/%d' % fd, 'linked', dst_dir_fd=dfd, follow_symlinks=True)
print(oct(os.stat(os.path.join(d, 'linked')).st_mode & 0o7777))
"`;
  await withMirror(async ({ src, mnt }) => {
    fs.mkdirSync(path.join(src, 'native'), { mode: 0o777 });
    fs.mkdirSync(path.join(src, 'mirrored'), { mode: 0o777 });
    for (const d of ['native', 'mirrored']) fs.chmodSync(path.join(src, d), 0o777);
    const native = await asNobody(`umask 022; ${code} ${path.join(src, 'native')}`);
    const mirrored = await asNobody(`umask 022; ${code} ${path.join(mnt, 'mirrored')}`);
    assert.equal(native.code, 0, describeRun(native));
    assert.equal(mirrored.code, 0, describeRun(mirrored));
    assert.equal(mirrored.stdout, native.stdout);
    assert.equal(native.stdout.trim(), '0o4755');
  }, { args: ['-o', 'allow_other'], prepare: ({ root, src }) => {
    fs.chmodSync(root, 0o755);
    fs.chmodSync(src, 0o777);
  } });
});

test('trusted.* attribute names are listed to root only, as on the source', T, async () => {
  const list = (f: string) => `/usr/bin/python3 -c "import os, sys; print(' '.join(sorted(os.listxattr(sys.argv[1]))))" ${f}`;
  await withMirror(async ({ src, mnt }) => {
    const f = path.join(src, 'f');
    fs.writeFileSync(f, 'x');
    fs.chmodSync(f, 0o644);
    const set = await run('/usr/bin/python3', ['-c', "import os, sys; os.setxattr(sys.argv[1], 'trusted.secret', b'1'); os.setxattr(sys.argv[1], 'user.note', b'2')", f], { timeoutMs: 10_000 });
    assert.equal(set.code, 0, describeRun(set));
    const native = await asNobody(list(f));
    const mirrored = await asNobody(list(path.join(mnt, 'f')));
    assert.equal(native.stdout.trim(), 'user.note', describeRun(native));
    assert.equal(mirrored.stdout, native.stdout, describeRun(mirrored));
    const asRoot = await run('sh', ['-c', list(path.join(mnt, 'f'))], { timeoutMs: 10_000 });
    assert.equal(asRoot.stdout.trim(), 'trusted.secret user.note', describeRun(asRoot));
  }, { args: ['-o', 'allow_other'], prepare: ({ root, src }) => {
    fs.chmodSync(root, 0o755);
    fs.chmodSync(src, 0o755);
  } });
});
