/* ro_pb: the generated protobuf-c types and the strictness checks, for
 * lib/'s codecs only (ro_codec, ro_status, ro_feed): everything outside
 * lib/ speaks their plain structs. */
#ifndef RO_PB_H
#define RO_PB_H

#include "rollout.pb-c.h"

#include <stddef.h>

/* True when a decoded message has no unknown field anywhere, every string
 * is valid UTF-8, and it re-encodes to exactly wire_len bytes (no embedded
 * NUL truncated away, no duplicated or padded fields). */
int ro_pb_strict(const ProtobufCMessage *m, size_t wire_len);

/* ro_pb_strict, or when skip_unknown is true the same but unknown fields
 * let through (RO_DECODE_SKIP_UNKNOWN: a client reading a newer hub). */
int ro_pb_check(const ProtobufCMessage *m, size_t wire_len, int skip_unknown);

#endif
