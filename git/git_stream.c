/* git_stream.c — the socket under every git:// and http(s):// remote, with a connect timeout and an idle timeout. */
#include "git.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/stream.h>

/*
 * libgit2 1.5 has no timeouts (GIT_OPT_SET_SERVER_TIMEOUT came in 1.7): a
 * remote that accepts and never answers blocks recv() forever. Registered as
 * GIT_STREAM_STANDARD, this stream is what git://, http:// and, beneath
 * libgit2's TLS layer, https:// read and write through. Every wait is a
 * poll() bounded by the connect or the idle timeout.
 */
static int connect_ms = MC_GIT_CONNECT_TIMEOUT_MS;
static int idle_ms = MC_GIT_IDLE_TIMEOUT_MS;
static int timed_out;
/* host and port of the last connection made, the one whose server libgit2's
 * next credentials callback answers (libgit2 1.5 passes that callback the
 * remote's URL, not a redirect's target) */
static char peer_host[256], peer_port[16];

struct tstream {
	git_stream parent;
	char *host, *port;
	int fd;
};

void mc_git_set_timeouts(int connect_timeout_ms, int idle_timeout_ms)
{
	connect_ms = connect_timeout_ms > 0 ? connect_timeout_ms : MC_GIT_CONNECT_TIMEOUT_MS;
	idle_ms = idle_timeout_ms > 0 ? idle_timeout_ms : MC_GIT_IDLE_TIMEOUT_MS;
}

int mc_git_timed_out(void) { return timed_out; }

void mc_git_stream_peer(const char **host, const char **port)
{
	*host = peer_host;
	*port = peer_port;
}

static void fmt_secs(char out[32], int ms)
{
	if (ms % 1000)
		snprintf(out, 32, "%d ms", ms);
	else
		snprintf(out, 32, "%d s", ms / 1000);
}

/* Waits for events on fd for up to ms. 0 ready; -1 with libgit2's error set. */
static int wait_fd(struct tstream *s, short events, int ms, const char *what)
{
	struct pollfd p = { .fd = s->fd, .events = events };
	char secs[32], msg[256];
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return 0;
	fmt_secs(secs, ms);
	if (n == 0) {
		timed_out = 1;
		snprintf(msg, sizeof(msg), "%s %s:%s: no answer after %s", what, s->host, s->port, secs);
	} else {
		snprintf(msg, sizeof(msg), "%s %s:%s: %s", what, s->host, s->port, strerror(errno));
	}
	git_error_set_str(GIT_ERROR_NET, msg);
	return -1;
}

static int net_error(const char *what, struct tstream *s, int err)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "%s %s:%s: %s", what, s->host, s->port, strerror(err));
	git_error_set_str(GIT_ERROR_NET, msg);
	return -1;
}

/* One address: a non-blocking connect bounded by the connect timeout. */
static int connect_one(struct tstream *s, const struct addrinfo *ai)
{
	int err = 0;
	socklen_t len = sizeof(err);

	s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (s->fd < 0)
		return net_error("socket for", s, errno);
	if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return net_error("connect to", s, errno);
	if (wait_fd(s, POLLOUT, connect_ms, "connect to"))
		return -1;
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		return net_error("connect to", s, err ? err : errno);
	return 0;
}

static int ts_connect(git_stream *stream)
{
	struct tstream *s = (struct tstream *)stream;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *res = NULL, *ai;
	char msg[256];
	int rc;

	if ((rc = getaddrinfo(s->host, s->port, &hints, &res))) {
		snprintf(msg, sizeof(msg), "cannot resolve %s: %s", s->host, gai_strerror(rc));
		git_error_set_str(GIT_ERROR_NET, msg);
		return -1;
	}
	rc = -1;
	/* named before connecting: a failed connection is no credentials' target either */
	snprintf(peer_host, sizeof(peer_host), "%s", s->host);
	snprintf(peer_port, sizeof(peer_port), "%s", s->port);
	for (ai = res; ai && rc; ai = ai->ai_next) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		rc = connect_one(s, ai);
	}
	freeaddrinfo(res);
	return rc;
}

static ssize_t ts_read(git_stream *stream, void *data, size_t len)
{
	struct tstream *s = (struct tstream *)stream;
	ssize_t n;

	for (;;) {
		if (wait_fd(s, POLLIN, idle_ms, "read from"))
			return -1;
		n = recv(s->fd, data, len, 0);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN)
			return net_error("read from", s, errno);
	}
}

static ssize_t ts_write(git_stream *stream, const char *data, size_t len, int flags)
{
	struct tstream *s = (struct tstream *)stream;
	size_t off = 0;

	(void)flags;
	while (off < len) {
		if (wait_fd(s, POLLOUT, idle_ms, "write to"))
			return -1;
		ssize_t n = send(s->fd, data + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return net_error("write to", s, errno);
		if (n > 0)
			off += (size_t)n;
	}
	return (ssize_t)off;
}

static int ts_close(git_stream *stream)
{
	struct tstream *s = (struct tstream *)stream;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	return 0;
}

static void ts_free(git_stream *stream)
{
	struct tstream *s = (struct tstream *)stream;
	if (!s)
		return;
	ts_close(stream);
	free(s->host);
	free(s->port);
	free(s);
}

static int ts_init(git_stream **out, const char *host, const char *port)
{
	struct tstream *s = calloc(1, sizeof(*s));

	if (!s) {
		git_error_set_oom();
		return -1;
	}
	s->parent.version = GIT_STREAM_VERSION;
	s->parent.connect = ts_connect;
	s->parent.read = ts_read;
	s->parent.write = ts_write;
	s->parent.close = ts_close;
	s->parent.free = ts_free;
	s->fd = -1;
	s->host = strdup(host);
	s->port = strdup(port);
	if (!s->host || !s->port) {
		ts_free(&s->parent);
		git_error_set_oom();
		return -1;
	}
	*out = &s->parent;
	return 0;
}

int mc_git_stream_register(void)
{
	git_stream_registration reg = { .version = GIT_STREAM_VERSION, .init = ts_init };

	if (git_stream_register(GIT_STREAM_STANDARD, &reg) < 0) {
		const git_error *e = git_error_last();
		return mc_error_set(MC_ERR, "libgit2: cannot register the socket stream: %s",
				    e && e->message ? e->message : "unknown error");
	}
	return 0;
}
