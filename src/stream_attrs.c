/* The stream transport's read-only side: get_extra_info(), repr, and the
 * private attributes of asyncio's socket transport, read-only, shadowing
 * the __slots__ inherited from asyncio's _FlowControlMixin.  asyncio's own
 * code reads _loop, _protocol_paused, _sock, _extra and the water marks;
 * the rest (_sock_fd, _conn_lost, _closing, _paused, _eof, _server,
 * _protocol) are there for programs and debugging tools that inspect an
 * asyncio transport's state.
 */
#include "transport.h"

PyObject *
fl_transport_get_extra_info(TransportObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const names[] = {"name", "default"};
    PyObject *values[2] = {NULL, Py_None};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError,
                     "get_extra_info() takes from 2 to 3 positional arguments but %zd were given",
                     nargs + 1);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        values[i] = args[i];
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        int found = 0;
        for (int j = 0; j < 2; j++) {
            if (PyUnicode_CompareWithASCIIString(key, names[j]) == 0) {
                if (j < nargs) {
                    PyErr_Format(PyExc_TypeError,
                                 "get_extra_info() got multiple values for argument '%s'",
                                 names[j]);
                    return NULL;
                }
                values[j] = args[nargs + i];
                found = 1;
            }
        }
        if (!found) {
            PyErr_Format(PyExc_TypeError,
                         "get_extra_info() got an unexpected keyword argument '%U'", key);
            return NULL;
        }
    }
    if (values[0] == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "get_extra_info() missing 1 required positional argument: 'name'");
        return NULL;
    }
    PyObject *value = PyDict_GetItemWithError(self->extra, values[0]);
    if (value == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        value = values[1];
    }
    return Py_NewRef(value);
}

PyObject *
fl_transport_repr(TransportObject *self)
{
    /* asyncio's repr with this type's own name: "<SocketTransport fd=7
     * read=polling write=<idle, bufsize=0>>" */
    const char *name = "SocketTransport";
    const char *state = self->sock == NULL ? " closed" : (self->closing ? " closing" : "");
    if (self->loop == NULL || self->loop->closed) {
        return PyUnicode_FromFormat("<%s%s fd=%d>", name, state, self->fd);
    }
    return PyUnicode_FromFormat("<%s%s fd=%d read=%s write=<%s, bufsize=%zd>>", name, state,
                                self->fd, self->reading ? "polling" : "idle",
                                self->writing ? "polling" : "idle", self->buffer_size);
}

/* ---- attributes asyncio code reads ------------------------------------- */

static PyObject *
get_loop_attr(TransportObject *self, void *Py_UNUSED(c))
{
    return Py_NewRef(self->loop ? (PyObject *)self->loop : Py_None);
}

static PyObject *
get_protocol_paused(TransportObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->protocol_paused);
}

static PyObject *
get_sock(TransportObject *self, void *Py_UNUSED(c))
{
    return Py_NewRef(self->sock ? self->sock : Py_None);
}

static PyObject *
get_sock_fd(TransportObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromLong(self->fd);
}

static PyObject *
get_protocol_attr(TransportObject *self, void *Py_UNUSED(c))
{
    return Py_NewRef(self->protocol ? self->protocol : Py_None);
}

static PyObject *
get_extra(TransportObject *self, void *Py_UNUSED(c))
{
    return Py_NewRef(self->extra);
}

static PyObject *
get_high_water(TransportObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromSsize_t(self->high_water);
}

static PyObject *
get_low_water(TransportObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromSsize_t(self->low_water);
}

static PyObject *
get_closing(TransportObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->closing);
}

static PyObject *
get_conn_lost(TransportObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromLong(self->conn_lost);
}

static PyObject *
get_server(TransportObject *self, void *Py_UNUSED(c))
{
    return Py_NewRef(self->server ? self->server : Py_None);
}

static PyObject *
get_paused(TransportObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->paused);
}

static PyObject *
get_eof(TransportObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->eof);
}

PyGetSetDef fl_transport_getset[] = {
    {"_loop", (getter)get_loop_attr, NULL, NULL, NULL},
    {"_protocol_paused", (getter)get_protocol_paused, NULL, NULL, NULL},
    {"_sock", (getter)get_sock, NULL, NULL, NULL},
    {"_sock_fd", (getter)get_sock_fd, NULL, NULL, NULL},
    {"_protocol", (getter)get_protocol_attr, NULL, NULL, NULL},
    {"_extra", (getter)get_extra, NULL, NULL, NULL},
    {"_high_water", (getter)get_high_water, NULL, NULL, NULL},
    {"_low_water", (getter)get_low_water, NULL, NULL, NULL},
    {"_closing", (getter)get_closing, NULL, NULL, NULL},
    {"_conn_lost", (getter)get_conn_lost, NULL, NULL, NULL},
    {"_server", (getter)get_server, NULL, NULL, NULL},
    {"_paused", (getter)get_paused, NULL, NULL, NULL},
    {"_eof", (getter)get_eof, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
