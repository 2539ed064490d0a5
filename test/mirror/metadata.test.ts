/**
 * Namespace and metadata operations through the mirror, each checked in SRC
 * (and stat through MNT checked against SRC's stat).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  describeRun,
  havePython,
  lstatBig,
  pollUntil,
  renameat2,
  run,
  statFields,
  withMirror, errCode } from '../helpers/mount.js';
import { argsWithStats, freshStats, req } from '../helpers/stats.js';

const T = { timeout: 60_000 };

/** lstat through MNT equals lstat in SRC on every passthrough field (allowing attr-cache expiry). */
async function assertSameStat(mntPath: string, srcPath: string): Promise<void> {
  let last = '';
  try {
    await pollUntil(
      async () => {
        const a = statFields(await lstatBig(mntPath));
        const b = statFields(await lstatBig(srcPath));
        last = `MNT ${JSON.stringify(a)}\nSRC ${JSON.stringify(b)}`;
        return JSON.stringify(a) === JSON.stringify(b);
      },
      { timeoutMs: 3000, intervalMs: 100, what: `same stat for ${path.basename(mntPath)}` },
    );
  } catch (e) {
    assert.fail(`${(e as Error).message}\n${last}`);
  }
}


test('rename: plain, across directories, over an existing file, directories', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    const M = (...p: string[]) => path.join(mnt, ...p);
    const S = (...p: string[]) => path.join(src, ...p);

    await fs.promises.writeFile(M('a'), 'A');
    await fs.promises.rename(M('a'), M('b'));
    assert.equal(fs.existsSync(S('a')), false);
    assert.equal(fs.readFileSync(S('b'), 'utf8'), 'A');
    assert.equal(await errCode(fs.promises.lstat(M('a'))), 'ENOENT');
    assert.equal(await fs.promises.readFile(M('b'), 'utf8'), 'A');
    await assertSameStat(M('b'), S('b'));

    // Over an existing file.
    await fs.promises.writeFile(M('x'), 'X');
    await fs.promises.writeFile(M('y'), 'Y');
    await fs.promises.rename(M('x'), M('y'));
    assert.equal(fs.existsSync(S('x')), false);
    assert.equal(fs.readFileSync(S('y'), 'utf8'), 'X');
    assert.equal(await fs.promises.readFile(M('y'), 'utf8'), 'X');

    // Across directories.
    await fs.promises.mkdir(M('d1'));
    await fs.promises.mkdir(M('d2'));
    await fs.promises.writeFile(M('d1', 'f'), 'F');
    await fs.promises.rename(M('d1', 'f'), M('d2', 'g'));
    assert.deepEqual(fs.readdirSync(S('d1')), []);
    assert.equal(fs.readFileSync(S('d2', 'g'), 'utf8'), 'F');
    assert.equal(await fs.promises.readFile(M('d2', 'g'), 'utf8'), 'F');

    // A directory with contents, then over an empty directory; not over a non-empty one.
    await fs.promises.rename(M('d2'), M('d3'));
    assert.equal(fs.readFileSync(S('d3', 'g'), 'utf8'), 'F');
    assert.equal(await fs.promises.readFile(M('d3', 'g'), 'utf8'), 'F');
    await fs.promises.rename(M('d3'), M('d1')); // d1 is empty
    assert.equal(fs.existsSync(S('d3')), false);
    assert.equal(fs.readFileSync(S('d1', 'g'), 'utf8'), 'F');
    await fs.promises.mkdir(M('d4'));
    await fs.promises.writeFile(M('d4', 'h'), 'H');
    const code = await errCode(fs.promises.rename(M('d4'), M('d1')));
    assert.ok(code === 'ENOTEMPTY' || code === 'EEXIST', `rename onto non-empty dir: ${code}`);
    assert.equal(fs.readFileSync(S('d4', 'h'), 'utf8'), 'H');
    // File onto directory and directory onto file fail.
    assert.equal(await errCode(fs.promises.rename(M('b'), M('d4'))), 'EISDIR');
    assert.equal(await errCode(fs.promises.rename(M('d4'), M('b'))), 'ENOTDIR');
  });
});

test('renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE', T, async (t) => {
  if (!(await havePython())) {
    t.skip('python3 with ctypes not available');
    return;
  }
  await withMirror(async ({ src, mnt }) => {
    const M = (...p: string[]) => path.join(mnt, ...p);
    const S = (...p: string[]) => path.join(src, ...p);
    await fs.promises.writeFile(M('a'), 'A');
    await fs.promises.writeFile(M('b'), 'B');

    assert.equal(await renameat2(M('a'), M('b'), RENAME_NOREPLACE), 'EEXIST');
    assert.equal(fs.readFileSync(S('a'), 'utf8'), 'A');
    assert.equal(fs.readFileSync(S('b'), 'utf8'), 'B');

    assert.equal(await renameat2(M('a'), M('c'), RENAME_NOREPLACE), 'OK');
    assert.equal(fs.existsSync(S('a')), false);
    assert.equal(fs.readFileSync(S('c'), 'utf8'), 'A');

    assert.equal(await renameat2(M('b'), M('c'), RENAME_EXCHANGE), 'OK');
    assert.equal(fs.readFileSync(S('b'), 'utf8'), 'A');
    assert.equal(fs.readFileSync(S('c'), 'utf8'), 'B');
    assert.equal(await fs.promises.readFile(M('b'), 'utf8'), 'A');
    assert.equal(await fs.promises.readFile(M('c'), 'utf8'), 'B');

    // Exchange a file and a directory.
    await fs.promises.mkdir(M('dir'));
    await fs.promises.writeFile(M('dir', 'inner'), 'I');
    assert.equal(await renameat2(M('b'), M('dir'), RENAME_EXCHANGE), 'OK');
    assert.ok(fs.statSync(S('b')).isDirectory());
    assert.equal(fs.readFileSync(S('b', 'inner'), 'utf8'), 'I');
    assert.equal(fs.readFileSync(S('dir'), 'utf8'), 'A');
    assert.equal(await fs.promises.readFile(M('b', 'inner'), 'utf8'), 'I');
    assert.ok((await fs.promises.lstat(M('dir'))).isFile());

    // Exchange with a missing target fails.
    assert.equal(await renameat2(M('c'), M('missing'), RENAME_EXCHANGE), 'ENOENT');
  });
});

test('symlink and readlink', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    await fs.promises.symlink('target/that/does/not/exist', path.join(mnt, 'dangling'));
    await fs.promises.symlink('../../relative', path.join(mnt, 'rel'));
    await fs.promises.symlink('/an/absolute/path', path.join(mnt, 'abs'));
    const long = 'x/'.repeat(1000) + 'end';
    await fs.promises.symlink(long, path.join(mnt, 'long'));
    for (const [name, target] of [
      ['dangling', 'target/that/does/not/exist'],
      ['rel', '../../relative'],
      ['abs', '/an/absolute/path'],
      ['long', long],
    ] as const) {
      assert.equal(fs.readlinkSync(path.join(src, name)), target, `SRC ${name}`);
      assert.equal(await fs.promises.readlink(path.join(mnt, name)), target, `MNT ${name}`);
      assert.ok((await fs.promises.lstat(path.join(mnt, name))).isSymbolicLink());
      assert.ok(fs.lstatSync(path.join(src, name)).isSymbolicLink());
      await assertSameStat(path.join(mnt, name), path.join(src, name));
    }
    // Following a symlink inside the mirror.
    await fs.promises.writeFile(path.join(mnt, 'real'), 'real content');
    await fs.promises.symlink('real', path.join(mnt, 'to-real'));
    assert.equal(await fs.promises.readFile(path.join(mnt, 'to-real'), 'utf8'), 'real content');
    assert.equal(await errCode(fs.promises.symlink('x', path.join(mnt, 'real'))), 'EEXIST');
  });
});

test('link: hard links share the inode, nlink 2 on both names', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    await fs.promises.writeFile(path.join(mnt, 'one'), 'shared');
    await fs.promises.link(path.join(mnt, 'one'), path.join(mnt, 'two'));
    const s1 = fs.statSync(path.join(src, 'one'));
    const s2 = fs.statSync(path.join(src, 'two'));
    assert.equal(s1.ino, s2.ino, 'SRC names are not the same inode');
    assert.equal(s1.nlink, 2);
    assert.equal((await fs.promises.stat(path.join(mnt, 'one'))).nlink, 2);
    assert.equal((await fs.promises.stat(path.join(mnt, 'two'))).nlink, 2);
    const m1 = await fs.promises.stat(path.join(mnt, 'one'));
    const m2 = await fs.promises.stat(path.join(mnt, 'two'));
    assert.equal(m1.ino, m2.ino, 'MNT names are not the same inode');
    await fs.promises.appendFile(path.join(mnt, 'two'), '!');
    assert.equal(await fs.promises.readFile(path.join(mnt, 'one'), 'utf8'), 'shared!');
    assert.equal(fs.readFileSync(path.join(src, 'one'), 'utf8'), 'shared!');
    await assertSameStat(path.join(mnt, 'one'), path.join(src, 'one'));
    await assertSameStat(path.join(mnt, 'two'), path.join(src, 'two'));

    await fs.promises.unlink(path.join(mnt, 'one'));
    assert.equal(fs.existsSync(path.join(src, 'one')), false);
    assert.equal(fs.statSync(path.join(src, 'two')).nlink, 1);
    assert.equal((await fs.promises.stat(path.join(mnt, 'two'))).nlink, 1);
    assert.equal(await fs.promises.readFile(path.join(mnt, 'two'), 'utf8'), 'shared!');
    assert.equal(await errCode(fs.promises.link(path.join(mnt, 'two'), path.join(mnt, 'two'))), 'EEXIST');
    // A hard link to a directory is refused.
    await fs.promises.mkdir(path.join(mnt, 'dir'));
    assert.equal(await errCode(fs.promises.link(path.join(mnt, 'dir'), path.join(mnt, 'dirlink'))), 'EPERM');
  });
});

test('mkdir, rmdir (ENOTEMPTY on a non-empty dir), unlink', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    await fs.promises.mkdir(path.join(mnt, 'd'), { mode: 0o750 });
    assert.ok(fs.statSync(path.join(src, 'd')).isDirectory());
    assert.equal(fs.statSync(path.join(src, 'd')).mode & 0o7777, 0o750);
    await assertSameStat(path.join(mnt, 'd'), path.join(src, 'd'));
    await fs.promises.mkdir(path.join(mnt, 'd', 'e', 'f'), { recursive: true });
    assert.ok(fs.statSync(path.join(src, 'd', 'e', 'f')).isDirectory());
    assert.equal(await errCode(fs.promises.mkdir(path.join(mnt, 'd'))), 'EEXIST');

    assert.equal(await errCode(fs.promises.rmdir(path.join(mnt, 'd'))), 'ENOTEMPTY');
    assert.ok(fs.existsSync(path.join(src, 'd', 'e', 'f')));
    await fs.promises.rmdir(path.join(mnt, 'd', 'e', 'f'));
    assert.equal(fs.existsSync(path.join(src, 'd', 'e', 'f')), false);

    await fs.promises.writeFile(path.join(mnt, 'd', 'e', 'file'), 'x');
    assert.equal(await errCode(fs.promises.rmdir(path.join(mnt, 'd', 'e', 'file'))), 'ENOTDIR');
    assert.equal(await errCode(fs.promises.unlink(path.join(mnt, 'd', 'e'))), 'EISDIR');
    await fs.promises.unlink(path.join(mnt, 'd', 'e', 'file'));
    assert.equal(fs.existsSync(path.join(src, 'd', 'e', 'file')), false);
    assert.equal(await errCode(fs.promises.lstat(path.join(mnt, 'd', 'e', 'file'))), 'ENOENT');
    assert.equal(await errCode(fs.promises.unlink(path.join(mnt, 'd', 'e', 'file'))), 'ENOENT');
    await fs.promises.rmdir(path.join(mnt, 'd', 'e'));
    await fs.promises.rmdir(path.join(mnt, 'd'));
    assert.deepEqual(fs.readdirSync(src), []);
    assert.deepEqual(await fs.promises.readdir(mnt), []);
  });
});

test('truncate, chmod, chown', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    const m = path.join(mnt, 'f');
    const s = path.join(src, 'f');
    await fs.promises.writeFile(m, '0123456789');
    await fs.promises.truncate(m, 4);
    assert.equal(fs.readFileSync(s, 'utf8'), '0123');
    await fs.promises.truncate(m, 6);
    assert.deepEqual(fs.readFileSync(s), Buffer.from('0123\0\0'));
    assert.equal((await fs.promises.stat(m)).size, 6);
    await assertSameStat(m, s);

    for (const mode of [0o600, 0o751, 0o4755, 0o2711, 0o000]) {
      await fs.promises.chmod(m, mode);
      assert.equal(fs.statSync(s).mode & 0o7777, mode, `SRC mode after chmod ${mode.toString(8)}`);
      assert.equal((await fs.promises.stat(m)).mode & 0o7777, mode, `MNT mode after chmod ${mode.toString(8)}`);
      await assertSameStat(m, s);
    }
    await fs.promises.mkdir(path.join(mnt, 'sticky'));
    await fs.promises.chmod(path.join(mnt, 'sticky'), 0o1777);
    assert.equal(fs.statSync(path.join(src, 'sticky')).mode & 0o7777, 0o1777);

    await fs.promises.chmod(m, 0o644);
    await fs.promises.chown(m, 1234, 5678);
    assert.equal(fs.statSync(s).uid, 1234);
    assert.equal(fs.statSync(s).gid, 5678);
    await assertSameStat(m, s);
    await fs.promises.chown(m, 0, 0);
    assert.equal(fs.statSync(s).uid, 0);

    // lchown changes the symlink, not its target.
    await fs.promises.symlink('f', path.join(mnt, 'l'));
    await fs.promises.lchown(path.join(mnt, 'l'), 4321, 8765);
    assert.equal(fs.lstatSync(path.join(src, 'l')).uid, 4321);
    assert.equal(fs.lstatSync(path.join(src, 'l')).gid, 8765);
    assert.equal(fs.statSync(s).uid, 0, 'lchown followed the symlink');
    await assertSameStat(path.join(mnt, 'l'), path.join(src, 'l'));
  });
});

test('utimes with exact nanoseconds (utimes, touch -h, UTIME_OMIT)', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    const m = path.join(mnt, 'f');
    const s = path.join(src, 'f');
    await fs.promises.writeFile(m, 'x');
    // Values exactly representable as doubles, so Node passes them through exactly.
    await fs.promises.utimes(m, 1234567890.5, 1300000000.25);
    let st = await lstatBig(s);
    assert.equal(st.atimeNs, 1234567890500000000n);
    assert.equal(st.mtimeNs, 1300000000250000000n);
    st = await lstatBig(m);
    assert.equal(st.atimeNs, 1234567890500000000n);
    assert.equal(st.mtimeNs, 1300000000250000000n);

    // Full nanosecond precision through utimensat (touch -h uses AT_SYMLINK_NOFOLLOW).
    let r = await run('touch', ['-h', '-d', '@981173106.123456789', m], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    st = await lstatBig(s);
    assert.equal(st.mtimeNs, 981173106123456789n);
    assert.equal(st.atimeNs, 981173106123456789n);
    assert.equal((await lstatBig(m)).mtimeNs, 981173106123456789n);
    await assertSameStat(m, s);

    // Only mtime: atime must be left alone (UTIME_OMIT).
    r = await run('touch', ['-h', '-m', '-d', '@1000000000.000000001', m], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    st = await lstatBig(s);
    assert.equal(st.mtimeNs, 1000000000000000001n);
    assert.equal(st.atimeNs, 981173106123456789n, 'atime changed though only mtime was set');

    // UTIME_NOW: mtime becomes "now" (within a few seconds).
    r = await run('touch', ['-h', '-m', m], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    st = await lstatBig(s);
    const now = BigInt(Date.now()) * 1_000_000n;
    assert.ok(st.mtimeNs > now - 10_000_000_000n && st.mtimeNs <= now + 1_000_000_000n, `mtime ${st.mtimeNs} not now`);

    // On a symlink itself.
    await fs.promises.symlink('f', path.join(mnt, 'l'));
    r = await run('touch', ['-h', '-d', '@777777777.987654321', path.join(mnt, 'l')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal((await lstatBig(path.join(src, 'l'))).mtimeNs, 777777777987654321n);
    assert.equal((await lstatBig(path.join(mnt, 'l'))).mtimeNs, 777777777987654321n);
    assert.notEqual((await lstatBig(s)).mtimeNs, 777777777987654321n, 'touch -h followed the symlink');

    // On a directory.
    await fs.promises.mkdir(path.join(mnt, 'd'));
    await fs.promises.utimes(path.join(mnt, 'd'), 100.5, 200.75);
    assert.equal((await lstatBig(path.join(src, 'd'))).mtimeNs, 200750000000n);
  });
});

test('mkfifo and mknod through MNT create special files in SRC', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    let r = await run('mkfifo', ['-m', '0640', path.join(mnt, 'fifo')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    const s = fs.lstatSync(path.join(src, 'fifo'));
    assert.ok(s.isFIFO(), 'not a FIFO in SRC');
    assert.equal(s.mode & 0o7777, 0o640);
    assert.ok((await fs.promises.lstat(path.join(mnt, 'fifo'))).isFIFO());
    await assertSameStat(path.join(mnt, 'fifo'), path.join(src, 'fifo'));

    r = await run('mknod', ['-m', '0600', path.join(mnt, 'null'), 'c', '1', '3'], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    const c = fs.lstatSync(path.join(src, 'null'));
    assert.ok(c.isCharacterDevice(), 'not a char device in SRC');
    assert.equal(c.rdev, fs.statSync('/dev/null').rdev);
    await assertSameStat(path.join(mnt, 'null'), path.join(src, 'null'));
  });
});

test('statfs of MNT matches the filesystem of SRC', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    const a = await fs.promises.statfs(mnt);
    const b = await fs.promises.statfs(src);
    assert.equal(a.bsize, b.bsize, 'bsize');
    assert.equal(a.blocks, b.blocks, 'blocks');
    assert.equal(a.files, b.files, 'files');
    // Free counts move with other activity; allow 1%.
    assert.ok(Math.abs(a.bfree - b.bfree) <= b.blocks / 100, `bfree ${a.bfree} vs ${b.bfree}`);
    assert.ok(Math.abs(a.bavail - b.bavail) <= b.blocks / 100, `bavail ${a.bavail} vs ${b.bavail}`);
  });
});

test('access(2): R_OK/W_OK/X_OK on a 0700 file pass as root; X_OK on 0600 fails', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    fs.writeFileSync(path.join(src, 'x700'), '#!/bin/sh\n', { mode: 0o700 });
    fs.chmodSync(path.join(src, 'x700'), 0o700);
    fs.writeFileSync(path.join(src, 'r600'), 'x');
    fs.chmodSync(path.join(src, 'r600'), 0o600);
    const { R_OK, W_OK, X_OK, F_OK } = fs.constants;
    await fs.promises.access(path.join(mnt, 'x700'), F_OK);
    await fs.promises.access(path.join(mnt, 'x700'), R_OK);
    await fs.promises.access(path.join(mnt, 'x700'), W_OK);
    await fs.promises.access(path.join(mnt, 'x700'), X_OK);
    await fs.promises.access(path.join(mnt, 'x700'), R_OK | W_OK | X_OK);
    await fs.promises.access(path.join(mnt, 'r600'), R_OK | W_OK);
    assert.equal(await errCode(fs.promises.access(path.join(mnt, 'r600'), X_OK)), 'EACCES');
    assert.equal(await errCode(fs.promises.access(path.join(mnt, 'missing'), F_OK)), 'ENOENT');
  });
});

test('new files and dirs get the mode the caller asked for (caller umask, not the server umask)', T, async () => {
  const old = process.umask(0o022);
  try {
    await withMirror(
      async ({ src, mnt }) => {
        await fs.promises.writeFile(path.join(mnt, 'f'), 'x', { mode: 0o666 });
        assert.equal(fs.statSync(path.join(src, 'f')).mode & 0o7777, 0o644);
        await fs.promises.mkdir(path.join(mnt, 'd'), { mode: 0o777 });
        assert.equal(fs.statSync(path.join(src, 'd')).mode & 0o7777, 0o755);
        const r = await run('mkfifo', ['-m', '0666', path.join(mnt, 'p')], { timeoutMs: 10_000 });
        assert.equal(r.code, 0, describeRun(r));
        assert.equal(fs.statSync(path.join(src, 'p')).mode & 0o7777, 0o666, 'mkfifo -m 0666');
        // Callers with different umasks one after the other (the server keeps the last one set).
        const seq = await run('sh', ['-c', 'cd "$1" && umask 077 && touch a && umask 002 && touch b && umask 0 && touch c && umask 027 && mkdir e && umask 077 && touch g', 'sh', mnt], { timeoutMs: 10_000 });
        assert.equal(seq.code, 0, describeRun(seq));
        const modes = Object.fromEntries(['a', 'b', 'c', 'e', 'g'].map((n) => [n, (fs.statSync(path.join(src, n)).mode & 0o7777).toString(8)]));
        assert.deepEqual(modes, { a: '600', b: '664', c: '666', e: '750', g: '600' });
      },
      { spawn: { umask: 0o077 } },
    );
  } finally {
    process.umask(old);
  }
});

test('creat(2) ownership is the caller’s (root here) and stat fields match SRC', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    await fs.promises.writeFile(path.join(mnt, 'f'), 'abc');
    await fs.promises.mkdir(path.join(mnt, 'd'));
    await fs.promises.symlink('f', path.join(mnt, 'l'));
    for (const n of ['f', 'd', 'l']) {
      const s = fs.lstatSync(path.join(src, n));
      assert.equal(s.uid, process.getuid?.() ?? 0);
      assert.equal(s.gid, process.getgid?.() ?? 0);
      await assertSameStat(path.join(mnt, n), path.join(src, n));
    }
  });
});

test('st_ino through MNT is the inode number in SRC', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      for (const n of ['f', 'd', 'l']) {
        const a = await fs.promises.lstat(path.join(mnt, n), { bigint: true });
        const b = fs.lstatSync(path.join(src, n), { bigint: true });
        assert.equal(a.ino, b.ino, `ino of ${n}`);
      }
      const ents = await fs.promises.readdir(mnt, { withFileTypes: true });
      assert.deepEqual(
        ents.map((e) => `${e.name}:${e.isFile() ? 'f' : e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : '?'}`).sort(),
        ['d:d', 'f:f', 'l:l'],
      );
    },
    {
      prepare: ({ src }) => {
        fs.writeFileSync(path.join(src, 'f'), '');
        fs.mkdirSync(path.join(src, 'd'));
        fs.symlinkSync('f', path.join(src, 'l'));
      },
    },
  );
});

test('symlink targets are cached by the kernel: one READLINK per link, and a link replaced in SRC shows its new target', T, async () => {
  let stats = '';
  await withMirror(
    async ({ src, mnt }) => {
      const link = path.join(mnt, 'l');
      const before = await freshStats(stats, 'a snapshot before the readlinks');
      for (let i = 0; i < 20; i++) assert.equal(await fs.promises.readlink(link), 'first-target');
      const after = await freshStats(stats, 'a snapshot after the readlinks');
      assert.equal(req(after, 'READLINK') - req(before, 'READLINK'), 1, 'the target is read once, then served from the kernel\'s cache');

      // Replaced behind the mirror's back: a new inode, so a new node id and no stale target.
      fs.unlinkSync(path.join(src, 'l'));
      fs.symlinkSync('second-target', path.join(src, 'l'));
      await pollUntil(async () => (await fs.promises.readlink(link)) === 'second-target', { timeoutMs: 5000, what: 'the new target through MNT' });
    },
    { args: argsWithStats([], (f) => (stats = f)), prepare: ({ src }) => fs.symlinkSync('first-target', path.join(src, 'l')) },
  );
});
