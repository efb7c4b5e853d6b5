/* Clocks in milliseconds (wall and monotonic) and RFC 3339 text. */
#ifndef STREAMER_CLOCK_H
#define STREAMER_CLOCK_H

#include <stdint.h>

/* "2026-11-24T10:00:00.123Z": 24 characters and the NUL. */
#define CLOCK_RFC3339_SIZE 25

/* Epoch milliseconds from the real-time clock (CLOCK_REALTIME): for
 * deadlines, timestamps and anything compared with AWS's times. */
int64_t clock_now_ms(void);

/* Milliseconds from CLOCK_MONOTONIC, which never steps back: for
 * measuring intervals. Meaningless as a date. */
int64_t clock_monotonic_ms(void);

/*
 * Writes `ms` as RFC 3339 UTC with milliseconds, which sorts as text
 * (docs/data-model.md). `out` holds CLOCK_RFC3339_SIZE bytes.
 */
void clock_rfc3339(int64_t ms, char out[CLOCK_RFC3339_SIZE]);

#endif
