/* ro-flood: a test peer that does what no libzmq socket will do: put a
 * message on the wire that never ends (every frame with MORE set). libzmq
 * flushes a message to the wire only at its last frame, so this speaks
 * ZMTP 3.0 itself over a TCP socket, with the NULL or the CURVE mechanism
 * (libsodium, as libzmq 4.3 does it). It can first send one complete
 * message (a heartbeat for ingest, a subscription for the feed), so that
 * the hub knows which key the connection speaks with.
 * With --ask it is instead an operator that asks the status socket and
 * never reads a reply (its TCP receive window closes, and what the hub
 * answers stays with the hub).
 * `ro-flood watch` is a plain libzmq subscriber that prints each feed
 * message it gets, for the tests that check who gets what. Not installed. */
#include "ro_clone.h"
#include "ro_codec.h"
#include "ro_feed.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

static void s_usage(void)
{
    fprintf(stderr,
            "usage: ro-flood ENDPOINT [--curve SERVER_PUB PUB SEC] [--type DEALER|SUB]\n"
            "                [--heartbeat UNIT | --subscribe] [--frame BYTES] [--total BYTES]\n"
            "       ro-flood ENDPOINT --curve SERVER_PUB PUB SEC --ask N\n"
            "       ro-flood watch ENDPOINT [--curve SERVER_PUB PUB SEC] [--for SEC]\n"
            "Connects to ENDPOINT (tcp://IPv4:PORT) speaking ZMTP 3.0 itself, CURVE with the\n"
            "key files given (else NULL), as a DEALER (default: ingest, status) or a SUB (feed).\n"
            "--heartbeat first sends one complete message, a heartbeat of UNIT; --subscribe a\n"
            "subscription to everything. Then it sends one message that never ends: frames of\n"
            "BYTES (default 4096) payload bytes, every one with MORE set, until TOTAL bytes\n"
            "(default 2 GiB) are sent or the hub cuts the connection. Prints 'connected',\n"
            "'sent N MiB' about every second, then 'cut after N MiB in S s: REASON' (exit 0)\n"
            "or 'done: N MiB sent, not cut' (exit 1). Exit 2: bad usage; 3: no connection.\n"
            "--ask sends N status requests for every laggard (no limit: the largest reply),\n"
            "then one request that is not a StatusRequest (the hub counts it in\n"
            "status_refused once it has come to it, after the N), with a receive buffer of\n"
            "4 KiB and reading nothing; prints 'asked N' and holds the connection until\n"
            "SIGTERM, or prints 'cut after asking' (exit 0) when the hub closes it.\n"
            "watch subscribes to everything with libzmq and prints a line per message:\n"
            "'heartbeat SEQ' or 'update SEQ TOPIC', until SIGTERM or --for SEC.\n");
    exit(2);
}

typedef struct {
    int fd;
    int curve;
    uint8_t precomputed[crypto_box_BEFORENMBYTES]; /* with the server's short-term key */
    uint64_t nonce;                                /* the next short nonce */
} s_conn_t;

static int s_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_read_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r == 0)
            errno = ECONNRESET;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static size_t s_frame_head(uint8_t *h, uint8_t flags, uint64_t size)
{
    if (size > 255) {
        h[0] = flags | 0x02; /* long */
        for (int i = 0; i < 8; i++)
            h[1 + i] = (uint8_t)(size >> (56 - 8 * i));
        return 9;
    }
    h[0] = flags;
    h[1] = (uint8_t)size;
    return 2;
}

static int s_send_command(int fd, const void *body, size_t n)
{
    uint8_t h[9];
    size_t hl = s_frame_head(h, 0x04, n);
    return s_write_all(fd, h, hl) || s_write_all(fd, body, n) ? -1 : 0;
}

/* One frame into a malloc'd *body; returns its size, or -1. */
static long s_recv_frame(int fd, uint8_t **body)
{
    uint8_t h[9];
    uint64_t size = 0;
    if (s_read_all(fd, h, 2))
        return -1;
    if (h[0] & 0x02) {
        if (s_read_all(fd, h + 2, 7))
            return -1;
        for (int i = 0; i < 8; i++)
            size = (size << 8) | h[1 + i];
    } else {
        size = h[1];
    }
    if (size > (1u << 20))
        return -1;
    *body = malloc(size + 1);
    if (!*body || (size && s_read_all(fd, *body, size))) {
        free(*body);
        *body = NULL;
        return -1;
    }
    return (long)size;
}

static void s_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static size_t s_property(uint8_t *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    p[0] = (uint8_t)nl;
    memcpy(p + 1, name, nl);
    p[1 + nl] = p[2 + nl] = 0;
    p[3 + nl] = (uint8_t)(vl >> 8);
    p[4 + nl] = (uint8_t)vl;
    memcpy(p + 5 + nl, value, vl);
    return 5 + nl + vl;
}

/* Connect and handshake; keys NULL: the NULL mechanism. Returns 0, or -1
 * with the reason in err. */
static int s_connect(s_conn_t *c, const char *ip, int port, const char *type,
                     const char keys[3][RO_KEY_Z85_LEN + 1], int rcvbuf, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->curve = keys != NULL;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd >= 0 && rcvbuf > 0) /* before connect: it sets the window offered */
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (c->fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1 ||
        connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(err, errlen, "connect %s:%d: %s", ip, port, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0};
    memcpy(greeting + 12, c->curve ? "CURVE" : "NULL", c->curve ? 5 : 4);
    uint8_t theirs[64];
    if (s_write_all(c->fd, greeting, 64) || s_read_all(c->fd, theirs, 64)) {
        snprintf(err, errlen, "greeting: %s", strerror(errno));
        return -1;
    }
    uint8_t meta[128];
    size_t ml = s_property(meta, "Socket-Type", type);
    if (!strcmp(type, "DEALER"))
        ml += s_property(meta + ml, "Identity", "");
    uint8_t *body = NULL;
    long n;
    if (!c->curve) {
        uint8_t ready[160];
        memcpy(ready, "\x05READY", 6);
        memcpy(ready + 6, meta, ml);
        if (s_send_command(c->fd, ready, 6 + ml) || (n = s_recv_frame(c->fd, &body)) < 0) {
            snprintf(err, errlen, "handshake: %s", strerror(errno));
            return -1;
        }
        int ok = n >= 6 && !memcmp(body, "\x05READY", 6);
        free(body);
        if (!ok)
            snprintf(err, errlen, "handshake refused");
        return ok ? 0 : -1;
    }
    /* CURVE (ZMTP RFC 26, as libzmq 4.3's curve_client does it) */
    uint8_t C[32], c_sec[32], S[32], Cp[32], cp[32], Sp[32], cookie[96];
    zmq_z85_decode(S, keys[0]);
    zmq_z85_decode(C, keys[1]);
    zmq_z85_decode(c_sec, keys[2]);
    crypto_box_keypair(Cp, cp);
    uint64_t nonce = 1;
    /* HELLO: version, padding, C', nonce, Box[64 zeros](C'->S) */
    uint8_t hello[200], nz[24], zeros[64] = {0}, box[64 + crypto_box_MACBYTES];
    memcpy(nz, "CurveZMQHELLO---", 16);
    s_put_u64(nz + 16, nonce++);
    if (crypto_box_easy(box, zeros, 64, nz, S, cp) != 0) {
        snprintf(err, errlen, "HELLO: cannot encrypt");
        return -1;
    }
    memcpy(hello, "\x05HELLO\x01\x00", 8);
    memset(hello + 8, 0, 72);
    memcpy(hello + 80, Cp, 32);
    memcpy(hello + 112, nz + 16, 8);
    memcpy(hello + 120, box, 80);
    if (s_send_command(c->fd, hello, 200) || (n = s_recv_frame(c->fd, &body)) < 0) {
        snprintf(err, errlen, "HELLO: %s", strerror(errno));
        return -1;
    }
    uint8_t wn[24], wp[128];
    memcpy(wn, "WELCOME-", 8);
    if (n != 168 || memcmp(body, "\x07WELCOME", 8) ||
        (memcpy(wn + 8, body + 8, 16), crypto_box_open_easy(wp, body + 24, 144, wn, S, cp)) != 0) {
        free(body);
        snprintf(err, errlen, "no valid WELCOME");
        return -1;
    }
    free(body);
    memcpy(Sp, wp, 32);
    memcpy(cookie, wp + 32, 96);
    /* INITIATE: cookie, nonce, Box[C, vouch, metadata](C'->S') */
    uint8_t vn[24], vp[64], vbox[64 + crypto_box_MACBYTES];
    memcpy(vn, "VOUCH---", 8);
    randombytes_buf(vn + 8, 16);
    memcpy(vp, Cp, 32);
    memcpy(vp + 32, S, 32);
    int bad = crypto_box_easy(vbox, vp, 64, vn, Sp, c_sec) != 0;
    uint8_t plain[128 + 128], in[24], ibox[sizeof plain + crypto_box_MACBYTES];
    memcpy(plain, C, 32);
    memcpy(plain + 32, vn + 8, 16);
    memcpy(plain + 48, vbox, 80);
    memcpy(plain + 128, meta, ml);
    memcpy(in, "CurveZMQINITIATE", 16);
    s_put_u64(in + 16, nonce++);
    bad |= crypto_box_easy(ibox, plain, 128 + ml, in, Sp, cp) != 0;
    if (bad) {
        snprintf(err, errlen, "INITIATE: cannot encrypt");
        return -1;
    }
    uint8_t init[113 + sizeof ibox];
    memcpy(init, "\x08INITIATE", 9);
    memcpy(init + 9, cookie, 96);
    memcpy(init + 105, in + 16, 8);
    memcpy(init + 113, ibox, 128 + ml + crypto_box_MACBYTES);
    if (s_send_command(c->fd, init, 113 + 128 + ml + crypto_box_MACBYTES) ||
        (n = s_recv_frame(c->fd, &body)) < 0) {
        snprintf(err, errlen, "INITIATE: %s (a refused key is closed here)", strerror(errno));
        return -1;
    }
    int ready = n >= 6 && !memcmp(body, "\x05READY", 6);
    if (!ready)
        snprintf(err, errlen, "handshake refused: %.*s", n > 7 ? (int)body[6] : 0,
                 n > 7 ? (const char *)body + 7 : "");
    free(body);
    if (!ready)
        return -1;
    c->nonce = nonce;
    return crypto_box_beforenm(c->precomputed, Sp, cp) == 0 ? 0 : -1;
}

/* Encode one frame of len bytes at out (room for len + 64); returns its bytes. */
static size_t s_encode(s_conn_t *c, uint8_t *out, const void *data, size_t len, int more)
{
    if (!c->curve) {
        size_t hl = s_frame_head(out, more ? 1 : 0, len);
        memcpy(out + hl, data, len);
        return hl + len;
    }
    size_t body = 8 + 8 + crypto_box_MACBYTES + 1 + len;
    size_t hl = s_frame_head(out, 0, body);
    uint8_t *m = out + hl, n[24];
    memcpy(m, "\x07MESSAGE", 8);
    memcpy(n, "CurveZMQMESSAGEC", 16);
    s_put_u64(n + 16, c->nonce++);
    memcpy(m + 8, n + 16, 8);
    uint8_t *plain = m + 16 + crypto_box_MACBYTES; /* encrypted in place, MAC before it */
    plain[0] = more ? 1 : 0;
    memcpy(plain + 1, data, len);
    if (crypto_box_easy_afternm(m + 16, plain, 1 + len, n, c->precomputed) != 0)
        abort(); /* only for messages above crypto_box_MESSAGEBYTES_MAX */
    return hl + body;
}

static int s_send_frame(s_conn_t *c, const void *data, size_t len, int more)
{
    uint8_t *buf = malloc(len + 64);
    if (!buf)
        return -1;
    int rc = s_write_all(c->fd, buf, s_encode(c, buf, data, len, more));
    free(buf);
    return rc;
}

static int s_endpoint(const char *ep, char *ip, size_t cap, int *port)
{
    const char *p = strncmp(ep, "tcp://", 6) ? NULL : ep + 6;
    const char *colon = p ? strrchr(p, ':') : NULL;
    if (!colon || (size_t)(colon - p) >= cap)
        return -1;
    memcpy(ip, p, (size_t)(colon - p));
    ip[colon - p] = '\0';
    if (!strcmp(ip, "localhost") || !strcmp(ip, "*"))
        snprintf(ip, cap, "127.0.0.1");
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

static int s_keys(char **argv, char keys[3][RO_KEY_Z85_LEN + 1])
{
    char err[512];
    for (int i = 0; i < 3; i++)
        if (ro_key_read(argv[i], i == 2, keys[i], err, sizeof err)) {
            fprintf(stderr, "ro-flood: %s\n", err);
            return -1;
        }
    return 0;
}

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* --ask: n LAGGARDS requests without a limit, then one byte that is no
 * StatusRequest, every reply left unread; then hold until SIGTERM or the
 * hub closes the connection (a poll for its end, never a read). */
static int s_ask(s_conn_t *c, long n)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_LAGGARDS);
    uint8_t body[64];
    size_t len = (size_t)ro_status_request_encode(&req, body, sizeof body);
    for (long i = 0; i < n; i++)
        if (s_send_frame(c, body, len, 0)) {
            printf("cut after asking %ld times: %s\n", i, strerror(errno));
            return 0;
        }
    if (s_send_frame(c, "\xff", 1, 0)) {
        printf("cut after asking %ld times: %s\n", n, strerror(errno));
        return 0;
    }
    printf("asked %ld\n", n);
    signal(SIGTERM, s_on_signal);
    signal(SIGINT, s_on_signal);
    while (!s_stop) {
        struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};
        if (poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            printf("cut after asking\n");
            return 0;
        }
    }
    return 0;
}

/* watch: a libzmq SUB printing what the feed sends. */
static int s_watch(int argc, char **argv)
{
    const char *ep = NULL;
    char keys[3][RO_KEY_Z85_LEN + 1];
    int curve = 0;
    double run_for = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--curve") && i + 3 < argc) {
            if (s_keys(argv + i + 1, keys))
                return 2;
            curve = 1;
            i += 3;
        } else if (!strcmp(argv[i], "--for") && i + 1 < argc) {
            run_for = atof(argv[++i]);
        } else if (!ep && argv[i][0] != '-') {
            ep = argv[i];
        } else {
            s_usage();
        }
    }
    if (!ep)
        s_usage();
    signal(SIGTERM, s_on_signal);
    signal(SIGINT, s_on_signal);
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    if (curve && (zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, keys[0], RO_KEY_Z85_LEN) ||
                  zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, keys[1], RO_KEY_Z85_LEN) ||
                  zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, keys[2], RO_KEY_Z85_LEN))) {
        fprintf(stderr, "ro-flood: CURVE: %s\n", zmq_strerror(zmq_errno()));
        return 2;
    }
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(sub, ep) != 0) {
        fprintf(stderr, "ro-flood: connect %s: %s\n", ep, zmq_strerror(zmq_errno()));
        return 3;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int64_t end = run_for > 0 ? ro_time_mono_ms() + (int64_t)(run_for * 1000) : 0;
    while (!s_stop && (!end || ro_time_mono_ms() < end)) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t t, b;
        zmq_msg_init(&t);
        zmq_msg_init(&b);
        if (zmq_msg_recv(&t, sub, 0) >= 0 && zmq_msg_more(&t) && zmq_msg_recv(&b, sub, 0) >= 0) {
            char topic[RO_FEED_TOPIC_MAX];
            snprintf(topic, sizeof topic, "%.*s", (int)zmq_msg_size(&t),
                     (const char *)zmq_msg_data(&t));
            if (!strcmp(topic, RO_FEED_HEARTBEAT)) {
                ro_feed_heartbeat_t hb;
                int ok = ro_feed_heartbeat_decode(zmq_msg_data(&b), zmq_msg_size(&b),
                                                  RO_DECODE_SKIP_UNKNOWN, &hb, NULL, 0) == 0;
                printf("heartbeat %llu\n", ok ? (unsigned long long)hb.seq : 0ULL);
            } else {
                ro_feed_update_t u;
                int ok = ro_feed_update_decode(zmq_msg_data(&b), zmq_msg_size(&b),
                                               RO_DECODE_SKIP_UNKNOWN, &u, NULL, 0) == 0;
                printf("update %llu %s\n", ok ? (unsigned long long)u.seq : 0ULL, topic);
                ro_feed_update_clear(&u);
            }
        }
        zmq_msg_close(&t);
        zmq_msg_close(&b);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "watch"))
        return s_watch(argc, argv);
    if (argc < 2 || argv[1][0] == '-')
        s_usage();
    const char *type = "DEALER", *unit = NULL;
    char keys[3][RO_KEY_Z85_LEN + 1];
    int curve = 0, subscribe = 0;
    long ask = -1;
    size_t frame = 4096;
    uint64_t total = 2ull << 30;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--curve") && i + 3 < argc) {
            if (s_keys(argv + i + 1, keys))
                return 2;
            curve = 1;
            i += 3;
        } else if (!strcmp(a, "--type") && i + 1 < argc) {
            type = argv[++i];
        } else if (!strcmp(a, "--heartbeat") && i + 1 < argc) {
            unit = argv[++i];
        } else if (!strcmp(a, "--subscribe")) {
            subscribe = 1;
        } else if (!strcmp(a, "--frame") && i + 1 < argc) {
            frame = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--total") && i + 1 < argc) {
            total = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--ask") && i + 1 < argc) {
            ask = atol(argv[++i]);
        } else {
            s_usage();
        }
    }
    if ((strcmp(type, "DEALER") && strcmp(type, "SUB")) || frame > (1u << 20) ||
        (ask >= 0 && (unit || subscribe || strcmp(type, "DEALER"))))
        s_usage();
    char ip[64], err[512];
    int port;
    if (s_endpoint(argv[1], ip, sizeof ip, &port)) {
        fprintf(stderr, "ro-flood: '%s' is not tcp://IPv4:PORT\n", argv[1]);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "ro-flood: libsodium will not start\n");
        return 3;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    s_conn_t c;
    if (s_connect(&c, ip, port, type, curve ? (const char(*)[RO_KEY_Z85_LEN + 1]) keys : NULL,
                  ask >= 0 ? 4096 : 0, err, sizeof err)) {
        fprintf(stderr, "ro-flood: %s\n", err);
        return 3;
    }
    printf("connected\n");
    if (ask >= 0) {
        int rc = s_ask(&c, ask);
        close(c.fd);
        return rc;
    }
    if (unit) {
        ro_report_t r;
        memset(&r, 0, sizeof r);
        r.version = RO_PROTOCOL_V1;
        r.recorded_at = ro_time_now();
        r.kind = RO_KIND_HEARTBEAT;
        snprintf(r.unit, sizeof r.unit, "%s", unit);
        snprintf(r.text, sizeof r.text, "ro-flood");
        uint8_t buf[RO_FRAME_MAX];
        int n = ro_report_encode(&r, buf, sizeof buf);
        if (n < 0 || s_send_frame(&c, buf, (size_t)n, 0)) {
            fprintf(stderr, "ro-flood: heartbeat: %s\n", strerror(errno));
            return 3;
        }
        printf("sent a heartbeat of %s\n", unit);
    }
    if (subscribe && s_send_frame(&c, "\x01", 1, 0)) {
        fprintf(stderr, "ro-flood: subscribe: %s\n", strerror(errno));
        return 3;
    }
    /* the message that never ends, written in batches of frames */
    uint8_t *payload = calloc(1, frame ? frame : 1);
    size_t per = frame >= 65536 ? 4 : frame >= 4096 ? 32 : 256;
    uint8_t *batch = malloc(per * (frame + 64));
    if (!payload || !batch)
        return 3;
    uint64_t sent = 0;
    int64_t t0 = ro_time_mono_ms(), next_say = t0 + 1000;
    int rc = 1;
    while (sent < total) {
        size_t len = 0;
        for (size_t k = 0; k < per; k++)
            len += s_encode(&c, batch + len, payload, frame, 1);
        if (s_write_all(c.fd, batch, len) != 0) {
            printf("cut after %.1f MiB in %.2f s: %s\n", (double)sent / (1 << 20),
                   (double)(ro_time_mono_ms() - t0) / 1000, strerror(errno));
            rc = 0;
            break;
        }
        sent += per * frame;
        if (ro_time_mono_ms() >= next_say) {
            printf("sent %.1f MiB\n", (double)sent / (1 << 20));
            next_say += 1000;
        }
    }
    if (rc)
        printf("done: %.1f MiB sent in %.2f s, not cut\n", (double)sent / (1 << 20),
               (double)(ro_time_mono_ms() - t0) / 1000);
    close(c.fd);
    free(payload);
    free(batch);
    return rc;
}
