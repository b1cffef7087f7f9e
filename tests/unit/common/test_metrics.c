/*
 * Unit tests for common/metrics.c: the Prometheus text format, and the
 * evhttp endpoint on loopback (200 for /metrics, 404 elsewhere, the address
 * bound exactly), driven by an evhttp client on the same event loop.
 */
#include <arpa/inet.h>
#include <check.h>
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

#include "check_main.h"
#include "config.h"
#include "metrics.h"

static double
gauge_value(void *arg)
{
	return *(double *)arg;
}

/* Counters and gauges render as HELP, TYPE and sample lines, in order. */
START_TEST(test_render_format)
{
	struct metrics *m = metrics_new("smtpgate_inbound");
	double g = 2.5;
	uint64_t *c;
	size_t len = 0;
	char *text;

	c = metrics_counter(m, "messages_total", "Messages accepted.");
	metrics_gauge(m, "connections", "Open connections.", gauge_value, &g);
	*c += 42;
	text = metrics_render(m, &len);
	ck_assert_str_eq(text,
	    "# HELP smtpgate_inbound_messages_total Messages accepted.\n"
	    "# TYPE smtpgate_inbound_messages_total counter\n"
	    "smtpgate_inbound_messages_total 42\n"
	    "# HELP smtpgate_inbound_connections Open connections.\n"
	    "# TYPE smtpgate_inbound_connections gauge\n"
	    "smtpgate_inbound_connections 2.5\n");
	ck_assert_uint_eq(len, strlen(text));
	free(text);
	metrics_free(m);
}
END_TEST

/* HELP escapes backslash and newline; special floats are spelled out. */
START_TEST(test_render_escapes_and_specials)
{
	struct metrics *m = metrics_new("p");
	double nan_v = NAN, inf_v = INFINITY, big = 1e6;
	char *text;

	metrics_gauge(m, "a", "line one\nback\\slash", gauge_value, &nan_v);
	metrics_gauge(m, "b", "", gauge_value, &inf_v);
	metrics_gauge(m, "c", "", gauge_value, &big);
	text = metrics_render(m, NULL);
	ck_assert_ptr_nonnull(strstr(text, "# HELP p_a line one\\nback\\\\slash\n"));
	ck_assert_ptr_nonnull(strstr(text, "\np_a NaN\n"));
	ck_assert_ptr_nonnull(strstr(text, "\np_b +Inf\n"));
	ck_assert_ptr_nonnull(strstr(text, "\np_c 1000000\n"));
	free(text);
	metrics_free(m);
}
END_TEST

/* Counter cells stay valid while more metrics are registered. */
START_TEST(test_counter_cells_stable)
{
	struct metrics *m = metrics_new("p");
	uint64_t *first = metrics_counter(m, "first_total", "x");
	char name[32], *text;
	int i;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "c%d_total", i);
		metrics_counter(m, name, "x");
	}
	*first = 7;
	text = metrics_render(m, NULL);
	ck_assert_ptr_nonnull(strstr(text, "\np_first_total 7\n"));
	ck_assert_ptr_nonnull(strstr(text, "\np_c99_total 0\n"));
	free(text);
	metrics_free(m);
}
END_TEST

/* Labelled series: found again by their labels, rendered together under one
 * HELP/TYPE even when registered between others, values escaped. */
START_TEST(test_labels)
{
	struct metrics *m = metrics_new("p");
	uint64_t *a, *b, *a2;
	char *text;

	a = metrics_counter_label(m, "rejections_total", "Refusals.", "reason", "size");
	metrics_counter(m, "other_total", "x");
	b = metrics_counter_label(m, "rejections_total", "Refusals.", "reason", "q\"b\\n\n");
	a2 = metrics_counter_label(m, "rejections_total", "Refusals.", "reason", "size");
	ck_assert_ptr_eq(a, a2);
	ck_assert_ptr_ne(a, b);
	*a = 3;
	*b = 1;
	text = metrics_render(m, NULL);
	ck_assert_str_eq(text,
	    "# HELP p_rejections_total Refusals.\n"
	    "# TYPE p_rejections_total counter\n"
	    "p_rejections_total{reason=\"size\"} 3\n"
	    "p_rejections_total{reason=\"q\\\"b\\\\n\\n\"} 1\n"
	    "# HELP p_other_total x\n"
	    "# TYPE p_other_total counter\n"
	    "p_other_total 0\n");
	free(text);
	metrics_free(m);
}
END_TEST

/* An info gauge: no prefix, several labels, value 1. */
START_TEST(test_info)
{
	struct metrics *m = metrics_new("smtpgate_inbound");
	const char *kv[] = { "program", "smtpgate-inbound", "version", "1.2", NULL };
	char *text;

	metrics_info(m, "smtpgate_build_info", "Build.", kv);
	text = metrics_render(m, NULL);
	ck_assert_str_eq(text,
	    "# HELP smtpgate_build_info Build.\n"
	    "# TYPE smtpgate_build_info gauge\n"
	    "smtpgate_build_info{program=\"smtpgate-inbound\",version=\"1.2\"} 1\n");
	free(text);
	metrics_free(m);
}
END_TEST

/* A bad metric or label name, or one name as two types, is a bug. */
START_TEST(test_bad_name)
{
	struct metrics *m = metrics_new("p");

	metrics_counter(m, "bad-name", "x");
}
END_TEST

START_TEST(test_bad_label)
{
	struct metrics *m = metrics_new("p");

	metrics_counter_label(m, "a_total", "x", "bad-label", "v");
}
END_TEST

START_TEST(test_two_types)
{
	struct metrics *m = metrics_new("p");

	metrics_counter_label(m, "a", "x", "l", "v");
	metrics_gauge(m, "a", "x", gauge_value, NULL);
}
END_TEST

/* A free loopback TCP port. */
static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* config_sockaddr for 127.0.0.1:port. */
static void
loopback_addr(struct config_sockaddr *a, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

	memset(a, 0, sizeof(*a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->len = sizeof(*sin);
	snprintf(a->text, sizeof(a->text), "127.0.0.1:%d", port);
}

struct reply {
	struct event_base *base;
	int code;
	char ctype[128];
	char body[4096];
};

/* Client callback: record status, type and body, stop the loop. */
static void
on_reply(struct evhttp_request *req, void *arg)
{
	struct reply *r = arg;
	const char *ct;
	size_t n;

	if (req != NULL) {
		r->code = evhttp_request_get_response_code(req);
		ct = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Content-Type");
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct != NULL ? ct : "");
		n = evbuffer_remove(evhttp_request_get_input_buffer(req), r->body,
		    sizeof(r->body) - 1);
		r->body[n > 0 ? n : 0] = '\0';
	}
	event_base_loopbreak(r->base);
}

/* GET path from 127.0.0.1:port through base; fills r. */
static void
http_get(struct event_base *base, int port, const char *path, struct reply *r)
{
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	struct timeval tv = { 10, 0 };

	memset(r, 0, sizeof(*r));
	r->base = base;
	r->code = -1;
	conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", (uint16_t)port);
	ck_assert_ptr_nonnull(conn);
	evhttp_connection_set_timeout(conn, 10);
	req = evhttp_request_new(on_reply, r);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "localhost");
	ck_assert_int_eq(evhttp_make_request(conn, req, EVHTTP_REQ_GET, path), 0);
	event_base_loopexit(base, &tv);	/* a hang fails the test, not the run */
	event_base_dispatch(base);
	evhttp_connection_free(conn);
}

/* /metrics answers 200 with the exposition text; other paths 404. */
START_TEST(test_http_endpoint)
{
	struct event_base *base = event_base_new();
	struct metrics *m = metrics_new("smtpgate_outbound");
	struct config_sockaddr addr;
	struct reply r;
	char err[256];
	int port = free_port();

	*metrics_counter(m, "sent_total", "Messages sent.") = 5;
	loopback_addr(&addr, port);
	ck_assert_msg(metrics_listen(m, base, &addr, err, sizeof(err)) == 0, "%s", err);

	http_get(base, port, "/metrics", &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(r.body, "# TYPE smtpgate_outbound_sent_total counter\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\nsmtpgate_outbound_sent_total 5\n"));

	http_get(base, port, "/metrics?x=1", &r);
	ck_assert_int_eq(r.code, 200);
	http_get(base, port, "/", &r);
	ck_assert_int_eq(r.code, 404);
	http_get(base, port, "/metricsx", &r);
	ck_assert_int_eq(r.code, 404);

	metrics_free(m);
	event_base_free(base);
}
END_TEST

/* A busy address is reported with the address and the reason. */
START_TEST(test_listen_busy)
{
	struct event_base *base = event_base_new();
	struct metrics *m = metrics_new("p");
	struct config_sockaddr addr;
	char err[256] = "";
	int port = free_port();

	loopback_addr(&addr, port);
	ck_assert_int_eq(metrics_listen(m, base, &addr, err, sizeof(err)), 0);
	ck_assert_int_eq(metrics_listen(m, base, &addr, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, addr.text));
	ck_assert_ptr_nonnull(strstr(err, "bind"));
	metrics_free(m);
	event_base_free(base);
}
END_TEST

/* Bound only to the configured address: 127.0.0.2 is refused. */
START_TEST(test_listen_exact_address)
{
	struct event_base *base = event_base_new();
	struct metrics *m = metrics_new("p");
	struct config_sockaddr addr;
	struct sockaddr_in other = { .sin_family = AF_INET };
	char err[256];
	int port = free_port(), fd;

	loopback_addr(&addr, port);
	ck_assert_int_eq(metrics_listen(m, base, &addr, err, sizeof(err)), 0);
	other.sin_port = htons((uint16_t)port);
	other.sin_addr.s_addr = inet_addr("127.0.0.2");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&other, sizeof(other)), -1);
	close(fd);
	metrics_free(m);
	event_base_free(base);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_render_format);
	tcase_add_test(tc, test_render_escapes_and_specials);
	tcase_add_test(tc, test_counter_cells_stable);
	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_info);
	tcase_add_exit_test(tc, test_bad_name, 70);
	tcase_add_exit_test(tc, test_bad_label, 70);
	tcase_add_exit_test(tc, test_two_types, 70);
	tcase_add_test(tc, test_http_endpoint);
	tcase_add_test(tc, test_listen_busy);
	tcase_add_test(tc, test_listen_exact_address);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
