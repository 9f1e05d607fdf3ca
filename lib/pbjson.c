/*
 * pbjson: canonical proto3 JSON for protobuf-c messages (see pbjson.h).
 *
 * Parsing reads the text with jansson and builds the message in memory laid
 * out exactly as protobuf_c_message_unpack would with the default allocator:
 * the struct from malloc and message_init, every string, bytes buffer,
 * repeated array and sub-message from malloc. So the caller frees it with
 * protobuf_c_message_free_unpacked(m, NULL), and a half-built message can be
 * freed the same way when a later field fails: at every step the struct only
 * points at memory it owns, repeated counts cover only filled slots, and a
 * oneof case is set only once its member is in place.
 *
 * Printing writes the text itself rather than through jansson, to control
 * field order, number formats (shortest round-trip floats) and to keep
 * going, with U+FFFD, when a string field holds invalid UTF-8.
 */
#include "pbjson.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PBJSON_MAX_DEPTH 64    /* nesting of messages, against recursion */
#define PBJSON_NAME_MAX  128   /* longest field name we compare */

/* ---------------------------------------------------------------- fields */

char *
pbjson_json_name(const char *proto_name, char *out, size_t outlen)
{
	size_t o = 0;
	bool upper = false;

	if (outlen == 0)
		return out;
	for (const char *p = proto_name; *p && o + 1 < outlen; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		out[o++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		upper = false;
	}
	out[o] = '\0';
	return out;
}

#define s_member(m, off) ((void *)((char *)(m) + (off)))
#define s_cmember(m, off) ((const void *)((const char *)(m) + (off)))

static const ProtobufCFieldDescriptor *
s_field_by_key(const ProtobufCMessageDescriptor *d, const char *key)
{
	const ProtobufCFieldDescriptor *f;
	char jn[PBJSON_NAME_MAX];

	f = protobuf_c_message_descriptor_get_field_by_name(d, key);
	if (f)
		return f;
	for (unsigned i = 0; i < d->n_fields; i++) {
		pbjson_json_name(d->fields[i].name, jn, sizeof jn);
		if (strcmp(jn, key) == 0)
			return &d->fields[i];
	}
	return NULL;
}

/* Size of one element of a repeated field of type t. */
static size_t
s_elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* Does a singular field carry a has_ flag (as protobuf-c lays it out)? */
static bool
s_has_flag(const ProtobufCFieldDescriptor *f)
{
	return f->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* The oneof member of m that shares f's case field and is set, or NULL. */
static const ProtobufCFieldDescriptor *
s_oneof_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	uint32_t c = *(const uint32_t *)s_cmember(m, f->quantifier_offset);

	if (c == 0)
		return NULL;
	for (unsigned i = 0; i < d->n_fields; i++)
		if (d->fields[i].id == c &&
		    d->fields[i].quantifier_offset == f->quantifier_offset &&
		    (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			return &d->fields[i];
	return NULL;
}

/* ---------------------------------------------------------------- parse: context */

struct s_parse {
	char path[256];   /* field path of the value being parsed */
	size_t plen;      /* strlen(path) */
	char *err;        /* caller's buffer, may be NULL */
	size_t errlen;
	int depth;        /* message nesting */
};

/* Append a segment to the path; returns the length to restore. */
static size_t
s_path_push(struct s_parse *p, const char *fmt, ...)
{
	size_t old = p->plen;
	va_list ap;
	int n;

	if (p->plen >= sizeof p->path - 1)
		return old;
	va_start(ap, fmt);
	n = vsnprintf(p->path + p->plen, sizeof p->path - p->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->plen += (size_t)n < sizeof p->path - p->plen ?
		    (size_t)n : sizeof p->path - p->plen - 1;
	return old;
}

static void
s_path_pop(struct s_parse *p, size_t old)
{
	p->plen = old;
	p->path[old] = '\0';
}

/* Record "path: message" (or just the message at top level); returns -1. */
__attribute__((format(printf, 2, 3)))
static int
s_fail(struct s_parse *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s%s%s", p->path,
		    p->plen ? ": " : "", msg);
	return -1;
}

/* ---------------------------------------------------------------- parse: scalars */

/* A JSON number or decimal string as a signed integer in [lo, hi]. */
static int
s_get_int(struct s_parse *p, json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
	} else if (json_is_real(v)) {
		double r = json_real_value(v);
		if (r != floor(r) || r < -9223372036854775808.0 ||
		    r >= 9223372036854775808.0)
			return s_fail(p, "not an integer: %g", r);
		*out = (int64_t)r;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (!*s || *end || errno || !(*s == '-' || (*s >= '0' && *s <= '9')))
			return s_fail(p, "not an integer: \"%.40s\"", s);
		*out = x;
	} else {
		return s_fail(p, "expected an integer (number or string)");
	}
	if (*out < lo || *out > hi)
		return s_fail(p, "integer out of range: %" PRId64, *out);
	return 0;
}

/* A JSON number or decimal string as an unsigned integer up to hi. */
static int
s_get_uint(struct s_parse *p, json_t *v, uint64_t hi, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x < 0)
			return s_fail(p, "negative value for an unsigned field");
		*out = (uint64_t)x;
	} else if (json_is_real(v)) {
		double r = json_real_value(v);
		if (r != floor(r) || r < 0 || r >= 18446744073709551616.0)
			return s_fail(p, "not an unsigned integer: %g", r);
		*out = (uint64_t)r;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		unsigned long long x = strtoull(s, &end, 10);
		if (!*s || *end || errno || *s < '0' || *s > '9')
			return s_fail(p, "not an unsigned integer: \"%.40s\"", s);
		*out = x;
	} else {
		return s_fail(p, "expected an integer (number or string)");
	}
	if (*out > hi)
		return s_fail(p, "integer out of range: %" PRIu64, *out);
	return 0;
}

/* A JSON number, numeric string, "NaN", "Infinity" or "-Infinity". */
static int
s_get_double(struct s_parse *p, json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return s_fail(p, "expected a number");
	const char *s = json_string_value(v);
	if (strcmp(s, "NaN") == 0) {
		*out = NAN;
	} else if (strcmp(s, "Infinity") == 0) {
		*out = INFINITY;
	} else if (strcmp(s, "-Infinity") == 0) {
		*out = -INFINITY;
	} else {
		char *end;
		errno = 0;
		*out = strtod(s, &end);
		if (!*s || *end || errno || !isfinite(*out) ||
		    !(*s == '-' || *s == '.' || (*s >= '0' && *s <= '9')))
			return s_fail(p, "not a number: \"%.40s\"", s);
	}
	return 0;
}

static int
s_get_enum(struct s_parse *p, const ProtobufCEnumDescriptor *ed, json_t *v,
    int32_t *out)
{
	if (json_is_string(v)) {
		const ProtobufCEnumValue *ev;
		ev = protobuf_c_enum_descriptor_get_value_by_name(ed,
		    json_string_value(v));
		if (!ev)
			return s_fail(p, "unknown enum value %.64s",
			    json_string_value(v));
		*out = ev->value;
		return 0;
	}
	if (json_is_integer(v)) {
		int64_t x;
		if (s_get_int(p, v, INT32_MIN, INT32_MAX, &x) < 0)
			return -1;
		*out = (int32_t)x;
		return 0;
	}
	return s_fail(p, "expected an enum name of %s or a number", ed->short_name);
}

static int
s_get_string(struct s_parse *p, json_t *v, char **out)
{
	if (!json_is_string(v))
		return s_fail(p, "expected a string");
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (memchr(s, '\0', n))
		return s_fail(p, "string contains U+0000");
	if (!(*out = malloc(n + 1)))
		return s_fail(p, "out of memory");
	memcpy(*out, s, n + 1);
	return 0;
}

/* ---------------------------------------------------------------- parse: base64 */

static int
s_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional. */
static int
s_get_bytes(struct s_parse *p, json_t *v, ProtobufCBinaryData *out)
{
	if (!json_is_string(v))
		return s_fail(p, "expected a base64 string");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), pad = 0;
	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
		return s_fail(p, "invalid base64 length");
	uint8_t *buf = malloc(n * 3 / 4 + 1);
	if (!buf)
		return s_fail(p, "out of memory");
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int x = s_b64_value(s[i]);
		if (x < 0) {
			free(buf);
			return s_fail(p, "invalid base64 character at offset %zu", i);
		}
		acc = (acc << 6) | (uint32_t)x;
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	out->data = buf;
	out->len = o;
	return 0;
}

/* ---------------------------------------------------------------- parse: fields */

static int s_parse_message(struct s_parse *p,
    const ProtobufCMessageDescriptor *d, json_t *obj, ProtobufCMessage **out);

/* Parse a value of f's type into the storage at dst (a struct member or an
 * element of a repeated array). */
static int
s_parse_value(struct s_parse *p, const ProtobufCFieldDescriptor *f, json_t *v,
    void *dst)
{
	int64_t i;
	uint64_t u;
	double r;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (s_get_int(p, v, INT32_MIN, INT32_MAX, &i) < 0)
			return -1;
		*(int32_t *)dst = (int32_t)i;
		return 0;
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		if (s_get_uint(p, v, UINT32_MAX, &u) < 0)
			return -1;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return s_get_int(p, v, INT64_MIN, INT64_MAX, (int64_t *)dst);
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		return s_get_uint(p, v, UINT64_MAX, (uint64_t *)dst);
	case PROTOBUF_C_TYPE_FLOAT:
		if (s_get_double(p, v, &r) < 0)
			return -1;
		if (isfinite(r) && fabs(r) > FLT_MAX)
			return s_fail(p, "out of range for a float: %g", r);
		*(float *)dst = (float)r;
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return s_get_double(p, v, (double *)dst);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return s_fail(p, "expected true or false");
		*(protobuf_c_boolean *)dst = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		return s_get_enum(p, f->descriptor, v, (int32_t *)dst);
	case PROTOBUF_C_TYPE_STRING:
		return s_get_string(p, v, (char **)dst);
	case PROTOBUF_C_TYPE_BYTES:
		return s_get_bytes(p, v, (ProtobufCBinaryData *)dst);
	case PROTOBUF_C_TYPE_MESSAGE:
		return s_parse_message(p, f->descriptor, v, (ProtobufCMessage **)dst);
	}
	return s_fail(p, "unsupported field type %d", (int)f->type);
}

static int
s_parse_repeated(struct s_parse *p, ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, json_t *v)
{
	size_t *n = s_member(m, f->quantifier_offset);
	void **arr = s_member(m, f->offset);
	size_t es = s_elem_size(f->type), count;

	if (!json_is_array(v))
		return s_fail(p, "expected an array");
	if ((count = json_array_size(v)) == 0)
		return 0;
	if (!(*arr = calloc(count, es)))
		return s_fail(p, "out of memory");
	for (size_t k = 0; k < count; k++) {
		size_t old = s_path_push(p, "[%zu]", k);
		if (json_is_null(json_array_get(v, k)))
			return s_fail(p, "null is not allowed in an array");
		int rc = s_parse_value(p, f, json_array_get(v, k),
		    (char *)*arr + k * es);
		s_path_pop(p, old);
		if (rc < 0)
			return -1;
		*n = k + 1;
	}
	return 0;
}

static int
s_parse_field(struct s_parse *p, ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, json_t *v)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return s_parse_repeated(p, m, f, v);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		const ProtobufCFieldDescriptor *other = s_oneof_set(m, f);
		if (other)
			return s_fail(p, "%s is already set; only one member of "
			    "a oneof may be set", other->name);
		/* The member storage is a union shared with the other
		 * members: clear what init left there before writing. */
		memset(s_member(m, f->offset), 0, s_elem_size(f->type));
	}
	if (s_parse_value(p, f, v, s_member(m, f->offset)) < 0)
		return -1;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)s_member(m, f->quantifier_offset) = f->id;
	else if (s_has_flag(f))
		*(protobuf_c_boolean *)s_member(m, f->quantifier_offset) = 1;
	return 0;
}

/* Parse each key of obj into m; given[] marks fields already seen. */
static int
s_parse_fields(struct s_parse *p, ProtobufCMessage *m, json_t *obj,
    unsigned char *given)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const ProtobufCFieldDescriptor *f = s_field_by_key(d, key);
		size_t old = s_path_push(p, "%s%s", p->plen ? "." : "",
		    f ? f->name : key);

		if (!f)
			return s_fail(p, "unknown field");
		if (given[f - d->fields])
			return s_fail(p, "given twice (as \"%s\" and under its "
			    "other name)", key);
		given[f - d->fields] = 1;
		if (!json_is_null(v) && s_parse_field(p, m, f, v) < 0)
			return -1;
		s_path_pop(p, old);
	}
	return 0;
}

static int
s_parse_message(struct s_parse *p, const ProtobufCMessageDescriptor *d,
    json_t *obj, ProtobufCMessage **out)
{
	ProtobufCMessage *m = NULL;
	unsigned char *given = NULL;
	int rc = -1;

	if (!json_is_object(obj))
		return s_fail(p, "expected an object (%s)", d->short_name);
	if (p->depth >= PBJSON_MAX_DEPTH)
		return s_fail(p, "messages nested too deep");
	if (!(m = malloc(d->sizeof_message)) ||
	    !(given = calloc(d->n_fields ? d->n_fields : 1, 1))) {
		s_fail(p, "out of memory");
		goto out;
	}
	d->message_init(m);
	p->depth++;
	rc = s_parse_fields(p, m, obj, given);
	p->depth--;
out:
	free(given);
	if (rc < 0 && m)
		protobuf_c_message_free_unpacked(m, NULL);
	else
		*out = m;
	return rc;
}

ProtobufCMessage *
pbjson_parse(const ProtobufCMessageDescriptor *d, const char *json, size_t len,
    char *err, size_t errlen)
{
	struct s_parse p = { .err = err, .errlen = errlen };
	ProtobufCMessage *m = NULL;
	json_error_t jerr;
	json_t *root;

	if (err && errlen)
		err[0] = '\0';
	root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &jerr);
	if (!root) {
		s_fail(&p, "invalid JSON: %s (line %d, column %d)", jerr.text,
		    jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root))
		s_fail(&p, "expected a JSON object");
	else if (s_parse_message(&p, d, root, &m) < 0)
		m = NULL;
	json_decref(root);
	return m;
}

/* ---------------------------------------------------------------- print: buffer */

struct s_buf {
	char *p;
	size_t len, cap;
	bool oom;     /* an allocation failed; the text is incomplete */
};

static void
s_put(struct s_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
s_puts(struct s_buf *b, const char *s)
{
	s_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void
s_printf(struct s_buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		s_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---------------------------------------------------------------- print: values */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
s_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static void
s_put_string(struct s_buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	s_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t l = s_utf8_len(s + i, n - i);
		if (l == 0) {
			s_puts(b, "\\ufffd");
			i++;
		} else if (s[i] == '"' || s[i] == '\\') {
			s_put(b, "\\", 1);
			s_put(b, (const char *)s + i++, 1);
		} else if (s[i] < 0x20) {
			const char *esc = s[i] == '\n' ? "\\n" : s[i] == '\r' ? "\\r" :
			    s[i] == '\t' ? "\\t" : NULL;
			if (esc)
				s_puts(b, esc);
			else
				s_printf(b, "\\u%04x", s[i]);
			i++;
		} else {
			s_put(b, (const char *)s + i, l);
			i += l;
		}
	}
	s_put(b, "\"", 1);
}

static void
s_put_base64(struct s_buf *b, const ProtobufCBinaryData *bd)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	s_put(b, "\"", 1);
	for (size_t i = 0; i < bd->len; i += 3) {
		uint32_t v = (uint32_t)bd->data[i] << 16;
		size_t k = bd->len - i;
		if (k > 1)
			v |= (uint32_t)bd->data[i + 1] << 8;
		if (k > 2)
			v |= bd->data[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = k > 1 ? tab[(v >> 6) & 63] : '=';
		q[3] = k > 2 ? tab[v & 63] : '=';
		s_put(b, q, 4);
	}
	s_put(b, "\"", 1);
}

/* The shortest %g text that reads back as the same float or double. */
static void
s_put_real(struct s_buf *b, double v, bool is_float)
{
	char tmp[40];

	if (isnan(v)) {
		s_puts(b, "\"NaN\"");
		return;
	}
	if (isinf(v)) {
		s_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
			break;
	}
	s_puts(b, tmp);
}

static void
s_put_enum(struct s_buf *b, const ProtobufCEnumDescriptor *ed, int32_t v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);

	if (ev) {
		s_put(b, "\"", 1);
		s_puts(b, ev->name);
		s_put(b, "\"", 1);
	} else {
		s_printf(b, "%" PRId32, v);
	}
}

static void s_print_message(struct s_buf *b, const ProtobufCMessage *m);

/* Print the value of f's type stored at src. */
static void
s_print_value(struct s_buf *b, const ProtobufCFieldDescriptor *f,
    const void *src)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		s_printf(b, "%" PRId32, *(const int32_t *)src);
		break;
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		s_printf(b, "%" PRIu32, *(const uint32_t *)src);
		break;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		s_printf(b, "\"%" PRId64 "\"", *(const int64_t *)src);
		break;
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		s_printf(b, "\"%" PRIu64 "\"", *(const uint64_t *)src);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		s_put_real(b, *(const float *)src, true);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		s_put_real(b, *(const double *)src, false);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		s_puts(b, *(const protobuf_c_boolean *)src ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM:
		s_put_enum(b, f->descriptor, *(const int32_t *)src);
		break;
	case PROTOBUF_C_TYPE_STRING:
		s_put_string(b, *(char *const *)src ? *(char *const *)src : "");
		break;
	case PROTOBUF_C_TYPE_BYTES:
		s_put_base64(b, src);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(ProtobufCMessage *const *)src)
			s_print_message(b, *(ProtobufCMessage *const *)src);
		else
			s_puts(b, "{}");
		break;
	}
}

/* ---------------------------------------------------------------- print: messages */

/* Is a field without presence at its default (all-zero) value? */
static bool
s_is_default(const ProtobufCFieldDescriptor *f, const void *src)
{
	static const char zero[16];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)src;
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)src)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)src == NULL;
	default:
		return memcmp(src, zero, s_elem_size(f->type)) == 0;
	}
}

/* Does the field appear in the JSON? */
static bool
s_field_printed(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const void *src = s_cmember(m, f->offset);

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)s_cmember(m, f->quantifier_offset) == f->id;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)s_cmember(m, f->quantifier_offset) > 0;
	if (s_has_flag(f))
		return *(const protobuf_c_boolean *)s_cmember(m, f->quantifier_offset);
	if (f->label == PROTOBUF_C_LABEL_NONE)
		return !s_is_default(f, src);
	/* OPTIONAL string or message, or REQUIRED. */
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(const void *const *)src != NULL;
	return true;
}

static void
s_print_field(struct s_buf *b, const ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f)
{
	char jn[PBJSON_NAME_MAX];
	const char *src = s_cmember(m, f->offset);

	s_put(b, "\"", 1);
	s_puts(b, pbjson_json_name(f->name, jn, sizeof jn));
	s_put(b, "\":", 2);
	if (f->label != PROTOBUF_C_LABEL_REPEATED) {
		s_print_value(b, f, src);
		return;
	}
	size_t n = *(const size_t *)s_cmember(m, f->quantifier_offset);
	size_t es = s_elem_size(f->type);
	const char *arr = *(const char *const *)src;
	s_put(b, "[", 1);
	for (size_t k = 0; k < n; k++) {
		if (k)
			s_put(b, ",", 1);
		s_print_value(b, f, arr + k * es);
	}
	s_put(b, "]", 1);
}

static void
s_print_message(struct s_buf *b, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	bool first = true;

	s_put(b, "{", 1);
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (!s_field_printed(m, &d->fields[i]))
			continue;
		if (!first)
			s_put(b, ",", 1);
		first = false;
		s_print_field(b, m, &d->fields[i]);
	}
	s_put(b, "}", 1);
}

char *
pbjson_print(const ProtobufCMessage *m)
{
	struct s_buf b = { 0 };

	if (!m)
		s_puts(&b, "null");
	else
		s_print_message(&b, m);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
