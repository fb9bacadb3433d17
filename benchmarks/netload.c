/* Echo load generator for the "net" benchmarks.
 *
 *   netload (-p PORT [-H HOST] | -u PATH) -c CONNS -s SIZE -n TOTAL
 *
 * Opens CONNS connections to an echo server (TCP on HOST:PORT, or the Unix
 * socket PATH).  Each connection sends a SIZE-byte message, waits until all
 * of it has come back, checks it, and sends the next, until TOTAL messages
 * have been echoed in all.  Prints "MESSAGES SECONDS" (the time from the
 * first send to the last echo) and exits 0; any error or a wrong byte exits
 * 1 with a message on stderr.  Plain epoll, one thread: it is meant to be
 * pinned to a core of its own so the server under test gets the other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

typedef struct {
    int fd;
    size_t sent;      /* bytes of the current message sent */
    size_t received;  /* bytes of the current message echoed back */
    int active;
} conn;

static unsigned char *message;
static unsigned char *scratch;
static size_t size;

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
connect_one(const char *host, int port, const char *path)
{
    int fd;
    if (path != NULL) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            die("connect");
        }
    }
    else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
            fprintf(stderr, "bad host %s\n", host);
            exit(1);
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            die("connect");
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Send what is left of the current message; 1 if all of it is out. */
static int
pump_send(conn *c)
{
    while (c->sent < size) {
        ssize_t n = send(c->fd, message + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return 0;
            }
            die("send");
        }
        c->sent += (size_t)n;
    }
    return 1;
}

int
main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = NULL;
    int port = 0, nconns = 10, opt;
    long long total = 1000;
    size = 1024;
    while ((opt = getopt(argc, argv, "H:p:u:c:s:n:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'c': nconns = atoi(optarg); break;
        case 's': size = (size_t)atol(optarg); break;
        case 'n': total = atoll(optarg); break;
        default:
            fprintf(stderr, "usage: netload (-p PORT [-H HOST] | -u PATH) -c CONNS -s SIZE -n TOTAL\n");
            return 2;
        }
    }
    if ((port == 0 && path == NULL) || nconns < 1 || size < 1 || total < 1) {
        fprintf(stderr, "netload: bad arguments\n");
        return 2;
    }
    message = malloc(size);
    scratch = malloc(size);
    conn *conns = calloc((size_t)nconns, sizeof(conn));
    if (message == NULL || scratch == NULL || conns == NULL) {
        die("malloc");
    }
    for (size_t i = 0; i < size; i++) {
        message[i] = (unsigned char)(i % 251);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1");
    }
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = connect_one(host, port, path);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0) {
            die("epoll_ctl");
        }
    }
    long long started = 0, done = 0;
    double t0 = now();
    for (int i = 0; i < nconns && started < total; i++) {
        conns[i].active = 1;
        started++;
        if (!pump_send(&conns[i])) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_MOD, conns[i].fd, &ev);
        }
    }
    struct epoll_event events[256];
    while (done < total) {
        int n = epoll_wait(ep, events, 256, 10000);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait");
        }
        if (n == 0) {
            fprintf(stderr, "netload: no progress in 10 s (%lld of %lld done)\n", done, total);
            return 1;
        }
        for (int k = 0; k < n; k++) {
            conn *c = &conns[events[k].data.u32];
            if ((events[k].events & EPOLLOUT) && pump_send(c)) {
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = events[k].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (!(events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                continue;
            }
            for (;;) {
                ssize_t r = recv(c->fd, scratch, size - c->received, 0);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EINTR) {
                        break;
                    }
                    die("recv");
                }
                if (r == 0) {
                    fprintf(stderr, "netload: server closed a connection\n");
                    return 1;
                }
                if (memcmp(scratch, message + c->received, (size_t)r) != 0) {
                    fprintf(stderr, "netload: wrong bytes echoed\n");
                    return 1;
                }
                c->received += (size_t)r;
                if (c->received < size) {
                    continue;
                }
                done++;
                c->received = 0;
                c->sent = 0;
                if (started < total) {
                    started++;
                    if (!pump_send(c)) {
                        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                                                 .data.u32 = events[k].data.u32};
                        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    }
                }
                else {
                    c->active = 0;
                }
                break;
            }
        }
    }
    double seconds = now() - t0;
    for (int i = 0; i < nconns; i++) {
        close(conns[i].fd);
    }
    printf("%lld %.6f\n", done, seconds);
    return 0;
}
