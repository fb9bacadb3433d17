/* fastloop.Future: asyncio.Future in C, and its await iterator.
 *
 * Same API, messages and repr as asyncio's Future (the C one, which is what
 * asyncio.Future is by default).  What differs is where done-callbacks go:
 * on a fastloop loop they are queued straight into the loop's ready ring as
 * (callable, future, context) entries, and a fastloop Task waiting on the
 * future is stored as a tagged entry (the task itself, no context) whose
 * completion queues the task's next step, so neither a Handle nor a bound
 * method is made.  On any other loop, or in debug mode (where asyncio's
 * Handles carry the source tracebacks and slow-callback reports), callbacks
 * go through loop.call_soon() as asyncio's do.
 *
 * Callbacks are kept without a Python list: the first one inline, the rest
 * in a C array.  Any call out (call_soon on a foreign loop, __eq__ in
 * remove_done_callback, a context copy) may re-enter and change them, so the
 * code below moves what it works on into locals first.
 */
#include "fastloop.h"

#define FUT(o) ((FutureObject *)(o))

/* ---- argument parsing -------------------------------------------------- */

int
fl_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
              const char *const *names, int n, int npos, int nrequired, PyObject **out)
{
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
    }
    if (nargs > npos) {
        if (npos == 0) {
            PyErr_Format(PyExc_TypeError, "%s() takes no positional arguments", fname);
        }
        else {
            PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional argument%s (%zd given)",
                         fname, npos, npos == 1 ? "" : "s", nargs);
        }
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        out[i] = args[i];
    }
    if (kwnames != NULL) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nkw; k++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, k);
            int found = -1;
            for (int i = 0; i < n; i++) {
                if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0) {
                    found = i;
                    break;
                }
            }
            if (found < 0) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                             fname, key);
                return -1;
            }
            if (out[found] != NULL) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                             fname, names[found]);
                return -1;
            }
            out[found] = args[nargs + k];
        }
    }
    for (int i = 0; i < nrequired; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)",
                         fname, names[i], i + 1);
            return -1;
        }
    }
    return 0;
}

/* ---- asyncio objects --------------------------------------------------- */

static PyObject *
import_attr(const char *module, const char *name, int optional)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (mod == NULL) {
        return NULL;
    }
    PyObject *attr = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    if (attr == NULL && optional && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return attr;
}

/* Take the parts of asyncio's task registry, a weakref.WeakSet, that
 * adding to it needs (see task_registry.c).  Anything unexpected
 * and they stay NULL: tasks then register through _register_task. */
static int
registry_parts(fl_asyncio *a)
{
    PyObject *weakset = import_attr("weakref", "WeakSet", 0);
    if (weakset == NULL) {
        return -1;
    }
    int is_weakset = Py_IS_TYPE(a->registry, (PyTypeObject *)weakset);
    Py_DECREF(weakset);
    if (is_weakset) {
        a->registry_data = PyObject_GetAttrString(a->registry, "data");
        a->registry_iterating = PyObject_GetAttrString(a->registry, "_iterating");
        a->registry_pending = PyObject_GetAttrString(a->registry, "_pending_removals");
    }
    if (!is_weakset || a->registry_data == NULL || !PySet_CheckExact(a->registry_data)
            || a->registry_iterating == NULL || !PySet_CheckExact(a->registry_iterating)
            || a->registry_pending == NULL || !PyList_CheckExact(a->registry_pending)) {
        PyErr_Clear();
        Py_CLEAR(a->registry_data);
        Py_CLEAR(a->registry_iterating);
        Py_CLEAR(a->registry_pending);
    }
    return 0;
}

int
fl_asyncio_init(fl_state *st)
{
    fl_asyncio *a = &st->asyncio;
#define IMPORT(field, module, name) \
    if ((a->field = import_attr(module, name, 0)) == NULL) return -1
#define IMPORT_OPTIONAL(field, module, name) \
    if ((a->field = import_attr(module, name, 1)) == NULL && PyErr_Occurred()) return -1
#define INTERN(field, text) \
    if ((a->field = PyUnicode_InternFromString(text)) == NULL) return -1

    IMPORT(CancelledError, "asyncio.exceptions", "CancelledError");
    IMPORT(InvalidStateError, "asyncio.exceptions", "InvalidStateError");
    IMPORT(iscoroutine, "asyncio.coroutines", "iscoroutine");
#if PY_VERSION_HEX >= 0x030C0000
    IMPORT(get_event_loop, "asyncio.events", "get_event_loop");
#else
    IMPORT(get_event_loop, "asyncio.events", "_get_event_loop");
#endif
    IMPORT(future_repr, "asyncio.base_futures", "_future_repr");
    IMPORT(task_repr, "asyncio.base_tasks", "_task_repr");
    IMPORT(task_get_stack, "asyncio.base_tasks", "_task_get_stack");
    IMPORT(task_print_stack, "asyncio.base_tasks", "_task_print_stack");
    IMPORT(enter_task, "asyncio.tasks", "_enter_task");
    IMPORT(leave_task, "asyncio.tasks", "_leave_task");
    IMPORT(register_task, "asyncio.tasks", "_register_task");
    IMPORT_OPTIONAL(swap_current_task, "asyncio.tasks", "_swap_current_task");
    IMPORT_OPTIONAL(register_eager_task, "asyncio.tasks", "_register_eager_task");
    IMPORT_OPTIONAL(unregister_eager_task, "asyncio.tasks", "_unregister_eager_task");
    IMPORT_OPTIONAL(current_tasks, "asyncio.tasks", "_current_tasks");
    if (a->current_tasks != NULL && !PyDict_CheckExact(a->current_tasks)) {
        /* Not the {loop: task} dict of 3.11-3.13: use the functions. */
        Py_CLEAR(a->current_tasks);
    }
#if PY_VERSION_HEX >= 0x030C0000
    IMPORT_OPTIONAL(registry, "asyncio.tasks", "_scheduled_tasks");
#else
    IMPORT_OPTIONAL(registry, "asyncio.tasks", "_all_tasks");
#endif
    if (a->registry != NULL && registry_parts(a) < 0) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    IMPORT_OPTIONAL(ready_tasks, "asyncio.tasks", "_eager_tasks");
    if (a->ready_tasks != NULL && (!PySet_CheckExact(a->ready_tasks) || a->registry_data == NULL)) {
        Py_CLEAR(a->ready_tasks);
    }
#endif
    if ((a->iscoroutine_types = PySet_New(NULL)) == NULL) {
        return -1;
    }
    INTERN(str_pending, "PENDING");
    INTERN(str_cancelled, "CANCELLED");
    INTERN(str_finished, "FINISHED");
    INTERN(str_call_soon, "call_soon");
    INTERN(str_get_debug, "get_debug");
    INTERN(str_get_loop, "get_loop");
    INTERN(str_loop, "_loop");
    INTERN(str_cancel, "cancel");
    INTERN(str_add_done_callback, "add_done_callback");
    INTERN(str_blocking, "_asyncio_future_blocking");
    INTERN(str_result, "result");
    INTERN(str_throw, "throw");
    INTERN(str_is_running, "is_running");
    INTERN(str_create_task_by_factory, "_create_task_by_factory");
    if ((a->kw_context = Py_BuildValue("(s)", "context")) == NULL) {
        return -1;
    }
    if ((st->ring_loop_types = PySet_New(NULL)) == NULL
            || (st->other_loop_types = PySet_New(NULL)) == NULL) {
        return -1;
    }
#undef IMPORT
#undef IMPORT_OPTIONAL
#undef INTERN
    return 0;
}

#define ASYNCIO_FIELDS(X) \
    X(CancelledError) X(InvalidStateError) X(iscoroutine) X(iscoroutine_types) \
    X(get_event_loop) X(future_repr) X(task_repr) X(task_get_stack) X(task_print_stack) \
    X(current_tasks) X(enter_task) X(leave_task) X(swap_current_task) X(register_task) \
    X(register_eager_task) X(unregister_eager_task) X(registry) X(registry_data) \
    X(registry_iterating) X(registry_pending) X(ready_tasks)

int
fl_asyncio_traverse(fl_state *st, visitproc visit, void *arg)
{
#define VISIT(f) Py_VISIT(st->asyncio.f);
    ASYNCIO_FIELDS(VISIT)
#undef VISIT
    Py_VISIT(st->ring_loop_types);
    Py_VISIT(st->other_loop_types);
    return 0;
}

void
fl_asyncio_clear(fl_state *st)
{
    fl_asyncio *a = &st->asyncio;
#define CLEAR(f) Py_CLEAR(a->f);
    ASYNCIO_FIELDS(CLEAR)
    CLEAR(str_pending) CLEAR(str_cancelled) CLEAR(str_finished) CLEAR(str_call_soon)
    CLEAR(str_get_debug) CLEAR(str_get_loop) CLEAR(str_loop) CLEAR(str_cancel)
    CLEAR(str_add_done_callback) CLEAR(str_blocking) CLEAR(str_result) CLEAR(str_throw)
    CLEAR(str_is_running) CLEAR(kw_context)
    CLEAR(str_create_task_by_factory)
#undef CLEAR
    Py_CLEAR(st->ring_loop_types);
    Py_CLEAR(st->other_loop_types);
    st->last_ring_type = NULL;
}

/* ---- scheduling -------------------------------------------------------- */

/* What a waiting fastloop Task looks like from Python (in _callbacks, to
 * remove_done_callback): its bound __wakeup method, the callable asyncio
 * would have stored. */
extern PyMethodDef fl_task_wakeup_def;

int
fl_loop_uses_ring(fl_state *st, PyObject *loop)
{
    PyTypeObject *tp = Py_TYPE(loop);
    if (tp == st->last_ring_type) {
        return 1;
    }
    if (!PyObject_TypeCheck(loop, st->LoopType)) {
        return 0;
    }
    int known = PySet_Contains(st->ring_loop_types, (PyObject *)tp);
    if (known > 0) {
        /* The set keeps the type alive, so the pointer stays valid. */
        st->last_ring_type = tp;
    }
    if (known != 0) {
        return known;
    }
    known = PySet_Contains(st->other_loop_types, (PyObject *)tp);
    if (known != 0) {
        return known < 0 ? -1 : 0;
    }
    /* A subclass that overrides call_soon() expects every callback to pass
     * through it, as asyncio's futures would make them: leave it the slow
     * way.  (The answer is kept per class; patching call_soon on a class
     * later, or on one loop object, is not seen.) */
    PyObject *ours = PyObject_GetAttr((PyObject *)st->LoopType, st->asyncio.str_call_soon);
    if (ours == NULL) {
        return -1;
    }
    PyObject *theirs = PyObject_GetAttr((PyObject *)tp, st->asyncio.str_call_soon);
    if (theirs == NULL) {
        Py_DECREF(ours);
        return -1;
    }
    int same = ours == theirs;
    Py_DECREF(ours);
    Py_DECREF(theirs);
    if (PySet_Add(same ? st->ring_loop_types : st->other_loop_types, (PyObject *)tp) < 0) {
        return -1;
    }
    return same;
}

int
fl_call_soon(fl_state *st, PyObject *loop, PyObject *fn, PyObject *arg, PyObject *ctx)
{
    PyObject *stack[4] = {loop, fn, NULL, NULL};
    size_t nargs = 2;
    if (arg != NULL) {
        stack[nargs++] = arg;
    }
    PyObject *kwnames = NULL;
    if (ctx != NULL) {
        stack[nargs] = ctx;
        kwnames = st->asyncio.kw_context;
    }
    PyObject *handle = PyObject_VectorcallMethod(st->asyncio.str_call_soon, stack, nargs, kwnames);
    if (handle == NULL) {
        return -1;
    }
    Py_DECREF(handle);
    return 0;
}

/* Schedule one callback of a done future on loop (the future's, held by the
 * caller; ring: its ready ring if callbacks may go straight there, else
 * NULL); consumes the references in cb. */
static int
schedule_callback(fl_state *st, FutureObject *fut, PyObject *loop, LoopObject *ring,
                  fl_callback cb)
{
    int status;
    if (cb.ctx == NULL) {
        status = fl_task_wakeup_soon(st, cb.fn, (PyObject *)fut);
        Py_DECREF(cb.fn);
        return status;
    }
    if (ring != NULL) {
        ready_entry e = {cb.fn, Py_NewRef((PyObject *)fut), cb.ctx, READY_CALLBACK};
        if (ready_push(&ring->ready, e) == 0) {
            return 0;
        }
        Py_DECREF(fut);
        PyErr_NoMemory();
        status = -1;
    }
    else {
        PyObject *ctx = fl_callback_context(st, cb.ctx);
        status = ctx ? fl_call_soon(st, loop, cb.fn, (PyObject *)fut, ctx) : -1;
        Py_XDECREF(ctx);
    }
    Py_DECREF(cb.fn);
    Py_DECREF(cb.ctx);
    return status;
}

PyObject *
fl_callback_context(fl_state *st, PyObject *ctx)
{
    return ctx == st->fresh_context ? PyContext_New() : Py_NewRef(ctx);
}

static int
schedule_callbacks(FutureObject *fut)
{
    if (fut->cb0.fn == NULL && fut->ncbs == 0) {
        return 0;
    }
    /* Take the callbacks out first: scheduling may call Python code that
     * adds callbacks to this (now done) future. */
    fl_callback first = fut->cb0;
    fl_callback *rest = fut->cbs;
    uint32_t n = fut->ncbs;
    fut->cb0.fn = fut->cb0.ctx = NULL;
    fut->cbs = NULL;
    fut->ncbs = fut->cbs_capacity = 0;

    /* Every callback goes to the loop the future has now, even if one of
     * them (a call_soon of a Loop subclass, say) re-initializes it. */
    PyObject *loop = Py_NewRef(fut->loop);
    LoopObject *ring = fl_future_ring(fut);
    fl_state *st = fl_future_state(fut);
    int status = st == NULL ? -1 : 0;
    if (first.fn != NULL) {
        if (status == 0) {
            status = schedule_callback(st, fut, loop, ring, first);
        }
        else {
            Py_DECREF(first.fn);
            Py_XDECREF(first.ctx);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        /* After a failure the rest are dropped, as asyncio does. */
        if (status == 0) {
            status = schedule_callback(st, fut, loop, ring, rest[i]);
        }
        else {
            Py_DECREF(rest[i].fn);
            Py_XDECREF(rest[i].ctx);
        }
    }
    PyMem_Free(rest);
    Py_DECREF(loop);
    return status;
}

int
fl_future_add_callback(FutureObject *fut, PyObject *fn, PyObject *ctx)
{
    if (fut->cb0.fn == NULL && fut->ncbs == 0) {
        fut->cb0.fn = Py_NewRef(fn);
        fut->cb0.ctx = Py_XNewRef(ctx);
        return 0;
    }
    if (fut->ncbs == fut->cbs_capacity) {
        if (fut->cbs_capacity >= (UINT32_MAX / 2)) {
            PyErr_NoMemory();
            return -1;
        }
        uint32_t capacity = fut->cbs_capacity ? fut->cbs_capacity * 2 : 4;
        fl_callback *cbs = PyMem_Realloc(fut->cbs, capacity * sizeof(fl_callback));
        if (cbs == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        fut->cbs = cbs;
        fut->cbs_capacity = capacity;
    }
    fut->cbs[fut->ncbs].fn = Py_NewRef(fn);
    fut->cbs[fut->ncbs].ctx = Py_XNewRef(ctx);
    fut->ncbs++;
    return 0;
}

/* ---- state changes ----------------------------------------------------- */

int
fl_future_init(FutureObject *fut, PyObject *loop)
{
    fl_state *st = fl_state_from_type(Py_TYPE(fut));
    if (st == NULL) {
        return -1;
    }
    /* __init__ may run again on a live object: start from scratch, but
     * keep __dict__. */
    (void)fl_future_clear(fut);
    fut->state = FUT_PENDING;
    fut->log_tb = 0;
    fut->blocking = 0;

    if (loop == NULL || loop == Py_None) {
        loop = PyObject_CallNoArgs(st->asyncio.get_event_loop);
        if (loop == NULL) {
            return -1;
        }
    }
    else {
        Py_INCREF(loop);
    }
    Py_XSETREF(fut->loop, loop);

    int ring = fl_loop_uses_ring(st, loop);
    if (ring < 0) {
        return -1;
    }
    fut->ring = (uint8_t)ring;
    int debug;
    if (ring) {
        debug = ((LoopObject *)loop)->debug;
    }
    else {
        PyObject *r = PyObject_CallMethodNoArgs(loop, st->asyncio.str_get_debug);
        if (r == NULL) {
            return -1;
        }
        debug = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (debug < 0) {
            return -1;
        }
    }
    if (debug) {
        PyObject *tb = fl_call_helper(st, "extract_full_stack", NULL, 0);
        if (tb == NULL) {
            return -1;
        }
        Py_XSETREF(fut->source_tb, tb);
    }
    return 0;
}

PyObject *
fl_loop_create_future(LoopObject *self, PyObject *Py_UNUSED(ignored))
{
    PyTypeObject *type = self->state->FutureType;
    PyObject *fut = type->tp_alloc(type, 0);
    if (fut == NULL) {
        return NULL;
    }
    if (fl_future_init(FUT(fut), (PyObject *)self) < 0) {
        Py_DECREF(fut);
        return NULL;
    }
    return fut;
}

static PyObject *
invalid_state(FutureObject *fut, const char *message)
{
    fl_state *st = fl_state_from_type(Py_TYPE(fut));
    if (st != NULL) {
        PyErr_SetString(st->asyncio.InvalidStateError, message);
    }
    return NULL;
}

int
fl_future_set_result(FutureObject *fut, PyObject *result)
{
    if (fl_future_ensure_alive(fut) < 0) {
        return -1;
    }
    if (fut->state != FUT_PENDING) {
        invalid_state(fut, "invalid state");
        return -1;
    }
    Py_XSETREF(fut->result, Py_NewRef(result));
    fut->state = FUT_FINISHED;
    return schedule_callbacks(fut);
}

int
fl_future_set_exception(FutureObject *fut, PyObject *exc)
{
    if (fl_future_ensure_alive(fut) < 0) {
        return -1;
    }
    if (fut->state != FUT_PENDING) {
        invalid_state(fut, "invalid state");
        return -1;
    }
    PyObject *value;
    if (PyExceptionClass_Check(exc)) {
        value = PyObject_CallNoArgs(exc);
        if (value == NULL) {
            return -1;
        }
        /* The constructor is arbitrary code. */
        if (fut->state != FUT_PENDING) {
            Py_DECREF(value);
            invalid_state(fut, "invalid state");
            return -1;
        }
    }
    else {
        value = Py_NewRef(exc);
    }
    if (!PyExceptionInstance_Check(value)) {
        Py_DECREF(value);
        PyErr_SetString(PyExc_TypeError, "invalid exception object");
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    if (PyObject_TypeCheck(value, (PyTypeObject *)PyExc_StopIteration)) {
        /* 3.13: kept, as the cause of a RuntimeError. */
        PyObject *wrapped = PyObject_CallFunction(
            PyExc_RuntimeError, "s",
            "StopIteration interacts badly with generators and cannot be raised into a Future");
        if (wrapped == NULL) {
            Py_DECREF(value);
            return -1;
        }
        PyException_SetCause(wrapped, Py_NewRef(value));
        PyException_SetContext(wrapped, value);
        value = wrapped;
    }
#else
    if (Py_IS_TYPE(value, (PyTypeObject *)PyExc_StopIteration)) {
        Py_DECREF(value);
        PyErr_SetString(PyExc_TypeError,
                        "StopIteration interacts badly with generators "
                        "and cannot be raised into a Future");
        return -1;
    }
#endif
    Py_XSETREF(fut->exception, value);
    Py_XSETREF(fut->exception_tb, PyException_GetTraceback(value));
    fut->state = FUT_FINISHED;
    if (schedule_callbacks(fut) < 0) {
        return -1;
    }
    fut->log_tb = 1;
    return 0;
}

int
fl_future_cancel(FutureObject *fut, PyObject *msg)
{
    fut->log_tb = 0;
    if (fut->state != FUT_PENDING) {
        return 0;
    }
    fut->state = FUT_CANCELLED;
    Py_XSETREF(fut->cancel_msg, Py_XNewRef(msg));
    if (schedule_callbacks(fut) < 0) {
        return -1;
    }
    return 1;
}

PyObject *
fl_future_make_cancelled_error(FutureObject *fut)
{
    if (fut->cancelled_exc != NULL) {
        PyObject *exc = fut->cancelled_exc;
        fut->cancelled_exc = NULL;
        return exc;
    }
    fl_state *st = fl_future_state(fut);
    if (st == NULL) {
        return NULL;
    }
    PyObject *msg = fut->cancel_msg;
    if (msg == NULL || msg == Py_None) {
        return PyObject_CallNoArgs(st->asyncio.CancelledError);
    }
    return PyObject_CallOneArg(st->asyncio.CancelledError, msg);
}

void
fl_raise_exception_object(PyObject *exc)
{
    /* As `raise exc` does: the exception being handled becomes its
     * __context__. */
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
}

static void
raise_cancelled_error(FutureObject *fut)
{
    PyObject *exc = fl_future_make_cancelled_error(fut);
    if (exc != NULL) {
        fl_raise_exception_object(exc);
        Py_DECREF(exc);
    }
}

int
fl_future_get_result(FutureObject *fut, PyObject **result)
{
    *result = NULL;
    if (fut->state == FUT_CANCELLED) {
        raise_cancelled_error(fut);
        return -1;
    }
    if (fut->state != FUT_FINISHED) {
        invalid_state(fut, "Result is not set.");
        return -1;
    }
    fut->log_tb = 0;
    if (fut->exception != NULL) {
        /* Raise it with the traceback it had when it was set, not one that
         * grew while it was raised before.  Dropped after the first time,
         * as asyncio does, so the frames can be freed. */
        PyObject *tb = fut->exception_tb ? fut->exception_tb : Py_None;
        if (PyException_SetTraceback(fut->exception, tb) < 0) {
            return -1;
        }
        Py_CLEAR(fut->exception_tb);
        *result = Py_NewRef(fut->exception);
        return 1;
    }
    *result = Py_NewRef(fut->result ? fut->result : Py_None);
    return 0;
}

/* ---- finalization and GC ----------------------------------------------- */

/* Hand a report to loop.call_exception_handler(); never raises (used from
 * tp_finalize).  context is a new dict, consumed. */
int
fl_report_to_loop(PyObject *self, PyObject *loop, PyObject *context)
{
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (context == NULL || st == NULL) {
        Py_XDECREF(context);
        return -1;
    }
    PyObject *r = PyObject_CallMethodOneArg(loop, st->str_call_exception_handler, context);
    Py_DECREF(context);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

void
fl_future_finalize(PyObject *self)
{
    FutureObject *fut = FUT(self);
    if (!fut->log_tb || fut->loop == NULL) {
        return;
    }
    fut->log_tb = 0;
    PyObject *saved = fl_fetch_exception();
    PyObject *name = PyType_GetName(Py_TYPE(self));
    PyObject *message = NULL, *context = NULL;
    if (name != NULL) {
        message = PyUnicode_FromFormat("%U exception was never retrieved", name);
        Py_DECREF(name);
    }
    if (message != NULL) {
        context = Py_BuildValue("{sOsOsO}", "message", message, "exception",
                                fut->exception ? fut->exception : Py_None, "future", self);
        Py_DECREF(message);
    }
    if (context != NULL && fut->source_tb != NULL
            && PyDict_SetItemString(context, "source_traceback", fut->source_tb) < 0) {
        Py_CLEAR(context);
    }
    if (fl_report_to_loop(self, fut->loop, context) < 0) {
        PyErr_WriteUnraisable(self);
    }
    if (saved != NULL) {
        fl_restore_exception(saved);
    }
}

int
fl_future_traverse(FutureObject *fut, visitproc visit, void *arg)
{
    Py_VISIT(fut->loop);
    Py_VISIT(fut->result);
    Py_VISIT(fut->exception);
    Py_VISIT(fut->exception_tb);
    Py_VISIT(fut->cancel_msg);
    Py_VISIT(fut->cancelled_exc);
    Py_VISIT(fut->source_tb);
    Py_VISIT(fut->dict);
    Py_VISIT(fut->cb0.fn);
    Py_VISIT(fut->cb0.ctx);
    for (uint32_t i = 0; i < fut->ncbs; i++) {
        Py_VISIT(fut->cbs[i].fn);
        Py_VISIT(fut->cbs[i].ctx);
    }
    return 0;
}

static void
clear_callbacks(FutureObject *fut)
{
    fl_callback first = fut->cb0;
    fl_callback *rest = fut->cbs;
    uint32_t n = fut->ncbs;
    fut->cb0.fn = fut->cb0.ctx = NULL;
    fut->cbs = NULL;
    fut->ncbs = fut->cbs_capacity = 0;
    Py_XDECREF(first.fn);
    Py_XDECREF(first.ctx);
    for (uint32_t i = 0; i < n; i++) {
        Py_DECREF(rest[i].fn);
        Py_XDECREF(rest[i].ctx);
    }
    PyMem_Free(rest);
}

/* Clears everything but __dict__ (which __init__ keeps). */
int
fl_future_clear(FutureObject *fut)
{
    fut->ring = 0;
    Py_CLEAR(fut->loop);
    Py_CLEAR(fut->result);
    Py_CLEAR(fut->exception);
    Py_CLEAR(fut->exception_tb);
    Py_CLEAR(fut->cancel_msg);
    Py_CLEAR(fut->cancelled_exc);
    Py_CLEAR(fut->source_tb);
    clear_callbacks(fut);
    return 0;
}

static int
Future_tp_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return fl_future_traverse(FUT(self), visit, arg);
}

static int
Future_tp_clear(PyObject *self)
{
    fl_future_clear(FUT(self));
    Py_CLEAR(FUT(self)->dict);
    return 0;
}

static void
Future_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (PyObject_CallFinalizerFromDealloc(self) < 0) {
        return;     /* resurrected by the exception handler */
    }
    PyObject_GC_UnTrack(self);
    if (FUT(self)->weakreflist != NULL) {
        PyObject_ClearWeakRefs(self);
    }
    (void)Future_tp_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- Python-visible methods -------------------------------------------- */

static int
Future_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", NULL};
    PyObject *loop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O:Future", kwlist, &loop)) {
        return -1;
    }
    return fl_future_init(FUT(self), loop);
}

static PyObject *
Future_result(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *result;
    switch (fl_future_get_result(FUT(self), &result)) {
    case 0:
        return result;
    case 1:
        fl_raise_exception_object(result);
        Py_DECREF(result);
        return NULL;
    default:
        return NULL;
    }
}

static PyObject *
Future_exception(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    FutureObject *fut = FUT(self);
    if (fut->state == FUT_CANCELLED) {
        raise_cancelled_error(fut);
        return NULL;
    }
    if (fut->state != FUT_FINISHED) {
        return invalid_state(fut, "Exception is not set.");
    }
    fut->log_tb = 0;
    return Py_NewRef(fut->exception ? fut->exception : Py_None);
}

static PyObject *
Future_set_result(PyObject *self, PyObject *result)
{
    if (fl_future_set_result(FUT(self), result) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Future_set_exception(PyObject *self, PyObject *exc)
{
    if (fl_future_set_exception(FUT(self), exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Future_cancel(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"msg"};
    PyObject *msg;
    if (fl_parse_args("cancel", args, nargs, kwnames, names, 1, 1, 0, &msg) < 0
            || fl_future_ensure_alive(FUT(self)) < 0) {
        return NULL;
    }
    int r = fl_future_cancel(FUT(self), msg ? msg : Py_None);
    if (r < 0) {
        return NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *
Future_cancelled(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    FutureObject *fut = FUT(self);
    return PyBool_FromLong(fut->loop != NULL && fut->state == FUT_CANCELLED);
}

static PyObject *
Future_done(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    FutureObject *fut = FUT(self);
    return PyBool_FromLong(fut->loop != NULL && fut->state != FUT_PENDING);
}

static PyObject *
Future_get_loop(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    if (fl_future_ensure_alive(FUT(self)) < 0) {
        return NULL;
    }
    return Py_NewRef(FUT(self)->loop);
}

static PyObject *
Future_add_done_callback(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const names[] = {"fn", "context"};
    PyObject *argv[2];
    FutureObject *fut = FUT(self);
    if (fl_parse_args("add_done_callback", args, nargs, kwnames, names, 2, 1, 1, argv) < 0
            || fl_future_ensure_alive(fut) < 0) {
        return NULL;
    }
    PyObject *fn = argv[0];
    fl_state *st = fl_future_state(fut);
    if (st == NULL) {
        return NULL;
    }
    PyObject *ctx;
    if (argv[1] == NULL || argv[1] == Py_None) {
        ctx = PyContext_CopyCurrent();
        if (ctx == NULL) {
            return NULL;
        }
        /* With no context variable set, the copy is an empty Context:
         * one is made when the callback runs instead of kept meanwhile.
         * A program with many pending tasks gathered this way would
         * otherwise keep one more object per task for every full garbage
         * collection to walk. */
        Py_ssize_t size = PyObject_Size(ctx);
        if (size < 0) {
            Py_DECREF(ctx);
            return NULL;
        }
        if (size == 0) {
            Py_SETREF(ctx, Py_NewRef(st->fresh_context));
        }
    }
    else {
        ctx = Py_NewRef(argv[1]);
    }
    int status;
    if (fut->state != FUT_PENDING) {
        fl_callback cb = {Py_NewRef(fn), ctx};
        PyObject *loop = Py_NewRef(fut->loop);
        status = schedule_callback(st, fut, loop, fl_future_ring(fut), cb);
        Py_DECREF(loop);
    }
    else {
        status = fl_future_add_callback(fut, fn, ctx);
        Py_DECREF(ctx);
    }
    if (status < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The callbacks as they are now, each with a reference of its own (count in
 * *n): what may run Python code (any allocation, through the garbage
 * collector) works on this, never on fut->cbs, which such code may grow or
 * free.  NULL with *n == 0 if there are none; NULL with an error set. */
static fl_callback *
snapshot_callbacks(FutureObject *fut, uint32_t *n)
{
    *n = (fut->cb0.fn ? 1 : 0) + fut->ncbs;
    if (*n == 0) {
        return NULL;
    }
    fl_callback *snap = PyMem_Malloc(*n * sizeof(fl_callback));
    if (snap == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    uint32_t k = 0;
    if (fut->cb0.fn) {
        snap[k++] = fut->cb0;
    }
    for (uint32_t i = 0; i < fut->ncbs; i++) {
        snap[k++] = fut->cbs[i];
    }
    for (k = 0; k < *n; k++) {
        Py_INCREF(snap[k].fn);
        Py_XINCREF(snap[k].ctx);
    }
    return snap;
}

static void
release_snapshot(fl_callback *snap, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        Py_XDECREF(snap[k].fn);
        Py_XDECREF(snap[k].ctx);
    }
    PyMem_Free(snap);
}

/* remove_done_callback(fn): __eq__ may run arbitrary code, including code
 * that adds or removes callbacks of this future.  So the comparisons run on
 * a snapshot, and only then are the matching entries taken out of the
 * callbacks as they are at that point.  Callbacks added meanwhile stay. */
static PyObject *
Future_remove_done_callback(PyObject *self, PyObject *fn)
{
    FutureObject *fut = FUT(self);
    if (fl_future_ensure_alive(fut) < 0) {
        return NULL;
    }
    uint32_t n, k;
    fl_callback *snap = snapshot_callbacks(fut, &n);
    if (snap == NULL) {
        return n == 0 ? PyLong_FromLong(0) : NULL;
    }
    /* snap[k].fn becomes NULL for callbacks that do not match. */
    Py_ssize_t matched = 0;
    int error = 0;
    for (k = 0; k < n; k++) {
        int eq = 0;
        if (!error) {
            /* A waiting fastloop Task is compared as the callable asyncio
             * would hold, the task's bound __wakeup. */
            PyObject *cb = snap[k].ctx != NULL
                ? Py_NewRef(snap[k].fn)
                : PyCFunction_NewEx(&fl_task_wakeup_def, snap[k].fn, NULL);
            eq = cb ? PyObject_RichCompareBool(cb, fn, Py_EQ) : -1;
            Py_XDECREF(cb);
            if (eq < 0) {
                error = 1;
                eq = 0;
            }
        }
        if (!eq) {
            Py_CLEAR(snap[k].fn);
            Py_CLEAR(snap[k].ctx);
        }
        else {
            matched++;
        }
    }
    Py_ssize_t removed = 0;
    if (!error && matched) {
        /* Drop each matched entry, found again by identity, from the
         * callbacks as they are now. */
        for (k = 0; k < n; k++) {
            if (snap[k].fn == NULL) {
                continue;
            }
            fl_callback gone = {NULL, NULL};
            if (fut->cb0.fn == snap[k].fn && fut->cb0.ctx == snap[k].ctx) {
                gone = fut->cb0;
                fut->cb0.fn = fut->cb0.ctx = NULL;
            }
            else {
                for (uint32_t i = 0; i < fut->ncbs; i++) {
                    if (fut->cbs[i].fn == snap[k].fn && fut->cbs[i].ctx == snap[k].ctx) {
                        gone = fut->cbs[i];
                        memmove(&fut->cbs[i], &fut->cbs[i + 1],
                                (fut->ncbs - i - 1) * sizeof(fl_callback));
                        fut->ncbs--;
                        break;
                    }
                }
            }
            if (gone.fn != NULL) {
                removed++;
                /* Still referenced by the snapshot: no code runs here. */
                Py_DECREF(gone.fn);
                Py_XDECREF(gone.ctx);
            }
        }
    }
    /* Releasing the snapshot may run __del__ code: the future is in a
     * consistent state by now. */
    release_snapshot(snap, n);
    if (error) {
        return NULL;
    }
    return PyLong_FromSsize_t(removed);
}

static PyObject *
Future_make_cancelled_error(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return fl_future_make_cancelled_error(FUT(self));
}

static PyObject *
Future_await(PyObject *self)
{
    FutureObject *fut = FUT(self);
    if (fl_future_ensure_alive(fut) < 0) {
        return NULL;
    }
    fl_state *st = fl_future_state(fut);
    if (st == NULL) {
        return NULL;
    }
    PyObject *it = fl_future_iter_new(st, self);
    return it;
}

static PyObject *
Future_repr(PyObject *self)
{
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    return PyObject_CallOneArg(st->asyncio.future_repr, self);
}

/* ---- attributes -------------------------------------------------------- */

static PyObject *
Future_get_state(PyObject *self, void *Py_UNUSED(closure))
{
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    switch (FUT(self)->state) {
    case FUT_CANCELLED: return Py_NewRef(st->asyncio.str_cancelled);
    case FUT_FINISHED: return Py_NewRef(st->asyncio.str_finished);
    default: return Py_NewRef(st->asyncio.str_pending);
    }
}

#define OBJ_GETTER(name, field) \
    static PyObject * \
    Future_get_##name(PyObject *self, void *Py_UNUSED(closure)) \
    { \
        PyObject *v = FUT(self)->field; \
        return Py_NewRef(v ? v : Py_None); \
    }

OBJ_GETTER(loop_attr, loop)
OBJ_GETTER(result, result)
OBJ_GETTER(exception, exception)
OBJ_GETTER(source_traceback, source_tb)
OBJ_GETTER(cancel_message, cancel_msg)

static int
Future_set_cancel_message(PyObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    Py_XSETREF(FUT(self)->cancel_msg, Py_NewRef(value));
    return 0;
}

static PyObject *
Future_get_blocking(PyObject *self, void *Py_UNUSED(closure))
{
    FutureObject *fut = FUT(self);
    return PyBool_FromLong(fut->loop != NULL && fut->blocking);
}

static int
Future_set_blocking(PyObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (fl_future_ensure_alive(FUT(self)) < 0) {
        return -1;
    }
    int flag = fl_attribute_truth(value);
    if (flag < 0) {
        return -1;
    }
    FUT(self)->blocking = (uint8_t)flag;
    return 0;
}

static PyObject *
Future_get_log_traceback(PyObject *self, void *Py_UNUSED(closure))
{
    FutureObject *fut = FUT(self);
    return PyBool_FromLong(fut->loop != NULL && fut->log_tb);
}

static int
Future_set_log_traceback(PyObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    int flag = fl_attribute_truth(value);
    if (flag < 0) {
        return -1;
    }
    if (flag) {
        PyErr_SetString(PyExc_ValueError, "_log_traceback can only be set to False");
        return -1;
    }
    FUT(self)->log_tb = 0;
    return 0;
}

static PyObject *
callback_tuple(fl_state *st, fl_callback cb)
{
    if (cb.ctx == NULL) {
        PyObject *fn = PyCFunction_NewEx(&fl_task_wakeup_def, cb.fn, NULL);
        if (fn == NULL) {
            return NULL;
        }
        PyObject *ctx = ((TaskObject *)cb.fn)->context;
        PyObject *t = PyTuple_Pack(2, fn, ctx ? ctx : Py_None);
        Py_DECREF(fn);
        return t;
    }
    PyObject *ctx = fl_callback_context(st, cb.ctx);
    if (ctx == NULL) {
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, cb.fn, ctx);
    Py_DECREF(ctx);
    return t;
}

static PyObject *
Future_get_callbacks(PyObject *self, void *Py_UNUSED(closure))
{
    FutureObject *fut = FUT(self);
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    /* Building the tuples allocates, which may collect garbage and run
     * __del__ code that changes the callbacks: work on a snapshot. */
    uint32_t n;
    fl_callback *snap = snapshot_callbacks(fut, &n);
    if (snap == NULL) {
        return n == 0 ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *list = PyList_New(n);
    for (uint32_t k = 0; list != NULL && k < n; k++) {
        PyObject *t = callback_tuple(st, snap[k]);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, k, t);
    }
    release_snapshot(snap, n);
    return list;
}

#define FASTCALL_KW (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef Future_methods[] = {
    {"result", Future_result, METH_NOARGS,
     "Return the result, or raise the exception, the future was given."},
    {"exception", Future_exception, METH_NOARGS,
     "Return the exception the future was given, or None."},
    {"set_result", Future_set_result, METH_O, "Mark the future done with a result."},
    {"set_exception", Future_set_exception, METH_O, "Mark the future done with an exception."},
    {"cancel", (PyCFunction)(void (*)(void))Future_cancel, FASTCALL_KW,
     "cancel(msg=None): cancel the future and schedule its callbacks."},
    {"cancelled", Future_cancelled, METH_NOARGS, "Return True if the future was cancelled."},
    {"done", Future_done, METH_NOARGS, "Return True if the future is done."},
    {"get_loop", Future_get_loop, METH_NOARGS, "Return the event loop the future is bound to."},
    {"add_done_callback", (PyCFunction)(void (*)(void))Future_add_done_callback, FASTCALL_KW,
     "add_done_callback(fn, *, context=None): call fn(future) when the future is done."},
    {"remove_done_callback", Future_remove_done_callback, METH_O,
     "Remove every instance of fn from the done callbacks; return how many."},
    {"_make_cancelled_error", Future_make_cancelled_error, METH_NOARGS, NULL},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Future_getset[] = {
    {"_state", Future_get_state, NULL, NULL, NULL},
    {"_loop", Future_get_loop_attr, NULL, NULL, NULL},
    {"_result", Future_get_result, NULL, NULL, NULL},
    {"_exception", Future_get_exception, NULL, NULL, NULL},
    {"_source_traceback", Future_get_source_traceback, NULL, NULL, NULL},
    {"_cancel_message", Future_get_cancel_message, Future_set_cancel_message, NULL, NULL},
    {"_asyncio_future_blocking", Future_get_blocking, Future_set_blocking, NULL, NULL},
    {"_log_traceback", Future_get_log_traceback, Future_set_log_traceback, NULL, NULL},
    {"_callbacks", Future_get_callbacks, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Future_members[] = {
    {"__weaklistoffset__", FL_T_PYSSIZET, offsetof(FutureObject, weakreflist), FL_READONLY, NULL},
    {"__dictoffset__", FL_T_PYSSIZET, offsetof(FutureObject, dict), FL_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Future_slots[] = {
    {Py_tp_doc, "fastloop's Future: asyncio.Future's API, in C, scheduling its "
                "callbacks straight into fastloop's ready queue."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Future_init},
    {Py_tp_repr, Future_repr},
    {Py_tp_iter, Future_await},
    {Py_am_await, Future_await},
    {Py_tp_methods, Future_methods},
    {Py_tp_getset, Future_getset},
    {Py_tp_members, Future_members},
    {Py_tp_traverse, Future_tp_traverse},
    {Py_tp_clear, Future_tp_clear},
    {Py_tp_finalize, fl_future_finalize},
    {Py_tp_dealloc, Future_dealloc},
    {0, NULL},
};

PyType_Spec fl_future_spec = {
    .name = "fastloop.Future",
    .basicsize = sizeof(FutureObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = Future_slots,
};
