/* json_parse() against cJSON's parser: the same answer for any text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_diff.h"
#include "json_parse.h"

/* Every way the bootstrap hands text over: `text`'s first `len` bytes in
 * a block of exactly that size (so that ASan sees a read past it), with
 * and without the NUL, requiring the end or not. */
static void agree(const char *text, size_t len)
{
    char why[512];
    for (int with_nul = 0; with_nul < 2; with_nul++) {
        size_t n = len + (size_t)with_nul;
        char *copy = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, text, len);
        if (with_nul)
            copy[len] = '\0';
        for (int require = 0; require < 2; require++)
            ck_assert_msg(json_diff(copy, n, require, why, sizeof(why)) == 0,
                          "%s for %zu bytes of \"%.*s\" (NUL %d, require %d)",
                          why, len, (int)len, text, with_nul, require);
        free(copy);
    }
}

/* The text and every prefix of it: the ends of strings, numbers,
 * literals and lists fall at each byte in turn. */
static void agree_on_prefixes(const char *text, size_t len)
{
    for (size_t k = 0; k <= len; k++)
        agree(text, k);
}

static const char *const cases[] = {
    "{}",
    "[]",
    "null",
    "true",
    "false",
    "nul",
    "tru",
    "fals",
    "nullx",
    "0",
    "-0",
    "-",
    "+1",
    "01",
    "1.",
    ".5",
    "-.5",
    "1e5",
    "1E+5",
    "1e",
    "1e5e5",
    "1-2",
    "1.5.5",
    "--1",
    "1e400",
    "-1e400",
    "1e-400",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "123456789012345678901234567890",
    "0.1",
    "3.141592653589793238462643",
    "\"\"",
    "\"abc\"",
    "\"a\\\"b\"",
    "\"\\\\\"",
    "\"\\/\"",
    "\"\\b\\f\\n\\r\\t\"",
    "\"\\x\"",
    "\"\\",
    "\"\\\"",
    "\"abc",
    "\"\t\x01\x1f raw controls\"",
    "\"\xff\xfe invalid utf-8 \xc3\"",
    "\"\\u0041\"",
    "\"\\u00e9\"",
    "\"\\u20AC\"",
    "\"\\uFFFF\"",
    "\"\\u0000after\"",
    "\"\\uZZZZ\"",
    "\"\\u12\"",
    "\"\\u123\"",
    "\"\\uD83D\\uDE00\"",
    "\"\\uD83D\"",
    "\"\\uD83Dx\"",
    "\"\\uD83D\\u0041\"",
    "\"\\uDE00\"",
    "\"\\uD83D\\uDE0\"",
    "\"\\u12\\\\34\"",
    "\"\\u1\\\"23\"",
    "[1,2,3]",
    "[1,]",
    "[,1]",
    "[1 2]",
    "[",
    "]",
    "[[[]]]",
    "[1,[2,[3]]]",
    "{\"a\":1}",
    "{\"a\":1,}",
    "{\"a\"}",
    "{\"a\":}",
    "{a:1}",
    "{\"a\" : [ ]}",
    "{\"a\":1,\"a\":2}",
    "{,}",
    "{\"\":\"\"}",
    "{\"k\":{\"k\":{\"k\":null}}}",
    " \t\r\n{ } \n",
    "\x01{}\x01",
    "{}\0garbage",
    "{} x",
    "{}}",
    "[]]",
    "\xEF\xBB\xBF{}",
    "\xEF\xBB\xBF",
    "\xEF\xBB\xBF"
    "1",
    "\xEF\xBB\xBF"
    "12",
    "\xEF\xBB{}",
    "{\"a\":\"b\"}\n\n\n",
    "{\"body\":\"{\\\"action\\\":1}\"}",
    "[true,false,null,\"s\",-1.5e3,{\"o\":[]}]",
    "x",
    "",
    " ",
    "\0",
};

START_TEST(cases_and_their_prefixes)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        agree_on_prefixes(cases[i], strlen(cases[i]));
    /* NULs inside the text. */
    static const char nul_inside[] = "[1,\0 2]";
    agree_on_prefixes(nul_inside, sizeof(nul_inside) - 1);
    static const char nul_string[] = "\"a\0b\"";
    agree_on_prefixes(nul_string, sizeof(nul_string) - 1);
}
END_TEST

START_TEST(nesting_limit)
{
    for (int depth = 998; depth <= 1001; depth++) {
        size_t n = 2 * (size_t)depth;
        char *text = malloc(n + 1);
        memset(text, '[', (size_t)depth);
        memset(text + depth, ']', (size_t)depth);
        text[n] = '\0';
        agree(text, n);
        cJSON *t = json_parse(text, n + 1, NULL, 1);
        if (depth <= 1000)
            ck_assert_ptr_nonnull(t);
        else
            ck_assert_ptr_null(t);
        cJSON_Delete(t);
        free(text);
    }
}
END_TEST

/* Text from pieces that meet at every kind of boundary. */
START_TEST(random_texts)
{
    static const char *const pieces[] = {
        "{",    "}",    "[",    "]",     ",",       ":",
        " ",    "\"",   "\\",   "\\u",   "\\uD83D", "\\uDE00",
        "00e9", "null", "true", "false", "-",       "1",
        "0",    ".",    "e",    "+",     "\"k\":",  "\"v\"",
        "\x01", "\xff", "\0",   "\n",    "12.5e-3", "x",
    };
    unsigned seed = 18;
    char text[256];
    for (int i = 0; i < 40000; i++) {
        size_t n = 0;
        for (int k = rand_r(&seed) % 24; k > 0; k--) {
            const char *p =
                pieces[rand_r(&seed) % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t m = *p ? strlen(p) : 1;
            if (n + m > sizeof(text))
                break;
            memcpy(text + n, p, m);
            n += m;
        }
        agree(text, n);
    }
}
END_TEST

/* The sample events and their prefixes. */
START_TEST(sample_events)
{
    ck_assert_int_gt(json_sample_events(agree_on_prefixes), 3);
}
END_TEST

START_TEST(null_and_empty)
{
    const char *end = "untouched";
    ck_assert_ptr_null(json_parse(NULL, 5, &end, 0));
    ck_assert_str_eq(end, "untouched");
    ck_assert_ptr_null(json_parse("{}", 0, NULL, 0));
}
END_TEST

Suite *json_parse_suite(void)
{
    Suite *s = suite_create("json_parse");
    TCase *tc = tcase_create("same_as_cjson");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cases_and_their_prefixes);
    tcase_add_test(tc, nesting_limit);
    tcase_add_test(tc, random_texts);
    tcase_add_test(tc, sample_events);
    tcase_add_test(tc, null_and_empty);
    suite_add_tcase(s, tc);
    return s;
}
