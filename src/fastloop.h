/* Declarations shared by the files of fastloop._core: the module state, the
 * object layouts, and the functions one file offers another. */
#ifndef FASTLOOP_H
#define FASTLOOP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
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

/* What future.c and task.c use from asyncio. */
typedef struct {
    PyObject *CancelledError;
    PyObject *InvalidStateError;
    PyObject *iscoroutine;          /* asyncio.coroutines.iscoroutine */
    PyObject *iscoroutine_types;    /* a set: types iscoroutine() accepted */
    PyObject *get_event_loop;       /* events.get_event_loop (3.11: _get_event_loop) */
    PyObject *future_repr;          /* base_futures._future_repr */
    PyObject *task_repr;            /* base_tasks._task_repr */
    PyObject *task_get_stack;       /* base_tasks._task_get_stack */
    PyObject *task_print_stack;     /* base_tasks._task_print_stack */
    /* asyncio.tasks._current_tasks, the {loop: task} dict that
     * current_task() reads, or NULL to go through the functions below. */
    PyObject *current_tasks;
    PyObject *enter_task;
    PyObject *leave_task;
    PyObject *swap_current_task;    /* 3.12+ */
    PyObject *register_task;
    /* The weakref.WeakSet behind register_task (tasks._all_tasks on 3.11,
     * _scheduled_tasks on 3.12+) and its parts, to add to it from C; all
     * NULL if it is not a WeakSet as expected (register_task is called). */
    PyObject *registry;
    PyObject *registry_data;        /* its set of weak references and entries */
    PyObject *registry_iterating;   /* non-empty while it is iterated */
    PyObject *registry_pending;     /* removals deferred meanwhile */
    PyObject *register_eager_task;  /* 3.12+ */
    /* 3.12+: asyncio.tasks._eager_tasks, a set that all_tasks() reads.
     * A task whose next step sits in the ready ring of a running loop is
     * kept alive by that loop anyway: it is listed there, strongly and
     * cheaply, until it waits on something else or the loop stops (then
     * it moves to the weak registry).  NULL before 3.12 or if it is not
     * a set. */
    PyObject *ready_tasks;
    PyObject *unregister_eager_task;/* 3.12+ */
    /* interned strings */
    PyObject *str_pending;
    PyObject *str_cancelled;
    PyObject *str_finished;
    PyObject *str_call_soon;
    PyObject *str_get_debug;
    PyObject *str_get_loop;
    PyObject *str_loop;
    PyObject *str_cancel;
    PyObject *str_add_done_callback;
    PyObject *str_blocking;         /* _asyncio_future_blocking */
    PyObject *str_result;
    PyObject *str_throw;
    PyObject *str_is_running;
    PyObject *str_create_task_by_factory;
    PyObject *kw_context;           /* ("context",) */
} fl_asyncio;

typedef struct {
    PyTypeObject *LoopType;
    PyTypeObject *HandleType;
    PyTypeObject *TimerHandleType;
    PyTypeObject *FutureType;
    PyTypeObject *FutureIterType;
    PyTypeObject *TaskType;
    PyTypeObject *RegistryEntryType;

    /* fastloop._helpers, imported on first use: Python code for the rare
     * paths (formatting callbacks, debug-mode checks and warnings). */
    PyObject *helpers;

    /* Stands, as a done-callback's context, for "a new, empty
     * contextvars.Context, made when the callback runs" (see
     * fl_callback_context).  A private object, not a Context: a path that
     * forgot to swap it for a real one fails loudly. */
    PyObject *fresh_context;

    /* names looked up often, interned once */
    PyObject *str_call_exception_handler;
    PyObject *str_message;
    PyObject *str_exception;
    PyObject *str_handle;
    PyObject *str_source_traceback;
    PyObject *str_fileno;

    fl_net_state net;           /* stream sockets: net.h */
    /* future.c and task.c: asyncio's objects and hooks, looked up at
     * module init (see fl_asyncio_init). */
    fl_asyncio asyncio;
    uint64_t task_name_counter;
    /* Loop subclasses known to keep fastloop's own call_soon, so their
     * futures and tasks may queue straight into the ready ring. */
    PyObject *ring_loop_types;      /* a set of types */
    PyTypeObject *last_ring_type;   /* borrowed: the last type found in it */
    PyObject *other_loop_types;     /* a set of types that may not */
} fl_state;

fl_state *fl_get_state(PyObject *module);

/* Counts fork()s in this process's ancestry (incremented in the child).  A
 * loop created before a fork shares its epoll and eventfd with the parent,
 * so the child must neither poll them nor change their interest lists. */
extern volatile unsigned long fl_fork_generation;
fl_state *fl_state_from_type(PyTypeObject *type);
/* The fastloop._core module that defined type or a base of it (borrowed),
 * or NULL with an exception. */
PyObject *fl_module_from_type(PyTypeObject *type);

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
    /* The module whose state `state` points into, held until the loop is
     * freed and not shown to the garbage collector (see Loop_new). */
    PyObject *module;
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
    PyObject *task_factory;     /* _task_factory: set_task_factory()'s; NULL for None */
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

/* A done-callback: fn called with the future, in contextvars.Context ctx.
 * ctx == NULL marks a fastloop Task (fn) waiting on the future: its
 * completion queues the task's next step, with no callable made.
 * ctx == fl_state.fresh_context: the callback was added where no context
 * variable was set, and runs in an empty Context made at that time. */
typedef struct {
    PyObject *fn;
    PyObject *ctx;
} fl_callback;

enum { FUT_PENDING = 0, FUT_CANCELLED = 1, FUT_FINISHED = 2 };

typedef struct {
    PyObject_HEAD
    PyObject *loop;             /* NULL until __init__ ran */
    PyObject *result;
    PyObject *exception;
    PyObject *exception_tb;
    PyObject *cancel_msg;
    PyObject *cancelled_exc;
    PyObject *source_tb;        /* debug mode only */
    PyObject *dict;
    PyObject *weakreflist;
    fl_callback cb0;            /* the first callback, kept inline */
    fl_callback *cbs;           /* the callbacks after cb0 */
    uint32_t ncbs;
    uint32_t cbs_capacity;
    uint8_t state;
    uint8_t log_tb;
    uint8_t blocking;
    uint8_t ring;               /* loop is a fastloop Loop with its own call_soon */
} FutureObject;

typedef struct {
    FutureObject fut;
    PyObject *coro;
    PyObject *context;
    PyObject *name;             /* NULL: "Task-<name_number>", made on demand */
    PyObject *fut_waiter;
    PyObject *registered;       /* our entry in asyncio's task registry (task_registry.c) */
    uint64_t name_number;
    int num_cancels_requested;
    uint8_t must_cancel;
    uint8_t log_destroy_pending;
    uint8_t in_ready_tasks;     /* listed in asyncio's ready_tasks set */
    uint8_t requeued;           /* this step queued the task's next one in the ring */
} TaskObject;

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
/* The same for a call that had no Handle (a ready-ring entry): one is made
 * of callable, args (a tuple) and context for the report. */
int fl_report_call_error(LoopObject *loop, PyObject *callable, PyObject *args, PyObject *context);

/* ---- loop.c ------------------------------------------------------------ */

extern PyType_Spec fl_loop_spec;

double fl_loop_time(void);
/* Called by TimerHandle.cancel() while the timer is in the heap. */
void fl_loop_timer_cancelled(LoopObject *loop, TimerHandleObject *timer);

/* ---- io.c -------------------------------------------------------------- */

/* obj.fileno() as a number, in *fd; 0, or -1 with an error set (asyncio's
 * "Invalid file object" ValueError if obj has no usable fileno()). */
int fl_call_fileno(fl_state *st, PyObject *obj, long *fd);
int fl_io_dispatch(LoopObject *loop, const poller_event *event);
void fl_io_clear(LoopObject *loop);
int fl_io_traverse(LoopObject *loop, visitproc visit, void *arg);
PyObject *fl_loop_add_reader(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_add_writer(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_add_reader_handle(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_ensure_fd_no_transport(LoopObject *self, PyObject *fileobj);
PyObject *fl_loop_add_writer_handle(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *fl_loop_remove_reader(LoopObject *self, PyObject *fileobj);
PyObject *fl_loop_remove_writer(LoopObject *self, PyObject *fileobj);
PyObject *fl_loop_remove_reader_unchecked(LoopObject *self, PyObject *fileobj);
PyObject *fl_loop_remove_writer_unchecked(LoopObject *self, PyObject *fileobj);

/* C owners of fds (transport.h).  attach: RuntimeError if another owner
 * still claims the fd.  set_owner_events: the POLLER_* events the owner
 * wants now; 0, or -1 with OSError.  detach: forget the owner (no-op if
 * it is not the fd's owner any more).  All are no-ops on a closed loop. */
int fl_io_attach(LoopObject *loop, int fd, PyObject *owner);
int fl_io_set_owner_events(LoopObject *loop, int fd, PyObject *owner, unsigned events);
void fl_io_detach(LoopObject *loop, int fd, PyObject *owner);
/* asyncio's _ensure_fd_no_transport: RuntimeError naming fileobj (or the
 * fd number if fileobj is NULL). */
int fl_io_check_no_transport(LoopObject *loop, int fd, PyObject *fileobj);
/* The owner of fd, borrowed; or NULL. */
PyObject *fl_io_owner(LoopObject *loop, int fd);

/* ---- net (stream.c, server.c) ------------------------------------------ */

int fl_net_init(PyObject *module, fl_state *st);
int fl_net_traverse(fl_state *st, visitproc visit, void *arg);
void fl_net_clear(fl_state *st);
/* Run a READY_IO entry: the owner's fd reported events. */
int fl_net_on_event(LoopObject *loop, PyObject *owner, unsigned events);
/* True while the owner refuses add_reader() & co on its fd. */
int fl_net_owner_claims(fl_state *st, PyObject *owner);
/* ---- future.c ---------------------------------------------------------- */

extern PyType_Spec fl_future_spec;
extern PyType_Spec fl_future_iter_spec;

int fl_asyncio_init(fl_state *st);
int fl_asyncio_traverse(fl_state *st, visitproc visit, void *arg);
void fl_asyncio_clear(fl_state *st);

/* The loop a future queues into directly, or NULL when its callbacks must
 * go through loop.call_soon() (a foreign loop, debug mode, a closed loop). */
static inline LoopObject *
fl_future_ring(FutureObject *fut)
{
    LoopObject *loop = (LoopObject *)fut->loop;
    if (!fut->ring || loop->debug || loop->closed) {
        return NULL;
    }
    return loop;
}

/* -1 with asyncio's RuntimeError if the future's __init__ never ran (or
 * failed): tp_alloc'ed objects must not crash. */
static inline int
fl_future_ensure_alive(FutureObject *fut)
{
    if (fut->loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Future object is not initialized.");
        return -1;
    }
    return 0;
}

/* The module state, without walking the type's MRO when the future is on a
 * fastloop loop (the common case: every completion and await). */
static inline fl_state *
fl_future_state(FutureObject *fut)
{
    if (fut->ring) {
        return ((LoopObject *)fut->loop)->state;
    }
    return fl_state_from_type(Py_TYPE(fut));
}

PyObject *fl_future_iter_new(fl_state *st, PyObject *fut);
/* Raise exc (an exception instance) as `raise exc` would: the exception
 * being handled becomes its __context__. */
void fl_raise_exception_object(PyObject *exc);
/* Call loop.call_exception_handler(context); consumes context (a new dict
 * or NULL after a failure to build it).  -1 with an exception set. */
int fl_report_to_loop(PyObject *self, PyObject *loop, PyObject *context);
/* Parse METH_FASTCALL|METH_KEYWORDS arguments into out[0..n): the first
 * npos may come positionally, any by keyword; the first nrequired are
 * required.  Absent ones are left NULL. */
int fl_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                  const char *const *names, int n, int npos, int nrequired, PyObject **out);

int fl_future_init(FutureObject *fut, PyObject *loop);
int fl_future_set_result(FutureObject *fut, PyObject *result);
int fl_future_set_exception(FutureObject *fut, PyObject *exc);
/* Returns 1 if it changed the future's state, 0 if it was done, -1 on error. */
int fl_future_cancel(FutureObject *fut, PyObject *msg);
/* Steals nothing.  ctx NULL: fn is a Task to wake up. */
int fl_future_add_callback(FutureObject *fut, PyObject *fn, PyObject *ctx);
/* 0: *result is the result; 1: *result is the exception to raise;
 * -1: an exception is set (cancelled, or not done). */
int fl_future_get_result(FutureObject *fut, PyObject **result);
PyObject *fl_future_make_cancelled_error(FutureObject *fut);
int fl_future_traverse(FutureObject *fut, visitproc visit, void *arg);
int fl_future_clear(FutureObject *fut);
void fl_future_finalize(PyObject *self);
/* The Context a done-callback runs in: a new reference to ctx, or to a new
 * empty Context if ctx is fl_state.fresh_context. */
PyObject *fl_callback_context(fl_state *st, PyObject *ctx);
/* loop.call_soon(fn, arg, context=ctx); arg may be NULL. */
int fl_call_soon(fl_state *st, PyObject *loop, PyObject *fn, PyObject *arg, PyObject *ctx);
/* Whether futures on this loop may use its ready ring directly. */
int fl_loop_uses_ring(fl_state *st, PyObject *loop);

PyObject *fl_loop_create_future(LoopObject *self, PyObject *ignored);

/* ---- task.c ------------------------------------------------------------ */

extern PyType_Spec fl_task_spec;

PyObject *fl_loop_create_task(LoopObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);

/* Run a READY_TASK_STEP entry (a: task, b: exception or NULL, c: the
 * future that woke the task, or NULL). Same contract as fl_handle_run. */
int fl_task_run_entry(LoopObject *loop, ready_entry *e);
/* The loop stopped running, or its ready ring is about to be dropped
 * (close, dealloc): tasks listed in asyncio's ready_tasks set because a
 * step of theirs is in the ring move to the weak registry. */
void fl_task_unlist_ring(LoopObject *loop);
/* Queue the task's wake-up by the done future fut (fut's callback). */
int fl_task_wakeup_soon(fl_state *st, PyObject *task, PyObject *fut);

/* ---- task_registry.c --------------------------------------------------- */

extern PyType_Spec fl_registry_entry_spec;

/* List the task in asyncio's task registry, so all_tasks() sees it. */
int fl_registry_add(fl_state *st, TaskObject *task);
/* Take the task's entry out of the registry (it finished, or is going). */
void fl_registry_remove(TaskObject *task);

/* ---- small shared tests ------------------------------------------------ */

/* The exception set is one that must stop the loop (asyncio lets
 * KeyboardInterrupt and SystemExit out of run_forever). */
static inline int
fl_error_stops_loop(void)
{
    return PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)
           || PyErr_ExceptionMatches(PyExc_SystemExit);
}

/* hook(arg) for its effect: 0, or -1 with an exception set. */
static inline int
fl_call_hook(PyObject *hook, PyObject *arg)
{
    PyObject *r = PyObject_CallOneArg(hook, arg);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* errno of a non-blocking socket call that is to be retried later. */
static inline int
fl_would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* ---- compat.c ---------------------------------------------------------- */

/* The exception currently set, normalized, with its traceback attached;
 * clears it.  Never NULL when an exception was set. */
PyObject *fl_fetch_exception(void);
void fl_restore_exception(PyObject *exc);
/* A boolean attribute's new value (a setter's argument): 0 or 1, or -1
 * with an error set (AttributeError if it is being deleted). */
int fl_attribute_truth(PyObject *value);

#endif
