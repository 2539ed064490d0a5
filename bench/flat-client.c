/*
 * Client for bench/fuse-native.ts: one process walks a flat directory of
 * files named f0000000 .. f(N-1). Compiled at run time into a temporary
 * directory.
 *
 *   flat-client stat DIR N     lstat each file (one LOOKUP each when the kernel's entries have expired)
 *   flat-client read DIR N     open, read 4 KiB, close each file; fails unless each read returns 4096 bytes
 *   flat-client list DIR N     opendir, readdir to the end, closedir (what `ls -f` asks of the filesystem, without
 *                              its start-up and output); fails unless N names besides `.` and `..` are listed
 *
 * Prints one line of JSON: {"ops":n,"seconds":s} (the loop only, not start-up).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <dirent.h>
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

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: flat-client stat|read|list DIR N\n");
    return 2;
  }
  const char *mode = argv[1];
  const char *dir = argv[2];
  long n = atol(argv[3]);
  char path[4096];
  char buf[4096];
  struct stat st;
  double t0 = now();
  if (strcmp(mode, "list") == 0) {
    DIR *d = opendir(dir);
    if (!d) {
      fprintf(stderr, "flat-client: opendir %s: %s\n", dir, strerror(errno));
      return 1;
    }
    long names = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names++;
    }
    int err = errno;
    closedir(d);
    if (err != 0 || names != n) {
      fprintf(stderr, "flat-client: readdir %s: %ld names, %s\n", dir, names, err ? strerror(err) : "expected more or fewer");
      return 1;
    }
    printf("{\"ops\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
    return 0;
  }
  for (long i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%07ld", dir, i);
    if (strcmp(mode, "stat") == 0) {
      if (lstat(path, &st) != 0) {
        fprintf(stderr, "flat-client: lstat %s: %s\n", path, strerror(errno));
        return 1;
      }
    } else if (strcmp(mode, "read") == 0) {
      int fd = open(path, O_RDONLY);
      if (fd < 0) {
        fprintf(stderr, "flat-client: open %s: %s\n", path, strerror(errno));
        return 1;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r != (ssize_t)sizeof buf) {
        fprintf(stderr, "flat-client: read %s: %zd %s\n", path, r, r < 0 ? strerror(errno) : "bytes");
        return 1;
      }
      close(fd);
    } else {
      fprintf(stderr, "flat-client: unknown mode %s\n", mode);
      return 2;
    }
  }
  printf("{\"ops\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
  return 0;
}
