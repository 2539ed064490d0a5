/**
 * Several users through one mirror (-o allow_other): every outcome must be the
 * one the same user gets on the source itself. Each case runs twice, once on a
 * tree in SRC directly and once on an identical tree through MNT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror } from '../helpers/mount.js';

const T = { timeout: 90_000 };
const ALICE = { uid: 1101, gid: 1101, groups: [] as number[] };
const BOB = { uid: 1102, gid: 1102, groups: [2100] };
const CAROL = { uid: 1103, gid: 1103, groups: [] as number[] };
type User = typeof ALICE;

/** Runs `cmd` as `user` in `dir`; the result is the exit status and the error class, which must match between source and mirror. */
async function as(user: User, dir: string, cmd: string): Promise<string> {
  const groups = user.groups.length ? [`--groups=${user.groups.join(',')}`] : ['--clear-groups'];
  const r = await run('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, ...groups, 'sh', '-c', `cd '${dir}' && ${cmd}`], { timeoutMs: 15_000 });
  const err = /Permission denied|Operation not permitted|No such file|Read-only/.exec(r.stderr)?.[0] ?? '';
  return `exit=${r.code} ${err} ${r.stdout.trim()}`.trim();
}

/** The same starting tree in both places. */
function makeTree(root: string): void {
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chmodSync(root, 0o755);
  const mk = (rel: string, mode: number, uid: number, gid: number, dir = false) => {
    const p = path.join(root, rel);
    if (dir) fs.mkdirSync(p);
    else fs.writeFileSync(p, `${rel}\n`);
    fs.chownSync(p, uid, gid);
    fs.chmodSync(p, mode);
  };
  mk('alice-private', 0o600, ALICE.uid, ALICE.gid);
  mk('group-readable', 0o640, 0, 2100);
  mk('root-only', 0o600, 0, 0);
  mk('alice-dir', 0o755, ALICE.uid, ALICE.gid, true);
  mk('shared-sgid', 0o2777, 0, 2100, true);
  mk('sticky', 0o1777, 0, 0, true);
  mk('sticky/alice-file', 0o666, ALICE.uid, ALICE.gid);
}

const CASES: [string, User, string][] = [
  ['owner reads her private file', ALICE, 'cat alice-private'],
  ['another user cannot read it', BOB, 'cat alice-private'],
  ['a supplementary group grants read', BOB, 'cat group-readable'],
  ['without the group, no read', CAROL, 'cat group-readable'],
  ['root-only stays root-only', ALICE, 'cat root-only'],
  ['no create in another user\'s directory', BOB, 'touch alice-dir/x'],
  ['create in own directory', ALICE, 'touch alice-dir/mine && stat -c "%u %g %a" alice-dir/mine'],
  ['set-group-ID directory passes its group on', ALICE, 'touch shared-sgid/f && mkdir shared-sgid/d && stat -c "%u %g %a" shared-sgid/f shared-sgid/d'],
  ['sticky directory: no deleting others\' files', BOB, 'rm -f sticky/alice-file'],
  ['sticky directory: owner deletes her own', ALICE, 'rm -f sticky/alice-file && echo gone'],
  ['no chmod of another user\'s file', BOB, 'chmod 777 alice-private'],
  ['no chown to another user', ALICE, 'chown 1102 alice-private'],
  ['owner chmods her file', ALICE, 'chmod 640 alice-private && stat -c %a alice-private'],
  ['no utimes on another user\'s file', BOB, 'touch -d @1000000000 alice-private'],
  ['new files get the caller\'s ids and umask', CAROL, 'cd sticky && umask 027 && touch c && mkdir cd && stat -c "%u %g %a" c cd'],
];

test('users and groups get the same answers through the mirror as on the source', T, async () => {
  await withMirror(async ({ src, mnt }) => {
    const mismatches: string[] = [];
    for (const [name, user, cmd] of CASES) {
      const native = await as(user, path.join(src, 'native'), cmd);
      const mirrored = await as(user, path.join(mnt, 'mirrored'), cmd);
      if (native !== mirrored) mismatches.push(`${name}: source "${native}" vs mirror "${mirrored}"`);
    }
    assert.deepEqual(mismatches, []);
    // The denials above really happened (the cases are not all passing trivially).
    assert.match(await as(BOB, path.join(mnt, 'mirrored'), 'cat alice-private'), /Permission denied/);
    assert.match(await as(ALICE, path.join(mnt, 'mirrored'), 'cat alice-private'), /exit=0/);
  }, {
    args: ['-o', 'allow_other'],
    prepare: ({ root, src }) => {
      fs.chmodSync(root, 0o755);
      fs.chmodSync(src, 0o755);
      makeTree(path.join(src, 'native'));
      makeTree(path.join(src, 'mirrored'));
    },
  });
});
