/* The stream socket transport: TCP and Unix stream sockets.
 *
 * Behaves as asyncio's _SelectorSocketTransport, callback for callback, but
 * takes its fd's events straight from the poll loop (io.c queues a READY_IO
 * entry, no Handle), reads into one shared buffer and hands the protocol a
 * bytes object of the size that arrived, and writes at once when nothing is
 * buffered.  Interest in the fd changes only when asyncio would add or
 * remove its reader or writer: read interest stays registered while reading
 * is on, write interest while the buffer is not empty.
 *
 * Re-entrancy: every call into Python (protocol methods, the exception
 * handler, call_soon) may close, abort or write to this transport, or close
 * the loop.  References are owned in locals across such calls and the
 * state is read again after them.
 */
#include "transport.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define IOV_BATCH 1024

static fl_state *
tstate(TransportObject *self)
{
    return self->loop->state;
}

PyObject *
fl_oserror_from_errno(int err)
{
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    return fl_fetch_exception();
}

/* ---- fd interest ------------------------------------------------------- */

static int
update_interest(TransportObject *self)
{
    if (self->loop == NULL) {
        return 0;
    }
    unsigned events = (self->reading ? POLLER_READABLE : 0) | (self->writing ? POLLER_WRITABLE : 0);
    return fl_io_set_owner_events(self->loop, self->fd, (PyObject *)self, events);
}

static int
set_reading(TransportObject *self, int on)
{
    if (self->reading == on) {
        return 0;
    }
    self->reading = (char)on;
    return update_interest(self);
}

static int
set_writing(TransportObject *self, int on)
{
    if (self->writing == on) {
        return 0;
    }
    self->writing = (char)on;
    return update_interest(self);
}

/* ---- the write buffer -------------------------------------------------- */

static int
chunk_push(TransportObject *self, PyObject *bytes, Py_ssize_t offset)
{
    if (self->chunk_count == self->chunk_capacity) {
        size_t capacity = self->chunk_capacity ? self->chunk_capacity * 2 : 8;
        fl_chunk *chunks = PyMem_Malloc(capacity * sizeof(fl_chunk));
        if (chunks == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < self->chunk_count; i++) {
            chunks[i] = self->chunks[(self->chunk_head + i) % self->chunk_capacity];
        }
        PyMem_Free(self->chunks);
        self->chunks = chunks;
        self->chunk_capacity = capacity;
        self->chunk_head = 0;
    }
    fl_chunk *c = &self->chunks[(self->chunk_head + self->chunk_count) % self->chunk_capacity];
    c->bytes = Py_NewRef(bytes);
    c->offset = offset;
    self->chunk_count++;
    self->buffer_size += PyBytes_GET_SIZE(bytes) - offset;
    return 0;
}

/* Buffer data[offset:].  Only exact bytes objects are kept by reference:
 * they cannot change and their release runs no Python code.  Anything
 * else is copied, so a bytearray reused by the caller is safe. */
static int
buffer_data(TransportObject *self, PyObject *data, const char *buf, Py_ssize_t len,
            Py_ssize_t offset)
{
    if (PyBytes_CheckExact(data)) {
        return chunk_push(self, data, offset);
    }
    PyObject *copy = PyBytes_FromStringAndSize(buf + offset, len - offset);
    if (copy == NULL) {
        return -1;
    }
    int status = chunk_push(self, copy, 0);
    Py_DECREF(copy);
    return status;
}

static void
chunks_consume(TransportObject *self, Py_ssize_t n)
{
    self->buffer_size -= n;
    while (n > 0 && self->chunk_count) {
        fl_chunk *c = &self->chunks[self->chunk_head];
        Py_ssize_t left = PyBytes_GET_SIZE(c->bytes) - c->offset;
        if (n < left) {
            c->offset += n;
            return;
        }
        n -= left;
        Py_DECREF(c->bytes);
        self->chunk_head = (self->chunk_head + 1) % self->chunk_capacity;
        self->chunk_count--;
    }
}

static void
chunks_clear(TransportObject *self)
{
    while (self->chunk_count) {
        fl_chunk *c = &self->chunks[self->chunk_head];
        PyObject *b = c->bytes;
        self->chunk_head = (self->chunk_head + 1) % self->chunk_capacity;
        self->chunk_count--;
        Py_DECREF(b);
    }
    self->chunk_head = 0;
    self->buffer_size = 0;
}

/* sendmsg() of the head of the buffer.  Bytes sent, or -errno. */
static Py_ssize_t
chunks_send(TransportObject *self)
{
    struct iovec iov[IOV_BATCH];
    size_t n = self->chunk_count < IOV_BATCH ? self->chunk_count : IOV_BATCH;
    for (size_t i = 0; i < n; i++) {
        fl_chunk *c = &self->chunks[(self->chunk_head + i) % self->chunk_capacity];
        iov[i].iov_base = PyBytes_AS_STRING(c->bytes) + c->offset;
        iov[i].iov_len = (size_t)(PyBytes_GET_SIZE(c->bytes) - c->offset);
    }
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t sent = sendmsg(self->fd, &msg, MSG_NOSIGNAL);
    return sent < 0 ? -errno : sent;
}

/* ---- calls into Python ------------------------------------------------- */

/* protocol.<name>(arg or nothing); a new reference or NULL. */
static PyObject *
call_protocol(PyObject *protocol, PyObject *name, PyObject *arg)
{
    PyObject *args[2] = {protocol, arg};
    return PyObject_VectorcallMethod(name, args, (arg ? 2 : 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     NULL);
}

static int
call_exception_handler(LoopObject *loop, const char *message, PyObject *exc,
                       TransportObject *self, PyObject *protocol)
{
    fl_state *st = loop->state;
    PyObject *context = PyDict_New();
    if (context == NULL) {
        return -1;
    }
    PyObject *msg = PyUnicode_FromString(message);
    int status = -1;
    if (msg != NULL
            && PyDict_SetItem(context, st->str_message, msg) == 0
            && PyDict_SetItem(context, st->str_exception, exc) == 0
            && PyDict_SetItem(context, st->net.str_transport, (PyObject *)self) == 0
            && PyDict_SetItem(context, st->net.str_protocol, protocol ? protocol : Py_None) == 0) {
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)loop, st->str_call_exception_handler,
                                                context);
        if (r != NULL) {
            Py_DECREF(r);
            status = 0;
        }
    }
    Py_XDECREF(msg);
    Py_DECREF(context);
    return status;
}

static int
debug_log(TransportObject *self, const char *what, PyObject *extra_arg)
{
    fl_state *st = tstate(self);
    PyObject *text = PyUnicode_FromString(what);
    if (text == NULL) {
        return -1;
    }
    PyObject *args[3] = {(PyObject *)self, text, extra_arg ? extra_arg : Py_None};
    PyObject *r = fl_call_helper(st, "transport_debug", args, 3);
    Py_DECREF(text);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* loop.call_soon(self.<method>, arg) */
static int
schedule_method(TransportObject *self, const char *method, PyObject *arg)
{
    PyObject *bound = PyObject_GetAttrString((PyObject *)self, method);
    if (bound == NULL) {
        return -1;
    }
    int status = fl_call_soon(self->loop->state, (PyObject *)self->loop, bound, arg, NULL);
    Py_DECREF(bound);
    return status;
}

/* ---- loop.sendfile()'s empty waiter ------------------------------------ */

/* Complete the empty waiter with set_result(None) (exc NULL) or
 * set_exception(exc). */
static int
finish_empty_waiter(TransportObject *self, PyObject *exc)
{
    PyObject *waiter = self->empty_waiter;
    if (waiter == NULL) {
        return 0;
    }
    Py_INCREF(waiter);
    PyObject *r = exc ? PyObject_CallMethod(waiter, "set_exception", "O", exc)
                      : PyObject_CallMethod(waiter, "set_result", "O", Py_None);
    Py_DECREF(waiter);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static PyObject *
Transport_make_empty_waiter(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Empty waiter is already set");
        return NULL;
    }
    if (self->loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Transport is closed");
        return NULL;
    }
    PyObject *waiter = PyObject_CallMethod((PyObject *)self->loop, "create_future", NULL);
    if (waiter == NULL) {
        return NULL;
    }
    Py_XSETREF(self->empty_waiter, waiter);
    if (self->chunk_count == 0 && finish_empty_waiter(self, NULL) < 0) {
        return NULL;
    }
    return Py_NewRef(waiter);
}

static PyObject *
Transport_reset_empty_waiter(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(self->empty_waiter);
    Py_RETURN_NONE;
}

static PyObject *
Transport_lend_fd(TransportObject *self, PyObject *flag)
{
    int lent = PyObject_IsTrue(flag);
    if (lent < 0) {
        return NULL;
    }
    self->fd_lent = (char)lent;
    Py_RETURN_NONE;
}

/* ---- closing ----------------------------------------------------------- */

static int
force_close(TransportObject *self, PyObject *exc)
{
    if (self->conn_lost || self->loop == NULL) {
        return 0;
    }
    if (self->chunk_count) {
        chunks_clear(self);
        self->writing = 0;
    }
    if (!self->closing) {
        self->closing = 1;
        self->reading = 0;
    }
    self->conn_lost++;
    if (update_interest(self) < 0) {
        PyErr_Clear();
    }
    return schedule_method(self, "_call_connection_lost", exc ? exc : Py_None);
}

/* asyncio's _fatal_error: OSErrors (a reset peer, a broken pipe) close the
 * transport quietly, anything else goes to the exception handler first.
 * Steals exc.  -1 only for what must stop the loop. */
static int
fatal_error(TransportObject *self, PyObject *exc, const char *message)
{
    int status = 0;
    Py_INCREF(self);
    LoopObject *loop = self->loop ? (LoopObject *)Py_NewRef((PyObject *)self->loop) : NULL;
    if (loop == NULL) {
        goto done;
    }
    if (PyErr_GivenExceptionMatches(exc, PyExc_OSError)) {
        if (loop->debug && debug_log(self, message, exc) < 0) {
            status = -1;
            goto done;
        }
    }
    else {
        PyObject *protocol = Py_XNewRef(self->protocol);
        status = call_exception_handler(loop, message, exc, self, protocol);
        Py_XDECREF(protocol);
        if (status < 0) {
            goto done;
        }
    }
    status = force_close(self, exc);
done:
    Py_XDECREF(loop);
    Py_DECREF(exc);
    Py_DECREF(self);
    return status;
}

/* Report the exception that a protocol method just raised: KeyboardInterrupt
 * and SystemExit propagate (-1), anything else is a fatal error. */
static int
protocol_failed(TransportObject *self, const char *message)
{
    if (fl_error_stops_loop()) {
        return -1;
    }
    return fatal_error(self, fl_fetch_exception(), message);
}

static int
flow_control_failed(TransportObject *self, const char *message)
{
    if (fl_error_stops_loop() || self->loop == NULL) {
        return -1;
    }
    PyObject *exc = fl_fetch_exception();
    LoopObject *loop = (LoopObject *)Py_NewRef((PyObject *)self->loop);
    PyObject *protocol = Py_XNewRef(self->protocol);
    int status = call_exception_handler(loop, message, exc, self, protocol);
    Py_XDECREF(protocol);
    Py_DECREF(loop);
    Py_DECREF(exc);
    return status;
}

static int
maybe_pause_protocol(TransportObject *self)
{
    if (self->buffer_size <= self->high_water || self->protocol_paused) {
        return 0;
    }
    self->protocol_paused = 1;
    PyObject *protocol = Py_NewRef(self->protocol ? self->protocol : Py_None);
    PyObject *r = call_protocol(protocol, tstate(self)->net.str_pause_writing, NULL);
    Py_DECREF(protocol);
    if (r == NULL) {
        return flow_control_failed(self, "protocol.pause_writing() failed");
    }
    Py_DECREF(r);
    return 0;
}

static int
maybe_resume_protocol(TransportObject *self)
{
    if (!self->protocol_paused || self->buffer_size > self->low_water || self->loop == NULL) {
        return 0;
    }
    self->protocol_paused = 0;
    PyObject *protocol = Py_NewRef(self->protocol ? self->protocol : Py_None);
    PyObject *r = call_protocol(protocol, tstate(self)->net.str_resume_writing, NULL);
    Py_DECREF(protocol);
    if (r == NULL) {
        return flow_control_failed(self, "protocol.resume_writing() failed");
    }
    Py_DECREF(r);
    return 0;
}

static int
shutdown_write(TransportObject *self)
{
    if (shutdown(self->fd, SHUT_WR) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *
Transport_close(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->closing || self->loop == NULL) {
        Py_RETURN_NONE;
    }
    self->closing = 1;
    self->reading = 0;
    if (self->chunk_count == 0) {
        self->conn_lost++;
        self->writing = 0;
        if (update_interest(self) < 0) {
            return NULL;
        }
        if (schedule_method(self, "_call_connection_lost", Py_None) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (update_interest(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_abort(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    if (force_close(self, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_force_close(TransportObject *self, PyObject *exc)
{
    if (force_close(self, exc == Py_None ? NULL : exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
server_detach(TransportObject *self)
{
    PyObject *server = self->server;
    if (server == NULL) {
        return 0;
    }
    self->server = NULL;
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    PyObject *r;
#if PY_VERSION_HEX >= 0x030D0000
    r = PyObject_CallMethodOneArg(server, st->net.str_detach, (PyObject *)self);
#else
    r = PyObject_CallMethodNoArgs(server, st->net.str_detach);
#endif
    Py_DECREF(server);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Let go of the socket: leave the loop's fd table, then close it. */
static int
release_socket(TransportObject *self)
{
    if (self->loop != NULL) {
        self->reading = self->writing = 0;
        fl_io_detach(self->loop, self->fd, (PyObject *)self);
    }
    PyObject *sock = self->sock;
    if (sock == NULL) {
        return 0;
    }
    self->sock = NULL;
    PyObject *r = PyObject_CallMethodNoArgs(sock, tstate(self)->net.str_close);
    Py_DECREF(sock);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static PyObject *
Transport_call_connection_lost(TransportObject *self, PyObject *exc)
{
    if (self->lost_called || self->loop == NULL) {
        Py_RETURN_NONE;
    }
    self->lost_called = 1;
    Py_INCREF(self);
    PyObject *error = NULL;
    PyObject *protocol = Py_XNewRef(self->protocol);
    if (protocol != NULL) {
        PyObject *r = call_protocol(protocol, tstate(self)->net.str_connection_lost, exc);
        if (r == NULL) {
            error = fl_fetch_exception();
        }
        Py_XDECREF(r);
    }
    Py_XDECREF(protocol);
    /* asyncio's "finally:" part */
    if (release_socket(self) < 0) {
        Py_XSETREF(error, fl_fetch_exception());
    }
    Py_CLEAR(self->protocol);
    LoopObject *loop = self->loop;
    if (server_detach(self) < 0) {
        Py_XSETREF(error, fl_fetch_exception());
    }
    self->loop = NULL;
    Py_DECREF(loop);
    chunks_clear(self);
    if (self->empty_waiter != NULL) {
        PyObject *lost = PyObject_CallFunction(PyExc_ConnectionError, "s",
                                               "Connection is closed by peer");
        if (lost == NULL || finish_empty_waiter(self, lost) < 0) {
            Py_XSETREF(error, fl_fetch_exception());
        }
        Py_XDECREF(lost);
    }
    Py_DECREF(self);
    if (error != NULL) {
        fl_restore_exception(error);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- reading ----------------------------------------------------------- */

static int
on_eof(TransportObject *self)
{
    fl_state *st = tstate(self);
    if (self->loop->debug && debug_log(self, "received EOF", NULL) < 0) {
        return -1;
    }
    PyObject *protocol = Py_NewRef(self->protocol);
    PyObject *r = call_protocol(protocol, st->net.str_eof_received, NULL);
    Py_DECREF(protocol);
    if (r == NULL) {
        return protocol_failed(self, "Fatal error: protocol.eof_received() call failed.");
    }
    int keep_open = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (keep_open < 0) {
        return -1;
    }
    if (keep_open) {
        /* The protocol may still write, but nothing more can be read: stop
         * watching for reads, leaving is_reading() as it is (as asyncio). */
        if (self->loop != NULL && !self->closing) {
            self->reading = 0;
            return update_interest(self);
        }
        return 0;
    }
    PyObject *c = Transport_close(self, NULL);
    if (c == NULL) {
        return -1;
    }
    Py_DECREF(c);
    return 0;
}

/* While a transport receives big pieces, read them straight into a bytes
 * object of the size the kernel has (FIONREAD): one system call more, one
 * copy of the data less.  Small reads go through the shared buffer, whose
 * copy is cheaper than that system call. */
static PyObject *
recv_big(TransportObject *self, ssize_t *n)
{
    int avail = 0;
    if (ioctl(self->fd, FIONREAD, &avail) < 0 || avail < FL_BIG_READ) {
        return NULL;
    }
    /* (a big read through the shared buffer came first: the allocator's
     * thresholds are set, see fl_net_before_big_reads) */
    Py_ssize_t size = avail < FL_RECV_MAX ? avail : FL_RECV_MAX;
    PyObject *data = PyBytes_FromStringAndSize(NULL, size);
    if (data == NULL) {
        *n = -2;
        return NULL;
    }
    *n = recv(self->fd, PyBytes_AS_STRING(data), (size_t)size, 0);
    if (*n == size) {
        return data;
    }
    /* less than announced (or an error): keep what came, if anything */
    PyObject *exact = *n > 0 ? PyBytes_FromStringAndSize(PyBytes_AS_STRING(data), *n) : NULL;
    int err = errno;
    Py_DECREF(data);
    errno = err;
    if (exact == NULL && *n > 0) {
        *n = -2;
    }
    return exact;
}

static int
read_data(TransportObject *self)
{
    fl_state *st = tstate(self);
    PyObject *data = NULL;
    ssize_t n = -1;
    if (self->last_read >= FL_BIG_READ) {
        data = recv_big(self, &n);
        if (n == -2) {
            return -1;   /* MemoryError */
        }
    }
    if (data == NULL && n == -1) {
        char *buf = st->net.recv_buffer;
        n = recv(self->fd, buf, FL_RECV_MAX, 0);
        if (n > 0) {
            if (n >= FL_BIG_READ) {
                fl_net_before_big_reads();
            }
            data = PyBytes_FromStringAndSize(buf, n);
            if (data == NULL) {
                return -1;
            }
        }
    }
    if (n < 0) {
        if (fl_would_block(errno)) {
            return 0;
        }
        return fatal_error(self, fl_oserror_from_errno(errno),
                           "Fatal read error on socket transport");
    }
    self->last_read = n;
    if (n == 0) {
        return on_eof(self);
    }
    PyObject *protocol = Py_NewRef(self->protocol);
    PyObject *r = call_protocol(protocol, st->net.str_data_received, data);
    Py_DECREF(protocol);
    Py_DECREF(data);
    if (r == NULL) {
        return protocol_failed(self, "Fatal error: protocol.data_received() call failed.");
    }
    Py_DECREF(r);
    return 0;
}

static int
read_into_buffer(TransportObject *self)
{
    fl_state *st = tstate(self);
    PyObject *protocol = Py_NewRef(self->protocol);
    PyObject *minus_one = PyLong_FromLong(-1);
    PyObject *buf = minus_one ? call_protocol(protocol, st->net.str_get_buffer, minus_one) : NULL;
    Py_XDECREF(minus_one);
    Py_ssize_t size = buf ? PyObject_Size(buf) : -1;
    if (buf != NULL && size == 0) {
        PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
    }
    if (size <= 0) {
        Py_XDECREF(buf);
        Py_DECREF(protocol);
        return protocol_failed(self, "Fatal error: protocol.get_buffer() call failed.");
    }
    Py_buffer view;
    if (PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(buf);
        Py_DECREF(protocol);
        return protocol_failed(self, "Fatal read error on socket transport");
    }
    ssize_t n = recv(self->fd, view.buf, (size_t)view.len, 0);
    int err = errno;
    PyBuffer_Release(&view);
    Py_DECREF(buf);
    if (n < 0) {
        Py_DECREF(protocol);
        if (fl_would_block(err)) {
            return 0;
        }
        return fatal_error(self, fl_oserror_from_errno(err),
                           "Fatal read error on socket transport");
    }
    if (n == 0) {
        Py_DECREF(protocol);
        return on_eof(self);
    }
    PyObject *nbytes = PyLong_FromSsize_t(n);
    PyObject *r = nbytes ? call_protocol(protocol, st->net.str_buffer_updated, nbytes) : NULL;
    Py_XDECREF(nbytes);
    Py_DECREF(protocol);
    if (r == NULL) {
        return protocol_failed(self, "Fatal error: protocol.buffer_updated() call failed.");
    }
    Py_DECREF(r);
    return 0;
}

/* ---- writing ----------------------------------------------------------- */

static int
write_ready(TransportObject *self)
{
    Py_ssize_t n = chunks_send(self);
    if (n < 0) {
        if (fl_would_block((int)-n)) {
            return 0;
        }
        self->writing = 0;
        chunks_clear(self);
        if (update_interest(self) < 0) {
            PyErr_Clear();
        }
        PyObject *exc = fl_oserror_from_errno((int)-n);
        if (exc == NULL) {
            return -1;
        }
        Py_INCREF(exc);
        int status = fatal_error(self, exc, "Fatal write error on socket transport");
        if (status == 0) {
            status = finish_empty_waiter(self, exc);
        }
        Py_DECREF(exc);
        return status;
    }
    chunks_consume(self, n);
    if (maybe_resume_protocol(self) < 0) {   /* may write, close or abort */
        return -1;
    }
    if (self->chunk_count || self->loop == NULL) {
        return 0;
    }
    if (set_writing(self, 0) < 0 || finish_empty_waiter(self, NULL) < 0) {
        return -1;
    }
    if (self->closing) {
        if (self->conn_lost) {
            /* aborted by resume_writing(): connection_lost is scheduled */
            return 0;
        }
        self->conn_lost++;
        PyObject *r = Transport_call_connection_lost(self, Py_None);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
        return 0;
    }
    if (self->eof) {
        return shutdown_write(self);
    }
    return 0;
}

/* Run step in context ctx.  The step may replace the transport's contexts
 * (resume_reading does): the one entered is held and exited. */
static int
run_in_context(TransportObject *self, PyObject *ctx, int (*step)(TransportObject *))
{
    ctx = Py_NewRef(ctx);
    int status = PyContext_Enter(ctx);
    if (status == 0) {
        status = step(self);
        if (PyContext_Exit(ctx) < 0) {
            status = -1;
        }
    }
    Py_DECREF(ctx);
    return status;
}

int
fl_transport_on_event(TransportObject *self, unsigned events)
{
    if (self->loop == NULL) {
        return 0;
    }
    int status = 0;
    if ((events & POLLER_READABLE) && self->reading && !self->conn_lost) {
        status = run_in_context(self, self->context, self->buffered ? read_into_buffer : read_data);
    }
    if (status == 0 && (events & POLLER_WRITABLE) && self->writing && !self->conn_lost
            && self->loop != NULL && self->chunk_count) {
        status = run_in_context(self, self->write_context ? self->write_context : self->context,
                                write_ready);
    }
    return status;
}

static int
check_writable(TransportObject *self, const char *method)
{
    if (self->eof) {
        PyErr_Format(PyExc_RuntimeError, "Cannot call %s() after write_eof()", method);
        return -1;
    }
    if (self->empty_waiter != NULL) {
        PyErr_Format(PyExc_RuntimeError, "unable to %s; sendfile is in progress", method);
        return -1;
    }
    return 0;
}

static int
check_write_arg(TransportObject *self, PyObject *data, const char *method)
{
    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyErr_Format(PyExc_TypeError, "data argument must be a bytes-like object, not '%.200s'",
                     Py_TYPE(data)->tp_name);
        return -1;
    }
    return check_writable(self, method);
}

/* Writes after the connection was lost are dropped; asyncio warns after a
 * few, since a program that keeps writing has missed the loss. */
static int
write_after_lost(TransportObject *self)
{
    if (self->conn_lost >= FL_CONNLOST_WRITES_WARN) {
        fl_state *st = fl_state_from_type(Py_TYPE(self));
        PyObject *r = fl_call_helper(st, "warn_send_after_lost", NULL, 0);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    self->conn_lost++;
    return 0;
}

static int
start_writing(TransportObject *self)
{
    if (!self->writing) {
        PyObject *ctx = PyContext_CopyCurrent();
        if (ctx == NULL) {
            return -1;
        }
        Py_XSETREF(self->write_context, ctx);
    }
    return set_writing(self, 1);
}

static PyObject *
Transport_write(TransportObject *self, PyObject *data)
{
    if (check_write_arg(self, data, "write") < 0) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (view.len == 0) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    if (self->conn_lost || self->loop == NULL) {
        PyBuffer_Release(&view);
        return write_after_lost(self) < 0 ? NULL : Py_NewRef(Py_None);
    }
    Py_ssize_t sent = 0;
    if (self->chunk_count == 0) {
        ssize_t n = send(self->fd, view.buf, (size_t)view.len, MSG_NOSIGNAL);
        if (n < 0) {
            int err = errno;
            if (!fl_would_block(err)) {
                PyBuffer_Release(&view);
                if (fatal_error(self, fl_oserror_from_errno(err),
                                "Fatal write error on socket transport") < 0) {
                    return NULL;
                }
                Py_RETURN_NONE;
            }
            n = 0;
        }
        if (n == view.len) {
            PyBuffer_Release(&view);
            Py_RETURN_NONE;
        }
        sent = n;
        if (start_writing(self) < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
    }
    int status = buffer_data(self, data, view.buf, view.len, sent);
    PyBuffer_Release(&view);
    if (status < 0 || maybe_pause_protocol(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_writelines(TransportObject *self, PyObject *list_of_data)
{
    if (check_writable(self, "writelines") < 0) {
        return NULL;
    }
    /* Take the items one at a time, each buffer before the next item, as
     * asyncio's list comprehension over the argument does: getting a buffer
     * may run Python code (__buffer__) that changes a list passed in.  The
     * items are kept in a list of our own. */
    PyObject *it = PyObject_GetIter(list_of_data);
    if (it == NULL) {
        return NULL;
    }
    PyObject *seq = PyList_New(0);
    Py_buffer *views = NULL;
    Py_ssize_t nviews = 0, capacity = 0, total = 0;
    PyObject *result = NULL;
    PyObject *item;
    while (seq != NULL && (item = PyIter_Next(it)) != NULL) {
        if (nviews == capacity) {
            capacity = capacity ? 2 * capacity : 8;
            Py_buffer *grown = PyMem_Realloc(views, (size_t)capacity * sizeof(Py_buffer));
            if (grown == NULL) {
                Py_DECREF(item);
                PyErr_NoMemory();
                break;
            }
            views = grown;
        }
        int failed = PyList_Append(seq, item) < 0
                     || PyObject_GetBuffer(item, &views[nviews], PyBUF_SIMPLE) < 0;
        Py_DECREF(item);
        if (failed) {
            break;
        }
        total += views[nviews++].len;
    }
    Py_DECREF(it);
    if (seq == NULL || PyErr_Occurred()) {
        goto done;
    }
    Py_ssize_t count = nviews;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    if (total == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (self->conn_lost || self->loop == NULL) {
        if (write_after_lost(self) == 0) {
            result = Py_NewRef(Py_None);
        }
        goto done;
    }
    Py_ssize_t sent = 0;
    if (self->chunk_count == 0) {
        /* Nothing buffered: hand all of it to the kernel in one call. */
        struct iovec iov[IOV_BATCH];
        int niov = 0;
        for (Py_ssize_t i = 0; i < count && niov < IOV_BATCH; i++) {
            if (views[i].len) {
                iov[niov].iov_base = views[i].buf;
                iov[niov].iov_len = (size_t)views[i].len;
                niov++;
            }
        }
        struct msghdr msg = {0};
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)niov;
        ssize_t n = sendmsg(self->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            int err = errno;
            if (!fl_would_block(err)) {
                if (fatal_error(self, fl_oserror_from_errno(err),
                                "Fatal write error on socket transport") == 0) {
                    result = Py_NewRef(Py_None);
                }
                goto done;
            }
            n = 0;
        }
        sent = n;
        if (sent == total) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (start_writing(self) < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t len = views[i].len;
        if (sent >= len) {
            sent -= len;
            continue;
        }
        if (buffer_data(self, items[i], views[i].buf, len, sent) < 0) {
            goto done;
        }
        sent = 0;
    }
    if (maybe_pause_protocol(self) == 0) {
        result = Py_NewRef(Py_None);
    }
done:
    for (Py_ssize_t i = 0; i < nviews; i++) {
        PyBuffer_Release(&views[i]);
    }
    PyMem_Free(views);
    Py_XDECREF(seq);
    return result;
}

static PyObject *
Transport_write_eof(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->closing || self->eof) {
        Py_RETURN_NONE;
    }
    self->eof = 1;
    if (self->chunk_count == 0 && shutdown_write(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_can_write_eof(TransportObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_TRUE;
}

/* ---- reading control --------------------------------------------------- */

static int
is_reading(TransportObject *self)
{
    return !self->closing && !self->paused;
}

static PyObject *
Transport_is_reading(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(is_reading(self));
}

static PyObject *
Transport_pause_reading(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    if (!is_reading(self) || self->loop == NULL) {
        Py_RETURN_NONE;
    }
    self->paused = 1;
    if (set_reading(self, 0) < 0) {
        return NULL;
    }
    if (self->loop->debug && debug_log(self, "pauses reading", NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_resume_reading(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->closing || !self->paused || self->loop == NULL) {
        Py_RETURN_NONE;
    }
    self->paused = 0;
    /* asyncio registers a new reader here, which runs in the context of
     * whoever resumed. */
    PyObject *ctx = PyContext_CopyCurrent();
    if (ctx == NULL) {
        return NULL;
    }
    Py_SETREF(self->context, ctx);
    if (set_reading(self, 1) < 0) {
        return NULL;
    }
    if (self->loop->debug && debug_log(self, "resumes reading", NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Scheduled by the constructor after connection_made(). */
static PyObject *
Transport_start_reading(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    if (!is_reading(self) || self->loop == NULL) {
        Py_RETURN_NONE;
    }
    if (set_reading(self, 1) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- protocol, flow control, extra info -------------------------------- */

static int
set_protocol(TransportObject *self, PyObject *protocol)
{
    fl_state *st = fl_state_from_type(Py_TYPE(self));
    int buffered = PyObject_IsInstance(protocol, st->net.BufferedProtocol);
    if (buffered < 0) {
        return -1;
    }
    self->buffered = (char)buffered;
    Py_XSETREF(self->protocol, Py_NewRef(protocol));
    return 0;
}

static PyObject *
Transport_set_protocol(TransportObject *self, PyObject *protocol)
{
    if (set_protocol(self, protocol) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_get_protocol(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(self->protocol ? self->protocol : Py_None);
}

static PyObject *
Transport_is_closing(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->closing);
}

static PyObject *
Transport_get_write_buffer_size(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(self->buffer_size);
}

static PyObject *
Transport_get_write_buffer_limits(TransportObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(nn)", self->low_water, self->high_water);
}

static PyObject *
Transport_set_write_buffer_limits(TransportObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"high", "low", NULL};
    PyObject *high_obj = Py_None, *low_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:set_write_buffer_limits", kwlist,
                                     &high_obj, &low_obj)) {
        return NULL;
    }
    Py_ssize_t high, low;
    if (high_obj == Py_None) {
        if (low_obj == Py_None) {
            high = 64 * 1024;
        }
        else {
            Py_ssize_t l = PyNumber_AsSsize_t(low_obj, PyExc_OverflowError);
            if (l == -1 && PyErr_Occurred()) {
                return NULL;
            }
            high = 4 * l;
        }
    }
    else {
        high = PyNumber_AsSsize_t(high_obj, PyExc_OverflowError);
        if (high == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (low_obj == Py_None) {
        low = high / 4;
        if (high < 0 && high % 4) {
            low--;   /* Python's floor division */
        }
    }
    else {
        low = PyNumber_AsSsize_t(low_obj, PyExc_OverflowError);
        if (low == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (!(high >= low && low >= 0)) {
        PyErr_Format(PyExc_ValueError, "high (%zd) must be >= low (%zd) must be >= 0", high, low);
        return NULL;
    }
    self->high_water = high;
    self->low_water = low;
    if (self->protocol != NULL && maybe_pause_protocol(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- construction and lifetime ----------------------------------------- */

/* SocketTransport(loop, sock, protocol, extra, server): the caller
 * (fastloop._network) fills extra, sets TCP_NODELAY and schedules
 * connection_made() and the start of reading, as asyncio does. */
static PyObject *
Transport_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *loop, *sock, *protocol, *extra, *server;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "SocketTransport() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OOOO!O:SocketTransport", &loop, &sock, &protocol,
                          &PyDict_Type, &extra, &server)) {
        return NULL;
    }
    fl_state *st = fl_state_from_type(type);
    if (st == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(loop, st->LoopType)) {
        PyErr_SetString(PyExc_TypeError, "SocketTransport() needs a fastloop loop");
        return NULL;
    }
    int fd = fl_net_sock_fd(st, sock);
    if (fd < 0) {
        return NULL;
    }
    if (fl_io_check_no_transport((LoopObject *)loop, fd, sock) < 0) {
        return NULL;
    }
    TransportObject *self = (TransportObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->fd = fd;
    self->high_water = 64 * 1024;
    self->low_water = 16 * 1024;
    self->extra = Py_NewRef(extra);
    self->context = PyContext_CopyCurrent();
    if (self->context == NULL || set_protocol(self, protocol) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    /* The fd first: if the server's _attach() fails, dealloc undoes it. */
    if (fl_io_attach((LoopObject *)loop, self->fd, (PyObject *)self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->loop = (LoopObject *)Py_NewRef(loop);
    if (server != Py_None) {
        PyObject *r;
#if PY_VERSION_HEX >= 0x030D0000
        r = PyObject_CallMethodOneArg(server, st->net.str_attach, (PyObject *)self);
#else
        r = PyObject_CallMethodNoArgs(server, st->net.str_attach);
#endif
        if (r == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        Py_DECREF(r);
        self->server = Py_NewRef(server);
    }
    self->sock = Py_NewRef(sock);
    return (PyObject *)self;
}

/* Everything happens in __new__; this keeps asyncio's Python __init__ of
 * the base class from running. */
static int
Transport_init(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwds))
{
    return 0;
}

static void
Transport_finalize(TransportObject *self)
{
    if (self->sock == NULL) {
        return;
    }
    PyObject *exc = fl_fetch_exception();
    if (PyErr_ResourceWarning((PyObject *)self, 1, "unclosed transport %R", self) < 0) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
    if (release_socket(self) < 0) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
#if PY_VERSION_HEX >= 0x030D0000
    if (server_detach(self) < 0) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
#endif
    if (exc != NULL) {
        fl_restore_exception(exc);
    }
}

static int
Transport_traverse(TransportObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    for (int i = 0; i < FL_INHERITED_SLOTS; i++) {
        Py_VISIT(self->inherited_slots[i]);
    }
    Py_VISIT(self->loop);
    Py_VISIT(self->sock);
    Py_VISIT(self->protocol);
    Py_VISIT(self->extra);
    Py_VISIT(self->server);
    Py_VISIT(self->context);
    Py_VISIT(self->write_context);
    Py_VISIT(self->empty_waiter);
    return 0;
}

static int
Transport_clear(TransportObject *self)
{
    if (self->loop != NULL) {
        fl_io_detach(self->loop, self->fd, (PyObject *)self);
    }
    for (int i = 0; i < FL_INHERITED_SLOTS; i++) {
        Py_CLEAR(self->inherited_slots[i]);
    }
    Py_CLEAR(self->loop);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->protocol);
    Py_CLEAR(self->extra);
    Py_CLEAR(self->server);
    Py_CLEAR(self->context);
    Py_CLEAR(self->write_context);
    Py_CLEAR(self->empty_waiter);
    chunks_clear(self);
    return 0;
}

static void
Transport_dealloc(TransportObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0) {
        return;   /* resurrected */
    }
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    (void)Transport_clear(self);
    PyMem_Free(self->chunks);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef Transport_methods[] = {
    {"write", (PyCFunction)Transport_write, METH_O,
     "Write bytes; sent at once if nothing is buffered, else buffered."},
    {"writelines", (PyCFunction)Transport_writelines, METH_O,
     "Write a sequence of bytes-like objects, in one system call when possible."},
    {"write_eof", (PyCFunction)Transport_write_eof, METH_NOARGS,
     "Shut the write side down once the buffer is flushed."},
    {"can_write_eof", (PyCFunction)Transport_can_write_eof, METH_NOARGS, NULL},
    {"close", (PyCFunction)Transport_close, METH_NOARGS,
     "Flush the buffer, then close; connection_lost(None) follows once."},
    {"abort", (PyCFunction)Transport_abort, METH_NOARGS,
     "Close at once, dropping whatever is buffered."},
    {"is_closing", (PyCFunction)Transport_is_closing, METH_NOARGS, NULL},
    {"is_reading", (PyCFunction)Transport_is_reading, METH_NOARGS, NULL},
    {"pause_reading", (PyCFunction)Transport_pause_reading, METH_NOARGS, NULL},
    {"resume_reading", (PyCFunction)Transport_resume_reading, METH_NOARGS, NULL},
    {"set_protocol", (PyCFunction)Transport_set_protocol, METH_O, NULL},
    {"get_protocol", (PyCFunction)Transport_get_protocol, METH_NOARGS, NULL},
    {"get_write_buffer_size", (PyCFunction)Transport_get_write_buffer_size, METH_NOARGS, NULL},
    {"get_write_buffer_limits", (PyCFunction)Transport_get_write_buffer_limits, METH_NOARGS,
     NULL},
    {"set_write_buffer_limits", (PyCFunction)(void (*)(void))Transport_set_write_buffer_limits,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"get_extra_info", (PyCFunction)(void (*)(void))fl_transport_get_extra_info,
     METH_FASTCALL | METH_KEYWORDS, "get_extra_info(name, default=None)"},
    {"_start_reading", (PyCFunction)Transport_start_reading, METH_NOARGS, NULL},
    {"_call_connection_lost", (PyCFunction)Transport_call_connection_lost, METH_O, NULL},
    {"_force_close", (PyCFunction)Transport_force_close, METH_O, NULL},
    {"_make_empty_waiter", (PyCFunction)Transport_make_empty_waiter, METH_NOARGS, NULL},
    {"_reset_empty_waiter", (PyCFunction)Transport_reset_empty_waiter, METH_NOARGS, NULL},
    {"_lend_fd", (PyCFunction)Transport_lend_fd, METH_O,
     "While true, the loop lets add_reader()/add_writer() use the fd (loop.sendfile)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Transport_members[] = {
    {"__weaklistoffset__", FL_T_PYSSIZET, offsetof(TransportObject, weakreflist), FL_READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Transport_slots[] = {
    {Py_tp_doc, "A TCP or Unix stream socket transport, as asyncio's selector one."},
    {Py_tp_new, Transport_new},
    {Py_tp_init, Transport_init},
    {Py_tp_methods, Transport_methods},
    {Py_tp_getset, fl_transport_getset},
    {Py_tp_members, Transport_members},
    {Py_tp_repr, fl_transport_repr},
    {Py_tp_traverse, Transport_traverse},
    {Py_tp_clear, Transport_clear},
    {Py_tp_finalize, Transport_finalize},
    {Py_tp_dealloc, Transport_dealloc},
    {0, NULL},
};

PyType_Spec fl_transport_spec = {
    .name = "fastloop._core.SocketTransport",
    .basicsize = sizeof(TransportObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Transport_slots,
};
