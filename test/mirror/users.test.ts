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
import { setxattr } from '../../src/sys/index.js';

/** A POSIX ACL in the kernel's xattr format: version 2, then (tag, perm, id) entries in tag order. */
function acl(entries: [tag: 'u' | 'U' | 'g' | 'G' | 'm' | 'o', perm: number, id?: number][]): Buffer {
  const TAG = { u: 1, U: 2, g: 4, G: 8, m: 0x10, o: 0x20 };
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(TAG[tag], 4 + 8 * i);
    b.writeUInt16LE(perm, 6 + 8 * i);
    b.writeUInt32LE(id ?? 0xffffffff, 8 + 8 * i);
  });
  return b;
}

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
  // ACLs: a named entry that denies one user the "other" access, one that grants
  // a user what the mode alone would not, and a default ACL that overrides the umask.
  mk('acl-denies-bob', 0o644, 0, 0);
  setxattr(path.join(root, 'acl-denies-bob'), 'system.posix_acl_access', acl([['u', 6], ['U', 0, BOB.uid], ['g', 4], ['m', 4], ['o', 4]]), 0);
  mk('acl-grants-carol', 0o600, 0, 0);
  setxattr(path.join(root, 'acl-grants-carol'), 'system.posix_acl_access', acl([['u', 6], ['U', 4, CAROL.uid], ['g', 0], ['m', 4], ['o', 0]]), 0);
  mk('acl-default', 0o777, 0, 0, true);
  setxattr(path.join(root, 'acl-default'), 'system.posix_acl_default', acl([['u', 7], ['g', 7], ['m', 7], ['o', 5]]), 0);
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
  ['set-ID bits asked for at creation are kept as a local create keeps them', ALICE, 'cd alice-dir && umask 0 && python3 -c "import os; [os.close(os.open(n, os.O_CREAT|os.O_WRONLY, m)) for n, m in ((\'u\', 0o4755), (\'g\', 0o2755), (\'gn\', 0o2745))]" && mkdir -m 2775 sd && stat -c "%n %a" u g gn sd'],
  ['set-group-ID of a group the caller is not in is dropped at creation', BOB, 'cd ../shared-sgid && umask 0 && python3 -c "import os; os.close(os.open(\'bobfile\', os.O_CREAT|os.O_WRONLY, 0o2775))" && stat -c "%n %a %g" bobfile'],
  ['an ACL entry denies a user the other bits', BOB, 'cat acl-denies-bob'],
  ['others still read it', CAROL, 'cat acl-denies-bob'],
  ['an ACL entry grants a user read', CAROL, 'cat acl-grants-carol'],
  ['but nobody else', ALICE, 'cat acl-grants-carol'],
  ['a default ACL overrides the umask', ALICE, 'umask 077 && touch acl-default/f && mkdir acl-default/d && stat -c "%a" acl-default/f acl-default/d'],
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
