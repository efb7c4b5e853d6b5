/* DynamoDB items: AttributeValue JSON, conversion, validation, sizes. */
#ifndef STREAMER_ITEM_H
#define STREAMER_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "result.h"

/*
 * Vocabulary. An AttributeValue ("AV") is a cJSON object with exactly one
 * type key, as in the DynamoDB API Reference ("AttributeValue"):
 * {"S":"x"}, {"N":"12.5"}, {"B":"<base64>"}, {"BOOL":true}, {"NULL":true},
 * {"M":{name: AV, ...}}, {"L":[AV, ...]}, {"SS":[...]}, {"NS":[...]},
 * {"BS":[...]}. An item is a cJSON object of attribute name -> AV, the shape
 * of PutItem's "Item" and GetItem's answer. "Plain JSON" is an ordinary
 * cJSON tree such as a client's payload.
 *
 * Numbers. DynamoDB sends and receives numbers as decimal text ("N" is a
 * JSON string), and that text is kept, never passed through a double:
 * - item_av_n() and item_set_n() store the caller's text as given (after
 *   checking it); item_av_i64() prints the integer exactly.
 * - Plain JSON -> AV: a cJSON number (a double) becomes N text printed
 *   exactly when it is integral and |v| <= 2^53, else the shortest text
 *   that reads back as the same double. A cJSON Raw node holding a number
 *   is taken as that number's text, unchanged, so exact values survive.
 *   Integers above 2^53 that arrive as cJSON numbers were already rounded
 *   by cJSON's parser; they cannot be recovered here.
 * - AV -> plain JSON: every N (and every NS element) becomes a cJSON Raw
 *   node (cJSON_IsRaw(), not cJSON_IsNumber()) whose valuestring is the N
 *   text, so "12345678901234567890" prints back byte for byte. Text that
 *   DynamoDB accepts but JSON does not ("+5", ".5", "007") is rewritten to
 *   an equal JSON number. Read such nodes with item_json_i64() or
 *   item_number_i64() on valuestring.
 *
 * Lossy directions. AV -> plain -> AV is exact for S, N, BOOL, NULL, M and
 * L. B becomes its base64 string and SS/NS/BS become arrays, which come
 * back as S and L. Plain -> AV -> plain is exact except that numbers come
 * back as Raw nodes (see above).
 *
 * Checked rules (hostile input is rejected with RESULT_INVALID_INPUT and
 * error_info.field set to the path, e.g. "payload.items[2]"; never a
 * crash): exactly one known type key per AV; S, SS elements and attribute
 * names valid UTF-8; N per item_number_valid(); B and BS elements strict
 * base64 (RFC 4648 alphabet, padded, no whitespace); BOOL a boolean; NULL
 * true; M an object without duplicate names; L an array; SS/NS/BS
 * non-empty arrays of strings with unique values (NS compares numerically,
 * BS by decoded bytes); empty strings and empty binaries are allowed,
 * inside sets too; top-level attribute names are 1 to 65535 bytes, map
 * keys at most 65535 bytes; at most ITEM_MAX_DEPTH nested M/L levels.
 *
 * Builders and setters abort on memory exhaustion, as xmalloc() does.
 */

/* DynamoDB's item size limit: 400 KB. */
#define ITEM_MAX_SIZE_BYTES 409600
/* DynamoDB's nesting limit: M/L values nest at most 32 levels deep. */
#define ITEM_MAX_DEPTH 32
/* DynamoDB numbers carry at most 38 significant digits. */
#define ITEM_MAX_NUMBER_DIGITS 38
/* Attribute names are shorter than 64 KB. */
#define ITEM_MAX_NAME_BYTES 65535

/* ---- Numbers ---------------------------------------------------------- */

/*
 * Returns true when `text` is a number DynamoDB accepts: an optional sign,
 * digits with at most one '.', an optional exponent ([eE][+-]?digits), at
 * most 38 significant digits (leading and trailing zeros do not count), and
 * zero or a magnitude from 1E-130 to 9.99...E+125. NULL is not a number.
 */
bool item_number_valid(const char *text);

/*
 * Reads DynamoDB number text as an int64 ("1E3" is 1000). Fails with
 * RESULT_INVALID_INPUT when `text` is not a valid number, has a fraction,
 * or is out of int64 range. On failure, `*out` is untouched.
 */
enum result item_number_i64(const char *text, int64_t *out) WARN_UNUSED;

/*
 * Reads an integer from a plain JSON node: a cJSON number that is integral
 * and within +-2^53, or a Raw number node (as item_av_to_json() makes).
 * RESULT_INVALID_INPUT otherwise; on failure, `*out` is untouched.
 */
enum result item_json_i64(const cJSON *node, int64_t *out) WARN_UNUSED;

/* ---- Building AttributeValues ------------------------------------------ */

/*
 * Each returns a new AV; the caller owns it (free with cJSON_Delete(), or
 * hand it to item_set() or a container). They never return NULL.
 * item_av_s: `s` (not NULL) is copied and should be UTF-8; item_validate()
 * checks. item_av_m: takes ownership of `map` (an object of name -> AV;
 * NULL makes an empty map). item_av_l: takes ownership of `list` (an array
 * of AVs; NULL makes an empty list). item_av_b: `len` bytes at `bytes`
 * (NULL allowed when `len` is 0) are base64-encoded.
 */
cJSON *item_av_s(const char *s);
cJSON *item_av_i64(int64_t v);
cJSON *item_av_bool(bool v);
cJSON *item_av_null(void);
cJSON *item_av_m(cJSON *map);
cJSON *item_av_l(cJSON *list);
cJSON *item_av_b(const void *bytes, size_t len);

/*
 * Makes {"N": text}, keeping `text` exactly. RESULT_INVALID_INPUT (naming
 * `field`, which may be NULL) when item_number_valid() rejects it. On
 * success the caller owns `*out`; on failure, `*out` is untouched.
 */
enum result item_av_n(const char *text, const char *field, cJSON **out,
                      struct error_info *err) WARN_UNUSED;

/*
 * Makes a string set (SS) or number set (NS) of `count` values, copied, in
 * the order given. RESULT_INVALID_INPUT naming `field` (or "field[i]") when
 * the set is empty, a value is NULL, not UTF-8 (SS) or not a number (NS),
 * or two values are equal (NS: numerically, so "1" and "1.0" clash). On
 * success the caller owns `*out`; on failure, `*out` is untouched.
 */
enum result item_av_ss(const char *const *values, size_t count,
                       const char *field, cJSON **out,
                       struct error_info *err) WARN_UNUSED;
enum result item_av_ns(const char *const *values, size_t count,
                       const char *field, cJSON **out,
                       struct error_info *err) WARN_UNUSED;

/* ---- Validation --------------------------------------------------------- */

/*
 * Checks an item received from the wire against every rule listed at the
 * top of this file. RESULT_INVALID_INPUT with the path in err->field (the
 * attribute name first) on the first violation; `item` is only read.
 */
enum result item_validate(const cJSON *item,
                          struct error_info *err) WARN_UNUSED;

/* As item_validate() for one AV, paths starting at `field` (may be NULL). */
enum result item_av_validate(const cJSON *av, const char *field,
                             struct error_info *err) WARN_UNUSED;

/* ---- Conversion -----------------------------------------------------------
 */

/*
 * Plain JSON -> AV: object -> M, array -> L, string -> S, number or Raw
 * number -> N, true/false -> BOOL, null -> NULL. RESULT_INVALID_INPUT
 * naming the path (rooted at `field`, which may be NULL) for a string that
 * is not UTF-8, a number DynamoDB cannot hold (NaN, 1e300, 1e-200), a Raw
 * node that is not a number, duplicate object keys, or nesting deeper than
 * ITEM_MAX_DEPTH. On success the caller owns `*out` (free with
 * cJSON_Delete()); on failure, `*out` is untouched.
 */
enum result item_av_from_json(const cJSON *json, const char *field, cJSON **out,
                              struct error_info *err) WARN_UNUSED;

/*
 * AV -> plain JSON: S -> string, N -> Raw number, B -> base64 string,
 * BOOL -> true/false, NULL -> null, M -> object, L -> array, SS/BS -> array
 * of strings, NS -> array of Raw numbers. `av` is validated first
 * (item_av_validate()). On success the caller owns `*out`; on failure,
 * `*out` is untouched.
 */
enum result item_av_to_json(const cJSON *av, const char *field, cJSON **out,
                            struct error_info *err) WARN_UNUSED;

/*
 * A plain JSON object -> an item: each member becomes an attribute as in
 * item_av_from_json(). Names must be 1 to 65535 bytes of UTF-8 and unique.
 * On success the caller owns `*out`; on failure, `*out` is untouched.
 */
enum result item_from_json(const cJSON *json, cJSON **out,
                           struct error_info *err) WARN_UNUSED;

/*
 * An item -> a plain JSON object, as item_av_to_json() per attribute, after
 * item_validate(). On success the caller owns `*out`; on failure, `*out` is
 * untouched.
 */
enum result item_to_json(const cJSON *item, cJSON **out,
                         struct error_info *err) WARN_UNUSED;

/* ---- Items: accessors and setters ---------------------------------------- */

/* Returns a new empty item; the caller owns it (free with cJSON_Delete()). */
cJSON *item_new(void);

/* Returns attribute `name`'s AV, or NULL when absent; `item` owns it. */
const cJSON *item_get_av(const cJSON *item, const char *name);

/*
 * Return the value inside attribute `name` when it has the named type, else
 * NULL (absent, or another type). Everything returned is owned by `item`.
 * item_get_s/_n: the S string / the N text. item_get_m: the M object (an
 * item itself, so these accessors apply to it). item_get_l: the L array of
 * AVs. item_get_ss/_ns: the array of strings.
 */
const char *item_get_s(const cJSON *item, const char *name);
const char *item_get_n(const cJSON *item, const char *name);
const cJSON *item_get_m(const cJSON *item, const char *name);
const cJSON *item_get_l(const cJSON *item, const char *name);
const cJSON *item_get_ss(const cJSON *item, const char *name);
const cJSON *item_get_ns(const cJSON *item, const char *name);

/*
 * Read attribute `name` into `*out`. RESULT_NOT_FOUND when it is absent;
 * RESULT_INVALID_INPUT when it has another type or (i64) is not an integer
 * in int64 range, read exactly from the N text. On failure, `*out` is
 * untouched.
 */
enum result item_get_i64(const cJSON *item, const char *name,
                         int64_t *out) WARN_UNUSED;
enum result item_get_double(const cJSON *item, const char *name,
                            double *out) WARN_UNUSED;
enum result item_get_bool(const cJSON *item, const char *name,
                          bool *out) WARN_UNUSED;

/*
 * Decodes attribute `name`'s B value. On success the caller owns `*out`
 * (free with free(); never NULL, even for 0 bytes) and `*len` is its
 * length. RESULT_NOT_FOUND when absent, RESULT_INVALID_INPUT when not a
 * valid B; on failure, `*out` and `*len` are untouched.
 */
enum result item_get_b(const cJSON *item, const char *name, unsigned char **out,
                       size_t *len) WARN_UNUSED;

/*
 * Add attribute `name` to `item`, or replace its value when present.
 * item_set takes ownership of `av`; item_set_m takes ownership of `map`
 * (name -> AV) and item_set_l of `list` (array of AVs); the others copy.
 * `name` and strings must not be NULL.
 */
void item_set(cJSON *item, const char *name, cJSON *av);
void item_set_s(cJSON *item, const char *name, const char *s);
void item_set_i64(cJSON *item, const char *name, int64_t v);
void item_set_bool(cJSON *item, const char *name, bool v);
void item_set_null(cJSON *item, const char *name);
void item_set_m(cJSON *item, const char *name, cJSON *map);
void item_set_l(cJSON *item, const char *name, cJSON *list);
void item_set_b(cJSON *item, const char *name, const void *bytes, size_t len);

/*
 * As item_av_n()/_ss()/_ns() followed by item_set(); errors name `name`.
 * On failure `item` is unchanged.
 */
enum result item_set_n(cJSON *item, const char *name, const char *text,
                       struct error_info *err) WARN_UNUSED;
enum result item_set_ss(cJSON *item, const char *name,
                        const char *const *values, size_t count,
                        struct error_info *err) WARN_UNUSED;
enum result item_set_ns(cJSON *item, const char *name,
                        const char *const *values, size_t count,
                        struct error_info *err) WARN_UNUSED;

/* Removes attribute `name` from `item` if present, freeing its value. */
void item_remove(cJSON *item, const char *name);

/* ---- Sizes ----------------------------------------------------------------
 */

/*
 * DynamoDB's size of one AV, per the Developer Guide ("Item sizes and
 * formats"): S = UTF-8 bytes; N = ceil(significant digits / 2) + 1 (zero
 * is 1; rounding up keeps the estimate on the safe side); B = decoded
 * bytes; BOOL/NULL = 1; M = 3 + per member (1 + name bytes + value);
 * L = 3 + per element (1 + value); SS/NS/BS = sum of their elements.
 * Meant for valid AVs; malformed parts are counted roughly, never crash.
 */
size_t item_av_size_bytes(const cJSON *av);

/* Sum over attributes of (name UTF-8 bytes + value size); 0 if not an
 * object. */
size_t item_size_bytes(const cJSON *item);

/*
 * RESULT_INVALID_INPUT when item_size_bytes(item) exceeds
 * ITEM_MAX_SIZE_BYTES (exactly 409,600 bytes passes). err->field is `field`
 * when given (the input to blame, e.g. "payload"), else the item's largest
 * attribute; the message states the size and the 400 KB item limit.
 */
enum result item_check_size(const cJSON *item, const char *field,
                            struct error_info *err) WARN_UNUSED;

#endif
