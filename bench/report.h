/* The benchmark's report: the table, the budgets, bench/results.md. */
#ifndef STREAMER_BENCH_REPORT_H
#define STREAMER_BENCH_REPORT_H

#include "bench.h"

/*
 * Writes the results (the table: a column per implementation and a ratio
 * column per peer; the budgets of docs/budgets.md marked met or not, against
 * the first peer; the setup) as Markdown to `path` and to stdout.
 * `impls[0]` is Streamer, `impls[1..n-1]` the peers. Returns 0, or -1
 * when `path` could not be written.
 */
int report_write(const char *path, const struct bench_setup *setup,
                 const struct bench_impl *impls, int n);

#endif
