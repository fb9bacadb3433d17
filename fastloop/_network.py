"""Stream sockets on fastloop: the loop methods around the C transports.

The hot paths (reading, writing, accepting) are C: _core.SocketTransport
and _core.Listener.  This module holds the rare paths:

- NetworkMixin, a base of fastloop.Loop.  Argument handling, address
  resolution, happy eyeballs, the Server object and TLS are asyncio's own
  code, taken from asyncio's classes at import time, so every argument
  check, error message and version difference is exactly asyncio's on each
  Python version.  What asyncio's selector loop does with Python handles
  (making transports, serving a listening socket, the sock_* calls) is
  done here over the C core.
- Helpers the C transports call for logging.
"""

import errno
import os
import socket
import sys

from asyncio import base_events, constants, futures, selector_events, sslproto, trsock
from asyncio import unix_events
from asyncio.log import logger

from . import _core
from ._borrow import borrow

_PY313 = sys.version_info >= (3, 13)

_BaseLoop = base_events.BaseEventLoop
_SelectorLoop = selector_events.BaseSelectorEventLoop
_UnixLoop = unix_events._UnixSelectorEventLoop

_TransportSocket = trsock.TransportSocket
_set_nodelay = base_events._set_nodelay
_check_ssl_socket = base_events._check_ssl_socket
_set_result_unless_cancelled = futures._set_result_unless_cancelled
_SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)

_SocketTransport = _core.SocketTransport

_RESOURCE_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


# ---- asyncio's own code, taken as is ----------------------------------------

# Methods of asyncio's loops that only call other loop methods: they run
# unchanged on fastloop.  (Taken from the classes, not copied.)
_BORROWED_FROM_BASE = (
    "create_connection",
    "_connect_sock",
    "_create_connection_transport",
    "_ensure_resolved",
    "_getaddrinfo_debug",
    "create_server",
    "_create_server_getaddrinfo",
    "connect_accepted_socket",
    "getnameinfo",
    "sendfile",
    "_sendfile_fallback",
    "sock_sendfile",
    "_sock_sendfile_fallback",
    "_check_sendfile_params",
    "start_tls",
)
_BORROWED_FROM_SELECTOR = (
    "_accept_connection2",
    # the sock_* calls fastloop leaves to asyncio (sock_recv, sock_recv_into
    # and sock_sendall are C: see SockMixin)
    "sock_recvfrom",
    "_sock_recvfrom",
    "sock_recvfrom_into",
    "_sock_recvfrom_into",
    "sock_sendto",
    "_sock_sendto",
    "sock_connect",
    "_sock_connect",
    "_sock_connect_cb",
    "sock_accept",
    "_sock_accept",
    "_sock_read_done",
    "_sock_write_done",
)
_BORROWED_FROM_UNIX = (
    "create_unix_connection",
    "create_unix_server",
    "_sock_sendfile_native",
    "_sock_sendfile_native_impl",
    "_sock_sendfile_update_filepos",
    "_sock_add_cancellation_callback",
)


class NetworkMixin:
    """Stream-socket methods of fastloop.Loop (TCP and Unix)."""

    borrow(
        locals(),
        (_BaseLoop, _BORROWED_FROM_BASE),
        (_SelectorLoop, _BORROWED_FROM_SELECTOR),
        (_UnixLoop, _BORROWED_FROM_UNIX),
    )

    # asyncio's code reads the debug flag as an attribute.
    @property
    def _debug(self):
        return self.get_debug()

    def _net_state(self):
        try:
            return self.__dict__["_fastloop_net"]
        except KeyError:
            state = self.__dict__["_fastloop_net"] = _NetState()
            return state

    # 3.13's create_unix_server() records the inode of each socket file it
    # will remove when the server closes.
    @property
    def _unix_server_sockets(self):
        return self._net_state().unix_server_sockets

    # ---- transports ------------------------------------------------------

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        if extra is None:
            extra = {}
        extra["socket"] = _TransportSocket(sock)
        try:
            extra["sockname"] = sock.getsockname()
        except OSError:
            extra["sockname"] = None
        if "peername" not in extra:
            try:
                extra["peername"] = sock.getpeername()
            except OSError:
                extra["peername"] = None
        transport = _SocketTransport(self, sock, protocol, extra, server)
        _set_nodelay(sock)
        self.call_soon(transport.get_protocol().connection_made, transport)
        # reading starts once connection_made() has run
        self.call_soon(transport._start_reading)
        if waiter is not None:
            self.call_soon(_set_result_unless_cancelled, waiter, None)
        return transport

    def _make_ssl_transport(
        self,
        rawsock,
        protocol,
        sslcontext,
        waiter=None,
        *,
        server_side=False,
        server_hostname=None,
        extra=None,
        server=None,
        ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
    ):
        ssl_protocol = sslproto.SSLProtocol(
            self,
            protocol,
            sslcontext,
            waiter,
            server_side,
            server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        self._make_socket_transport(rawsock, ssl_protocol, extra=extra, server=server)
        return ssl_protocol._app_transport

    async def _sendfile_native(self, transp, file, offset, count):
        # os.sendfile() on the transport's socket, once what the transport
        # buffered is out; the transport lends its fd meanwhile.
        resume_reading = transp.is_reading()
        transp.pause_reading()
        await transp._make_empty_waiter()
        transp._lend_fd(True)
        try:
            return await self.sock_sendfile(transp._sock, file, offset, count, fallback=False)
        finally:
            transp._lend_fd(False)
            transp._reset_empty_waiter()
            if resume_reading:
                transp.resume_reading()

    # ---- serving ---------------------------------------------------------

    def _start_serving(
        self,
        protocol_factory,
        sock,
        sslcontext=None,
        server=None,
        backlog=100,
        ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
    ):
        self._check_closed()
        listener = _Listener(
            self,
            sock,
            protocol_factory,
            sslcontext,
            server,
            backlog,
            ssl_handshake_timeout,
            ssl_shutdown_timeout,
        )
        self._net_state().listeners[sock] = listener
        listener.resume()

    def _stop_serving(self, sock):
        path = None
        if _PY313 and sock in self._unix_server_sockets:
            path = sock.getsockname()
        listener = self._net_state().listeners.pop(sock, None)
        if listener is not None:
            listener.close()
        sock.close()
        if path is not None:
            prev_ino = self._unix_server_sockets.pop(sock)
            try:
                if os.stat(path).st_ino == prev_ino:
                    os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as err:
                logger.error("Unable to clean up listening UNIX socket %r: %r", path, err)

    # ---- name resolution -------------------------------------------------

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        if not self.get_debug() and _is_numeric(host, port):
            # A numeric host and port never reach DNS or the services
            # database: resolving them cannot block, so skip the thread.
            return socket.getaddrinfo(host, port, family, type, proto, flags)
        return await _BaseLoop.getaddrinfo(
            self, host, port, family=family, type=type, proto=proto, flags=flags
        )


def _is_numeric(host, port):
    if not (port is None or isinstance(port, int) or (isinstance(port, (str, bytes)) and port.isdigit())):
        return False
    if isinstance(host, bytes):
        try:
            host = host.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(host, str):
        return False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.partition("%")[0])
            return True
        except OSError:
            pass
    return False


class _NetState:
    """What a loop's serving keeps: {listening socket: _Listener}, and the
    socket files 3.13's create_unix_server() removes on close."""

    __slots__ = ("listeners", "unix_server_sockets")

    def __init__(self):
        self.listeners = {}
        self.unix_server_sockets = {}


class _Listener:
    """Serves one listening socket of a Server: the C listener accepts,
    this builds each connection as asyncio's _accept_connection does."""

    def __init__(
        self,
        loop,
        sock,
        protocol_factory,
        sslcontext,
        server,
        backlog,
        ssl_handshake_timeout,
        ssl_shutdown_timeout,
    ):
        self.loop = loop
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.sslcontext = sslcontext
        self.server = server
        self.ssl_handshake_timeout = ssl_handshake_timeout
        self.ssl_shutdown_timeout = ssl_shutdown_timeout
        self.retry = None
        self.core = _core.Listener(loop, sock, self._on_accept, self._on_error, backlog)
        self.family = sock.family
        self.type = sock.type | _SOCK_NONBLOCK
        self.proto = sock.proto

    def resume(self):
        self.retry = None
        self.core.start()

    def close(self):
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None
        self.core.close()

    def _on_accept(self, fd, addr):
        try:
            conn = socket.socket(self.family, self.type, self.proto, fileno=fd)
        except BaseException:
            os.close(fd)
            raise
        if addr is None:
            try:
                addr = conn.getpeername()
            except OSError:
                addr = None
        loop = self.loop
        if loop.get_debug():
            logger.debug("%r got a new connection from %r: %r", self.server, addr, conn)
        extra = {"peername": addr}
        loop.create_task(
            loop._accept_connection2(
                self.protocol_factory,
                conn,
                extra,
                self.sslcontext,
                self.server,
                self.ssl_handshake_timeout,
                self.ssl_shutdown_timeout,
            )
        )

    def _on_error(self, exc):
        if exc.errno not in _RESOURCE_ERRNOS:
            raise exc
        # Linux keeps reporting the socket readable: stop watching it for
        # a while instead of spinning, as asyncio does.
        loop = self.loop
        loop.call_exception_handler(
            {
                "message": "socket.accept() out of system resource",
                "exception": exc,
                "socket": _TransportSocket(self.sock),
            }
        )
        self.core.pause()
        if self.retry is None:
            self.retry = loop.call_later(constants.ACCEPT_RETRY_DELAY, self.resume)


# ---- sock_* ------------------------------------------------------------------
# Each call tries the system call first and waits for the fd only when it
# would block, as asyncio's selector loop does.  sock_recv, sock_recv_into
# and sock_sendall are C (sockops.c); the rarer ones wait through
# add_reader/add_writer.


_sock_recv = _core.sock_recv
_sock_recv_into = _core.sock_recv_into
_sock_sendall = _core.sock_sendall


def _forget(loop, fd, fut):
    # The wait was given up (cancelled): stop watching the fd at once.  fd
    # is the one the wait started on: the socket may be closed by now.
    if not loop.is_closed():
        _core.sock_forget(loop, fd, fut)


def _check_sock(loop, sock):
    _check_ssl_socket(sock)
    if loop.get_debug() and sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


class SockMixin:
    """The sock_* coroutines of fastloop.Loop."""

    async def sock_recv(self, sock, n):
        _check_sock(self, sock)
        result = _sock_recv(self, sock, n)
        if result.__class__ is bytes:
            return result
        fd = sock.fileno()
        try:
            return await result
        except BaseException:
            _forget(self, fd, result)
            raise

    async def sock_recv_into(self, sock, buf):
        _check_sock(self, sock)
        result = _sock_recv_into(self, sock, buf)
        if result.__class__ is int:
            return result
        fd = sock.fileno()
        try:
            return await result
        except BaseException:
            _forget(self, fd, result)
            raise

    async def sock_sendall(self, sock, data):
        _check_sock(self, sock)
        result = _sock_sendall(self, sock, data)
        if result is None:
            return
        fd = sock.fileno()
        try:
            return await result
        except BaseException:
            _forget(self, fd, result)
            raise
