/* What the item_*.c files share: paths, number parts, checks. Not public. */
#ifndef STREAMER_ITEM_INT_H
#define STREAMER_ITEM_INT_H

#include "item.h"

/* ---- item.c ------------------------------------------------------------ */

/* Returns {type: value}, taking ownership of `value`. Never NULL. */
cJSON *item_wrap(const char *type, cJSON *value);

/* ---- item_path.c: where a walk is, for error messages ------------------- */

/* Longest path kept for error messages; longer ones are cut. */
#define ITEM_PATH_BYTES 256

/* Segments an item_path records: an attribute, ITEM_MAX_DEPTH M/L levels
 * and a set element, with room to spare. Deeper segments are counted but
 * not shown (no walk goes there: the depth checks stop it first). */
#define ITEM_PATH_SEGMENTS 40

/*
 * Where the walk is, e.g. "payload.items[2]". Pushing costs next to
 * nothing: a segment keeps only a borrowed name or an index, and the
 * text is made when an error is reported (item_path_invalid()), cut (not
 * overrun) at ITEM_PATH_BYTES - 1 bytes. The root and the names are
 * borrowed: they must outlive their segments.
 */
struct item_path {
    const char *root;
    size_t depth;
    struct item_path_segment {
        const char *name; /* ".name" ("name" at an empty start), or */
        size_t index;     /* "[index]" when name is NULL */
    } seg[ITEM_PATH_SEGMENTS];
};

/* Starts at `root` ("value" when NULL). Cannot fail. */
void item_path_init(struct item_path *p, const char *root);

/* Appends "[index]"; returns the mark item_path_pop() restores. */
size_t item_path_push_index(struct item_path *p, size_t index);

/* Appends ".name" (or "name" at the root); returns the mark. */
size_t item_path_push_name(struct item_path *p, const char *name);

/* Cuts the path back to `mark`, a value item_path_push*() returned. */
void item_path_pop(struct item_path *p, size_t mark);

/*
 * Returns RESULT_INVALID_INPUT with the path in err->field ("item" when
 * empty) and "<path>: <message>" as the message.
 */
enum result item_path_invalid(struct error_info *err, const struct item_path *p,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- item_number.c: DynamoDB numbers taken apart ------------------------ */

/* Room for any valid number as JSON text (see item_number_raw()). */
#define ITEM_NUMBER_TEXT_BYTES 64

/*
 * A DynamoDB number taken apart: value = (-1)^negative * d.ddd * 10^exponent
 * where d.ddd are `digits` without leading or trailing zeros. Zero has no
 * digits and is never negative, so equal values have equal structs.
 */
struct item_number {
    bool negative;
    size_t ndigits;
    char digits[ITEM_MAX_NUMBER_DIGITS + 1];
    long long exponent;
};

enum item_number_status {
    ITEM_NUMBER_OK,
    ITEM_NUMBER_SYNTAX,
    ITEM_NUMBER_DIGITS,
    ITEM_NUMBER_RANGE
};

/* Parses `text` into `*n` (always written); says what is wrong, if any. */
enum item_number_status item_number_parse(const char *text,
                                          struct item_number *n);

/* The problem a status names, as the end of a sentence ("is not ..."). */
const char *item_number_problem(enum item_number_status s);

/* A qsort comparator of struct item_number: 0 exactly for equal values. */
int item_number_cmp(const void *a, const void *b);

/*
 * Prints a double as N text into `out` (`cap` bytes): integers up to 2^53
 * exactly, others as the shortest %g text that reads back as the same
 * double. False for NaN/Inf (`out` then untouched).
 */
bool item_number_from_double(double v, char *out, size_t cap);

/* A new Raw node printing `text` (a valid DynamoDB number) as JSON number
 * text; the caller owns it. Never NULL. */
cJSON *item_number_raw(const char *text);

/* ---- item_valid.c: the checks of item_validate() ------------------------ */

/* The name check for top-level attributes and (top_level false) map keys;
 * RESULT_INVALID_INPUT at `p`. */
enum result item_valid_name(const char *name, bool top_level,
                            const struct item_path *p,
                            struct error_info *err) WARN_UNUSED;

/* Checks one scalar of kind 'S', 'N' or 'B' (also set elements). */
enum result item_valid_scalar(char kind, const cJSON *v,
                              const struct item_path *p,
                              struct error_info *err) WARN_UNUSED;

/* Checks that the `n` valid set values `texts` of kind 'S', 'N' or 'B'
 * are unique; sorts `texts`. */
enum result item_valid_unique(char kind, const char **texts, size_t n,
                              const struct item_path *p,
                              struct error_info *err) WARN_UNUSED;

/* Returns a member name of `object` used twice (borrowed), or NULL. */
const char *item_valid_duplicate_name(const cJSON *object);

#endif
