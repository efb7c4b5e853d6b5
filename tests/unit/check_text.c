/* UTF-8 checks and cuts, and the NUL check on JSON text. */
#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static const struct {
    const char *bytes;
    size_t seq; /* utf8_seq_len of the first sequence; 0: invalid */
} seqs[] = {
    {"A", 1},
    {"\xC3\xA9", 2},         /* é */
    {"\xE2\x82\xAC", 3},     /* € */
    {"\xF0\x9F\x98\x80", 4}, /* 😀 */
    {"\xF4\x8F\xBF\xBF", 4}, /* U+10FFFF, the last code point */
    {"\x80", 0},             /* a stray continuation byte */
    {"\xC0\xAF", 0},         /* overlong '/' */
    {"\xE0\x80\xAF", 0},     /* overlong '/' in three bytes */
    {"\xF0\x80\x80\xAF", 0}, /* and in four */
    {"\xED\xA0\x80", 0},     /* U+D800, a surrogate */
    {"\xF4\x90\x80\x80", 0}, /* past U+10FFFF */
    {"\xC3", 0},             /* cut short */
    {"\xE2\x82", 0},
    {"\xF8\x88\x80\x80\x80", 0}, /* five-byte forms are gone */
    {"\xFF", 0},
};

START_TEST(sequences)
{
    const char *b = seqs[_i].bytes;
    size_t n = strlen(b);
    ck_assert_uint_eq(utf8_seq_len((const unsigned char *)b, n), seqs[_i].seq);
    ck_assert_int_eq(utf8_valid(b, n), seqs[_i].seq == n);
    /* Never reads past `left`: a valid sequence with a byte too few. */
    if (n > 1)
        ck_assert_uint_eq(utf8_seq_len((const unsigned char *)b, n - 1), 0);
}
END_TEST

START_TEST(valid_text)
{
    ck_assert(utf8_valid("", 0));
    ck_assert(utf8_valid("h\xC3\xA9llo \xE2\x82\xAC", 10));
    ck_assert(!utf8_valid("ok\xC3", 3));
    /* A NUL byte is valid UTF-8; callers that refuse it say so. */
    ck_assert(utf8_valid("a\0b", 3));
}
END_TEST

/* The ASCII fast path agrees with utf8_seq_len() byte by byte: a bad or
 * good sequence at every offset and alignment of long ASCII text. */
static bool valid_slowly(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = utf8_seq_len((const unsigned char *)s + i, n - i)))
            return false;
    return true;
}

START_TEST(ascii_runs)
{
    const char *inserts[] = {"\xC3\xA9",
                             "\xE2\x82\xAC",
                             "\xF0\x9F\x98\x80",
                             "\x80",
                             "\xC3",
                             "\xED\xA0\x80",
                             "\xFF",
                             "\0"};
    char text[64];
    for (size_t k = 0; k < sizeof(inserts) / sizeof(inserts[0]); k++) {
        size_t m = k == 7 ? 1 : strlen(inserts[k]);
        for (size_t at = 0; at + m <= 40; at++)
            for (size_t n = at + m; n <= 40; n += 7) {
                memset(text, 'a', sizeof(text));
                memcpy(text + at, inserts[k], m);
                ck_assert_msg(utf8_valid(text, n) == valid_slowly(text, n),
                              "insert %zu at %zu of %zu", k, at, n);
            }
    }
    memset(text, 'a', sizeof(text));
    ck_assert(utf8_valid(text, sizeof(text)));
    text[63] = (char)0xC3; /* cut short at the very end */
    ck_assert(!utf8_valid(text, sizeof(text)));
}
END_TEST

START_TEST(prefixes)
{
    const char *s = "ab\xE2\x82\xAC"
                    "c"; /* a b € c: 6 bytes */
    ck_assert_uint_eq(utf8_prefix_len(s, 100), 6);
    ck_assert_uint_eq(utf8_prefix_len(s, 6), 6);
    ck_assert_uint_eq(utf8_prefix_len(s, 5), 5);
    ck_assert_uint_eq(utf8_prefix_len(s, 4), 2); /* not inside the € */
    ck_assert_uint_eq(utf8_prefix_len(s, 3), 2);
    ck_assert_uint_eq(utf8_prefix_len(s, 2), 2);
    ck_assert_uint_eq(utf8_prefix_len(s, 0), 0);
    char *p = utf8_prefix(s, 4);
    ck_assert_str_eq(p, "ab");
    free(p);
}
END_TEST

START_TEST(json_nul)
{
    ck_assert(!json_text_has_nul("{\"a\":\"b\"}", 9));
    ck_assert(json_text_has_nul("{\"a\":\"b\\u0000\"}", 15));
    ck_assert(json_text_has_nul("{\"a\":\"b\0\"}", 10));
    /* An escaped backslash then "u0000" is text, not a NUL. */
    ck_assert(!json_text_has_nul("\"\\\\u0000\"", 9));
    /* A \u0000 cut short by the length is not one. */
    ck_assert(!json_text_has_nul("\"\\u000", 6));
}
END_TEST

/* text_join() is snprintf("%s%s...") without the format: same bytes,
 * same return value, cut or not. */
START_TEST(join_matches_snprintf)
{
    const char *a = "connection#", *b = "Zx9-AbcdEFg=", *c = "";
    for (size_t size = 1; size <= 32; size++) {
        char want[32], got[32];
        memset(got, 'Z', sizeof(got));
        int n = snprintf(want, size, "%s%s%s", a, b, c);
        ck_assert_uint_eq(text_join(got, size, a, b, c, (char *)NULL),
                          (size_t)n);
        ck_assert_str_eq(got, want);
    }
    char one[1];
    ck_assert_uint_eq(text_join(one, 1, "abc", (char *)NULL), 3);
    ck_assert_int_eq(one[0], '\0');
}
END_TEST

START_TEST(u64_matches_snprintf)
{
    const unsigned long long values[] = {
        0, 7, 10, 99, 100, 65535, 4294967296ULL, 18446744073709551615ULL};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char want[32], got[21];
        int n = snprintf(want, sizeof(want), "%llu", values[i]);
        ck_assert_uint_eq(text_u64(got, values[i]), (size_t)n);
        ck_assert_str_eq(got, want);
    }
    const long long signed_values[] = {
        0, 1, -1, 42, -42, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1};
    for (size_t i = 0; i < sizeof(signed_values) / sizeof(signed_values[0]);
         i++) {
        char want[32], got[21];
        int n = snprintf(want, sizeof(want), "%lld", signed_values[i]);
        ck_assert_uint_eq(text_i64(got, signed_values[i]), (size_t)n);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

Suite *text_suite(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("utf8");
    tcase_add_loop_test(tc, sequences, 0,
                        (int)(sizeof(seqs) / sizeof(seqs[0])));
    tcase_add_test(tc, valid_text);
    tcase_add_test(tc, ascii_runs);
    tcase_add_test(tc, prefixes);
    tcase_add_test(tc, json_nul);
    tcase_add_test(tc, join_matches_snprintf);
    tcase_add_test(tc, u64_matches_snprintf);
    suite_add_tcase(s, tc);
    return s;
}
