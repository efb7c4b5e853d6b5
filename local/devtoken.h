/* A development JWT (RS256) for `make run`, signed with a local key. */
#ifndef STREAMER_LOCAL_DEVTOKEN_H
#define STREAMER_LOCAL_DEVTOKEN_H

/*
 * Prints an RS256 JWT signed by the PEM private key at `key_path` (sub
 * "dev-user", tenant_id "dev-tenant", exp in 24 h; iss and aud from
 * JWT_ISSUER / JWT_AUDIENCE when set) and a newline on stdout. Returns 0,
 * or -1 (logged, nothing printed) when the key cannot be read or used.
 */
int devtoken_print(const char *key_path);

#endif
