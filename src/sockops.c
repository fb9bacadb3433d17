/* The hot sock_* calls: sock_recv, sock_recv_into and sock_sendall.
 *
 * Each tries the system call at once, in C: data that is already there, or
 * room in the socket buffer, costs no Python exception and no future.  Only
 * when the call would block does it make a future (loop.create_future())
 * and wait: a SockWaiter, the fd's owner in the loop's fd table, keeps one
 * pending read and one pending write operation per fd, and finishes them
 * straight from the poll loop, without a Handle or a done-callback.
 *
 * As in asyncio, a cancelled operation does nothing more: the coroutine
 * that gave up on it calls sock_forget(), which drops it and the interest
 * in the fd at once (and a future found done at an event is dropped too).
 * Interest in the fd is dropped as soon as no operation is pending, so
 * closing the socket afterwards leaves nothing registered.
 */
#include "transport.h"

#include <errno.h>
#include <sys/socket.h>

enum { OP_NONE, OP_RECV, OP_RECV_INTO, OP_SENDALL };

typedef struct {
    PyObject *fut;          /* NULL when no operation is pending */
    PyObject *obj;          /* recv_into: the buffer; sendall: the data */
    Py_ssize_t size;        /* recv: bytes asked for; sendall: bytes sent so far */
    int op;
} sock_op;

typedef struct {
    PyObject_HEAD
    LoopObject *loop;
    int fd;
    sock_op read;
    sock_op write;
} WaiterObject;

static void
op_clear(sock_op *op)
{
    PyObject *fut = op->fut, *obj = op->obj;
    op->fut = op->obj = NULL;
    op->op = OP_NONE;
    Py_XDECREF(fut);
    Py_XDECREF(obj);
}

/* Make the fd's interest match the pending operations; with none left the
 * waiter leaves the fd table (which may drop the last reference the table
 * held: callers hold their own). */
static int
waiter_sync(WaiterObject *self)
{
    unsigned events = (self->read.fut ? POLLER_READABLE : 0)
                      | (self->write.fut ? POLLER_WRITABLE : 0);
    if (events == 0) {
        fl_io_detach(self->loop, self->fd, (PyObject *)self);
        return 0;
    }
    return fl_io_set_owner_events(self->loop, self->fd, (PyObject *)self, events);
}

/* ---- the operations ---------------------------------------------------- */

/* Each returns a new reference to the result, NULL with EAGAIN in *err (no
 * exception set), or NULL with an exception set and *err == 0. */

static PyObject *
do_recv(fl_state *st, int fd, Py_ssize_t n, int *err)
{
    char *buf = st->net.recv_buffer;
    char *owned = NULL;
    if (n > FL_RECV_MAX) {
        buf = owned = PyMem_Malloc((size_t)n);
        if (owned == NULL) {
            return PyErr_NoMemory();
        }
    }
    ssize_t got = recv(fd, buf, (size_t)n, 0);
    PyObject *result = NULL;
    if (got < 0) {
        if (fl_would_block(errno)) {
            *err = EAGAIN;
        }
        else {
            PyErr_SetFromErrno(PyExc_OSError);
        }
    }
    else {
        if (got >= FL_BIG_READ) {
            fl_net_before_big_reads();
        }
        result = PyBytes_FromStringAndSize(buf, got);
    }
    PyMem_Free(owned);
    return result;
}

static PyObject *
do_recv_into(int fd, PyObject *target, int *err)
{
    Py_buffer view;
    if (PyObject_GetBuffer(target, &view, PyBUF_WRITABLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
            /* the socket module's wording */
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "recv_into() argument 1 must be read-write bytes-like object, not %.200s",
                         Py_TYPE(target)->tp_name);
        }
        return NULL;
    }
    ssize_t got = recv(fd, view.buf, (size_t)view.len, 0);
    int e = errno;
    PyBuffer_Release(&view);
    if (got < 0) {
        if (fl_would_block(e)) {
            *err = EAGAIN;
            return NULL;
        }
        errno = e;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromSsize_t(got);
}

/* Send data[*pos:]; Py_None once all of it is out. */
static PyObject *
do_sendall(int fd, PyObject *data, Py_ssize_t *pos, int *err)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    while (*pos < view.len) {
        ssize_t sent = send(fd, (char *)view.buf + *pos, (size_t)(view.len - *pos), MSG_NOSIGNAL);
        if (sent < 0) {
            int e = errno;
            PyBuffer_Release(&view);
            if (fl_would_block(e)) {
                *err = EAGAIN;
                return NULL;
            }
            errno = e;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        *pos += sent;
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyObject *
run_op(WaiterObject *self, sock_op *op, int *err)
{
    switch (op->op) {
    case OP_RECV:
        return do_recv(self->loop->state, self->fd, op->size, err);
    case OP_RECV_INTO:
        return do_recv_into(self->fd, op->obj, err);
    case OP_SENDALL:
        return do_sendall(self->fd, op->obj, &op->size, err);
    default:
        PyErr_SetString(PyExc_SystemError, "fastloop: bad socket operation");
        return NULL;
    }
}

static int
future_done(fl_state *st, PyObject *fut)
{
    if (Py_IS_TYPE(fut, st->FutureType)) {
        return ((FutureObject *)fut)->state != FUT_PENDING;
    }
    PyObject *r = PyObject_CallMethod(fut, "done", NULL);
    if (r == NULL) {
        return -1;
    }
    int done = PyObject_IsTrue(r);
    Py_DECREF(r);
    return done;
}

/* The fd is ready for op: finish it if it can be.  -1 only for what must
 * stop the loop. */
static int
progress(WaiterObject *self, sock_op *op)
{
    PyObject *fut = Py_NewRef(op->fut);
    int status = 0;
    fl_state *st = self->loop->state;
    int done = future_done(st, fut);
    if (done != 0) {
        /* cancelled meanwhile (or done() itself failed): drop it */
        if (op->fut == fut) {
            op_clear(op);
        }
        Py_DECREF(fut);
        return done < 0 ? -1 : 0;
    }
    int err = 0;
    PyObject *result = run_op(self, op, &err);
    if (result == NULL && err == EAGAIN) {
        Py_DECREF(fut);
        return 0;   /* spurious: wait on */
    }
    if (op->fut == fut) {
        op_clear(op);
    }
    int exact = Py_IS_TYPE(fut, st->FutureType);
    PyObject *r;
    if (result != NULL) {
        if (exact) {
            /* Pending, checked above, and nothing ran since. */
            r = fl_future_set_result((FutureObject *)fut, result) < 0 ? NULL : Py_NewRef(Py_None);
        }
        else {
            r = PyObject_CallMethod(fut, "set_result", "O", result);
        }
        Py_DECREF(result);
    }
    else {
        if (fl_error_stops_loop()) {
            Py_DECREF(fut);
            return -1;
        }
        PyObject *exc = fl_fetch_exception();
        if (exact) {
            r = fl_future_set_exception((FutureObject *)fut, exc) < 0 ? NULL : Py_NewRef(Py_None);
        }
        else {
            r = PyObject_CallMethod(fut, "set_exception", "O", exc);
        }
        Py_DECREF(exc);
    }
    if (r == NULL) {
        status = -1;
    }
    Py_XDECREF(r);
    Py_DECREF(fut);
    return status;
}

int
fl_waiter_on_event(PyObject *owner, unsigned events)
{
    WaiterObject *self = (WaiterObject *)owner;
    int status = 0;
    if ((events & POLLER_READABLE) && self->read.fut != NULL) {
        status = progress(self, &self->read);
    }
    if (status == 0 && (events & POLLER_WRITABLE) && self->write.fut != NULL) {
        status = progress(self, &self->write);
    }
    if (waiter_sync(self) < 0 && status == 0) {
        status = -1;
    }
    return status;
}

/* ---- starting an operation --------------------------------------------- */

static int
sock_fd(fl_state *st, PyObject *sock)
{
    PyObject *r = PyObject_CallMethodNoArgs(sock, st->str_fileno);
    if (r == NULL) {
        return -2;
    }
    long fd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (fd == -1 && PyErr_Occurred()) {
        return -2;
    }
    /* -1 (a closed socket) goes on to the system call, which reports EBADF
     * as the socket module would. */
    return fd > INT32_MAX ? -1 : (int)fd;
}

/* Wait for the fd to become ready for op; the future to await, or NULL. */
static PyObject *
wait_for(LoopObject *loop, int fd, int kind, PyObject *obj, Py_ssize_t size)
{
    fl_state *st = loop->state;
    /* As asyncio: the future first, then the check that no transport owns
     * the fd (fl_io_attach makes it when a waiter takes the fd over). */
    PyObject *fut = PyObject_CallMethodNoArgs((PyObject *)loop, st->net.str_create_future);
    if (fut == NULL) {
        return NULL;
    }
    /* create_future() may have run Python code: look the owner up now */
    PyObject *owner = fl_io_owner(loop, fd);
    WaiterObject *w;
    if (owner != NULL && Py_IS_TYPE(owner, st->net.WaiterType)) {
        w = (WaiterObject *)Py_NewRef(owner);
    }
    else {
        w = PyObject_GC_New(WaiterObject, st->net.WaiterType);
        if (w == NULL) {
            Py_DECREF(fut);
            return NULL;
        }
        w->loop = (LoopObject *)Py_NewRef((PyObject *)loop);
        w->fd = fd;
        memset(&w->read, 0, sizeof(w->read));
        memset(&w->write, 0, sizeof(w->write));
        PyObject_GC_Track(w);
        if (fl_io_attach(loop, fd, (PyObject *)w) < 0) {
            Py_DECREF(w);
            Py_DECREF(fut);
            return NULL;
        }
    }
    sock_op *op = kind == OP_SENDALL ? &w->write : &w->read;
    /* A second operation of the same kind on the fd replaces the first,
     * whose future then never completes: asyncio's behaviour too. */
    op_clear(op);
    op->fut = Py_NewRef(fut);
    op->obj = Py_XNewRef(obj);
    op->size = size;
    op->op = kind;
    if (waiter_sync(w) < 0) {
        op_clear(op);
        (void)waiter_sync(w);
        Py_DECREF(w);
        Py_DECREF(fut);
        return NULL;
    }
    Py_DECREF(w);
    return fut;
}

static int
parse_loop_sock(PyObject *module, PyObject *const *args, Py_ssize_t nargs, const char *name,
                LoopObject **loop, int *fd)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "%s() takes 3 arguments", name);
        return -1;
    }
    fl_state *st = fl_get_state(module);
    if (!PyObject_TypeCheck(args[0], st->LoopType)) {
        PyErr_Format(PyExc_TypeError, "%s() needs a fastloop loop", name);
        return -1;
    }
    *loop = (LoopObject *)args[0];
    if ((*loop)->closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    *fd = sock_fd(st, args[1]);
    return *fd == -2 ? -1 : 0;
}

/* sock_recv(loop, sock, n): bytes, or a future of them. */
static PyObject *
sockops_recv(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    LoopObject *loop;
    int fd;
    if (parse_loop_sock(module, args, nargs, "sock_recv", &loop, &fd) < 0) {
        return NULL;
    }
    Py_ssize_t n = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffersize in recv");
        return NULL;
    }
    int err = 0;
    PyObject *data = do_recv(loop->state, fd, n, &err);
    if (data != NULL || err != EAGAIN) {
        return data;
    }
    return wait_for(loop, fd, OP_RECV, NULL, n);
}

/* sock_recv_into(loop, sock, buf): an int, or a future of one. */
static PyObject *
sockops_recv_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    LoopObject *loop;
    int fd;
    if (parse_loop_sock(module, args, nargs, "sock_recv_into", &loop, &fd) < 0) {
        return NULL;
    }
    int err = 0;
    PyObject *n = do_recv_into(fd, args[2], &err);
    if (n != NULL || err != EAGAIN) {
        return n;
    }
    return wait_for(loop, fd, OP_RECV_INTO, args[2], 0);
}

/* sock_sendall(loop, sock, data): None once all is sent, or a future. */
static PyObject *
sockops_sendall(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    LoopObject *loop;
    int fd;
    if (parse_loop_sock(module, args, nargs, "sock_sendall", &loop, &fd) < 0) {
        return NULL;
    }
    Py_ssize_t pos = 0;
    int err = 0;
    PyObject *r = do_sendall(fd, args[2], &pos, &err);
    if (r != NULL || err != EAGAIN) {
        return r;
    }
    /* Keep a private copy of what is left unless it cannot change. */
    PyObject *rest;
    if (PyBytes_CheckExact(args[2])) {
        rest = Py_NewRef(args[2]);
    }
    else {
        Py_buffer view;
        if (PyObject_GetBuffer(args[2], &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        rest = PyBytes_FromStringAndSize((char *)view.buf + pos, view.len - pos);
        PyBuffer_Release(&view);
        pos = 0;
        if (rest == NULL) {
            return NULL;
        }
    }
    PyObject *fut = wait_for(loop, fd, OP_SENDALL, rest, pos);
    Py_DECREF(rest);
    return fut;
}

/* sock_forget(loop, fd, fut): the awaiting coroutine gave up on fut
 * (cancelled): drop its operation and the interest in the fd now, as
 * asyncio's done-callback does, rather than at the next event. */
static PyObject *
sockops_forget(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "sock_forget() takes 3 arguments");
        return NULL;
    }
    fl_state *st = fl_get_state(module);
    if (!PyObject_TypeCheck(args[0], st->LoopType)) {
        PyErr_SetString(PyExc_TypeError, "sock_forget() needs a fastloop loop");
        return NULL;
    }
    long fd = PyLong_AsLong(args[1]);
    if (fd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    LoopObject *loop = (LoopObject *)args[0];
    PyObject *owner = fd < 0 || fd > INT32_MAX ? NULL : fl_io_owner(loop, (int)fd);
    if (owner == NULL || !Py_IS_TYPE(owner, st->net.WaiterType)) {
        Py_RETURN_NONE;
    }
    WaiterObject *w = (WaiterObject *)Py_NewRef(owner);
    if (w->read.fut == args[2]) {
        op_clear(&w->read);
    }
    if (w->write.fut == args[2]) {
        op_clear(&w->write);
    }
    int status = waiter_sync(w);
    Py_DECREF(w);
    if (status < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyMethodDef fl_sockops_methods[] = {
    {"sock_recv", (PyCFunction)(void (*)(void))sockops_recv, METH_FASTCALL,
     "sock_recv(loop, sock, n): bytes received now, or a future of them."},
    {"sock_recv_into", (PyCFunction)(void (*)(void))sockops_recv_into, METH_FASTCALL,
     "sock_recv_into(loop, sock, buf): bytes received now, or a future of the count."},
    {"sock_sendall", (PyCFunction)(void (*)(void))sockops_sendall, METH_FASTCALL,
     "sock_sendall(loop, sock, data): None when all is sent now, or a future."},
    {"sock_forget", (PyCFunction)(void (*)(void))sockops_forget, METH_FASTCALL,
     "sock_forget(loop, fd, fut): drop the pending operation whose future is fut."},
    {NULL, NULL, 0, NULL},
};

/* ---- the waiter type --------------------------------------------------- */

static int
Waiter_traverse(WaiterObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->loop);
    Py_VISIT(self->read.fut);
    Py_VISIT(self->read.obj);
    Py_VISIT(self->write.fut);
    Py_VISIT(self->write.obj);
    return 0;
}

static int
Waiter_clear(WaiterObject *self)
{
    if (self->loop != NULL) {
        fl_io_detach(self->loop, self->fd, (PyObject *)self);
    }
    op_clear(&self->read);
    op_clear(&self->write);
    Py_CLEAR(self->loop);
    return 0;
}

static void
Waiter_dealloc(WaiterObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)Waiter_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
Waiter_repr(WaiterObject *self)
{
    return PyUnicode_FromFormat("<fastloop socket waiter fd=%d%s%s>", self->fd,
                                self->read.fut ? " reading" : "", self->write.fut ? " writing" : "");
}

static PyType_Slot Waiter_slots[] = {
    {Py_tp_doc, "Pending sock_* operations on one fd."},
    {Py_tp_repr, Waiter_repr},
    {Py_tp_traverse, Waiter_traverse},
    {Py_tp_clear, Waiter_clear},
    {Py_tp_dealloc, Waiter_dealloc},
    {0, NULL},
};

PyType_Spec fl_waiter_spec = {
    .name = "fastloop._core.SockWaiter",
    .basicsize = sizeof(WaiterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Waiter_slots,
};
