/**
 * The code examples in the README and in the doc comments of src/ are type
 * checked against the built package as a user would import it (`from
 * 'fusekit'`), so an example that no longer compiles fails the tests. Each
 * ```ts block is one module. Needs no root.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { codeBlocks } from '../helpers/docs.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sourcesWithExamples(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && fs.readFileSync(path.join(REPO, rel), 'utf8').includes('```ts')) files.push(rel);
    }
  };
  walk('src');
  return files;
}

test('every ```ts example in the README and in src/ doc comments compiles against the package', { timeout: 120_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-doc-examples-'));
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(REPO, path.join(dir, 'node_modules', 'fusekit'));
    fs.symlinkSync(path.join(REPO, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const names: string[] = [];
    for (const file of sourcesWithExamples()) {
      for (const { line, code } of codeBlocks(path.join(REPO, file))) {
        const name = `${file.replace(/[/.]/g, '_')}_${line}.ts`;
        // Every block is a module of its own (top-level await needs one).
        fs.writeFileSync(path.join(dir, name), `${code}\nexport {};\n`);
        names.push(name);
      }
    }
    t.diagnostic(`${names.length} examples: ${names.join(' ')}`);
    assert.ok(names.length >= 2, 'the README and filesystem.ts have examples');
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
        files: names,
      }),
    );
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await promisify(execFile)(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    assert.equal(r, '', `examples that do not compile (file names are SOURCE_LINE):\n${r}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
