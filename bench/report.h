/* The benchmark's report: the table, the budgets, bench/results.md. */
#ifndef STREAMER_BENCH_REPORT_H
#define STREAMER_BENCH_REPORT_H

#include "bench.h"

/*
 * Writes the results (the table, the budgets of DESIGN.md §7 marked met
 * or not, the setup) as Markdown to `path` and to stdout. Returns 0, or
 * -1 when `path` could not be written.
 */
int report_write(const char *path, const struct bench_setup *setup,
                 const struct bench_impl *streamer,
                 const struct bench_impl *peer);

#endif
