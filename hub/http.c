/* hub_http: libmicrohttpd with an internal polling thread, a table of
 * documents behind a mutex, and a sweeper thread that holds every connection
 * to a deadline. GET and HEAD only; no request body is read. What to serve
 * and when to refresh it is the caller's business.
 *
 * Slow clients. libmicrohttpd's own timeout (MHD_OPTION_CONNECTION_TIMEOUT)
 * counts idle time, so a client that sends one header byte every few seconds
 * keeps its connection for ever; with 32 of them every slot was taken and
 * the scraper waited in the listen queue. No option of libmicrohttpd 0.9.75
 * bounds a connection's whole life, and a per-IP limit cannot tell the
 * scraper from an attacker when both come from 127.0.0.1. So:
 *  - every connection is accepted into a slot of our table (NOTIFY_CONNECTION)
 *    and closed HUB_HTTP_DEADLINE_S (10 s) after accept, whatever it sends:
 *    the sweeper shuts its socket down, libmicrohttpd sees EOF and frees it;
 *  - one request per connection (Connection: close), so the deadline covers
 *    the request, the answer and nothing after;
 *  - from HUB_HTTP_CROWDED (112) connections open, each new one closes the
 *    oldest that is still waiting for its request (or, if none is, the
 *    oldest), so libmicrohttpd never reaches its limit (128) and keeps
 *    accepting. A scraper sends its request in one packet, read in the poll
 *    round after the accept, and is answered from a copy in memory: it
 *    never waits long enough to be the oldest. A slow client holds a slot
 *    10 s at most, less when the table is crowded.
 * Bounds: 128 connections; per connection libmicrohttpd's pool of
 * HUB_HTTP_CONN_MEMORY (8 KiB, which holds the request line and headers;
 * more gets 431) and its connection struct (~1 KiB), so about 1.2 MiB in
 * all (measured: 112 connections holding 4 KB of headers each add 0.96 MiB
 * to the hub's RSS). Answers are not copied per connection: each document
 * is one reference-counted response shared by every connection sending it;
 * a replaced version lives until the last connection sending it closes, at
 * most 10 s, so a path has at most 1 + (puts in 10 s) versions alive (11 at
 * the dashboard's one refresh a second). The sweeper sleeps until the next
 * deadline, and for good while no connection is open.
 *
 * DNS rebinding. A page from evil.example whose name is made to resolve to
 * 127.0.0.1 can make the browser send requests here, but the browser still
 * says Host: evil.example. Requests whose Host names anything but this
 * port (hub_http_start's contract) get 421 and are counted. An HTTP/1.0
 * request without Host is answered: every browser sends Host, and only a
 * browser can be made to rebind. */
#include "http.h"
#include "ro_log.h"
#include "ro_time.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

typedef struct {
    char path[64];           /* "" = free */
    struct MHD_Response *rs; /* the answer, headers and all; owned (one reference) */
} s_doc_t;

typedef struct {
    struct MHD_Connection *conn; /* NULL = free */
    int fd;                      /* its socket, for shutdown() */
    int64_t since_ms;            /* accepted, monotonic */
    int answered;                /* its request is in and answered */
    int cut;                     /* shut down by us, not yet closed */
} s_slot_t;

struct hub_http {
    struct MHD_Daemon *daemon;        /* the server and its thread */
    char host[256];                   /* HOST as configured, no brackets */
    unsigned port;                    /* the port bound */
    pthread_mutex_t lock;             /* guards docs */
    s_doc_t docs[HUB_HTTP_DOCS_MAX];  /* what is served */
    struct MHD_Response *not_found;   /* 404; owned */
    struct MHD_Response *bad_method;  /* 405; owned */
    struct MHD_Response *misdirected; /* 421; owned */
    struct MHD_Response *no_host;     /* 400; owned */
    pthread_mutex_t conns_lock; /* guards slots, open, the sweeper's flags and the rate limits */
    pthread_cond_t wake;        /* wakes the sweeper: to stop, or a first deadline */
    pthread_t sweeper;          /* closes connections past the deadline */
    int sweeping;               /* the sweeper was started */
    int stopping;               /* the sweeper should return */
    int sweeper_idle;           /* waits for a connection, no deadline due */
    s_slot_t slots[HUB_HTTP_CONNECTIONS]; /* one per open connection */
    size_t open;                          /* slots in use */
    ro_ratelimit_t cut_rl;                /* connections closed at their deadline, logged */
    ro_ratelimit_t crowd_rl;              /* connections closed to make room, logged (apart:
                                             a burst of deadlines must not hide these) */
    ro_ratelimit_t refuse_rl;             /* requests refused, logged */
    atomic_uint_fast64_t requests;        /* answered */
    atomic_uint_fast64_t refused_host;    /* 421 and 400 for Host */
    atomic_uint_fast64_t cut_deadline;    /* closed at the deadline */
    atomic_uint_fast64_t cut_crowded;     /* closed to make room */
};

/* A response over a constant or malloc'ed body (mode), with our headers;
 * NULL when out of memory. */
static struct MHD_Response *s_response(const char *ctype, const void *body, size_t len,
                                       enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r)
        return NULL;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

/* Shut down slot's socket; libmicrohttpd reads EOF and closes it. The slot
 * is in use, so NOTIFY_CLOSED has not run and the descriptor is still the
 * connection's. Under conns_lock. */
static void s_cut(s_slot_t *slot)
{
    shutdown(slot->fd, SHUT_RDWR);
    slot->cut = 1;
}

static void s_notify(void *cls, struct MHD_Connection *c, void **ctx,
                     enum MHD_ConnectionNotificationCode what)
{
    hub_http_t *self = cls;
    pthread_mutex_lock(&self->conns_lock);
    if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
        s_slot_t *slot = *ctx;
        if (slot) {
            slot->conn = NULL;
            self->open--;
            *ctx = NULL;
        }
        pthread_mutex_unlock(&self->conns_lock);
        return;
    }
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    s_slot_t *slot = NULL;
    for (size_t i = 0; i < HUB_HTTP_CONNECTIONS && !slot && fd; i++)
        if (!self->slots[i].conn)
            slot = &self->slots[i];
    if (!slot) {
        /* libmicrohttpd's limit is the table's size: not reached */
        if (fd)
            shutdown(fd->connect_fd, SHUT_RDWR);
        pthread_mutex_unlock(&self->conns_lock);
        return;
    }
    *slot = (s_slot_t){.conn = c, .fd = fd->connect_fd, .since_ms = ro_time_mono_ms()};
    *ctx = slot;
    self->open++;
    if (self->sweeper_idle)
        pthread_cond_signal(&self->wake);
    /* the oldest still waiting for its request, else the oldest answered */
    size_t live = 0;
    s_slot_t *oldest = NULL;
    for (size_t i = 0; i < HUB_HTTP_CONNECTIONS; i++) {
        s_slot_t *s = &self->slots[i];
        if (!s->conn || s->cut)
            continue;
        live++;
        if (s != slot && (!oldest || s->answered < oldest->answered ||
                          (s->answered == oldest->answered && s->since_ms < oldest->since_ms)))
            oldest = s;
    }
    if (live > HUB_HTTP_CROWDED && oldest) {
        int64_t age = slot->since_ms - oldest->since_ms;
        s_cut(oldest);
        atomic_fetch_add(&self->cut_crowded, 1);
        if (ro_log_allow(&self->crowd_rl))
            ro_log(LOG_WARNING,
                   "HTTP: %zu connections open: closed the oldest (open %lld ms) to make room",
                   live, (long long)age);
    }
    pthread_mutex_unlock(&self->conns_lock);
}

/* Close connections at their deadline; sleep until the next one is due,
 * or until a connection opens when none is. */
static void *s_sweep(void *arg)
{
    hub_http_t *self = arg;
    pthread_setname_np(pthread_self(), "hub-http");
    pthread_mutex_lock(&self->conns_lock);
    while (!self->stopping) {
        int64_t now = ro_time_mono_ms(), next = INT64_MAX;
        unsigned cut = 0;
        for (size_t i = 0; i < HUB_HTTP_CONNECTIONS; i++) {
            s_slot_t *s = &self->slots[i];
            if (!s->conn || s->cut)
                continue;
            int64_t due = s->since_ms + HUB_HTTP_DEADLINE_S * 1000;
            if (due <= now) {
                s_cut(s);
                cut++;
            } else if (due < next) {
                next = due;
            }
        }
        if (cut) {
            atomic_fetch_add(&self->cut_deadline, cut);
            if (ro_log_allow(&self->cut_rl))
                ro_log(LOG_WARNING, "HTTP: closed %u connection%s still open %d s after accept",
                       cut, ro_s(cut), HUB_HTTP_DEADLINE_S);
        }
        if (next == INT64_MAX) {
            self->sweeper_idle = 1;
            pthread_cond_wait(&self->wake, &self->conns_lock);
            self->sweeper_idle = 0;
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + (next - now) * 1000000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&self->wake, &self->conns_lock, &until);
    }
    pthread_mutex_unlock(&self->conns_lock);
    return NULL;
}

/* ---- the Host header ----------------------------------------------------- */

static enum MHD_Result s_count_host(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    if (key && !strcasecmp(key, MHD_HTTP_HEADER_HOST))
        (*(int *)cls)++;
    return MHD_YES;
}

/* Is name (no brackets) an IP literal equal to the address c came in on? */
static int s_is_local_ip(struct MHD_Connection *c, const char *name)
{
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!fd || getsockname(fd->connect_fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    unsigned char want[16];
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        return inet_pton(AF_INET, name, want) == 1 && !memcmp(want, &a->sin_addr, 4);
    }
    if (ss.ss_family != AF_INET6)
        return 0;
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET6, name, want) == 1)
        return !memcmp(want, &a->sin6_addr, 16);
    /* an IPv4 client of a dual-stack socket */
    return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && inet_pton(AF_INET, name, want) == 1 &&
           !memcmp(want, (const unsigned char *)&a->sin6_addr + 12, 4);
}

/* Does host (a Host header's value) name this port? */
static int s_host_ok(const hub_http_t *self, struct MHD_Connection *c, const char *host)
{
    char name[256];
    const char *port;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (!end || (size_t)(end - host - 1) >= sizeof name)
            return 0;
        memcpy(name, host + 1, (size_t)(end - host - 1));
        name[end - host - 1] = '\0';
        port = end + 1;
    } else {
        const char *colon = strchr(host, ':');
        size_t n = colon ? (size_t)(colon - host) : strlen(host);
        if (n >= sizeof name)
            return 0;
        memcpy(name, host, n);
        name[n] = '\0';
        port = host + n;
    }
    if (*port == ':') {
        port++;
        if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
            (unsigned)atoi(port) != self->port)
            return 0;
    } else if (*port || self->port != 80) {
        return 0;
    }
    return !strcasecmp(name, "localhost") || !strcasecmp(name, self->host) ||
           s_is_local_ip(c, name);
}

/* Log a refusal, rate limited; the Host value printable and short. */
static void s_log_refusal(hub_http_t *self, struct MHD_Connection *c, const char *why,
                          const char *host)
{
    char shown[65] = "";
    for (size_t i = 0; host && host[i] && i < sizeof shown - 1; i++) {
        unsigned char ch = (unsigned char)host[i];
        shown[i] = isprint(ch) ? (char)ch : '?';
        shown[i + 1] = '\0';
    }
    char from[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, from, sizeof from);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, from, sizeof from);
    }
    pthread_mutex_lock(&self->conns_lock);
    if (ro_log_allow(&self->refuse_rl))
        ro_log(LOG_WARNING, "HTTP: refused a request from %s: %s (Host '%s')", from, why, shown);
    pthread_mutex_unlock(&self->conns_lock);
}

/* ---- requests ------------------------------------------------------------ */

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_len, void **state)
{
    (void)upload;
    hub_http_t *self = cls;
    if (*state != NULL) {
        /* answered on the first call; a body is not read (Connection: close) */
        *upload_len = 0;
        return MHD_YES;
    }
    *state = self;
    atomic_fetch_add(&self->requests, 1);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context) {
        pthread_mutex_lock(&self->conns_lock);
        ((s_slot_t *)ci->socket_context)->answered = 1;
        pthread_mutex_unlock(&self->conns_lock);
    }
    int hosts = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, s_count_host, &hosts);
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    int http10 = !strcmp(version, MHD_HTTP_VERSION_1_0);
    if (hosts > 1 || (hosts == 0 && !http10)) {
        atomic_fetch_add(&self->refused_host, 1);
        s_log_refusal(self, c, hosts ? "two Host headers" : "HTTP/1.1 without Host", host);
        return MHD_queue_response(c, MHD_HTTP_BAD_REQUEST, self->no_host);
    }
    if (host && !s_host_ok(self, c, host)) {
        atomic_fetch_add(&self->refused_host, 1);
        s_log_refusal(self, c, "Host names another server", host);
        return MHD_queue_response(c, MHD_HTTP_MISDIRECTED_REQUEST, self->misdirected);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, self->bad_method);
    enum MHD_Result ok = MHD_NO;
    int found = 0;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX; i++) {
        s_doc_t *d = &self->docs[i];
        if (d->path[0] && !strcmp(d->path, url)) {
            found = 1;
            /* takes its own reference: a put may replace d->rs once we unlock */
            ok = MHD_queue_response(c, MHD_HTTP_OK, d->rs);
            break;
        }
    }
    pthread_mutex_unlock(&self->lock);
    if (!found)
        ok = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, self->not_found);
    return ok;
}

/* Split "HOST:PORT" or "[V6]:PORT". Returns 0, or -1. */
static int s_split(const char *hostport, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    size_t hl;
    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');
        if (!end || end[1] != ':')
            return -1;
        hostport++;
        hl = (size_t)(end - hostport);
        colon = end + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - hostport);
    }
    if (hl == 0 || hl >= hostlen || !colon[1] || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    return atoi(port) <= 65535 ? 0 : -1;
}

/* The fixed answers; 0, or -1 when out of memory. */
static int s_fixed_responses(hub_http_t *self, const char *bound)
{
    static const char not_found[] = "not found: try /, /api/status or /metrics\n";
    static const char bad_method[] = "only GET and HEAD\n";
    static const char no_host[] = "bad request: one Host header, naming this hub's HTTP port\n";
    char text[400];
    int n = snprintf(text, sizeof text,
                     "misdirected request: the Host header must name this hub's HTTP port, "
                     "%s or localhost:%u\n",
                     bound, self->port);
    char *misdirected = n > 0 ? strdup(text) : NULL;
    if (!misdirected)
        return -1;
    self->misdirected =
        s_response("text/plain", misdirected, strlen(misdirected), MHD_RESPMEM_MUST_FREE);
    if (!self->misdirected)
        free(misdirected);
    self->not_found =
        s_response("text/plain", not_found, sizeof not_found - 1, MHD_RESPMEM_PERSISTENT);
    self->bad_method =
        s_response("text/plain", bad_method, sizeof bad_method - 1, MHD_RESPMEM_PERSISTENT);
    self->no_host = s_response("text/plain", no_host, sizeof no_host - 1, MHD_RESPMEM_PERSISTENT);
    return self->misdirected && self->not_found && self->bad_method && self->no_host ? 0 : -1;
}

hub_http_t *hub_http_start(const char *hostport, char *bound, size_t boundlen, char *err,
                           size_t errlen)
{
    char host[256], port[16];
    if (!hostport || s_split(hostport, host, sizeof host, port, sizeof port)) {
        snprintf(err, errlen, "metrics_http '%s' is not HOST:PORT", hostport ? hostport : "");
        return NULL;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errlen, "metrics_http %s: %s", hostport, gai_strerror(gai));
        return NULL;
    }
    hub_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        freeaddrinfo(ai);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_condattr_t ca;
    int locks = pthread_mutex_init(&self->lock, NULL) == 0;
    locks += pthread_mutex_init(&self->conns_lock, NULL) == 0;
    int cond = pthread_condattr_init(&ca) == 0 &&
               pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
               pthread_cond_init(&self->wake, &ca) == 0;
    if (locks < 2 || !cond) {
        /* glibc's init of these does not fail; nothing to undo there */
        free(self);
        freeaddrinfo(ai);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    snprintf(self->host, sizeof self->host, "%s", host);
    ro_ratelimit_init(&self->cut_rl, 10, 0.2);
    ro_ratelimit_init(&self->crowd_rl, 10, 0.2);
    ro_ratelimit_init(&self->refuse_rl, 10, 0.2);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, s_handle, self, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)HUB_HTTP_CONNECTIONS,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HUB_HTTP_CONN_MEMORY,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HUB_HTTP_DEADLINE_S,
                         MHD_OPTION_NOTIFY_CONNECTION, s_notify, self, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot serve HTTP on %s (port taken, or not a local address?)",
                 hostport);
        hub_http_stop(&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : (unsigned)atoi(port);
    if (strchr(host, ':'))
        snprintf(bound, boundlen, "[%s]:%u", host, self->port);
    else
        snprintf(bound, boundlen, "%s:%u", host, self->port);
    if (s_fixed_responses(self, bound) != 0) {
        snprintf(err, errlen, "out of memory");
        hub_http_stop(&self);
        return NULL;
    }
    if (pthread_create(&self->sweeper, NULL, s_sweep, self) != 0) {
        snprintf(err, errlen, "cannot start the HTTP sweeper thread");
        hub_http_stop(&self);
        return NULL;
    }
    self->sweeping = 1;
    return self;
}

void hub_http_stop(hub_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_http_t *self = *self_p;
    if (self->sweeping) {
        pthread_mutex_lock(&self->conns_lock);
        self->stopping = 1;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->conns_lock);
        pthread_join(self->sweeper, NULL);
    }
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX; i++)
        if (self->docs[i].rs)
            MHD_destroy_response(self->docs[i].rs);
    struct MHD_Response *fixed[] = {self->not_found, self->bad_method, self->misdirected,
                                    self->no_host};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (fixed[i])
            MHD_destroy_response(fixed[i]);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->conns_lock);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int hub_http_put(hub_http_t *self, const char *path, const char *content_type, const void *body,
                 size_t len)
{
    if (strlen(path) >= sizeof self->docs[0].path)
        return -1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, body, len);
    struct MHD_Response *rs = s_response(content_type, copy, len, MHD_RESPMEM_MUST_FREE);
    if (!rs) {
        free(copy);
        return -1;
    }
    pthread_mutex_lock(&self->lock);
    s_doc_t *slot = NULL;
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX && !slot; i++)
        if (!strcmp(self->docs[i].path, path))
            slot = &self->docs[i];
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX && !slot; i++)
        if (!self->docs[i].path[0])
            slot = &self->docs[i];
    struct MHD_Response *old = rs; /* table full: dropped below */
    if (slot) {
        old = slot->rs;
        snprintf(slot->path, sizeof slot->path, "%s", path);
        slot->rs = rs;
    }
    pthread_mutex_unlock(&self->lock);
    /* connections still sending the old version hold their own references */
    if (old)
        MHD_destroy_response(old);
    return slot ? 0 : -1;
}

void hub_http_counters(hub_http_t *self, hub_http_counters_t *out)
{
    out->requests = atomic_load(&self->requests);
    out->refused_host = atomic_load(&self->refused_host);
    out->cut_deadline = atomic_load(&self->cut_deadline);
    out->cut_crowded = atomic_load(&self->cut_crowded);
    pthread_mutex_lock(&self->conns_lock);
    out->open = self->open;
    pthread_mutex_unlock(&self->conns_lock);
}
