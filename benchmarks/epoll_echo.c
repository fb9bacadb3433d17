/* A plain C epoll echo server: the physical limit the "net" benchmarks
 * compare the event loops against.
 *
 *   epoll_echo
 *
 * Listens on 127.0.0.1 on a free port, prints the port on stdout, and
 * echoes every connection until it is killed.  Level-triggered, one read
 * into a 256 KiB buffer per readable event (as the loops read), writes at
 * once and keeps what the kernel did not take until the socket is writable
 * again: the same work an event loop's echo server does, without the
 * interpreter.
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
#include <unistd.h>

#define BUF (256 * 1024)

typedef struct {
    char *pending;
    size_t len;
} outq;

static outq *queues;
static size_t nqueues;

static outq *
queue_for(int fd)
{
    if ((size_t)fd >= nqueues) {
        size_t n = nqueues ? nqueues : 64;
        while (n <= (size_t)fd) {
            n *= 2;
        }
        queues = realloc(queues, n * sizeof(outq));
        memset(queues + nqueues, 0, (n - nqueues) * sizeof(outq));
        nqueues = n;
    }
    return &queues[fd];
}

static void
drop(int ep, int fd)
{
    outq *q = queue_for(fd);
    free(q->pending);
    q->pending = NULL;
    q->len = 0;
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

int
main(void)
{
    static char buf[BUF];
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t alen = sizeof(a);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1024) < 0
            || getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
        perror("listen");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        for (int k = 0; k < n; k++) {
            int fd = events[k].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            outq *q = queue_for(fd);
            if (events[k].events & EPOLLOUT) {
                ssize_t w = send(fd, q->pending, q->len, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) {
                    drop(ep, fd);
                    continue;
                }
                if (w > 0) {
                    memmove(q->pending, q->pending + w, q->len - (size_t)w);
                    q->len -= (size_t)w;
                }
                if (q->len == 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                }
            }
            if (!(events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                continue;
            }
            ssize_t r = recv(fd, buf, BUF, 0);
            if (r < 0 && errno == EAGAIN) {
                continue;
            }
            if (r <= 0) {
                drop(ep, fd);
                continue;
            }
            size_t off = 0;
            if (q->len == 0) {
                ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) {
                    drop(ep, fd);
                    continue;
                }
                off = w > 0 ? (size_t)w : 0;
                if (off == (size_t)r) {
                    continue;
                }
                struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
            }
            q->pending = realloc(q->pending, q->len + (size_t)r - off);
            memcpy(q->pending + q->len, buf + off, (size_t)r - off);
            q->len += (size_t)r - off;
        }
    }
}
