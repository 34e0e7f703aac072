/* hub_wait: see wait.h. */
#include "wait.h"

#include "ro_time.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <zmq.h>

int hub_wait_init(hub_wait_t *w, void *const *socks, int n, unsigned busy)
{
    if (n < 0 || n > HUB_WAIT_MAX) {
        errno = EINVAL;
        return -1;
    }
    w->n = n;
    w->busy = busy;
    for (int i = 0; i < n; i++) {
        size_t len = sizeof w->s[i].fd;
        w->s[i].sock = socks[i];
        w->s[i].fd = -1;
        w->s[i].ask = 1;
        if (socks[i] && zmq_getsockopt(socks[i], ZMQ_FD, &w->s[i].fd, &len) != 0)
            return -1;
    }
    return 0;
}

/* Reads socket i's ZMQ_EVENTS: it stays asked while readable (its caller
 * reads it), and its bit goes into *ready. Returns 0 or -1. */
static int s_ask(hub_wait_t *w, int i, int *ready)
{
    uint32_t events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(w->s[i].sock, ZMQ_EVENTS, &events, &len) != 0)
        return -1;
    w->s[i].ask = (events & ZMQ_POLLIN) != 0;
    *ready |= w->s[i].ask << i;
    return 0;
}

int hub_wait(hub_wait_t *w, unsigned watch, long timeout)
{
    int64_t end = ro_time_mono_ms() + (timeout > 0 ? timeout : 0);
    for (int i = 0; i < w->n; i++)
        if (w->busy & (1u << i))
            w->s[i].ask = 1;
    for (int woke = 0;; woke = 1) {
        struct pollfd fds[HUB_WAIT_MAX];
        int of[HUB_WAIT_MAX], n = 0, ready = 0;
        for (int i = 0; i < w->n; i++) {
            if (!w->s[i].sock || !(watch & (1u << i))) {
                w->s[i].ask = 1; /* not watched: it may be used meanwhile */
                continue;
            }
            if (w->s[i].ask && s_ask(w, i, &ready) != 0)
                return -1;
            fds[n] = (struct pollfd){.fd = w->s[i].fd, .events = POLLIN};
            of[n++] = i;
        }
        /* just woken: the fds that fired were asked above */
        if (ready && woke)
            return ready;
        /* Block only when nothing was found and there is time left; else the
         * fds of the sockets not asked are only looked at, so that a socket
         * that stays readable (ingest under load) does not hide the others. */
        long left = ready || timeout == 0 ? 0 : timeout < 0 ? -1 : (long)(end - ro_time_mono_ms());
        if (timeout > 0 && left < 0)
            left = 0;
        int rc = poll(fds, (nfds_t)n, left > INT_MAX ? INT_MAX : (int)left);
        if (rc < 0)
            return ready ? ready : -1;
        for (int k = 0; k < n; k++)
            if (fds[k].revents && !(ready & (1 << of[k])))
                w->s[of[k]].ask = 1;
        if (rc > 0 && left != 0)
            continue; /* woken: ask the sockets whose fds fired */
        for (int k = 0; k < n; k++)
            if (fds[k].revents && !(ready & (1 << of[k])) && s_ask(w, of[k], &ready) != 0)
                return -1;
        if (!ready && timeout != 0) /* timed out: all are read next time, whatever was missed */
            for (int i = 0; i < w->n; i++)
                w->s[i].ask = 1;
        return ready;
    }
}
