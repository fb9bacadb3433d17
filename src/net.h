/* Stream sockets: the state shared by stream.c (transports) and server.c
 * (listening sockets), and what they offer the rest of the core.
 *
 * Included by fastloop.h before the module state, so only plain data here;
 * the object layouts are in transport.h.
 */
#ifndef FASTLOOP_NET_H
#define FASTLOOP_NET_H

#include <Python.h>

typedef struct {
    PyTypeObject *SocketTransportType;
    PyTypeObject *ListenerType;
    PyTypeObject *WaiterType;       /* sockops.c */

    /* fastloop._network, imported on first use: the Python side of the
     * rare paths (debug logging, reporting errors). */
    PyObject *BufferedProtocol;     /* asyncio.BufferedProtocol */

    /* asyncio's max_size: the most one recv() reads.  Every transport of
     * the interpreter reads into this one buffer and copies out what came,
     * so a read allocates a bytes object of the size that arrived. */
    char *recv_buffer;

    PyObject *str_connection_lost;
    PyObject *str_data_received;
    PyObject *str_eof_received;
    PyObject *str_get_buffer;
    PyObject *str_buffer_updated;
    PyObject *str_pause_writing;
    PyObject *str_resume_writing;
    PyObject *str_close;
    PyObject *str_create_future;
    PyObject *str_attach;
    PyObject *str_detach;
    PyObject *str_transport;
    PyObject *str_protocol;
} fl_net_state;

#endif
