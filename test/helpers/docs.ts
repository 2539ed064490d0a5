/** Code examples in documentation, for the tests that compile and run them. */
import * as fs from 'node:fs';

/** The ```ts blocks of a Markdown file, or of the doc comments of a TypeScript file (leading ` * ` removed). */
export function codeBlocks(file: string): { line: number; code: string }[] {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const fromComment = file.endsWith('.ts');
  const out: { line: number; code: string }[] = [];
  let start = -1;
  let body: string[] = [];
  lines.forEach((raw, i) => {
    const l = fromComment ? raw.replace(/^\s*\* ?/, '') : raw;
    if (start < 0 && /^```(ts|typescript)\s*$/.test(l.trim())) {
      start = i + 1;
      body = [];
    } else if (start >= 0 && l.trim() === '```') {
      out.push({ line: start + 1, code: body.join('\n') });
      start = -1;
    } else if (start >= 0) {
      body.push(l);
    }
  });
  return out;
}

