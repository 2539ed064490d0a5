/**
 * `fusekit mirror` as a process: mounting, options, signals, unmounting from
 * outside, the stats file, --debug, --help and --version.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  REPO_ROOT,
  abortConnection,
  describeRun,
  isMounted,
  makeTempDirs,
  mountAt,
  pollUntil,
  run,
  runCli,
  sleep,
  withMirror,
  withTimeout,
} from '../helpers/mount.js';
import { argsWithStats } from '../helpers/stats.js';

const T = { timeout: 60_000 };

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

test('mounts MNT as fuse.fusekit with SRC as its source and shows SRC', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      const e = mountAt(mnt);
      assert.ok(e, 'mount entry missing');
      assert.equal(e.fsType, 'fuse.fusekit');
      assert.equal(e.source, src);
      const a = (await fs.promises.readdir(mnt)).sort();
      const b = (await fs.promises.readdir(src)).sort();
      assert.deepEqual(a, b);
      assert.deepEqual(a, ['dir', 'hello.txt']);
      assert.equal(await fs.promises.readFile(path.join(mnt, 'hello.txt'), 'utf8'), 'hello world\n');
      const st = await fs.promises.stat(mnt);
      assert.ok(st.isDirectory());
    },
    {
      prepare: ({ src }) => {
        fs.writeFileSync(path.join(src, 'hello.txt'), 'hello world\n');
        fs.mkdirSync(path.join(src, 'dir'));
      },
    },
  );
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  test(`${sig} unmounts and exits 0`, T, async () => {
    await withMirror(
      async ({ mnt, proc }) => {
        // Some traffic first, so the server is really up.
        assert.equal(await fs.promises.readFile(path.join(mnt, 'f'), 'utf8'), 'x');
        proc.child.kill(sig);
        const r = await proc.waitExit(10_000);
        assert.ok(r, `server did not exit within 10 s of ${sig}`);
        assert.equal(r.code, 0, `exit code after ${sig} (signal ${r.signal})`);
        assert.equal(isMounted(mnt), false, `${mnt} still in /proc/self/mountinfo after ${sig}`);
      },
      { prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'x') },
    );
  });
}

test('SIGTERM while a file is open on MNT: mount detached at once, exit 0 after the file is closed', T, async () => {
  await withMirror(
    async ({ mnt, proc }) => {
      const fh = await fs.promises.open(path.join(mnt, 'f'), 'r');
      try {
        proc.child.kill('SIGTERM');
        await pollUntil(() => !isMounted(mnt), { timeoutMs: 5000, what: 'MNT gone from mountinfo after SIGTERM' });
        // The open file is still served.
        const buf = Buffer.alloc(16);
        const { bytesRead } = await withTimeout(fh.read(buf, 0, 16, 0), 5000, 'read on the detached mount');
        assert.equal(buf.subarray(0, bytesRead).toString(), 'busy');
      } finally {
        await fh.close();
      }
      const e = await proc.waitExit(10_000);
      assert.ok(e, 'server did not exit within 10 s after the last file was closed');
      assert.equal(e.code, 0, `exit code (signal ${e.signal})`);
    },
    { prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'busy') },
  );
});

test('`fusekit umount MNT` unmounts a running mirror, which then exits 0', T, async () => {
  await withMirror(async ({ mnt, proc }) => {
    await fs.promises.readdir(mnt);
    const r = await runCli(['umount', mnt], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(isMounted(mnt), false, 'still mounted after fusekit umount');
    const e = await proc.waitExit(10_000);
    assert.ok(e, 'server did not exit within 10 s after fusekit umount');
    assert.equal(e.code, 0);
  });
});

test('umount(8) from outside ends the server with exit 0', T, async () => {
  await withMirror(async ({ mnt, proc }) => {
    await fs.promises.readdir(mnt);
    const r = await run('umount', [mnt], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    const e = await proc.waitExit(10_000);
    assert.ok(e, 'server did not exit within 10 s after umount');
    assert.equal(e.code, 0, `exit code (signal ${e.signal})`);
    assert.equal(isMounted(mnt), false);
  });
});

test('a SIGKILLed server leaves ENOTCONN; mirror over it says what to do; fusekit umount clears it', T, async () => {
  await withMirror(async ({ src, mnt, proc }) => {
    await fs.promises.readdir(mnt);
    proc.kill();
    await proc.waitExit(10_000);
    await assert.rejects(fs.promises.readdir(mnt), { code: 'ENOTCONN' });
    const again = await runCli(['mirror', src, mnt], { timeoutMs: 10_000 });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /dead FUSE mount.*fusekit umount/, describeRun(again));
    assert.equal(lines(again.stderr).length, 1, 'one line of explanation');
    const r = await runCli(['umount', mnt], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(isMounted(mnt), false);
    assert.deepEqual(await fs.promises.readdir(mnt), []);
  });
});

test('aborting the connection through fusectl ends the server within 10 s', T, async () => {
  await withMirror(async ({ mnt, proc }) => {
    await fs.promises.readdir(mnt);
    assert.equal(abortConnection(mnt), true, 'could not write the abort file');
    const e = await proc.waitExit(10_000);
    assert.ok(e, 'server did not exit within 10 s after the connection was aborted');
    // Any exit code is acceptable; withMirror detaches the dead mount.
  });
});

test('--stats-file is written while serving and stays valid JSON after exit', T, async () => {
  let statsPath = '';
  await withMirror(
    async ({ mnt, proc }) => {
      for (let i = 0; i < 5; i++) await fs.promises.stat(path.join(mnt, `f${i}`));
      await assert.rejects(fs.promises.stat(path.join(mnt, 'does-not-exist')), { code: 'ENOENT' });
      type Stats = { requests: Record<string, number>; errors: Record<string, number>; uptimeSeconds: number };
      const read = (): Stats => JSON.parse(fs.readFileSync(statsPath, 'utf8')) as Stats;
      const live = await pollUntil(
        () => {
          const s = read();
          return (s.requests?.['LOOKUP'] ?? 0) > 0 ? s : undefined;
        },
        { timeoutMs: 5000, intervalMs: 100, what: 'requests.LOOKUP > 0 in the stats file' },
      );
      assert.equal(typeof live.uptimeSeconds, 'number');
      assert.ok(Number.isFinite(live.uptimeSeconds) && live.uptimeSeconds >= 0);
      assert.equal(typeof live.errors, 'object');
      for (const [k, v] of Object.entries(live.requests)) {
        assert.match(k, /^[A-Z_0-9]+$/, `opcode name ${k}`);
        assert.equal(typeof v, 'number');
      }

      proc.child.kill('SIGTERM');
      const e = await proc.waitExit(10_000);
      assert.ok(e, 'no exit within 10 s of SIGTERM');
      assert.equal(e.code, 0);
      const fin = read(); // must parse after exit
      assert.ok((fin.requests['LOOKUP'] ?? 0) >= (live.requests['LOOKUP'] ?? 0));
      assert.equal(typeof fin.uptimeSeconds, 'number');
    },
    {
      prepare: ({ src }) => {
        for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(src, `f${i}`), String(i));
      },
      args: argsWithStats([], (f) => (statsPath = f)),
    },
  );
});

test('--debug logs requests on stderr, one per line', T, async () => {
  await withMirror(
    async ({ mnt, proc }) => {
      await fs.promises.stat(path.join(mnt, 'looked-up'));
      await pollUntil(() => lines(proc.stderr()).some((l) => /LOOKUP/.test(l)), {
        timeoutMs: 5000,
        what: 'a --debug line mentioning LOOKUP',
      });
      assert.ok(lines(proc.stderr()).length >= 2, 'expected request and reply lines');
    },
    { args: ['--debug'], prepare: ({ src }) => fs.writeFileSync(path.join(src, 'looked-up'), '') },
  );
});

test('--help prints usage and exits 0', T, async () => {
  const r = await runCli(['--help'], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, describeRun(r));
  const text = r.stdout + r.stderr;
  assert.match(text, /usage/i);
  assert.match(text, /mirror/);
  assert.match(text, /umount/);
});

test('--version prints the version from package.json', T, async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await runCli(['--version'], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(r.stdout.includes(pkg.version), `stdout ${JSON.stringify(r.stdout)} lacks ${pkg.version}`);
});

test('-o ro: reads work, writes fail with EROFS, mount is read-only', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      const e = mountAt(mnt);
      assert.ok(e);
      assert.ok(e.options.split(',').includes('ro'), `mount options ${e.options}`);
      assert.equal(await fs.promises.readFile(path.join(mnt, 'f'), 'utf8'), 'data');
      await assert.rejects(fs.promises.writeFile(path.join(mnt, 'f'), 'new'), { code: 'EROFS' });
      await assert.rejects(fs.promises.writeFile(path.join(mnt, 'g'), 'new'), { code: 'EROFS' });
      await assert.rejects(fs.promises.mkdir(path.join(mnt, 'd')), { code: 'EROFS' });
      await assert.rejects(fs.promises.unlink(path.join(mnt, 'f')), { code: 'EROFS' });
      assert.equal(fs.readFileSync(path.join(src, 'f'), 'utf8'), 'data');
      assert.deepEqual(fs.readdirSync(src), ['f']);
    },
    { args: ['-o', 'ro'], prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'data') },
  );
});

test('-o allow_other,default_permissions are passed to the kernel', T, async () => {
  await withMirror(
    async ({ mnt }) => {
      const e = mountAt(mnt);
      assert.ok(e);
      const so = e.superOptions.split(',');
      assert.ok(so.includes('allow_other'), `super options ${e.superOptions}`);
      assert.ok(so.includes('default_permissions'), `super options ${e.superOptions}`);
      assert.equal(await fs.promises.readFile(path.join(mnt, 'f'), 'utf8'), 'data');
    },
    { args: ['-o', 'allow_other,default_permissions'], prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'data') },
  );
});

test('-o dev,suid lifts nodev and nosuid: a device node in SRC opens through MNT', T, async () => {
  await withMirror(
    async ({ mnt }) => {
      const e = mountAt(mnt);
      assert.ok(e && !/\bnodev\b|\bnosuid\b/.test(e.options), `mount options ${e?.options}`);
      const fh = await fs.promises.open(path.join(mnt, 'zero'), 'r');
      try {
        const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
        assert.equal(bytesRead, 4);
        assert.deepEqual([...buffer], [0, 0, 0, 0]);
      } finally {
        await fh.close();
      }
    },
    { args: ['-o', 'dev,suid'], prepare: async ({ src }) => void (await run('mknod', [path.join(src, 'zero'), 'c', '1', '5'], { timeoutMs: 5000 })) },
  );
});

test('-o nonempty mounts over a non-empty MNT, which reappears after unmount', T, async () => {
  await withMirror(
    async ({ mnt, proc }) => {
      assert.deepEqual((await fs.promises.readdir(mnt)).sort(), ['from-src']);
      proc.child.kill('SIGTERM');
      const e = await proc.waitExit(10_000);
      assert.ok(e);
      assert.equal(e.code, 0);
      assert.equal(isMounted(mnt), false);
      assert.deepEqual(fs.readdirSync(mnt), ['hidden']);
    },
    {
      args: ['-o', 'nonempty'],
      prepare: ({ src, mnt }) => {
        fs.writeFileSync(path.join(src, 'from-src'), '');
        fs.writeFileSync(path.join(mnt, 'hidden'), '');
      },
    },
  );
});

test('the server keeps serving while idle (no early exit)', T, async () => {
  await withMirror(async ({ mnt, proc }) => {
    await sleep(2000);
    assert.equal(proc.exitInfo(), undefined, `server exited on its own: ${proc.stderr()}`);
    assert.ok(isMounted(mnt));
    await fs.promises.readdir(mnt);
  });
});

test('-o exclusive caches names and "no such file" for a day; changes through MNT show at once', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      await assert.rejects(fs.promises.stat(path.join(mnt, 'later')), { code: 'ENOENT' });
      // Made behind the mirror's back: the cached "no such file" stands (that is the option's promise and its price).
      fs.writeFileSync(path.join(src, 'later'), 'x');
      await sleep(1500);
      await assert.rejects(fs.promises.stat(path.join(mnt, 'later')), { code: 'ENOENT' });
      // Made through the mount: visible at once, in SRC too.
      fs.writeFileSync(path.join(mnt, 'made-here'), 'y');
      assert.equal(fs.readFileSync(path.join(mnt, 'made-here'), 'utf8'), 'y');
      assert.equal(fs.readFileSync(path.join(src, 'made-here'), 'utf8'), 'y');
      fs.unlinkSync(path.join(mnt, 'made-here'));
      await assert.rejects(fs.promises.stat(path.join(mnt, 'made-here')), { code: 'ENOENT' });
    },
    { args: ['-o', 'exclusive'] },
  );
});

test('a bad -o timeout is a usage error', T, async () => {
  const r = await runCli(['mirror', '/tmp', '/mnt', '-o', 'timeout=soon'], { timeoutMs: 10_000 });
  assert.equal(r.code, 2, describeRun(r));
  assert.match(r.stderr, /timeout needs a number of seconds/);
});

test('a --stats-file that cannot be written is refused before anything is mounted', T, async () => {
  const dirs = makeTempDirs();
  try {
    for (const [file, why] of [
      [path.join(dirs.root, 'missing', 's.json'), /--stats-file .*: directory .*missing does not exist/],
      [dirs.root, /--stats-file .* is a directory/],
    ] as const) {
      const r = await runCli(['mirror', dirs.src, dirs.mnt, '--stats-file', file], { timeoutMs: 10_000 });
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, why, describeRun(r));
      assert.equal(isMounted(dirs.mnt), false);
    }
  } finally {
    dirs.cleanup();
  }
});

test('SIGTERM reaches a mirror that has been idle', T, async () => {
  await withMirror(async ({ mnt, proc }) => {
    await fs.promises.readdir(mnt);
    await sleep(1500);
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const e = await proc.waitExit(10_000);
    assert.ok(e, 'no exit within 10 s of SIGTERM');
    assert.equal(e.code, 0);
    assert.ok(Date.now() - t0 < 2000, `exit took ${Date.now() - t0} ms`);
    assert.ok(!isMounted(mnt));
  });
});
