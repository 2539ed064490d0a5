/**
 * Bad input to `fusekit mirror`: one clear line on stderr, a non-zero exit,
 * within 5 s, and no mount left behind.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeRun, forceUnmount, fuseMounts, isMounted, makeTempDirs, runCli, type TempDirs } from '../helpers/mount.js';

const T = { timeout: 30_000 };

interface Case {
  name: string;
  /** Builds the argv after `fusekit` from fresh temp dirs (may modify them). */
  argv: (d: TempDirs) => string[];
  /** What the one stderr line must say. */
  says: (d: TempDirs) => RegExp[];
  /** Where a wrongly made mount would be. */
  mountpoint?: (d: TempDirs) => string;
}

const cases: Case[] = [
  {
    name: 'SRC does not exist',
    argv: (d) => ['mirror', path.join(d.root, 'no-such-src'), d.mnt],
    says: (_d) => [/no-such-src|source|src/i, /not exist|no such|ENOENT|missing|not found/i],
  },
  {
    name: 'SRC is not a directory',
    argv: (d) => {
      const f = path.join(d.root, 'src-file');
      fs.writeFileSync(f, 'x');
      return ['mirror', f, d.mnt];
    },
    says: () => [/src-file|source|src/i, /not a directory|ENOTDIR/i],
  },
  {
    name: 'MNT does not exist',
    argv: (d) => ['mirror', d.src, path.join(d.root, 'no-such-mnt')],
    says: () => [/no-such-mnt|mount ?point|mnt/i, /not exist|no such|ENOENT|missing|not found/i],
    mountpoint: (d) => path.join(d.root, 'no-such-mnt'),
  },
  {
    name: 'MNT is not a directory',
    argv: (d) => {
      const f = path.join(d.root, 'mnt-file');
      fs.writeFileSync(f, 'x');
      return ['mirror', d.src, f];
    },
    says: () => [/mnt-file|mount ?point|mnt/i, /not a directory|ENOTDIR/i],
    mountpoint: (d) => path.join(d.root, 'mnt-file'),
  },
  {
    name: 'MNT is not empty (without -o nonempty)',
    argv: (d) => {
      fs.writeFileSync(path.join(d.mnt, 'occupied'), 'x');
      return ['mirror', d.src, d.mnt];
    },
    says: () => [/not empty|nonempty|ENOTEMPTY/i],
  },
  {
    // A lookup of the mountpoint's name would reach the mount itself, and the
    // server would wait on its own request for ever (callers stuck in D state).
    name: 'MNT inside SRC',
    argv: (d) => {
      const inner = path.join(d.src, 'inner-mnt');
      fs.mkdirSync(inner);
      return ['mirror', d.src, inner];
    },
    says: (d) => [/inner-mnt/, /inside the source/, new RegExp(fs.realpathSync(d.src))],
    mountpoint: (d) => path.join(d.src, 'inner-mnt'),
  },
  {
    name: 'unknown -o option',
    argv: (d) => ['mirror', d.src, d.mnt, '-o', 'bogus_opt_xyz'],
    says: () => [/bogus_opt_xyz/],
  },
  {
    name: 'unknown -o option among known ones',
    argv: (d) => ['mirror', d.src, d.mnt, '-o', 'ro,bogus_opt_abc'],
    says: () => [/bogus_opt_abc/],
  },
  {
    name: 'a third positional argument',
    argv: (d) => ['mirror', d.src, d.mnt, 'stray-arg'],
    says: () => [/SRC and MNT only; unexpected: stray-arg/],
  },
  {
    name: 'unknown flag',
    argv: (d) => ['mirror', d.src, d.mnt, '--bogus-flag'],
    says: () => [/--bogus-flag|bogus-flag/],
  },
];

for (const c of cases) {
  test(`bad input: ${c.name}`, T, async () => {
    const d = makeTempDirs();
    const mnt = c.mountpoint ? c.mountpoint(d) : d.mnt;
    try {
      const argv = c.argv(d);
      const r = await runCli(argv, { timeoutMs: 8000 });
      assert.equal(r.timedOut, false, `did not exit: ${describeRun(r)}`);
      assert.ok(r.seconds < 5, `took ${r.seconds.toFixed(2)} s`);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.notEqual(r.code, null, describeRun(r));
      const errLines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      assert.equal(errLines.length, 1, `expected exactly one stderr line, got:\n${r.stderr}`);
      for (const re of c.says(d)) assert.match(errLines[0] ?? '', re);
      assert.equal(isMounted(mnt), false, 'a mount was left behind');
      assert.equal(isMounted(d.mnt), false, 'a mount was left behind');
      const ours = fuseMounts().filter((e) => e.source.startsWith(d.root) || e.mountPoint.startsWith(d.root));
      assert.deepEqual(ours, [], 'a fuse mount was left behind');
    } finally {
      forceUnmount(mnt);
      forceUnmount(d.mnt);
      d.cleanup();
    }
  });
}

test('bad input: missing MNT argument is a usage error', T, async () => {
  const d = makeTempDirs();
  try {
    const r = await runCli(['mirror', d.src], { timeoutMs: 8000 });
    assert.equal(r.timedOut, false, describeRun(r));
    assert.ok(r.seconds < 5);
    assert.ok(r.code !== 0 && r.code !== null, describeRun(r));
    assert.ok(r.stderr.trim().length > 0, 'nothing on stderr');
  } finally {
    d.cleanup();
  }
});

test('bad input: unknown subcommand', T, async () => {
  const r = await runCli(['no-such-command'], { timeoutMs: 8000 });
  assert.equal(r.timedOut, false, describeRun(r));
  assert.ok(r.seconds < 5);
  assert.ok(r.code !== 0 && r.code !== null, describeRun(r));
  assert.ok(r.stderr.trim().length > 0, 'nothing on stderr');
});
