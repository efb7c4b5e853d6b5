/* Fuzz target: DynamoDB answers read by the stores (items and pages). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "connections.h"
#include "fake_aws.h"
#include "requests.h"
#include "subscriptions.h"

/* What a stored connection or request read back must hold. */
static void check_conn(const struct connection *c)
{
    fake_aws_require(c->connection_id && c->user_id && c->tenant_id,
                     "a connection without its ids");
}

static void check_req(const struct request *q)
{
    fake_aws_require(q->request_id && q->connection_id && q->action &&
                         req_status_str(q->status) != NULL,
                     "a request without its ids");
}

static void run(struct store *s, uint8_t op, const uint8_t *body, size_t n)
{
    int64_t deadline = fake_aws_deadline(900);
    struct error_info err;
    error_clear(&err);
    enum result r = RESULT_OK;
    switch (op % 8) {
    case 0: {
        struct connection c;
        if ((r = conn_get(s, "c1", &c, deadline, &err)) == RESULT_OK)
            check_conn(&c);
        conn_cleanup(&c);
        break;
    }
    case 1: {
        struct conn_page p = {0};
        if ((r = conn_list_by_user(s, "u1", 0, NULL, &p, deadline, &err)) ==
            RESULT_OK)
            for (size_t i = 0; i < p.count; i++)
                check_conn(&p.items[i]);
        conn_page_cleanup(&p);
        break;
    }
    case 2: {
        struct req_page p = {0};
        if ((r = req_list_by_status(s, REQ_PENDING, 0, NULL, &p, deadline,
                                    &err)) == RESULT_OK)
            for (size_t i = 0; i < p.count; i++)
                check_req(&p.items[i]);
        req_page_cleanup(&p);
        break;
    }
    case 3: {
        struct sub_page p = {0};
        if ((r = sub_list_by_connection(s, "c1", 0, NULL, &p, deadline,
                                        &err)) == RESULT_OK)
            for (size_t i = 0; i < p.count; i++)
                fake_aws_require(p.items[i].connection_id &&
                                     p.items[i].request_id,
                                 "a subscription without its ids");
        sub_page_cleanup(&p);
        break;
    }
    case 4: {
        struct connection c = {0};
        c.connection_id = strdup("c1");
        c.version = 1;
        r = conn_update_last_ping(s, &c, deadline, &err);
        conn_cleanup(&c);
        break;
    }
    case 5: {
        size_t deleted = 0;
        r = sub_delete_by_connection(s, "c1", deadline, &deleted, &err);
        break;
    }
    case 6: {
        char **ids = NULL;
        size_t count = 0;
        r = conn_delete_stale(s, 1, deadline, &ids, &count, &err);
        for (size_t i = 0; i < count; i++)
            free(ids[i]);
        free(ids);
        break;
    }
    default: {
        /* The body as one stored request item (a GetItem's "Item"). */
        cJSON *item = cJSON_ParseWithLength((const char *)body, n);
        struct request q;
        memset(&q, 0, sizeof(q));
        if (item && req_from_item(item, &q, &err) == RESULT_OK)
            check_req(&q);
        req_cleanup(&q);
        cJSON_Delete(item);
        return;
    }
    }
    if (r != RESULT_OK)
        fake_aws_require(err.type[0] != '\0', "a failure without a type");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: the store call (byte 0), the HTTP status (byte 1: mostly 200),
 * the X-Amzn-ErrorType header (byte 2: mostly none), then the body every
 * DynamoDB call of that store call is answered with.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 200, 200, 200, 400, 413, 500, 503};
    static const char *const types[] = {
        NULL,
        NULL,
        NULL,
        "ConditionalCheckFailedException",
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "ThrottlingException:http://internal.amazon.com/",
        "",
        "TransactionCanceledException",
    };
    if (size < 3)
        return 0;
    struct app *a = fake_aws_app();
    const uint8_t *body = data + 3;
    size_t n = size - 3;
    fake_aws_answer(statuses[data[1] % 8], (const char *)body, n,
                    types[data[2] % 8]);
    run(&a->store, data[0], body, n);
    fake_aws_answer_clear();
    return 0;
}
