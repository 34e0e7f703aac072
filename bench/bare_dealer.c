/* bare_dealer: the floor an agent's memory is compared with: one libzmq
 * context and one DEALER connected to the hub (with CURVE keys when given),
 * blocked in zmq_poll until SIGTERM. It sends nothing and stores nothing. */
#include "bench_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 5) {
        fprintf(stderr, "usage: bare_dealer ENDPOINT [SERVER_PUB PUBLIC SECRET]\n"
                        "  (key files in Z85, as rollout-agent reads them)\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (argc == 5) {
        char server[41], pub[41], sec[41], err[512];
        if (bench_key_file(argv[2], server, err, sizeof err) ||
            bench_key_file(argv[3], pub, err, sizeof err) ||
            bench_key_file(argv[4], sec, err, sizeof err) ||
            bench_curve_client(sock, server, pub, sec)) {
            fprintf(stderr, "bare_dealer: %s\n", err);
            return 1;
        }
    }
    if (zmq_connect(sock, argv[1]) != 0) {
        fprintf(stderr, "bare_dealer: %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    while (!s_stop) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, -1) < 0 && zmq_errno() != EINTR)
            break;
        char sink[64];
        while (zmq_recv(sock, sink, sizeof sink, ZMQ_DONTWAIT) >= 0)
            ;
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}
