/* test_codec: the wire form of reports and hub messages, and what the
 * decoder takes (any valid encoding; unknown fields skipped and counted) and
 * refuses (truncation, junk, oversize, NUL bytes, bad UTF-8, wrong version),
 * naming the report whenever it decodes that far. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ro_codec.h"
#include "ro_time.h"

static ro_report_t s_training(void)
{
    ro_report_t r = {.version = RO_PROTOCOL_VERSION,
                     .seq = 7,
                     .recorded_at = 1514764800,
                     .kind = RO_KIND_TRAINING,
                     .date = 20180101,
                     .total = 40,
                     .part = 65};
    strcpy(r.unit, "469005-012");
    strcpy(r.text, "全程网办 online approval");
    return r;
}

static void s_assert_same(const ro_report_t *a, const ro_report_t *b)
{
    assert_int_equal(a->version, b->version);
    assert_string_equal(a->unit, b->unit);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->recorded_at, b->recorded_at);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->date, b->date);
    assert_int_equal(a->total, b->total);
    assert_int_equal(a->part, b->part);
    assert_int_equal(a->depth, b->depth);
    assert_string_equal(a->text, b->text);
}

static void test_round_trip_every_kind(void **state)
{
    (void)state;
    ro_kind_t kinds[] = {RO_KIND_TRAINING, RO_KIND_STAFF, RO_KIND_ITEMS, RO_KIND_CASES,
                         RO_KIND_HEARTBEAT};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        ro_report_t in = s_training(), out;
        in.kind = kinds[i];
        if (in.kind == RO_KIND_CASES)
            in.date = 201803;
        if (in.kind == RO_KIND_HEARTBEAT) {
            in.seq = 0, in.date = 0, in.total = 0, in.part = 0, in.depth = 12345;
            strcpy(in.text, "0.1.0");
        } else if (in.kind != RO_KIND_TRAINING) {
            in.text[0] = '\0';
        }
        uint8_t buf[RO_FRAME_MAX];
        int n = ro_report_encode(&in, buf, sizeof buf);
        assert_true(n > 0);
        char err[256];
        assert_int_equal(ro_report_decode(buf, (size_t)n, &out, err, sizeof err), RO_REASON_NONE);
        s_assert_same(&in, &out);
    }
}

static void test_truncated_frames_refused(void **state)
{
    (void)state;
    ro_report_t in = s_training(), out;
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&in, buf, sizeof buf);
    assert_true(n > 10);
    for (int len = 0; len < n; len++) {
        /* every strict prefix is either undecodable or decodes to something
         * else; it must never come back as the original report */
        ro_reason_t rc = ro_report_decode(buf, (size_t)len, &out, NULL, 0);
        if (rc == RO_REASON_NONE)
            assert_false(out.seq == in.seq && out.kind == in.kind && out.total == in.total &&
                         out.part == in.part && strcmp(out.text, in.text) == 0);
    }
    assert_int_equal(ro_report_decode(buf, 3, &out, NULL, 0), RO_REASON_MALFORMED);
}

static void test_junk_and_oversize_refused(void **state)
{
    (void)state;
    ro_report_t out;
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(0xff - i);
    char err[256] = "";
    assert_int_equal(ro_report_decode(junk, sizeof junk, &out, err, sizeof err),
                     RO_REASON_MALFORMED);
    assert_true(strlen(err) > 0);

    uint8_t *big = calloc(1, RO_FRAME_MAX + 1);
    assert_non_null(big);
    assert_int_equal(ro_report_decode(big, RO_FRAME_MAX + 1, &out, err, sizeof err),
                     RO_REASON_MALFORMED);
    assert_non_null(strstr(err, "limit"));
    free(big);
}

static void test_unknown_field_skipped(void **state)
{
    (void)state;
    ro_report_t in = s_training(), out;
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&in, buf, sizeof buf);
    /* field 99, varint 1: tag = 99 << 3 = 792 = 0x98 0x06 */
    buf[n++] = 0x98, buf[n++] = 0x06, buf[n++] = 0x01;
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_NONE);
    s_assert_same(&in, &out);
    assert_int_equal(out.unknown, 1);
    assert_true(ro_report_hash(&out) == ro_report_hash(&in));
}

/* The offset of the length-delimited field tag whose body runs to the end
 * of buf (n bytes) with a one- or two-byte length; fails if there is none. */
static size_t s_last_field(const uint8_t *buf, size_t n, uint8_t tag, size_t *lenbytes)
{
    for (size_t k = n - 2; k > 0; k--) {
        if (buf[k] != tag)
            continue;
        if (buf[k + 1] < 0x80 && buf[k + 1] == n - k - 2) {
            *lenbytes = 1;
            return k;
        }
        if (k + 2 < n && (buf[k + 1] & 0x80) &&
            (size_t)((buf[k + 1] & 0x7f) | buf[k + 2] << 7) == n - k - 3) {
            *lenbytes = 2;
            return k;
        }
    }
    fail_msg("no field %#x at the end", tag);
    return 0;
}

static void test_unknown_field_in_body_skipped(void **state)
{
    (void)state;
    /* a staff body carrying an extra field 9 */
    ro_report_t in = {.version = 1,
                      .seq = 1,
                      .recorded_at = 1514764800,
                      .kind = RO_KIND_STAFF,
                      .date = 20180101,
                      .total = 5,
                      .part = 3},
                out;
    strcpy(in.unit, "460000-001");
    uint8_t buf[256];
    int n = ro_report_encode(&in, buf, sizeof buf);
    size_t lb, k = s_last_field(buf, (size_t)n, (11 << 3) | 2, &lb); /* field 11: staff */
    assert_int_equal(lb, 1);
    buf[n++] = 0x48, buf[n++] = 0x01; /* field 9 varint 1 */
    buf[k + 1] += 2;
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_NONE);
    s_assert_same(&in, &out);
    assert_int_equal(out.unknown, 1);
}

/* A staff report of 460000-001, seq 3, date 20180101, total 5, proficient 0,
 * recorded at 1514764800, in three valid encodings other than protobuf-c's:
 * every field written out (proficient 0 too), the fields in reverse order,
 * and seq and total written twice (the last one counts). */
static void test_any_valid_encoding(void **state)
{
    (void)state;
    ro_report_t in = {.version = 1,
                      .seq = 3,
                      .recorded_at = 1514764800,
                      .kind = RO_KIND_STAFF,
                      .date = 20180101,
                      .total = 5,
                      .part = 0},
                out;
    strcpy(in.unit, "460000-001");
    uint8_t mine[128];
    int n = ro_report_encode(&in, mine, sizeof mine);
    assert_true(n > 0);
    /* recorded_at 1514764800 = varint 80 F4 A5 D2 05; date 20180101 = 85 D9 CF 09 */
#define UNIT 0x12, 10, '4', '6', '0', '0', '0', '0', '-', '0', '0', '1'
#define RECORDED 0x20, 0x80, 0xF4, 0xA5, 0xD2, 0x05
    static const uint8_t defaults[] = {0x08, 0x01, UNIT, 0x18, 0x03, RECORDED, 0x5a, 9,   0x08,
                                       0x85, 0xD9, 0xCF, 0x09, 0x10, 0x05,     0x18, 0x00};
    static const uint8_t reversed[] = {0x5a, 9,    0x18,     0x00, 0x10, 0x05, 0x08, 0x85, 0xD9,
                                       0xCF, 0x09, RECORDED, 0x18, 0x03, UNIT, 0x08, 0x01};
    static const uint8_t repeated[] = {0x18,     0x09, 0x08, 0x01, UNIT, 0x18, 0x03,
                                       RECORDED, 0x5a, 11,   0x10, 0x63, 0x08, 0x85,
                                       0xD9,     0xCF, 0x09, 0x10, 0x05, 0x18, 0x00};
#undef UNIT
#undef RECORDED
    const uint8_t *frames[] = {defaults, reversed, repeated};
    size_t lens[] = {sizeof defaults, sizeof reversed, sizeof repeated};
    for (int i = 0; i < 3; i++) {
        char err[256] = "";
        assert_true(lens[i] != (size_t)n || memcmp(frames[i], mine, lens[i]) != 0);
        assert_int_equal(ro_report_decode(frames[i], lens[i], &out, err, sizeof err),
                         RO_REASON_NONE);
        s_assert_same(&in, &out);
        assert_true(ro_report_hash(&out) == ro_report_hash(&in));
    }
}

/* A body sent in two parts is merged, as protobuf does (protobuf-c alone
 * keeps the last part); a body of another kind in between is cleared. */
static void test_body_in_parts_merged(void **state)
{
    (void)state;
#define HEAD 0x08, 0x01, 0x12, 10, '4', '6', '0', '0', '0', '0', '-', '0', '0', '1', 0x18, 0x05
    /* training{date 20180101, participants 12} then training{hours_tenths 35} */
    static const uint8_t parts[] = {HEAD, 0x52, 7,    0x08, 0x85, 0xD9, 0xCF,
                                    0x09, 0x10, 0x0c, 0x52, 2,    0x18, 0x23};
    /* training{participants 99}, staff{total 5}, then training{date}, training{participants 12} */
    static const uint8_t switched[] = {HEAD, 0x52, 2,    0x10, 0x63, 0x5a, 2,    0x10, 0x05, 0x52,
                                       5,    0x08, 0x85, 0xD9, 0xCF, 0x09, 0x52, 2,    0x10, 0x0c};
#undef HEAD
    const uint8_t *frames[] = {parts, switched};
    size_t lens[] = {sizeof parts, sizeof switched};
    uint32_t hours[] = {35, 0};
    for (int i = 0; i < 2; i++) {
        ro_report_t out;
        char err[128] = "";
        assert_int_equal(ro_report_decode(frames[i], lens[i], &out, err, sizeof err),
                         RO_REASON_NONE);
        assert_int_equal(out.kind, RO_KIND_TRAINING);
        assert_int_equal(out.seq, 5);
        assert_int_equal(out.date, 20180101);
        assert_int_equal(out.total, 12);
        assert_int_equal(out.part, hours[i]);
    }
}

/* What a newer version may mean is not this hub's to judge: a report of
 * another version, or with a body this hub does not know, is refused for
 * its version (not final) before any other fault; a unit with a control
 * character names no one. */
static void test_version_before_faults(void **state)
{
    (void)state;
    ro_report_t in = s_training(), out;
    in.version = RO_PROTOCOL_VERSION + 1;
    strcpy(in.text, "course");
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&in, buf, sizeof buf);
    uint8_t *c = memmem(buf, (size_t)n, "course", 6);
    assert_non_null(c);
    c[1] = '\0';
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_VERSION);
    assert_string_equal(out.unit, in.unit);
    /* version 1, a body field 16 (a message this hub does not know) and no other body */
    static const uint8_t newer[] = {0x08, 0x01, 0x12, 10,   '4',  '6',  '0',  '0', '0',  '0', '-',
                                    '0',  '0',  '1',  0x18, 0x05, 0x82, 0x01, 2,   0x08, 0x01};
    char err[160] = "";
    assert_int_equal(ro_report_decode(newer, sizeof newer, &out, err, sizeof err),
                     RO_REASON_VERSION);
    assert_int_equal(out.seq, 5);
    assert_non_null(strstr(err, "does not know"));
    in = s_training();
    strcpy(in.unit, "4601\n0-001");
    n = ro_report_encode(&in, buf, sizeof buf);
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_MALFORMED);
    assert_string_equal(out.unit, "");
}

static void test_hash_is_content(void **state)
{
    (void)state;
    ro_report_t a = s_training(), b = a;
    assert_true(ro_report_hash(&a) == ro_report_hash(&b));
    assert_true(ro_report_hash(&a) != 0);
    b.seq++, b.version = 9, b.unknown = 4; /* not content: the identity and the wire */
    assert_true(ro_report_hash(&a) == ro_report_hash(&b));
    uint64_t h = ro_report_hash(&a);
    b = a, b.total++;
    assert_true(ro_report_hash(&b) != h);
    b = a, b.part++;
    assert_true(ro_report_hash(&b) != h);
    b = a, b.date++;
    assert_true(ro_report_hash(&b) != h);
    b = a, b.recorded_at++;
    assert_true(ro_report_hash(&b) != h);
    b = a, b.kind = RO_KIND_STAFF;
    assert_true(ro_report_hash(&b) != h);
    b = a, strcat(b.text, "x");
    assert_true(ro_report_hash(&b) != h);
}

static void test_embedded_nul_refused(void **state)
{
    (void)state;
    /* a unit string "460000-001\0x" of 12 bytes: protobuf-c would keep "460000-001" */
    uint8_t buf[64];
    size_t n = 0;
    buf[n++] = 0x08, buf[n++] = 0x01; /* version 1 */
    buf[n++] = 0x12, buf[n++] = 12;   /* unit, 12 bytes */
    memcpy(buf + n, "460000-001\0x", 12);
    n += 12;
    buf[n++] = 0x18, buf[n++] = 0x01; /* seq 1 */
    buf[n++] = 0x5a, buf[n++] = 0x02; /* staff {date: 0}? empty-ish body */
    buf[n++] = 0x10, buf[n++] = 0x01; /* staff.total = 1 */
    ro_report_t out;
    assert_int_equal(ro_report_decode(buf, n, &out, NULL, 0), RO_REASON_MALFORMED);
    assert_string_equal(out.unit, ""); /* a unit with a NUL names no one */
    /* a NUL in the course: refused, but named (unit and seq) for the refusal */
    ro_report_t in = s_training();
    strcpy(in.text, "course");
    uint8_t t[RO_FRAME_MAX];
    int tn = ro_report_encode(&in, t, sizeof t);
    uint8_t *c = memmem(t, (size_t)tn, "course", 6);
    assert_non_null(c);
    c[3] = '\0';
    assert_int_equal(ro_report_decode(t, (size_t)tn, &out, NULL, 0), RO_REASON_MALFORMED);
    assert_string_equal(out.unit, in.unit);
    assert_int_equal(out.seq, in.seq);
    /* the same frame with a clean 10-byte unit decodes */
    uint8_t ok[64];
    size_t m = 0;
    ok[m++] = 0x08, ok[m++] = 0x01, ok[m++] = 0x12, ok[m++] = 10;
    memcpy(ok + m, "460000-001", 10);
    m += 10;
    ok[m++] = 0x18, ok[m++] = 0x01, ok[m++] = 0x5a, ok[m++] = 0x02, ok[m++] = 0x10, ok[m++] = 0x01;
    assert_int_equal(ro_report_decode(ok, m, &out, NULL, 0), RO_REASON_NONE);
    assert_string_equal(out.unit, "460000-001");
}

static void test_bad_utf8_refused(void **state)
{
    (void)state;
    ro_report_t in = s_training(), out;
    strcpy(in.text, "ok \xC3\x28 bad");
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&in, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_MALFORMED);
    assert_true(ro_utf8_valid("海南", strlen("海南")));
    assert_false(ro_utf8_valid("\xE6\xB5", 2));     /* truncated sequence */
    assert_false(ro_utf8_valid("\xC0\xAF", 2));     /* overlong */
    assert_false(ro_utf8_valid("\xED\xA0\x80", 3)); /* surrogate */
}

static void test_long_text_refused(void **state)
{
    (void)state;
    /* a course of RO_TEXT_MAX bytes decodes; one byte more is refused */
    ro_report_t in = s_training(), out;
    memset(in.text, 'a', RO_TEXT_MAX);
    in.text[RO_TEXT_MAX] = '\0';
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&in, buf, sizeof buf);
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_NONE);
    size_t lb, body = s_last_field(buf, (size_t)n, (10 << 3) | 2, &lb); /* field 10: training */
    assert_int_equal(lb, 2);
    size_t cb, course = s_last_field(buf, (size_t)n, (4 << 3) | 2, &cb); /* field 4: course */
    assert_int_equal(cb, 2);
    buf[n++] = 'a';
    buf[body + 1]++;   /* the low 7 bits of both lengths, far from a carry */
    buf[course + 1]++; /* 200 -> 201 */
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_MALFORMED);
}

/* A frame whose strings outgrow the decoder's stack arena (a course of
 * 3,000 bytes): protobuf-c's allocations past it come from malloc and go
 * back to it (ASan's build would see a leak or a bad free), and the
 * refusal still names the report. */
static void test_big_frame_past_the_arena(void **state)
{
    (void)state;
    enum { COURSE = 3000 };
    static uint8_t buf[RO_FRAME_MAX];
    size_t n = 0;
    const char unit[] = "460000-001";
    buf[n++] = 0x08, buf[n++] = 0x02;                  /* version 2 */
    buf[n++] = 0x12, buf[n++] = (uint8_t)strlen(unit); /* unit */
    memcpy(buf + n, unit, strlen(unit));
    n += strlen(unit);
    buf[n++] = 0x18, buf[n++] = 0x07; /* seq 7 */
    size_t inner = 1 + 2 + COURSE;    /* course: tag, two-byte length, bytes */
    buf[n++] = (10 << 3) | 2;         /* training */
    buf[n++] = (uint8_t)(0x80 | (inner & 0x7f)), buf[n++] = (uint8_t)(inner >> 7);
    buf[n++] = (4 << 3) | 2; /* its course */
    buf[n++] = (uint8_t)(0x80 | (COURSE & 0x7f)), buf[n++] = (uint8_t)(COURSE >> 7);
    memset(buf + n, 'a', COURSE);
    n += COURSE;
    assert_true(n <= sizeof buf);
    ro_report_t out;
    char why[256] = "";
    assert_int_equal(ro_report_decode(buf, n, &out, why, sizeof why), RO_REASON_MALFORMED);
    assert_non_null(strstr(why, "text longer than"));
    assert_string_equal(out.unit, unit);
    assert_int_equal(out.seq, 7);
    assert_int_equal(out.kind, RO_KIND_TRAINING);
    assert_int_equal(strlen(out.text), RO_TEXT_MAX);
}

static void test_wrong_version_refused(void **state)
{
    (void)state;
    ro_report_t in = s_training(), out;
    in.version = RO_PROTOCOL_VERSION + 1;
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&in, buf, sizeof buf);
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_VERSION);
    in.version = 0;
    n = ro_report_encode(&in, buf, sizeof buf);
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_VERSION);
    for (in.version = RO_PROTOCOL_V1; in.version <= RO_PROTOCOL_VERSION; in.version++) {
        n = ro_report_encode(&in, buf, sizeof buf);
        assert_int_equal(ro_report_decode(buf, (size_t)n, &out, NULL, 0), RO_REASON_NONE);
    }
}

static void test_no_body_refused(void **state)
{
    (void)state;
    /* version 1, unit "460000-001", seq 1, and nothing else */
    static const uint8_t buf[] = {0x08, 0x01, 0x12, 10,  '4', '6', '0',  '0',
                                  '0',  '0',  '-',  '0', '0', '1', 0x18, 0x01};
    ro_report_t out;
    assert_int_equal(ro_report_decode(buf, sizeof buf, &out, NULL, 0), RO_REASON_MALFORMED);
}

static void test_hubmsg_round_trip(void **state)
{
    (void)state;
    ro_hubmsg_t ack, out;
    memset(&ack, 0, sizeof ack);
    ack.kind = RO_HUBMSG_ACK, ack.seq = 1234567890123ull;
    strcpy(ack.unit, "460100-003");
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_hubmsg_encode(&ack, buf, sizeof buf);
    assert_int_equal(ro_hubmsg_decode(buf, (size_t)n, &out, NULL, 0), 0);
    assert_memory_equal(&ack, &out, sizeof ack);

    ro_hubmsg_t ref;
    memset(&ref, 0, sizeof ref);
    ref.kind = RO_HUBMSG_REFUSAL, ref.seq = 9, ref.reason = RO_REASON_INVALID;
    strcpy(ref.unit, "460100-003");
    strcpy(ref.text, "items: part 9 is above total 3");
    n = ro_hubmsg_encode(&ref, buf, sizeof buf);
    assert_int_equal(ro_hubmsg_decode(buf, (size_t)n, &out, NULL, 0), 0);
    assert_memory_equal(&ref, &out, sizeof ref);

    assert_int_equal(ro_hubmsg_decode((const uint8_t *)"\xff\xff\xff", 3, &out, NULL, 0), -1);
}

/* Version 2's fields (docs/REVISION-2.md) ride along: an incarnation on a
 * report, a heartbeat's ack, clock and retention, an ack's identity and
 * hash. Left zero, they are not on the wire at all, so a version-1 message
 * is byte for byte what it was; an incarnation of another length is
 * malformed. */
static void test_version_2_fields(void **state)
{
    (void)state;
    uint8_t legacy[RO_FRAME_MAX], v2[RO_FRAME_MAX];
    ro_report_t in = s_training(), out;
    int n1 = ro_report_encode(&in, legacy, sizeof legacy);
    for (int i = 0; i < RO_INCARNATION_LEN; i++)
        in.incarnation[i] = (uint8_t)(0xa0 + i);
    int n2 = ro_report_encode(&in, v2, sizeof v2);
    assert_int_equal(n2, n1 + 2 + RO_INCARNATION_LEN); /* tag, length, 16 bytes */
    assert_int_equal(ro_report_decode(v2, (size_t)n2, &out, NULL, 0), RO_REASON_NONE);
    assert_memory_equal(out.incarnation, in.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(out.unknown, 0);
    assert_int_equal(ro_report_hash(&out), ro_report_hash(&in)); /* content, not identity */
    assert_int_equal(ro_report_decode(legacy, (size_t)n1, &out, NULL, 0), RO_REASON_NONE);
    static const uint8_t zero[RO_INCARNATION_LEN];
    assert_memory_equal(out.incarnation, zero, RO_INCARNATION_LEN);

    /* a 3-byte incarnation (field 5, wire type 2) after a valid report */
    memcpy(v2, legacy, (size_t)n1);
    memcpy(v2 + n1,
           "\x2a\x03"
           "abc",
           5);
    char err[256] = "";
    assert_int_equal(ro_report_decode(v2, (size_t)n1 + 5, &out, err, sizeof err),
                     RO_REASON_MALFORMED);
    assert_non_null(strstr(err, "incarnation of 3 bytes"));
    assert_string_equal(out.unit, "469005-012"); /* still named for the refusal */

    ro_report_t hb = s_training();
    hb.kind = RO_KIND_HEARTBEAT, hb.seq = 0, hb.date = hb.total = hb.part = 0;
    strcpy(hb.text, "0.2.0");
    hb.last_ack = 991, hb.agent_time = 1546300801, hb.retained = 40000, hb.retained_from = 7;
    int n = ro_report_encode(&hb, v2, sizeof v2);
    assert_int_equal(ro_report_decode(v2, (size_t)n, &out, NULL, 0), RO_REASON_NONE);
    assert_int_equal(out.last_ack, 991);
    assert_int_equal(out.agent_time, 1546300801);
    assert_int_equal(out.retained, 40000);
    assert_int_equal(out.retained_from, 7);

    ro_hubmsg_t ack, got;
    memset(&ack, 0, sizeof ack);
    ack.kind = RO_HUBMSG_ACK, ack.seq = 12;
    strcpy(ack.unit, "460100-003");
    int a1 = ro_hubmsg_encode(&ack, legacy, sizeof legacy);
    memcpy(ack.incarnation, in.incarnation, RO_INCARNATION_LEN);
    memset(ack.store_id, 0x5c, RO_INCARNATION_LEN);
    ack.upto_hash = 0x1122334455667788ull, ack.hub_version = 2, ack.held = 3;
    int a2 = ro_hubmsg_encode(&ack, v2, sizeof v2);
    assert_true(a2 > a1);
    assert_int_equal(ro_hubmsg_decode(v2, (size_t)a2, &got, NULL, 0), 0);
    assert_memory_equal(&ack, &got, sizeof ack);
    ro_hubmsg_t ref;
    memset(&ref, 0, sizeof ref);
    ref.kind = RO_HUBMSG_REFUSAL, ref.seq = 4, ref.reason = RO_REASON_CONFLICT;
    strcpy(ref.unit, "460100-003");
    memcpy(ref.incarnation, in.incarnation, RO_INCARNATION_LEN);
    n = ro_hubmsg_encode(&ref, v2, sizeof v2);
    assert_int_equal(ro_hubmsg_decode(v2, (size_t)n, &got, NULL, 0), 0);
    assert_memory_equal(&ref, &got, sizeof ref);
    /* an ack whose store id is not 16 bytes: HubMessage field 1, Ack with field 6 */
    const uint8_t bad[] = {0x0a, 0x05, 0x10, 0x01, 0x32, 0x01, 0x00};
    assert_int_equal(ro_hubmsg_decode(bad, sizeof bad, &got, NULL, 0), -1);
}

/* A stored (version-1) body stamped for the wire decodes as the expected
 * version-2 report: the wire seq and incarnation replace the stored ones, the
 * content (and its hash) is the stored one. This tree's decoder speaks
 * version 1 and says so (RO_REASON_VERSION), after filling every field. */
static void s_assert_stamped(const ro_report_t *stored, uint64_t seq, const uint8_t *inc)
{
    uint8_t body[RO_FRAME_MAX], wire[RO_FRAME_MAX];
    int n = ro_report_encode(stored, body, sizeof body);
    assert_true(n > 0);
    int m = ro_report_stamp(body, (size_t)n, seq, inc, wire, sizeof wire);
    assert_true(m > n);
    ro_report_t want = *stored, got;
    want.version = 2, want.seq = seq;
    memcpy(want.incarnation, inc, RO_INCARNATION_LEN);
    ro_reason_t rc = ro_report_decode(wire, (size_t)m, &got, NULL, 0);
    assert_true(rc == RO_REASON_NONE || rc == RO_REASON_VERSION);
    s_assert_same(&got, &want);
    assert_memory_equal(got.incarnation, inc, RO_INCARNATION_LEN);
    assert_int_equal(got.unknown, 0);
    assert_true(ro_report_hash(&got) == ro_report_hash(stored));
    /* in place, and too small a buffer */
    assert_int_equal(ro_report_stamp(body, (size_t)n, seq, inc, body, sizeof body), m);
    assert_memory_equal(body, wire, (size_t)m);
    assert_int_equal(ro_report_stamp(wire, (size_t)n, seq, inc, body, (size_t)m - 1), -1);
}

static void test_stamp_for_version_2(void **state)
{
    (void)state;
    static const uint8_t legacy[RO_INCARNATION_LEN];
    uint8_t own[RO_INCARNATION_LEN];
    for (int i = 0; i < RO_INCARNATION_LEN; i++)
        own[i] = (uint8_t)(0xf0 - i);
    ro_report_t r = s_training();
    s_assert_stamped(&r, 1, own);
    s_assert_stamped(&r, 7, legacy); /* the same seq as stored */
    s_assert_stamped(&r, (uint64_t)1 << 40, own);
    r.seq = 300; /* a local seq above the wire one: the last value wins */
    s_assert_stamped(&r, 2, own);
    r.kind = RO_KIND_CASES, r.date = 201801, r.total = 830, r.part = 512, r.text[0] = '\0';
    s_assert_stamped(&r, 5, own);
    r.kind = RO_KIND_STAFF, r.date = 20180105, r.total = 0, r.part = 0;
    s_assert_stamped(&r, 9, legacy);
    /* a legacy stamp adds version and seq only; an own one its 18 bytes */
    uint8_t body[RO_FRAME_MAX], a[RO_FRAME_MAX], b[RO_FRAME_MAX];
    int n = ro_report_encode(&r, body, sizeof body);
    assert_int_equal(ro_report_stamp(body, (size_t)n, 9, legacy, a, sizeof a), n + 4);
    assert_int_equal(ro_report_stamp(body, (size_t)n, 9, own, b, sizeof b), n + 4 + 18);
}

/* ---- field checks --------------------------------------------------------- */

static const int64_t NOW = 1546300800; /* 2019-01-01 */

/* Corrections (version 2): an amend carries its replacement, a cancel none;
 * both round-trip with their target and reason, hash apart from the plain
 * report and from each other, and are refused in a version-1 report. */
static void test_correction_round_trip(void **state)
{
    (void)state;
    ro_report_t plain = s_training(), amend = s_training(), cancel = s_training(), out;
    amend.action = RO_ACTION_AMEND;
    amend.total = 20; /* 200 typed instead of 20 */
    for (int i = 0; i < RO_INCARNATION_LEN; i++)
        amend.target_inc[i] = (uint8_t)(0x10 + i);
    amend.target_seq = 3;
    strcpy(amend.reason, "200 typed for 20 participants");
    cancel.action = RO_ACTION_CANCEL;
    cancel.kind = RO_KIND_NONE, cancel.date = 0, cancel.total = 0, cancel.part = 0;
    cancel.text[0] = '\0';
    cancel.target_seq = 4; /* legacy target: no incarnation sent */
    strcpy(cancel.reason, "recorded twice");
    uint8_t buf[RO_FRAME_MAX];
    char err[256];
    const ro_report_t *in[] = {&amend, &cancel};
    for (int k = 0; k < 2; k++) {
        int n = ro_report_encode(in[k], buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(ro_report_decode(buf, (size_t)n, &out, err, sizeof err), RO_REASON_NONE);
        s_assert_same(in[k], &out);
        assert_int_equal(out.action, in[k]->action);
        assert_memory_equal(out.target_inc, in[k]->target_inc, RO_INCARNATION_LEN);
        assert_int_equal(out.target_seq, in[k]->target_seq);
        assert_string_equal(out.reason, in[k]->reason);
        assert_int_equal(out.unknown, 0);
        assert_int_equal(ro_report_check(&out, err, sizeof err), RO_REASON_NONE);
        assert_int_equal(ro_report_hash(&out), ro_report_hash(in[k]));
    }
    /* a report's hash is what it was before corrections existed */
    ro_report_t again = amend;
    again.action = RO_ACTION_NONE;
    memset(again.target_inc, 0, sizeof again.target_inc);
    again.target_seq = 0, again.reason[0] = '\0';
    plain.total = 20;
    assert_int_equal(ro_report_hash(&again), ro_report_hash(&plain));
    assert_int_not_equal(ro_report_hash(&amend), ro_report_hash(&plain));
    ro_report_t other = amend;
    strcpy(other.reason, "another reason");
    assert_int_not_equal(ro_report_hash(&amend), ro_report_hash(&other));

    /* version 1 has no corrections */
    amend.version = RO_PROTOCOL_V1;
    int n = ro_report_encode(&amend, buf, sizeof buf);
    assert_int_equal(ro_report_decode(buf, (size_t)n, &out, err, sizeof err), RO_REASON_MALFORMED);
    assert_non_null(strstr(err, "version 2"));
    assert_int_equal(out.seq, amend.seq); /* named, so the refusal uses its seq up */
}

static void test_correction_check(void **state)
{
    (void)state;
    char err[256];
    ro_report_t c = s_training();
    c.action = RO_ACTION_AMEND, c.target_seq = 2;
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_INVALID); /* no reason */
    assert_non_null(strstr(err, "reason"));
    strcpy(c.reason, "typo");
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_NONE);
    c.target_seq = 0;
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_INVALID);
    c.target_seq = 2, c.part = 0; /* the replacement is checked as a report */
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_INVALID);
    c.part = 65, c.action = RO_ACTION_CANCEL; /* a cancel with a body */
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_INVALID);
    assert_non_null(strstr(err, "no replacement"));
    c.kind = RO_KIND_NONE;
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_NONE);
    c.action = (ro_action_t)3;
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_INVALID);
    c.action = RO_ACTION_AMEND; /* an amend without its replacement */
    assert_int_equal(ro_report_check(&c, err, sizeof err), RO_REASON_INVALID);
    assert_non_null(strstr(err, "replacement"));
}

static void test_check_accepts_valid(void **state)
{
    (void)state;
    ro_report_t r = s_training();
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_NONE);
}

static void test_check_refuses_out_of_range(void **state)
{
    (void)state;
    char err[256];
    ro_report_t r;

    r = s_training(), r.kind = RO_KIND_STAFF, r.total = 3, r.part = 4;
    assert_int_equal(ro_report_check(&r, err, sizeof err), RO_REASON_INVALID);
    assert_non_null(strstr(err, "above total"));

    r = s_training(), r.date = 20180230; /* no such day */
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.date = 20161231; /* before the rollout */
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.recorded_at = 1483228799; /* before 2017 */
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.seq = 0;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.total = 0;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.part = 0;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.total = RO_COUNT_MAX + 1;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), strcpy(r.unit, "46000-0012");
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.kind = RO_KIND_CASES, r.date = 201813;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
    r = s_training(), r.kind = RO_KIND_CASES, r.date = 201812, r.total = 10, r.part = 10;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_NONE);
    r = s_training(), r.kind = RO_KIND_NONE;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
}

/* Nothing that time will fix is refused: a date ahead of the clock is for
 * ro_report_ahead to say (the hub holds, the agent refuses), and recorded_at
 * ahead of the clock, even by years, is no fault at all. */
static void test_check_future_is_ahead_not_invalid(void **state)
{
    (void)state;
    ro_report_t r = s_training();
    r.date = 20190105; /* four days after NOW */
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_NONE);
    assert_true(ro_report_ahead(&r, NOW));
    r.date = 20190102; /* within the tolerance of one day */
    assert_false(ro_report_ahead(&r, NOW));
    r.date = 20190103;
    assert_true(ro_report_ahead(&r, NOW));
    assert_false(ro_report_ahead(&r, NOW + 2 * 86400));
    r.kind = RO_KIND_CASES, r.date = 201902, r.total = 10, r.part = 1;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_NONE);
    assert_true(ro_report_ahead(&r, NOW));
    assert_int_equal(ro_report_due(&r), 20190201);
    assert_false(ro_report_ahead(&r, NOW + 30 * 86400)); /* 01-31 + 1 day is in February */
    r.date = 201901;
    assert_false(ro_report_ahead(&r, NOW));
    r = s_training(), r.recorded_at = NOW + 3 * 365 * 86400;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_NONE);
    assert_false(ro_report_ahead(&r, NOW));
    r.kind = RO_KIND_HEARTBEAT, r.seq = 0, r.date = 0;
    assert_false(ro_report_ahead(&r, NOW));
}

static void test_check_heartbeat(void **state)
{
    (void)state;
    ro_report_t r = s_training();
    r.kind = RO_KIND_HEARTBEAT, r.seq = 0, r.date = 0;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_NONE);
    r.seq = 3;
    assert_int_equal(ro_report_check(&r, NULL, 0), RO_REASON_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_kind),
        cmocka_unit_test(test_truncated_frames_refused),
        cmocka_unit_test(test_junk_and_oversize_refused),
        cmocka_unit_test(test_unknown_field_skipped),
        cmocka_unit_test(test_unknown_field_in_body_skipped),
        cmocka_unit_test(test_any_valid_encoding),
        cmocka_unit_test(test_body_in_parts_merged),
        cmocka_unit_test(test_version_before_faults),
        cmocka_unit_test(test_hash_is_content),
        cmocka_unit_test(test_embedded_nul_refused),
        cmocka_unit_test(test_bad_utf8_refused),
        cmocka_unit_test(test_long_text_refused),
        cmocka_unit_test(test_big_frame_past_the_arena),
        cmocka_unit_test(test_wrong_version_refused),
        cmocka_unit_test(test_no_body_refused),
        cmocka_unit_test(test_hubmsg_round_trip),
        cmocka_unit_test(test_version_2_fields),
        cmocka_unit_test(test_stamp_for_version_2),
        cmocka_unit_test(test_correction_round_trip),
        cmocka_unit_test(test_correction_check),
        cmocka_unit_test(test_check_accepts_valid),
        cmocka_unit_test(test_check_refuses_out_of_range),
        cmocka_unit_test(test_check_future_is_ahead_not_invalid),
        cmocka_unit_test(test_check_heartbeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
