/* t.h — the unit-test harness: CHECK macros that count failures, and a main helper. */
#ifndef MC_T_H
#define MC_T_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures, t_checks;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		t_checks++;                                                                  \
		if (!(cond)) {                                                               \
			t_failures++;                                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                                      \
	do {                                                                                 \
		const char *t_a = (a), *t_b = (b);                                           \
		t_checks++;                                                                  \
		if (!t_a || !t_b || strcmp(t_a, t_b)) {                                      \
			t_failures++;                                                        \
			fprintf(stderr, "%s:%d: %s == %s failed:\n  got  \"%s\"\n  want \"%s\"\n", \
				__FILE__, __LINE__, #a, #b, t_a ? t_a : "(null)", t_b ? t_b : "(null)"); \
		}                                                                            \
	} while (0)

#define CHECK_INT(a, b)                                                                      \
	do {                                                                                 \
		long long t_a = (long long)(a), t_b = (long long)(b);                         \
		t_checks++;                                                                  \
		if (t_a != t_b) {                                                            \
			t_failures++;                                                        \
			fprintf(stderr, "%s:%d: %s == %s failed: got %lld want %lld\n", __FILE__, \
				__LINE__, #a, #b, t_a, t_b);                                 \
		}                                                                            \
	} while (0)

/* Ends main: prints "N passed, N failed" for the run and returns the status. */
static inline int t_done(void)
{
	printf("%d passed, %d failed\n", t_checks - t_failures, t_failures);
	return t_failures ? 1 : 0;
}
#endif
