/* hub_wait: a zmq_poll for one thread's ZeroMQ sockets, with fewer system
 * calls. zmq_poll reads every socket's ZMQ_EVENTS (in libzmq a poll and a
 * getpid each) before it blocks and again after it wakes: 18 system calls a
 * turn for the hub's main loop's four sockets, a few microseconds each on a
 * virtual machine, and one report at a time is a turn per report
 * (docs/PERFORMANCE.md).
 *
 * hub_wait polls the sockets' ZMQ_FDs itself. A socket's ZMQ_FD is
 * edge-triggered: it fires when the socket's state may have changed, and
 * any use of the socket by its thread (a send, a receive, a ZMQ_EVENTS
 * read) may take that signal. So ZMQ_EVENTS is read only for a socket whose
 * fd fired, or that the thread may have used since the last wait: the ones
 * it uses every turn (busy, given at init), one found readable (the caller
 * reads it), one not watched by the last wait, and every one after a wait
 * that timed out. A socket outside busy must therefore be used by the
 * thread only after hub_wait found it readable, or while it is not watched.
 * When one socket is readable at once, the fds of the others are still
 * looked at (a poll that does not wait), so that a socket that stays
 * readable, as ingest does under load, does not hide the others: all the
 * readable ones are returned, as zmq_poll would.
 *
 * Not thread-safe: the sockets are one thread's, and so is the hub_wait_t. */
#ifndef HUB_WAIT_H
#define HUB_WAIT_H

#define HUB_WAIT_MAX 8 /* sockets one hub_wait_t may hold */

typedef struct {
    int n;         /* sockets */
    unsigned busy; /* bits of the ones used every turn */
    struct {
        void *sock; /* NULL: none (the slot keeps its bit, never readable) */
        int fd;     /* its ZMQ_FD */
        int ask;    /* ZMQ_EVENTS must be read before fd is trusted */
    } s[HUB_WAIT_MAX];
} hub_wait_t;

/* Takes n (at most HUB_WAIT_MAX) sockets, bit i for socks[i]; a NULL one is
 * never readable. busy: bits of the sockets the thread uses every turn
 * whether they were readable or not. Returns 0, or -1 with zmq_errno() set
 * (EINVAL for n out of range). */
int hub_wait_init(hub_wait_t *w, void *const *socks, int n, unsigned busy);

/* Waits until one of the sockets in watch (bits of 1 << i) can be read or
 * timeout ms pass (negative: no limit; 0: only looks). Returns the bits of
 * the readable sockets, 0 when the time ran out, or -1 with errno set (EINTR
 * when a signal came). With nothing watched and no limit it waits for a
 * signal. */
int hub_wait(hub_wait_t *w, unsigned watch, long timeout);

#endif
