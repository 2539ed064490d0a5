/**
 * The package as a first-time user meets it: `npm pack`, installed into a
 * fresh app, then the README's library example and every example the package
 * ships, each mounted, used, and stopped with SIGINT (Ctrl-C), which must
 * leave no mount behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { codeBlocks } from '../helpers/docs.js';
import { describeRun, forceUnmount, isMounted, pollUntil, REPO_ROOT, run, withTimeout } from '../helpers/mount.js';

const T = { timeout: 240_000 };

/** How each shipped example is checked once mounted (by file name); the default only lists the root. */
const CHECKS: Record<string, (mnt: string) => Promise<void>> = {
  'readme-example.mjs': async (mnt) => {
    assert.equal(await fs.promises.readFile(path.join(mnt, 'hello'), 'utf8'), 'hello, world\n');
  },
  'memfs.js': async (mnt) => {
    await fs.promises.writeFile(path.join(mnt, 'a'), 'data');
    assert.equal(await fs.promises.readFile(path.join(mnt, 'a'), 'utf8'), 'data');
  },
};

/** Examples that take more than a mountpoint: their arguments before it. */
const LEADING_ARGS: Record<string, (root: string) => string[]> = {
  'path-mirror.js': (root) => {
    const src = path.join(root, 'mirror-src');
    fs.mkdirSync(src, { recursive: true });
    return [src];
  },
};

/** Runs `script [ARGS] MNT` in `app`, waits for the mount, checks it, sends SIGINT, and expects the mount gone and the process ended. */
async function mountAndInterrupt(app: string, script: string, mnt: string): Promise<void> {
  const lead = LEADING_ARGS[path.basename(script)]?.(path.dirname(mnt)) ?? [];
  const child = spawn(process.execPath, [script, ...lead, mnt], { cwd: app, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  try {
    await pollUntil(() => isMounted(mnt), { timeoutMs: 15_000, what: `${path.basename(script)} mounted at ${mnt} (stderr: ${stderr})` });
    const check = CHECKS[path.basename(script)];
    await withTimeout(check ? check(mnt) : fs.promises.readdir(mnt).then(() => undefined), 10_000, `using ${path.basename(script)}`);
    child.kill('SIGINT');
    const how = await withTimeout(exited, 10_000, `${path.basename(script)} to exit after SIGINT`);
    assert.ok(how === 'SIGINT' || how === 0 || how === 130, `${path.basename(script)} ended by ${how} (stderr: ${stderr})`);
    assert.equal(isMounted(mnt), false, `${mnt} still mounted after SIGINT to ${path.basename(script)}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (isMounted(mnt)) forceUnmount(mnt);
  }
}

test('the packed package installs into a fresh app; the README example and every shipped example mount, work, and leave no mount on SIGINT', T, async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-pack-'));
  try {
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', root, '--silent'], { cwd: REPO_ROOT, timeoutMs: 60_000 });
    assert.equal(pack.code, 0, describeRun(pack));
    const tarball = path.join(root, pack.stdout.trim().split('\n').pop()!);
    const app = path.join(root, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'first-app', private: true, type: 'module' }));
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, timeoutMs: 120_000 });
    assert.equal(install.code, 0, describeRun(install));

    // The README's library example, as written (it is plain JavaScript too), at a mountpoint of ours.
    const readme = codeBlocks(path.join(REPO_ROOT, 'README.md')).find((b) => b.code.includes("from 'fusekit'") && b.code.includes('mount('));
    assert.ok(readme, 'the README has a library example');
    fs.writeFileSync(path.join(app, 'readme-example.mjs'), readme.code.replace("'/mnt/hello'", 'process.argv[2]'));
    const scripts = [path.join(app, 'readme-example.mjs')];
    const shipped = path.join(app, 'node_modules', 'fusekit', 'dist', 'examples');
    for (const f of fs.readdirSync(shipped)) if (f.endsWith('.js')) scripts.push(path.join(shipped, f));
    t.diagnostic(`examples: ${scripts.map((s) => path.basename(s)).join(', ')}`);
    assert.ok(scripts.length >= 2, 'examples ship in the package');

    for (const script of scripts) {
      const mnt = path.join(root, `mnt-${path.basename(script)}`);
      fs.mkdirSync(mnt);
      await mountAndInterrupt(app, script, mnt);
    }
  } finally {
    for (const e of fs.readdirSync(root)) if (e.startsWith('mnt-') && isMounted(path.join(root, e))) forceUnmount(path.join(root, e));
    fs.rmSync(root, { recursive: true, force: true });
  }
});
