/*
 * metrics: a registry of named counters and gauges, rendered in the
 * Prometheus text exposition format (version 0.0.4) and served by libevent's
 * evhttp on GET /metrics, bound only to the configured address.
 *
 * Counters are plain uint64_t cells owned here and bumped by the caller from
 * the event-loop thread; gauges are read through a callback at scrape time.
 * It knows nothing about what is counted.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define METRICS_PATH		"/metrics"
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

struct metric {
	char			*name;	/* with prefix */
	char			*labels;	/* "{k=\"v\"}" escaped, or "" */
	char			*help;
	enum metric_kind	 kind;
	uint64_t		 value;	/* counters */
	double			(*fn)(void *);
	void			*arg;
};

struct metrics {
	char		 *prefix;
	struct metric	**v;
	size_t		  n, cap;
	struct evhttp	 *http;
};

/* New empty registry; names get "<prefix>_" in front. */
struct metrics *
metrics_new(const char *prefix)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->prefix = xstrdup(prefix != NULL ? prefix : "");
	return m;
}

/* Free the registry and stop serving. */
void
metrics_free(struct metrics *m)
{
	size_t i;

	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	for (i = 0; i < m->n; i++) {
		free(m->v[i]->name);
		free(m->v[i]->labels);
		free(m->v[i]->help);
		free(m->v[i]);
	}
	free(m->v);
	free(m->prefix);
	free(m);
}

/* 1 when s is a valid metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]*
 * (colons only in metric names). */
static int
metrics_valid_name(const char *s, int colon)
{
	const char *p;

	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || (colon && *p == ':')))
			return 0;
	return 1;
}

/* The label set kv (name, value, ..., NULL) as "{k="v",...}", values
 * escaped (backslash, double quote, newline); "" for none. */
static char *
metrics_labels(const char *const *kv)
{
	char *buf = NULL;
	size_t len = 0;
	const char *const *first;
	const char *v;
	FILE *f;

	if (kv == NULL || kv[0] == NULL)
		return xstrdup("");
	if ((f = open_memstream(&buf, &len)) == NULL)
		fatal("metrics: open_memstream");
	for (first = kv; kv[0] != NULL; kv += 2) {
		if (!metrics_valid_name(kv[0], 0) || kv[1] == NULL)
			fatalx("metrics: bad label name \"%s\"", kv[0]);
		fprintf(f, "%s%s=\"", kv == first ? "{" : ",", kv[0]);
		for (v = kv[1]; *v != '\0'; v++) {
			if (*v == '\\' || *v == '"')
				fprintf(f, "\\%c", *v);
			else if (*v == '\n')
				fputs("\\n", f);
			else
				fputc(*v, f);
		}
		fputc('"', f);
	}
	fputc('}', f);
	if (fclose(f) != 0)
		fatal("metrics: labels");
	return buf;
}

/* The series name{labels}, or NULL. */
static struct metric *
metrics_find(const struct metrics *m, const char *name, const char *labels)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i]->name, name) == 0 &&
		    strcmp(m->v[i]->labels, labels) == 0)
			return m->v[i];
	return NULL;
}

/* Insert a series after the last one of the same name (a family's series
 * stay together, as the format asks) or at the end; each lives in its own
 * allocation so cells stay put. */
static struct metric *
metrics_insert(struct metrics *m, char *name, char *labels, const char *help,
    enum metric_kind kind)
{
	struct metric *mt = xcalloc(1, sizeof(*mt));
	size_t at = m->n, i;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i]->name, name) == 0) {
			if (m->v[i]->kind != kind)
				fatalx("metrics: %s registered as two types", name);
			at = i + 1;
		}
	memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof(*m->v));
	mt->name = name;
	mt->labels = labels;
	mt->help = xstrdup(help != NULL ? help : "");
	mt->kind = kind;
	m->v[at] = mt;
	m->n++;
	return mt;
}

/* Find or add the series fullname{kv}; a bad name is a bug. */
static struct metric *
metrics_series(struct metrics *m, const char *fullname, const char *const *kv,
    const char *help, enum metric_kind kind)
{
	char *labels = metrics_labels(kv);
	struct metric *mt;

	if (!metrics_valid_name(fullname, 1))
		fatalx("metrics: bad metric name \"%s\"", fullname);
	if ((mt = metrics_find(m, fullname, labels)) != NULL) {
		free(labels);
		if (mt->kind != kind)
			fatalx("metrics: %s registered as two types", fullname);
		return mt;
	}
	return metrics_insert(m, xstrdup(fullname), labels, help, kind);
}

/* Add (or find) a series of name, with the prefix in front. */
static struct metric *
metrics_add(struct metrics *m, const char *name, const char *const *kv,
    const char *help, enum metric_kind kind)
{
	char *full = m->prefix[0] != '\0' ? xasprintf("%s_%s", m->prefix, name) :
	    xstrdup(name);
	struct metric *mt = metrics_series(m, full, kv, help, kind);

	free(full);
	return mt;
}

/* Register a counter and return its cell. */
uint64_t *
metrics_counter(struct metrics *m, const char *name, const char *help)
{
	return &metrics_add(m, name, NULL, help, METRIC_COUNTER)->value;
}

/* The cell of name{label="value"}, registered on first use. */
uint64_t *
metrics_counter_label(struct metrics *m, const char *name, const char *help,
    const char *label, const char *value)
{
	const char *kv[] = { label, value, NULL };

	return &metrics_add(m, name, kv, help, METRIC_COUNTER)->value;
}

/* Gauge callback of metrics_info: always 1. */
static double
metrics_one(void *arg)
{
	(void)arg;
	return 1;
}

/* Register fullname{kv...} 1, a gauge, with no prefix added. */
void
metrics_info(struct metrics *m, const char *fullname, const char *help,
    const char *const *kv)
{
	metrics_series(m, fullname, kv, help, METRIC_GAUGE)->fn = metrics_one;
}

/* Register a gauge read through fn(arg) at scrape time. */
void
metrics_gauge(struct metrics *m, const char *name, const char *help,
    double (*fn)(void *arg), void *arg)
{
	struct metric *mt = metrics_add(m, name, NULL, help, METRIC_GAUGE);

	mt->fn = fn;
	mt->arg = arg;
}

/* HELP text with backslash and newline escaped, as the format asks. */
static void
metrics_put_help(FILE *f, const char *help)
{
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			fputs("\\\\", f);
		else if (*help == '\n')
			fputs("\\n", f);
		else
			fputc(*help, f);
	}
}

/* A sample value: integers exactly, NaN and infinities by name. */
static void
metrics_put_double(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, "%.17g", v);
}

/* One series: HELP and TYPE before the first of its family, then the
 * sample line. */
static void
metrics_put_one(FILE *f, const struct metric *mt, const struct metric *prev)
{
	if (prev == NULL || strcmp(prev->name, mt->name) != 0) {
		fprintf(f, "# HELP %s ", mt->name);
		metrics_put_help(f, mt->help);
		fprintf(f, "\n# TYPE %s %s\n", mt->name,
		    mt->kind == METRIC_COUNTER ? "counter" : "gauge");
	}
	fprintf(f, "%s%s ", mt->name, mt->labels);
	if (mt->kind == METRIC_COUNTER)
		fprintf(f, "%ju", (uintmax_t)mt->value);
	else
		metrics_put_double(f, mt->fn != NULL ? mt->fn(mt->arg) : NAN);
	fputc('\n', f);
}

/* Render the text exposition format into a malloc'd string. */
char *
metrics_render(struct metrics *m, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		fatal("metrics: open_memstream");
	for (i = 0; i < m->n; i++)
		metrics_put_one(f, m->v[i], i > 0 ? m->v[i - 1] : NULL);
	if (fclose(f) != 0)
		fatal("metrics: render");
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* 1 when the request's path is /metrics (any query string allowed). */
static int
metrics_is_path(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	return path != NULL && strcmp(path, METRICS_PATH) == 0;
}

/* Answer one HTTP request: 200 for GET/HEAD /metrics, else 404 or 405. */
static void
metrics_http_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *body;
	size_t len;
	char *text;

	if (!metrics_is_path(req)) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(hdr, "Allow", "GET, HEAD");
		evhttp_send_error(req, HTTP_BADMETHOD, NULL);
		return;
	}
	body = evbuffer_new();
	if (body == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	text = metrics_render(m, &len);
	evbuffer_add(body, text, len);
	free(text);
	evhttp_add_header(hdr, "Content-Type", METRICS_CONTENT_TYPE);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* A listening, non-blocking socket bound to addr; -1 with err. */
static evutil_socket_t
metrics_socket(const struct config_sockaddr *addr, char *err, size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&addr->ss;
	evutil_socket_t fd;
	int one = 1;
	const char *step = "socket";

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	step = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* "[::]" means IPv6 only: bind exactly what was configured */
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	step = "bind";
	if (bind(fd, sa, addr->len) < 0)
		goto fail;
	step = "listen";
	if (listen(fd, 16) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "metrics_listen %s: %s: %s", addr->text, step,
	    strerror(errno));
	if (fd >= 0)
		(void)close(fd);
	return -1;
}

/* Serve GET /metrics on addr (see metrics.h). */
int
metrics_listen(struct metrics *m, struct event_base *base,
    const struct config_sockaddr *addr, char *err, size_t errlen)
{
	evutil_socket_t fd;

	fd = metrics_socket(addr, err, errlen);
	if (fd < 0)
		return -1;
	if (m->http == NULL) {
		m->http = evhttp_new(base);
		if (m->http == NULL) {
			snprintf(err, errlen, "metrics_listen %s: evhttp_new failed",
			    addr->text);
			(void)close(fd);
			return -1;
		}
		evhttp_set_timeout(m->http, 10);
		evhttp_set_max_headers_size(m->http, 8192);
		evhttp_set_max_body_size(m->http, 1024);
		evhttp_set_gencb(m->http, metrics_http_cb, m);
	}
	if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		snprintf(err, errlen, "metrics_listen %s: cannot serve the socket",
		    addr->text);
		(void)close(fd);
		return -1;
	}
	return 0;
}
