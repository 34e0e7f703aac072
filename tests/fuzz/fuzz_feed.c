/* fuzz_feed: what a feed subscriber sends the hub, on untrusted bytes. Each
 * input is one message from a subscriber: mostly a subscription (0x01 and a
 * topic) or its cancel (0x00 and a topic), but anything may come. It goes
 * from an XSUB over inproc to an XPUB set up as the hub's feed socket
 * (hub_feed_configure: verbose), and hub_feed_read reads it there. The hub
 * decodes nothing of it: libzmq's XPUB parses the leading byte and keeps
 * the subscriptions, and hub_feed_read hands on only the message's size,
 * connection and key (counted against HUB_PEERS_FEED_INPUT). So the checks
 * are that every message reaches hub_feed_read whole, once: a cancel is
 * preceded by its subscription (an XSUB does not send a cancel of what it
 * has not subscribed to) and a subscription followed by its cancel, so no
 * subscription outlives its input and memory stays bounded. */
#include "feed.h"
#include "fuzz.h"
#include "ro_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define WAIT_MS 5000 /* inproc delivers at once; this only turns a loss into a failure */

static void *s_ctx, *s_xpub, *s_xsub;

/* What hub_feed_read told of, for the input under way. */
static struct {
    size_t n;         /* messages */
    size_t sizes[4];  /* their sizes, the first four */
    int unknown_peer; /* each came with no fd and no key (inproc) */
} s_seen;

static void s_cleanup(void)
{
    zmq_close(s_xsub);
    zmq_close(s_xpub);
    zmq_ctx_term(s_ctx);
}

static void s_open(void)
{
    ro_log_init("fuzz_feed", LOG_CRIT);
    int linger = 0;
    s_ctx = zmq_ctx_new();
    FUZZ_CHECK(s_ctx, "zmq_ctx_new");
    s_xpub = zmq_socket(s_ctx, ZMQ_XPUB);
    s_xsub = zmq_socket(s_ctx, ZMQ_XSUB);
    FUZZ_CHECK(s_xpub && s_xsub, "zmq_socket");
    FUZZ_CHECK(hub_feed_configure(s_xpub, 0) == 0, "hub_feed_configure");
    zmq_setsockopt(s_xpub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s_xsub, ZMQ_LINGER, &linger, sizeof linger);
    FUZZ_CHECK(zmq_bind(s_xpub, "inproc://fuzz-feed") == 0, "bind");
    FUZZ_CHECK(zmq_connect(s_xsub, "inproc://fuzz-feed") == 0, "connect");
    atexit(s_cleanup);
}

static void s_on(void *arg, int fd, const char *user_id, const char *key, size_t bytes)
{
    (void)arg;
    if (s_seen.n < sizeof s_seen.sizes / sizeof s_seen.sizes[0])
        s_seen.sizes[s_seen.n] = bytes;
    s_seen.n++;
    s_seen.unknown_peer &= fd < 0 && !user_id && !key;
}

/* Send the message [lead][body] (no lead when lead < 0) from the XSUB. */
static void s_send(int lead, const uint8_t *body, size_t len)
{
    zmq_msg_t m;
    size_t n = len + (lead >= 0);
    FUZZ_CHECK(zmq_msg_init_size(&m, n) == 0, "zmq_msg_init_size");
    uint8_t *p = zmq_msg_data(&m);
    if (lead >= 0)
        *p++ = (uint8_t)lead;
    if (len)
        memcpy(p, body, len);
    FUZZ_CHECK(zmq_msg_send(&m, s_xsub, 0) == (int)n, "the XSUB sends");
}

/* Read from the XPUB with hub_feed_read until it has told of want messages
 * in all, then check that nothing more comes. */
static void s_read(size_t want)
{
    while (s_seen.n < want) {
        zmq_pollitem_t it = {s_xpub, 0, ZMQ_POLLIN, 0};
        FUZZ_CHECK(zmq_poll(&it, 1, WAIT_MS) == 1, "a message sent reaches the XPUB");
        int got = hub_feed_read(s_xpub, 16, s_on, NULL);
        FUZZ_CHECK(got > 0 && got <= 16, "hub_feed_read reads what is there, at most max");
    }
    FUZZ_CHECK(hub_feed_read(s_xpub, 16, s_on, NULL) == 0 && s_seen.n == want,
               "one message read per message sent");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_ctx)
        s_open();
    memset(&s_seen, 0, sizeof s_seen);
    s_seen.unknown_peer = 1;
    const uint8_t *topic = size ? data + 1 : data;
    size_t tlen = size ? size - 1 : 0;
    size_t want;
    if (size && data[0] == 0) { /* a cancel, of a subscription made first */
        s_send(1, topic, tlen);
        s_send(-1, data, size);
        want = 2;
    } else if (size && data[0] == 1) { /* a subscription, cancelled after */
        s_send(-1, data, size);
        s_send(0, topic, tlen);
        want = 2;
    } else { /* anything else: a message upstream, passed on as it is */
        s_send(-1, data, size);
        want = 1;
    }
    s_read(want);
    FUZZ_CHECK(s_seen.unknown_peer, "an inproc peer has no fd and no key");
    /* verbose: every subscription is passed on; a cancel of the last
     * subscriber to a topic too; anything else as it came */
    for (size_t i = 0; i < want; i++)
        FUZZ_CHECK(s_seen.sizes[i] == size, "each message reaches hub_feed_read whole");
    return 0;
}
