/* The I/O readiness backend contract.
 *
 * The loop never includes <sys/epoll.h>: it talks to the kernel through these
 * few functions, so another backend (kqueue, poll) is one more file behind
 * the same contract.  Pure C: no Python calls, 0 or -errno returns.  The loop
 * releases the GIL around poller_wait, and only around it.
 */
#ifndef FASTLOOP_POLLER_H
#define FASTLOOP_POLLER_H

#define POLLER_READABLE 1u
#define POLLER_WRITABLE 2u

typedef struct {
    int fd;
    unsigned events;   /* POLLER_READABLE | POLLER_WRITABLE; an error or a
                          hang-up reports both, as selectors does */
} poller_event;

typedef struct {
    int backend_fd;
    void *backend_events;   /* the backend's own event array */
    int max_events;
} poller;

/* Open the backend.  0 or -errno. */
int poller_open(poller *p);

/* Close it; safe to call twice and after a failed open. */
void poller_close(poller *p);

/* Change the interest in fd from old_events to new_events (either may be 0,
 * meaning not registered).  Returns 0 or -errno.  Removing interest in an fd
 * that the kernel already forgot (it was closed) succeeds. */
int poller_change(poller *p, int fd, unsigned old_events, unsigned new_events);

/* Wait up to timeout_ms (-1: forever, 0: do not block) and fill out[] with
 * at most max events.  Returns the count or -errno (-EINTR on a signal). */
int poller_wait(poller *p, poller_event *out, int max, int timeout_ms);

#endif
