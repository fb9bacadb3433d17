/* The epoll backend of poller.h: the only file that includes <sys/epoll.h>.
 *
 * Level-triggered, like asyncio's selector, so a callback that reads only
 * part of what is available is called again on the next iteration.
 */
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define POLLER_MAX_EVENTS 1024

int
poller_open(poller *p)
{
    p->backend_fd = -1;
    p->backend_events = NULL;
    p->max_events = 0;
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct epoll_event *events = calloc(POLLER_MAX_EVENTS, sizeof(*events));
    if (events == NULL) {
        close(fd);
        return -ENOMEM;
    }
    p->backend_fd = fd;
    p->backend_events = events;
    p->max_events = POLLER_MAX_EVENTS;
    return 0;
}

void
poller_close(poller *p)
{
    if (p->backend_fd >= 0) {
        close(p->backend_fd);
        p->backend_fd = -1;
    }
    free(p->backend_events);
    p->backend_events = NULL;
    p->max_events = 0;
}

static uint32_t
to_epoll(unsigned events)
{
    uint32_t mask = 0;
    if (events & POLLER_READABLE) {
        mask |= EPOLLIN;
    }
    if (events & POLLER_WRITABLE) {
        mask |= EPOLLOUT;
    }
    return mask;
}

int
poller_change(poller *p, int fd, unsigned old_events, unsigned new_events)
{
    struct epoll_event ev = {.events = to_epoll(new_events), .data.fd = fd};
    if (new_events == 0) {
        if (old_events == 0) {
            return 0;
        }
        /* The fd may have been closed behind our back, which already took it
         * out of the interest list: nothing left to undo. */
        if (epoll_ctl(p->backend_fd, EPOLL_CTL_DEL, fd, &ev) < 0
                && errno != ENOENT && errno != EBADF) {
            return -errno;
        }
        return 0;
    }
    int op = old_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(p->backend_fd, op, fd, &ev) == 0) {
        return 0;
    }
    /* Our record says registered but the kernel dropped the fd when it was
     * closed, and the number was reused: register it afresh.  The converse
     * (a dup of a closed fd still registered) shows as EEXIST on ADD. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT) {
        op = EPOLL_CTL_ADD;
    }
    else if (op == EPOLL_CTL_ADD && errno == EEXIST) {
        op = EPOLL_CTL_MOD;
    }
    else {
        return -errno;
    }
    if (epoll_ctl(p->backend_fd, op, fd, &ev) < 0) {
        return -errno;
    }
    return 0;
}

int
poller_wait(poller *p, poller_event *out, int max, int timeout_ms)
{
    struct epoll_event *events = p->backend_events;
    if (max > p->max_events) {
        max = p->max_events;
    }
    int n = epoll_wait(p->backend_fd, events, max, timeout_ms);
    if (n < 0) {
        return -errno;
    }
    for (int i = 0; i < n; i++) {
        uint32_t e = events[i].events;
        unsigned mask = 0;
        /* selectors' rule: anything other than "only writable" wakes the
         * reader, anything other than "only readable" wakes the writer. */
        if (e & ~(uint32_t)EPOLLOUT) {
            mask |= POLLER_READABLE;
        }
        if (e & ~(uint32_t)EPOLLIN) {
            mask |= POLLER_WRITABLE;
        }
        out[i].fd = events[i].data.fd;
        out[i].events = mask;
    }
    return n;
}
