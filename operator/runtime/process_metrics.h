/*
 * The process_* families of Prometheus' process collector (client_golang's, which controller-runtime
 * registers), read from /proc/self at scrape time: process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and process_start_time_seconds. Linux only;
 * a value that cannot be read is left out (its family too) rather than reported as 0.
 */
#ifndef SO_METRICS_PROCESS_H
#define SO_METRICS_PROCESS_H

#include "operator/base/buf.h"

int process_metrics_write(struct buf *out);

#endif
