/**
 * The table of POSIX conformance cases. Each script runs in a fresh, empty
 * directory (its cwd) on the source filesystem and through every mirror; the
 * outputs of conformance/posix-ops.c are compared line by line.
 *
 * Script language (one operation per line, see posix-ops.c): `open PATH FLAGS
 * [MODE]` gives fdN where N is the index of the open/dup operation in the
 * script (counting failed ones); `{S*N}` in a path repeats S N times; data
 * `@N:c` is N bytes of c (`@N:r` pseudo-random, `@N:0` zeros).
 */
export interface Case {
  name: string;
  script: string;
  /** Checked on every target on its own (each result line must end in `=> ok`), not diffed. */
  selfCheck?: boolean;
}

const c = (name: string, script: string, selfCheck = false): Case => ({ name, script: script.trim() + '\n', selfCheck });

export const CASES: Case[] = [
  // ------------------------------------------------------------------ open flags
  c('open-creat-excl', `
open a O_CREAT|O_EXCL|O_WRONLY 0644
open a O_CREAT|O_EXCL|O_WRONLY 0644
open a O_CREAT|O_WRONLY 0600
stat a
open b O_RDONLY
open b O_CREAT|O_EXCL|O_RDONLY 0600
stat b
`),
  c('open-trunc', `
open a O_CREAT|O_WRONLY 0644
write fd0 0 hello-world
close fd0
open a O_WRONLY|O_TRUNC
fstat fd1
stat a
open a O_RDONLY|O_TRUNC
stat a
`),
  c('open-append', `
open a O_CREAT|O_WRONLY|O_APPEND 0644
write fd0 - abc
write fd0 0 def
lseek fd0 0 SEEK_CUR
open a O_RDONLY
read fd1 0 100
write fd0 - ghi
read fd1 0 100
stat a
`),
  c('open-nofollow-directory', `
open f O_CREAT|O_WRONLY 0644
symlink f l
open l O_RDONLY|O_NOFOLLOW
open l O_RDONLY
open f O_RDONLY|O_DIRECTORY
mkdir d
open d O_RDONLY|O_DIRECTORY
open d O_WRONLY
open d O_RDWR
symlink d ld
open ld O_RDONLY|O_DIRECTORY|O_NOFOLLOW
open ld O_RDONLY|O_DIRECTORY
open missing/x O_CREAT|O_WRONLY 0644
open f/x O_CREAT|O_WRONLY 0644
`),
  c('open-tmpfile-linkat', `
open . O_TMPFILE|O_RDWR 0600
write fd0 0 tmpdata
fstat fd0
readdir .
linkat_fd fd0 named
stat named
cat named
readdir .
open . O_TMPFILE|O_RDWR|O_EXCL 0600
linkat_fd fd1 other
close fd1
`),
  c('open-dangling-symlink-creat', `
symlink target l
open l O_CREAT|O_WRONLY 0640
lstat l
stat target
open l O_CREAT|O_EXCL|O_WRONLY 0640
`),
  c('open-modes-umask', `
umask 022
open a O_CREAT|O_WRONLY 0777
umask 077
open b O_CREAT|O_WRONLY 0777
umask 0
open c O_CREAT|O_WRONLY 04755
mkdir d 0777
stat a
stat b
stat c
stat d
`),
  c('open-rdonly-write', `
open a O_CREAT|O_RDONLY 0644
write fd0 0 x
open a O_WRONLY
read fd1 0 10
close fd0
close fd0
`),

  // ------------------------------------------------------------------ read / write
  c('rw-offsets', `
open a O_CREAT|O_RDWR 0644
write fd0 0 0123456789
read fd0 3 4
read fd0 10 4
read fd0 100 4
write fd0 20 tail
stat a
read fd0 0 30
read fd0 - 5
read fd0 - 100
read fd0 - 100
`),
  c('rw-seq-positions', `
open a O_CREAT|O_RDWR 0644
write fd0 - aaaa
write fd0 - bbbb
lseek fd0 0 SEEK_CUR
lseek fd0 2 SEEK_SET
write fd0 - XX
lseek fd0 0 SEEK_END
lseek fd0 -3 SEEK_END
read fd0 - 10
lseek fd0 -100 SEEK_SET
cat a
`),
  c('rw-large', `
open a O_CREAT|O_RDWR 0644
write fd0 0 @1M:r
write fd0 12345 @200K:q
read fd0 0 2M
read fd0 1000000 100000
stat a
cat a
`),
  c('rw-dup-shared-offset', `
open a O_CREAT|O_RDWR 0644
dup fd0
write fd0 - one
write fd1 - two
lseek fd1 0 SEEK_CUR
cat a
`),
  c('rw-two-opens', `
open a O_CREAT|O_RDWR 0644
open a O_RDWR
write fd0 0 first
read fd1 0 10
write fd1 2 ZZ
read fd0 0 10
`),

  // ------------------------------------------------------------------ truncate
  c('truncate-up-down', `
open a O_CREAT|O_RDWR 0644
write fd0 0 abcdefghij
ftruncate fd0 4
read fd0 0 100
ftruncate fd0 12
read fd0 0 100
truncate a 2
stat a
truncate a 8192
stat a
read fd0 0 10
truncate missing 0
truncate . 0
ftruncate fd0 -1
`),
  c('truncate-rdonly-fd', `
open a O_CREAT|O_RDONLY 0644
ftruncate fd0 10
stat a
`),

  // ------------------------------------------------------------------ sparse / seek data hole
  c('sparse-seek-data-hole', `
open a O_CREAT|O_RDWR 0644
write fd0 1M data1
write fd0 3M data2
stat a
lseek fd0 0 SEEK_DATA
lseek fd0 0 SEEK_HOLE
lseek fd0 1M SEEK_HOLE
lseek fd0 1100000 SEEK_DATA
lseek fd0 4M SEEK_DATA
lseek fd0 4M SEEK_HOLE
read fd0 0 16
read fd0 1M 5
blocks a 1M
`),
  c('seek-empty-file', `
open a O_CREAT|O_RDWR 0644
lseek fd0 0 SEEK_DATA
lseek fd0 0 SEEK_HOLE
ftruncate fd0 100000
lseek fd0 0 SEEK_DATA
lseek fd0 0 SEEK_HOLE
`),
  c('big-file-5g', `
open a O_CREAT|O_RDWR 0644
write fd0 5G past-4GiB
stat a
statx a
read fd0 5G 100
read fd0 4G 8
lseek fd0 0 SEEK_DATA
lseek fd0 0 SEEK_END
ftruncate fd0 4294967297
stat a
read fd0 4294967295 10
truncate a 6G
stat a
`),

  // ------------------------------------------------------------------ fallocate
  c('fallocate-modes', `
open a O_CREAT|O_RDWR 0644
write fd0 0 @16K:a
fallocate fd0 0 0 64K
stat a
fallocate fd0 FALLOC_FL_KEEP_SIZE 64K 64K
stat a
fallocate fd0 FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE 4096 4096
read fd0 0 16K
lseek fd0 0 SEEK_HOLE
fallocate fd0 FALLOC_FL_ZERO_RANGE 100 200
read fd0 0 16K
fallocate fd0 FALLOC_FL_ZERO_RANGE 60K 10K
stat a
fallocate fd0 FALLOC_FL_PUNCH_HOLE 0 4096
`),
  c('fallocate-errors', `
open a O_CREAT|O_RDONLY 0644
fallocate fd0 0 0 4096
open b O_CREAT|O_RDWR 0644
fallocate fd1 0 0 0
fallocate fd1 0 -1 10
stat b
`),

  // ------------------------------------------------------------------ copy_file_range
  c('copy-file-range', `
open a O_CREAT|O_RDWR 0644
write fd0 0 @100K:r
open b O_CREAT|O_RDWR 0644
copy_file_range fd0 10 fd1 0 50000
stat b
read fd1 0 50000
copy_file_range fd0 99K fd1 200K 10K
stat b
copy_file_range fd0 200K fd1 0 100
copy_file_range fd0 0 fd0 50K 1K
copy_file_range fd0 0 fd0 100 1K
`),
  c('copy-file-range-badfd', `
open a O_CREAT|O_WRONLY 0644
write fd0 0 abc
open b O_CREAT|O_RDWR 0644
copy_file_range fd0 0 fd1 0 3
open a O_RDONLY
copy_file_range fd2 0 fd1 0 3
`),

  // ------------------------------------------------------------------ stat family
  c('stat-types', `
open f O_CREAT|O_WRONLY 0640
write fd0 0 12345
mkdir d 0750
symlink f l
symlink nowhere dl
mknod p fifo 0600
stat f
lstat f
fstat fd0
stat d
lstat l
stat l
lstat dl
stat dl
stat p
statx f
statx l AT_SYMLINK_NOFOLLOW
statx d
statx .
stat f/x
stat missing
`),
  c('statx-empty-path', `
open f O_CREAT|O_WRONLY 0640
statx ""
stat {x*256}
`),

  // ------------------------------------------------------------------ chmod / chown / utimens
  c('chmod', `
open f O_CREAT|O_WRONLY 0644
chmod f 0600
stat f
chmod f 04755
stat f
fchmod fd0 02711
stat f
chmod f 01777
stat f
mkdir d
chmod d 03777
stat d
symlink f l
chmod l 0640
stat f
lstat l
chmod missing 0644
`),
  c('chown', `
open f O_CREAT|O_WRONLY 0644
chown f 1000 2000
stat f
chown f -1 3000
stat f
fchown fd0 4000 -1
stat f
symlink f l
lchown l 5000 5000
lstat l
stat f
chmod f 06755
chown f 1000 1000
stat f
chown missing 1 1
`),
  c('utimensat', `
open f O_CREAT|O_WRONLY 0644
utimens f 1000000000.5 1100000000.25
times f
utimens f OMIT 1200000000
times f
utimens f 1300000000 OMIT
times f
snap 0 f
sleep 20
utimens f NOW OMIT
changed 0 f
snap 1 f
sleep 20
utimens f OMIT NOW
changed 1 f
snap 2 f
sleep 20
utimens f OMIT OMIT
changed 2 f
futimens fd0 1400000000 1400000001
times f
symlink f l
utimens l 1500000000 1500000000 AT_SYMLINK_NOFOLLOW
times l
times f
`),
  c('times-on-write-and-dir-change', `
open f O_CREAT|O_RDWR 0644
mkdir d
utimens f 1000000000 1000000000
utimens d 1000000000 1000000000
snap 0 f
snap 1 d
write fd0 0 data
fsync fd0
changed 0 f
open d/x O_CREAT|O_WRONLY 0644
changed 1 d
snap 2 f
chmod f 0600
changed 2 f
`),

  // ------------------------------------------------------------------ links
  c('link-nlink', `
open a O_CREAT|O_WRONLY 0644
write fd0 0 shared
mkdir d1
mkdir d2
link a d1/b
link a d2/c
stat a
stat d1/b
link a d1/b
link missing x
link d1 d3
unlink a
stat d2/c
fstat fd0
cat d1/b
stat d1
`),
  c('link-write-through-other-name', `
open a O_CREAT|O_RDWR 0644
link a b
open b O_WRONLY|O_APPEND
write fd1 - hello
read fd0 0 100
cat a
`),

  // ------------------------------------------------------------------ unlink / rmdir / mkdir
  c('unlink-rmdir-errors', `
unlink missing
rmdir missing
mkdir d
open d/f O_CREAT|O_WRONLY 0644
rmdir d
unlink d
rmdir d/f
unlink d/f/x
rmdir .
rmdir ..
unlink d/f
rmdir d
stat d
mkdir d
mkdir d
open f O_CREAT|O_WRONLY 0644
mkdir f
mkdir f/x
mkdir missing/x
`),
  c('unlink-open-file', `
open a O_CREAT|O_RDWR 0644
write fd0 0 still-readable
unlink a
fstat fd0
read fd0 0 100
write fd0 100 more
fstat fd0
readdir .
`),
  c('rmdir-nonempty-variants', `
mkdir d
mkdir d/e
rmdir d
symlink x d/e/l
rmdir d/e
unlink d/e/l
rmdir d/e
rmdir d
readdir .
`),

  // ------------------------------------------------------------------ rename
  c('rename-basic', `
open a O_CREAT|O_WRONLY 0644
write fd0 0 A
open b O_CREAT|O_WRONLY 0644
write fd1 0 BB
rename a b
stat a
cat b
rename b b
cat b
rename missing x
mkdir d
rename b d/b
cat d/b
rename d/b d/b/x
`),
  c('rename-dirs', `
mkdir d1
mkdir d2
rename d1 d2
stat d1
stat d2
mkdir d3
open d3/f O_CREAT|O_WRONLY 0644
rename d2 d3
rename d3 d2
stat d2/f
mkdir d4
rename d2 d2/sub
rename d2 d4/inside
stat d4/inside/f
`),
  c('rename-type-mismatch', `
open f O_CREAT|O_WRONLY 0644
mkdir d
rename f d
rename d f
mkdir e
open e/x O_CREAT|O_WRONLY 0644
rename d e
stat f
stat d
`),
  c('rename-noreplace', `
open a O_CREAT|O_WRONLY 0644
open b O_CREAT|O_WRONLY 0644
rename a b RENAME_NOREPLACE
rename a c RENAME_NOREPLACE
stat c
stat a
mkdir d
rename c d RENAME_NOREPLACE
`),
  c('rename-exchange', `
open a O_CREAT|O_WRONLY 0644
write fd0 0 AAA
mkdir d
open d/x O_CREAT|O_WRONLY 0644
rename a d RENAME_EXCHANGE
stat a
stat d
stat a/x
cat d
rename a missing RENAME_EXCHANGE
rename a d RENAME_EXCHANGE|RENAME_NOREPLACE
rename a d RENAME_EXCHANGE
readdir .
`),
  c('rename-whiteout', `
open a O_CREAT|O_WRONLY 0644
write fd0 0 data
rename a b RENAME_WHITEOUT
lstat a
cat b
readdir .
`),
  c('rename-over-hardlink', `
open a O_CREAT|O_WRONLY 0644
link a b
rename a b
stat a
stat b
open c O_CREAT|O_WRONLY 0644
rename c a
stat b
`),
  c('rename-open-file', `
open a O_CREAT|O_RDWR 0644
rename a b
write fd0 0 after-rename
cat b
mkdir d
rename b d/c
fstat fd0
cat d/c
`),
  c('rename-symlink', `
open f O_CREAT|O_WRONLY 0644
symlink f l
rename l m
readlink m
lstat m
stat m
`),

  // ------------------------------------------------------------------ symlinks
  c('symlink-readlink', `
symlink target l
readlink l
readlink l 3
symlink target l
symlink ../../x up
readlink up
open f O_CREAT|O_WRONLY 0644
readlink f
readlink missing
symlink {t*1000} long
readlink long
lstat long
symlink {t*4096} toolong
symlink "" empty
`),
  c('symlink-loop', `
symlink a b
symlink b a
stat a
open a O_RDONLY
symlink self self
stat self
lstat self
`),
  c('symlink-chain-dir', `
mkdir real
open real/f O_CREAT|O_WRONLY 0644
symlink real l1
symlink l1 l2
stat l2/f
open l2/f O_WRONLY
write fd1 0 via-chain
cat real/f
readdir l2
`),

  // ------------------------------------------------------------------ names and paths
  c('long-names', `
open {n*255} O_CREAT|O_WRONLY 0644
open {n*256} O_CREAT|O_WRONLY 0644
mkdir {d*255}
mkdir {d*256}
stat {n*255}
stat {n*256}
symlink x {s*255}
link {n*255} {m*255}
rename {n*255} {o*255}
rename {o*255} {o*256}
setxattr {o*255} user.{k*200} v
getxattr {o*255} user.{k*200}
setxattr {o*255} user.{k*256} v
readdir .
`),
  c('deep-paths', `
mkdirs dd 200
open {dd/*200}f O_CREAT|O_WRONLY 0644
write fd0 0 deep
stat {dd/*200}f
mkdirs abcdefghijklmnopqrstuvwxy 150
open {abcdefghijklmnopqrstuvwxy/*150}x O_CREAT|O_WRONLY 0644
open {abcdefghijklmnopqrstuvwxy/*157}x O_CREAT|O_WRONLY 0644
`),
  c('special-names', `
open sp\\s\\s\\sace O_CREAT|O_WRONLY 0644
open tab\\t O_CREAT|O_WRONLY 0644
open ünïcødé O_CREAT|O_WRONLY 0644
open .hidden O_CREAT|O_WRONLY 0644
open ... O_CREAT|O_WRONLY 0644
readdir .
stat .
stat ./.
stat ./..
`),

  // ------------------------------------------------------------------ mknod
  c('mknod-fifo', `
mknod p fifo 0640
stat p
open p O_RDONLY|O_NONBLOCK
open p O_WRONLY|O_NONBLOCK
write fd1 - through-pipe
read fd0 - 100
mknod p fifo 0640
readdir .
`),
  c('mknod-chr-dev', `
mknod null chr 0666 1 3
stat null
open null O_RDWR
write fd0 - discarded
read fd0 - 10
mknod z chr 0600 1 5
open z O_RDONLY
read fd1 - 16
`),

  // ------------------------------------------------------------------ setgid / sticky
  c('setgid-directory', `
mkdir g 0775
chown g 0 1234
chmod g 02775
stat g
mkdir g/sub 0755
stat g/sub
open g/f O_CREAT|O_WRONLY 0644
stat g/f
mknod g/p fifo 0600
stat g/p
symlink x g/l
lstat g/l
open g/sub/deeper O_CREAT|O_WRONLY 0644
stat g/sub/deeper
`),
  c('setgid-clear-on-chmod-nonmember', `
open f O_CREAT|O_WRONLY 0644
chown f 1000 1234
chmod f 02755
stat f
write fd0 0 x
stat f
chown f 1000 1234
stat f
`),
  c('sticky-directory', `
mkdir t 01777
stat t
chmod t 01777
stat t
open t/rootfile O_CREAT|O_WRONLY 0666
mkdir t/sub 0777
stat t/sub
`),

  // ------------------------------------------------------------------ permissions (as uid 1000)
  c('perm-as-user', `
chmod . 0777
open rootonly O_CREAT|O_WRONLY 0600
write fd0 0 secret
open public O_CREAT|O_WRONLY 0644
mkdir closed 0700
seteuid 1000 1000
open rootonly O_RDONLY
open public O_RDONLY
open public O_WRONLY
truncate public 0
open closed/x O_CREAT|O_WRONLY 0644
stat closed/x
open mine O_CREAT|O_WRONLY 0600
stat mine
chmod public 0777
chown mine 0 0
access public r
access public w
access rootonly r
seteuid 0 0
stat public
`),
  c('perm-sticky-as-user', `
mkdir t 01777
open t/rootfile O_CREAT|O_WRONLY 0666
seteuid 1000 1000
open t/mine O_CREAT|O_WRONLY 0644
unlink t/rootfile
rename t/rootfile t/stolen
unlink t/mine
seteuid 0 0
readdir t
`),
  c('perm-setgid-write-clears', `
chmod . 0777
open f O_CREAT|O_WRONLY 0666
chmod f 06777
stat f
seteuid 1000 1000
open f O_WRONLY
write fd1 0 data
seteuid 0 0
stat f
`),

  // ------------------------------------------------------------------ xattrs
  c('xattr-basic', `
open f O_CREAT|O_WRONLY 0644
setxattr f user.a alpha
setxattr f user.b @300:b
getxattr f user.a
getxattr f user.b
listxattr f
removexattr f user.a
listxattr f
getxattr f user.a
removexattr f user.a
setxattr f user.empty ""
getxattr f user.empty
fgetxattr fd0 user.b
fsetxattr fd0 user.c via-fd
listxattr f
`),
  c('xattr-flags', `
open f O_CREAT|O_WRONLY 0644
setxattr f user.x v1 XATTR_REPLACE
setxattr f user.x v1 XATTR_CREATE
setxattr f user.x v2 XATTR_CREATE
setxattr f user.x v3 XATTR_REPLACE
getxattr f user.x
setxattr f user.x v4 XATTR_CREATE|XATTR_REPLACE
`),
  c('xattr-sizes', `
open f O_CREAT|O_WRONLY 0644
setxattr f user.x 0123456789
getxattr f user.x 0
getxattr f user.x 4
getxattr f user.x 10
listxattr f 0
listxattr f 3
setxattr f user.big @4000:z
getxattr f user.big
setxattr f user.huge @70000:z
getxattr f user.none
getxattr missing user.x
`),
  c('xattr-namespaces', `
open f O_CREAT|O_WRONLY 0644
setxattr f trusted.t tv
getxattr f trusted.t
setxattr f bogus.x v
getxattr f bogus.x
setxattr f user. v
mkdir d
setxattr d user.dirattr dv
getxattr d user.dirattr
symlink f l
lsetxattr l user.onlink v
lgetxattr l user.onlink
getxattr l user.onlink
listxattr f
`),
  // A symlink's own attributes (trusted. and security. only: Linux refuses user. on links),
  // apart from its target's, a dangling link's included.
  c('xattr-symlink-own', `
open f O_CREAT|O_WRONLY 0644
setxattr f trusted.target tv
symlink f l
lsetxattr l trusted.link lv
lgetxattr l trusted.link
lgetxattr l trusted.target
getxattr l trusted.target
getxattr l trusted.link
llistxattr l
listxattr f
lsetxattr l trusted.link lv2 XATTR_CREATE
lsetxattr l trusted.link lv2 XATTR_REPLACE
lgetxattr l trusted.link 0
lgetxattr l trusted.link 2
lgetxattr l trusted.link
lsetxattr l user.x v
lremovexattr l trusted.link
lremovexattr l trusted.link
llistxattr l
symlink missing dl
lsetxattr dl trusted.d dv
lgetxattr dl trusted.d
llistxattr dl
getxattr dl trusted.d
lremovexattr dl trusted.d
lgetxattr dl trusted.d
`),
  c('xattr-fifo-symlink', `
mknod p fifo 0644
setxattr p user.x v
lsetxattr p user.x v
lgetxattr p user.x
`),
  c('acl-access', `
open f O_CREAT|O_WRONLY 0640
setacl f access u::rw-,u:1000:r--,g::r--,g:2000:rw-,m::rw-,o::---
getacl f access
stat f
listxattr f
chmod f 0600
getacl f access
setacl f access u::rwx,g::r-x,o::r--
stat f
setacl f access u::rw-,g::r--
getacl missing access
`),
  c('acl-default-inherit', `
mkdir d 0755
setacl d default u::rwx,u:1000:rwx,g::r-x,m::rwx,o::r-x
getacl d default
open d/f O_CREAT|O_WRONLY 0666
getacl d/f access
stat d/f
mkdir d/sub 0777
getacl d/sub default
getacl d/sub access
stat d/sub
`),
  c('acl-as-user', `
chmod . 0777
open f O_CREAT|O_WRONLY 0600
write fd0 0 acl-granted
setacl f access u::rw-,u:1000:r--,g::---,m::r--,o::---
seteuid 1000 1000
open f O_RDONLY
read fd1 0 100
open f O_WRONLY
seteuid 0 0
`),

  // ------------------------------------------------------------------ sync
  c('fsync-fdatasync', `
open f O_CREAT|O_RDWR 0644
write fd0 0 data
fsync fd0
fdatasync fd0
open f O_RDONLY
fsync fd1
mkdir d
open d O_RDONLY|O_DIRECTORY
fsync fd2
open f O_RDWR|O_SYNC
write fd3 0 S
open f O_RDWR|O_DSYNC
write fd4 1 D
cat f
`),

  c('seekdir-telldir', `
mkdir d 0755
open d/a O_CREAT|O_WRONLY 0644
open d/b O_CREAT|O_WRONLY 0644
open d/c O_CREAT|O_WRONLY 0644
open d/e O_CREAT|O_WRONLY 0644
open d/f O_CREAT|O_WRONLY 0644
open d/g O_CREAT|O_WRONLY 0644
seekdir_check d
fsyncdir d
fsyncdir missing
`),

  // ------------------------------------------------------------------ locks
  c('flock', `
open f O_CREAT|O_RDWR 0644
open f O_RDWR
flock fd0 LOCK_EX|LOCK_NB
flock fd1 LOCK_EX|LOCK_NB
flock fd1 LOCK_SH|LOCK_NB
flock fd0 LOCK_SH
flock fd1 LOCK_SH|LOCK_NB
flock fd1 LOCK_EX|LOCK_NB
flock fd0 LOCK_UN
flock fd1 LOCK_EX|LOCK_NB
close fd1
flock fd0 LOCK_EX|LOCK_NB
child flock fd0 LOCK_EX|LOCK_NB
`),
  c('fcntl-locks', `
open f O_CREAT|O_RDWR 0644
write fd0 0 @100:x
setlk fd0 F_WRLCK 0 10
getlk fd0 F_WRLCK 0 10
child getlk fd0 F_WRLCK 0 0
child getlk fd0 F_RDLCK 5 1
child getlk fd0 F_WRLCK 10 10
child setlk fd0 F_WRLCK 5 1
setlk fd0 F_RDLCK 0 5
child getlk fd0 F_RDLCK 0 5
child getlk fd0 F_WRLCK 0 5
setlk fd0 F_UNLCK 0 0
child getlk fd0 F_WRLCK 0 0
open f O_RDONLY
setlk fd1 F_WRLCK 0 1
setlk fd1 F_RDLCK 0 1
`),
  c('ofd-locks', `
open f O_CREAT|O_RDWR 0644
open f O_RDWR
ofd_setlk fd0 F_WRLCK 0 10
ofd_setlk fd1 F_WRLCK 5 10
ofd_getlk fd1 F_WRLCK 0 0
ofd_setlk fd1 F_WRLCK 10 10
ofd_setlk fd0 F_UNLCK 0 0
ofd_setlk fd1 F_WRLCK 0 0
`),

  // ------------------------------------------------------------------ readdir
  c('readdir-listing', `
open f O_CREAT|O_WRONLY 0644
mkdir d
symlink f l
mknod p fifo 0644
open {longname*20} O_CREAT|O_WRONLY 0644
readdir .
readdir d
readdir f
readdir missing
`),
  c('readdir-many', `
mkdir big
open big/{a*1} O_CREAT|O_WRONLY 0644
open big/{a*2} O_CREAT|O_WRONLY 0644
open big/{a*3} O_CREAT|O_WRONLY 0644
open big/{a*100} O_CREAT|O_WRONLY 0644
open big/{a*200} O_CREAT|O_WRONLY 0644
open big/{a*250} O_CREAT|O_WRONLY 0644
open big/{b*250} O_CREAT|O_WRONLY 0644
open big/{c*250} O_CREAT|O_WRONLY 0644
open big/{d*250} O_CREAT|O_WRONLY 0644
open big/{e*250} O_CREAT|O_WRONLY 0644
open big/{f*250} O_CREAT|O_WRONLY 0644
open big/{g*250} O_CREAT|O_WRONLY 0644
open big/{h*250} O_CREAT|O_WRONLY 0644
open big/{i*250} O_CREAT|O_WRONLY 0644
open big/{j*250} O_CREAT|O_WRONLY 0644
open big/{k*250} O_CREAT|O_WRONLY 0644
open big/{l*250} O_CREAT|O_WRONLY 0644
open big/{m*250} O_CREAT|O_WRONLY 0644
open big/{n*250} O_CREAT|O_WRONLY 0644
open big/{o*250} O_CREAT|O_WRONLY 0644
readdir big
`),
  c('readdir-after-changes', `
mkdir d
open d/a O_CREAT|O_WRONLY 0644
open d/b O_CREAT|O_WRONLY 0644
readdir d
unlink d/a
rename d/b d/c
mkdir d/sub
readdir d
rename d/sub d/sub2
readdir d
`),
  c('readdir-churn', `
readdir_churn churn
`, true),

  // ------------------------------------------------------------------ more permission / privilege cases
  c('perm-suid-write-as-user', `
chmod . 0777
open f O_CREAT|O_WRONLY 0666
chmod f 04777
seteuid 1000 1000
open f O_WRONLY
write fd1 0 data
seteuid 0 0
stat f
chmod f 02777
seteuid 1000 1000
write fd1 0 more
seteuid 0 0
stat f
`),
  c('perm-suid-truncate-as-user', `
chmod . 0777
open f O_CREAT|O_WRONLY 0666
chmod f 06777
seteuid 1000 1000
truncate f 1
seteuid 0 0
stat f
chmod f 06777
seteuid 1000 1000
open f O_WRONLY|O_TRUNC
seteuid 0 0
stat f
chmod f 06777
seteuid 1000 1000
open f O_WRONLY
fallocate fd2 0 0 100
seteuid 0 0
stat f
`),
  c('perm-owner-ops-as-user', `
chmod . 0777
open rootfile O_CREAT|O_WRONLY 0666
seteuid 1000 1000
chmod rootfile 0600
chown rootfile 1000 1000
utimens rootfile NOW NOW
utimens rootfile 1000000000 1000000000
setxattr rootfile user.x v
open mine O_CREAT|O_WRONLY 0644
setxattr mine user.x v
getxattr mine user.x
utimens mine 1000000000 1000000000
times mine
chown mine -1 1000
chown mine -1 1234
chmod mine 02755
stat mine
seteuid 0 0
chown mine 1000 1234
seteuid 1000 1000
chmod mine 02755
stat mine
seteuid 0 0
`),
  c('perm-dir-search-as-user', `
mkdir d 0700
open d/f O_CREAT|O_WRONLY 0644
mkdir e 0711
open e/f O_CREAT|O_WRONLY 0644
seteuid 1000 1000
stat d/f
readdir d
stat e/f
readdir e
open e/f O_RDONLY
mkdir e/new
seteuid 0 0
`),
  c('access-root', `
open f O_CREAT|O_WRONLY 0644
access f rwx
access f rw
chmod f 0100
access f x
chmod f 0
access f rw
mkdir d 0
access d rwx
access missing r
`),

  // ------------------------------------------------------------------ times after data operations
  c('times-data-ops', `
open f O_CREAT|O_RDWR 0644
write fd0 0 @10000:a
utimens f 1000000000 1000000000
snap 0 f
ftruncate fd0 10000
changed 0 f
utimens f 1000000000 1000000000
snap 1 f
fallocate fd0 FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE 0 4096
changed 1 f
utimens f 1000000000 1000000000
snap 2 f
open g O_CREAT|O_RDWR 0644
copy_file_range fd0 0 fd1 0 100
changed 2 f
utimens f 1000000000 1000000000
snap 3 f
mmapwrite fd0 10 mm
changed 3 f
utimens f 1000000000 1000000000
snap 4 f
truncate f 20000
changed 4 f
`),

  // ------------------------------------------------------------------ misc namespace
  c('namespace-misc', `
mkdir d
open d O_CREAT|O_WRONLY 0644
open d O_CREAT|O_RDONLY 0644
symlink f l
link l hl
lstat hl
readlink hl
open f O_CREAT|O_WRONLY 0644
stat hl
link . dotlink
rename . x
rename d .
rename d ..
mkdir d/e
rename d/e d/e/f
rename d/e/.. y
unlink .
`),
  c('unlinked-linkat-enoent', `
open a O_CREAT|O_RDWR 0644
write fd0 0 gone
unlink a
linkat_fd fd0 back
stat back
`),
  c('exchange-cross-dir', `
mkdir d1
mkdir d2
open d1/a O_CREAT|O_WRONLY 0644
write fd0 0 first
mkdir d2/b
open d2/b/inner O_CREAT|O_WRONLY 0644
rename d1/a d2/b RENAME_EXCHANGE
stat d1/a/inner
cat d2/b
stat d1
stat d2
rename d1 d2 RENAME_EXCHANGE
readdir d1
readdir d2
`),
  c('whiteout-over-existing', `
open a O_CREAT|O_WRONLY 0644
open b O_CREAT|O_WRONLY 0644
rename a b RENAME_WHITEOUT
lstat a
rename a c RENAME_WHITEOUT|RENAME_EXCHANGE
mkdir d
rename d e RENAME_WHITEOUT
lstat d
`),

  c('o-direct', `
open f O_CREAT|O_RDWR|O_DIRECT 0644
write fd0 0 @8192:d
write fd0 4096 @4096:e
read fd0 0 8192
read fd0 4096 4096
open f O_RDONLY
read fd1 0 8192
stat f
`),
  c('statfs', `
open f O_CREAT|O_WRONLY 0644
statfs f
statfs .
statfs missing
`),

  c('trailing-slash-and-flag-errors', `
open f O_CREAT|O_WRONLY 0644
open f/ O_RDONLY
unlink f/
rename f/ g
stat f/
mkdir d/
stat d/
rmdir d/
open d O_CREAT|O_DIRECTORY|O_RDONLY 0644
open f O_PATH
write fd3 0 x
read fd3 0 1
fstat fd3
open f O_WRONLY|O_RDWR
mknod p fifo 0644
open p O_RDWR
write fd5 - pipe
read fd5 - 10
`),
  c('dir-nlink', `
mkdir a
mkdir b
stat a
mkdir a/x
mkdir a/y
stat a
rename a/x b/x
stat a
stat b
rmdir a/y
stat a
open a/file O_CREAT|O_WRONLY 0644
stat a
`),
  c('acl-invalid-and-mode', `
open f O_CREAT|O_WRONLY 0644
setxattr f system.posix_acl_access garbage
setacl f access u::rw-,g::r--
setacl f access u::rwx,g::r-x,o::r-x
stat f
getacl f access
setacl f default u::rwx,g::r-x,o::r-x
mkdir d
setacl d access u::rwx,g::rwx,o::---
stat d
removexattr f system.posix_acl_access
getacl f access
`),

  // The file becomes set-ID while a (passthrough) open is held; a later writer shares the mode.
  c('perm-suid-write-while-open-rdonly', `
chmod . 0777
open f O_CREAT|O_WRONLY 0666
write fd0 0 data
close fd0
open f O_RDONLY
chmod f 06777
seteuid 1000 1000
open f O_WRONLY
write fd2 0 more
seteuid 0 0
stat f
read fd1 0 10
`),

  // ------------------------------------------------------------------ mmap
  c('mmap-shared', `
open f O_CREAT|O_RDWR 0644
ftruncate fd0 8192
mmapwrite fd0 100 mapped-bytes
read fd0 100 12
write fd0 4000 written
mmapread fd0 4000 7
mmapwrite fd0 8000 @192:m
stat f
cat f
`),
  c('mmap-rdonly-fd', `
open f O_CREAT|O_RDWR 0644
write fd0 0 @5000:x
open f O_RDONLY
mmapwrite fd1 0 nope
mmapread fd1 4096 10
`),
];
