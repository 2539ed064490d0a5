/**
 * `fusekit mirror --watch`: changes made in SRC directly show through MNT
 * within milliseconds, although the kernel caches names and attributes for an
 * hour, and changes made through MNT cause no name invalidations.
 *
 * The coherence run: a writer changes SRC (content, size, mtime, mode,
 * create, unlink, rename, directory rename), and after each change a reader
 * polls MNT until it shows that change, then checks it keeps showing it. The
 * delay from the end of the change to its visibility is recorded; p50 and p99
 * are reported, never asserted (speed is not a test's business), but a change
 * not visible within the deadline, or visible and then gone, fails. Other
 * readers stat, list and read MNT meanwhile. The test suite runs 400
 * changes; `npm run stress` runs for FUSEKIT_STRESS_SECONDS.
 */
import { test } from 'node:test';
import type { WatchStats } from '../../src/mirror/watch.js';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import * as os from 'node:os';
import { MirrorFilesystem } from '../../src/mirror/mirror.js';
import { withMirrorOverInProcessMount, type MirrorOverInProcessMount } from '../helpers/inprocess.js';
import { withMirror } from '../helpers/mount.js';
import { mulberry32 } from '../helpers/prng.js';
import { argsWithStats, freshStats, req } from '../helpers/stats.js';
import { pollUntil, sleep } from '../helpers/wait.js';

const STRESS_SECONDS = Number(process.env.FUSEKIT_STRESS_SECONDS ?? 0);
const CHANGES = 400;
/** A change not visible within this long is a failure (the cache timeouts are an hour). */
const VISIBLE_WITHIN_MS = 2000;
/** Checks in a row that must show a change before it counts as visible. */
const STABLE_CHECKS = 20;

/** The stats file's `watch` section. */
type WatchStatsJson = WatchStats;

function watchOf(s: unknown): WatchStatsJson {
  const w = (s as { watch?: WatchStatsJson }).watch;
  if (!w) throw new Error(`stats file has no watch section: ${JSON.stringify(s)}`);
  return w;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** lstat, or undefined when the name does not exist. */
function lstatOrNone(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** One change made in SRC and how to see it through MNT. */
interface Change {
  what: string;
  visible(): boolean;
}

test('--watch: every change made in SRC shows through MNT within milliseconds, and stays shown', { timeout: Math.max(120_000, STRESS_SECONDS * 1000 + 60_000) }, async (t) => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt }) => {
      const rng = mulberry32(13);
      const pick = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)]!;
      fs.mkdirSync(path.join(src, 'd0'));
      fs.mkdirSync(path.join(src, 'd1'));
      const files: string[] = [];
      /** The two directories' current names (d0 moves to d2 and back). */
      const dirs = ['d0', 'd1'];
      for (let i = 0; i < 20; i++) {
        const rel = path.join(`d${i % 2}`, `f${i}`);
        fs.writeFileSync(path.join(src, rel), `initial ${i}\n`);
        files.push(rel);
      }
      // The kernel learns everything first, so every later answer could come from its cache.
      for (const rel of files) fs.readFileSync(path.join(mnt, rel));
      fs.readdirSync(path.join(mnt, 'd0'));
      fs.readdirSync(path.join(mnt, 'd1'));

      // Background readers through MNT: stat, list and read in a loop.
      const readerCode = `
import os, sys, time
mnt, end = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < end:
    for d in ("d0", "d1"):
        try:
            for n in os.listdir(os.path.join(mnt, d)):
                p = os.path.join(mnt, d, n)
                try:
                    os.lstat(p)
                    if os.path.isfile(p):
                        with open(p, "rb") as f: f.read()
                except OSError: pass
        except OSError: pass
`;
      const readers = [0, 1].map(() => spawn('python3', ['-c', readerCode, mnt, String(STRESS_SECONDS > 0 ? STRESS_SECONDS + 30 : 60)], { stdio: 'ignore' }));
      const latencies: number[] = [];
      let flips = 0;
      /** Base names unlinked or renamed away (each is unique in the run): none may show again. */
      const gone: string[] = [];
      const byKind = new Map<string, number[]>();
      let serial = 0;
      try {
        const end = STRESS_SECONDS > 0 ? Date.now() + STRESS_SECONDS * 1000 : Infinity;
        for (let n = 0; STRESS_SECONDS > 0 ? Date.now() < end : n < CHANGES; n++) {
          const rel = pick(files);
          const s = path.join(src, rel);
          const m = path.join(mnt, rel);
          const kind = pick(['content', 'content', 'size', 'mtime', 'chmod', 'create', 'unlink', 'rename', 'dirrename']);
          let change: Change;
          serial++;
          if (kind === 'content') {
            const body = `content ${serial} ${'x'.repeat(Math.floor(rng() * 200))}\n`;
            fs.writeFileSync(s, body);
            change = { what: `write ${rel}`, visible: () => fs.lstatSync(m).size === body.length && fs.readFileSync(m, 'utf8') === body };
          } else if (kind === 'size') {
            const size = Math.floor(rng() * 10_000);
            fs.truncateSync(s, size);
            change = { what: `truncate ${rel} ${size}`, visible: () => fs.lstatSync(m).size === size };
          } else if (kind === 'mtime') {
            const t = 1_000_000_000 + serial;
            fs.utimesSync(s, t, t);
            change = { what: `utimes ${rel}`, visible: () => fs.lstatSync(m).mtimeMs === t * 1000 };
          } else if (kind === 'chmod') {
            const mode = pick([0o600, 0o644, 0o640, 0o755]);
            fs.chmodSync(s, mode);
            change = { what: `chmod ${rel} ${mode.toString(8)}`, visible: () => (fs.lstatSync(m).mode & 0o7777) === mode };
          } else if (kind === 'create') {
            const newRel = path.join(path.dirname(rel), `new${serial}`);
            fs.writeFileSync(path.join(src, newRel), 'new\n');
            files.push(newRel);
            const nm = path.join(mnt, newRel);
            change = { what: `create ${newRel}`, visible: () => lstatOrNone(nm)?.size === 4 && fs.readdirSync(path.dirname(nm)).includes(path.basename(nm)) };
          } else if (kind === 'unlink') {
            if (files.length < 5) continue;
            fs.unlinkSync(s);
            files.splice(files.indexOf(rel), 1);
            gone.push(path.basename(rel));
            change = { what: `unlink ${rel}`, visible: () => lstatOrNone(m) === undefined && !fs.readdirSync(path.dirname(m)).includes(path.basename(m)) };
          } else if (kind === 'rename') {
            const newRel = path.join(pick(dirs), `r${serial}`);
            fs.renameSync(s, path.join(src, newRel));
            files[files.indexOf(rel)] = newRel;
            gone.push(path.basename(rel));
            const nm = path.join(mnt, newRel);
            change = { what: `rename ${rel} ${newRel}`, visible: () => lstatOrNone(m) === undefined && lstatOrNone(nm) !== undefined };
          } else {
            // Directory rename: d0 <-> d2 and back, with every file under it moving.
            const from = dirs[0]!;
            const to = from === 'd0' ? 'd2' : 'd0';
            dirs[0] = to;
            fs.renameSync(path.join(src, from), path.join(src, to));
            for (let i = 0; i < files.length; i++) if (files[i]!.startsWith(`${from}/`)) files[i] = `${to}/${files[i]!.slice(3)}`;
            const inside = files.find((f) => f.startsWith(`${to}/`));
            change = {
              what: `rename directory ${from} ${to}`,
              visible: () => lstatOrNone(path.join(mnt, from)) === undefined && (inside === undefined || lstatOrNone(path.join(mnt, inside)) !== undefined),
            };
          }
          // Visible: the answer is new and stays new for STABLE_CHECKS checks in a row. A new answer can come
          // early (a fresh reply to this very check) and the cache still hold the old one for a moment, until
          // the watcher's invalidation lands: such a flip back is counted, and the clock runs until it is over.
          const t0 = performance.now();
          let stableSince = -1;
          let streak = 0;
          let last: unknown;
          let wasVisible = false;
          while (performance.now() - t0 < VISIBLE_WITHIN_MS && streak < STABLE_CHECKS) {
            let ok = false;
            try {
              ok = change.visible();
            } catch (err) {
              last = err;
            }
            if (ok) {
              if (streak === 0) stableSince = performance.now() - t0;
              streak++;
              wasVisible = true;
            } else {
              if (wasVisible && streak > 0) flips++;
              streak = 0;
            }
          }
          assert.ok(streak >= STABLE_CHECKS, `${change.what} not visible (and staying so) through MNT within ${VISIBLE_WITHIN_MS} ms (${String(last ?? 'stale answer')})`);
          latencies.push(stableSince);
          if (!byKind.has(kind)) byKind.set(kind, []);
          byKind.get(kind)!.push(stableSince);
        }
        // Nothing stale at the end: every file and listing through MNT as in SRC.
        for (const rel of files) {
          const a = fs.lstatSync(path.join(src, rel));
          const b = fs.lstatSync(path.join(mnt, rel));
          assert.deepEqual([b.size, b.mode, b.mtimeMs], [a.size, a.mode, a.mtimeMs], `${rel} at the end`);
        }
        for (const name of gone) for (const d of dirs) assert.equal(lstatOrNone(path.join(mnt, d, name)), undefined, `${d}/${name} is gone from SRC but not from MNT`);
        for (const d of dirs) assert.deepEqual(fs.readdirSync(path.join(mnt, d)).sort(), fs.readdirSync(path.join(src, d)).sort(), `listing of ${d} at the end`);
      } finally {
        for (const r of readers) r.kill('SIGKILL');
      }
      latencies.sort((a, b) => a - b);
      const s = await freshStats(statsFile, 'stats after the run');
      const w = watchOf(s);
      t.diagnostic(`changes=${latencies.length} flips back to the old answer before the invalidation landed: ${flips}`);
      t.diagnostic(`changes=${latencies.length} visible after p50=${percentile(latencies, 50).toFixed(2)} ms p99=${percentile(latencies, 99).toFixed(2)} ms max=${latencies.at(-1)!.toFixed(2)} ms`);
      for (const [kind, l] of byKind) {
        l.sort((a, b) => a - b);
        t.diagnostic(`  ${kind}: n=${l.length} p50=${percentile(l, 50).toFixed(2)} ms p99=${percentile(l, 99).toFixed(2)} ms`);
      }
      t.diagnostic(`watch ${JSON.stringify(w)} requests LOOKUP=${s.requests.LOOKUP ?? 0} GETATTR=${s.requests.GETATTR ?? 0}`);
      assert.equal(w.overflows, 0);
    },
    { args: argsWithStats(['--watch'], (f) => (statsFile = f)), watchdogMs: Math.max(100_000, STRESS_SECONDS * 1000 + 50_000) },
  );
});

test('--watch: changes made through MNT invalidate no names, and the kernel keeps its cache', { timeout: 60_000 }, async () => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt }) => {
      fs.mkdirSync(path.join(mnt, 'dir'));
      fs.writeFileSync(path.join(mnt, 'dir', 'a'), 'a');
      fs.renameSync(path.join(mnt, 'dir', 'a'), path.join(mnt, 'dir', 'b'));
      fs.symlinkSync('b', path.join(mnt, 'dir', 'l'));
      fs.linkSync(path.join(mnt, 'dir', 'b'), path.join(mnt, 'dir', 'h'));
      fs.unlinkSync(path.join(mnt, 'dir', 'h'));
      fs.chmodSync(path.join(mnt, 'dir', 'b'), 0o600);
      fs.mkdirSync(path.join(mnt, 'gone'));
      fs.rmdirSync(path.join(mnt, 'gone'));
      assert.deepEqual(fs.readdirSync(path.join(src, 'dir')).sort(), ['b', 'l']);
      const s = await freshStats(statsFile, 'stats after the changes', (x) => watchOf(x).events >= 8);
      const w = watchOf(s);
      assert.equal(w.entries, 0, `no name invalidated: ${JSON.stringify(w)}`);
      assert.equal(w.pages, 0, `no page invalidated for a file written through MNT: ${JSON.stringify(w)}`);
      assert.ok(w.ownChanges >= 8, `the mirror's own changes were recognised: ${JSON.stringify(w)}`);
      // The names stay cached: stats through MNT need no LOOKUP.
      const before = s.requests.LOOKUP ?? 0;
      for (let i = 0; i < 5; i++) for (const n of ['dir', 'dir/b', 'dir/l']) fs.lstatSync(path.join(mnt, n));
      const after = await freshStats(statsFile, 'stats after the stats');
      assert.equal(after.requests.LOOKUP ?? 0, before, 'no LOOKUP for cached names');
    },
    { args: argsWithStats(['--watch'], (f) => (statsFile = f)) },
  );
});

test('--watch: own changes whose events inotify merged hide no later change made in SRC', { timeout: 60_000 }, async () => {
  const files = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  await withMirror(
    async ({ src, mnt }) => {
      for (const f of files) fs.lstatSync(path.join(mnt, f));
      // Two mode changes of each file through MNT, back to back: two announced
      // changes, and often one ATTRIB event (inotify merges equal events
      // queued one after the other).
      for (const f of files) {
        fs.chmodSync(path.join(mnt, f), 0o600);
        fs.chmodSync(path.join(mnt, f), 0o640);
      }
      // The watcher has read those events by now.
      await sleep(100);
      for (const f of files) fs.chmodSync(path.join(src, f), 0o604);
      for (const f of files) {
        await pollUntil(() => (fs.lstatSync(path.join(mnt, f)).mode & 0o777) === 0o604, {
          timeoutMs: 5000,
          intervalMs: 5,
          what: `the mode changed in SRC to show through MNT for ${f}`,
        });
      }
    },
    {
      args: ['--watch'],
      prepare: ({ src }) => {
        for (const f of files) fs.writeFileSync(path.join(src, f), '');
      },
    },
  );
});

test('--watch: a queue overflow invalidates everything the kernel holds', { timeout: 90_000 }, async () => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt, proc }) => {
      // In the root, which the kernel never forgets (a drop_caches elsewhere on the machine may forget the rest).
      fs.writeFileSync(path.join(src, 'f'), 'before');
      assert.equal(fs.lstatSync(path.join(mnt, 'f')).size, 6);
      // And below it, held open so that the kernel keeps them: as root the
      // mirror holds these inodes by handle, not by descriptor, and an
      // overflow must reach them too. An open file's fstat and a listing
      // through an open directory take no path, so no name's epoch helps.
      fs.mkdirSync(path.join(src, 'd'));
      fs.writeFileSync(path.join(src, 'd', 'g'), 'before');
      const fileFd = fs.openSync(path.join(mnt, 'd', 'g'), 'r');
      const dirFd = fs.openSync(path.join(mnt, 'd'), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      assert.equal(fs.fstatSync(fileFd).size, 6);
      assert.deepEqual(fs.readdirSync(`/proc/self/fd/${dirFd}`), ['g']);
      assert.deepEqual(fs.readdirSync(mnt).sort(), ['d', 'f']);
      // More distinct events than the queue holds, while the server cannot read them.
      const limit = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
      process.kill(proc.pid, 'SIGSTOP');
      try {
        for (let i = 0; i <= limit; i++) fs.writeFileSync(path.join(src, `n${i}`), '');
        fs.writeFileSync(path.join(src, 'f'), 'after, and longer');
        fs.writeFileSync(path.join(src, 'd', 'g'), 'after, and longer');
        fs.writeFileSync(path.join(src, 'd', 'h'), '');
      } finally {
        process.kill(proc.pid, 'SIGCONT');
      }
      try {
        const s = await freshStats(statsFile, 'the overflow handled', (x) => watchOf(x).overflows > 0, 20_000);
        assert.equal(watchOf(s).overflows, 1);
        assert.equal(fs.lstatSync(path.join(mnt, 'f')).size, 'after, and longer'.length, 'attributes invalidated');
        assert.equal(fs.readdirSync(mnt).length, limit + 3, 'listing invalidated');
        // The pages go one inode at a time in the background, and attributes of inodes held by handle were once skipped.
        await pollUntil(() => fs.fstatSync(fileFd).size === 'after, and longer'.length, { timeoutMs: 5000, what: "the open file's new size" });
        await pollUntil(() => fs.readdirSync(`/proc/self/fd/${dirFd}`).sort().join() === 'g,h', { timeoutMs: 5000, what: 'the new name in the open directory' });
      } finally {
        fs.closeSync(fileFd);
        fs.closeSync(dirFd);
      }
    },
    { args: argsWithStats(['--watch'], (f) => (statsFile = f)) },
  );
});

test('watching: after seconds of renames in SRC, a change made next shows within the usual bound, not behind the burst', { timeout: 90_000 }, async () => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt }) => {
      const dir = path.join(src, 'ch');
      fs.mkdirSync(dir);
      for (let k = 0; k < 300; k++) fs.writeFileSync(path.join(dir, `f${k}`), `${k}`);
      fs.writeFileSync(path.join(src, 'q'), 'old');
      await sleep(300);
      // The kernel knows every name, and q's content.
      for (const n of fs.readdirSync(path.join(mnt, 'ch'))) fs.lstatSync(path.join(mnt, 'ch', n));
      assert.equal(fs.readFileSync(path.join(mnt, 'q'), 'utf8'), 'old');
      // Three seconds of a source renaming the same files back and forth: each
      // rename a name invalidation, far more than the kernel takes in the time.
      const end = Date.now() + 3000;
      let renames = 0;
      while (Date.now() < end) {
        for (let k = 0; k < 300; k++) {
          fs.renameSync(path.join(dir, `f${k}`), path.join(dir, `g${k}`));
          fs.renameSync(path.join(dir, `g${k}`), path.join(dir, `f${k}`));
          renames += 2;
        }
      }
      fs.writeFileSync(path.join(src, 'q.tmp'), 'new');
      fs.renameSync(path.join(src, 'q.tmp'), path.join(src, 'q'));
      const t0 = performance.now();
      await pollUntil(() => fs.readFileSync(path.join(mnt, 'q'), 'utf8') === 'new', { timeoutMs: 30_000, intervalMs: 10, what: `q replaced in SRC after ${renames} renames to show at MNT` });
      const ms = performance.now() - t0;
      assert.ok(ms < VISIBLE_WITHIN_MS, `q showed after ${ms.toFixed(0)} ms, past ${VISIBLE_WITHIN_MS} ms (${renames} renames before it)`);
      // And the names are right: every f, no g.
      const names = fs.readdirSync(path.join(mnt, 'ch'));
      assert.equal(names.length, 300);
      assert.ok(names.every((n) => n.startsWith('f')), 'a renamed-away name still listed');
      for (let k = 0; k < 300; k += 37) assert.equal(fs.readFileSync(path.join(mnt, 'ch', `f${k}`), 'utf8'), `${k}`);
      const s = await freshStats(statsFile, 'the watch stats');
      assert.ok(watchOf(s).epochs > 0, `names expired by epoch: ${JSON.stringify(watchOf(s))}`);
    },
    { args: argsWithStats([], (f) => (statsFile = f)) },
  );
});

test('by default the mirror watches a SRC on a local filesystem: names stay cached past 1 s, and a change made in SRC still shows', { timeout: 60_000 }, async () => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt }) => {
      fs.writeFileSync(path.join(src, 'f'), 'a');
      // Let the watcher take the create's events (and their second invalidation, 50 ms on) before the kernel looks f up.
      await sleep(300);
      assert.equal(fs.statSync(path.join(mnt, 'f')).size, 1);
      const before = await freshStats(statsFile, 'stats after the first stat', (x) => watchOf(x).watches >= 1);
      // Past the 1 s of an unwatched mirror: still cached, no request.
      await sleep(1500);
      assert.equal(fs.statSync(path.join(mnt, 'f')).size, 1);
      const after = await freshStats(statsFile, 'stats after the second stat');
      assert.equal(req(after, 'LOOKUP') + req(after, 'GETATTR'), req(before, 'LOOKUP') + req(before, 'GETATTR'), `the second stat was answered from the cache: ${JSON.stringify(before.requests)} then ${JSON.stringify(after.requests)}`);
      // Cached for an hour, the change can only show because the watcher told the kernel.
      fs.appendFileSync(path.join(src, 'f'), 'bcd');
      await pollUntil(() => fs.statSync(path.join(mnt, 'f')).size === 4, { timeoutMs: 10_000, what: 'the size changed in SRC to show at MNT' });
    },
    { args: argsWithStats([], (f) => (statsFile = f)) },
  );
});

/** Makes SRC/dN/sub and at once runs getcwd() in MNT/dN, then again 0.3 s later: one line "N status output" each round. */
const ENTER_NEW_DIRECTORY = `
import os, subprocess, sys
src, mnt, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
getcwd = 'python3 -c "import os; print(os.getcwd())"'
for i in range(rounds):
    os.makedirs(os.path.join(src, 'd%d' % i, 'sub'))
    r = subprocess.run(['bash', '-c', 'cd "$1" && %s && sleep 0.3 && %s' % (getcwd, getcwd), 'bash', os.path.join(mnt, 'd%d' % i)], capture_output=True, text=True, timeout=10)
    print(i, r.returncode, (r.stdout + r.stderr).strip().replace('\\n', ' | '))
`;

test('watching: a process that enters a directory just created in SRC keeps a working directory with a path', { timeout: 60_000 }, async () => {
  await withMirror(async ({ src, mnt }) => {
    // The directory is made and entered from one quick process (a test in Node
    // starts the shell too late): the kernel looks the name up while the
    // watcher may still be taking the create's event, or before its second round.
    const rounds = 3;
    const out = execFileSync('python3', ['-c', ENTER_NEW_DIRECTORY, src, mnt, String(rounds)], { encoding: 'utf8', timeout: 30_000 });
    const real = fs.realpathSync(mnt);
    const want = Array.from({ length: rounds }, (_, i) => `${i} 0 ${path.join(real, `d${i}`)} | ${path.join(real, `d${i}`)}`);
    assert.deepEqual(out.trim().split('\n'), want, 'getcwd() at once and 0.3 s after entering each new directory');
  });
});

test('--no-watch: names and attributes are cached for 1 s, and the stats file has no watch section', { timeout: 60_000 }, async () => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt }) => {
      fs.writeFileSync(path.join(src, 'f'), 'a');
      fs.statSync(path.join(mnt, 'f'));
      const before = await freshStats(statsFile, 'stats after the first stat');
      assert.equal((before as { watch?: unknown }).watch, undefined);
      await sleep(1500);
      fs.statSync(path.join(mnt, 'f'));
      const after = await freshStats(statsFile, 'stats after the second stat');
      assert.ok(req(after, 'LOOKUP') + req(after, 'GETATTR') > req(before, 'LOOKUP') + req(before, 'GETATTR'), 'the second stat, past 1 s, asked the server again');
    },
    { args: argsWithStats(['--no-watch'], (f) => (statsFile = f)) },
  );
});

test('watching: a file with two links, changed through the link in a directory the kernel does not know, shows its new size within the 1 s timeout', { timeout: 60_000 }, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      fs.mkdirSync(path.join(src, 'known'));
      fs.mkdirSync(path.join(src, 'unknown'));
      fs.writeFileSync(path.join(src, 'known', 'f'), 'a');
      fs.linkSync(path.join(src, 'known', 'f'), path.join(src, 'unknown', 'g'));
      // The creates' own invalidations must be over before the kernel caches known/f.
      await sleep(300);
      assert.equal(fs.statSync(path.join(mnt, 'known', 'f')).size, 1);
      // inotify reports this write to watches on `unknown` (none) and on the file itself (none), not to `known`.
      fs.appendFileSync(path.join(src, 'unknown', 'g'), 'bcd');
      await pollUntil(() => fs.statSync(path.join(mnt, 'known', 'f')).size === 4, { timeoutMs: 10_000, what: 'the new size of the hard-linked file at MNT' });
    },
    { args: ['--watch'] },
  );
});

test('watching: a file open through MNT whose name is removed or replaced in SRC shows its new link count on the open file', { timeout: 60_000 }, async () => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt }) => {
      fs.writeFileSync(path.join(src, 'gone'), 'a');
      fs.writeFileSync(path.join(src, 'replaced'), 'b');
      fs.writeFileSync(path.join(src, 'new'), 'c');
      fs.mkdirSync(path.join(src, 'other'));
      fs.writeFileSync(path.join(src, 'other', 'x'), '');
      await sleep(300);
      assert.deepEqual(fs.readdirSync(path.join(mnt, 'other')), ['x']);
      const gone = fs.openSync(path.join(mnt, 'gone'), 'r');
      const replaced = fs.openSync(path.join(mnt, 'replaced'), 'r');
      try {
        assert.equal(fs.fstatSync(gone).nlink, 1);
        assert.equal(fs.fstatSync(replaced).nlink, 1);
        // A name removed in another directory cannot have been theirs: their attributes stay cached.
        const before = watchOf(await freshStats(statsFile, 'stats before'));
        fs.unlinkSync(path.join(src, 'other', 'x'));
        const after = watchOf(await freshStats(statsFile, 'the removal seen', (x) => watchOf(x).entries > before.entries, 5000));
        assert.equal(after.attrs, before.attrs, 'no attributes dropped for a removal elsewhere');
        // Once the name is gone, no stat of it tells the watcher which file it was.
        fs.unlinkSync(path.join(src, 'gone'));
        fs.renameSync(path.join(src, 'new'), path.join(src, 'replaced'));
        await pollUntil(() => fs.fstatSync(gone).nlink === 0, { timeoutMs: VISIBLE_WITHIN_MS, what: 'link count 0 on the file unlinked in SRC' });
        await pollUntil(() => fs.fstatSync(replaced).nlink === 0, { timeoutMs: VISIBLE_WITHIN_MS, what: 'link count 0 on the file renamed over in SRC' });
        // The name's own invalidation is written from another thread, maybe just after the attributes'.
        await pollUntil(() => fs.readFileSync(path.join(mnt, 'replaced'), 'utf8') === 'c', { timeoutMs: VISIBLE_WITHIN_MS, what: 'the new file under the replaced name' });
      } finally {
        fs.closeSync(gone);
        fs.closeSync(replaced);
      }
    },
    { args: argsWithStats(['--watch'], (f) => (statsFile = f)) },
  );
});

test('watching: a filesystem mounted in SRC on a directory the kernel has cached shows through MNT, and so does its unmount', { timeout: 60_000 }, async () => {
  let statsFile = '';
  await withMirror(
    async ({ src, mnt }) => {
      fs.mkdirSync(path.join(src, 'later'));
      fs.writeFileSync(path.join(src, 'later', 'underlying'), '');
      await sleep(300);
      assert.deepEqual(fs.readdirSync(path.join(mnt, 'later')), ['underlying']);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(src, 'later')]);
      try {
        fs.writeFileSync(path.join(src, 'later', 'mounted'), '');
        // Mounts raise no inotify event: this came only after the hour's timeout.
        await pollUntil(() => fs.readdirSync(path.join(mnt, 'later')).join() === 'mounted', { timeoutMs: VISIBLE_WITHIN_MS, what: 'the mounted filesystem at MNT' });
      } finally {
        // The mirror holds the mounted filesystem's inodes the kernel knows: only a lazy unmount detaches it now.
        execFileSync('umount', ['-l', path.join(src, 'later')]);
      }
      await pollUntil(() => fs.readdirSync(path.join(mnt, 'later')).join() === 'underlying', { timeoutMs: VISIBLE_WITHIN_MS, what: 'the directory beneath, after the unmount' });
      const s = await freshStats(statsFile, 'two mount changes counted', (x) => watchOf(x).mountChanges >= 2, 5000);
      assert.equal(watchOf(s).mountChanges, 2);
    },
    { args: argsWithStats(['--watch'], (f) => (statsFile = f)) },
  );
});

/**
 * A CLI mirror whose SRC is itself a FUSE mount (an in-process mirror of a
 * plain directory): a filesystem whose changes made elsewhere raise no
 * inotify event. `check` gets the outer mirror, and the plain directory.
 */
async function mirrorOverFuse(args: string[], check: (outer: MirrorOverInProcessMount, data: string) => Promise<void>): Promise<void> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-watch-fuse-'));
  try {
    await withMirrorOverInProcessMount(new MirrorFilesystem(data), args, (outer) => check(outer, data));
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
}

test('by default a SRC on a FUSE mount is not watched: names and attributes are cached for 1 s, without a warning', { timeout: 60_000 }, async () => {
  await mirrorOverFuse([], async ({ statsFile, stderr, mnt }, data) => {
    fs.writeFileSync(path.join(data, 'f'), 'a');
    assert.equal((await fs.promises.stat(path.join(mnt, 'f'))).size, 1);
    const before = await freshStats(statsFile, 'stats after the first stat');
    assert.equal((before as { watch?: unknown }).watch, undefined, 'no watch section: the mirror does not watch');
    fs.appendFileSync(path.join(data, 'f'), 'bcd');
    await pollUntil(async () => (await fs.promises.stat(path.join(mnt, 'f'))).size === 4, { timeoutMs: 10_000, what: 'the change to show once the 1 s attribute timeout ran out' });
    assert.doesNotMatch(stderr(), /cannot watch|--watch:/, 'nothing about watching on stderr');
  });
});

test('--watch on a SRC that is a FUSE mount watches, and says once that changes made elsewhere raise no event', { timeout: 60_000 }, async () => {
  await mirrorOverFuse(['--watch'], async ({ statsFile, stderr, mnt }) => {
    await fs.promises.readdir(mnt);
    watchOf(await freshStats(statsFile, 'stats with a watch section', (x) => (x as { watch?: unknown }).watch !== undefined));
    assert.match(stderr(), /--watch: SRC is not on a local filesystem/);
  });
});
