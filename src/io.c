/* Watching file descriptors: add_reader, add_writer, remove_reader,
 * remove_writer, and turning poller events into queued callbacks.
 *
 * The loop keeps, per fd, the reader and writer Handles and the interest it
 * registered with the poller, in an array indexed by fd.  Events become
 * queued Handles before any callback runs, as in asyncio, so removing a
 * reader (which cancels its Handle) from inside a callback also cancels an
 * event for it that was already queued in this iteration.
 */
#include "fastloop.h"

#include <errno.h>

int
fl_call_fileno(fl_state *st, PyObject *obj, long *fd)
{
    PyObject *r = PyObject_CallMethodNoArgs(obj, st->str_fileno);
    if (r != NULL) {
        PyObject *as_int = PyNumber_Long(r);
        Py_DECREF(r);
        r = as_int;
    }
    if (r == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)
                || PyErr_ExceptionMatches(PyExc_TypeError)
                || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "Invalid file object: %R", obj);
        }
        return -1;
    }
    *fd = PyLong_AsLong(r);
    Py_DECREF(r);
    return *fd == -1 && PyErr_Occurred() ? -1 : 0;
}

/* The fd to watch, for selectors._fileobj_to_fd's error messages.
 * FD_LOOP_CLOSED (no exception set) reports a closed loop once the object
 * has become a number but before that number is checked: asyncio's own
 * order, as its add_reader() calls fileno() before anything else. */
#define FD_LOOP_CLOSED (-2)

static int
fileobj_to_fd(LoopObject *loop, PyObject *fileobj)
{
    fl_state *st = loop->state;
    long fd;
    if (PyLong_Check(fileobj)) {
        fd = PyLong_AsLong(fileobj);
        if (fd == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    else if (fl_call_fileno(st, fileobj, &fd) < 0) {
        return -1;
    }
    if (loop->closed) {
        return FD_LOOP_CLOSED;
    }
    if (fd < 0) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %ld", fd);
        return -1;
    }
    if (fd > INT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "file descriptor %ld is too large", fd);
        return -1;
    }
    return (int)fd;
}

static fd_watch *
watch_for(LoopObject *loop, int fd, int create)
{
    if ((size_t)fd < loop->watches_capacity) {
        return &loop->watches[fd];
    }
    if (!create) {
        return NULL;
    }
    size_t capacity = loop->watches_capacity ? loop->watches_capacity : 64;
    while (capacity <= (size_t)fd) {
        capacity *= 2;
    }
    fd_watch *w = realloc(loop->watches, capacity * sizeof(fd_watch));
    if (w == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memset(w + loop->watches_capacity, 0,
           (capacity - loop->watches_capacity) * sizeof(fd_watch));
    loop->watches = w;
    loop->watches_capacity = capacity;
    return &w[fd];
}

static unsigned
wanted_events(const fd_watch *w)
{
    return (w->reader ? POLLER_READABLE : 0) | (w->writer ? POLLER_WRITABLE : 0)
           | w->owner_events;
}

static int
raise_errno(int err)
{
    errno = -err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

/* Make the poller's interest match the watch.  0, or -1 with OSError. */
static int
sync_interest(LoopObject *loop, int fd, fd_watch *w)
{
    unsigned wanted = wanted_events(w);
    if (wanted == w->events) {
        return 0;
    }
    if (fl_loop_forked(loop)) {
        /* The interest list belongs to the parent process too: the child
         * may drop its own records but must not touch the kernel's. */
        if (wanted & ~w->events) {
            PyErr_SetString(PyExc_RuntimeError,
                            "this event loop was created in another process "
                            "(before fork()); create a new loop in the child");
            return -1;
        }
    }
    else {
        int err = poller_change(&loop->poller, fd, w->events, wanted);
        if (err < 0) {
            return raise_errno(err);
        }
    }
    if (w->events == 0 && wanted != 0) {
        loop->watched_fds++;
    }
    else if (w->events != 0 && wanted == 0) {
        loop->watched_fds--;
    }
    w->events = wanted;
    return 0;
}

static PyObject *
cancel_handle(PyObject *handle)
{
    /* Handle.cancel() may run __del__ code of the dropped callback. */
    PyObject *r = PyObject_CallMethod(handle, "cancel", NULL);
    Py_DECREF(handle);
    return r;
}

/* add_reader/add_writer; the private _add_reader/_add_writer return the
 * handle, as asyncio's do (its sock_* calls check it was not replaced). */
static PyObject *
add_watch(LoopObject *self, PyObject *const *args, Py_ssize_t nargs, int writer,
          const char *method, int return_handle)
{
    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "%s() missing required positional argument%s",
                     method, nargs == 0 ? "s: 'fd' and 'callback'" : ": 'callback'");
        return NULL;
    }
    int fd = fileobj_to_fd(self, args[0]);
    if (fd == FD_LOOP_CLOSED) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return NULL;
    }
    if (fd < 0 || fl_io_check_no_transport(self, fd, args[0]) < 0) {
        return NULL;
    }
    PyObject *cb_args = PyTuple_New(nargs - 2);
    if (cb_args == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 2; i < nargs; i++) {
        PyTuple_SET_ITEM(cb_args, i - 2, Py_NewRef(args[i]));
    }
    HandleObject *h = fl_handle_new(self, self->state->HandleType, args[1], cb_args, NULL);
    Py_DECREF(cb_args);
    if (h == NULL) {
        return NULL;
    }
    /* Creating the handle may have run Python code (debug mode): look the
     * watch up only now, and hold no pointer to it across calls out. */
    fd_watch *w = watch_for(self, fd, 1);
    if (w == NULL) {
        Py_DECREF(h);
        return NULL;
    }
    PyObject **slot = writer ? &w->writer : &w->reader;
    PyObject *old = *slot;
    *slot = (PyObject *)h;
    if (sync_interest(self, fd, w) < 0) {
        *slot = old;
        Py_DECREF(h);
        return NULL;
    }
    PyObject *result = return_handle ? Py_NewRef((PyObject *)h) : Py_NewRef(Py_None);
    if (old != NULL) {
        PyObject *r = cancel_handle(old);
        if (r == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(r);
    }
    return result;
}

/* remove_reader/remove_writer refuse an fd a transport owns; the private
 * _remove_reader/_remove_writer, which asyncio's pipe transports and child
 * watchers call on the fds they watch themselves, do not check, as
 * asyncio's do not. */
static PyObject *
remove_watch(LoopObject *self, PyObject *fileobj, int writer, int check_transport)
{
    int fd = fileobj_to_fd(self, fileobj);
    if (fd == FD_LOOP_CLOSED) {
        Py_RETURN_FALSE;
    }
    if (fd < 0 || (check_transport && fl_io_check_no_transport(self, fd, fileobj) < 0)) {
        return NULL;
    }
    fd_watch *w = watch_for(self, fd, 0);
    PyObject *old = w == NULL ? NULL : (writer ? w->writer : w->reader);
    if (old == NULL) {
        Py_RETURN_FALSE;
    }
    if (writer) {
        w->writer = NULL;
    }
    else {
        w->reader = NULL;
    }
    if (sync_interest(self, fd, w) < 0) {
        /* Deregistration only fails for reasons other than a closed fd;
         * the callback is gone either way, so do not report it twice. */
        PyErr_Clear();
    }
    PyObject *r = cancel_handle(old);
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    Py_RETURN_TRUE;
}

PyObject *
fl_loop_add_reader(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watch(self, args, nargs, 0, "add_reader", 0);
}

/* loop._ensure_fd_no_transport(fd), which asyncio's own sock_* methods
 * (run on fastloop unchanged) call before watching a socket. */
PyObject *
fl_loop_ensure_fd_no_transport(LoopObject *self, PyObject *fileobj)
{
    long fd;
    if (PyLong_Check(fileobj)) {
        fd = PyLong_AsLong(fileobj);
        if (fd == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    else if (fl_call_fileno(self->state, fileobj, &fd) < 0) {
        return NULL;
    }
    if (fd >= 0 && fd <= INT32_MAX && fl_io_check_no_transport(self, (int)fd, fileobj) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
fl_loop_add_reader_handle(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watch(self, args, nargs, 0, "_add_reader", 1);
}

PyObject *
fl_loop_add_writer_handle(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watch(self, args, nargs, 1, "_add_writer", 1);
}

PyObject *
fl_loop_add_writer(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watch(self, args, nargs, 1, "add_writer", 0);
}

PyObject *
fl_loop_remove_reader(LoopObject *self, PyObject *fileobj)
{
    return remove_watch(self, fileobj, 0, 1);
}

PyObject *
fl_loop_remove_writer(LoopObject *self, PyObject *fileobj)
{
    return remove_watch(self, fileobj, 1, 1);
}

PyObject *
fl_loop_remove_reader_unchecked(LoopObject *self, PyObject *fileobj)
{
    return remove_watch(self, fileobj, 0, 0);
}

PyObject *
fl_loop_remove_writer_unchecked(LoopObject *self, PyObject *fileobj)
{
    return remove_watch(self, fileobj, 1, 0);
}

/* Queue the handle for one direction of an event; a handle cancelled by
 * other means stops being watched, as asyncio's _process_events does. */
static int
queue_watch(LoopObject *loop, int fd, fd_watch *w, int writer)
{
    PyObject **slot = writer ? &w->writer : &w->reader;
    HandleObject *h = (HandleObject *)*slot;
    if (h == NULL) {
        return 0;
    }
    if (h->cancelled) {
        *slot = NULL;
        int status = sync_interest(loop, fd, w);
        Py_DECREF(h);
        return status;
    }
    ready_entry e = {(PyObject *)h, NULL, NULL, READY_HANDLE};
    if (ready_push(&loop->ready, e) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(h);
    return 0;
}

int
fl_io_dispatch(LoopObject *loop, const poller_event *event)
{
    int fd = event->fd;
    fd_watch *w = watch_for(loop, fd, 0);
    if (w == NULL || w->events == 0) {
        /* Stale: an fd we no longer watch (a dup of a closed one, say).
         * Tell the kernel so it stops reporting it. */
        (void)poller_change(&loop->poller, fd, POLLER_READABLE | POLLER_WRITABLE, 0);
        return 0;
    }
    if (w->owner != NULL && (event->events & w->owner_events)) {
        ready_entry e = {Py_NewRef(w->owner),
                         PyLong_FromLong((long)(event->events & w->owner_events)),
                         NULL, READY_IO};
        if (e.b == NULL || ready_push(&loop->ready, e) < 0) {
            Py_DECREF(e.a);
            Py_XDECREF(e.b);
            if (!PyErr_Occurred()) {
                PyErr_NoMemory();
            }
            return -1;
        }
    }
    /* Neither step below calls into Python (a Py_DECREF of a cancelled
     * handle can, but only after its slot is cleared). */
    if ((event->events & POLLER_READABLE) && queue_watch(loop, fd, w, 0) < 0) {
        return -1;
    }
    if ((event->events & POLLER_WRITABLE) && queue_watch(loop, fd, &loop->watches[fd], 1) < 0) {
        return -1;
    }
    return 0;
}

void
fl_io_clear(LoopObject *loop)
{
    for (size_t fd = 0; fd < loop->watches_capacity; fd++) {
        /* Re-read the array each time: a __del__ run by a DECREF can add a
         * watch and move it. */
        fd_watch *w = &loop->watches[fd];
        PyObject *reader = w->reader, *writer = w->writer;
        PyObject *owner = w->owner_events ? w->owner : NULL;
        if (w->events && !loop->closed && !fl_loop_forked(loop)) {
            (void)poller_change(&loop->poller, (int)fd, w->events, 0);
        }
        if (w->events) {
            loop->watched_fds--;
        }
        w->reader = w->writer = NULL;
        w->owner = NULL;
        w->events = w->owner_events = 0;
        Py_XDECREF(reader);
        Py_XDECREF(writer);
        Py_XDECREF(owner);
    }
}

int
fl_io_traverse(LoopObject *loop, visitproc visit, void *arg)
{
    for (size_t fd = 0; fd < loop->watches_capacity; fd++) {
        Py_VISIT(loop->watches[fd].reader);
        Py_VISIT(loop->watches[fd].writer);
        if (loop->watches[fd].owner_events) {
            Py_VISIT(loop->watches[fd].owner);
        }
    }
    return 0;
}

/* ---- fds owned by C transports and listeners --------------------------- */

PyObject *
fl_io_owner(LoopObject *loop, int fd)
{
    fd_watch *w = fd < 0 || loop->closed ? NULL : watch_for(loop, fd, 0);
    return w == NULL ? NULL : w->owner;
}

static PyObject *
claiming_owner(LoopObject *loop, int fd)
{
    fd_watch *w = fd < 0 ? NULL : watch_for(loop, fd, 0);
    if (w == NULL || w->owner == NULL || !fl_net_owner_claims(loop->state, w->owner)) {
        return NULL;
    }
    return w->owner;
}

int
fl_io_check_no_transport(LoopObject *loop, int fd, PyObject *fileobj)
{
    PyObject *owner = claiming_owner(loop, fd);
    if (owner == NULL) {
        return 0;
    }
    if (fileobj != NULL) {
        PyErr_Format(PyExc_RuntimeError, "File descriptor %R is used by transport %R",
                     fileobj, owner);
    }
    else {
        PyErr_Format(PyExc_RuntimeError, "File descriptor %d is used by transport %R",
                     fd, owner);
    }
    return -1;
}

int
fl_io_attach(LoopObject *loop, int fd, PyObject *owner)
{
    if (loop->closed) {
        return 0;
    }
    if (fl_io_check_no_transport(loop, fd, NULL) < 0) {
        return -1;
    }
    fd_watch *w = watch_for(loop, fd, 1);
    if (w == NULL) {
        return -1;
    }
    /* A previous owner that no longer claims the fd (closing, its number
     * reused after its socket was closed behind its back) loses it. */
    PyObject *old = w->owner_events ? w->owner : NULL;
    w->owner = owner;
    w->owner_events = 0;
    if (sync_interest(loop, fd, w) < 0) {
        PyErr_Clear();
    }
    Py_XDECREF(old);
    return 0;
}

int
fl_io_set_owner_events(LoopObject *loop, int fd, PyObject *owner, unsigned events)
{
    if (loop->closed) {
        return 0;
    }
    fd_watch *w = watch_for(loop, fd, 0);
    if (w == NULL || w->owner != owner || w->owner_events == events) {
        return 0;
    }
    unsigned before = w->owner_events;
    w->owner_events = events;
    if (sync_interest(loop, fd, w) < 0) {
        w->owner_events = before;
        return -1;
    }
    if (before == 0) {
        Py_INCREF(owner);
    }
    else if (events == 0) {
        /* Not the last reference: the caller is a method of the owner. */
        Py_DECREF(owner);
    }
    return 0;
}

void
fl_io_detach(LoopObject *loop, int fd, PyObject *owner)
{
    if (loop->closed) {
        return;
    }
    fd_watch *w = watch_for(loop, fd, 0);
    if (w == NULL || w->owner != owner) {
        return;
    }
    unsigned before = w->owner_events;
    w->owner_events = 0;
    w->owner = NULL;
    if (sync_interest(loop, fd, w) < 0) {
        PyErr_Clear();
    }
    if (before) {
        Py_DECREF(owner);
    }
}
