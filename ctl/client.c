/* ctl_client: how rolloutctl reaches the hub: its options and ctl.ini,
 * the endpoint, CURVE, and ask (send one status request, wait for one
 * reply). What a command asks and prints is its own file's. */
#include "client.h"
#include "ro_codec.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int ctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("rolloutctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try --help)\n", stderr);
    return 2;
}

/* A port: 1 to 65535, digits only. */
static int s_port_ok(const char *p)
{
    if (!p[0] || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
        return 0;
    long v = strtol(p, NULL, 10);
    return v >= 1 && v <= 65535;
}

/* A host name or IPv4 address (letters, digits, '.', '-', '_'), or an IPv6
 * address (hex digits, ':', '.', and '%' for a zone) of n bytes. */
static int s_host_ok(const char *h, size_t n, int ipv6)
{
    const char *ok = ipv6 ? "0123456789abcdefABCDEF:.%" : NULL;
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (ipv6 ? !strchr(ok, c) || c == '\0'
                 : !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* ENDPOINT stays as is; HOST becomes tcp://HOST:7452, HOST:PORT tcp://HOST:PORT.
 * A tcp endpoint, a host and a port are checked here, so that a typo is a
 * usage error rather than a failed connection. Returns 0, or -1 with the
 * reason in why. */
int ctl_endpoint(const char *hub, char *out, size_t cap, char *why, size_t whylen)
{
    char host[RO_ENDPOINT_MAX];
    const char *rest = hub, *port = NULL;
    size_t hlen;
    int ipv6 = 0, tcp = 0, n;
    if (strstr(hub, "://")) {
        if (strncmp(hub, "tcp://", 6) != 0) {
            /* ipc:// and the like: ZeroMQ checks them when connecting */
            n = snprintf(out, cap, "%s", hub);
            snprintf(why, whylen, "too long");
            return n < 0 || (size_t)n >= cap ? -1 : 0;
        }
        rest = hub + 6;
        tcp = 1;
    }
    const char *colon = strchr(rest, ':');
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (!close || (close[1] && close[1] != ':')) {
            snprintf(why, whylen, "'[' opens an IPv6 address: [ADDRESS] or [ADDRESS]:PORT");
            return -1;
        }
        ipv6 = 1;
        rest++;
        hlen = (size_t)(close - rest);
        port = close[1] ? close + 2 : NULL;
    } else if (colon && colon != strrchr(rest, ':')) {
        ipv6 = 1; /* a bare IPv6 address: no port */
        hlen = strlen(rest);
    } else {
        hlen = colon ? (size_t)(colon - rest) : strlen(rest);
        port = colon ? colon + 1 : NULL;
    }
    if (hlen >= sizeof host) {
        snprintf(why, whylen, "the host is too long");
        return -1;
    }
    memcpy(host, rest, hlen);
    host[hlen] = '\0';
    if (!s_host_ok(host, hlen, ipv6)) {
        snprintf(why, whylen, "'%.64s' is not a host name or address", host);
        return -1;
    }
    if (tcp && !port) {
        snprintf(why, whylen, "a tcp:// endpoint needs a port: tcp://HOST:PORT");
        return -1;
    }
    if (port && !s_port_ok(port)) {
        snprintf(why, whylen, "port '%.16s' is not a number from 1 to 65535", port);
        return -1;
    }
    if (port)
        n = snprintf(out, cap, ipv6 ? "tcp://[%s]:%s" : "tcp://%s:%s", host, port);
    else
        n = snprintf(out, cap, ipv6 ? "tcp://[%s]:%d" : "tcp://%s:%d", host, CTL_DEFAULT_PORT);
    snprintf(why, whylen, "too long");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

ro_status_reply_t *ctl_ask(const ctl_hub_t *hub, const ro_status_request_t *req)
{
    const char *endpoint = hub->endpoint;
    double timeout_s = hub->timeout;
    ro_status_reply_t *reply = NULL;
    uint8_t body[RO_STATUS_REQUEST_MAX];
    int n = ro_status_request_encode(req, body, sizeof body);
    if (n < 0) {
        fprintf(stderr, "rolloutctl: request too large\n");
        return NULL;
    }
    size_t len = (size_t)n;

    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    if (!sock) {
        fprintf(stderr, "rolloutctl: cannot create a socket: %s\n", zmq_strerror(zmq_errno()));
        if (ctx)
            zmq_ctx_term(ctx);
        return NULL;
    }
    int linger = 0;
    int64_t maxmsg = RO_STATUS_FRAME_MAX;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    char why[512];
    if (ctl_curve_client(sock, &hub->sec, why, sizeof why) != 0) {
        fprintf(stderr, "rolloutctl: %s\n", why);
        goto done;
    }
    if (zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "rolloutctl: cannot connect to %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        goto done;
    }
    if (zmq_send(sock, body, len, 0) < 0) {
        fprintf(stderr, "rolloutctl: cannot send to %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }
    int64_t deadline = ro_time_mono_ms() + (int64_t)(timeout_s * 1000.0);
    for (;;) {
        int64_t left = deadline - ro_time_mono_ms();
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int rc = left > 0 ? zmq_poll(&item, 1, (long)left) : 0;
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc <= 0) {
            fprintf(stderr,
                    "rolloutctl: no answer from the hub at %s within %g s; is rollout-hub "
                    "running?%s\n",
                    endpoint, timeout_s,
                    hub->sec.curve ? " (or is this operator key not on its allow-list?)"
                                   : " (this was plain TCP: a CURVE hub answers only an operator "
                                     "key, see --config)");
            goto done;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            zmq_msg_close(&msg);
            fprintf(stderr, "rolloutctl: receive from %s: %s\n", endpoint,
                    zmq_strerror(zmq_errno()));
            goto done;
        }
        int more = zmq_msg_more(&msg);
        if (zmq_msg_size(&msg) == 0 && more) {
            zmq_msg_close(&msg); /* an empty delimiter: the body follows */
            continue;
        }
        /* An older rolloutctl reads a newer hub's replies, so unknown fields are
         * tolerated here, unlike on the hub's own sockets. */
        char err[256];
        reply = ro_status_reply_decode(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                       RO_DECODE_SKIP_UNKNOWN, err, sizeof err);
        zmq_msg_close(&msg);
        if (!reply)
            fprintf(stderr,
                    "rolloutctl: the hub at %s sent an answer that is not a StatusReply (%s)\n",
                    endpoint, err);
        break;
    }
done:
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return reply;
}

int ctl_reply_failed(const ro_status_reply_t *r)
{
    if (r->status == 0)
        return 0;
    fprintf(stderr, "rolloutctl: the hub says: %s\n", r->error[0] ? r->error : "request failed");
    return r->status == 2 ? 2 : 1;
}

const char *ctl_opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

int ctl_opt_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

int ctl_config_load(const char *path, ro_ctl_config_t *cfg, char *err, size_t errlen)
{
    if (!path || !path[0])
        path = getenv(CTL_CONFIG_ENV);
    if (!path || !path[0]) {
        if (access(CTL_DEFAULT_CONFIG, F_OK) == 0)
            path = CTL_DEFAULT_CONFIG;
    }
    if (!path || !path[0]) {
        ro_ctl_config_defaults(cfg);
        cfg->sec.curve = 0; /* no keys to speak with */
        return 0;
    }
    if (ro_ctl_config_load(path, cfg, err, errlen))
        return -1;
    if (!cfg->sec.curve)
        return 1;
    /* a key file named but missing is bad configuration, said now rather
     * than as a failed connection */
    static const char *const names[] = {"hub_public_key", "public_key", "secret_key"};
    const char *files[] = {cfg->sec.hub_public, cfg->sec.public_key, cfg->sec.secret_key};
    for (int k = 0; k < 3; k++) {
        char z85[RO_KEY_Z85_LEN + 1], why[RO_PATH_MAX + 128];
        int bad = ro_key_read(files[k], k == 2, z85, why, sizeof why);
        memset(z85, 0, sizeof z85);
        if (bad) {
            snprintf(err, errlen, "%s: [security] %s: %s", path, names[k], why);
            return -1;
        }
    }
    return 1;
}

int ctl_curve_client(void *sock, const ro_security_t *sec, char *err, size_t errlen)
{
    if (!sec->curve)
        return 0;
    return ro_sock_curve_client(sock, sec->hub_public, sec->public_key, sec->secret_key, err,
                                errlen);
}
