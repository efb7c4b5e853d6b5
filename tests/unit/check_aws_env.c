/* Unit tests for credentials, region and endpoints from the environment. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aws_env.h"

/* ---- an injected environment -------------------------------------------- */

struct var {
    const char *name;
    const char *value;
};

#define MAX_VARS 6

/* The environment the current row injects; fake_get() reads it. */
static const struct var *fake_env;

static const char *fake_get(const char *name)
{
    for (int i = 0; fake_env && i < MAX_VARS && fake_env[i].name; i++)
        if (strcmp(fake_env[i].name, name) == 0)
            return fake_env[i].value;
    return NULL;
}

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* ---- credentials -------------------------------------------------------- */

struct creds_row {
    const char *name;
    struct var env[MAX_VARS];
    enum result want;
    const char *want_field; /* the variable named on failure */
    const char *want_token; /* NULL when none */
};

static const struct creds_row creds_rows[] = {
    {"all three",
     {{"AWS_ACCESS_KEY_ID", AKID},
      {"AWS_SECRET_ACCESS_KEY", SECRET},
      {"AWS_SESSION_TOKEN", "tok"}},
     RESULT_OK,
     NULL,
     "tok"},
    {"no token",
     {{"AWS_ACCESS_KEY_ID", AKID}, {"AWS_SECRET_ACCESS_KEY", SECRET}},
     RESULT_OK,
     NULL,
     NULL},
    {"empty token is none",
     {{"AWS_ACCESS_KEY_ID", AKID},
      {"AWS_SECRET_ACCESS_KEY", SECRET},
      {"AWS_SESSION_TOKEN", ""}},
     RESULT_OK,
     NULL,
     NULL},
    {"no key id",
     {{"AWS_SECRET_ACCESS_KEY", SECRET}},
     RESULT_CONFIG,
     "AWS_ACCESS_KEY_ID",
     NULL},
    {"empty key id",
     {{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", SECRET}},
     RESULT_CONFIG,
     "AWS_ACCESS_KEY_ID",
     NULL},
    {"no secret",
     {{"AWS_ACCESS_KEY_ID", AKID}, {"AWS_SESSION_TOKEN", "tok"}},
     RESULT_CONFIG,
     "AWS_SECRET_ACCESS_KEY",
     NULL},
    {"nothing", {{NULL, NULL}}, RESULT_CONFIG, "AWS_ACCESS_KEY_ID", NULL},
};

START_TEST(test_credentials_load)
{
    const struct creds_row *row = &creds_rows[_i];
    struct aws_env_credentials c;
    struct error_info err;
    error_clear(&err);
    fake_env = row->env;
    enum result r = aws_env_credentials_load(&c, fake_get, &err);
    ck_assert_msg(r == row->want, "%s: %s", row->name, result_str(r));
    if (r != RESULT_OK) {
        ck_assert_str_eq(err.field, row->want_field);
        ck_assert_msg(strstr(err.message, row->want_field) != NULL,
                      "%s: message '%s' does not name %s", row->name,
                      err.message, row->want_field);
        ck_assert_msg(strstr(err.message, SECRET) == NULL, "secret leaked");
        ck_assert_ptr_null(c.access_key_id);
        ck_assert_ptr_null(c.secret_access_key);
        ck_assert_ptr_null(c.session_token);
        return;
    }
    ck_assert_str_eq(c.access_key_id, AKID);
    ck_assert_str_eq(c.secret_access_key, SECRET);
    if (row->want_token)
        ck_assert_str_eq(c.session_token, row->want_token);
    else
        ck_assert_ptr_null(c.session_token);

    struct sigv4_credentials view;
    aws_env_credentials_view(&c, &view);
    ck_assert_ptr_eq(view.access_key_id, c.access_key_id);
    ck_assert_ptr_eq(view.secret_access_key, c.secret_access_key);
    ck_assert_ptr_eq(view.session_token, c.session_token);

    aws_env_credentials_cleanup(&c);
    ck_assert_ptr_null(c.access_key_id);
    ck_assert_ptr_null(c.secret_access_key);
    ck_assert_ptr_null(c.session_token);
    aws_env_credentials_cleanup(&c); /* twice is harmless */
    aws_env_credentials_cleanup(NULL);
}
END_TEST

/* The process environment is read when no function is injected. */
START_TEST(test_credentials_from_getenv)
{
    struct aws_env_credentials c;
    setenv("AWS_ACCESS_KEY_ID", "AKIDGETENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t", 1);
    unsetenv("AWS_SESSION_TOKEN");
    ck_assert_int_eq(aws_env_credentials_load(&c, NULL, NULL), RESULT_OK);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    ck_assert_str_eq(c.access_key_id, "AKIDGETENV");
    ck_assert_str_eq(c.secret_access_key, "s3cr3t");
    ck_assert_ptr_null(c.session_token);
    aws_env_credentials_cleanup(&c);
    /* A NULL error struct is allowed on failure too. */
    ck_assert_int_eq(aws_env_credentials_load(&c, NULL, NULL), RESULT_CONFIG);
}
END_TEST

/* The owned copy that aws.c, fanout.c and mgmt.c keep: missing key and
 * secret become "", an empty token none; the copy owns its strings. */
START_TEST(test_credentials_copy)
{
    struct sigv4_credentials from = {"AKID", "s3cr3t", "tok"};
    struct aws_env_credentials c;
    aws_env_credentials_copy(&c, &from);
    ck_assert_str_eq(c.access_key_id, "AKID");
    ck_assert_str_eq(c.secret_access_key, "s3cr3t");
    ck_assert_str_eq(c.session_token, "tok");
    ck_assert_ptr_ne(c.secret_access_key, from.secret_access_key);
    aws_env_credentials_cleanup(&c);

    struct sigv4_credentials partial = {NULL, NULL, ""};
    aws_env_credentials_copy(&c, &partial);
    ck_assert_str_eq(c.access_key_id, "");
    ck_assert_str_eq(c.secret_access_key, "");
    ck_assert_ptr_null(c.session_token);
    aws_env_credentials_cleanup(&c);

    aws_env_credentials_copy(&c, NULL);
    ck_assert_str_eq(c.access_key_id, "");
    ck_assert_ptr_null(c.session_token);
    aws_env_credentials_cleanup(&c);
}
END_TEST

/* ---- region ------------------------------------------------------------- */

struct region_row {
    const char *name;
    struct var env[MAX_VARS];
    enum result want;
    const char *want_value; /* or, on failure, the variable named */
};

static const struct region_row region_rows[] = {
    {"AWS_REGION",
     {{"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "us-east-1"}},
     RESULT_OK,
     "eu-west-1"},
    {"AWS_DEFAULT_REGION fallback",
     {{"AWS_DEFAULT_REGION", "us-east-2"}},
     RESULT_OK,
     "us-east-2"},
    {"empty AWS_REGION falls back",
     {{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", "ap-south-1"}},
     RESULT_OK,
     "ap-south-1"},
    {"none", {{NULL, NULL}}, RESULT_CONFIG, "AWS_REGION"},
    {"bad AWS_REGION",
     {{"AWS_REGION", "us east"}},
     RESULT_CONFIG,
     "AWS_REGION"},
    {"bad AWS_DEFAULT_REGION",
     {{"AWS_DEFAULT_REGION", "US-EAST-1"}},
     RESULT_CONFIG,
     "AWS_DEFAULT_REGION"},
    {"host injection",
     {{"AWS_REGION", "evil.com/x"}},
     RESULT_CONFIG,
     "AWS_REGION"},
};

START_TEST(test_region)
{
    const struct region_row *row = &region_rows[_i];
    char region[64] = "untouched";
    struct error_info err;
    error_clear(&err);
    fake_env = row->env;
    enum result r = aws_env_region(region, sizeof(region), fake_get, &err);
    ck_assert_msg(r == row->want, "%s: %s", row->name, result_str(r));
    if (r == RESULT_OK) {
        ck_assert_str_eq(region, row->want_value);
    } else {
        ck_assert_str_eq(err.field, row->want_value);
        ck_assert_ptr_nonnull(strstr(err.message, row->want_value));
        ck_assert_str_eq(region, "untouched");
    }
}
END_TEST

START_TEST(test_region_too_small)
{
    static const struct var env[MAX_VARS] = {{"AWS_REGION", "eu-west-1"}};
    char region[4] = "abc";
    fake_env = env;
    ck_assert_int_eq(aws_env_region(region, sizeof(region), fake_get, NULL),
                     RESULT_CONFIG);
    ck_assert_str_eq(region, "abc");
}
END_TEST

/* ---- endpoint URLs ------------------------------------------------------ */

struct parse_row {
    const char *url;
    int ok;
    const char *scheme, *host;
    int port;
    const char *host_header, *base_path, *normalized;
};

static const struct parse_row parse_rows[] = {
    {"http://127.0.0.1:8000", 1, "http", "127.0.0.1", 8000, "127.0.0.1:8000",
     "", "http://127.0.0.1:8000"},
    {"https://host/path", 1, "https", "host", 443, "host", "/path",
     "https://host/path"},
    {"https://host/a/b/", 1, "https", "host", 443, "host", "/a/b",
     "https://host/a/b"},
    {"https://dynamodb.us-east-1.amazonaws.com/", 1, "https",
     "dynamodb.us-east-1.amazonaws.com", 443,
     "dynamodb.us-east-1.amazonaws.com", "",
     "https://dynamodb.us-east-1.amazonaws.com"},
    {"https://host:443", 1, "https", "host", 443, "host", "", "https://host"},
    {"http://host:80/", 1, "http", "host", 80, "host", "", "http://host"},
    {"http://host:443", 1, "http", "host", 443, "host:443", "",
     "http://host:443"},
    {"HTTPS://Host.Example", 1, "https", "Host.Example", 443, "Host.Example",
     "", "https://Host.Example"},
    {"http://[::1]:8000/x", 1, "http", "[::1]", 8000, "[::1]:8000", "/x",
     "http://[::1]:8000/x"},
    {"https://abc.execute-api.eu-west-1.amazonaws.com/prod", 1, "https",
     "abc.execute-api.eu-west-1.amazonaws.com", 443,
     "abc.execute-api.eu-west-1.amazonaws.com", "/prod",
     "https://abc.execute-api.eu-west-1.amazonaws.com/prod"},
    {"", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"garbage", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"127.0.0.1:8000", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"ftp://host", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http:///path", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://:80", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host:", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host:0", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host:65536", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host:12ab", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://user:pw@host", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host/pa th", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host/?x=1", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host#frag", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://ho$t", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://[::1", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://[::1]x", 0, NULL, NULL, 0, NULL, NULL, NULL},
    {"http://host\n", 0, NULL, NULL, 0, NULL, NULL, NULL},
};

START_TEST(test_endpoint_parse)
{
    const struct parse_row *row = &parse_rows[_i];
    struct aws_env_endpoint e, before;
    struct error_info err;
    memset(&e, 0x5a, sizeof(e));
    before = e;
    error_clear(&err);
    enum result r = aws_env_endpoint_parse(row->url, &e, &err);
    if (!row->ok) {
        ck_assert_msg(r == RESULT_CONFIG, "'%s' accepted", row->url);
        ck_assert_msg(memcmp(&e, &before, sizeof(e)) == 0,
                      "'%s': out was touched", row->url);
        ck_assert_str_ne(err.message, "");
        return;
    }
    ck_assert_msg(r == RESULT_OK, "'%s': %s", row->url, err.message);
    ck_assert_str_eq(e.scheme, row->scheme);
    ck_assert_str_eq(e.host, row->host);
    ck_assert_int_eq(e.port, row->port);
    ck_assert_str_eq(e.host_header, row->host_header);
    ck_assert_str_eq(e.base_path, row->base_path);
    ck_assert_str_eq(e.url, row->normalized);
}
END_TEST

START_TEST(test_endpoint_parse_null)
{
    struct aws_env_endpoint e;
    ck_assert_int_eq(aws_env_endpoint_parse(NULL, &e, NULL), RESULT_CONFIG);
}
END_TEST

struct var_row {
    const char *service_id;
    const char *want; /* NULL: RESULT_INVALID_INPUT */
};

static const struct var_row var_rows[] = {
    {"dynamodb", "AWS_ENDPOINT_URL_DYNAMODB"},
    {"DynamoDB", "AWS_ENDPOINT_URL_DYNAMODB"},
    {"execute-api", "AWS_ENDPOINT_URL_EXECUTE_API"},
    {"ApiGatewayManagementApi", "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"},
    {"Elastic Beanstalk", "AWS_ENDPOINT_URL_ELASTIC_BEANSTALK"},
    {"", NULL},
    {NULL, NULL},
};

START_TEST(test_endpoint_var)
{
    const struct var_row *row = &var_rows[_i];
    char var[128];
    enum result r = aws_env_endpoint_var(row->service_id, var, sizeof(var));
    if (!row->want) {
        ck_assert_int_eq(r, RESULT_INVALID_INPUT);
        return;
    }
    ck_assert_int_eq(r, RESULT_OK);
    ck_assert_str_eq(var, row->want);
    /* Exactly enough room for the name and its NUL, and one byte less. */
    ck_assert_int_eq(
        aws_env_endpoint_var(row->service_id, var, strlen(row->want) + 1),
        RESULT_OK);
    ck_assert_int_eq(
        aws_env_endpoint_var(row->service_id, var, strlen(row->want)),
        RESULT_INVALID_INPUT);
}
END_TEST

struct resolve_row {
    const char *name;
    struct var env[MAX_VARS];
    const char *service_id;
    const char *region;
    const char *default_url;
    enum result want;
    const char *want_url;   /* on success */
    const char *want_field; /* on failure: the setting named */
};

static const struct resolve_row resolve_rows[] = {
    {"service variable wins",
     {{"AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"},
      {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_OK,
     "http://127.0.0.1:8000",
     NULL},
    {"global variable next",
     {{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_OK,
     "http://127.0.0.1:9000",
     NULL},
    {"another service's variable is ignored",
     {{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:7000"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_OK,
     "https://dynamodb.us-east-1.amazonaws.com",
     NULL},
    {"empty service variable counts as unset",
     {{"AWS_ENDPOINT_URL_DYNAMODB", ""},
      {"AWS_ENDPOINT_URL", "http://localhost:9000/"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_OK,
     "http://localhost:9000",
     NULL},
    {"regional default",
     {{NULL, NULL}},
     "dynamodb",
     "eu-central-1",
     NULL,
     RESULT_OK,
     "https://dynamodb.eu-central-1.amazonaws.com",
     NULL},
    {"China partition",
     {{NULL, NULL}},
     "dynamodb",
     "cn-north-1",
     NULL,
     RESULT_OK,
     "https://dynamodb.cn-north-1.amazonaws.com.cn",
     NULL},
    {"ignore configured endpoints",
     {{"AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"},
      {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"},
      {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_OK,
     "https://dynamodb.us-east-1.amazonaws.com",
     NULL},
    {"ignore=false keeps them",
     {{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"},
      {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_OK,
     "http://127.0.0.1:9000",
     NULL},
    {"execute-api variable",
     {{"AWS_ENDPOINT_URL_EXECUTE_API", "http://127.0.0.1:3001/local"}},
     "execute-api",
     NULL,
     "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
     RESULT_OK,
     "http://127.0.0.1:3001/local",
     NULL},
    {"execute-api stage URL as default",
     {{NULL, NULL}},
     "execute-api",
     NULL,
     "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
     RESULT_OK,
     "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
     NULL},
    {"bad service variable is named",
     {{"AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_CONFIG,
     NULL,
     "AWS_ENDPOINT_URL_DYNAMODB"},
    {"bad global variable is named",
     {{"AWS_ENDPOINT_URL", "ftp://x"}},
     "dynamodb",
     "us-east-1",
     NULL,
     RESULT_CONFIG,
     NULL,
     "AWS_ENDPOINT_URL"},
    {"default needs a region",
     {{NULL, NULL}},
     "dynamodb",
     NULL,
     NULL,
     RESULT_CONFIG,
     NULL,
     "AWS_REGION"},
    {"no service id",
     {{NULL, NULL}},
     "",
     "us-east-1",
     NULL,
     RESULT_CONFIG,
     NULL,
     "service"},
};

START_TEST(test_endpoint_resolve)
{
    const struct resolve_row *row = &resolve_rows[_i];
    struct aws_env_endpoint e;
    struct error_info err;
    memset(&e, 0, sizeof(e));
    error_clear(&err);
    fake_env = row->env;
    enum result r = aws_env_endpoint_resolve(
        row->service_id, row->region, row->default_url, fake_get, &e, &err);
    ck_assert_msg(r == row->want, "%s: %s (%s)", row->name, result_str(r),
                  err.message);
    if (r == RESULT_OK) {
        ck_assert_msg(strcmp(e.url, row->want_url) == 0, "%s: got %s",
                      row->name, e.url);
    } else {
        ck_assert_msg(strcmp(err.field, row->want_field) == 0, "%s: field %s",
                      row->name, err.field);
        ck_assert_ptr_nonnull(strstr(err.message, row->want_field));
        ck_assert_str_eq(e.url, "");
    }
}
END_TEST

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *aws_env_suite(void)
{
    Suite *s = suite_create("aws_env");

    TCase *tc = tcase_create("credentials");
    tcase_add_loop_test(tc, test_credentials_load, 0, ROWS(creds_rows));
    tcase_add_test(tc, test_credentials_from_getenv);
    tcase_add_test(tc, test_credentials_copy);
    suite_add_tcase(s, tc);

    tc = tcase_create("region");
    tcase_add_loop_test(tc, test_region, 0, ROWS(region_rows));
    tcase_add_test(tc, test_region_too_small);
    suite_add_tcase(s, tc);

    tc = tcase_create("endpoint");
    tcase_add_loop_test(tc, test_endpoint_parse, 0, ROWS(parse_rows));
    tcase_add_test(tc, test_endpoint_parse_null);
    tcase_add_loop_test(tc, test_endpoint_var, 0, ROWS(var_rows));
    tcase_add_loop_test(tc, test_endpoint_resolve, 0, ROWS(resolve_rows));
    suite_add_tcase(s, tc);

    return s;
}
