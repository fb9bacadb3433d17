/* The ready queue: a growable ring buffer of tagged entries.
 *
 * asyncio keeps a deque of Handle objects.  fastloop keeps a ring of small
 * structs so that work which is not a user-visible Handle (a task step, a
 * future's done-callback) can be queued without allocating a Python object.
 *
 * This header makes no calls into Python except reference counting on
 * entries that are being discarded (ready_clear); everything else only moves
 * owned references around.  An entry popped from the ring is owned by the
 * caller.  The ring never hands out pointers into its own storage, because a
 * push from a re-entrant callback may reallocate it.
 */
#ifndef FASTLOOP_READY_H
#define FASTLOOP_READY_H

#include <Python.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    READY_HANDLE = 0,      /* a: Handle or TimerHandle */
    READY_CALLBACK = 1,    /* a: callable, b: its single argument, c: Context */
    READY_TASK_STEP = 2,   /* a: task, b: exception to throw in or NULL,
                              c: the done future that woke the task, or NULL */
    READY_IO = 8,          /* a: C fd owner (transport.h), b: small int of POLLER_* events */
} ready_kind;

typedef struct {
    PyObject *a;
    PyObject *b;
    PyObject *c;
    int kind;
} ready_entry;

typedef struct {
    ready_entry *items;
    size_t capacity;   /* always a power of two, or 0 before first push */
    size_t head;       /* index of the oldest entry */
    size_t length;
} ready_queue;

static inline void
ready_init(ready_queue *q)
{
    q->items = NULL;
    q->capacity = 0;
    q->head = 0;
    q->length = 0;
}

static inline size_t
ready_length(const ready_queue *q)
{
    return q->length;
}

/* Double the storage, unrolling the wrapped part so that head becomes 0.
 * Returns 0 or -1 (no exception set: the caller raises MemoryError). */
static inline int
ready_grow(ready_queue *q)
{
    size_t new_capacity = q->capacity ? q->capacity * 2 : 64;
    ready_entry *items = malloc(new_capacity * sizeof(ready_entry));
    if (items == NULL) {
        return -1;
    }
    size_t first = q->capacity - q->head;
    if (first > q->length) {
        first = q->length;
    }
    if (q->length) {
        memcpy(items, q->items + q->head, first * sizeof(ready_entry));
        memcpy(items + first, q->items, (q->length - first) * sizeof(ready_entry));
    }
    free(q->items);
    q->items = items;
    q->capacity = new_capacity;
    q->head = 0;
    return 0;
}

/* Append an entry; steals the references in it.  On failure the references
 * are still the caller's and -1 is returned with no exception set. */
static inline int
ready_push(ready_queue *q, ready_entry entry)
{
    if (q->length == q->capacity && ready_grow(q) < 0) {
        return -1;
    }
    q->items[(q->head + q->length) & (q->capacity - 1)] = entry;
    q->length++;
    return 0;
}

/* Remove the oldest entry into *out (the caller owns its references).
 * The queue must not be empty. */
static inline void
ready_pop(ready_queue *q, ready_entry *out)
{
    *out = q->items[q->head];
    q->head = (q->head + 1) & (q->capacity - 1);
    q->length--;
}

/* The entry at position i from the head (0 = oldest), borrowed. */
static inline const ready_entry *
ready_peek(const ready_queue *q, size_t i)
{
    return &q->items[(q->head + i) & (q->capacity - 1)];
}

static inline void
ready_entry_clear(ready_entry *e)
{
    Py_CLEAR(e->a);
    Py_CLEAR(e->b);
    Py_CLEAR(e->c);
}

/* Drop every entry.  Entries are popped one at a time before their
 * references are released, so a __del__ that pushes again finds the ring
 * consistent. */
static inline void
ready_clear(ready_queue *q)
{
    while (q->length) {
        ready_entry e;
        ready_pop(q, &e);
        ready_entry_clear(&e);
    }
}

static inline void
ready_free(ready_queue *q)
{
    ready_clear(q);
    free(q->items);
    ready_init(q);
}

#endif
