/* Tests of DynamoDB item encoding: conversion, validation, sizes. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"

#define ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

static cJSON *parse(const char *text)
{
    cJSON *json = cJSON_Parse(text);
    ck_assert_msg(json != NULL, "test JSON does not parse: %s", text);
    return json;
}

/* Asserts that `json` prints (unformatted) as `want`; `what` names the row. */
static void assert_prints(const cJSON *json, const char *want, const char *what)
{
    char *got = cJSON_PrintUnformatted(json);
    ck_assert_msg(got && strcmp(got, want) == 0, "%s: printed %s, want %s",
                  what, got ? got : "(null)", want);
    free(got);
}

/* ---- AV -> plain -> AV is exact for S, N, BOOL, NULL, M, L ------------- */

static const struct {
    const char *name;
    const char *av;    /* an AttributeValue */
    const char *plain; /* what item_av_to_json() prints */
} exact_rows[] = {
    {"S", "{\"S\":\"hello\"}", "\"hello\""},
    {"S empty", "{\"S\":\"\"}", "\"\""},
    {"S emoji",
     "{\"S\":\"\xF0\x9F\x98\x80 ok \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\"}",
     "\"\xF0\x9F\x98\x80 ok \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\""},
    {"S CJK", "{\"S\":\"\xE6\xBC\xA2\xE5\xAD\x97\xE3\x83\x86\xE3\x82\xB9\"}",
     "\"\xE6\xBC\xA2\xE5\xAD\x97\xE3\x83\x86\xE3\x82\xB9\""},
    {"S escapes", "{\"S\":\"a\\\"b\\\\c\\n\\u0001\"}",
     "\"a\\\"b\\\\c\\n\\u0001\""},
    {"N zero", "{\"N\":\"0\"}", "0"},
    {"N integer", "{\"N\":\"42\"}", "42"},
    {"N negative", "{\"N\":\"-17\"}", "-17"},
    {"N fraction", "{\"N\":\"3.14159\"}", "3.14159"},
    {"N negative fraction", "{\"N\":\"-0.001\"}", "-0.001"},
    {"N exponent", "{\"N\":\"1.5E+10\"}", "1.5E+10"},
    {"N small exponent", "{\"N\":\"2e-5\"}", "2e-5"},
    {"N int64 max", "{\"N\":\"9223372036854775807\"}", "9223372036854775807"},
    {"N int64 min", "{\"N\":\"-9223372036854775808\"}", "-9223372036854775808"},
    {"N 20 digits", "{\"N\":\"12345678901234567890\"}", "12345678901234567890"},
    {"N 38 digits", "{\"N\":\"12345678901234567890123456789012345678\"}",
     "12345678901234567890123456789012345678"},
    {"N largest", "{\"N\":\"9.9999999999999999999999999999999999999E+125\"}",
     "9.9999999999999999999999999999999999999E+125"},
    {"N most negative",
     "{\"N\":\"-9.9999999999999999999999999999999999999E+125\"}",
     "-9.9999999999999999999999999999999999999E+125"},
    {"N smallest", "{\"N\":\"1E-130\"}", "1E-130"},
    {"N long fraction", "{\"N\":\"0.1000000000000000055511151231257827021\"}",
     "0.1000000000000000055511151231257827021"},
    {"BOOL true", "{\"BOOL\":true}", "true"},
    {"BOOL false", "{\"BOOL\":false}", "false"},
    {"NULL", "{\"NULL\":true}", "null"},
    {"M empty", "{\"M\":{}}", "{}"},
    {"L empty", "{\"L\":[]}", "[]"},
    {"M nested",
     "{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"L\":[{\"S\":\"x\"},{\"NULL\":true}]}"
     ",\"\xE5\x90\x8D\":{\"BOOL\":false}}}",
     "{\"a\":1,\"b\":[\"x\",null],\"\xE5\x90\x8D\":false}"},
    {"L mixed",
     "{\"L\":[{\"N\":\"-1.5\"},{\"L\":[]},{\"M\":{\"k\":{\"S\":\"\"}}},"
     "{\"N\":\"18446744073709551616\"}]}",
     "[-1.5,[],{\"k\":\"\"},18446744073709551616]"},
};

START_TEST(exact_round_trip)
{
    struct error_info err = {0};
    cJSON *av = parse(exact_rows[_i].av), *plain = NULL, *back = NULL;
    const char *name = exact_rows[_i].name;

    ck_assert_msg(item_av_validate(av, "v", &err) == RESULT_OK, "%s: %s", name,
                  err.message);
    ck_assert_msg(item_av_to_json(av, "v", &plain, &err) == RESULT_OK, "%s: %s",
                  name, err.message);
    assert_prints(plain, exact_rows[_i].plain, name);
    ck_assert_msg(item_av_from_json(plain, "v", &back, &err) == RESULT_OK,
                  "%s: %s", name, err.message);
    ck_assert_msg(cJSON_Compare(av, back, 1), "%s: AV changed", name);

    /* The same through whole items. */
    cJSON *item = item_new(), *item_plain = NULL, *item_back = NULL;
    item_set(item, "v", cJSON_Duplicate(av, 1));
    ck_assert_int_eq(item_to_json(item, &item_plain, &err), RESULT_OK);
    ck_assert_int_eq(item_from_json(item_plain, &item_back, &err), RESULT_OK);
    ck_assert_msg(cJSON_Compare(item, item_back, 1), "%s: item changed", name);

    cJSON_Delete(item);
    cJSON_Delete(item_plain);
    cJSON_Delete(item_back);
    cJSON_Delete(av);
    cJSON_Delete(plain);
    cJSON_Delete(back);
}
END_TEST

/* ---- Lossy directions and N text that JSON spells differently ---------- */

static const struct {
    const char *name;
    const char *av;
    const char *plain; /* item_av_to_json() */
    const char *back;  /* item_av_from_json() of that */
} lossy_rows[] = {
    {"B", "{\"B\":\"aGVsbG8=\"}", "\"aGVsbG8=\"", "{\"S\":\"aGVsbG8=\"}"},
    {"B empty", "{\"B\":\"\"}", "\"\"", "{\"S\":\"\"}"},
    {"SS", "{\"SS\":[\"a\",\"\",\"\xE2\x82\xAC\"]}",
     "[\"a\",\"\",\"\xE2\x82\xAC\"]",
     "{\"L\":[{\"S\":\"a\"},{\"S\":\"\"},{\"S\":\"\xE2\x82\xAC\"}]}"},
    {"NS", "{\"NS\":[\"1\",\"12345678901234567890\",\"-2.5E-3\"]}",
     "[1,12345678901234567890,-2.5E-3]",
     "{\"L\":[{\"N\":\"1\"},{\"N\":\"12345678901234567890\"},"
     "{\"N\":\"-2.5E-3\"}]}"},
    {"BS", "{\"BS\":[\"AA==\",\"\"]}", "[\"AA==\",\"\"]",
     "{\"L\":[{\"S\":\"AA==\"},{\"S\":\"\"}]}"},
    {"N plus sign", "{\"N\":\"+5\"}", "5", "{\"N\":\"5\"}"},
    {"N leading point", "{\"N\":\".5\"}", "0.5", "{\"N\":\"0.5\"}"},
    {"N trailing point", "{\"N\":\"5.\"}", "5", "{\"N\":\"5\"}"},
    {"N leading zeros", "{\"N\":\"007\"}", "7", "{\"N\":\"7\"}"},
    {"N tiny", "{\"N\":\"-.000000123\"}", "-1.23E-7", "{\"N\":\"-1.23E-7\"}"},
    {"N scaled fraction", "{\"N\":\".1234567e-2\"}", "0.001234567",
     "{\"N\":\"0.001234567\"}"},
    {"N signed exponent", "{\"N\":\"+1.50E+3\"}", "1500", "{\"N\":\"1500\"}"},
    {"N zeros then point", "{\"N\":\"00.5e1\"}", "5", "{\"N\":\"5\"}"},
    {"N big exponent", "{\"N\":\"+12E+100\"}", "1.2E+101",
     "{\"N\":\"1.2E+101\"}"},
    {"N plus zero", "{\"N\":\"+0.000\"}", "0", "{\"N\":\"0\"}"},
};

START_TEST(lossy_round_trip)
{
    struct error_info err = {0};
    cJSON *av = parse(lossy_rows[_i].av), *plain = NULL, *back = NULL;
    const char *name = lossy_rows[_i].name;

    ck_assert_msg(item_av_to_json(av, "v", &plain, &err) == RESULT_OK, "%s: %s",
                  name, err.message);
    assert_prints(plain, lossy_rows[_i].plain, name);
    ck_assert_msg(item_av_from_json(plain, "v", &back, &err) == RESULT_OK,
                  "%s: %s", name, err.message);
    assert_prints(back, lossy_rows[_i].back, name);
    cJSON_Delete(av);
    cJSON_Delete(plain);
    cJSON_Delete(back);
}
END_TEST

/* ---- Plain JSON (cJSON doubles) -> item -> plain ------------------------ */

static const struct {
    const char *name;
    const char *plain;
    const char *item;  /* item_from_json() */
    const char *again; /* item_to_json() of that */
} plain_rows[] = {
    {"integer", "{\"a\":1}", "{\"a\":{\"N\":\"1\"}}", "{\"a\":1}"},
    {"negative fraction", "{\"a\":-2.5}", "{\"a\":{\"N\":\"-2.5\"}}",
     "{\"a\":-2.5}"},
    {"shortest text", "{\"a\":0.1}", "{\"a\":{\"N\":\"0.1\"}}", "{\"a\":0.1}"},
    {"2^53 exact", "{\"a\":9007199254740992}",
     "{\"a\":{\"N\":\"9007199254740992\"}}", "{\"a\":9007199254740992}"},
    {"-2^53 exact", "{\"a\":-9007199254740992}",
     "{\"a\":{\"N\":\"-9007199254740992\"}}", "{\"a\":-9007199254740992}"},
    {"big double", "{\"a\":1e20}", "{\"a\":{\"N\":\"1e+20\"}}",
     "{\"a\":1e+20}"},
    {"exponent fraction", "{\"a\":123.456e-5}",
     "{\"a\":{\"N\":\"0.00123456\"}}", "{\"a\":0.00123456}"},
    {"minus zero", "{\"a\":-0}", "{\"a\":{\"N\":\"0\"}}", "{\"a\":0}"},
    {"small", "{\"a\":1.5e-7}", "{\"a\":{\"N\":\"1.5e-07\"}}",
     "{\"a\":1.5e-07}"},
    {"every type",
     "{\"s\":\"x\",\"t\":true,\"f\":false,\"n\":null,"
     "\"l\":[1,\"two\",[3]],\"m\":{\"k\":{}}}",
     "{\"s\":{\"S\":\"x\"},\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},"
     "\"n\":{\"NULL\":true},\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"two\"},"
     "{\"L\":[{\"N\":\"3\"}]}]},\"m\":{\"M\":{\"k\":{\"M\":{}}}}}",
     "{\"s\":\"x\",\"t\":true,\"f\":false,\"n\":null,"
     "\"l\":[1,\"two\",[3]],\"m\":{\"k\":{}}}"},
    {"UTF-8 names and values",
     "{\"\xF0\x9F\x94\x91\":\"\xE4\xB8\xAD\xE6\x96\x87\",\"\xC3\xA9\":[]}",
     "{\"\xF0\x9F\x94\x91\":{\"S\":\"\xE4\xB8\xAD\xE6\x96\x87\"},"
     "\"\xC3\xA9\":{\"L\":[]}}",
     "{\"\xF0\x9F\x94\x91\":\"\xE4\xB8\xAD\xE6\x96\x87\",\"\xC3\xA9\":[]}"},
    {"empty item", "{}", "{}", "{}"},
};

START_TEST(plain_round_trip)
{
    struct error_info err = {0};
    cJSON *plain = parse(plain_rows[_i].plain), *item = NULL, *again = NULL;
    const char *name = plain_rows[_i].name;

    ck_assert_msg(item_from_json(plain, &item, &err) == RESULT_OK, "%s: %s",
                  name, err.message);
    assert_prints(item, plain_rows[_i].item, name);
    ck_assert_int_eq(item_validate(item, &err), RESULT_OK);
    ck_assert_msg(item_to_json(item, &again, &err) == RESULT_OK, "%s: %s", name,
                  err.message);
    assert_prints(again, plain_rows[_i].again, name);
    cJSON_Delete(plain);
    cJSON_Delete(item);
    cJSON_Delete(again);
}
END_TEST

/* ---- Doubles -> N text ----------------------------------------------------
 */

static const struct {
    const char *name;
    double v;
    const char *text; /* NULL: RESULT_INVALID_INPUT */
} double_rows[] = {
    {"zero", 0.0, "0"},
    {"minus zero", -0.0, "0"},
    {"one", 1.0, "1"},
    {"2^53", 9007199254740992.0, "9007199254740992"},
    {"-2^53", -9007199254740992.0, "-9007199254740992"},
    {"2^53 + 2", 9007199254740994.0, "9007199254740994"},
    {"2^63", 9223372036854775808.0, "9.223372036854776e+18"},
    {"tenth", 0.1, "0.1"},
    {"third", 1.0 / 3.0, "0.3333333333333333"},
    {"1e125", 1e125, "1e+125"},
    {"1e-130", 1e-130, "1e-130"},
    {"1e126 too big", 1e126, NULL},
    {"1e-131 too small", 1e-131, NULL},
    {"smallest double", 5e-324, NULL},
    {"NaN", NAN, NULL},
    {"infinity", INFINITY, NULL},
    {"minus infinity", -INFINITY, NULL},
};

START_TEST(numbers_from_doubles)
{
    struct error_info err = {0};
    cJSON *num = cJSON_CreateNumber(double_rows[_i].v), *av = NULL;
    const char *name = double_rows[_i].name;
    enum result r = item_av_from_json(num, "n", &av, &err);

    if (!double_rows[_i].text) {
        ck_assert_msg(r == RESULT_INVALID_INPUT, "%s: accepted", name);
        ck_assert_str_eq(err.field, "n");
    } else {
        ck_assert_msg(r == RESULT_OK, "%s: %s", name, err.message);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(av, "N");
        ck_assert_msg(cJSON_IsString(n) &&
                          strcmp(n->valuestring, double_rows[_i].text) == 0,
                      "%s: got %s", name,
                      cJSON_IsString(n) ? n->valuestring : "?");
    }
    cJSON_Delete(num);
    cJSON_Delete(av);
}
END_TEST

/* ---- N text -> int64 -------------------------------------------------------
 */

static const struct {
    const char *text;
    enum result r;
    int64_t v;
} i64_rows[] = {
    {"0", RESULT_OK, 0},
    {"-0", RESULT_OK, 0},
    {"42", RESULT_OK, 42},
    {"-42", RESULT_OK, -42},
    {"9223372036854775807", RESULT_OK, INT64_MAX},
    {"-9223372036854775808", RESULT_OK, INT64_MIN},
    {"9223372036854775808", RESULT_INVALID_INPUT, 0},
    {"-9223372036854775809", RESULT_INVALID_INPUT, 0},
    {"12345678901234567890", RESULT_INVALID_INPUT, 0},
    {"1E3", RESULT_OK, 1000},
    {"100.000", RESULT_OK, 100},
    {"1.5", RESULT_INVALID_INPUT, 0},
    {"1E-1", RESULT_INVALID_INPUT, 0},
    {"9.223372036854775807E18", RESULT_OK, INT64_MAX},
    {"1E19", RESULT_INVALID_INPUT, 0},
    {"1E100", RESULT_INVALID_INPUT, 0},
    {"+7", RESULT_OK, 7},
    {"0007", RESULT_OK, 7},
    {"1700000000", RESULT_OK, 1700000000},
    {"abc", RESULT_INVALID_INPUT, 0},
    {"", RESULT_INVALID_INPUT, 0},
};

START_TEST(numbers_to_i64)
{
    int64_t v = 123;
    enum result r = item_number_i64(i64_rows[_i].text, &v);
    ck_assert_msg(r == i64_rows[_i].r, "'%s': result %s", i64_rows[_i].text,
                  result_str(r));
    if (r == RESULT_OK)
        ck_assert_msg(v == i64_rows[_i].v, "'%s': got %lld", i64_rows[_i].text,
                      (long long)v);
    else
        ck_assert_msg(v == 123, "'%s': *out touched", i64_rows[_i].text);
}
END_TEST

START_TEST(big_integers_stay_exact)
{
    struct error_info err = {0};
    cJSON *item = item_new(), *plain = NULL, *back = NULL;
    int64_t v = 0;

    item_set_i64(item, "max", INT64_MAX);
    item_set_i64(item, "min", INT64_MIN);
    ck_assert_int_eq(item_set_n(item, "big", "12345678901234567890", &err),
                     RESULT_OK);
    ck_assert_int_eq(item_set_n(item, "huge", "-98765432109876543210.5", &err),
                     RESULT_OK);
    ck_assert_str_eq(item_get_n(item, "max"), "9223372036854775807");
    ck_assert_str_eq(item_get_n(item, "min"), "-9223372036854775808");
    ck_assert_int_eq(item_get_i64(item, "max", &v), RESULT_OK);
    ck_assert(v == INT64_MAX);
    ck_assert_int_eq(item_get_i64(item, "min", &v), RESULT_OK);
    ck_assert(v == INT64_MIN);
    ck_assert_int_eq(item_get_i64(item, "big", &v), RESULT_INVALID_INPUT);
    ck_assert_str_eq(item_get_n(item, "big"), "12345678901234567890");

    ck_assert_int_eq(item_to_json(item, &plain, &err), RESULT_OK);
    assert_prints(plain,
                  "{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                  "\"big\":12345678901234567890,"
                  "\"huge\":-98765432109876543210.5}",
                  "big integers");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(plain, "max");
    ck_assert(cJSON_IsRaw(max));
    ck_assert_int_eq(item_json_i64(max, &v), RESULT_OK);
    ck_assert(v == INT64_MAX);

    /* Raw nodes go back in unchanged. */
    ck_assert_int_eq(item_from_json(plain, &back, &err), RESULT_OK);
    ck_assert(cJSON_Compare(item, back, 1));

    cJSON_Delete(item);
    cJSON_Delete(plain);
    cJSON_Delete(back);
}
END_TEST

START_TEST(json_i64)
{
    int64_t v = 0;
    cJSON *n = cJSON_CreateNumber(5), *f = cJSON_CreateNumber(5.5);
    cJSON *big = cJSON_CreateNumber(1e17), *s = cJSON_CreateString("5");
    cJSON *raw = cJSON_CreateRaw("-9223372036854775808");
    cJSON *bad = cJSON_CreateRaw("[1]");

    ck_assert_int_eq(item_json_i64(n, &v), RESULT_OK);
    ck_assert(v == 5);
    ck_assert_int_eq(item_json_i64(f, &v), RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_json_i64(big, &v), RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_json_i64(s, &v), RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_json_i64(raw, &v), RESULT_OK);
    ck_assert(v == INT64_MIN);
    ck_assert_int_eq(item_json_i64(bad, &v), RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_json_i64(NULL, &v), RESULT_INVALID_INPUT);
    cJSON_Delete(n);
    cJSON_Delete(f);
    cJSON_Delete(big);
    cJSON_Delete(s);
    cJSON_Delete(raw);
    cJSON_Delete(bad);
}
END_TEST

/* ---- Nesting --------------------------------------------------------------
 */

/* Plain JSON nested `levels` deep, alternating objects and arrays. */
static char *nested_plain(int levels)
{
    size_t cap = (size_t)levels * 8 + 32, at = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < levels; i++)
        at += (size_t)snprintf(text + at, cap - at, "%s",
                               i % 2 ? "[" : "{\"k\":");
    at += (size_t)snprintf(text + at, cap - at, "\"leaf\"");
    for (int i = levels - 1; i >= 0; i--)
        at += (size_t)snprintf(text + at, cap - at, "%s", i % 2 ? "]" : "}");
    return text;
}

/* An item whose attribute "a" is `levels` nested M values. */
static cJSON *nested_item(int levels)
{
    cJSON *av = item_av_s("leaf");
    for (int i = 0; i < levels; i++) {
        cJSON *map = item_new();
        item_set(map, "m", av);
        av = item_av_m(map);
    }
    cJSON *item = item_new();
    item_set(item, "a", av);
    return item;
}

START_TEST(nested_ten_levels)
{
    struct error_info err = {0};
    char *text = nested_plain(10);
    char *wrapped = malloc(strlen(text) + 16);
    ck_assert_ptr_nonnull(wrapped);
    snprintf(wrapped, strlen(text) + 16, "{\"top\":%s}", text);
    cJSON *plain = parse(wrapped), *item = NULL, *again = NULL;

    ck_assert_int_eq(item_from_json(plain, &item, &err), RESULT_OK);
    ck_assert_int_eq(item_validate(item, &err), RESULT_OK);
    ck_assert_int_eq(item_to_json(item, &again, &err), RESULT_OK);
    ck_assert(cJSON_Compare(plain, again, 1));
    assert_prints(again, wrapped, "10 levels");

    /* Ten levels of M in the AV form, read back through item_get_m. */
    cJSON *deep = nested_item(10);
    ck_assert_int_eq(item_validate(deep, &err), RESULT_OK);
    const cJSON *m = item_get_m(deep, "a");
    for (int i = 1; i < 10; i++)
        m = item_get_m(m, "m");
    ck_assert_str_eq(item_get_s(m, "m"), "leaf");

    cJSON_Delete(deep);
    cJSON_Delete(plain);
    cJSON_Delete(item);
    cJSON_Delete(again);
    free(text);
    free(wrapped);
}
END_TEST

START_TEST(depth_limit)
{
    struct error_info err = {0};
    cJSON *ok = nested_item(ITEM_MAX_DEPTH);
    cJSON *deep = nested_item(ITEM_MAX_DEPTH + 1);

    ck_assert_int_eq(item_validate(ok, &err), RESULT_OK);
    ck_assert_int_eq(item_validate(deep, &err), RESULT_INVALID_INPUT);
    ck_assert_msg(strncmp(err.field, "a.m.m.m", 7) == 0, "field %s", err.field);
    ck_assert_ptr_nonnull(strstr(err.message, "32 levels"));

    /* Plain JSON: 32 nested containers under an attribute pass, 33 fail. */
    char *t32 = nested_plain(ITEM_MAX_DEPTH), *t33 = nested_plain(33);
    cJSON *p32 = parse(t32), *p33 = parse(t33), *av = NULL;
    ck_assert_int_eq(item_av_from_json(p32, "x", &av, &err), RESULT_OK);
    ck_assert_int_eq(item_av_validate(av, "x", &err), RESULT_OK);
    cJSON_Delete(av);
    av = NULL;
    ck_assert_int_eq(item_av_from_json(p33, "x", &av, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_ptr_null(av);
    ck_assert_msg(strncmp(err.field, "x.k[0].k", 8) == 0, "field %s",
                  err.field);

    cJSON_Delete(ok);
    cJSON_Delete(deep);
    cJSON_Delete(p32);
    cJSON_Delete(p33);
    free(t32);
    free(t33);
}
END_TEST

/* ---- Hostile AttributeValues ------------------------------------------- */

static const struct {
    const char *name;
    const char *item; /* an item as received from the wire */
    const char *field;
} invalid_rows[] = {
    {"item not an object", "[]", "item"},
    {"AV not an object", "{\"a\":\"x\"}", "a"},
    {"AV is an array", "{\"a\":[{\"S\":\"x\"}]}", "a"},
    {"no type key", "{\"a\":{}}", "a"},
    {"two type keys", "{\"a\":{\"S\":\"x\",\"N\":\"1\"}}", "a"},
    {"type key twice", "{\"a\":{\"S\":\"x\",\"S\":\"y\"}}", "a"},
    {"unknown type", "{\"a\":{\"X\":\"1\"}}", "a"},
    {"lowercase type", "{\"a\":{\"s\":\"x\"}}", "a"},
    {"S not a string", "{\"a\":{\"S\":1}}", "a"},
    {"S null", "{\"a\":{\"S\":null}}", "a"},
    {"S bad UTF-8", "{\"a\":{\"S\":\"ok\xFF\"}}", "a"},
    {"S overlong UTF-8", "{\"a\":{\"S\":\"\xC0\xAF\"}}", "a"},
    {"S truncated UTF-8", "{\"a\":{\"S\":\"\xE6\xBC\"}}", "a"},
    {"S surrogate in UTF-8", "{\"a\":{\"S\":\"\xED\xA0\x80\"}}", "a"},
    {"S above U+10FFFF", "{\"a\":{\"S\":\"\xF4\x90\x80\x80\"}}", "a"},
    {"N not a string", "{\"a\":{\"N\":1}}", "a"},
    {"N empty", "{\"a\":{\"N\":\"\"}}", "a"},
    {"N word", "{\"a\":{\"N\":\"abc\"}}", "a"},
    {"N hex", "{\"a\":{\"N\":\"0x10\"}}", "a"},
    {"N NaN", "{\"a\":{\"N\":\"NaN\"}}", "a"},
    {"N Infinity", "{\"a\":{\"N\":\"Infinity\"}}", "a"},
    {"N leading space", "{\"a\":{\"N\":\" 1\"}}", "a"},
    {"N trailing junk", "{\"a\":{\"N\":\"1,2\"}}", "a"},
    {"N two points", "{\"a\":{\"N\":\"1.2.3\"}}", "a"},
    {"N bare exponent", "{\"a\":{\"N\":\"1e\"}}", "a"},
    {"N signed bare exponent", "{\"a\":{\"N\":\"1e+\"}}", "a"},
    {"N only sign", "{\"a\":{\"N\":\"-\"}}", "a"},
    {"N only point", "{\"a\":{\"N\":\".\"}}", "a"},
    {"N 39 significant digits",
     "{\"a\":{\"N\":\"123456789012345678901234567890123456789\"}}", "a"},
    {"N 39 digits after zeros",
     "{\"a\":{\"N\":\"0.000123456789012345678901234567890123456789\"}}", "a"},
    {"N above range", "{\"a\":{\"N\":\"1E126\"}}", "a"},
    {"N below range", "{\"a\":{\"N\":\"1E-131\"}}", "a"},
    {"N huge exponent", "{\"a\":{\"N\":\"1E99999999999999999999\"}}", "a"},
    {"B not a string", "{\"a\":{\"B\":true}}", "a"},
    {"B bad character", "{\"a\":{\"B\":\"ab$d\"}}", "a"},
    {"B bad length", "{\"a\":{\"B\":\"abc\"}}", "a"},
    {"B padding inside", "{\"a\":{\"B\":\"a=bc\"}}", "a"},
    {"B three pads", "{\"a\":{\"B\":\"a===\"}}", "a"},
    {"B whitespace", "{\"a\":{\"B\":\"YW Jj\"}}", "a"},
    {"BOOL a string", "{\"a\":{\"BOOL\":\"true\"}}", "a"},
    {"BOOL a number", "{\"a\":{\"BOOL\":1}}", "a"},
    {"NULL false", "{\"a\":{\"NULL\":false}}", "a"},
    {"NULL null", "{\"a\":{\"NULL\":null}}", "a"},
    {"M an array", "{\"a\":{\"M\":[]}}", "a"},
    {"L an object", "{\"a\":{\"L\":{}}}", "a"},
    {"M bad member", "{\"a\":{\"M\":{\"b\":{\"S\":1}}}}", "a.b"},
    {"M bad deep member",
     "{\"a\":{\"M\":{\"b\":{\"L\":[{\"NULL\":true},{\"M\":{\"c\":{}}}]}}}}",
     "a.b[1].c"},
    {"M name twice",
     "{\"a\":{\"M\":{\"b\":{\"S\":\"1\"},\"b\":{\"S\":\"2\"}}}}", "a"},
    {"M name bad UTF-8", "{\"a\":{\"M\":{\"\xFF\":{\"S\":\"1\"}}}}", "a"},
    {"L bad element", "{\"a\":{\"L\":[{\"S\":\"x\"},{\"N\":\"x\"}]}}", "a[1]"},
    {"SS empty", "{\"a\":{\"SS\":[]}}", "a"},
    {"SS not an array", "{\"a\":{\"SS\":\"x\"}}", "a"},
    {"SS an object", "{\"a\":{\"SS\":{}}}", "a"},
    {"SS number element", "{\"a\":{\"SS\":[\"x\",1]}}", "a[1]"},
    {"SS bad UTF-8 element", "{\"a\":{\"SS\":[\"\xFE\"]}}", "a[0]"},
    {"SS duplicate", "{\"a\":{\"SS\":[\"x\",\"y\",\"x\"]}}", "a"},
    {"SS duplicate empty", "{\"a\":{\"SS\":[\"\",\"\"]}}", "a"},
    {"NS empty", "{\"a\":{\"NS\":[]}}", "a"},
    {"NS bad element", "{\"a\":{\"NS\":[\"1\",\"x\"]}}", "a[1]"},
    {"NS number element", "{\"a\":{\"NS\":[1]}}", "a[0]"},
    {"NS duplicate", "{\"a\":{\"NS\":[\"2\",\"2\"]}}", "a"},
    {"NS numerically equal", "{\"a\":{\"NS\":[\"1\",\"1.0\",\"3\"]}}", "a"},
    {"NS equal by exponent", "{\"a\":{\"NS\":[\"100\",\"1E2\"]}}", "a"},
    {"NS two zeros", "{\"a\":{\"NS\":[\"0\",\"-0.00\"]}}", "a"},
    {"BS empty", "{\"a\":{\"BS\":[]}}", "a"},
    {"BS bad element", "{\"a\":{\"BS\":[\"AA==\",\"A\"]}}", "a[1]"},
    {"BS duplicate", "{\"a\":{\"BS\":[\"AAE=\",\"AAE=\"]}}", "a"},
    /* Non-zero pad bits (RFC 4648 §3.5): not a second spelling of AAE=. */
    {"BS non-canonical element", "{\"a\":{\"BS\":[\"AAE=\",\"AAF=\"]}}",
     "a[1]"},
    {"empty attribute name", "{\"\":{\"S\":\"x\"}}", "item"},
    {"attribute twice", "{\"a\":{\"S\":\"x\"},\"a\":{\"S\":\"y\"}}", "a"},
    {"attribute name bad UTF-8", "{\"\xC3\":{\"S\":\"x\"}}", "item"},
    {"second attribute bad", "{\"ok\":{\"S\":\"x\"},\"bad\":{\"N\":\"\"}}",
     "bad"},
};

START_TEST(invalid_attribute_values)
{
    struct error_info err = {0};
    const char *name = invalid_rows[_i].name;
    cJSON *item = parse(invalid_rows[_i].item), *plain = NULL;

    enum result r = item_validate(item, &err);
    ck_assert_msg(r == RESULT_INVALID_INPUT, "%s: got %s", name, result_str(r));
    ck_assert_msg(strcmp(err.field, invalid_rows[_i].field) == 0,
                  "%s: field '%s', want '%s'", name, err.field,
                  invalid_rows[_i].field);
    ck_assert_msg(err.message[0] != '\0', "%s: no message", name);

    /* Conversion validates too, and leaves *out alone. */
    error_clear(&err);
    r = item_to_json(item, &plain, &err);
    ck_assert_msg(r == RESULT_INVALID_INPUT, "%s: converted", name);
    ck_assert_ptr_null(plain);
    ck_assert_str_eq(err.field, invalid_rows[_i].field);
    ck_assert_uint_ge(item_size_bytes(item), 0); /* must not crash */
    cJSON_Delete(item);
}
END_TEST

/* Values at the edges that DynamoDB accepts. */
static const char *const valid_rows[] = {
    "{\"a\":{\"S\":\"\"}}",
    "{\"a\":{\"B\":\"\"}}",
    "{\"a\":{\"B\":\"AA==\"}}",
    "{\"a\":{\"B\":\"AAA=\"}}",
    "{\"a\":{\"B\":\"+/+/\"}}",
    "{\"a\":{\"SS\":[\"\"]}}",
    "{\"a\":{\"SS\":[\"x\",\"X\",\"x \"]}}",
    "{\"a\":{\"NS\":[\"0\",\"1\",\"-1\",\"1E-130\"]}}",
    "{\"a\":{\"NS\":[\"1.5\",\"15\",\"0.15\"]}}",
    "{\"a\":{\"BS\":[\"\",\"AA==\",\"AAA=\"]}}",
    "{\"a\":{\"N\":\"-0\"}}",
    "{\"a\":{\"N\":\"0e999999\"}}",
    "{\"a\":{\"N\":\"00000000000000000000000000000000000000000001\"}}",
    "{\"a\":{\"N\":\"1000000000000000000000000000000000000000000000\"}}",
    "{\"a\":{\"N\":\"9.9999999999999999999999999999999999999E125\"}}",
    "{\"a\":{\"N\":\"0.0000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000001\"}}",
    "{\"a\":{\"M\":{\"\":{\"S\":\"empty map key\"}}}}",
    "{\"a\":{\"M\":{\"b\":{\"S\":\"1\"},\"B\":{\"S\":\"2\"}}}}",
    "{\"a\":{\"L\":[{\"S\":\"x\"},{\"S\":\"x\"}]}}",
    "{\"\xE5\x90\x8D\xF0\x9F\x98\x80\":{\"NULL\":true}}",
};

START_TEST(valid_edge_values)
{
    struct error_info err = {0};
    cJSON *item = parse(valid_rows[_i]);
    ck_assert_msg(item_validate(item, &err) == RESULT_OK, "%s: %s",
                  valid_rows[_i], err.message);
    cJSON_Delete(item);
}
END_TEST

/* ---- Plain JSON that cannot become an item ---------------------------- */

static const struct {
    const char *name;
    const char *plain;
    const char *field;
} bad_plain_rows[] = {
    {"not an object", "[1]", "item"},
    {"number too big", "{\"a\":1e300}", "a"},
    {"number too small", "{\"a\":{\"b\":[1e-200]}}", "a.b[0]"},
    {"bad UTF-8 value", "{\"a\":{\"b\":\"\xFF\"}}", "a.b"},
    {"bad UTF-8 name", "{\"\xFF\":1}", "item"},
    {"bad UTF-8 key", "{\"a\":{\"\xFF\":1}}", "a"},
    {"empty name", "{\"\":1}", "item"},
    {"key twice", "{\"a\":{\"x\":1,\"x\":2}}", "a"},
    {"name twice", "{\"a\":1,\"a\":2}", "a"},
    {"deep element", "{\"a\":[1,[2,[3,1e999]]]}", "a[1][1][1]"},
};

START_TEST(invalid_plain_json)
{
    struct error_info err = {0};
    cJSON *plain = parse(bad_plain_rows[_i].plain), *item = NULL;
    enum result r = item_from_json(plain, &item, &err);
    ck_assert_msg(r == RESULT_INVALID_INPUT, "%s: got %s",
                  bad_plain_rows[_i].name, result_str(r));
    ck_assert_ptr_null(item);
    ck_assert_msg(strcmp(err.field, bad_plain_rows[_i].field) == 0,
                  "%s: field '%s'", bad_plain_rows[_i].name, err.field);
    cJSON_Delete(plain);
}
END_TEST

START_TEST(raw_plain_nodes)
{
    struct error_info err = {0};
    cJSON *plain = cJSON_CreateObject(), *item = NULL;
    cJSON_AddItemToObject(plain, "n", cJSON_CreateRaw("1.50E+3"));
    ck_assert_int_eq(item_from_json(plain, &item, &err), RESULT_OK);
    ck_assert_str_eq(item_get_n(item, "n"), "1.50E+3");
    cJSON_Delete(item);
    item = NULL;

    /* Raw text that is not a number never reaches an item. */
    cJSON_AddItemToObject(plain, "x", cJSON_CreateRaw("1,\"admin\":true"));
    ck_assert_int_eq(item_from_json(plain, &item, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "x");
    ck_assert_ptr_null(item);
    cJSON_Delete(plain);
}
END_TEST

/* ---- Builders, setters and accessors ------------------------------------ */

START_TEST(builders)
{
    static const unsigned char bytes[] = {0x00, 0xFF, 0x10, 'h', 'i'};
    struct error_info err = {0};
    cJSON *av = NULL;

    struct {
        cJSON *av;
        const char *want;
    } rows[] = {
        {item_av_s("h\xC3\xA9"), "{\"S\":\"h\xC3\xA9\"}"},
        {item_av_i64(-12), "{\"N\":\"-12\"}"},
        {item_av_i64(INT64_MIN), "{\"N\":\"-9223372036854775808\"}"},
        {item_av_bool(true), "{\"BOOL\":true}"},
        {item_av_bool(false), "{\"BOOL\":false}"},
        {item_av_null(), "{\"NULL\":true}"},
        {item_av_m(NULL), "{\"M\":{}}"},
        {item_av_l(NULL), "{\"L\":[]}"},
        {item_av_b("hello", 5), "{\"B\":\"aGVsbG8=\"}"},
        {item_av_b(bytes, sizeof(bytes)), "{\"B\":\"AP8QaGk=\"}"},
        {item_av_b(NULL, 0), "{\"B\":\"\"}"},
    };
    for (int i = 0; i < ROWS(rows); i++) {
        assert_prints(rows[i].av, rows[i].want, rows[i].want);
        ck_assert_int_eq(item_av_validate(rows[i].av, NULL, &err), RESULT_OK);
        cJSON_Delete(rows[i].av);
    }

    ck_assert_int_eq(item_av_n("1.50", "n", &av, &err), RESULT_OK);
    assert_prints(av, "{\"N\":\"1.50\"}", "item_av_n keeps text");
    cJSON_Delete(av);
    av = NULL;
    ck_assert_int_eq(item_av_n("1.5.0", "n", &av, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "n");
    ck_assert_int_eq(item_av_n(NULL, NULL, &av, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "value");
    ck_assert_ptr_null(av);
}
END_TEST

START_TEST(set_builders)
{
    struct error_info err = {0};
    cJSON *av = NULL;
    const char *tags[] = {"progress", "complete", "error"};
    const char *dup[] = {"a", "b", "a"};
    const char *with_null[] = {"a", NULL};
    const char *nums[] = {"1", "-2.5", "12345678901234567890"};
    const char *same[] = {"10", "1E1"};
    const char *bad[] = {"1", "one"};

    ck_assert_int_eq(item_av_ss(tags, 3, "event_types", &av, &err), RESULT_OK);
    assert_prints(av, "{\"SS\":[\"progress\",\"complete\",\"error\"]}", "SS");
    cJSON_Delete(av);
    av = NULL;
    ck_assert_int_eq(item_av_ns(nums, 3, "n", &av, &err), RESULT_OK);
    assert_prints(av, "{\"NS\":[\"1\",\"-2.5\",\"12345678901234567890\"]}",
                  "NS");
    cJSON_Delete(av);
    av = NULL;

    ck_assert_int_eq(item_av_ss(tags, 0, "event_types", &av, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "event_types");
    ck_assert_ptr_nonnull(strstr(err.message, "empty"));
    ck_assert_int_eq(item_av_ss(dup, 3, "tags", &av, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "tags");
    ck_assert_int_eq(item_av_ss(with_null, 2, "tags", &av, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "tags[1]");
    ck_assert_int_eq(item_av_ns(same, 2, "n", &av, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "n");
    ck_assert_int_eq(item_av_ns(bad, 2, "n", &av, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "n[1]");
    ck_assert_ptr_null(av);
    /* The caller's array is not reordered. */
    ck_assert_str_eq(dup[0], "a");
    ck_assert_str_eq(dup[1], "b");
}
END_TEST

START_TEST(accessors_and_setters)
{
    struct error_info err = {0};
    cJSON *item = item_new();
    const char *types[] = {"progress", "complete"};
    int64_t v = 7;
    bool b = false;
    double d = 0;
    unsigned char *bytes = NULL;
    size_t len = 0;

    item_set_s(item, "pk", "CONN#abc");
    item_set_i64(item, "version", 3);
    item_set_bool(item, "flag", true);
    item_set_null(item, "nothing");
    item_set_b(item, "blob", "\x01\x02\x03", 3);
    ck_assert_int_eq(item_set_n(item, "ratio", "0.25", &err), RESULT_OK);
    ck_assert_int_eq(item_set_ss(item, "event_types", types, 2, &err),
                     RESULT_OK);
    cJSON *meta = item_new();
    item_set_s(meta, "ua", "wscat");
    item_set_m(item, "metadata", meta);
    cJSON *list = cJSON_CreateArray();
    cJSON_AddItemToArray(list, item_av_i64(1));
    item_set_l(item, "list", list);

    ck_assert_str_eq(item_get_s(item, "pk"), "CONN#abc");
    ck_assert_ptr_null(item_get_s(item, "version")); /* wrong type */
    ck_assert_ptr_null(item_get_s(item, "absent"));
    ck_assert_int_eq(item_get_i64(item, "version", &v), RESULT_OK);
    ck_assert(v == 3);
    ck_assert_int_eq(item_get_double(item, "ratio", &d), RESULT_OK);
    ck_assert(d == 0.25);
    ck_assert_int_eq(item_get_bool(item, "flag", &b), RESULT_OK);
    ck_assert(b);
    ck_assert_str_eq(item_get_s(item_get_m(item, "metadata"), "ua"), "wscat");
    ck_assert_int_eq(cJSON_GetArraySize(item_get_ss(item, "event_types")), 2);
    ck_assert_str_eq(
        cJSON_GetArrayItem(item_get_ss(item, "event_types"), 1)->valuestring,
        "complete");
    ck_assert_int_eq(cJSON_GetArraySize(item_get_l(item, "list")), 1);
    ck_assert_ptr_null(item_get_ns(item, "event_types"));
    ck_assert_ptr_nonnull(item_get_av(item, "nothing"));
    ck_assert_int_eq(item_get_b(item, "blob", &bytes, &len), RESULT_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(bytes, "\x01\x02\x03", 3) == 0);
    free(bytes);

    /* Failures say why and leave *out alone. */
    v = 99;
    ck_assert_int_eq(item_get_i64(item, "absent", &v), RESULT_NOT_FOUND);
    ck_assert_int_eq(item_get_i64(item, "pk", &v), RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_get_i64(item, "ratio", &v), RESULT_INVALID_INPUT);
    ck_assert(v == 99);
    ck_assert_int_eq(item_get_bool(item, "pk", &b), RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_get_bool(item, "absent", &b), RESULT_NOT_FOUND);
    ck_assert_int_eq(item_get_double(item, "flag", &d), RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_get_b(item, "pk", &bytes, &len),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(item_get_b(item, "absent", &bytes, &len),
                     RESULT_NOT_FOUND);

    /* Setters replace in place; failed setters change nothing. */
    item_set_i64(item, "version", 4);
    item_set_s(item, "pk", "CONN#def");
    ck_assert_int_eq(item_get_i64(item, "version", &v), RESULT_OK);
    ck_assert(v == 4);
    ck_assert_str_eq(item_get_s(item, "pk"), "CONN#def");
    ck_assert_int_eq(cJSON_GetArraySize(item), 9);
    ck_assert_int_eq(item_set_n(item, "version", "x", &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "version");
    ck_assert_int_eq(item_set_ss(item, "event_types", types, 0, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "event_types");
    ck_assert_int_eq(item_set_ns(item, "nums", types, 1, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "nums[0]");
    ck_assert_int_eq(item_get_i64(item, "version", &v), RESULT_OK);
    ck_assert(v == 4);
    ck_assert_int_eq(item_validate(item, &err), RESULT_OK);

    item_remove(item, "version");
    item_remove(item, "absent");
    ck_assert_ptr_null(item_get_av(item, "version"));
    ck_assert_int_eq(cJSON_GetArraySize(item), 8);
    cJSON_Delete(item);
}
END_TEST

START_TEST(binary_round_trip)
{
    /* Sizes around base64's 3-byte groups and the encoder's chunk size. */
    static const size_t sizes[] = {0, 1,     2,     3,     4,
                                   5, 49151, 49152, 49153, 100000};
    unsigned char *data = malloc(100000);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < 100000; i++)
        data[i] = (unsigned char)(i * 131 + 7);

    for (int i = 0; i < ROWS(sizes); i++) {
        struct error_info err = {0};
        cJSON *item = item_new();
        unsigned char *out = NULL;
        size_t len = 12345;
        item_set_b(item, "b", data, sizes[i]);
        ck_assert_int_eq(item_validate(item, &err), RESULT_OK);
        ck_assert_uint_eq(item_size_bytes(item), 1 + sizes[i]);
        ck_assert_int_eq(item_get_b(item, "b", &out, &len), RESULT_OK);
        ck_assert_uint_eq(len, sizes[i]);
        ck_assert_ptr_nonnull(out);
        ck_assert(sizes[i] == 0 || memcmp(out, data, sizes[i]) == 0);
        free(out);
        cJSON_Delete(item);
    }
    free(data);
}
END_TEST

/* ---- Sizes ------------------------------------------------------------------
 */

static const struct {
    const char *name;
    const char *item;
    size_t size_bytes; /* worked out by hand from the Developer Guide */
} size_rows[] = {
    {"S: name 1 + 5 bytes", "{\"a\":{\"S\":\"hello\"}}", 6},
    {"S empty", "{\"a\":{\"S\":\"\"}}", 1},
    {"N 3 digits: 2 + 2 + 1", "{\"ab\":{\"N\":\"123\"}}", 5},
    {"N zero: 1 + 1", "{\"n\":{\"N\":\"0\"}}", 2},
    {"N trailing zeros trimmed", "{\"n\":{\"N\":\"1000\"}}", 3},
    {"N leading zeros trimmed", "{\"n\":{\"N\":\"-0012.340\"}}", 4},
    {"N 38 digits: 1 + 19 + 1",
     "{\"n\":{\"N\":\"12345678901234567890123456789012345678\"}}", 21},
    {"N 2^63-1, 19 digits: 1 + 10 + 1",
     "{\"n\":{\"N\":\"9223372036854775807\"}}", 12},
    {"B 5 raw bytes", "{\"b\":{\"B\":\"aGVsbG8=\"}}", 6},
    {"BOOL", "{\"t\":{\"BOOL\":true}}", 2},
    {"NULL", "{\"z\":{\"NULL\":true}}", 2},
    {"M empty: 1 + 3", "{\"m\":{\"M\":{}}}", 4},
    {"L empty: 1 + 3", "{\"l\":{\"L\":[]}}", 4},
    {"M two members: 1 + 3 + (1+1+2) + (1+2+2)",
     "{\"m\":{\"M\":{\"x\":{\"S\":\"ab\"},\"yy\":{\"N\":\"5\"}}}}", 13},
    {"L two elements: 1 + 3 + (1+3) + (1+1)",
     "{\"l\":{\"L\":[{\"S\":\"abc\"},{\"BOOL\":false}]}}", 10},
    {"SS: 2 + 1 + 2", "{\"ss\":{\"SS\":[\"a\",\"bc\"]}}", 5},
    {"NS: 2 + 2 + 2 + 3", "{\"ns\":{\"NS\":[\"1\",\"22\",\"333\"]}}", 9},
    {"BS: 2 + 1 + 3", "{\"bs\":{\"BS\":[\"AA==\",\"AAAA\"]}}", 6},
    {"UTF-8: 3-byte name + 4-byte emoji",
     "{\"\xE5\x90\x8D\":{\"S\":\"\xF0\x9F\x98\x80\"}}", 7},
    {"key and ttl: (2+6) + (3+1+1)",
     "{\"pk\":{\"S\":\"CONN#1\"},\"ttl\":{\"N\":\"1700000000\"}}", 13},
    {"nested: 1 + 3 + (1+1 + 3 + (1+1))",
     "{\"a\":{\"M\":{\"b\":{\"L\":[{\"NULL\":true}]}}}}", 11},
    {"empty item", "{}", 0},
};

START_TEST(sizes)
{
    cJSON *item = parse(size_rows[_i].item);
    size_t got = item_size_bytes(item);
    ck_assert_msg(got == size_rows[_i].size_bytes, "%s: %zu bytes, want %zu",
                  size_rows[_i].name, got, size_rows[_i].size_bytes);
    cJSON_Delete(item);
}
END_TEST

/* An item of exactly `size_bytes`: "pk" (2 + 1) and "data" (4 + rest). */
static cJSON *item_of_size(size_t size_bytes)
{
    size_t len = size_bytes - 3 - 4;
    char *data = malloc(len + 1);
    ck_assert_ptr_nonnull(data);
    memset(data, 'x', len);
    data[len] = '\0';
    cJSON *item = item_new();
    item_set_s(item, "pk", "k");
    item_set_s(item, "data", data);
    free(data);
    ck_assert_uint_eq(item_size_bytes(item), size_bytes);
    return item;
}

START_TEST(size_limit)
{
    struct error_info err = {0};
    cJSON *under = item_of_size(ITEM_MAX_SIZE_BYTES - 1);
    cJSON *at = item_of_size(ITEM_MAX_SIZE_BYTES);
    cJSON *over = item_of_size(ITEM_MAX_SIZE_BYTES + 1);

    ck_assert_int_eq(item_check_size(under, NULL, &err), RESULT_OK);
    ck_assert_int_eq(item_check_size(at, NULL, &err), RESULT_OK);
    ck_assert_int_eq(item_check_size(over, NULL, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "data"); /* the largest attribute */
    ck_assert_ptr_nonnull(strstr(err.message, "409601 bytes"));
    ck_assert_ptr_nonnull(strstr(err.message, "400 KB"));
    error_clear(&err);
    ck_assert_int_eq(item_check_size(over, "payload", &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.field, "payload");
    ck_assert_int_eq(item_check_size(over, NULL, NULL), RESULT_INVALID_INPUT);

    cJSON_Delete(under);
    cJSON_Delete(at);
    cJSON_Delete(over);
}
END_TEST

/* Error paths and messages, whole: where a walk adds names and indices,
 * an empty name at an empty start, and paths cut at 255 bytes. */
enum path_call { PATH_ITEM, PATH_AV, PATH_AV_FROM_JSON, PATH_FROM_JSON };

static const struct {
    const char *name;
    enum path_call call;
    const char *json; /* "<A>"/"<B>": 200 'a' / 100 'b' */
    const char *field;
    const char *want_field;
    const char *want_message; /* "<P>" stands for want_field */
} path_rows[] = {
    {"nested list", PATH_ITEM,
     "{\"a\":{\"M\":{\"b\":{\"L\":[{\"S\":\"x\"},{\"BOOL\":1}]}}}}", NULL,
     "a.b[1]", "<P>: a BOOL value must be true or false"},
    {"set twice", PATH_AV, "{\"L\":[{\"S\":\"x\"},{\"SS\":[\"x\",\"x\"]}]}",
     "payload", "payload[1]", "<P>: a SS holds the same value twice"},
    {"default root", PATH_AV, "{\"L\":[{\"NULL\":false}]}", NULL, "value[0]",
     "<P>: a NULL value must be true"},
    {"empty key", PATH_ITEM, "{\"a\":{\"M\":{\"\":{\"N\":\"1\",\"S\":\"\"}}}}",
     NULL, "a.", "<P>: an AttributeValue has more than one key"},
    {"set element", PATH_ITEM, "{\"a\":{\"NS\":[\"1\",\"2\",true]}}", NULL,
     "a[2]", "<P>: a N value must be a JSON string"},
    {"not an item", PATH_ITEM, "[1]", NULL, "item",
     "item: an item must be a JSON object"},
    {"empty start", PATH_AV_FROM_JSON, "{\"\":{\"k\":[true,{\"m\":1e999}]}}",
     "", "k[1].m", "<P>: a number is not finite"},
    {"plain item", PATH_FROM_JSON, "{\"a\":{\"b\":[[null,{\"c\":1e999}]]}}",
     NULL, "a.b[0][1].c", "<P>: a number is not finite"},
    {"long names cut", PATH_ITEM, "{\"<A>\":{\"M\":{\"<B>\":{\"N\":\"x\"}}}}",
     NULL, "<A>.<B>", "<P>: an N value is not a decimal number"},
    {"long root cut", PATH_AV, "{\"BOOL\":1}", "<B><B><B>", "<B><B><B>",
     "<P>: a BOOL value must be true or false"},
};

/* `t` with "<A>" as 200 'a', "<B>" as 100 'b' and "<P>" as `p`. */
static char *expand(const char *t, const char *p)
{
    size_t cap = strlen(t) + 1024, n = 0;
    char *out = malloc(cap);
    for (; *t; t++) {
        if (!strncmp(t, "<A>", 3) || !strncmp(t, "<B>", 3)) {
            size_t rep = t[1] == 'A' ? 200 : 100;
            memset(out + n, t[1] == 'A' ? 'a' : 'b', rep);
            n += rep;
            t += 2;
        } else if (!strncmp(t, "<P>", 3) && p) {
            memcpy(out + n, p, strlen(p));
            n += strlen(p);
            t += 2;
        } else {
            out[n++] = *t;
        }
    }
    out[n] = '\0';
    return out;
}

START_TEST(path_messages)
{
    struct error_info err = {0};
    char *json = expand(path_rows[_i].json, NULL);
    char *field =
        path_rows[_i].field ? expand(path_rows[_i].field, NULL) : NULL;
    char *want = expand(path_rows[_i].want_field, NULL);
    if (strlen(want) > 255)
        want[255] = '\0'; /* the path's cap */
    char *want_message = expand(path_rows[_i].want_message, want);
    cJSON *in = parse(json), *out = NULL;
    enum result r = RESULT_OK;
    switch (path_rows[_i].call) {
    case PATH_ITEM:
        r = item_validate(in, &err);
        break;
    case PATH_AV:
        r = item_av_validate(in, field, &err);
        break;
    case PATH_AV_FROM_JSON:
        r = item_av_from_json(in, field, &out, &err);
        break;
    case PATH_FROM_JSON:
        r = item_from_json(in, &out, &err);
        break;
    }
    ck_assert_msg(r == RESULT_INVALID_INPUT, "%s: %s", path_rows[_i].name,
                  result_str(r));
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err.message, want_message);
    if (strlen(want) >= sizeof(err.field))
        want[sizeof(err.field) - 1] = '\0'; /* error_field() cuts it */
    ck_assert_str_eq(err.field, want);
    cJSON_Delete(in);
    free(json);
    free(field);
    free(want);
    free(want_message);
}
END_TEST

/* With names used twice, the message names the least of them, for a few
 * members and for many. */
START_TEST(duplicate_names)
{
    for (int many = 0; many < 2; many++) {
        char json[2048] = "{";
        size_t n = 1;
        const char *names[] = {"z", "b", "q", "z", "b"};
        for (int i = 0; i < (many ? 40 : 0); i++)
            n += (size_t)snprintf(json + n, sizeof(json) - n,
                                  "\"m%02d\":{\"N\":\"1\"},", i);
        for (int i = 0; i < 5; i++)
            n += (size_t)snprintf(json + n, sizeof(json) - n,
                                  "\"%s\":{\"N\":\"1\"},", names[i]);
        json[n - 1] = '}';
        cJSON *item = parse(json);
        struct error_info err = {0};
        ck_assert_int_eq(item_validate(item, &err), RESULT_INVALID_INPUT);
        ck_assert_str_eq(err.field, "b");
        ck_assert_str_eq(err.message, "attribute 'b' appears twice");

        char *wrapped = malloc(strlen(json) + 32);
        sprintf(wrapped, "{\"a\":{\"M\":%s}}", json);
        cJSON *outer = parse(wrapped);
        ck_assert_int_eq(item_validate(outer, &err), RESULT_INVALID_INPUT);
        ck_assert_str_eq(err.field, "a");
        ck_assert_str_eq(err.message, "a: the map has the name 'b' twice");
        cJSON_Delete(outer);
        free(wrapped);
        cJSON_Delete(item);
    }
}
END_TEST

Suite *item_suite(void)
{
    Suite *s = suite_create("item");
    TCase *t = tcase_create("item");
    tcase_add_loop_test(t, exact_round_trip, 0, ROWS(exact_rows));
    tcase_add_loop_test(t, lossy_round_trip, 0, ROWS(lossy_rows));
    tcase_add_loop_test(t, plain_round_trip, 0, ROWS(plain_rows));
    tcase_add_loop_test(t, numbers_from_doubles, 0, ROWS(double_rows));
    tcase_add_loop_test(t, numbers_to_i64, 0, ROWS(i64_rows));
    tcase_add_test(t, big_integers_stay_exact);
    tcase_add_test(t, json_i64);
    tcase_add_test(t, nested_ten_levels);
    tcase_add_test(t, depth_limit);
    tcase_add_loop_test(t, invalid_attribute_values, 0, ROWS(invalid_rows));
    tcase_add_loop_test(t, valid_edge_values, 0, ROWS(valid_rows));
    tcase_add_loop_test(t, invalid_plain_json, 0, ROWS(bad_plain_rows));
    tcase_add_test(t, raw_plain_nodes);
    tcase_add_test(t, builders);
    tcase_add_test(t, set_builders);
    tcase_add_test(t, accessors_and_setters);
    tcase_add_test(t, binary_round_trip);
    tcase_add_loop_test(t, sizes, 0, ROWS(size_rows));
    tcase_add_test(t, size_limit);
    tcase_add_loop_test(t, path_messages, 0, ROWS(path_rows));
    tcase_add_test(t, duplicate_names);
    suite_add_tcase(s, t);
    return s;
}
