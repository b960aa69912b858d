/* JSON <-> Python conversion for the worker's hot path, in C: parsing
 * straight from request text to Python objects (as json.loads would) and
 * serializing results byte-for-byte as json.dumps(obj) with its defaults
 * would. Worker side only: include after Python.h. */
#ifndef RT_CONV_H
#define RT_CONV_H

#include <stddef.h>

#include "lf_buf.h"

/* GIL held. Parses len bytes of JSON text like json.loads (NaN and Infinity
 * accepted, big integers exact). Returns a new reference, or NULL with
 * ValueError set. */
PyObject *rt_json_loads(const char *text, size_t len);

/* GIL held. Appends json.dumps(obj) to out. Types outside the JSON core
 * (subclasses, numpy scalars, ...) and very deep values are handed to the
 * json module itself, so errors and formats match it exactly. Returns 0, or
 * -1 with a Python exception set (TypeError for unserializable values, or
 * MemoryError when out is full). */
int rt_json_dumps(PyObject *obj, struct lf_buf *out);

/* Binds the json module's dumps for the fallback. GIL held. Returns 0, or
 * -1 with an exception set. */
int rt_conv_init(void);

/* Appends the n bytes of ASCII text s as a JSON string literal. No GIL
 * needed. Returns LF_OK or an lf_buf error. */
int rt_json_quote_ascii(struct lf_buf *out, const char *s, size_t n);

#endif
