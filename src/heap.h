/* The timer heap: a binary min-heap of nodes embedded in TimerHandles.
 *
 * Ordered on (deadline, insertion sequence), so timers with equal deadlines
 * fire in the order they were scheduled, as asyncio's heapq does in practice.
 * Each node remembers its index in the array, which makes removing a
 * cancelled timer O(log n) instead of leaving it in the heap until it
 * surfaces: a program that schedules and cancels a million timeouts keeps
 * the heap as small as the number of live timers.
 *
 * Pure C: the heap holds no references; the loop owns the TimerHandles and
 * takes or drops a reference when it pushes or removes a node.
 */
#ifndef FASTLOOP_HEAP_H
#define FASTLOOP_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    double deadline;       /* NaN is mapped to -inf by the caller */
    uint64_t sequence;
    ptrdiff_t index;       /* position in the heap, -1 when not in it */
} heap_node;

typedef struct {
    heap_node **nodes;
    size_t length;
    size_t capacity;
} timer_heap;

static inline void
heap_init(timer_heap *h)
{
    h->nodes = NULL;
    h->length = 0;
    h->capacity = 0;
}

static inline void
heap_free(timer_heap *h)
{
    free(h->nodes);
    heap_init(h);
}

static inline int
heap_less(const heap_node *a, const heap_node *b)
{
    if (a->deadline != b->deadline) {
        return a->deadline < b->deadline;
    }
    return a->sequence < b->sequence;
}

static inline void
heap_place(timer_heap *h, size_t i, heap_node *n)
{
    h->nodes[i] = n;
    n->index = (ptrdiff_t)i;
}

static inline void
heap_sift_up(timer_heap *h, size_t i)
{
    heap_node *n = h->nodes[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(n, h->nodes[parent])) {
            break;
        }
        heap_place(h, i, h->nodes[parent]);
        i = parent;
    }
    heap_place(h, i, n);
}

static inline void
heap_sift_down(timer_heap *h, size_t i)
{
    heap_node *n = h->nodes[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->length) {
            break;
        }
        if (child + 1 < h->length && heap_less(h->nodes[child + 1], h->nodes[child])) {
            child++;
        }
        if (!heap_less(h->nodes[child], n)) {
            break;
        }
        heap_place(h, i, h->nodes[child]);
        i = child;
    }
    heap_place(h, i, n);
}

/* Returns 0, or -1 when memory runs out (nothing changed). */
static inline int
heap_push(timer_heap *h, heap_node *n)
{
    if (h->length == h->capacity) {
        size_t capacity = h->capacity ? h->capacity * 2 : 64;
        heap_node **nodes = realloc(h->nodes, capacity * sizeof(heap_node *));
        if (nodes == NULL) {
            return -1;
        }
        h->nodes = nodes;
        h->capacity = capacity;
    }
    h->nodes[h->length] = n;
    n->index = (ptrdiff_t)h->length;
    h->length++;
    heap_sift_up(h, h->length - 1);
    return 0;
}

static inline heap_node *
heap_top(const timer_heap *h)
{
    return h->length ? h->nodes[0] : NULL;
}

/* Remove a node that is in the heap, wherever it is. */
static inline void
heap_remove(timer_heap *h, heap_node *n)
{
    size_t i = (size_t)n->index;
    h->length--;
    n->index = -1;
    if (i == h->length) {
        return;
    }
    heap_node *last = h->nodes[h->length];
    heap_place(h, i, last);
    if (i > 0 && heap_less(last, h->nodes[(i - 1) / 2])) {
        heap_sift_up(h, i);
    }
    else {
        heap_sift_down(h, i);
    }
}

/* Give memory back once most timers are gone, so a burst of a million
 * timers does not pin its peak for the life of the loop. */
static inline void
heap_shrink(timer_heap *h)
{
    if (h->capacity > 1024 && h->length < h->capacity / 4) {
        size_t capacity = h->capacity / 2;
        heap_node **nodes = realloc(h->nodes, capacity * sizeof(heap_node *));
        if (nodes != NULL) {
            h->nodes = nodes;
            h->capacity = capacity;
        }
    }
}

#endif
