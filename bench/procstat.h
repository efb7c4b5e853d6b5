/* A running process's CPU time and memory, read from /proc. */
#ifndef STREAMER_BENCH_PROCSTAT_H
#define STREAMER_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * CPU time (user + sys) `pid` has used so far, in nanoseconds: the sum
 * of the first field of /proc/<pid>/task/<tid>/schedstat over its live
 * threads (nanosecond resolution; /proc/<pid>/stat counts clock ticks of
 * 10 ms). When schedstat is missing, utime + stime from /proc/<pid>/stat.
 * Returns -1 when the process is gone.
 */
int64_t procstat_cpu_ns(pid_t pid);

/*
 * A line of /proc/<pid>/status in KiB ("VmRSS", "VmHWM", "RssAnon",
 * "RssFile"), or -1.
 */
long procstat_status_kb(pid_t pid, const char *field);

/* Copies /proc/<pid>/smaps (each mapping's resident size) to the file
 * `to`; 0, or -1. */
int procstat_copy_smaps(pid_t pid, const char *to);

#endif
