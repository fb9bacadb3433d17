/* Listening sockets: accept connections in batches, straight from the poll
 * loop.
 *
 * A Listener watches one listening socket for asyncio's Server.  On each
 * readable event it accepts up to `backlog` connections (as asyncio's
 * _accept_connection does) with accept4(), so each new socket is already
 * non-blocking and close-on-exec, and hands each (fd, address) to the
 * Python side, which builds the socket object, protocol and transport.
 * A failed accept goes to on_error: for EMFILE and its kin the Python side
 * stops listening for a while, since the kernel keeps reporting the socket
 * readable and accepting again at once would spin.
 */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The address as socket.accept() gives it, or None for families this does
 * not decode (the Python side then asks getpeername()). */
static PyObject *
make_address(const struct sockaddr_storage *ss, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];
    switch (ss->ss_family) {
    case AF_INET: {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host)) == NULL) {
            break;
        }
        return Py_BuildValue("(si)", host, (int)ntohs(a->sin_port));
    }
    case AF_INET6: {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host)) == NULL) {
            break;
        }
        return Py_BuildValue("(siII)", host, (int)ntohs(a->sin6_port),
                             (unsigned int)ntohl(a->sin6_flowinfo),
                             (unsigned int)a->sin6_scope_id);
    }
    case AF_UNIX: {
        const struct sockaddr_un *a = (const struct sockaddr_un *)ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if ((size_t)len <= off) {
            return PyUnicode_FromString("");
        }
        size_t n = (size_t)len - off;
        if (a->sun_path[0] == '\0') {
            /* Linux abstract namespace: bytes, as the socket module gives */
            return PyBytes_FromStringAndSize(a->sun_path, (Py_ssize_t)n);
        }
        return PyUnicode_DecodeFSDefault(a->sun_path);
    }
    default:
        break;
    }
    Py_RETURN_NONE;
}

static int
set_listening(ListenerObject *self, int on)
{
    if (self->closed || self->listening == on) {
        return 0;
    }
    int status = fl_io_set_owner_events(self->loop, self->fd, (PyObject *)self,
                                        on ? POLLER_READABLE : 0);
    if (status == 0) {
        /* Only once the poller agrees: a failed start may be retried. */
        self->listening = (char)on;
    }
    return status;
}

static int
accepted(ListenerObject *self, int fd, const struct sockaddr_storage *ss, socklen_t len)
{
    PyObject *address = make_address(ss, len);
    PyObject *fd_obj = address ? PyLong_FromLong(fd) : NULL;
    if (fd_obj == NULL) {
        Py_XDECREF(address);
        close(fd);
        return -1;
    }
    PyObject *on_accept = Py_NewRef(self->on_accept);
    PyObject *args[2] = {fd_obj, address};
    /* From here on the Python side owns the fd. */
    PyObject *r = PyObject_Vectorcall(on_accept, args, 2, NULL);
    Py_DECREF(on_accept);
    Py_DECREF(fd_obj);
    Py_DECREF(address);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

int
fl_listener_on_event(ListenerObject *self, unsigned Py_UNUSED(events))
{
    for (int i = 0; i < self->backlog && self->listening && !self->closed; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(self->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) {
                return 0;
            }
            PyObject *exc = fl_oserror_from_errno(err);
            if (exc == NULL) {
                return -1;
            }
            PyObject *on_error = Py_NewRef(self->on_error);
            PyObject *r = PyObject_CallOneArg(on_error, exc);
            Py_DECREF(on_error);
            Py_DECREF(exc);
            if (r == NULL) {
                return -1;
            }
            Py_DECREF(r);
            return 0;
        }
        if (accepted(self, fd, &ss, len) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- Python API -------------------------------------------------------- */

static PyObject *
Listener_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *loop, *sock, *on_accept, *on_error;
    int backlog;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Listener() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OOOOi:Listener", &loop, &sock, &on_accept, &on_error,
                          &backlog)) {
        return NULL;
    }
    fl_state *st = fl_state_from_type(type);
    if (st == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(loop, st->LoopType)) {
        PyErr_SetString(PyExc_TypeError, "Listener() needs a fastloop loop");
        return NULL;
    }
    int fd = fl_net_sock_fd(st, sock);
    if (fd < 0) {
        return NULL;
    }
    ListenerObject *self = (ListenerObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->fd = fd;
    self->backlog = backlog > 0 ? backlog : 1;
    self->sock = Py_NewRef(sock);
    self->on_accept = Py_NewRef(on_accept);
    self->on_error = Py_NewRef(on_error);
    if (fl_io_attach((LoopObject *)loop, self->fd, (PyObject *)self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->loop = (LoopObject *)Py_NewRef(loop);
    return (PyObject *)self;
}

static PyObject *
Listener_start(ListenerObject *self, PyObject *Py_UNUSED(ignored))
{
    if (set_listening(self, 1) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Listener_pause(ListenerObject *self, PyObject *Py_UNUSED(ignored))
{
    if (set_listening(self, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static void
listener_detach(ListenerObject *self)
{
    if (self->loop != NULL && !self->closed) {
        self->listening = 0;
        fl_io_detach(self->loop, self->fd, (PyObject *)self);
    }
    self->closed = 1;
}

static PyObject *
Listener_close(ListenerObject *self, PyObject *Py_UNUSED(ignored))
{
    listener_detach(self);
    Py_RETURN_NONE;
}

static PyObject *
Listener_repr(ListenerObject *self)
{
    return PyUnicode_FromFormat("<fastloop Listener fd=%d%s>", self->fd,
                                self->closed ? " closed" : (self->listening ? " listening" : ""));
}

static int
Listener_traverse(ListenerObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->loop);
    Py_VISIT(self->sock);
    Py_VISIT(self->on_accept);
    Py_VISIT(self->on_error);
    return 0;
}

static int
Listener_clear(ListenerObject *self)
{
    listener_detach(self);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->on_accept);
    Py_CLEAR(self->on_error);
    return 0;
}

static void
Listener_dealloc(ListenerObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    (void)Listener_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef Listener_methods[] = {
    {"start", (PyCFunction)Listener_start, METH_NOARGS, "Accept connections as they come."},
    {"pause", (PyCFunction)Listener_pause, METH_NOARGS, "Stop accepting for now."},
    {"close", (PyCFunction)Listener_close, METH_NOARGS,
     "Stop for good (the socket itself is the caller's to close)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Listener_members[] = {
    {"__weaklistoffset__", FL_T_PYSSIZET, offsetof(ListenerObject, weakreflist), FL_READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Listener_slots[] = {
    {Py_tp_doc, "Listener(loop, sock, on_accept, on_error, backlog): accepts for a Server."},
    {Py_tp_new, Listener_new},
    {Py_tp_methods, Listener_methods},
    {Py_tp_members, Listener_members},
    {Py_tp_repr, Listener_repr},
    {Py_tp_traverse, Listener_traverse},
    {Py_tp_clear, Listener_clear},
    {Py_tp_dealloc, Listener_dealloc},
    {0, NULL},
};

PyType_Spec fl_listener_spec = {
    .name = "fastloop._core.Listener",
    .basicsize = sizeof(ListenerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Listener_slots,
};
