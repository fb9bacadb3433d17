/* Handle and TimerHandle: what call_soon, call_later and call_at return.
 *
 * Same API and repr as asyncio.Handle / asyncio.TimerHandle.  A handle owns
 * its callback, its arguments (a tuple) and the contextvars.Context it runs
 * in; cancel() drops the callback and arguments at once, so a cancelled
 * timer that is still referenced somewhere does not keep its closure alive.
 */
#include "fastloop.h"

#include <math.h>

HandleObject *
fl_handle_new(LoopObject *loop, PyTypeObject *type,
              PyObject *callback, PyObject *args, PyObject *context)
{
    PyObject *ctx;
    if (context == NULL || context == Py_None) {
        ctx = PyContext_CopyCurrent();
        if (ctx == NULL) {
            return NULL;
        }
    }
    else {
        ctx = Py_NewRef(context);
    }
    HandleObject *h = PyObject_GC_New(HandleObject, type);
    if (h == NULL) {
        Py_DECREF(ctx);
        return NULL;
    }
    h->callback = Py_NewRef(callback);
    h->args = Py_NewRef(args);
    h->context = ctx;
    h->loop = (LoopObject *)Py_NewRef((PyObject *)loop);
    h->source_traceback = NULL;
    h->repr = NULL;
    h->weakreflist = NULL;
    h->cancelled = 0;
    if (type != loop->state->HandleType) {
        TimerHandleObject *t = (TimerHandleObject *)h;
        t->node.index = -1;
        t->node.deadline = 0.0;
        t->node.sequence = 0;
        t->when = 0.0;
        t->when_obj = NULL;
    }
    PyObject_GC_Track(h);
    if (loop->debug) {
        /* asyncio records where a handle was created, for its repr and for
         * the "Exception in callback" report. */
        h->source_traceback = fl_call_helper(loop->state, "extract_stack", NULL, 0);
        if (h->source_traceback == NULL) {
            Py_DECREF(h);
            return NULL;
        }
    }
    return h;
}

int
fl_report_callback_error(LoopObject *loop, PyObject *callback, PyObject *args,
                         HandleObject *handle)
{
    if (fl_error_stops_loop()) {
        return -1;
    }
    fl_state *st = loop->state;
    PyObject *exc = fl_fetch_exception();
    PyObject *context = NULL, *message = NULL, *result = NULL;
    PyObject *fmt_args[3] = {callback, args, loop->debug ? Py_True : Py_False};
    message = fl_call_helper(st, "callback_error_message", fmt_args, 3);
    if (message == NULL) {
        goto error;
    }
    context = PyDict_New();
    if (context == NULL
            || PyDict_SetItem(context, st->str_message, message) < 0
            || PyDict_SetItem(context, st->str_exception, exc) < 0) {
        goto error;
    }
    if (handle != NULL
            && PyDict_SetItem(context, st->str_handle, (PyObject *)handle) < 0) {
        goto error;
    }
    if (handle != NULL && handle->source_traceback != NULL
            && PyDict_SetItem(context, st->str_source_traceback,
                              handle->source_traceback) < 0) {
        goto error;
    }
    result = PyObject_CallMethodOneArg((PyObject *)loop,
                                       st->str_call_exception_handler, context);
    if (result == NULL) {
        goto error;
    }
    Py_DECREF(result);
    Py_DECREF(context);
    Py_DECREF(message);
    Py_DECREF(exc);
    return 0;

error:
    /* Only KeyboardInterrupt or SystemExit escape call_exception_handler;
     * anything else here is a bug in fastloop, and must not pass silently. */
    Py_XDECREF(context);
    Py_XDECREF(message);
    Py_DECREF(exc);
    return -1;
}

int
fl_report_call_error(LoopObject *loop, PyObject *callable, PyObject *args, PyObject *context)
{
    if (fl_error_stops_loop()) {
        return -1;
    }
    /* Building the Handle runs code: keep the call's error aside. */
    PyObject *error = fl_fetch_exception();
    HandleObject *handle = fl_handle_new(loop, loop->state->HandleType, callable, args, context);
    if (handle == NULL) {
        /* Could not even build the report: this error replaces the call's. */
        Py_DECREF(error);
        return -1;
    }
    fl_restore_exception(error);
    int status = fl_report_callback_error(loop, callable, args, handle);
    Py_DECREF(handle);
    return status;
}

int
fl_handle_run(HandleObject *h)
{
    if (h->cancelled) {
        return 0;
    }
    /* The callback may cancel its own handle, which drops these fields:
     * hold our own references for the duration of the call. */
    PyObject *callback = Py_NewRef(h->callback);
    PyObject *args = Py_NewRef(h->args);
    PyObject *context = Py_NewRef(h->context);
    int status = 0;
    PyObject *result = NULL;
    if (PyContext_Enter(context) == 0) {
        result = PyObject_Vectorcall(callback, &PyTuple_GET_ITEM(args, 0),
                                     PyTuple_GET_SIZE(args), NULL);
        if (PyContext_Exit(context) < 0) {
            Py_CLEAR(result);
        }
    }
    if (result == NULL) {
        status = fl_report_callback_error(h->loop, callback, args, h);
    }
    else {
        Py_DECREF(result);
    }
    Py_DECREF(context);
    Py_DECREF(args);
    Py_DECREF(callback);
    return status;
}

/* ---- Python-visible methods -------------------------------------------- */

static PyObject *
Handle_cancel(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->cancelled) {
        Py_RETURN_NONE;
    }
    fl_state *st = self->loop->state;
    if (Py_IS_TYPE(self, st->TimerHandleType)
            || PyObject_TypeCheck(self, st->TimerHandleType)) {
        TimerHandleObject *t = (TimerHandleObject *)self;
        if (t->node.index >= 0) {
            fl_loop_timer_cancelled(self->loop, t);
        }
    }
    self->cancelled = 1;
    if (self->loop->debug && self->repr == NULL) {
        /* Keep the callback's description for "Executing ... took" and
         * other debug reports made after the callback is gone.  asyncio
         * takes it after marking the handle cancelled, so it says so. */
        self->repr = PyObject_Repr((PyObject *)self);
        if (self->repr == NULL) {
            return NULL;
        }
    }
    /* Dropping the callback may run arbitrary __del__ code: detach first. */
    PyObject *callback = self->callback;
    PyObject *args = self->args;
    self->callback = NULL;
    self->args = NULL;
    Py_XDECREF(callback);
    Py_XDECREF(args);
    Py_RETURN_NONE;
}

static PyObject *
Handle_cancelled(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->cancelled);
}

static PyObject *
Handle_get_context(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(self->context);
}

static PyObject *
Handle_run(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    if (fl_handle_run(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Handle_repr(HandleObject *self)
{
    if (self->repr != NULL) {
        return Py_NewRef(self->repr);
    }
    PyObject *when = Py_None;
    PyObject *when_owned = NULL;
    fl_state *st = self->loop->state;
    if (PyObject_TypeCheck(self, st->TimerHandleType)) {
        TimerHandleObject *t = (TimerHandleObject *)self;
        when = when_owned = t->when_obj ? Py_NewRef(t->when_obj) : PyFloat_FromDouble(t->when);
        if (when == NULL) {
            return NULL;
        }
    }
    PyObject *args[7] = {
        (PyObject *)self,
        PyType_GetQualName(Py_TYPE(self)),
        self->cancelled ? Py_True : Py_False,
        self->callback ? self->callback : Py_None,
        self->args ? self->args : Py_None,
        self->source_traceback ? self->source_traceback : Py_None,
        when,
    };
    PyObject *r = NULL;
    if (args[1] != NULL) {
        r = fl_call_helper(st, "handle_repr", args, 7);
        Py_DECREF(args[1]);
    }
    Py_XDECREF(when_owned);
    return r;
}

static PyObject *
Handle_get_source_traceback(HandleObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->source_traceback ? self->source_traceback : Py_None);
}

static PyObject *
Handle_get_callback(HandleObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->callback ? self->callback : Py_None);
}

static PyObject *
Handle_get_args(HandleObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->args ? self->args : Py_None);
}

static PyObject *
Handle_get_loop(HandleObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef((PyObject *)self->loop);
}

static PyObject *
Handle_get_cancelled_attr(HandleObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->cancelled);
}

static int
Handle_traverse(HandleObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->callback);
    Py_VISIT(self->args);
    Py_VISIT(self->context);
    Py_VISIT(self->loop);
    Py_VISIT(self->source_traceback);
    Py_VISIT(self->repr);
    return 0;
}

static int
Handle_clear(HandleObject *self)
{
    Py_CLEAR(self->callback);
    Py_CLEAR(self->args);
    Py_CLEAR(self->context);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->source_traceback);
    Py_CLEAR(self->repr);
    return 0;
}

static void
Handle_dealloc(HandleObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    (void)Handle_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef Handle_methods[] = {
    {"cancel", (PyCFunction)Handle_cancel, METH_NOARGS,
     "Cancel the callback; a no-op if it already ran or was cancelled."},
    {"cancelled", (PyCFunction)Handle_cancelled, METH_NOARGS,
     "Return True if the callback was cancelled."},
    {"get_context", (PyCFunction)Handle_get_context, METH_NOARGS,
     "Return the contextvars.Context the callback runs in."},
    {"_run", (PyCFunction)Handle_run, METH_NOARGS,
     "Run the callback now, as the loop would."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Handle_getset[] = {
    {"_source_traceback", (getter)Handle_get_source_traceback, NULL, NULL, NULL},
    {"_callback", (getter)Handle_get_callback, NULL, NULL, NULL},
    {"_args", (getter)Handle_get_args, NULL, NULL, NULL},
    {"_loop", (getter)Handle_get_loop, NULL, NULL, NULL},
    {"_cancelled", (getter)Handle_get_cancelled_attr, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Handle_members[] = {
    {"__weaklistoffset__", FL_T_PYSSIZET, offsetof(HandleObject, weakreflist), FL_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Handle_slots[] = {
    {Py_tp_doc, "Object returned by callback registration methods."},
    {Py_tp_repr, Handle_repr},
    {Py_tp_methods, Handle_methods},
    {Py_tp_getset, Handle_getset},
    {Py_tp_members, Handle_members},
    {Py_tp_traverse, Handle_traverse},
    {Py_tp_clear, Handle_clear},
    {Py_tp_dealloc, Handle_dealloc},
    {0, NULL},
};

PyType_Spec fl_handle_spec = {
    .name = "fastloop.Handle",
    .basicsize = sizeof(HandleObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Handle_slots,
};

/* ---- TimerHandle ------------------------------------------------------- */

static PyObject *
TimerHandle_when(TimerHandleObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->when_obj != NULL) {
        return Py_NewRef(self->when_obj);
    }
    return PyFloat_FromDouble(self->when);
}

static PyObject *
TimerHandle_get_scheduled(TimerHandleObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->node.index >= 0);
}

static Py_hash_t
TimerHandle_hash(TimerHandleObject *self)
{
    PyObject *when = TimerHandle_when(self, NULL);
    if (when == NULL) {
        return -1;
    }
    Py_hash_t h = PyObject_Hash(when);
    Py_DECREF(when);
    return h;
}

/* asyncio orders TimerHandles by deadline and compares them equal when
 * deadline, callback, arguments and cancelled state all match. */
static PyObject *
TimerHandle_richcompare(PyObject *a, PyObject *b, int op)
{
    fl_state *st = ((HandleObject *)a)->loop->state;
    if (!PyObject_TypeCheck(b, st->TimerHandleType)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    TimerHandleObject *x = (TimerHandleObject *)a, *y = (TimerHandleObject *)b;
    int equal = -1;
    if (op == Py_EQ || op == Py_NE || op == Py_LE || op == Py_GE) {
        equal = x->when == y->when && x->base.cancelled == y->base.cancelled;
        if (equal) {
            PyObject *cx = x->base.callback ? x->base.callback : Py_None;
            PyObject *cy = y->base.callback ? y->base.callback : Py_None;
            PyObject *ax = x->base.args ? x->base.args : Py_None;
            PyObject *ay = y->base.args ? y->base.args : Py_None;
            /* Hold both sides: a user __eq__ may cancel either handle. */
            Py_INCREF(cx); Py_INCREF(cy); Py_INCREF(ax); Py_INCREF(ay);
            equal = PyObject_RichCompareBool(cx, cy, Py_EQ);
            if (equal > 0) {
                equal = PyObject_RichCompareBool(ax, ay, Py_EQ);
            }
            Py_DECREF(cx); Py_DECREF(cy); Py_DECREF(ax); Py_DECREF(ay);
            if (equal < 0) {
                return NULL;
            }
        }
    }
    switch (op) {
    case Py_EQ: return PyBool_FromLong(equal);
    case Py_NE: return PyBool_FromLong(!equal);
    case Py_LT: return PyBool_FromLong(x->when < y->when);
    case Py_GT: return PyBool_FromLong(x->when > y->when);
    case Py_LE: return PyBool_FromLong(x->when < y->when || equal);
    case Py_GE: return PyBool_FromLong(x->when > y->when || equal);
    }
    Py_RETURN_NOTIMPLEMENTED;
}

static int
TimerHandle_traverse(TimerHandleObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->when_obj);
    return Handle_traverse(&self->base, visit, arg);
}

static int
TimerHandle_clear(TimerHandleObject *self)
{
    Py_CLEAR(self->when_obj);
    return Handle_clear(&self->base);
}

static void
TimerHandle_dealloc(TimerHandleObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->base.weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    (void)TimerHandle_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef TimerHandle_methods[] = {
    {"when", (PyCFunction)TimerHandle_when, METH_NOARGS,
     "Return the scheduled time, on the loop.time() clock."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef TimerHandle_getset[] = {
    {"_scheduled", (getter)TimerHandle_get_scheduled, NULL, NULL, NULL},
    {"_when", (getter)TimerHandle_when, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot TimerHandle_slots[] = {
    {Py_tp_doc, "Object returned by timed callback registration methods."},
    {Py_tp_methods, TimerHandle_methods},
    {Py_tp_getset, TimerHandle_getset},
    {Py_tp_hash, TimerHandle_hash},
    {Py_tp_richcompare, TimerHandle_richcompare},
    {Py_tp_traverse, TimerHandle_traverse},
    {Py_tp_clear, TimerHandle_clear},
    {Py_tp_dealloc, TimerHandle_dealloc},
    {0, NULL},
};

PyType_Spec fl_timer_handle_spec = {
    .name = "fastloop.TimerHandle",
    .basicsize = sizeof(TimerHandleObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = TimerHandle_slots,
};
