/* ro_pb: the generated protobuf-c types, for the few modules that speak the
 * status API's larger messages directly (hub/status.c, rolloutctl). The
 * report path goes through ro_codec's structs instead. */
#ifndef RO_PB_H
#define RO_PB_H

#include "rollout.pb-c.h"

#include <stddef.h>

/* True when a decoded message has no unknown field anywhere, every string
 * is valid UTF-8, and it re-encodes to exactly wire_len bytes (no embedded
 * NUL truncated away, no duplicated or padded fields). */
int ro_pb_strict(const ProtobufCMessage *m, size_t wire_len);

#endif
