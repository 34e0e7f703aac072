/* ro_codec: the only door between rollout's structs and the protobuf wire
 * form (proto/rollout.proto); the only file that includes rollout.pb-c.h
 * for the report path. Decoding takes any valid encoding, skips and counts
 * fields it does not know, and refuses what protobuf-c 1.4.1 would let
 * through: strings with NUL bytes, bad UTF-8 or over-long text, and frames
 * beyond RO_FRAME_MAX. */
#ifndef RO_CODEC_H
#define RO_CODEC_H

#include "ro_report.h"

#include <stddef.h>
#include <stdint.h>

#define RO_FRAME_MAX 4096               /* the largest report or hub message on the wire */
#define RO_STATUS_FRAME_MAX (64u << 20) /* the largest status reply */

/* How a decoder treats a field it does not know: skipped (the evolution
 * policy: every peer reading the wire), or refused (strict: tests checking
 * that rollout's own encoders write only known fields). Everything else (bad
 * UTF-8, NUL bytes, limits) is refused either way. */
typedef enum { RO_DECODE_STRICT = 0, RO_DECODE_SKIP_UNKNOWN = 1 } ro_decode_mode_t;

/* Encode r into buf (capacity cap). Returns the length, or -1 if it does not fit. */
int ro_report_encode(const ro_report_t *r, uint8_t *buf, size_t cap);

/* Decode one report frame into *out. An incarnation that is present must
 * be RO_INCARNATION_LEN bytes (else malformed); absent, it is all zero, the
 * legacy one. Returns RO_REASON_NONE, or
 * RO_REASON_MALFORMED / RO_REASON_VERSION with a reason in err; then
 * out->unit is "" unless the report got far enough to name its unit and seq
 * (and its content, truncated where over a limit). out->unknown counts the
 * fields skipped. Fields are not range-checked here: ro_report_check does. */
ro_reason_t ro_report_decode(const uint8_t *buf, size_t len, ro_report_t *out, char *err,
                             size_t errlen);

/* Turn body (len bytes), a report as the agent's outbox stores it (written
 * by ro_report_encode with version 1 and no incarnation), into the
 * version-2 message for wire seq `seq` under `incarnation`, in out (capacity
 * cap), without decoding it: the stored bytes are copied and the fields
 * version = 2, seq and, unless incarnation is the legacy all-zero one,
 * incarnation are appended after them. Protobuf (proto3, and protobuf-c)
 * takes the last value of a non-repeated scalar or bytes field that occurs
 * more than once, and every rollout decoder takes any valid encoding
 * (docs/PROTOCOL.md 3.3), so the message decodes to the stored report with
 * the new version, seq and incarnation; its content, and so its
 * ro_report_hash, is the stored one. The stored body's own seq (the outbox's
 * local one) stays in the bytes and is overridden. A body that carried an
 * incarnation of its own would keep it when the stamp is legacy: stored
 * bodies never carry one. Returns the message's length, or -1 when it does
 * not fit in cap. */
int ro_report_stamp(const uint8_t *body, size_t len, uint64_t seq,
                    const uint8_t incarnation[RO_INCARNATION_LEN], uint8_t *out, size_t cap);

/* What the hub says back on the ingest socket. */
typedef enum { RO_HUBMSG_ACK = 1, RO_HUBMSG_REFUSAL = 2 } ro_hubmsg_kind_t;

typedef struct {
    ro_hubmsg_kind_t kind;      /* ack or refusal */
    char unit[RO_UNIT_MAX + 1]; /* the unit it is about */
    uint64_t seq;               /* ack: stored up to seq; refusal: the seq refused */
    ro_reason_t reason;         /* refusal only */
    char text[RO_TEXT_MAX + 1]; /* refusal only: why, for the agent's log */
    /* protocol version 2 (docs/REVISION-2.md): zero is not sent, so a hub
     * that leaves them zero writes the version-1 message byte for byte */
    uint8_t incarnation[RO_INCARNATION_LEN]; /* the incarnation seq counts in */
    uint64_t upto_hash;                      /* ack: content hash of the report at seq */
    uint32_t hub_version;                    /* ack: the highest version the hub speaks */
    uint8_t store_id[RO_INCARNATION_LEN];    /* ack: the hub store's identity */
    uint64_t held;                           /* ack: of the acknowledged, how many are held */
    uint64_t seen; /* ack: a resend the hub holds with the same content: its seq (0: none) */
} ro_hubmsg_t;

int ro_hubmsg_encode(const ro_hubmsg_t *m, uint8_t *buf, size_t cap);
/* Returns 0, or -1 with a reason in err (an incarnation or store_id
 * present but not RO_INCARNATION_LEN bytes among them). */
int ro_hubmsg_decode(const uint8_t *buf, size_t len, ro_hubmsg_t *out, char *err, size_t errlen);

#endif
