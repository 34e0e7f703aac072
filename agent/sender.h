/* agent_sender: the run loop that streams the outbox to the hub over one
 * DEALER socket (window, cumulative acks, refusals, go-back-N resends,
 * heartbeats), and the one-shot heartbeat probe behind `status`. What is
 * waiting and what was acknowledged is the outbox's business, not ours. */
#ifndef AGENT_SENDER_H
#define AGENT_SENDER_H

#include "outbox.h"
#include "ro_config.h"
#include "ro_report.h"

#include <stddef.h>
#include <stdint.h>

#define AGENT_SEND_BATCH 64      /* events read from the outbox per query */
#define AGENT_STOP_GRACE_MS 2000 /* how long a stopping sender waits for acks */

typedef struct agent_sender agent_sender_t;

/* What one run did, for its closing log line and for tests. */
typedef struct {
    uint64_t sent;     /* report frames sent, resends included */
    uint64_t rewinds;  /* go-back-N restarts (timeout or reconnect) */
    uint64_t acked;    /* events the hub acknowledged */
    uint64_t refused;  /* events moved to the refused table */
    uint64_t connects; /* successful handshakes with the hub */
    uint64_t switches; /* new identities drawn (another holder of ours) */
    uint64_t refills;  /* times the hub's store was behind and kept events were resent */
} agent_sender_stats_t;

/* Make a sender for cfg (copied) over outbox (borrowed: it must outlive the
 * sender). Creates its own ZeroMQ context and a DEALER socket with
 * ZMQ_IMMEDIATE, size limits, jittered reconnect, CURVE keys when
 * cfg->sec.curve (a warning is logged when traffic is plain), and connects
 * it to cfg->hub; the connection itself is made in the background. Returns
 * NULL with a one-line reason in err (bad key file, bad endpoint). */
agent_sender_t *agent_sender_new(const ro_agent_config_t *cfg, agent_outbox_t *outbox, char *err,
                                 size_t errlen);

/* Close the socket and context (NULL is fine) and null the caller's pointer. */
void agent_sender_destroy(agent_sender_t **self_p);

/* Run until stop_fd (a pipe's read end, say, written by a signal handler)
 * becomes readable: then send nothing new, wait at most AGENT_STOP_GRACE_MS
 * for acks of what is in flight, and return 0. Keeps up to cfg->window
 * events in flight, oldest first. Rewinds to the last ack (go-back-N) on
 * every (re)connect, and when nothing is acknowledged for the resend
 * timeout: then it resends one event and doubles the timeout (up to 60 s,
 * or resend_ms if longer) until acks progress again, which restores the full
 * window and cfg->resend_ms. Blocks in zmq_poll between events, waking at
 * most every cfg->poll_ms to look for new records. Once traffic has been
 * quiet for half a second with nothing in flight, gives back the memory a
 * drain grew (agent_outbox_release, malloc_trim). Returns -1 only when
 * ZeroMQ itself fails; outbox trouble is logged and retried. */
int agent_sender_run(agent_sender_t *self, int stop_fd);

/* What the hub said to a probe. */
typedef struct {
    int refused;                /* 1: the hub refused the heartbeat (reason, text) */
    uint64_t upto;              /* ack: the hub's stored-up-to seq (see hub_version) */
    uint64_t held;              /* ack (version 2): the unit's reports held for review */
    uint32_t hub_version;       /* 2: upto is a wire seq of the outbox's incarnation; 1: the
                                   hub speaks version 1, upto is the unit's legacy sequence's */
    ro_reason_t reason;         /* refusal: why */
    char text[RO_TEXT_MAX + 1]; /* refusal: the hub's explanation */
    int64_t rtt_ms;             /* from send to answer */
} agent_probe_t;

/* Connect to cfg->hub on a fresh socket, send one version-2 heartbeat
 * carrying what st says (depth, incarnation, last ack and kept events in
 * wire seqs) and wait for the hub's answer; a hub that refuses the version
 * is asked again in version 1. All within timeout_ms. Returns 0 when the
 * hub answered (an Ack or a Refusal, in *out), -1 when it did not or the
 * socket could not be set up, with the reason in err. Logs nothing. */
int agent_sender_probe(const ro_agent_config_t *cfg, const agent_outbox_stats_t *st, int timeout_ms,
                       agent_probe_t *out, char *err, size_t errlen);

#endif
