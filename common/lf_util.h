/* Small helpers used across modules: clocks, timestamps, identifiers,
 * base64, hashing and percent-decoding. All are thread-safe. */
#ifndef LF_UTIL_H
#define LF_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Bytes an ISO-8601 timestamp from lf_time_iso8601 needs, NUL included. */
#define LF_TIME_ISO_BYTES 40
/* Bytes an id from lf_id_new needs beyond its prefix, NUL included. */
#define LF_ID_BODY_BYTES 21
/* Bytes a UUID text needs, NUL included. */
#define LF_UUID_BYTES 37

/* Wall-clock time in microseconds since the epoch. */
int64_t lf_now_us(void);

/* Monotonic time in milliseconds, for durations and deadlines. */
int64_t lf_mono_ms(void);

/* Writes "2023-04-04T17:00:05.123456+00:00" (UTC) for us into out. */
void lf_time_iso8601(int64_t us, char out[LF_TIME_ISO_BYTES]);

/* Writes prefix followed by 20 characters of base32hex (0-9, a-v) into out:
 * 4 bytes of time, a 3-byte counter and 5 random bytes, so ids of one
 * process sort by creation order (in the spirit of the reference's xids). cap must be at least
 * strlen(prefix) + LF_ID_BODY_BYTES. */
void lf_id_new(const char *prefix, char *out, size_t cap);

/* Writes a random UUID version 4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"). */
void lf_uuid4(char out[LF_UUID_BYTES]);

/* Writes 2*nbytes random lowercase hex digits and a NUL into out. */
void lf_random_hex(char *out, size_t nbytes);

/* Fills buf with n random bytes from the kernel. */
void lf_random_bytes(void *buf, size_t n);

/* Decodes standard base64 (padding optional, no whitespace). *out is
 * malloc'd and NUL-terminated (caller frees). Returns 0, or -1 on bad input
 * or ENOMEM. */
int lf_base64_decode(const char *in, size_t len, char **out, size_t *out_len);

/* Encodes n bytes as standard base64 with padding. Returns a malloc'd
 * string (caller frees), or NULL on ENOMEM. */
char *lf_base64_encode(const void *in, size_t n);

/* 64-bit FNV-1a hash of n bytes: stable across runs, not for secrets. */
uint64_t lf_hash64(const void *p, size_t n);

/* Writes an 8-hex-digit fingerprint of s into out: lets logs tell owners
 * apart without printing API keys. */
void lf_fingerprint(const char *s, char out[9]);

/* Percent-decodes s in place ("%2F" -> "/"; "+" is left alone). Returns 0,
 * or -1 if s has a malformed escape or decodes to a NUL byte. */
int lf_pct_decode(char *s);

/* True when the n bytes at s are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
int lf_utf8_valid(const char *s, size_t n);

/* The number of characters (code points) in the UTF-8 string s. */
size_t lf_utf8_len(const char *s);

/* Parses a whole decimal integer in [min, max]. Returns 0, or -1. */
int lf_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
