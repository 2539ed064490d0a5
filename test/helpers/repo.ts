/**
 * Where the repository is, for the tests, the conformance runner and the
 * bench (whose compiled files live under dist/): the root and the CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  const fromEnv = process.env['FUSEKIT_ROOT'];
  if (fromEnv) return path.resolve(fromEnv);
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Compiled layout: <root>/dist/test/helpers/repo.js; walk up to the package.
  let dir = here;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'fusekit') return dir;
    } catch {
      /* keep walking */
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.resolve(here, '../../..');
}

/** The repository root (holds package.json, bin/, dist/). */
export const REPO_ROOT = findRepoRoot();
/** The CLI entry point; run it as `process.execPath, [CLI, ...]`. */
export const CLI = path.join(REPO_ROOT, 'bin', 'fusekit');
