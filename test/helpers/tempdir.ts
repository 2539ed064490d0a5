/** A fresh temporary directory for a synchronous test body, removed afterwards. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Wraps a test body so it runs in a fresh temporary directory that is removed afterwards. */
export function withTempDir(fn: (dir: string) => void): () => void {
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-sys-'));
    try {
      fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}
