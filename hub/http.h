/* hub_http: the hub's HTTP port (hub.ini metrics_http, loopback by default):
 * serves the documents the main loop hands it, such as the Prometheus text
 * at /metrics, the dashboard page at / and its data at /api/status. It runs
 * libmicrohttpd's own thread, which only copies bytes under a mutex, and a
 * sweeper thread that closes connections past their deadline: neither
 * touches the store, the unit states or a ZeroMQ socket. */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HUB_HTTP_DOCS_MAX 8       /* documents served */
#define HUB_HTTP_CONNECTIONS 128  /* connections open at once (libmicrohttpd's limit) */
#define HUB_HTTP_CROWDED 112      /* from this many open, a new one closes the oldest */
#define HUB_HTTP_DEADLINE_S 10    /* a connection's whole life, whatever it sends */
#define HUB_HTTP_CONN_MEMORY 8192 /* libmicrohttpd's buffer pool per connection, bytes */

typedef struct hub_http hub_http_t;

/* What the HTTP port has answered and refused, since start. */
typedef struct {
    uint64_t requests;     /* requests answered, any status */
    uint64_t refused_host; /* answered 421 or 400 for their Host header */
    uint64_t cut_deadline; /* connections closed HUB_HTTP_DEADLINE_S after accept */
    uint64_t cut_crowded;  /* connections closed, oldest first, to make room */
    uint64_t open;         /* connections open now */
} hub_http_counters_t;

/* Listen on hostport ("HOST:PORT", "[V6]:PORT"; port 0 picks a free one)
 * and start serving (404 until documents are put). Writes the address
 * bound, "HOST:PORT", to bound. A request is answered only when its Host
 * header names this port: HOST as given, localhost, or the IP address the
 * client connected to, each with the port bound (or no port when that is
 * 80); an HTTP/1.0 request without Host is answered too. Other requests get
 * 421 (400 for an HTTP/1.1 request without Host, or with two). Returns NULL
 * with a reason in err. */
hub_http_t *hub_http_start(const char *hostport, char *bound, size_t boundlen, char *err,
                           size_t errlen);

/* Stop the server threads and free everything; accepts NULL, nulls *self_p. */
void hub_http_stop(hub_http_t **self_p);

/* Serve body (len bytes, copied) with content_type at path (e.g. "/metrics"),
 * replacing what was there; requests already answered keep the old copy
 * until they are sent. Thread-safe. Returns 0, or -1 when out of memory or
 * the table is full (HUB_HTTP_DOCS_MAX paths). */
int hub_http_put(hub_http_t *self, const char *path, const char *content_type, const void *body,
                 size_t len);

/* The counters as of now, into *out. Thread-safe. */
void hub_http_counters(hub_http_t *self, hub_http_counters_t *out);

#endif
