/*
 * Small load generator for `npm run bench`. Compiled at run time into a
 * temporary directory (never committed as a binary); bench/tool.ts is the
 * Node fallback with the same command line and output.
 *
 *   benchtool create   DIR N          creat+close DIR/f0000000 .. N-1 (O_EXCL)
 *   benchtool stat     DIR N          lstat each of them
 *   benchtool unlink   DIR N          unlink each of them
 *   benchtool randread FILE BS SECS [LIMIT]
 *                                    pread BS bytes at random BS-aligned offsets for SECS seconds
 *                                    (within the first LIMIT bytes of FILE if given)
 *   benchtool mktree   DIR NDIRS NFILES
 *                                    mkdir DIR/d0000 .. NDIRS-1, each with NFILES empty files
 *                                    f0000000 ..; ops = directories + files made
 *
 * Prints one line of JSON: {"ops":n,"bytes":n,"seconds":s}. The time covers
 * the loop only (not process start-up). Exit status 1 on any failed call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path) {
  fprintf(stderr, "benchtool: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static int names(const char *mode, const char *dir, long n) {
  char path[4096];
  double t0 = now();
  for (long i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%07ld", dir, i);
    if (strcmp(mode, "create") == 0) {
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) die("open", path);
      if (close(fd) < 0) die("close", path);
    } else if (strcmp(mode, "stat") == 0) {
      struct stat st;
      if (lstat(path, &st) < 0) die("lstat", path);
    } else {
      if (unlink(path) < 0) die("unlink", path);
    }
  }
  double t1 = now();
  printf("{\"ops\":%ld,\"bytes\":0,\"seconds\":%.6f}\n", n, t1 - t0);
  return 0;
}

static int randread(const char *file, long bs, double secs, long long limit) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open", file);
  struct stat st;
  if (fstat(fd, &st) < 0) die("fstat", file);
  long long size = st.st_size;
  if (limit > 0 && limit < size) size = limit;
  long blocks = (long)(size / bs);
  if (blocks < 1) {
    fprintf(stderr, "benchtool: %s is smaller than one block\n", file);
    return 1;
  }
  char *buf = aligned_alloc(4096, (size_t)((bs + 4095) / 4096 * 4096));
  if (!buf) die("alloc", file);
  uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
  long ops = 0;
  double t0 = now(), t1 = t0, end = t0 + secs;
  for (;;) {
    for (int k = 0; k < 256; k++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
      off_t off = (off_t)(x % (uint64_t)blocks) * bs;
      ssize_t r = pread(fd, buf, (size_t)bs, off);
      if (r < 0) die("pread", file);
      ops++;
    }
    t1 = now();
    if (t1 >= end) break;
  }
  close(fd);
  printf("{\"ops\":%ld,\"bytes\":%ld,\"seconds\":%.6f}\n", ops, ops * bs, t1 - t0);
  return 0;
}

static int mktree(const char *dir, long ndirs, long nfiles) {
  char path[4096];
  double t0 = now();
  for (long d = 0; d < ndirs; d++) {
    snprintf(path, sizeof path, "%s/d%04ld", dir, d);
    if (mkdir(path, 0755) < 0) die("mkdir", path);
    for (long i = 0; i < nfiles; i++) {
      snprintf(path, sizeof path, "%s/d%04ld/f%07ld", dir, d, i);
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) die("open", path);
      if (close(fd) < 0) die("close", path);
    }
  }
  double t1 = now();
  printf("{\"ops\":%ld,\"bytes\":0,\"seconds\":%.6f}\n", ndirs * (nfiles + 1), t1 - t0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && (strcmp(argv[1], "create") == 0 || strcmp(argv[1], "stat") == 0 || strcmp(argv[1], "unlink") == 0))
    return names(argv[1], argv[2], atol(argv[3]));
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "randread") == 0)
    return randread(argv[2], atol(argv[3]), atof(argv[4]), argc == 6 ? atoll(argv[5]) : 0);
  if (argc == 5 && strcmp(argv[1], "mktree") == 0) return mktree(argv[2], atol(argv[3]), atol(argv[4]));
  fprintf(stderr, "usage: benchtool create|stat|unlink DIR N | randread FILE BS SECONDS [LIMIT] | mktree DIR NDIRS NFILES\n");
  return 2;
}
