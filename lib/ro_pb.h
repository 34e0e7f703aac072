/* ro_pb: the generated protobuf-c types and the strictness checks, for
 * lib/'s codecs only (ro_codec, ro_status, ro_feed): everything outside
 * lib/ speaks their plain structs. */
#ifndef RO_PB_H
#define RO_PB_H

#include "rollout.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* True when the wire form buf[0..len) of a message of type d (already
 * decoded by protobuf-c) has every string valid UTF-8 without a NUL byte,
 * and, unless skip_unknown (RO_DECODE_SKIP_UNKNOWN), no field d does not
 * know. The fields it does not know are counted into *unknown (may be NULL). */
int ro_pb_check(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                int skip_unknown, unsigned *unknown);

#endif
