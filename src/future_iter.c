/* fastloop.Future's await iterator: what `await future` and
 * `yield from future` iterate.  It yields the future once (with
 * _asyncio_future_blocking set, which tells a Task to wait for it) and then
 * returns the future's result, or raises its exception. */
#include "fastloop.h"

typedef struct {
    PyObject_HEAD
    FutureObject *future;   /* NULL once the iteration ended */
} FutureIterObject;

PyObject *
fl_future_iter_new(fl_state *st, PyObject *fut)
{
    FutureIterObject *it = PyObject_GC_New(FutureIterObject, st->FutureIterType);
    if (it == NULL) {
        return NULL;
    }
    it->future = (FutureObject *)Py_NewRef(fut);
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

static PySendResult
FutureIter_am_send(PyObject *self, PyObject *Py_UNUSED(arg), PyObject **presult)
{
    FutureIterObject *it = (FutureIterObject *)self;
    FutureObject *fut = it->future;
    *presult = NULL;
    if (fut == NULL) {
        *presult = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    }
    if (fut->state == FUT_PENDING) {
        if (!fut->blocking) {
            fut->blocking = 1;
            *presult = Py_NewRef((PyObject *)fut);
            return PYGEN_NEXT;
        }
        PyErr_SetString(PyExc_RuntimeError, "await wasn't used with future");
        return PYGEN_ERROR;
    }
    it->future = NULL;
    PyObject *result;
    int status = fl_future_get_result(fut, &result);
    Py_DECREF(fut);
    if (status == 0) {
        *presult = result;
        return PYGEN_RETURN;
    }
    if (status == 1) {
        fl_raise_exception_object(result);
        Py_DECREF(result);
    }
    return PYGEN_ERROR;
}

static PyObject *
FutureIter_iternext(PyObject *self)
{
    PyObject *result;
    switch (FutureIter_am_send(self, Py_None, &result)) {
    case PYGEN_NEXT:
        return result;
    case PYGEN_RETURN:
        if (result != Py_None) {
            /* StopIteration(result), built explicitly so that a tuple
             * result is not taken for the exception's arguments. */
            PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, result);
            if (stop != NULL) {
                PyErr_SetObject(PyExc_StopIteration, stop);
                Py_DECREF(stop);
            }
        }
        Py_DECREF(result);
        return NULL;
    default:
        return NULL;
    }
}

static PyObject *
FutureIter_send(PyObject *self, PyObject *Py_UNUSED(value))
{
    /* Tasks and `yield from` only ever send None; asyncio ignores the
     * value too. */
    return FutureIter_iternext(self);
}

static PyObject *
FutureIter_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    FutureIterObject *it = (FutureIterObject *)self;
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "throw expected at least 1 argument and at most 3, got %zd",
                     nargs);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (nargs > 1 && PyErr_WarnEx(PyExc_DeprecationWarning,
                                  "the (type, exc, tb) signature of throw() is deprecated, "
                                  "use the single-arg signature instead.", 1) < 0) {
        return NULL;
    }
#endif
    PyObject *type = args[0];
    PyObject *value = nargs > 1 ? args[1] : Py_None;
    PyObject *tb = nargs > 2 ? args[2] : Py_None;
    if (tb != Py_None && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback");
        return NULL;
    }
    PyObject *exc;
    if (PyExceptionClass_Check(type)) {
        if (value != Py_None && PyObject_TypeCheck(value, (PyTypeObject *)type)) {
            exc = Py_NewRef(value);
        }
        else if (value == Py_None) {
            exc = PyObject_CallNoArgs(type);
        }
        else if (PyTuple_Check(value)) {
            exc = PyObject_Call(type, value, NULL);
        }
        else {
            exc = PyObject_CallOneArg(type, value);
        }
        if (exc == NULL) {
            return NULL;
        }
        if (!PyExceptionInstance_Check(exc)) {
            PyErr_Format(PyExc_TypeError,
                         "calling %R should have returned an instance of BaseException, not %s",
                         type, Py_TYPE(exc)->tp_name);
            Py_DECREF(exc);
            return NULL;
        }
    }
    else if (PyExceptionInstance_Check(type)) {
        if (value != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "instance exception may not have a separate value");
            return NULL;
        }
        exc = Py_NewRef(type);
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes deriving BaseException or "
                     "instances of such a class, not %s", Py_TYPE(type)->tp_name);
        return NULL;
    }
    if (tb != Py_None && PyException_SetTraceback(exc, tb) < 0) {
        Py_DECREF(exc);
        return NULL;
    }
    Py_CLEAR(it->future);
    fl_restore_exception(exc);
    return NULL;
}

static PyObject *
FutureIter_close(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(((FutureIterObject *)self)->future);
    Py_RETURN_NONE;
}

static int
FutureIter_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((FutureIterObject *)self)->future);
    return 0;
}

static int
FutureIter_clear(PyObject *self)
{
    Py_CLEAR(((FutureIterObject *)self)->future);
    return 0;
}

static void
FutureIter_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)FutureIter_clear(self);
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

static PyMethodDef FutureIter_methods[] = {
    {"send", FutureIter_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))FutureIter_throw, METH_FASTCALL, NULL},
    {"close", FutureIter_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot FutureIter_slots[] = {
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, FutureIter_iternext},
    {Py_am_send, FutureIter_am_send},
    {Py_tp_methods, FutureIter_methods},
    {Py_tp_traverse, FutureIter_traverse},
    {Py_tp_clear, FutureIter_clear},
    {Py_tp_dealloc, FutureIter_dealloc},
    {0, NULL},
};

PyType_Spec fl_future_iter_spec = {
    .name = "fastloop.FutureIter",
    .basicsize = sizeof(FutureIterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = FutureIter_slots,
};
