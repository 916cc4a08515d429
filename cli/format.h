/*
 * format.h — the human and JSON output the views share (status, ls, show,
 * explain, doctor): sizes ("1.2 GiB"), relative times ("3 h ago"), durations,
 * aligned tables, colour that appears only on a terminal with NO_COLOR unset,
 * and JSON documents (jansson) that carry "schema_version".
 *
 * Pure where it can be: the formatters write into caller buffers and
 * mc_fmt_color_wanted() takes its inputs as arguments, so tests/unit/
 * test_format.c pins them without a terminal.
 */
#ifndef MC_FORMAT_H
#define MC_FORMAT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include "../store/store.h"
#include "../util/mc_util.h"

#define MC_JSON_SCHEMA_VERSION 1

/* "0 B", "512 B", "1.0 KiB", "1.2 GiB" (powers of 1024; negative as 0). */
void mc_fmt_size(char out[32], int64_t bytes);
/* then relative to now: "just now", "42 s ago", "5 min ago", "3 h ago",
 * "2 d ago", "in 3 h" for the future, "never" when then is 0. */
void mc_fmt_ago(char out[32], int64_t then_ms, int64_t now_ms);
/* "850 ms", "12.3 s", "4 min 05 s", "2 h 07 min", "3 d 04 h". */
void mc_fmt_duration(char out[32], int64_t ms);
/* Times are UTC, "2025-11-23 11:22:33Z", "-" when ms is 0: mc_format_utc (util). */

/* Colour is wanted when the stream is a terminal, NO_COLOR is unset or
 * empty (no-color.org) and TERM is not "dumb". */
int mc_fmt_color_wanted(int is_tty, const char *no_color, const char *term);
/* The same decision for a real stream and the process environment. */
int mc_fmt_color(FILE *f);

/* SGR colours for mc_table_cellc and mc_fmt_paint. */
enum mc_color { MC_COLOR_NONE = 0, MC_COLOR_RED, MC_COLOR_GREEN, MC_COLOR_YELLOW, MC_COLOR_BOLD, MC_COLOR_DIM };
/* Writes s to f, wrapped in the colour's escape sequence when color is on. */
void mc_fmt_paint(FILE *f, int color, enum mc_color c, const char *s);

/* Display columns of a UTF-8 string (code points; no wide-character tables). */
size_t mc_fmt_width(const char *s);

/*
 * An aligned table: cells are added row by row, widths are measured at print
 * time, columns are separated by two spaces, the last column is not padded.
 * right: a bitmask of right-aligned columns (numbers, sizes).
 */
struct mc_table {
	size_t ncols;
	unsigned right;
	int color; /* paint cells that have a colour */
	struct mc_strv cells;
	unsigned char *colors; /* parallel to cells */
	size_t colors_cap;
};
void mc_table_init(struct mc_table *t, size_t ncols, unsigned right, int color);
/* Appends one cell (NULL prints as "-"); rows fill left to right. */
void mc_table_cell(struct mc_table *t, const char *s);
void mc_table_cellc(struct mc_table *t, const char *s, enum mc_color c);
void mc_table_cellf(struct mc_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints every complete row; a header row is just the first row (bold when
 * header is 1 and colour is on). */
void mc_table_print(const struct mc_table *t, FILE *f, int header);
void mc_table_release(struct mc_table *t);

/* {"schema_version": 1} — the start of every --json document. */
json_t *mc_json_doc(void);
/* A JSON string (null for NULL); bytes that are not UTF-8 become U+FFFD. */
json_t *mc_json_str(const char *s);
/* A JSON integer, or null when v is 0 (an unset time). */
json_t *mc_json_time(int64_t ms);
/* "K=V\nK2=V2" (the index's canonical build args) as {"K": "V", …}. */
json_t *mc_json_build_args(const char *canonical);
/* Image labels ("name=value", as struct mc_image holds them) as {"name": "value", …}. */
json_t *mc_json_labels(const struct mc_strv *labels);
/* Sets the key's inputs on o, in this order: repo_prefix, ref, commit,
 * dockerfile_path, dockerfile_hash, platform, build_args. The one list that
 * explain's "inputs" and every entry object share (docs/json.md). */
void mc_json_key_inputs(json_t *o, const struct mc_entry *e);
/* One index row as the object ls, show and explain share (docs/json.md,
 * "entry"); latest: whether its runtime's :latest points at it. */
json_t *mc_json_entry(const struct mc_entry *e, int latest);
/* Writes doc (indented, a newline after) to f and releases it. 0 or MC_ERR. */
int mc_json_print(json_t *doc, FILE *f);

/* A key's failed builds for show and explain: "failed N times, next try
 * after T" (or "…, the next ensure tries again" once the wait is over);
 * malloc'd. The JSON object (docs/json.md, "failure"), or null when f->count is 0. */
char *mc_fmt_failure(const struct mc_failure *f, int64_t now_ms);
json_t *mc_json_failure(const struct mc_failure *f);

#endif
