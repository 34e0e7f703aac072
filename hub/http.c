/* hub_http: libmicrohttpd with an internal polling thread; a small table of
 * documents behind a mutex. GET and HEAD only; no request body is read. */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    char path[64];         /* "" = free */
    char content_type[64]; /* e.g. "text/plain; version=0.0.4" */
    uint8_t *body;         /* owned */
    size_t len;            /* bytes of body */
} s_doc_t;

struct hub_http {
    struct MHD_Daemon *daemon;       /* the server and its thread */
    pthread_mutex_t lock;            /* guards docs */
    s_doc_t docs[HUB_HTTP_DOCS_MAX]; /* what is served */
    atomic_uint_fast64_t requests;   /* answered */
};

static enum MHD_Result s_reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                               const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_len, void **state)
{
    (void)version;
    (void)upload;
    hub_http_t *self = cls;
    /* first call per request: headers only; answer on the second */
    if (*state == NULL) {
        *state = self;
        return MHD_YES;
    }
    if (*upload_len) {
        *upload_len = 0; /* nothing here takes a body */
        return MHD_YES;
    }
    atomic_fetch_add(&self->requests, 1);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static const char msg[] = "only GET and HEAD\n";
        return s_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg, sizeof msg - 1);
    }
    enum MHD_Result ok = MHD_NO;
    int found = 0;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX; i++) {
        s_doc_t *d = &self->docs[i];
        if (d->path[0] && !strcmp(d->path, url)) {
            found = 1;
            ok = s_reply(c, MHD_HTTP_OK, d->content_type, d->body, d->len);
            break;
        }
    }
    pthread_mutex_unlock(&self->lock);
    if (!found) {
        static const char msg[] = "not found: try /, /api/status or /metrics\n";
        ok = s_reply(c, MHD_HTTP_NOT_FOUND, "text/plain", msg, sizeof msg - 1);
    }
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
    if (!self || pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        freeaddrinfo(ai);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, s_handle, self, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)HUB_HTTP_CONNECTIONS,
                         MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot serve HTTP on %s (port taken, or not a local address?)",
                 hostport);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned p = info ? info->port : (unsigned)atoi(port);
    if (strchr(host, ':'))
        snprintf(bound, boundlen, "[%s]:%u", host, p);
    else
        snprintf(bound, boundlen, "%s:%u", host, p);
    return self;
}

void hub_http_stop(hub_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX; i++)
        free(self->docs[i].body);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int hub_http_put(hub_http_t *self, const char *path, const char *content_type, const void *body,
                 size_t len)
{
    if (strlen(path) >= sizeof self->docs[0].path ||
        strlen(content_type) >= sizeof self->docs[0].content_type)
        return -1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, body, len);
    int rc = -1;
    pthread_mutex_lock(&self->lock);
    s_doc_t *slot = NULL;
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX && !slot; i++)
        if (!strcmp(self->docs[i].path, path))
            slot = &self->docs[i];
    for (size_t i = 0; i < HUB_HTTP_DOCS_MAX && !slot; i++)
        if (!self->docs[i].path[0])
            slot = &self->docs[i];
    if (slot) {
        free(slot->body);
        snprintf(slot->path, sizeof slot->path, "%s", path);
        snprintf(slot->content_type, sizeof slot->content_type, "%s", content_type);
        slot->body = copy;
        slot->len = len;
        copy = NULL;
        rc = 0;
    }
    pthread_mutex_unlock(&self->lock);
    free(copy);
    return rc;
}

uint64_t hub_http_requests(const hub_http_t *self)
{
    return atomic_load(&((hub_http_t *)self)->requests);
}
