/* hub_http: the hub's HTTP port (hub.ini metrics_http, loopback by default):
 * serves the documents the main loop hands it, such as the Prometheus text
 * at /metrics, the dashboard page at / and its data at /api/status. It runs
 * libmicrohttpd's own thread, which only copies bytes under a mutex: it
 * never touches the store, the unit states or a ZeroMQ socket. */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HUB_HTTP_DOCS_MAX 8     /* documents served */
#define HUB_HTTP_CONNECTIONS 32 /* concurrent connections accepted */

typedef struct hub_http hub_http_t;

/* Listen on hostport ("HOST:PORT", "[V6]:PORT"; port 0 picks a free one)
 * and start serving (404 until documents are put). Writes the address
 * bound, "HOST:PORT", to bound. Returns NULL with a reason in err. */
hub_http_t *hub_http_start(const char *hostport, char *bound, size_t boundlen, char *err,
                           size_t errlen);

/* Stop the server thread and free everything; accepts NULL, nulls *self_p. */
void hub_http_stop(hub_http_t **self_p);

/* Serve body (len bytes, copied) with content_type at path (e.g. "/metrics"),
 * replacing what was there. Thread-safe. Returns 0, or -1 when out of
 * memory or the table is full (HUB_HTTP_DOCS_MAX paths). */
int hub_http_put(hub_http_t *self, const char *path, const char *content_type, const void *body,
                 size_t len);

/* Requests answered so far (any status). */
uint64_t hub_http_requests(const hub_http_t *self);

#endif
