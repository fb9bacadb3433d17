/* The loop's wake-up channel: an eventfd registered with the poller.
 *
 * Another thread that queues work with call_soon_threadsafe writes to it so a
 * loop blocked in poller_wait returns.  Pure C, 0 or -errno returns.
 */
#ifndef FASTLOOP_WAKEUP_H
#define FASTLOOP_WAKEUP_H

typedef struct {
    int fd;
} wakeup;

int wakeup_open(wakeup *w);
void wakeup_close(wakeup *w);
/* Make the fd readable.  Safe from any thread, with or without the GIL. */
int wakeup_signal(wakeup *w);
/* Reset the fd to unreadable. */
void wakeup_drain(wakeup *w);

#endif
