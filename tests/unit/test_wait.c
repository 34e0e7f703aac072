/* test_wait: hub_wait on inproc PAIR sockets. It finds a queued message at
 * once and wakes for one sent while it blocks; it blocks again once the
 * messages are read, and times out with 0. A socket's ZMQ_FD is
 * edge-triggered and any use of the socket may take its signal: the cases
 * where the thread uses a socket between waits (one it uses every turn, one
 * it did not watch last time) must still find its message at once, not
 * when the wait times out. A wait that misses a signal returns 0 after its
 * long timeout, so the cases check what came back; the two that wake a
 * blocked wait also check that it did not take the whole timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ro_time.h"
#include "wait.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define LONG_MS 10000 /* a wait that should not run out */
#define PAIRS 2

typedef struct {
    void *ctx;
    void *mine[PAIRS];   /* the waiting thread's sockets */
    void *theirs[PAIRS]; /* their peers */
} fixture_t;

static int s_setup(void **state)
{
    static int serial;
    fixture_t *f = calloc(1, sizeof *f);
    f->ctx = zmq_ctx_new();
    for (int i = 0; i < PAIRS; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://wait-%d-%d", serial, i);
        f->mine[i] = zmq_socket(f->ctx, ZMQ_PAIR);
        f->theirs[i] = zmq_socket(f->ctx, ZMQ_PAIR);
        if (zmq_bind(f->mine[i], ep) != 0 || zmq_connect(f->theirs[i], ep) != 0)
            return -1;
    }
    serial++;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < PAIRS; i++) {
        zmq_close(f->mine[i]);
        zmq_close(f->theirs[i]);
    }
    zmq_ctx_term(f->ctx);
    free(f);
    return 0;
}

static void s_send(void *sock, const char *what)
{
    assert_int_equal(zmq_send(sock, what, strlen(what), 0), (int)strlen(what));
}

static void s_recv(void *sock, const char *want)
{
    char buf[64];
    int n = zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT);
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(buf, want, strlen(want));
}

/* What the thread does to a socket between waits: asks its state, which
 * processes the socket's commands and so takes the signal of its fd. */
static void s_use(void *sock)
{
    uint32_t events = 0;
    size_t len = sizeof events;
    assert_int_equal(zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len), 0);
}

/* A message comes to socket 0 and the thread uses the socket (taking its
 * fd's signal) before it waits: the wait must find the message at once. */
static void s_queued_and_used(fixture_t *f, hub_wait_t *w)
{
    s_send(f->theirs[0], "queued");
    s_use(f->mine[0]);
    assert_int_equal(hub_wait(w, 3, LONG_MS), 1 << 0);
    s_recv(f->mine[0], "queued");
}

/* Sends on a socket from another thread, after a pause. */
typedef struct {
    void *sock;
    pthread_t t;
} s_later_t;

static void *s_later_main(void *arg)
{
    s_later_t *l = arg;
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    zmq_send(l->sock, "later", 5, 0);
    return NULL;
}

static void s_later(s_later_t *l, void *sock)
{
    l->sock = sock;
    assert_int_equal(pthread_create(&l->t, NULL, s_later_main, l), 0);
}

/* Nothing is readable; a message sent to socket 0 while the thread blocks
 * wakes it. */
static void s_wakes_for_later(fixture_t *f, hub_wait_t *w)
{
    assert_int_equal(hub_wait(w, 3, 0), 0);
    s_later_t l;
    s_later(&l, f->theirs[0]);
    int64_t t0 = ro_time_mono_ms();
    assert_int_equal(hub_wait(w, 3, LONG_MS), 1 << 0);
    /* woken by the message, not found when the time ran out (a wait that
     * fails to ask the socket whose fd fired spins until then) */
    assert_true(ro_time_mono_ms() - t0 < LONG_MS / 2);
    pthread_join(l.t, NULL);
    s_recv(f->mine[0], "later");
}

static void test_queued_message_found_at_once(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    assert_int_equal(hub_wait_init(&w, f->mine, PAIRS, 0), 0);
    s_send(f->theirs[1], "one");
    assert_int_equal(hub_wait(&w, 3, LONG_MS), 1 << 1);
    s_recv(f->mine[1], "one");
    /* only looking: nothing is left */
    assert_int_equal(hub_wait(&w, 3, 0), 0);
}

static void test_wakes_for_a_message_sent_while_it_blocks(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    assert_int_equal(hub_wait_init(&w, f->mine, PAIRS, 0), 0);
    s_wakes_for_later(f, &w);
}

static void test_blocks_again_once_read_then_wakes(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    assert_int_equal(hub_wait_init(&w, f->mine, PAIRS, 0), 0);
    const char *msgs[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        s_send(f->theirs[0], msgs[i]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hub_wait(&w, 3, LONG_MS), 1 << 0);
        s_recv(f->mine[0], msgs[i]);
    }
    /* all read: a short wait runs out */
    assert_int_equal(hub_wait(&w, 3, 20), 0);
    /* and the next message still wakes it */
    s_wakes_for_later(f, &w);
}

/* A socket the thread uses every turn (busy): its signal may be taken by
 * that use, so every wait asks it afresh. */
static void test_busy_socket_used_between_waits(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    assert_int_equal(hub_wait_init(&w, f->mine, PAIRS, 1u << 0), 0);
    assert_int_equal(hub_wait(&w, 3, 0), 0); /* both asked: neither readable */
    s_queued_and_used(f, &w);
}

/* A socket left out of one wait may be used meanwhile: the next wait that
 * watches it asks it afresh. */
static void test_unwatched_socket_used_meanwhile(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    assert_int_equal(hub_wait_init(&w, f->mine, PAIRS, 0), 0);
    s_send(f->theirs[1], "first");
    /* socket 0 is asked and found empty; socket 1 is readable */
    assert_int_equal(hub_wait(&w, 3, LONG_MS), 1 << 1);
    s_recv(f->mine[1], "first");
    /* a wait that leaves socket 0 out */
    s_send(f->theirs[1], "second");
    assert_int_equal(hub_wait(&w, 1u << 1, LONG_MS), 1 << 1);
    s_recv(f->mine[1], "second");
    s_queued_and_used(f, &w);
}

/* A socket that was readable stays asked until it is found empty: the
 * caller may read one message of several. */
static void test_readable_socket_asked_until_empty(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    assert_int_equal(hub_wait_init(&w, f->mine, PAIRS, 0), 0);
    s_send(f->theirs[0], "x");
    s_send(f->theirs[1], "y");
    assert_int_equal(hub_wait(&w, 3, LONG_MS), 3);
    s_recv(f->mine[0], "x"); /* socket 1 is left unread */
    assert_int_equal(hub_wait(&w, 3, LONG_MS), 1 << 1);
    s_recv(f->mine[1], "y");
    assert_int_equal(hub_wait(&w, 3, 0), 0);
}

/* A socket that stays readable (ingest under load: its caller reads a batch
 * and leaves the rest) does not hide another that became readable since it
 * was found empty, whether the wait may block or only looks. */
static void test_readable_socket_does_not_hide_others(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    assert_int_equal(hub_wait_init(&w, f->mine, PAIRS, 0), 0);
    s_send(f->theirs[0], "a");
    s_send(f->theirs[0], "b");
    assert_int_equal(hub_wait(&w, 3, LONG_MS), 1 << 0); /* socket 1 asked: empty */
    s_recv(f->mine[0], "a");
    s_send(f->theirs[1], "x");
    assert_int_equal(hub_wait(&w, 3, LONG_MS), 3);
    s_recv(f->mine[0], "b");
    s_recv(f->mine[1], "x");
    assert_int_equal(hub_wait(&w, 3, 0), 0); /* both asked: empty */
    s_send(f->theirs[1], "y");
    assert_int_equal(hub_wait(&w, 3, 0), 1 << 1);
    s_recv(f->mine[1], "y");
}

/* A NULL socket holds its bit and is never readable; a socket out of watch
 * is not reported even when it has a message. */
static void test_null_and_unwatched_not_reported(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    void *socks[3] = {f->mine[0], NULL, f->mine[1]};
    assert_int_equal(hub_wait_init(&w, socks, 3, 0), 0);
    s_send(f->theirs[0], "zero");
    s_send(f->theirs[1], "two");
    assert_int_equal(hub_wait(&w, 7, LONG_MS), 1 << 0 | 1 << 2);
    assert_int_equal(hub_wait(&w, 1u << 1 | 1u << 2, LONG_MS), 1 << 2);
    assert_int_equal(hub_wait(&w, 1u << 1, 20), 0);
    s_recv(f->mine[0], "zero");
    s_recv(f->mine[1], "two");
}

static void test_init_refuses_too_many(void **state)
{
    fixture_t *f = *state;
    hub_wait_t w;
    void *socks[HUB_WAIT_MAX + 1] = {f->mine[0]};
    errno = 0;
    assert_int_equal(hub_wait_init(&w, socks, HUB_WAIT_MAX + 1, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(hub_wait_init(&w, socks, -1, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queued_message_found_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_wakes_for_a_message_sent_while_it_blocks, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_blocks_again_once_read_then_wakes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_busy_socket_used_between_waits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unwatched_socket_used_meanwhile, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readable_socket_asked_until_empty, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_readable_socket_does_not_hide_others, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_null_and_unwatched_not_reported, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_init_refuses_too_many, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
