/* ro_sock: socket options and CURVE key files. */
#include "ro_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int ro_sock_harden(void *sock, int64_t maxmsg)
{
    /* no TTL: a TTL makes the peer keep a timer for the connection, and
     * libzmq 4.3 cancels a timer by walking every timer of its I/O thread
     * (see ro_sock_keepalive); each side times out its peers itself */
    int linger = 0, ivl = 5000, timeout = 15000, ttl = 0;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl))
        return -1;
    return 0;
}

int ro_sock_keepalive(void *sock)
{
    int off = 0, on = 1, idle = 15, intvl = 5, count = 3, maxrt = 30000;
    if (zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &off, sizeof off) ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE, &on, sizeof on) ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle) ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_INTVL, &intvl, sizeof intvl) ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_CNT, &count, sizeof count) ||
        zmq_setsockopt(sock, ZMQ_TCP_MAXRT, &maxrt, sizeof maxrt))
        return -1;
    return 0;
}

int ro_sock_backoff(void *sock)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    int ivl = 200 + (int)(rand_r(&seed) % 500), ivl_max = 30000;
    if (zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) ||
        zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max))
        return -1;
    return 0;
}

int ro_key_read(const char *path, int secret, char out[RO_KEY_Z85_LEN + 1], char *err,
                size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open key: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && secret && (st.st_mode & 077)) {
        snprintf(err, errlen, "%s: secret key is readable by others (mode %03o); chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    char buf[RO_KEY_Z85_LEN + 3];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n != RO_KEY_Z85_LEN) {
        snprintf(err, errlen, "%s: not a 40-character Z85 key", path);
        return -1;
    }
    memcpy(out, buf, RO_KEY_Z85_LEN);
    out[RO_KEY_Z85_LEN] = '\0';
    uint8_t bin[32];
    if (!zmq_z85_decode(bin, out)) {
        snprintf(err, errlen, "%s: not a 40-character Z85 key", path);
        return -1;
    }
    return 0;
}

int ro_key_write(const char *path, const char *z85, unsigned mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[RO_KEY_Z85_LEN + 2];
    snprintf(line, sizeof line, "%s\n", z85);
    ssize_t n = write(fd, line, strlen(line));
    if (n != (ssize_t)strlen(line) || fsync(fd)) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int ro_sock_curve_server(void *sock, const char *secret_path, char *err, size_t errlen)
{
    char secret[RO_KEY_Z85_LEN + 1];
    int one = 1;
    if (ro_key_read(secret_path, 1, secret, err, errlen))
        return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, RO_KEY_Z85_LEN)) {
        snprintf(err, errlen, "CURVE server setup: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int ro_sock_curve_client(void *sock, const char *server_pub_path, const char *public_path,
                         const char *secret_path, char *err, size_t errlen)
{
    char server[RO_KEY_Z85_LEN + 1], pub[RO_KEY_Z85_LEN + 1], sec[RO_KEY_Z85_LEN + 1];
    if (ro_key_read(server_pub_path, 0, server, err, errlen) ||
        ro_key_read(public_path, 0, pub, err, errlen) ||
        ro_key_read(secret_path, 1, sec, err, errlen))
        return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, RO_KEY_Z85_LEN) ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, RO_KEY_Z85_LEN) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, RO_KEY_Z85_LEN)) {
        snprintf(err, errlen, "CURVE client setup: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int ro_endpoint_is_local(const char *ep)
{
    return !strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9) ||
           !strncmp(ep, "tcp://127.", 10) || !strncmp(ep, "tcp://localhost:", 16) ||
           !strncmp(ep, "tcp://[::1]:", 12);
}

int ro_sock_recv_frames(void *sock, zmq_msg_t *f, int max, int *kept)
{
    int total = 0, more = 1;
    *kept = 0;
    while (more) {
        zmq_msg_t extra, *m = *kept < max ? &f[*kept] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            zmq_msg_close(m);
            for (int i = 0; i < *kept; i++)
                zmq_msg_close(&f[i]);
            *kept = 0;
            if (total == 0 && (e == EAGAIN || e == EINTR))
                return 0;
            errno = e;
            return -1;
        }
        more = zmq_msg_more(m);
        total++;
        if (m == &extra)
            zmq_msg_close(&extra);
        else
            (*kept)++;
    }
    return total;
}

int ro_sock_seed_routing_ids(void)
{
    unsigned seed;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        return -1;
    srand(seed);
    return 0;
}
