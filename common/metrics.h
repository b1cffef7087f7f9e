/*
 * metrics: named counters and gauges, served in the Prometheus text format
 * over HTTP (libevent's evhttp) on metrics_listen.  Counters are plain
 * uint64_t cells updated from the event-loop thread only; a series may
 * carry labels (values escaped as the format asks).
 */
#ifndef SMTPGATE_METRICS_H
#define SMTPGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config_sockaddr;
struct metrics;

struct metrics *metrics_new(const char *prefix);	/* e.g. "smtpgate_inbound" */
void metrics_free(struct metrics *m);

/* Register a counter (monotonic) and return its cell; name without prefix. */
uint64_t *metrics_counter(struct metrics *m, const char *name, const char *help);
/* The cell of the series name{label="value"}: registered on first use (the
 * same cell after); the series of one name are rendered together. */
uint64_t *metrics_counter_label(struct metrics *m, const char *name, const char *help,
    const char *label, const char *value);
/* Register an info gauge fullname{k="v",...} 1 (no prefix added); kv is
 * name, value pairs ending in NULL.  Bad names or mixed types are bugs. */
void metrics_info(struct metrics *m, const char *fullname, const char *help,
    const char *const *kv);
/* Register a gauge read through fn at scrape time. */
void metrics_gauge(struct metrics *m, const char *name, const char *help,
    double (*fn)(void *arg), void *arg);

/* Render the text exposition format into a malloc'd string. */
char *metrics_render(struct metrics *m, size_t *lenp);

/* Serve GET /metrics on addr; 0 ok, -1 with err. */
int metrics_listen(struct metrics *m, struct event_base *base,
    const struct config_sockaddr *addr, char *err, size_t errlen);

#endif
