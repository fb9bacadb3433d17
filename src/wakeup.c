/* eventfd implementation of wakeup.h.  One counter instead of asyncio's
 * self-pipe: a single fd, no buffer that can fill up, and any number of
 * signals before a drain collapse into one readable event. */
#include "wakeup.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int
wakeup_open(wakeup *w)
{
    w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return w->fd < 0 ? -errno : 0;
}

void
wakeup_close(wakeup *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
}

int
wakeup_signal(wakeup *w)
{
    uint64_t one = 1;
    for (;;) {
        if (write(w->fd, &one, sizeof(one)) == (ssize_t)sizeof(one)) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        /* EAGAIN: the counter is saturated, so the fd is readable anyway. */
        return errno == EAGAIN ? 0 : -errno;
    }
}

void
wakeup_drain(wakeup *w)
{
    uint64_t value;
    while (read(w->fd, &value, sizeof(value)) < 0 && errno == EINTR) {
    }
}
