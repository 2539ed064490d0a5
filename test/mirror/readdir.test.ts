/**
 * Directory listings through the mirror: large directories, odd names, raw
 * (non-UTF-8) names, file types.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeRun, pollUntil, run, withMirror } from '../helpers/mount.js';
import { argsWithStats, freshStats, type StatsJson } from '../helpers/stats.js';

const T = { timeout: 90_000 };

function nameFor(i: number): string {
  const flavours = [
    `plain-${i}`,
    `with space ${i}`,
    `ünïcødé-${i}-日本語`,
    `emoji 🎉 ${i}`,
    `  leading and trailing spaces ${i}  `,
    `dots..${i}...`,
    `quote'"\`${i}`,
    `${'long'.repeat(40)}-${i}`,
  ];
  return flavours[i % flavours.length] ?? `x${i}`;
}

test('readdir of a 2000-entry directory matches SRC; ls -la works', T, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      const dm = path.join(mnt, 'big');
      const ds = path.join(src, 'big');
      // Second half created through the mirror, in parallel batches.
      for (let start = 1000; start < 2000; start += 50) {
        const batch: Promise<void>[] = [];
        for (let i = start; i < start + 50; i++) {
          const n = path.join(dm, nameFor(i));
          if (i % 100 === 1) batch.push(fs.promises.mkdir(n));
          else if (i % 100 === 2) batch.push(fs.promises.symlink(`target-${i}`, n));
          else batch.push(fs.promises.writeFile(n, String(i)));
        }
        await Promise.all(batch);
      }
      const want = fs.readdirSync(ds).sort();
      assert.equal(want.length, 2000);
      const got = (await fs.promises.readdir(dm)).sort();
      assert.equal(got.length, 2000, 'entry count through MNT');
      assert.deepEqual(got, want);

      const types = (ents: fs.Dirent[]) =>
        ents
          .map((e) => `${e.name}\0${e.isFile() ? 'f' : e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : '?'}`)
          .sort();
      assert.deepEqual(types(await fs.promises.readdir(dm, { withFileTypes: true })), types(fs.readdirSync(ds, { withFileTypes: true })));

      const ls = await run('ls', ['-la', dm], { timeoutMs: 30_000 });
      assert.equal(ls.code, 0, describeRun(ls));
      const lsLines = ls.stdout.split('\n').filter((l) => l !== '');
      assert.equal(lsLines.length, 2000 + 3, 'ls -la: total, ., .. and 2000 entries');
      assert.equal(ls.stderr, '');

      // find sees the same, recursively (also exercises readdir + lookup together).
      const f = await run('find', [dm, '-mindepth', '1', '-printf', '%P\\n'], { timeoutMs: 30_000 });
      assert.equal(f.code, 0, describeRun(f));
      assert.equal(f.stdout.split('\n').filter((l) => l !== '').length, 2000);
    },
    {
      prepare: ({ src }) => {
        const ds = path.join(src, 'big');
        fs.mkdirSync(ds);
        for (let i = 0; i < 1000; i++) {
          const n = path.join(ds, nameFor(i));
          if (i % 100 === 1) fs.mkdirSync(n);
          else if (i % 100 === 2) fs.symlinkSync(`target-${i}`, n);
          else fs.writeFileSync(n, String(i));
        }
      },
      watchdogMs: 80_000,
    },
  );
});

test('names with invalid UTF-8 bytes round-trip (Buffer API)', T, async () => {
  const fromSrc = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x80, 0x2e, 0x74, 0x78, 0x74]); // "bad\xff\xfe\x80.txt"
  const fromMnt = Buffer.from([0x6d, 0x6e, 0x74, 0xc3, 0x28, 0xa0, 0xa1]); // invalid 2-byte sequences
  const join = (dir: string, name: Buffer) => Buffer.concat([Buffer.from(dir + '/'), name]);
  await withMirror(
    async ({ src, mnt }) => {
      const names = (await fs.promises.readdir(mnt, { encoding: 'buffer' })) as Buffer[];
      assert.ok(
        names.some((n) => n.equals(fromSrc)),
        `raw name missing from readdir(MNT): ${names.map((n) => n.toString('hex')).join(', ')}`,
      );
      assert.equal(await fs.promises.readFile(join(mnt, fromSrc), 'utf8'), 'raw');
      assert.ok((await fs.promises.lstat(join(mnt, fromSrc))).isFile());

      await fs.promises.writeFile(join(mnt, fromMnt), 'made through mnt');
      const inSrc = fs.readdirSync(src, { encoding: 'buffer' });
      assert.ok(inSrc.some((n) => n.equals(fromMnt)), 'raw name created through MNT missing in SRC');
      assert.equal(fs.readFileSync(join(src, fromMnt), 'utf8'), 'made through mnt');

      const renamed = Buffer.concat([fromMnt, Buffer.from([0xfe])]);
      await fs.promises.rename(join(mnt, fromMnt), join(mnt, renamed));
      assert.ok(fs.readdirSync(src, { encoding: 'buffer' }).some((n) => n.equals(renamed)));
      await fs.promises.unlink(join(mnt, renamed));
      assert.ok(!fs.readdirSync(src, { encoding: 'buffer' }).some((n) => n.equals(renamed)));

      const sorted = (xs: Buffer[]) => xs.map((x) => x.toString('hex')).sort();
      assert.deepEqual(
        sorted((await fs.promises.readdir(mnt, { encoding: 'buffer' })) as Buffer[]),
        sorted(fs.readdirSync(src, { encoding: 'buffer' })),
      );
    },
    {
      prepare: ({ src }) => {
        fs.writeFileSync(join(src, fromSrc), 'raw');
        fs.writeFileSync(path.join(src, 'normal'), 'n');
      },
    },
  );
});

test('empty directories list empty; the longest allowed name works', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    await fs.promises.mkdir(path.join(mnt, 'empty'));
    assert.deepEqual(await fs.promises.readdir(path.join(mnt, 'empty')), []);
    const n255 = 'n'.repeat(255);
    await fs.promises.writeFile(path.join(mnt, n255), 'x');
    assert.ok(fs.existsSync(path.join(src, n255)));
    assert.ok((await fs.promises.readdir(mnt)).includes(n255));
    let code: string | undefined;
    try {
      await fs.promises.writeFile(path.join(mnt, 'n'.repeat(256)), 'x');
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    }
    assert.equal(code, 'ENAMETOOLONG');
  });
});

test('readdir sees entries added and removed between listings', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    for (let round = 0; round < 5; round++) {
      fs.writeFileSync(path.join(src, `r${round}`), '');
      if (round > 0) fs.unlinkSync(path.join(src, `r${round - 1}`));
      await pollUntil(async () => JSON.stringify(await fs.promises.readdir(mnt)) === JSON.stringify([`r${round}`]), {
        timeoutMs: 5000,
        what: `readdir(MNT) = [r${round}]`,
      });
    }
  });
});

test('listings are cached by the kernel without directory handles, and refreshed after a change', T, async () => {
  let statsPath = '';
  await withMirror(
    async ({ src, mnt }) => {
      const dm = path.join(mnt, 'd');
      const names = Array.from({ length: 300 }, (_, i) => `f${i}`).sort();
      assert.deepEqual(fs.readdirSync(dm).sort(), names);
      const before = await freshStats(statsPath, 'a fresh stats file', undefined, 10_000);
      const listings = (s: StatsJson) => (s.requests['READDIR'] ?? 0) + (s.requests['READDIRPLUS'] ?? 0);
      assert.ok(listings(before) > 0, 'the first listing reached the server');
      for (let i = 0; i < 5; i++) assert.deepEqual(fs.readdirSync(dm).sort(), names);
      const after = await freshStats(statsPath, 'a fresh stats file', undefined, 10_000);
      assert.equal(listings(after), listings(before), 'repeat listings within attr_timeout come from the kernel cache');
      // OPENDIR is declined once; RELEASEDIR never comes.
      assert.ok((after.requests['OPENDIR'] ?? 0) <= 1, `OPENDIR x${after.requests['OPENDIR']}`);
      assert.equal(after.requests['RELEASEDIR'] ?? 0, 0);

      // A change through the mount shows at once; one made in SRC within attr_timeout (1 s).
      fs.writeFileSync(path.join(dm, 'through-mnt'), '');
      assert.ok(fs.readdirSync(dm).includes('through-mnt'));
      fs.unlinkSync(path.join(dm, 'through-mnt'));
      assert.ok(!fs.readdirSync(dm).includes('through-mnt'));
      fs.writeFileSync(path.join(src, 'd', 'in-src'), '');
      const t0 = Date.now();
      await pollUntil(() => fs.readdirSync(dm).includes('in-src'), { timeoutMs: 5000, intervalMs: 50, what: 'in-src listed at MNT' });
      assert.ok(Date.now() - t0 < 3000, `listing refreshed after ${Date.now() - t0} ms`);
      // Another process sees the same listing.
      const r = await run('python3', ['-c', 'import os,sys; print(len(os.listdir(sys.argv[1])))', dm], { timeoutMs: 10_000 });
      assert.equal(r.stdout.trim(), String(names.length + 1), describeRun(r));
    },
    {
      prepare: ({ src }) => {
        fs.mkdirSync(path.join(src, 'd'));
        for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(src, 'd', `f${i}`), '');
      },
      args: argsWithStats([], (f) => (statsPath = f)),
    },
  );
});

test('listing a directory that was removed while open gives no entries, as on the source', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    fs.mkdirSync(path.join(mnt, 'gone'));
    const script = [
      'import os, sys',
      'fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)',
      'os.rmdir(sys.argv[2])',
      'print(len(os.listdir(fd)))',
    ].join('\n');
    const r = await run('python3', ['-c', script, path.join(mnt, 'gone'), path.join(src, 'gone')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), '0');
  });
});

/** Descriptors of `pid` open on `dir` for reading (not O_PATH): the mirror's directory streams. */
function streamsOn(pid: number, dir: string): number {
  const O_PATH = 0o10000000;
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== dir) continue;
      const flags = /^flags:\s+([0-7]+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (flags && (Number.parseInt(flags[1]!, 8) & O_PATH) === 0) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

test('a directory stream is kept between READDIRs, closed at the end of the listing, and closed when left unfinished', T, async () => {
  await withMirror(
    async ({ src, mnt, proc }) => {
      const big = path.join(src, 'big');
      const names = fs.readdirSync(big).sort();
      // A whole listing, many READDIRs long: every name once, and no stream left.
      const all = await run('python3', ['-c', 'import os,sys; print("\\n".join(os.listdir(sys.argv[1])))', path.join(mnt, 'big')], { timeoutMs: 20_000 });
      assert.equal(all.code, 0, describeRun(all));
      assert.deepEqual(all.stdout.trim().split('\n').sort(), names);
      assert.equal(streamsOn(proc.pid, big), 0, 'the stream of a finished listing is closed');
      // Reading only the first records leaves the stream open for a while, then it is closed.
      await run('sh', ['-c', `sync; echo 2 > /proc/sys/vm/drop_caches`], { timeoutMs: 20_000 });
      const first = await run('python3', ['-c', 'import os,sys; it = os.scandir(sys.argv[1]); print(next(it).name)', path.join(mnt, 'big')], { timeoutMs: 20_000 });
      assert.equal(first.code, 0, describeRun(first));
      assert.equal(streamsOn(proc.pid, big), 1, 'an unfinished listing keeps its stream');
      await pollUntil(() => streamsOn(proc.pid, big) === 0, { timeoutMs: 10_000, intervalMs: 200, what: 'the unfinished stream closed' });
    },
    {
      prepare: ({ src }) => {
        fs.mkdirSync(path.join(src, 'big'));
        for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(src, 'big', `entry-${i}`), '');
      },
    },
  );
});
