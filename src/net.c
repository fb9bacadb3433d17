/* Stream sockets: module set-up of the transport and listener types, and
 * the dispatch of READY_IO entries to them.
 */
#include "transport.h"

#include <stdlib.h>

int
fl_net_sock_fd(fl_state *st, PyObject *sock)
{
    long fd;
    if (fl_call_fileno(st, sock, &fd) < 0) {
        return -1;
    }
    if (fd < 0 || fd > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %ld", fd);
        return -1;
    }
    return (int)fd;
}

int
fl_net_on_event(LoopObject *loop, PyObject *owner, unsigned events)
{
    fl_state *st = loop->state;
    int status;
    if (Py_IS_TYPE(owner, st->net.SocketTransportType)) {
        status = fl_transport_on_event((TransportObject *)owner, events);
    }
    else if (Py_IS_TYPE(owner, st->net.ListenerType)) {
        status = fl_listener_on_event((ListenerObject *)owner, events);
    }
    else if (Py_IS_TYPE(owner, st->net.WaiterType)) {
        status = fl_waiter_on_event(owner, events);
    }
    else {
        PyErr_Format(PyExc_SystemError, "fastloop: %R cannot own an fd", owner);
        return -1;
    }
    if (status < 0) {
        /* What escaped the transport's own error handling (the exception
         * handler failing, a failed shutdown()) is reported as asyncio
         * reports an exception from an I/O callback; KeyboardInterrupt and
         * SystemExit stop the loop. */
        PyObject *args = PyTuple_New(0);
        if (args == NULL) {
            return -1;
        }
        status = fl_report_callback_error(loop, owner, args, NULL);
        Py_DECREF(args);
    }
    return status;
}

int
fl_net_owner_claims(fl_state *st, PyObject *owner)
{
    /* Only a transport claims its fd, until it starts closing; add_reader()
     * on a listening socket is allowed, as in asyncio. */
    if (Py_IS_TYPE(owner, st->net.SocketTransportType)) {
        TransportObject *t = (TransportObject *)owner;
        return !t->closing && !t->fd_lent;
    }
    return 0;
}

static int
make_transport_type(PyObject *module, fl_state *st)
{
    PyObject *transports = PyImport_ImportModule("asyncio.transports");
    if (transports == NULL) {
        return -1;
    }
    PyObject *base = PyObject_GetAttrString(transports, "_FlowControlMixin");
    Py_DECREF(transports);
    if (base == NULL) {
        return -1;
    }
    /* The reserved slots must cover exactly the base's layout; if a future
     * asyncio changes it, fall back to a plain object base. */
    if (!PyType_Check(base)
            || ((PyTypeObject *)base)->tp_basicsize != offsetof(TransportObject, loop)) {
        Py_CLEAR(base);
    }
    PyObject *bases = base ? PyTuple_Pack(1, base) : NULL;
    Py_XDECREF(base);
    PyObject *type = PyType_FromModuleAndSpec(module, &fl_transport_spec, bases);
    Py_XDECREF(bases);
    if (type == NULL) {
        return -1;
    }
    st->net.SocketTransportType = (PyTypeObject *)type;
    if (PyObject_SetAttrString(type, "_start_tls_compatible", Py_True) < 0) {
        return -1;
    }
    PyObject *constants = PyImport_ImportModule("asyncio.constants");
    PyObject *modes = constants ? PyObject_GetAttrString(constants, "_SendfileMode") : NULL;
    PyObject *native = modes ? PyObject_GetAttrString(modes, "TRY_NATIVE") : NULL;
    Py_XDECREF(constants);
    Py_XDECREF(modes);
    if (native == NULL || PyObject_SetAttrString(type, "_sendfile_compatible", native) < 0) {
        Py_XDECREF(native);
        return -1;
    }
    Py_DECREF(native);
    PyObject *max_size = PyLong_FromLong(FL_RECV_MAX);
    if (max_size == NULL || PyObject_SetAttrString(type, "max_size", max_size) < 0) {
        Py_XDECREF(max_size);
        return -1;
    }
    Py_DECREF(max_size);
    return PyModule_AddObjectRef(module, "SocketTransport", type);
}

/* Big reads and glibc's heap.  glibc serves a request above its mmap
 * threshold (128 KiB at start) with a mapping of its own, and gives the top
 * of the heap back to the kernel whenever more than its trim threshold (also
 * 128 KiB at start) is free there.  A server that moves 100 KiB messages
 * over tens of connections (the bytes read, a StreamReader's bytearray and
 * its copies) keeps freeing megabytes at the top of the heap and growing it
 * again, and every page it grows by costs a page fault: 35-90 thousand
 * faults per 4000 messages, twice the CPU time of stock asyncio, whose
 * 256 KiB reads happen to leave the heap in another shape.  glibc raises
 * both thresholds by itself when a program frees a mapped block (mmap
 * threshold to the block's size, trim threshold to twice that); fastloop
 * frees one 4 MiB block, once per process, before its first big read, as a
 * program that once held a 4 MiB buffer would have.  Up to 8 MiB freed at
 * the top of the heap then stays with the process; the faults drop to about
 * 2 thousand.  Thresholds set by the user (mallopt, MALLOC_TRIM_THRESHOLD_
 * and MALLOC_MMAP_THRESHOLD_) turn glibc's adjustment off, and with another
 * C library this is one allocation and nothing more. */
#define FL_MALLOC_PRIMER (4 * 1024 * 1024)

void
fl_net_before_big_reads(void)
{
    static int done;
    if (!done) {
        done = 1;
        /* volatile: the compiler must not drop the malloc/free pair */
        void *volatile block = malloc(FL_MALLOC_PRIMER);
        free(block);
    }
}

int
fl_net_init(PyObject *module, fl_state *st)
{
    fl_net_state *net = &st->net;
#define INTERN(field, text) \
    if ((net->field = PyUnicode_InternFromString(text)) == NULL) return -1
    INTERN(str_connection_lost, "connection_lost");
    INTERN(str_data_received, "data_received");
    INTERN(str_eof_received, "eof_received");
    INTERN(str_get_buffer, "get_buffer");
    INTERN(str_buffer_updated, "buffer_updated");
    INTERN(str_pause_writing, "pause_writing");
    INTERN(str_resume_writing, "resume_writing");
    INTERN(str_close, "close");
    INTERN(str_create_future, "create_future");
    INTERN(str_attach, "_attach");
    INTERN(str_detach, "_detach");
    INTERN(str_transport, "transport");
    INTERN(str_protocol, "protocol");
#undef INTERN
    net->recv_buffer = PyMem_RawMalloc(FL_RECV_MAX);
    if (net->recv_buffer == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *protocols = PyImport_ImportModule("asyncio.protocols");
    if (protocols == NULL) {
        return -1;
    }
    net->BufferedProtocol = PyObject_GetAttrString(protocols, "BufferedProtocol");
    Py_DECREF(protocols);
    if (net->BufferedProtocol == NULL || make_transport_type(module, st) < 0) {
        return -1;
    }
    PyObject *listener = PyType_FromModuleAndSpec(module, &fl_listener_spec, NULL);
    if (listener == NULL) {
        return -1;
    }
    net->ListenerType = (PyTypeObject *)listener;
    if (PyModule_AddObjectRef(module, "Listener", listener) < 0) {
        return -1;
    }
    PyObject *waiter = PyType_FromModuleAndSpec(module, &fl_waiter_spec, NULL);
    if (waiter == NULL) {
        return -1;
    }
    net->WaiterType = (PyTypeObject *)waiter;
    return PyModule_AddFunctions(module, fl_sockops_methods);
}

int
fl_net_traverse(fl_state *st, visitproc visit, void *arg)
{
    Py_VISIT(st->net.SocketTransportType);
    Py_VISIT(st->net.ListenerType);
    Py_VISIT(st->net.WaiterType);
    Py_VISIT(st->net.BufferedProtocol);
    return 0;
}

void
fl_net_clear(fl_state *st)
{
    fl_net_state *net = &st->net;
    Py_CLEAR(net->SocketTransportType);
    Py_CLEAR(net->ListenerType);
    Py_CLEAR(net->WaiterType);
    Py_CLEAR(net->BufferedProtocol);
    Py_CLEAR(net->str_connection_lost);
    Py_CLEAR(net->str_data_received);
    Py_CLEAR(net->str_eof_received);
    Py_CLEAR(net->str_get_buffer);
    Py_CLEAR(net->str_buffer_updated);
    Py_CLEAR(net->str_pause_writing);
    Py_CLEAR(net->str_resume_writing);
    Py_CLEAR(net->str_close);
    Py_CLEAR(net->str_create_future);
    Py_CLEAR(net->str_attach);
    Py_CLEAR(net->str_detach);
    Py_CLEAR(net->str_transport);
    Py_CLEAR(net->str_protocol);
    PyMem_RawFree(net->recv_buffer);
    net->recv_buffer = NULL;
}
