/* test_lock.c — flock key locks: modes, timeouts, busy probe, and release when the holder is SIGKILLed. */
#include "store/store.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[4096];

/*
 * Forks a child that takes path in mode, writes one byte to tell the parent it
 * holds it, then holds it for hold_ms (or until killed when hold_ms < 0).
 * Returns the child's pid once it holds the lock.
 */
static pid_t hold_in_child(const char *path, enum mc_lock_mode mode, int hold_ms)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		struct mc_lock l = MC_LOCK_INIT;
		close(fds[0]);
		if (mc_lock_take(&l, path, mode, 0))
			_exit(2);
		if (write(fds[1], "x", 1) != 1)
			_exit(3);
		if (hold_ms < 0)
			for (;;)
				pause();
		usleep((useconds_t)hold_ms * 1000);
		_exit(0);
	}
	close(fds[1]);
	char c;
	ssize_t n = pid > 0 ? read(fds[0], &c, 1) : -1;
	close(fds[0]);
	return n == 1 ? pid : -1;
}

static int reap(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static void test_modes(const char *path)
{
	struct mc_lock a = MC_LOCK_INIT, b = MC_LOCK_INIT, c = MC_LOCK_INIT;

	/* Missing file: nobody holds it, and the probe does not create it. */
	CHECK_INT(mc_lock_busy(path), 0);
	CHECK(access(path, F_OK) != 0);

	/* shared + shared coexist (separate open() → separate lock owners). */
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_SHARED, 0), 0);
	CHECK(a.fd >= 0);
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_SHARED, 0), 0);
	CHECK(b.fd >= 0);
	CHECK_INT(mc_lock_busy(path), 1);
	/* Exclusive excludes shared holders. */
	CHECK_INT(mc_lock_take(&c, path, MC_LOCK_EXCLUSIVE, 0), MC_ELOCKED);
	CHECK_INT(c.fd, -1);
	CHECK(strstr(mc_error_msg(), path) != NULL);
	mc_lock_release(&a);
	CHECK_INT(a.fd, -1);
	CHECK_INT(mc_lock_take(&c, path, MC_LOCK_EXCLUSIVE, 0), MC_ELOCKED);
	mc_lock_release(&b);
	CHECK_INT(mc_lock_busy(path), 0);

	/* Exclusive excludes both modes. */
	CHECK_INT(mc_lock_take(&c, path, MC_LOCK_EXCLUSIVE, 0), 0);
	CHECK_INT(mc_lock_busy(path), 1);
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_SHARED, 0), MC_ELOCKED);
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_EXCLUSIVE, 0), MC_ELOCKED);
	CHECK_INT(a.fd, -1);
	/* The probe did not steal or drop it. */
	CHECK_INT(mc_lock_busy(path), 1);
	mc_lock_release(&c);
	mc_lock_release(&c); /* twice is fine */
	mc_lock_release(NULL);
	CHECK_INT(mc_lock_busy(path), 0);

	/* Created 0600 and close-on-exec. */
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_SHARED, -1), 0);
	CHECK(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
	mc_lock_release(&a);

	/* Another process sees the same conflicts. */
	pid_t pid = hold_in_child(path, MC_LOCK_SHARED, -1);
	CHECK(pid > 0);
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_SHARED, 0), 0);
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_EXCLUSIVE, 0), MC_ELOCKED);
	mc_lock_release(&a);
	kill(pid, SIGKILL);
	reap(pid);
}

static void test_timeout(const char *path)
{
	struct mc_lock a = MC_LOCK_INIT, b = MC_LOCK_INIT;

	/* Times out within bounds while held. */
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_EXCLUSIVE, 0), 0);
	int64_t t0 = mc_mono_ms();
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_SHARED, 200), MC_ELOCKED);
	int64_t took = mc_mono_ms() - t0;
	printf("timeout 200 ms took %lld ms\n", (long long)took);
	CHECK(took >= 200 && took < 1500);
	CHECK_INT(b.fd, -1);
	mc_lock_release(&a);

	/* Timeout 0 means one try: no wait. */
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_EXCLUSIVE, 0), 0);
	t0 = mc_mono_ms();
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_EXCLUSIVE, 0), MC_ELOCKED);
	CHECK(mc_mono_ms() - t0 < 100);
	mc_lock_release(&a);

	/* Waiting with a timeout gets it once the holder lets go. */
	pid_t pid = hold_in_child(path, MC_LOCK_EXCLUSIVE, 300);
	CHECK(pid > 0);
	t0 = mc_mono_ms();
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_EXCLUSIVE, 10000), 0);
	took = mc_mono_ms() - t0;
	printf("waited %lld ms for a 300 ms holder (timeout)\n", (long long)took);
	CHECK(took >= 100 && took < 5000);
	CHECK(WIFEXITED(reap(pid)));
	mc_lock_release(&b);

	/* Blocking (< 0) waits as long as it takes. */
	pid = hold_in_child(path, MC_LOCK_EXCLUSIVE, 300);
	CHECK(pid > 0);
	t0 = mc_mono_ms();
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_SHARED, -1), 0);
	took = mc_mono_ms() - t0;
	printf("waited %lld ms for a 300 ms holder (blocking)\n", (long long)took);
	CHECK(took >= 100);
	reap(pid);
	mc_lock_release(&b);
}

static void test_killed_holder(const char *path)
{
	struct mc_lock a = MC_LOCK_INIT;
	pid_t pid = hold_in_child(path, MC_LOCK_EXCLUSIVE, -1);
	CHECK(pid > 0);
	CHECK_INT(mc_lock_busy(path), 1);
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_SHARED, 50), MC_ELOCKED);
	CHECK_INT(kill(pid, SIGKILL), 0);
	int st = reap(pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* The kernel dropped the dead holder's lock: nothing stale to break. */
	CHECK_INT(mc_lock_busy(path), 0);
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_EXCLUSIVE, 0), 0);
	mc_lock_release(&a);
}

static void test_errors(void)
{
	struct mc_lock a = MC_LOCK_INIT;
	char *path = mc_asprintf("%s/no/such/dir/x.lock", tmp);
	int r = mc_lock_take(&a, path, MC_LOCK_EXCLUSIVE, 0);
	CHECK(r < 0 && r != MC_ELOCKED);
	CHECK_INT(a.fd, -1);
	CHECK(strstr(mc_error_msg(), path) != NULL);
	CHECK(strstr(mc_error_msg(), "No such file") != NULL);
	CHECK_INT(mc_lock_busy(path), 0);
	free(path);

	struct mc_paths p = { .locks = "/var/cache/x/locks" };
	char *k = mc_lock_path_key(&p, "abc123");
	CHECK_STR(k, "/var/cache/x/locks/abc123.lock");
	free(k);
}

int main(void)
{
	const char *base = getenv("MC_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mc_mkdir_p(base, 0700);
	snprintf(tmp, sizeof(tmp), "%s/lock-XXXXXX", base);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	char *path = mc_asprintf("%s/k.lock", tmp);

	test_modes(path);
	test_timeout(path);
	test_killed_holder(path);
	test_errors();

	free(path);
	CHECK_INT(mc_rm_rf(tmp), 0);
	return t_done();
}
