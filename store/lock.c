/* lock.c — per-key flock(2) locks with a timeout; the kernel frees them when a holder dies. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int flock_eintr(int fd, int op)
{
	int r;
	while ((r = flock(fd, op)) && errno == EINTR)
		;
	return r;
}

int mc_lock_take(struct mc_lock *out, const char *path, enum mc_lock_mode mode, int timeout_ms)
{
	int op = mode == MC_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH;
	int fd = -1, ret = 0;

	out->fd = -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		char *what = mc_asprintf("lock '%s'", path);
		ret = mc_error_errno(what);
		free(what);
		goto done;
	}

	if (timeout_ms < 0) {
		if (flock_eintr(fd, op)) {
			ret = mc_error_set(MC_ERR, "lock '%s': %s", path, strerror(errno));
			goto done;
		}
	} else {
		/* flock has no timeout of its own; poll, starting fast because most
		 * holders (a cache hit) let go within milliseconds. */
		int64_t deadline = mc_mono_ms() + timeout_ms;
		int64_t nap = 10;
		for (;;) {
			if (flock_eintr(fd, op | LOCK_NB) == 0)
				break;
			if (errno != EWOULDBLOCK) {
				ret = mc_error_set(MC_ERR, "lock '%s': %s", path, strerror(errno));
				goto done;
			}
			int64_t left = deadline - mc_mono_ms();
			if ((ret = mc_interrupt_check())) /* SIGINT/SIGTERM: stop waiting */
				goto done;
			if (left <= 0) {
				ret = mc_error_set(MC_ELOCKED, "lock '%s': held by another process", path);
				goto done;
			}
			sleep_ms(nap < left ? nap : left);
			if (nap < 50)
				nap += 10;
		}
	}
	out->fd = fd;
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	return ret;
}

int mc_lock_busy(const char *path)
{
	int ret = 0;
	/* A fresh open file description: flock conflicts with every other one,
	 * including those of this process. No O_CREAT: a missing file has no holder. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT) {
			char *what = mc_asprintf("lock '%s'", path);
			ret = mc_error_errno(what);
			free(what);
		}
		goto done;
	}
	if (flock_eintr(fd, LOCK_EX | LOCK_NB) == 0)
		flock(fd, LOCK_UN);
	else if (errno == EWOULDBLOCK)
		ret = 1;
	else
		ret = mc_error_set(MC_ERR, "lock '%s': %s", path, strerror(errno));
done:
	if (fd >= 0)
		close(fd);
	return ret;
}

void mc_lock_release(struct mc_lock *l)
{
	if (!l || l->fd < 0)
		return;
	/* Closing the only descriptor of the open file description drops the lock. */
	close(l->fd);
	l->fd = -1;
}

char *mc_lock_path_key(const struct mc_paths *p, const char *key)
{
	return mc_asprintf("%s/%s.lock", p->locks, key);
}

char *mc_lock_path_repo(const struct mc_paths *p, const char *url_hash)
{
	return mc_asprintf("%s/repo-%s.lock", p->locks, url_hash);
}

char *mc_lock_path_root(const struct mc_paths *p)
{
	return mc_asprintf("%s/root.lock", p->locks);
}

char *mc_lock_path_gc(const struct mc_paths *p)
{
	return mc_asprintf("%s/gc.lock", p->locks);
}
