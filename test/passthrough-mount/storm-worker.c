/*
 * Storm worker for test/passthrough-mount/storm.test.ts (compiled with gcc at
 * test time into the test's temp dir; never committed as a binary).
 *
 *   storm-worker DIR NFILES SECONDS SEED WORKER LOCKFILE
 *
 * Until SECONDS have passed, repeatedly picks one of DIR/f0..f{NFILES-1} and
 * one way of using it, at random:
 *
 *   read       O_RDONLY, read up to 256 KiB
 *   pwrite     O_RDWR, pwrite 1-4 pattern blocks at 4096-aligned offsets
 *   append     O_WRONLY|O_APPEND, 1-4 records of 64 bytes
 *   trunc      O_RDWR|O_TRUNC, then rewrite 0-16 pattern blocks
 *   dread      O_RDONLY|O_DIRECT, pread into a 4096-aligned buffer
 *   dwrite     O_WRONLY|O_DIRECT, pwrite a 4096-aligned buffer at an aligned offset
 *   mshared    O_RDWR, MAP_SHARED read + write + msync (ftruncate first if empty)
 *   mprivate   O_RDONLY, MAP_PRIVATE PROT_READ|PROT_WRITE read + write
 *   dmshared   O_RDWR|O_DIRECT, MAP_SHARED read + write + msync (a shared mapping
 *              of a direct-I/O file makes the kernel put the inode in cached mode)
 *
 * About a third of the opens are held for 1-8 ms before closing, so opens of
 * different kinds overlap. Every failed system call is counted as
 * "op/syscall:ERRNAME".
 *
 * Two flocks (on files outside the mount) keep a mapping from ever lying past
 * EOF, so touching one never legitimately raises SIGBUS; a SIGBUS is caught,
 * reported on stderr and counted. LOCKFILE: truncation (trunc) takes it
 * exclusive, the mmap ops shared for as long as they map. LOCKFILE.grow: the
 * writers that extend files (pwrite, append, dwrite) take it shared, and an
 * mmap op that finds the file empty takes it exclusive for "fstat again,
 * ftruncate if still empty", so its ftruncate can never cut off data that a
 * concurrent writer has just appended.
 * Every byte read (read, dread, mappings) must be one any writer can produce:
 * the pattern alphabet or a zero byte (holes, ftruncate); anything else is
 * counted as "corrupt".
 *
 * Prints one line of JSON on stdout and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define MAX_BLOCKS 64 /* pwrite/dwrite offsets stay below 256 KiB */
#define RECORD 64
#define MAX_READ (256 * 1024)

enum { OP_READ, OP_PWRITE, OP_APPEND, OP_TRUNC, OP_DREAD, OP_DWRITE, OP_MSHARED, OP_MPRIVATE, OP_DMSHARED, NOPS };
static const char *const OPNAMES[NOPS] = {"read",   "pwrite", "append",  "trunc",    "dread",
                                          "dwrite", "mshared", "mprivate", "dmshared"};

/* ---- error table ---------------------------------------------------------- */

#define MAXERR 128
static struct {
  char key[64];
  long n;
} errs[MAXERR];
static int nerrs;
static long opcount[NOPS];
static long corrupt;
static long sigbus;
static long skipped; /* mprivate on an empty file (nothing to map) */

static void count_key(const char *key) {
  for (int i = 0; i < nerrs; i++)
    if (strcmp(errs[i].key, key) == 0) {
      errs[i].n++;
      return;
    }
  if (nerrs < MAXERR) {
    snprintf(errs[nerrs].key, sizeof errs[nerrs].key, "%s", key);
    errs[nerrs].n = 1;
    nerrs++;
  }
}

static void fail(int op, const char *call, int e) {
  char key[64];
  const char *name = strerrorname_np(e);
  char num[16];
  if (!name) {
    snprintf(num, sizeof num, "E%d", e);
    name = num;
  }
  snprintf(key, sizeof key, "%s/%s:%s", OPNAMES[op], call, name);
  count_key(key);
}

/* ---- randomness, patterns, checks ----------------------------------------- */

static unsigned long long rng;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static int worker;
static unsigned long seq;

/* The alphabet every writer uses: A-Z a-z 0-9 '-' ':' '\n' (plus zero bytes from holes). */
static int ok_byte(unsigned char c) {
  return c == 0 || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == ':' ||
         c == '\n';
}

static volatile size_t *check_pos;
static void check_bytes(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (check_pos) *check_pos = i;
    if (!ok_byte(p[i])) {
      corrupt++;
      return;
    }
  }
}

/* A recognisable block: "W<worker>-<seq>-<op>:" repeated, a newline at the end. */
static void fill_pattern(char *buf, size_t n, int op) {
  char head[48];
  int hl = snprintf(head, sizeof head, "W%d-%08lu-%s:", worker, ++seq, OPNAMES[op]);
  for (size_t i = 0; i < n; i++) buf[i] = head[i % (size_t)hl];
  if (n) buf[n - 1] = '\n';
}

static void hold(void) {
  if (rnd(3) == 0) usleep(1000 + rnd(7000));
}

/* ---- SIGBUS on mappings ---------------------------------------------------- */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t in_map;
static volatile size_t map_pos; /* offset being touched, for the SIGBUS report */

static void on_bus(int sig) {
  (void)sig;
  if (in_map) siglongjmp(bus_jmp, 1);
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

/* ---- the ops --------------------------------------------------------------- */

static char path[4096];
static int lockfd, growfd;

static int lock(int op, int fd, int how) {
  if (flock(fd, how) == 0) return 0;
  fail(op, "flock", errno);
  return -1;
}
static unsigned char *abuf; /* 64 KiB, 4096-aligned, for O_DIRECT */
static char buf[MAX_READ];

static int open_or_fail(int op, int flags) {
  int fd = open(path, flags);
  if (fd < 0) fail(op, "open", errno);
  return fd;
}

static void close_or_fail(int op, int fd) {
  if (close(fd) != 0) fail(op, "close", errno);
}

static void do_read(void) {
  int fd = open_or_fail(OP_READ, O_RDONLY);
  if (fd < 0) return;
  size_t total = 0;
  while (total < MAX_READ) {
    ssize_t r = read(fd, buf + total, MAX_READ - total < 65536 ? MAX_READ - total : 65536);
    if (r < 0) {
      fail(OP_READ, "read", errno);
      break;
    }
    if (r == 0) break;
    total += (size_t)r;
  }
  check_bytes((unsigned char *)buf, total);
  hold();
  close_or_fail(OP_READ, fd);
}

static void do_pwrite(void) {
  if (lock(OP_PWRITE, growfd, LOCK_SH)) return;
  int fd = open_or_fail(OP_PWRITE, O_RDWR);
  if (fd < 0) goto unlock;
  int n = 1 + rnd(4);
  for (int i = 0; i < n; i++) {
    fill_pattern(buf, BLOCK, OP_PWRITE);
    ssize_t w = pwrite(fd, buf, BLOCK, (off_t)rnd(MAX_BLOCKS) * BLOCK);
    if (w < 0) fail(OP_PWRITE, "pwrite", errno);
    else if (w != BLOCK) count_key("pwrite/pwrite:SHORT");
  }
  hold();
  close_or_fail(OP_PWRITE, fd);
unlock:
  flock(growfd, LOCK_UN);
}

static void do_append(void) {
  if (lock(OP_APPEND, growfd, LOCK_SH)) return;
  int fd = open_or_fail(OP_APPEND, O_WRONLY | O_APPEND);
  if (fd < 0) goto unlock;
  int n = 1 + rnd(4);
  for (int i = 0; i < n; i++) {
    fill_pattern(buf, RECORD, OP_APPEND);
    ssize_t w = write(fd, buf, RECORD);
    if (w < 0) fail(OP_APPEND, "write", errno);
    else if (w != RECORD) count_key("append/write:SHORT");
  }
  hold();
  close_or_fail(OP_APPEND, fd);
unlock:
  flock(growfd, LOCK_UN);
}

static void do_trunc(void) {
  if (lock(OP_TRUNC, lockfd, LOCK_EX)) return;
  int fd = open_or_fail(OP_TRUNC, O_RDWR | O_TRUNC);
  if (fd >= 0) {
    int n = rnd(17);
    for (int i = 0; i < n; i++) {
      fill_pattern(buf, BLOCK, OP_TRUNC);
      ssize_t w = write(fd, buf, BLOCK);
      if (w < 0) {
        fail(OP_TRUNC, "write", errno);
        break;
      }
      if (w != BLOCK) count_key("trunc/write:SHORT");
    }
    hold();
    close_or_fail(OP_TRUNC, fd);
  }
  flock(lockfd, LOCK_UN);
}

static void do_dread(void) {
  int fd = open_or_fail(OP_DREAD, O_RDONLY | O_DIRECT);
  if (fd < 0) return;
  size_t len = (size_t)(1 + rnd(16)) * BLOCK;
  struct iovec iov = {abuf, len};
  ssize_t r = preadv(fd, &iov, 1, (off_t)rnd(MAX_BLOCKS) * BLOCK);
  if (r < 0) fail(OP_DREAD, "preadv", errno);
  else check_bytes(abuf, (size_t)r);
  hold();
  close_or_fail(OP_DREAD, fd);
}

static void do_dwrite(void) {
  if (lock(OP_DWRITE, growfd, LOCK_SH)) return;
  int fd = open_or_fail(OP_DWRITE, (rnd(2) ? O_WRONLY : O_RDWR) | O_DIRECT);
  if (fd < 0) goto unlock;
  size_t len = (size_t)(1 + rnd(4)) * BLOCK;
  fill_pattern((char *)abuf, len, OP_DWRITE);
  struct iovec iov = {abuf, len};
  ssize_t w = pwritev(fd, &iov, 1, (off_t)rnd(MAX_BLOCKS) * BLOCK);
  if (w < 0) fail(OP_DWRITE, "pwritev", errno);
  else if ((size_t)w != len) count_key("dwrite/pwritev:SHORT");
  hold();
  close_or_fail(OP_DWRITE, fd);
unlock:
  flock(growfd, LOCK_UN);
}

static void do_map(int op) {
  int shared = op == OP_MSHARED || op == OP_DMSHARED;
  if (lock(op, lockfd, LOCK_SH)) return;
  int fd = open_or_fail(op, op == OP_DMSHARED ? O_RDWR | O_DIRECT : shared ? O_RDWR : O_RDONLY);
  if (fd < 0) goto unlock;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    fail(op, "fstat", errno);
    goto close;
  }
  volatile size_t size = (size_t)st.st_size; /* volatile: read after siglongjmp */
  if (size == 0) {
    if (!shared) {
      skipped++;
      goto close;
    }
    /* No writer extends the file while we hold .grow exclusively; trunc is kept out by our shared lock. */
    if (lock(op, growfd, LOCK_EX)) goto close;
    int grow_failed = 0;
    if (fstat(fd, &st) != 0) {
      fail(op, "fstat", errno);
      grow_failed = 1;
    } else if (st.st_size == 0 && ftruncate(fd, 4 * BLOCK) != 0) {
      fail(op, "ftruncate", errno);
      grow_failed = 1;
    }
    flock(growfd, LOCK_UN);
    if (grow_failed) goto close;
    size = st.st_size == 0 ? 4 * BLOCK : (size_t)st.st_size;
  }
  if (size > 1024 * 1024) size = 1024 * 1024;
  unsigned char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) {
    fail(op, "mmap", errno);
    goto close;
  }
  in_map = 1;
  map_pos = 0;
  if (sigsetjmp(bus_jmp, 1) == 0) {
    check_pos = &map_pos;
    check_bytes(m, size);
    check_pos = NULL;
    size_t pages = (size + BLOCK - 1) / BLOCK;
    int n = 1 + rnd(3);
    for (int i = 0; i < n; i++) {
      size_t off = (size_t)rnd((unsigned)pages) * BLOCK;
      size_t len = size - off < BLOCK ? size - off : BLOCK;
      fill_pattern(buf, len, op);
      map_pos = off;
      memcpy(m + off, buf, len);
    }
    in_map = 0;
    if (shared && msync(m, size, MS_SYNC) != 0) fail(op, "msync", errno);
  } else {
    in_map = 0;
    check_pos = NULL;
    sigbus++;
    struct stat st2;
    long long now_size = fstat(fd, &st2) == 0 ? (long long)st2.st_size : -1;
    fprintf(stderr, "worker %d: SIGBUS in %s on %s at offset %zu of a %zu-byte mapping; fstat now says %lld\n", worker,
            OPNAMES[op], path, (size_t)map_pos, (size_t)size, now_size);
    char key[64];
    snprintf(key, sizeof key, "%s/access:SIGBUS", OPNAMES[op]);
    count_key(key);
  }
  hold();
  if (munmap(m, size) != 0) fail(op, "munmap", errno);
close:
  close_or_fail(op, fd);
unlock:
  flock(lockfd, LOCK_UN);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s DIR NFILES SECONDS SEED WORKER LOCKFILE\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  int nfiles = atoi(argv[2]);
  double seconds = atof(argv[3]);
  rng = strtoull(argv[4], NULL, 10) * 2654435761ULL + 88172645463325252ULL;
  worker = atoi(argv[5]);
  char growpath[4096];
  snprintf(growpath, sizeof growpath, "%s.grow", argv[6]);
  lockfd = open(argv[6], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  growfd = open(growpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lockfd < 0 || growfd < 0 || nfiles < 1) {
    perror("lockfile");
    return 2;
  }
  if (posix_memalign((void **)&abuf, BLOCK, 16 * BLOCK) != 0) return 2;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_bus;
  sigaction(SIGBUS, &sa, NULL);

  /* STORM_OPS=read,mshared,... limits the mix (for narrowing a failure down by hand). */
  int allowed[NOPS], nallowed = 0;
  const char *only = getenv("STORM_OPS");
  for (int i = 0; i < NOPS; i++) {
    if (only && *only) {
      char needle[32];
      snprintf(needle, sizeof needle, ",%s,", OPNAMES[i]);
      char hay[256];
      snprintf(hay, sizeof hay, ",%s,", only);
      if (!strstr(hay, needle)) continue;
    }
    allowed[nallowed++] = i;
  }
  if (nallowed == 0) {
    fprintf(stderr, "STORM_OPS names no known op\n");
    return 2;
  }

  double end = now() + seconds;
  while (now() < end) {
    snprintf(path, sizeof path, "%s/f%u", dir, rnd((unsigned)nfiles));
    int op = allowed[rnd((unsigned)nallowed)];
    opcount[op]++;
    switch (op) {
      case OP_READ: do_read(); break;
      case OP_PWRITE: do_pwrite(); break;
      case OP_APPEND: do_append(); break;
      case OP_TRUNC: do_trunc(); break;
      case OP_DREAD: do_dread(); break;
      case OP_DWRITE: do_dwrite(); break;
      default: do_map(op); break;
    }
  }

  long total = 0;
  for (int i = 0; i < NOPS; i++) total += opcount[i];
  printf("{\"worker\":%d,\"ops\":%ld,\"corrupt\":%ld,\"sigbus\":%ld,\"skipped\":%ld,\"opCounts\":{", worker, total, corrupt,
         sigbus, skipped);
  for (int i = 0; i < NOPS; i++) printf("%s\"%s\":%ld", i ? "," : "", OPNAMES[i], opcount[i]);
  printf("},\"errors\":{");
  for (int i = 0; i < nerrs; i++) printf("%s\"%s\":%ld", i ? "," : "", errs[i].key, errs[i].n);
  printf("}}\n");
  return 0;
}
