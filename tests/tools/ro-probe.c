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

#define ARGS_MAX 16

static void s_usage(void)
{
    fprintf(
        stderr,
        "usage: ro-probe ENDPOINT [--curve SERVER_PUB PUB SEC] [--wait MS] [--append HEX] [--hex]\n"
        "                [--recorded-at UNIX_SECONDS]\n"
        "                [--routing-id HEX] COMMAND\n"
        "       ro-probe --predict-ids N\n"
        "  report UNIT SEQ KIND DATE TOTAL PART [TIMES]  send one report TIMES times (default 1)\n"
        "         KIND: training|staff|items|cases; DATE YYYYMMDD (YYYYMM for cases)\n"
        "  heartbeat UNIT                                 send a heartbeat\n"
        "  raw HEX                                        send these bytes as one frame\n"
        "  frames N                                       send one message of N frames\n"
        "  flood COUNT N                                  send COUNT messages of N frames each\n"
        "  big BYTES                                      send a frame of BYTES zero bytes\n"
        "  -                                              read commands from stdin, one a line,\n"
        "                                                 all over this one connection; the line\n"
        "                                                 'wait FILE' waits until FILE exists\n"
        "Waits --wait MS (default 1500) for answers after each command. --append adds\n"
        "bytes after an encoded report or heartbeat (e.g. an unknown field). --hex prints\n"
        "each answer as 'frame HEX' (for sockets that do not speak HubMessage: status).\n"
        "--routing-id gives the connection a routing id of its own choosing.\n"
        "--recorded-at fixes the reports' recorded_at (default: now), so that two runs\n"
        "can send the same report.\n"
        "--predict-ids prints, in hex, the first N routing ids a libzmq 4.3 ROUTER made in\n"
        "a process that never seeded rand() would give peers without one: what an\n"
        "attacker would hold to make the next peer's connection abort such a process.\n");
    exit(2);
}

static size_t s_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n && i < cap; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return n < cap ? n : cap;
}

static int s_print_hex;       /* --hex: answers as hex, not decoded */
static int64_t s_recorded_at; /* --recorded-at: fixed recorded_at, 0 = now */

/* Print what the hub says for wait_ms. */
static void s_answers(void *sock, int wait_ms)
{
    static uint8_t buf[1 << 16];
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
        if (s_print_hex) {
            printf("frame ");
            for (int i = 0; i < n && i < (int)sizeof buf; i++)
                printf("%02x", buf[i]);
            printf("\n");
        } else if (n > RO_FRAME_MAX || ro_hubmsg_decode(buf, (size_t)n, &m, err, sizeof err)) {
            printf("undecodable %s\n", err);
        } else if (m.kind == RO_HUBMSG_ACK) {
            printf("ack %s %llu\n", m.unit, (unsigned long long)m.seq);
        } else {
            printf("refusal %s %llu %s %s\n", m.unit, (unsigned long long)m.seq,
                   ro_reason_name(m.reason), m.text);
        }
        fflush(stdout);
    }
}

/* Run one command (words in av); returns 0 or -1 for bad usage. */
static int s_command(void *sock, int ac, char **av, const uint8_t *append, size_t append_len)
{
    static uint8_t buf[RO_FRAME_MAX * 2];
    if (ac < 1)
        return -1;
    const char *cmd = av[0];
    if (!strcmp(cmd, "report") || !strcmp(cmd, "heartbeat")) {
        ro_report_t r;
        memset(&r, 0, sizeof r);
        r.version = RO_PROTOCOL_V1;
        r.recorded_at = s_recorded_at ? s_recorded_at : ro_time_now();
        int times = 1;
        if (!strcmp(cmd, "heartbeat")) {
            if (ac < 2)
                return -1;
            snprintf(r.unit, sizeof r.unit, "%s", av[1]);
            r.kind = RO_KIND_HEARTBEAT;
            strcpy(r.text, "probe");
        } else {
            if (ac < 7)
                return -1;
            snprintf(r.unit, sizeof r.unit, "%s", av[1]);
            r.seq = strtoull(av[2], NULL, 10);
            const char *k = av[3];
            r.kind = !strcmp(k, "training") ? RO_KIND_TRAINING
                     : !strcmp(k, "staff")  ? RO_KIND_STAFF
                     : !strcmp(k, "items")  ? RO_KIND_ITEMS
                     : !strcmp(k, "cases")  ? RO_KIND_CASES
                                            : RO_KIND_NONE;
            r.date = (uint32_t)strtoul(av[4], NULL, 10);
            r.total = (uint32_t)strtoul(av[5], NULL, 10);
            r.part = (uint32_t)strtoul(av[6], NULL, 10);
            if (ac > 7)
                times = atoi(av[7]);
            if (r.kind == RO_KIND_TRAINING)
                strcpy(r.text, "probe course");
        }
        int n = ro_report_encode(&r, buf, RO_FRAME_MAX);
        if (n < 0)
            return -1;
        memcpy(buf + n, append, append_len);
        n += (int)append_len;
        for (int i = 0; i < times; i++)
            zmq_send(sock, buf, (size_t)n, 0);
    } else if (!strcmp(cmd, "raw") && ac > 1) {
        size_t n = s_hex(av[1], buf, sizeof buf);
        zmq_send(sock, buf, n, 0);
    } else if (!strcmp(cmd, "frames") && ac > 1) {
        int n = atoi(av[1]);
        for (int i = 0; i < n; i++)
            zmq_send(sock, "x", 1, i + 1 < n ? ZMQ_SNDMORE : 0);
    } else if (!strcmp(cmd, "flood") && ac > 2) {
        int count = atoi(av[1]), n = atoi(av[2]);
        for (int c = 0; c < count; c++)
            for (int i = 0; i < n; i++)
                zmq_send(sock, "x", 1, i + 1 < n ? ZMQ_SNDMORE : 0);
    } else if (!strcmp(cmd, "big") && ac > 1) {
        size_t n = strtoul(av[1], NULL, 10);
        uint8_t *big = calloc(1, n ? n : 1);
        zmq_send(sock, big, n, 0);
        free(big);
    } else {
        return -1;
    }
    return 0;
}

/* Commands from stdin over one connection; "wait FILE" waits for FILE. */
static int s_session(void *sock, int wait_ms, const uint8_t *append, size_t append_len)
{
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        char *av[ARGS_MAX];
        int ac = 0;
        for (char *t = strtok(line, " \t\r\n"); t && ac < ARGS_MAX; t = strtok(NULL, " \t\r\n"))
            av[ac++] = t;
        if (ac == 0)
            continue;
        if (!strcmp(av[0], "wait") && ac == 2) {
            int64_t until = ro_time_mono_ms() + 30000;
            FILE *f;
            while (!(f = fopen(av[1], "r")) && ro_time_mono_ms() < until)
                s_answers(sock, 100);
            if (f)
                fclose(f);
            continue;
        }
        if (s_command(sock, ac, av, append, append_len)) {
            fprintf(stderr, "ro-probe: bad command line\n");
            return 2;
        }
        s_answers(sock, wait_ms);
    }
    return 0;
}

/* libzmq 4.3's generate_random(): two rand() calls, the second's low bit on top. */
static int s_predict_ids(int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t low = (uint32_t)rand();
        uint32_t high = (uint32_t)rand();
        printf("00%08x\n", (high << 31) | low);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--predict-ids"))
        return s_predict_ids(atoi(argv[2]));
    if (argc < 3)
        s_usage();
    const char *endpoint = argv[1];
    int ai = 2, wait_ms = 1500;
    uint8_t append[RO_FRAME_MAX];
    size_t append_len = 0;
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    int64_t maxmsg = RO_STATUS_FRAME_MAX;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    for (;;) {
        if (ai + 3 < argc && !strcmp(argv[ai], "--curve")) {
            char err[256];
            if (ro_sock_curve_client(sock, argv[ai + 1], argv[ai + 2], argv[ai + 3], err,
                                     sizeof err)) {
                fprintf(stderr, "ro-probe: %s\n", err);
                return 1;
            }
            ai += 4;
        } else if (ai + 1 < argc && !strcmp(argv[ai], "--wait")) {
            wait_ms = atoi(argv[ai + 1]);
            ai += 2;
        } else if (ai < argc && !strcmp(argv[ai], "--hex")) {
            s_print_hex = 1;
            ai++;
        } else if (ai + 1 < argc && !strcmp(argv[ai], "--routing-id")) {
            uint8_t id[255];
            size_t n = s_hex(argv[ai + 1], id, sizeof id);
            zmq_setsockopt(sock, ZMQ_ROUTING_ID, id, n);
            ai += 2;
        } else if (ai + 1 < argc && !strcmp(argv[ai], "--recorded-at")) {
            s_recorded_at = strtoll(argv[ai + 1], NULL, 10);
            ai += 2;
        } else if (ai + 1 < argc && !strcmp(argv[ai], "--append")) {
            append_len = s_hex(argv[ai + 1], append, sizeof append);
            ai += 2;
        } else {
            break;
        }
    }
    if (ai >= argc)
        s_usage();
    if (zmq_connect(sock, endpoint)) {
        fprintf(stderr, "ro-probe: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 1;
    }
    int rc = 0;
    if (!strcmp(argv[ai], "-")) {
        rc = s_session(sock, wait_ms, append, append_len);
    } else {
        if (s_command(sock, argc - ai, argv + ai, append, append_len))
            s_usage();
        s_answers(sock, wait_ms);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
