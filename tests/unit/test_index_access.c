/* test_index_access.c — the index when it is not simply ours to write: read-only opens, what counts as damage, a busy writer, lease release, the root lock. */
#include "store/store.h"
#include "t.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[4096];

static char *tmp_file(const char *name) { return mc_asprintf("%s/%s", tmp, name); }

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

static void key_of(char out[65], char c)
{
	memset(out, c, 64);
	out[64] = 0;
}

/* A fresh index at name with one ready row of key 'a…a'. */
static char *made_index(const char *name)
{
	char *path = tmp_file(name);
	struct mc_index *ix = NULL;
	struct mc_entry e = { 0 };
	char key[65];

	key_of(key, 'a');
	e.key = key;
	e.runtime = "codex";
	e.image_tag = "molcache/codex:aaaaaaaaaaaa";
	e.state = MC_STATE_READY;
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_put(ix, &e), 0);
	mc_index_free(ix);
	return path;
}

static void test_open_readonly(void)
{
	char *path = made_index("ro.db"), *missing = tmp_file("missing.db");
	struct mc_index *ix = NULL;
	struct mc_entry e = { 0 };
	char key[65];

	key_of(key, 'a');
	CHECK_INT(mc_index_open_readonly(&ix, path), 0);
	CHECK_INT(mc_index_get(ix, &e, key), 0);
	CHECK_STR(e.runtime, "codex");
	mc_entry_release(&e);
	/* it reads, never writes */
	CHECK(mc_index_counter_add(ix, "hits", 1) < 0);
	mc_index_free(ix);

	/* nothing there: not made (the views then create it the writable way) */
	CHECK_INT(mc_index_open_readonly(&ix, missing), MC_ENOTFOUND);
	CHECK(ix == NULL);
	CHECK(access(missing, F_OK) != 0);

	/* an older schema needs the migrations only a writable open runs */
	raw_exec(path, "PRAGMA user_version = 4");
	CHECK_INT(mc_index_open_readonly(&ix, path), MC_ENOTFOUND);
	CHECK(strstr(mc_error_msg(), "schema version 4") != NULL);
	/* a newer one is refused as by mc_index_open */
	raw_exec(path, "PRAGMA user_version = 99");
	CHECK_INT(mc_index_open_readonly(&ix, path), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "newer") != NULL);
	free(path);
	free(missing);
}

/* A path with the bytes a URI gives meaning to still opens (the immutable fallback builds a URI). */
static void test_open_readonly_odd_path(void)
{
	char *path = made_index("odd?#%.db");
	struct mc_index *ix = NULL;

	CHECK_INT(mc_index_open_readonly(&ix, path), 0);
	mc_index_free(ix);
	free(path);
}

/* Drops path's -wal and -shm, so what is written to the main file is all there is. */
static void drop_wal(const char *path)
{
	char *wal = mc_asprintf("%s-wal", path), *shm = mc_asprintf("%s-shm", path);
	unlink(wal);
	unlink(shm);
	free(wal);
	free(shm);
}

static void test_damage(void)
{
	char *path = made_index("damage.db"), *missing = tmp_file("nothing.db");
	static const char words[] = "this is not an sqlite file, only words that fill the first page of it";
	int fd;

	/* sound, whatever its schema: a newer one is not damage */
	CHECK_INT(mc_index_damaged(path), 0);
	raw_exec(path, "PRAGMA user_version = 99");
	CHECK_INT(mc_index_damaged(path), 0);
	/* not a database: damage, and the message says what SQLite found */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	for (int i = 0; i < 100; i++)
		CHECK(write(fd, words, sizeof(words)) == (ssize_t)sizeof(words));
	close(fd);
	drop_wal(path);
	CHECK_INT(mc_index_damaged(path), 1);
	CHECK(strstr(mc_error_msg(), "not a database") != NULL);
	/* a file that cannot be opened at all is not damage either */
	CHECK(mc_index_damaged(missing) < 0);
	free(path);
	free(missing);
}

/* Another process holds BEGIN IMMEDIATE: a write here times out as MC_ELOCKED
 * saying the index is busy, while reading, and the damage probe, still work. */
static void test_busy(void)
{
	char *path = made_index("busy.db");
	struct mc_index *ix = NULL;
	int ready[2], stop[2];
	char c = 0;
	pid_t pid;

	CHECK(pipe(ready) == 0 && pipe(stop) == 0);
	pid = fork();
	if (pid == 0) {
		sqlite3 *db = NULL;
		int ok = sqlite3_open(path, &db) == SQLITE_OK &&
			 sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
		if (write(ready[1], ok ? "y" : "n", 1) != 1 || read(stop[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	CHECK(read(ready[0], &c, 1) == 1 && c == 'y');
	CHECK_INT(mc_index_open(&ix, path), 0);
	mc_index_busy_wait(ix, 100);
	CHECK_INT(mc_index_counter_add(ix, "hits", 1), MC_ELOCKED);
	CHECK(!strncmp(mc_error_msg(), "index '", 7) && strstr(mc_error_msg(), "' is busy: ") != NULL);
	CHECK(strstr(mc_error_hint_msg(), "try again") != NULL);
	CHECK_INT(mc_index_damaged(path), 0);
	mc_index_free(ix);
	CHECK_INT(mc_index_open_readonly(&ix, path), 0);
	mc_index_free(ix);
	CHECK(write(stop[1], "x", 1) == 1);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	close(stop[0]);
	close(stop[1]);
	free(path);
}

static void test_lease_delete(void)
{
	char *path = made_index("lease.db");
	struct mc_index *ix = NULL;
	int64_t until = -1;
	char key[65], other[65];

	key_of(key, 'a');
	key_of(other, 'b');
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_lease_put(ix, key, 5000), 0);
	CHECK_INT(mc_index_lease_put(ix, other, 5000), 0);
	CHECK_INT(mc_index_lease_delete(ix, key), 0);
	CHECK_INT(mc_index_lease_get(ix, key, &until), 0);
	CHECK_INT(until, 0);
	CHECK_INT(mc_index_lease_get(ix, other, &until), 0);
	CHECK_INT(until, 5000);
	/* twice: nothing to release */
	CHECK_INT(mc_index_lease_delete(ix, key), MC_ENOTFOUND);
	mc_index_free(ix);
	free(path);
}

/* The root lock is one file under locks/; shared holders coexist, an exclusive taker waits them out. */
static void test_root_lock(void)
{
	struct mc_paths p = { 0 };
	struct mc_lock a = MC_LOCK_INIT, b = MC_LOCK_INIT, x = MC_LOCK_INIT;
	char *path;

	p.locks = mc_strdup(tmp);
	path = mc_lock_path_root(&p);
	CHECK(strlen(path) > 10 && !strcmp(path + strlen(path) - 10, "/root.lock"));
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_SHARED, 0), 0);
	CHECK_INT(mc_lock_take(&b, path, MC_LOCK_SHARED, 0), 0);
	CHECK_INT(mc_lock_take(&x, path, MC_LOCK_EXCLUSIVE, 50), MC_ELOCKED);
	mc_lock_release(&a);
	mc_lock_release(&b);
	CHECK_INT(mc_lock_take(&x, path, MC_LOCK_EXCLUSIVE, 0), 0);
	CHECK_INT(mc_lock_take(&a, path, MC_LOCK_SHARED, 0), MC_ELOCKED);
	mc_lock_release(&x);
	free(path);
	free(p.locks);
}

int main(void)
{
	const char *base = getenv("MC_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mc_mkdir_p(base, 0700);
	snprintf(tmp, sizeof(tmp), "%s/index-access-XXXXXX", base);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	test_open_readonly();
	test_open_readonly_odd_path();
	test_damage();
	test_busy();
	test_lease_delete();
	test_root_lock();
	CHECK_INT(mc_rm_rf(tmp), 0);
	return t_done();
}
