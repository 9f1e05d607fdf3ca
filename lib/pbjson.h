/*
 * pbjson: protobuf-c messages to and from protobuf's canonical proto3 JSON
 * mapping, for any message type, driven only by the protobuf-c descriptors.
 * jicengctl uses it to read envelopes and print acks and query replies; the
 * tests use it to write events by hand.
 *
 * What it owns: the mapping of field names (lowerCamelCase json names and
 * the original snake_case names), scalar encodings (64-bit integers as
 * strings, enums by name, bytes as base64, NaN/Infinity as strings), oneof
 * checks and error messages that name the field path. What it does not do:
 * well-known types (Timestamp, Any, wrappers) and map fields, which the
 * jiceng contract does not use; a map field prints and parses as the
 * repeated entry messages protobuf-c represents it with.
 *
 * Including <protobuf-c/protobuf-c.h> here is fine: it is the runtime, not a
 * generated header; callers get descriptors through codec.h.
 */
#ifndef JICENG_PBJSON_H
#define JICENG_PBJSON_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Parse one JSON object (json, len bytes, need not be NUL-terminated) into a
 * new message of type d. Field names may be the json name ("eventId") or the
 * proto name ("event_id"); giving one field under both names is an error.
 * JSON null means "not set". Accepted values:
 *   int32/uint32/sint32/fixed32/sfixed32   number or decimal string
 *   int64/uint64/... (all 64-bit)          number or decimal string (a
 *                      uint64 above 2^63-1 only as a string: jansson's
 *                      integers are signed)
 *   float/double       number, numeric string, "NaN", "Infinity", "-Infinity"
 *   bool               true or false
 *   string             string (without U+0000)
 *   bytes              base64, standard or URL-safe, padding optional
 *   enum               value name, or number
 *   message            object; repeated fields an array
 * Returns the message, to be freed with protobuf_c_message_free_unpacked(m,
 * NULL), or NULL with a one-line message in err (if err is not NULL) that
 * starts with the field path, e.g.
 *   "org_established.kind: unknown enum value FOO"
 *   "meeting_held.absentees[1].reason: expected a string"
 *   "fooBar: unknown field"
 *   "invalid JSON: ... (line 1, column 7)" */
ProtobufCMessage *pbjson_parse(const ProtobufCMessageDescriptor *d,
    const char *json, size_t len, char *err, size_t errlen);

/* Print m as compact canonical JSON on one line, fields in field-number
 * order under their json names; fields with their proto3 default value are
 * left out (except set oneof members and fields with explicit presence),
 * 64-bit integers are strings, enums are names (a number when the value has
 * no name). Returns a malloc'd NUL-terminated string, or NULL when out of
 * memory. */
char *pbjson_print(const ProtobufCMessage *m);

/* The json name of a proto field name: "org_id" -> "orgId". Writes at most
 * outlen bytes including the NUL; returns out. */
char *pbjson_json_name(const char *proto_name, char *out, size_t outlen);

#endif
