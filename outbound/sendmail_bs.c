/*
 * sendmail_bs: the descriptor loop of `smtpgate-sendmail -bs` (see
 * sendmail_bs.h).  The replies of everything read so far are written
 * before the next read blocks, which is what PIPELINING needs; a complete
 * message is dropped (put) before its reply is queued, so a "250" is only
 * written once the file is durable in maildrop/.
 *
 * Must not know: the message format, the spool, ids.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "fsutil.h"
#include "sendmail_bs.h"

#define BS_READ_SIZE	65536
#define PROG		"smtpgate-sendmail"

/* Write all queued replies; 0, or -1 after a message on stderr. */
static int
bs_flush(struct submit_bs *s, int out)
{
	size_t len;
	const char *p = submit_bs_output(s, &len);

	if (fsutil_write_all(out, p, len) == -1) {
		fprintf(stderr, PROG ": -bs: writing the replies: %s\n", strerror(errno));
		return -1;
	}
	submit_bs_output_clear(s);
	return 0;
}

/*
 * Wait for input (at most SENDMAIL_BS_TIMEOUT_MS) and read it after the
 * carried-over bytes.  Returns the bytes read, 0 at the end, -1 on an
 * error, -2 on the timeout.
 */
static ssize_t
bs_read(int in, char *buf, size_t room)
{
	struct pollfd pfd = { .fd = in, .events = POLLIN };

	for (;;) {
		int r = poll(&pfd, 1, SENDMAIL_BS_TIMEOUT_MS);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -2;
		n = read(in, buf, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n;
	}
}

/*
 * Feed buf[0..*len) to the session, dropping each complete message with
 * put; the unused rest (part of a command line) is moved to the front.
 * Returns SUBMIT_BS_CLOSE at the end of the session, else SUBMIT_BS_MORE.
 */
static enum submit_bs_event
bs_feed_all(struct submit_bs *s, char *buf, size_t *len, sendmail_bs_put_fn put, void *arg)
{
	size_t off = 0;

	for (;;) {
		char reply[1024];
		size_t used;
		enum submit_bs_event ev = submit_bs_feed(s, buf + off, *len - off, &used);

		off += used;
		if (ev == SUBMIT_BS_CLOSE)
			return ev;
		if (ev == SUBMIT_BS_MORE)
			break;
		put(arg, s, reply, sizeof(reply));
		submit_bs_done(s, reply);
	}
	memmove(buf, buf + off, *len - off);
	*len -= off;
	return SUBMIT_BS_MORE;
}

/* Run one session (see sendmail_bs.h). */
int
sendmail_bs_run(int in, int out, const struct submit_bs_params *p,
    sendmail_bs_put_fn put, void *arg)
{
	static char buf[SUBMIT_BS_MAX_LINE + BS_READ_SIZE];
	struct submit_bs *s = submit_bs_new(p);
	size_t len = 0;
	int rc = EX_OK;

	submit_bs_greet(s);
	for (;;) {
		ssize_t n;

		if (bs_flush(s, out) < 0) {
			rc = EX_IOERR;
			break;
		}
		n = bs_read(in, buf + len, sizeof(buf) - len);
		if (n == -2) {
			submit_bs_timeout(s);
			(void)bs_flush(s, out);
			fprintf(stderr, PROG ": -bs: no input for %d s, session ended\n",
			    SENDMAIL_BS_TIMEOUT_MS / 1000);
			rc = EX_PROTOCOL;
			break;
		}
		if (n < 0) {
			fprintf(stderr, PROG ": -bs: reading the input: %s\n", strerror(errno));
			rc = EX_IOERR;
			break;
		}
		if (n == 0) {
			if (submit_bs_in_data(s)) {
				fprintf(stderr, PROG ": -bs: the input ended inside DATA; that "
				    "message was not queued\n");
				rc = EX_PROTOCOL;
			}
			break;
		}
		len += (size_t)n;
		if (bs_feed_all(s, buf, &len, put, arg) == SUBMIT_BS_CLOSE) {
			rc = bs_flush(s, out) < 0 ? EX_IOERR : EX_OK;
			break;
		}
	}
	submit_bs_free(s);
	return rc;
}
