/* ro-probe: a test peer for the hub's ingest socket that does what a real
 * agent never would: send the same report again, send for any unit, send
 * junk, send many frames. It prints every hub answer as one line:
 *   ack UNIT UPTO | refusal UNIT SEQ REASON TEXT
 * Used by the end-to-end and security tests; not installed. */
#include "ro_codec.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static void s_usage(void)
{
    fprintf(stderr,
            "usage: ro-probe ENDPOINT [--curve SERVER_PUB PUB SEC] COMMAND\n"
            "  report UNIT SEQ KIND DATE TOTAL PART [TIMES]  send one report TIMES times (default 1)\n"
            "         KIND: training|staff|items|cases; DATE YYYYMMDD (YYYYMM for cases)\n"
            "  heartbeat UNIT                                 send a heartbeat\n"
            "  raw HEX                                        send these bytes as one frame\n"
            "  frames N                                       send one message of N frames\n"
            "  big BYTES                                      send a frame of BYTES zero bytes\n"
            "Waits --wait MS (default 1500) for answers after sending.\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        s_usage();
    const char *endpoint = argv[1];
    int ai = 2, wait_ms = 1500;
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (ai + 3 < argc && !strcmp(argv[ai], "--curve")) {
        char err[256];
        if (ro_sock_curve_client(sock, argv[ai + 1], argv[ai + 2], argv[ai + 3], err, sizeof err)) {
            fprintf(stderr, "ro-probe: %s\n", err);
            return 1;
        }
        ai += 4;
    }
    if (ai + 1 < argc && !strcmp(argv[ai], "--wait")) {
        wait_ms = atoi(argv[ai + 1]);
        ai += 2;
    }
    if (ai >= argc)
        s_usage();
    if (zmq_connect(sock, endpoint)) {
        fprintf(stderr, "ro-probe: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 1;
    }
    const char *cmd = argv[ai++];
    uint8_t buf[RO_FRAME_MAX];
    if (!strcmp(cmd, "report") || !strcmp(cmd, "heartbeat")) {
        ro_report_t r;
        memset(&r, 0, sizeof r);
        r.version = RO_PROTOCOL_VERSION;
        r.recorded_at = ro_time_now();
        int times = 1;
        if (!strcmp(cmd, "heartbeat")) {
            if (ai >= argc)
                s_usage();
            snprintf(r.unit, sizeof r.unit, "%s", argv[ai]);
            r.kind = RO_KIND_HEARTBEAT;
            strcpy(r.text, "probe");
        } else {
            if (ai + 6 > argc)
                s_usage();
            snprintf(r.unit, sizeof r.unit, "%s", argv[ai]);
            r.seq = strtoull(argv[ai + 1], NULL, 10);
            const char *k = argv[ai + 2];
            r.kind = !strcmp(k, "training") ? RO_KIND_TRAINING
                     : !strcmp(k, "staff")  ? RO_KIND_STAFF
                     : !strcmp(k, "items")  ? RO_KIND_ITEMS
                     : !strcmp(k, "cases")  ? RO_KIND_CASES
                                            : RO_KIND_NONE;
            r.date = (uint32_t)strtoul(argv[ai + 3], NULL, 10);
            r.total = (uint32_t)strtoul(argv[ai + 4], NULL, 10);
            r.part = (uint32_t)strtoul(argv[ai + 5], NULL, 10);
            if (ai + 6 < argc)
                times = atoi(argv[ai + 6]);
            if (r.kind == RO_KIND_TRAINING)
                strcpy(r.text, "probe course");
        }
        int n = ro_report_encode(&r, buf, sizeof buf);
        if (n < 0)
            s_usage();
        for (int i = 0; i < times; i++)
            zmq_send(sock, buf, (size_t)n, 0);
    } else if (!strcmp(cmd, "raw") && ai < argc) {
        const char *hex = argv[ai];
        size_t n = strlen(hex) / 2;
        for (size_t i = 0; i < n && i < sizeof buf; i++)
            sscanf(hex + 2 * i, "%2hhx", &buf[i]);
        zmq_send(sock, buf, n, 0);
    } else if (!strcmp(cmd, "frames") && ai < argc) {
        int n = atoi(argv[ai]);
        for (int i = 0; i < n; i++)
            zmq_send(sock, "x", 1, i + 1 < n ? ZMQ_SNDMORE : 0);
    } else if (!strcmp(cmd, "big") && ai < argc) {
        size_t n = strtoul(argv[ai], NULL, 10);
        uint8_t *big = calloc(1, n);
        zmq_send(sock, big, n, 0);
        free(big);
    } else {
        s_usage();
    }

    int64_t deadline = ro_time_mono_ms() + wait_ms;
    for (;;) {
        int64_t left = deadline - ro_time_mono_ms();
        if (left <= 0)
            break;
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)left) <= 0)
            break;
        int n = zmq_recv(sock, buf, sizeof buf, 0);
        if (n < 0)
            break;
        ro_hubmsg_t m;
        char err[256];
        if (ro_hubmsg_decode(buf, (size_t)n, &m, err, sizeof err)) {
            printf("undecodable %s\n", err);
        } else if (m.kind == RO_HUBMSG_ACK) {
            printf("ack %s %llu\n", m.unit, (unsigned long long)m.seq);
        } else {
            printf("refusal %s %llu %s %s\n", m.unit, (unsigned long long)m.seq,
                   ro_reason_name(m.reason), m.text);
        }
        fflush(stdout);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}
