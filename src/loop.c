/* The Loop type: scheduling (call_soon, call_later, call_at), one iteration
 * of the loop, run/stop/close, and debug mode.  fastloop._loop.Loop adds the
 * Python-level parts (run_until_complete, executors, the exception handler,
 * async generator hooks) on top of this type.
 *
 * One iteration (loop_run_once) reads as asyncio's _run_once:
 *   1. work out how long poller_wait may block;
 *   2. poll for I/O and queue the callbacks of ready fds;
 *   3. queue the timers that are due;
 *   4. run the callbacks that were queued when this step began, and no more.
 */
#include "fastloop.h"

#include <errno.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

/* asyncio's MAXIMUM_SELECT_TIMEOUT: never block longer than a day. */
#define MAX_POLL_TIMEOUT_SECONDS (24.0 * 3600.0)
#define POLL_BATCH 256
/* time.get_clock_info('monotonic').resolution on Linux. */
#define CLOCK_RESOLUTION 1e-9

#define TIMER_OF(n) ((TimerHandleObject *)((char *)(n) - offsetof(TimerHandleObject, node)))

double
fl_loop_time(void)
{
    /* The clock of time.monotonic(), read without a Python call. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
check_closed(LoopObject *self)
{
    if (self->closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

/* Debug mode only: asyncio's _check_thread and _check_callback. */
static int
debug_checks(LoopObject *self, PyObject *callback, const char *method, int check_thread)
{
    if (check_thread && self->running && PyThread_get_thread_ident() != self->thread_id) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Non-thread-safe operation invoked on an event loop "
                        "other than the current one");
        return -1;
    }
    PyObject *name = PyUnicode_FromString(method);
    if (name == NULL) {
        return -1;
    }
    PyObject *args[2] = {callback, name};
    PyObject *r = fl_call_helper(self->state, "check_callback", args, 2);
    Py_DECREF(name);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* ---- argument handling ------------------------------------------------- */

/* Pick the only keyword these methods take, context=.  *context stays
 * NULL when it is not given. */
static int
parse_context_kwarg(PyObject *const *kwvalues, PyObject *kwnames,
                    PyObject **context, const char *method)
{
    *context = NULL;
    if (kwnames == NULL) {
        return 0;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(key, "context") != 0) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got an unexpected keyword argument '%U'", method, key);
            return -1;
        }
        *context = kwvalues[i];
    }
    return 0;
}

static PyObject *
tuple_from_array(PyObject *const *items, Py_ssize_t n)
{
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(t, i, Py_NewRef(items[i]));
    }
    return t;
}

/* ---- scheduling -------------------------------------------------------- */

static int
push_handle(LoopObject *self, HandleObject *h)
{
    ready_entry e = {(PyObject *)h, NULL, NULL, READY_HANDLE};
    if (ready_push(&self->ready, e) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(h);
    return 0;
}

/* call_soon and call_soon_threadsafe: (callback, *args, context=None). */
static HandleObject *
schedule_soon(LoopObject *self, PyObject *const *args, Py_ssize_t nargs,
              PyObject *kwnames, const char *method, int check_thread)
{
    PyObject *context;
    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "%s() missing 1 required positional argument: 'callback'",
                     method);
        return NULL;
    }
    if (parse_context_kwarg(args + nargs, kwnames, &context, method) < 0
            || check_closed(self) < 0) {
        return NULL;
    }
    if (self->debug && debug_checks(self, args[0], method, check_thread) < 0) {
        return NULL;
    }
    PyObject *cb_args = tuple_from_array(args + 1, nargs - 1);
    if (cb_args == NULL) {
        return NULL;
    }
    HandleObject *h = fl_handle_new(self, self->state->HandleType, args[0], cb_args, context);
    Py_DECREF(cb_args);
    if (h == NULL) {
        return NULL;
    }
    if (push_handle(self, h) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    return h;
}

static PyObject *
Loop_call_soon(LoopObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return (PyObject *)schedule_soon(self, args, nargs, kwnames, "call_soon", 1);
}

static PyObject *
Loop_call_soon_threadsafe(LoopObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    HandleObject *h = schedule_soon(self, args, nargs, kwnames, "call_soon_threadsafe", 0);
    if (h == NULL) {
        return NULL;
    }
    /* We hold the GIL, so the loop is either running Python code (it will
     * see the new entry before it next blocks) or has set `polling` and is
     * blocked in poller_wait without the GIL: only then is a write needed,
     * and one write is enough until the loop drains it. */
    if (self->polling && !self->wakeup_pending) {
        self->wakeup_pending = 1;
        int err = wakeup_signal(&self->wakeup);
        if (err < 0) {
            self->wakeup_pending = 0;
            errno = -err;
            PyErr_SetFromErrno(PyExc_OSError);
            Py_DECREF(h);
            return NULL;
        }
    }
    return (PyObject *)h;
}

static PyObject *
schedule_timer(LoopObject *self, double when, PyObject *when_obj, PyObject *const *args,
               Py_ssize_t nargs, PyObject *context)
{
    PyObject *cb_args = tuple_from_array(args + 1, nargs - 1);
    if (cb_args == NULL) {
        return NULL;
    }
    TimerHandleObject *t = (TimerHandleObject *)fl_handle_new(
        self, self->state->TimerHandleType, args[0], cb_args, context);
    Py_DECREF(cb_args);
    if (t == NULL) {
        return NULL;
    }
    t->when = when;
    t->when_obj = Py_XNewRef(when_obj);
    /* asyncio runs a timer whose deadline is NaN on the next iteration;
     * ordering it first keeps the heap a total order. */
    t->node.deadline = isnan(when) ? -INFINITY : when;
    t->node.sequence = self->timer_sequence++;
    if (heap_push(&self->timers, &t->node) < 0) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    Py_INCREF(t);   /* the heap's reference */
    return (PyObject *)t;
}

static int
timer_prologue(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               PyObject **context, const char *method, const char *first)
{
    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "%s() missing %d required positional argument%s: %s",
                     method, (int)(2 - nargs), nargs == 0 ? "s" : "",
                     nargs == 0 ? first : "'callback'");
        return -1;
    }
    if (parse_context_kwarg(args + nargs, kwnames, context, method) < 0) {
        return -1;
    }
    return 0;
}

static PyObject *
Loop_call_later(LoopObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *context;
    if (timer_prologue(args, nargs, kwnames, &context, "call_later",
                       "'delay' and 'callback'") < 0) {
        return NULL;
    }
    PyObject *delay = args[0];
    if (delay == Py_None) {
        PyErr_SetString(PyExc_TypeError, "delay must not be None");
        return NULL;
    }
    double now = fl_loop_time(), when;
    if (PyFloat_CheckExact(delay)) {
        when = now + PyFloat_AS_DOUBLE(delay);
    }
    else {
        /* Anything asyncio accepts is what `loop.time() + delay` accepts,
         * and fails with the same TypeError. */
        PyObject *now_obj = PyFloat_FromDouble(now);
        if (now_obj == NULL) {
            return NULL;
        }
        PyObject *sum = PyNumber_Add(now_obj, delay);
        Py_DECREF(now_obj);
        if (sum == NULL) {
            return NULL;
        }
        when = PyFloat_AsDouble(sum);
        Py_DECREF(sum);
        if (when == -1.0 && PyErr_Occurred()) {
            return NULL;
        }
    }
    /* asyncio's call_later() is call_at(loop.time() + delay): a bad delay
     * is reported before a closed loop, and debug messages name call_at. */
    if (check_closed(self) < 0
            || (self->debug && debug_checks(self, args[1], "call_at", 1) < 0)) {
        return NULL;
    }
    PyObject *timer = schedule_timer(self, when, NULL, args + 1, nargs - 1, context);
    PyObject *tb = timer ? ((HandleObject *)timer)->source_traceback : NULL;
    if (tb != NULL) {
        PyObject *r = fl_call_helper(self->state, "trim_call_later_stack", &tb, 1);
        if (r == NULL) {
            /* The timer is in the heap already: cancel it, it was never
             * handed to the caller. */
            PyObject *exc = fl_fetch_exception();
            PyObject *c = PyObject_CallMethod(timer, "cancel", NULL);
            if (c == NULL) {
                PyErr_Clear();
            }
            Py_XDECREF(c);
            fl_restore_exception(exc);
            Py_DECREF(timer);
            return NULL;
        }
        Py_DECREF(r);
    }
    return timer;
}

static PyObject *
Loop_call_at(LoopObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *context;
    if (timer_prologue(args, nargs, kwnames, &context, "call_at",
                       "'when' and 'callback'") < 0) {
        return NULL;
    }
    PyObject *when_obj = args[0];
    if (when_obj == Py_None) {
        PyErr_SetString(PyExc_TypeError, "when cannot be None");
        return NULL;
    }
    if (check_closed(self) < 0
            || (self->debug && debug_checks(self, args[1], "call_at", 1) < 0)) {
        return NULL;
    }
    double when = PyFloat_AsDouble(when_obj);
    if (when == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    return schedule_timer(self, when, PyFloat_CheckExact(when_obj) ? NULL : when_obj,
                          args + 1, nargs - 1, context);
}

void
fl_loop_timer_cancelled(LoopObject *loop, TimerHandleObject *timer)
{
    heap_remove(&loop->timers, &timer->node);
    heap_shrink(&loop->timers);
    /* The caller, TimerHandle.cancel(), holds a reference to the timer, so
     * this cannot be the last one. */
    Py_DECREF(timer);
}

static PyObject *
Loop_time(LoopObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyFloat_FromDouble(fl_loop_time());
}

/* ---- one iteration ----------------------------------------------------- */

static int
poll_timeout_ms(LoopObject *self)
{
    if (ready_length(&self->ready) || self->stopping) {
        return 0;
    }
    heap_node *top = heap_top(&self->timers);
    if (top == NULL) {
        return -1;
    }
    double timeout = top->deadline - fl_loop_time();
    if (!(timeout > 0)) {
        return 0;
    }
    if (timeout > MAX_POLL_TIMEOUT_SECONDS) {
        timeout = MAX_POLL_TIMEOUT_SECONDS;
    }
    /* Round up: waking a little early would only spin until the deadline. */
    return (int)ceil(timeout * 1e3);
}

static int
poll_io(LoopObject *self, int timeout_ms)
{
    /* Nothing registered can report, and we are not to block: skip the
     * system call.  The wake-up fd needs no poll here: other threads queue
     * straight into the ready ring, and it is drained when we next block. */
    if (timeout_ms == 0 && self->watched_fds == 0) {
        return 0;
    }
    poller_event events[POLL_BATCH];
    int n;
    if (timeout_ms == 0) {
        n = poller_wait(&self->poller, events, POLL_BATCH, 0);
    }
    else {
        /* A signal that arrived since the last bytecode ran must not wait
         * for the next wake-up to be handled. */
        if (PyErr_CheckSignals() < 0) {
            return -1;
        }
        self->polling = 1;
        Py_BEGIN_ALLOW_THREADS
        n = poller_wait(&self->poller, events, POLL_BATCH, timeout_ms);
        Py_END_ALLOW_THREADS
        self->polling = 0;
    }
    if (n == -EINTR) {
        /* Run Python-level signal handlers now; KeyboardInterrupt from the
         * default SIGINT handler leaves the loop here. */
        return PyErr_CheckSignals();
    }
    if (n < 0) {
        errno = -n;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (events[i].fd == self->wakeup.fd) {
            wakeup_drain(&self->wakeup);
            self->wakeup_pending = 0;
            continue;
        }
        if (fl_io_dispatch(self, &events[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

static void
queue_due_timers(LoopObject *self)
{
    heap_node *top = heap_top(&self->timers);
    if (top == NULL) {
        return;
    }
    double end_time = fl_loop_time() + CLOCK_RESOLUTION;
    while (top != NULL && top->deadline < end_time) {
        heap_remove(&self->timers, top);
        /* The heap's reference moves to the ready ring.  If the push fails
         * the timer goes back in the heap and fires next iteration. */
        ready_entry e = {(PyObject *)TIMER_OF(top), NULL, NULL, READY_HANDLE};
        if (ready_push(&self->ready, e) < 0) {
            (void)heap_push(&self->timers, top);
            return;
        }
        top = heap_top(&self->timers);
    }
    heap_shrink(&self->timers);
}

static int
run_debug(LoopObject *self, HandleObject *h)
{
    Py_XSETREF(self->current_handle, Py_NewRef((PyObject *)h));
    double t0 = fl_loop_time();
    int status = fl_handle_run(h);
    double dt = fl_loop_time() - t0;
    Py_CLEAR(self->current_handle);
    if (status == 0 && dt >= self->slow_callback_duration) {
        PyObject *dt_obj = PyFloat_FromDouble(dt);
        if (dt_obj == NULL) {
            return -1;
        }
        PyObject *args[2] = {(PyObject *)h, dt_obj};
        PyObject *r = fl_call_helper(self->state, "warn_slow_callback", args, 2);
        Py_DECREF(dt_obj);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    return status;
}

/* A (callable, argument, context) entry: a future's done-callback. */
static int
run_callback_entry(LoopObject *self, ready_entry *e)
{
    if (e->c == self->state->fresh_context) {
        /* The callback's context is made now (see fl_callback): swap it in
         * for the error report too. */
        PyObject *ctx = fl_callback_context(self->state, e->c);
        if (ctx == NULL) {
            return -1;
        }
        Py_SETREF(e->c, ctx);
    }
    PyObject *result = NULL;
    if (PyContext_Enter(e->c) == 0) {
        result = PyObject_Vectorcall(e->a, &e->b, 1, NULL);
        if (PyContext_Exit(e->c) < 0) {
            Py_CLEAR(result);
        }
    }
    if (result == NULL) {
        PyObject *args = PyTuple_Pack(1, e->b);
        int status = args ? fl_report_call_error(self, e->a, args, e->c) : -1;
        Py_XDECREF(args);
        return status;
    }
    Py_DECREF(result);
    return 0;
}

static int
run_entry(LoopObject *self, ready_entry *e)
{
    switch (e->kind) {
    case READY_HANDLE:
        /* A handle cancelled after it was queued is skipped before any
         * debug bookkeeping, so it is never reported as slow. */
        if (self->debug && !((HandleObject *)e->a)->cancelled) {
            return run_debug(self, (HandleObject *)e->a);
        }
        return fl_handle_run((HandleObject *)e->a);
    case READY_CALLBACK:
        return run_callback_entry(self, e);
    case READY_IO:
        return fl_net_on_event(self, e->a, (unsigned)PyLong_AsLong(e->b));
    case READY_TASK_STEP:
        return fl_task_run_entry(self, e);
    default:
        PyErr_Format(PyExc_SystemError, "fastloop: unknown ready entry kind %d", e->kind);
        return -1;
    }
}

static int
run_ready(LoopObject *self)
{
    /* Only what was queued before this step runs now; callbacks queued by
     * these callbacks wait for the next iteration, after the next poll. */
    size_t ntodo = ready_length(&self->ready);
    while (ntodo-- && ready_length(&self->ready)) {
        ready_entry e;
        ready_pop(&self->ready, &e);
        int status = run_entry(self, &e);
        ready_entry_clear(&e);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

static int
loop_run_once(LoopObject *self)
{
    if (poll_io(self, poll_timeout_ms(self)) < 0) {
        return -1;
    }
    queue_due_timers(self);
    return run_ready(self);
}

/* ---- run, stop, close -------------------------------------------------- */

static int
check_runnable(LoopObject *self)
{
    if (check_closed(self) < 0) {
        return -1;
    }
    if (self->running) {
        PyErr_SetString(PyExc_RuntimeError, "This event loop is already running");
        return -1;
    }
    if (fl_loop_forked(self)) {
        /* The epoll fd and the eventfd are shared with the parent: polling
         * them here would steal the parent's events. */
        PyErr_SetString(PyExc_RuntimeError,
                        "this event loop was created in another process "
                        "(before fork()); create a new loop in the child");
        return -1;
    }
    return 0;
}

/* _run(): iterate until stop().  The Python run_forever() does the set-up
 * around it (running-loop registration, async generator hooks). */
static PyObject *
Loop_run(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    if (check_runnable(self) < 0) {
        return NULL;
    }
    self->running = 1;
    self->thread_id = PyThread_get_thread_ident();
    int status = 0;
    for (;;) {
        status = loop_run_once(self);
        if (status < 0 || self->stopping) {
            break;
        }
    }
    self->stopping = 0;
    self->running = 0;
    self->thread_id = 0;
    fl_task_unlist_ring(self);
    if (status < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Loop_run_once(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    if (check_closed(self) < 0) {
        return NULL;
    }
    if (fl_loop_forked(self)) {
        /* Sets the "created in another process" error. */
        (void)check_runnable(self);
        return NULL;
    }
    if (loop_run_once(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Loop_stop(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    self->stopping = 1;
    Py_RETURN_NONE;
}

static PyObject *
Loop_is_running(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->running);
}

static PyObject *
Loop_is_closed(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->closed);
}

static void
clear_timers(LoopObject *self)
{
    heap_node *top;
    while ((top = heap_top(&self->timers)) != NULL) {
        heap_remove(&self->timers, top);
        Py_DECREF(TIMER_OF(top));
    }
}

static void
release_resources(LoopObject *self)
{
    if (self->state != NULL) {     /* NULL: Loop_new failed before it was set */
        fl_task_unlist_ring(self);
    }
    ready_clear(&self->ready);
    clear_timers(self);
    fl_io_clear(self);
    Py_CLEAR(self->current_handle);
}

/* _close(): the C half of close(); the Python close() refuses a running
 * loop and shuts the default executor down. */
static PyObject *
Loop_close_core(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->running) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot close a running event loop");
        return NULL;
    }
    if (self->closed) {
        Py_RETURN_NONE;
    }
    self->closed = 1;
    release_resources(self);
    heap_free(&self->timers);
    free(self->watches);
    self->watches = NULL;
    self->watches_capacity = 0;
    poller_close(&self->poller);
    wakeup_close(&self->wakeup);
    Py_RETURN_NONE;
}

static PyObject *
Loop_get_debug(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->debug);
}

static PyObject *
Loop_set_debug(LoopObject *self, PyObject *enabled)
{
    int flag = PyObject_IsTrue(enabled);
    if (flag < 0) {
        return NULL;
    }
    self->debug = (char)flag;
    Py_RETURN_NONE;
}

static PyObject *
Loop_timer_handle_cancelled(LoopObject *Py_UNUSED(self), PyObject *Py_UNUSED(handle))
{
    /* asyncio's hook for its lazily deleted timers.  fastloop's timers
     * leave the heap in TimerHandle.cancel() itself. */
    Py_RETURN_NONE;
}

/* ---- attributes -------------------------------------------------------- */

static PyObject *
Loop_get_thread_id(LoopObject *self, void *Py_UNUSED(closure))
{
    if (!self->running) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLong(self->thread_id);
}

static PyObject *
Loop_get_stopping(LoopObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->stopping);
}

static PyObject *
Loop_get_current_handle(LoopObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->current_handle ? self->current_handle : Py_None);
}

/* _task_factory is a slot, not an instance attribute: create_task() reads
 * it on every call. */
static PyObject *
Loop_get_task_factory(LoopObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->task_factory ? self->task_factory : Py_None);
}

static int
Loop_set_task_factory(LoopObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    Py_XSETREF(self->task_factory, value == Py_None ? NULL : Py_XNewRef(value));
    return 0;
}

static PyObject *
Loop_get_clock_resolution(LoopObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(CLOCK_RESOLUTION);
}

static PyObject *
Loop_get_ready_count(LoopObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSize_t(ready_length(&self->ready));
}

static PyObject *
Loop_get_timer_count(LoopObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSize_t(self->timers.length);
}

/* ---- type -------------------------------------------------------------- */

static PyObject *
Loop_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwds))
{
    LoopObject *self = (LoopObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    /* Before anything can fail: Loop_dealloc closes these fds. */
    self->poller.backend_fd = -1;
    self->wakeup.fd = -1;
    ready_init(&self->ready);
    heap_init(&self->timers);
    /* The loop reaches the module's state through a pointer until it is
     * freed, and freeing it runs code that uses the state (releasing queued
     * task steps, timers and watched fds).  Its type's reference to the
     * module is no guarantee: when a loop, its class and the module end up
     * in one garbage cycle (interpreter shutdown after a KeyboardInterrupt
     * left a task step queued, say), the collector clears the class's module
     * reference and may free the module before the loop.  So the loop holds
     * the module itself, and does not report that reference to the
     * collector, which therefore never frees the module while a loop
     * exists. */
    PyObject *module = fl_module_from_type(type);
    if (module == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->module = Py_NewRef(module);
    self->state = fl_get_state(module);
    self->slow_callback_duration = 0.1;
    self->fork_generation = fl_fork_generation;
    int err = poller_open(&self->poller);
    if (err == 0) {
        err = wakeup_open(&self->wakeup);
    }
    if (err == 0) {
        err = poller_change(&self->poller, self->wakeup.fd, 0, POLLER_READABLE);
    }
    if (err < 0) {
        errno = -err;
        PyErr_SetFromErrno(PyExc_OSError);
        self->closed = 1;
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
Loop_traverse(LoopObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    for (size_t i = 0; i < ready_length(&self->ready); i++) {
        const ready_entry *e = ready_peek(&self->ready, i);
        Py_VISIT(e->a);
        Py_VISIT(e->b);
        Py_VISIT(e->c);
    }
    for (size_t i = 0; i < self->timers.length; i++) {
        Py_VISIT((PyObject *)TIMER_OF(self->timers.nodes[i]));
    }
    Py_VISIT(self->current_handle);
    Py_VISIT(self->task_factory);
    return fl_io_traverse(self, visit, arg);
}

static int
Loop_clear(LoopObject *self)
{
    release_resources(self);
    Py_CLEAR(self->task_factory);
    return 0;
}

static void
Loop_dealloc(LoopObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    release_resources(self);
    Py_CLEAR(self->task_factory);
    ready_free(&self->ready);
    heap_free(&self->timers);
    free(self->watches);
    poller_close(&self->poller);
    wakeup_close(&self->wakeup);
    PyObject *module = self->module;
    tp->tp_free(self);
    Py_DECREF(tp);
    Py_XDECREF(module);
}

#define FASTCALL_KW (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef Loop_methods[] = {
    {"call_soon", (PyCFunction)(void (*)(void))Loop_call_soon, FASTCALL_KW,
     "call_soon(callback, *args, context=None): run callback on the next iteration."},
    {"call_soon_threadsafe", (PyCFunction)(void (*)(void))Loop_call_soon_threadsafe, FASTCALL_KW,
     "Like call_soon(), but safe to call from another thread."},
    {"call_later", (PyCFunction)(void (*)(void))Loop_call_later, FASTCALL_KW,
     "call_later(delay, callback, *args, context=None): run callback after delay seconds."},
    {"call_at", (PyCFunction)(void (*)(void))Loop_call_at, FASTCALL_KW,
     "call_at(when, callback, *args, context=None): run callback at loop.time() == when."},
    {"time", (PyCFunction)Loop_time, METH_NOARGS,
     "Return the loop's time, on the time.monotonic() clock."},
    {"add_reader", (PyCFunction)(void (*)(void))fl_loop_add_reader, METH_FASTCALL,
     "add_reader(fd, callback, *args): call callback when fd is readable."},
    {"add_writer", (PyCFunction)(void (*)(void))fl_loop_add_writer, METH_FASTCALL,
     "add_writer(fd, callback, *args): call callback when fd is writable."},
    {"_add_reader", (PyCFunction)(void (*)(void))fl_loop_add_reader_handle, METH_FASTCALL,
     "add_reader() that returns the Handle."},
    {"_add_writer", (PyCFunction)(void (*)(void))fl_loop_add_writer_handle, METH_FASTCALL,
     "add_writer() that returns the Handle."},
    {"_ensure_fd_no_transport", (PyCFunction)fl_loop_ensure_fd_no_transport, METH_O,
     "RuntimeError if a transport of this loop uses the fd."},
    {"remove_reader", (PyCFunction)fl_loop_remove_reader, METH_O,
     "Stop watching fd for reading; return True if it was watched."},
    {"remove_writer", (PyCFunction)fl_loop_remove_writer, METH_O,
     "Stop watching fd for writing; return True if it was watched."},
    {"_remove_reader", (PyCFunction)fl_loop_remove_reader_unchecked, METH_O,
     "remove_reader() without the check that no transport owns fd."},
    {"_remove_writer", (PyCFunction)fl_loop_remove_writer_unchecked, METH_O,
     "remove_writer() without the check that no transport owns fd."},
    {"_run", (PyCFunction)Loop_run, METH_NOARGS, "Run iterations until stop()."},
    {"_run_once", (PyCFunction)Loop_run_once, METH_NOARGS, "Run one iteration."},
    {"_close", (PyCFunction)Loop_close_core, METH_NOARGS,
     "Release the ready queue, timers, watched fds and the poller."},
    {"stop", (PyCFunction)Loop_stop, METH_NOARGS,
     "Stop the loop after the current iteration."},
    {"is_running", (PyCFunction)Loop_is_running, METH_NOARGS, NULL},
    {"is_closed", (PyCFunction)Loop_is_closed, METH_NOARGS, NULL},
    {"get_debug", (PyCFunction)Loop_get_debug, METH_NOARGS, NULL},
    {"set_debug", (PyCFunction)Loop_set_debug, METH_O, NULL},
    {"_timer_handle_cancelled", (PyCFunction)Loop_timer_handle_cancelled, METH_O, NULL},
    {"create_future", (PyCFunction)fl_loop_create_future, METH_NOARGS,
     "Return a new fastloop.Future attached to this loop."},
    {"create_task", (PyCFunction)(void (*)(void))fl_loop_create_task, FASTCALL_KW,
     "create_task(coro, *, name=None, context=None): schedule coro in a new Task "
     "(fastloop.Task, or what the task factory makes)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Loop_getset[] = {
    {"_thread_id", (getter)Loop_get_thread_id, NULL, NULL, NULL},
    {"_stopping", (getter)Loop_get_stopping, NULL, NULL, NULL},
    {"_current_handle", (getter)Loop_get_current_handle, NULL, NULL, NULL},
    {"_task_factory", (getter)Loop_get_task_factory, (setter)Loop_set_task_factory,
     "The task factory set_task_factory() set, or None.", NULL},
    {"_clock_resolution", (getter)Loop_get_clock_resolution, NULL, NULL, NULL},
    {"_ready_count", (getter)Loop_get_ready_count, NULL, "Entries in the ready queue.", NULL},
    {"_timer_count", (getter)Loop_get_timer_count, NULL, "Timers in the heap.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Loop_members[] = {
    {"slow_callback_duration", FL_T_DOUBLE, offsetof(LoopObject, slow_callback_duration), 0,
     "In debug mode, callbacks that take longer than this (seconds) are logged."},
    {"__weaklistoffset__", FL_T_PYSSIZET, offsetof(LoopObject, weakreflist), FL_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Loop_slots[] = {
    {Py_tp_doc, "The C core of fastloop's event loop; use fastloop.Loop."},
    {Py_tp_new, Loop_new},
    {Py_tp_methods, Loop_methods},
    {Py_tp_getset, Loop_getset},
    {Py_tp_members, Loop_members},
    {Py_tp_traverse, Loop_traverse},
    {Py_tp_clear, Loop_clear},
    {Py_tp_dealloc, Loop_dealloc},
    {0, NULL},
};

PyType_Spec fl_loop_spec = {
    .name = "fastloop._core.Loop",
    .basicsize = sizeof(LoopObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = Loop_slots,
};
