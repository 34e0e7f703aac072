/* ro_sock: the ZeroMQ socket options every rollout socket needs (size
 * limits, heartbeats, jittered reconnect) and CURVE key files. It does not
 * create contexts or run loops. */
#ifndef RO_SOCK_H
#define RO_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define RO_KEY_Z85_LEN 40

/* Limits and liveness for any socket: ZMQ_MAXMSGSIZE = maxmsg, linger 0,
 * ZMTP heartbeats every 5 s with a 15 s timeout, and no TTL asked of the
 * peer. Returns 0 or -1. */
int ro_sock_harden(void *sock, int64_t maxmsg);

/* For a bound socket with thousands of peers (the hub's ingest), after
 * ro_sock_harden: no ZMTP heartbeats of its own; the kernel's TCP keepalive
 * (after 15 s without a byte, 3 probes 5 s apart) and a 30 s limit on
 * unacknowledged data find a dead peer's connection within about 30 s.
 * libzmq 4.3 cancels a timer by walking every timer of its I/O thread, and a
 * heartbeating connection cancels one every interval: with 5,000 agents
 * connected and nearly idle, those walks kept the hub's ingest I/O thread
 * at half a core (0.03 without; docs/PERFORMANCE.md). A peer's own
 * heartbeats are still answered. Returns 0 or -1. */
int ro_sock_keepalive(void *sock);

/* For connecting sockets: reconnect after 200-700 ms (random per process, so
 * a province of agents does not reconnect in one instant), backing off to
 * 30 s. Returns 0 or -1. */
int ro_sock_backoff(void *sock);

/* Read a Z85 key (40 characters, optional trailing newline) from path.
 * If secret is true the file must not be readable by group or others.
 * Returns 0, or -1 with a reason in err. */
int ro_key_read(const char *path, int secret, char out[RO_KEY_Z85_LEN + 1], char *err,
                size_t errlen);

/* Write a Z85 key to path with the given mode, refusing to overwrite. */
int ro_key_write(const char *path, const char *z85, unsigned mode, char *err, size_t errlen);

/* Make sock a CURVE server with the secret key in secret_path.
 * Returns 0, or -1 with a reason in err. */
int ro_sock_curve_server(void *sock, const char *secret_path, char *err, size_t errlen);

/* Make sock a CURVE client of the server whose public key is in
 * server_pub_path, with its own keypair from public_path and secret_path. */
int ro_sock_curve_client(void *sock, const char *server_pub_path, const char *public_path,
                         const char *secret_path, char *err, size_t errlen);

/* Receive one whole message from sock without blocking. Its first `max`
 * frames land in f[0 .. *kept - 1], initialised and the caller's to close;
 * frames beyond `max` are read and dropped, so a long message never stays
 * half-read. Returns the number of frames the message had, 0 if none was
 * waiting, or -1 on a socket error (nothing is left for the caller to close). */
int ro_sock_recv_frames(void *sock, zmq_msg_t *f, int max, int *kept);

/* Seed the C library's rand() from the kernel's random source. libzmq 4.3
 * numbers a ROUTER's peers that bring no routing id of their own from rand(),
 * which it never seeds, so the numbers are the same on every start; and it
 * never checks a number it makes against ids in use, which any peer may choose
 * (router.cpp, identify_peer; add_out_pipe asserts): a peer holding the next
 * number makes the next id-less connection abort the process. Seeded, that
 * next number is a 1 in 2^32 guess per connection held. No libzmq release
 * fixes it (master still counts from rand()). Call before the first ROUTER
 * is made. Returns 0, or -1 when no random bytes could be had. */
int ro_sock_seed_routing_ids(void);

/* True when a bind endpoint is a loopback or ipc/inproc address. */
int ro_endpoint_is_local(const char *endpoint);

#endif
