/* Object layouts of the stream transport (stream.c) and the listening
 * socket (server.c), and what the two files share.
 */
#ifndef FASTLOOP_TRANSPORT_H
#define FASTLOOP_TRANSPORT_H

#include "fastloop.h"

/* asyncio's _SelectorTransport.max_size. */
#define FL_RECV_MAX (256 * 1024)
/* A read this big or bigger is a big one (see recv_big() in stream.c and
 * fl_net_before_big_reads() in net.c). */
#define FL_BIG_READ (64 * 1024)
/* asyncio.constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES */
#define FL_CONNLOST_WRITES_WARN 5

/* One buffered piece of outgoing data: a bytes object and how much of its
 * head has been sent already. */
typedef struct {
    PyObject *bytes;
    Py_ssize_t offset;
} fl_chunk;

/* The transport is a subclass of asyncio.transports._FlowControlMixin so
 * that isinstance(t, asyncio.Transport) holds and asyncio's sendfile
 * fallback accepts it.  That class keeps five __slots__ right after the
 * object header; they are reserved here and never used (this type's own
 * descriptors shadow their names).  module init checks the size. */
#define FL_INHERITED_SLOTS 5

typedef struct {
    PyObject_HEAD
    PyObject *inherited_slots[FL_INHERITED_SLOTS];
    LoopObject *loop;       /* NULL once connection_lost has been called */
    PyObject *sock;         /* the socket.socket; NULL once closed */
    PyObject *protocol;
    PyObject *extra;        /* dict for get_extra_info() */
    PyObject *server;       /* asyncio Server or NULL */
    PyObject *context;      /* read events' protocol callbacks run in it */
    PyObject *write_context;/* write events' (resume_writing, the close after a
                             * flush): a copy of the context of the write()
                             * that started buffering, as asyncio's writer
                             * Handle has; NULL until then */
    PyObject *empty_waiter; /* future of loop.sendfile(): set when the buffer empties */
    PyObject *weakreflist;
    int fd;

    fl_chunk *chunks;       /* ring of buffered outgoing data */
    size_t chunk_head, chunk_count, chunk_capacity;
    Py_ssize_t buffer_size; /* bytes buffered */
    Py_ssize_t high_water, low_water;

    long conn_lost;         /* asyncio's _conn_lost counter */
    Py_ssize_t last_read;   /* bytes the last recv() returned */
    char closing;
    char paused;            /* pause_reading() */
    char eof;               /* write_eof() was called */
    char protocol_paused;   /* pause_writing() was called */
    char buffered;          /* the protocol is a BufferedProtocol */
    char reading;           /* read interest wanted (asyncio: reader registered) */
    char writing;           /* write interest wanted (asyncio: writer registered) */
    char lost_called;       /* _call_connection_lost ran */
    char fd_lent;           /* loop.sendfile() uses the fd: add_writer() may */
} TransportObject;

typedef struct {
    PyObject_HEAD
    LoopObject *loop;
    PyObject *sock;         /* the listening socket.socket */
    PyObject *on_accept;    /* called with (fd, address) per connection */
    PyObject *on_error;     /* called with the OSError of a failed accept */
    PyObject *weakreflist;
    int fd;
    int backlog;            /* accept() at most this many per event */
    char listening;         /* read interest wanted */
    char closed;
} ListenerObject;

extern PyType_Spec fl_transport_spec;
extern PyType_Spec fl_listener_spec;
extern PyType_Spec fl_waiter_spec;
extern PyMethodDef fl_sockops_methods[];

int fl_transport_on_event(TransportObject *self, unsigned events);

/* stream_attrs.c */
PyObject *fl_transport_get_extra_info(TransportObject *self, PyObject *const *args,
                                      Py_ssize_t nargs, PyObject *kwnames);
PyObject *fl_transport_repr(TransportObject *self);
extern PyGetSetDef fl_transport_getset[];

/* server.c, sockops.c */
int fl_listener_on_event(ListenerObject *self, unsigned events);
int fl_waiter_on_event(PyObject *self, unsigned events);

/* net.c */
/* sock.fileno() as selectors checks it: ValueError for what is not a
 * valid file object or descriptor.  The fd, or -1 with an exception. */
int fl_net_sock_fd(fl_state *st, PyObject *sock);

/* Call before allocating for a read of FL_BIG_READ bytes or more. */
void fl_net_before_big_reads(void);

/* OSError (or its errno subclass) for errno err, as an object. */
PyObject *fl_oserror_from_errno(int err);

#endif
