/* RS256 tokens minted by the benchmark: one per $connect, or reused. */
#ifndef STREAMER_BENCH_TOKENS_H
#define STREAMER_BENCH_TOKENS_H

/* A signer with the bench's private key; built once. */
struct tokens;

/*
 * Reads the PEM private key at `path` (scripts/bench makes it). NULL,
 * after printing why, when it cannot. Free with tokens_free().
 */
struct tokens *tokens_new(const char *path);
void tokens_free(struct tokens *t);

/*
 * A fresh RS256 token for `sub` / `tenant`, valid for a day, distinct
 * from every other one minted (a jti claim carries `serial`): the
 * function cannot have seen it before, so its $connect pays for the
 * whole RSA check. Caller frees.
 */
char *tokens_mint(struct tokens *t, const char *sub, const char *tenant,
                  long serial);

#endif
