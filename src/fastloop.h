/* Declarations shared by the files of fastloop._core: the module state, the
 * object layouts, and the functions one file offers another. */
#ifndef FASTLOOP_H
#define FASTLOOP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <sys/types.h>

#if PY_VERSION_HEX >= 0x030C0000
#  define FL_T_PYSSIZET Py_T_PYSSIZET
#  define FL_T_DOUBLE Py_T_DOUBLE
#  define FL_READONLY Py_READONLY
#else
#  include <structmember.h>
#  define FL_T_PYSSIZET T_PYSSIZET
#  define FL_T_DOUBLE T_DOUBLE
#  define FL_READONLY READONLY
#endif

#include "heap.h"
#include "net.h"
#include "poller.h"
#include "ready.h"
#include "wakeup.h"

#ifdef Py_GIL_DISABLED
#error "fastloop relies on the GIL to order the ready queue; free-threaded builds are not supported yet"
#endif

/* ---- module state ------------------------------------------------------ */

typedef struct {
    PyTypeObject *LoopType;
    PyTypeObject *HandleType;
    PyTypeObject *TimerHandleType;

    /* fastloop._helpers, imported on first use: Python code for the rare
     * paths (formatting callbacks, debug-mode checks and warnings). */
    PyObject *helpers;

    /* names looked up often, interned once */
    PyObject *str_call_exception_handler;
    PyObject *str_message;
    PyObject *str_exception;
    PyObject *str_handle;
    PyObject *str_source_traceback;
    PyObject *str_fileno;

    fl_net_state net;           /* stream sockets: net.h */
} fl_state;

fl_state *fl_get_state(PyObject *module);

/* Counts fork()s in this process's ancestry (incremented in the child).  A
 * loop created before a fork shares its epoll and eventfd with the parent,
 * so the child must neither poll them nor change their interest lists. */
extern volatile unsigned long fl_fork_generation;
fl_state *fl_state_from_type(PyTypeObject *type);

/* Call fastloop._helpers.<name>(*args); a new reference or NULL. */
PyObject *fl_call_helper(fl_state *st, const char *name, PyObject *const *args, size_t nargs);

/* ---- objects ----------------------------------------------------------- */

typedef struct {
    PyObject *reader;   /* Handle or NULL */
    PyObject *writer;   /* Handle or NULL */
    unsigned events;    /* interest registered with the poller */
    /* A C transport or listener that takes this fd's events straight from
     * the poll loop (no Handle per event).  Borrowed while owner_events is
     * 0; the watch holds a strong reference while it is not, as asyncio's
     * selector holds the transport's reader and writer handles. */
    PyObject *owner;
    unsigned owner_events;
} fd_watch;

typedef struct LoopObject {
    PyObject_HEAD
    fl_state *state;
    ready_queue ready;
    timer_heap timers;
    poller poller;
    wakeup wakeup;

    fd_watch *watches;          /* indexed by fd */
    size_t watches_capacity;
    size_t watched_fds;         /* fds with a reader or a writer */

    uint64_t timer_sequence;
    double slow_callback_duration;
    PyObject *current_handle;   /* debug mode only, else NULL */
    PyObject *weakreflist;

    unsigned long thread_id;    /* valid while running */
    unsigned long fork_generation; /* fl_fork_generation when created */
    char running;
    char stopping;
    char closed;
    char debug;
    /* Both only change with the GIL held, which orders them against
     * call_soon_threadsafe in other threads. */
    char polling;               /* about to block, or blocked, in poller_wait */
    char wakeup_pending;        /* the wake-up fd was written and not drained */
} LoopObject;

static inline int
fl_loop_forked(const LoopObject *loop)
{
    return loop->fork_generation != fl_fork_generation;
}

typedef struct {
    PyObject_HEAD
    PyObject *callback;         /* NULL once cancelled */
    PyObject *args;             /* a tuple; NULL once cancelled */
    PyObject *context;
    LoopObject *loop;
    PyObject *source_traceback; /* debug mode only */
    PyObject *repr;             /* kept at cancel() in debug mode */
    PyObject *weakreflist;
    char cancelled;
} HandleObject;

typedef struct {
    HandleObject base;
    heap_node node;             /* node.index >= 0 while in the loop's heap */
    double when;
    PyObject *when_obj;         /* what call_at() was given, if not a float */
} TimerHandleObject;

/* ---- handle.c ---------------------------------------------------------- */

extern PyType_Spec fl_handle_spec;
extern PyType_Spec fl_timer_handle_spec;

/* New Handle; context NULL or None means a copy of the current context.
 * args is a tuple (borrowed; a reference is taken). */
HandleObject *fl_handle_new(LoopObject *loop, PyTypeObject *type,
                            PyObject *callback, PyObject *args, PyObject *context);

/* Run a handle popped from the ready queue.  Returns 0, or -1 with an
 * exception set when it must stop the loop (KeyboardInterrupt, SystemExit,
 * or a failure of the exception handler machinery itself). */
int fl_handle_run(HandleObject *handle);

/* Report an exception raised by a callback to loop.call_exception_handler.
 * The exception is the one currently set; returns 0 when it was handed
 * over, -1 when it must propagate (KeyboardInterrupt, SystemExit). */
int fl_report_callback_error(LoopObject *loop, PyObject *callback, PyObject *args,
                             HandleObject *handle);

/* ---- loop.c ------------------------------------------------------------ */

extern PyType_Spec fl_loop_spec;

double fl_loop_time(void);
/* Called by TimerHandle.cancel() while the timer is in the heap. */
void fl_loop_timer_cancelled(LoopObject *loop, TimerHandleObject *timer);

/* ---- io.c -------------------------------------------------------------- */

int fl_io_dispatch(LoopObject *loop, const poller_event *event);
void fl_io_clear(LoopObject *loop);
int fl_io_traverse(LoopObject *loop, visitproc visit, void *arg);
PyObject *fl_loop_add_reader(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_add_writer(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_add_reader_handle(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_add_writer_handle(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_remove_reader(LoopObject *self, PyObject *fileobj);
PyObject *fl_loop_remove_writer(LoopObject *self, PyObject *fileobj);

/* C owners of fds (transport.h).  attach: RuntimeError if another owner
 * still claims the fd.  set_owner_events: the POLLER_* events the owner
 * wants now; 0, or -1 with OSError.  detach: forget the owner (no-op if
 * it is not the fd's owner any more).  All are no-ops on a closed loop. */
int fl_io_attach(LoopObject *loop, int fd, PyObject *owner);
int fl_io_set_owner_events(LoopObject *loop, int fd, PyObject *owner, unsigned events);
void fl_io_detach(LoopObject *loop, int fd, PyObject *owner);
/* asyncio's _ensure_fd_no_transport: RuntimeError naming fileobj. */
int fl_io_check_no_transport(LoopObject *loop, int fd, PyObject *fileobj);
/* The owner of fd, borrowed; or NULL. */
PyObject *fl_io_owner(LoopObject *loop, int fd);
/* The owner of fd, still claiming it, borrowed; or NULL. */
PyObject *fl_io_claiming_owner(LoopObject *loop, int fd);

/* ---- net (stream.c, server.c) ------------------------------------------ */

int fl_net_init(PyObject *module, fl_state *st);
int fl_net_traverse(fl_state *st, visitproc visit, void *arg);
void fl_net_clear(fl_state *st);
/* Run a READY_IO entry: the owner's fd reported events. */
int fl_net_on_event(LoopObject *loop, PyObject *owner, unsigned events);
/* True while the owner refuses add_reader() & co on its fd. */
int fl_net_owner_claims(fl_state *st, PyObject *owner);

/* ---- compat.c ---------------------------------------------------------- */

/* The exception currently set, normalized, with its traceback attached;
 * clears it.  Never NULL when an exception was set. */
PyObject *fl_fetch_exception(void);
void fl_restore_exception(PyObject *exc);

#endif
