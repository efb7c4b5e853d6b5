/* CloudWatch metrics as Embedded Metric Format (EMF) log lines. */
#ifndef STREAMER_METRICS_H
#define STREAMER_METRICS_H

#include <stdint.h>

/*
 * Writes one EMF record ("Specification: Embedded metric format",
 * CloudWatch User Guide) counting `value` of metric `name` in
 * `namespace_`, with one dimension (`dimension` = `dimension_value`) or
 * none (`dimension` NULL). Lambda ships stdout lines to CloudWatch Logs,
 * which extracts the metric.
 */
void metrics_count(const char *namespace_, const char *name, int64_t value,
                   const char *dimension, const char *dimension_value);

#endif
