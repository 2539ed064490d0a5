/**
 * Node fallback for bench/benchtool.c (used when gcc is not available): the
 * same command line and the same one line of JSON. Runs as its own process.
 *
 *   node dist/bench/tool.js create|stat|unlink DIR N
 *   node dist/bench/tool.js randread FILE BS SECONDS [LIMIT]
 *   node dist/bench/tool.js mktree DIR NDIRS NFILES
 */
import * as fs from 'node:fs';

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function name(dir: string, i: number): string {
  return `${dir}/f${String(i).padStart(7, '0')}`;
}

function main(argv: string[]): number {
  const [mode, a, b, c, d] = argv;
  if ((mode === 'create' || mode === 'stat' || mode === 'unlink') && a && b && c === undefined) {
    const n = Number(b);
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const p = name(a, i);
      if (mode === 'create') fs.closeSync(fs.openSync(p, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o644));
      else if (mode === 'stat') fs.lstatSync(p);
      else fs.unlinkSync(p);
    }
    process.stdout.write(JSON.stringify({ ops: n, bytes: 0, seconds: now() - t0 }) + '\n');
    return 0;
  }
  if (mode === 'mktree' && a && b && c && d === undefined) {
    const ndirs = Number(b);
    const nfiles = Number(c);
    const t0 = now();
    for (let i = 0; i < ndirs; i++) {
      const dir = `${a}/d${String(i).padStart(4, '0')}`;
      fs.mkdirSync(dir, 0o755);
      for (let j = 0; j < nfiles; j++) fs.closeSync(fs.openSync(name(dir, j), fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o644));
    }
    process.stdout.write(JSON.stringify({ ops: ndirs * (nfiles + 1), bytes: 0, seconds: now() - t0 }) + '\n');
    return 0;
  }
  if (mode === 'randread' && a && b && c) {
    const bs = Number(b);
    const secs = Number(c);
    const fd = fs.openSync(a, 'r');
    const size = fs.fstatSync(fd).size;
    const limit = d === undefined ? size : Math.min(size, Number(d));
    const blocks = Math.floor(limit / bs);
    if (blocks < 1) throw new Error(`${a} is smaller than one block`);
    const buf = Buffer.allocUnsafe(bs);
    let ops = 0;
    const t0 = now();
    const end = t0 + secs;
    let t1 = t0;
    for (;;) {
      for (let k = 0; k < 256; k++) {
        fs.readSync(fd, buf, 0, bs, Math.floor(Math.random() * blocks) * bs);
        ops++;
      }
      t1 = now();
      if (t1 >= end) break;
    }
    fs.closeSync(fd);
    process.stdout.write(JSON.stringify({ ops, bytes: ops * bs, seconds: t1 - t0 }) + '\n');
    return 0;
  }
  process.stderr.write('usage: tool.js create|stat|unlink DIR N | randread FILE BS SECONDS [LIMIT] | mktree DIR NDIRS NFILES\n');
  return 2;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`tool.js: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
