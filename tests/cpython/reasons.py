"""Reasons shared by the exclusion lists in suites/.

A reason says what fastloop lacks or why the test cannot say anything about
fastloop, so that whoever implements the missing part can find every test it
unlocks with one grep.
"""


def needs(feature):
    """fastloop does not have the feature yet; the test should pass once it does."""
    return f"needs {feature} (not implemented yet)"


def internals(what):
    """The test inspects or patches private parts of stock asyncio's loop."""
    return f"tests stock asyncio's private internals ({what}), which fastloop does not have"


def stock_only(what):
    """The test never touches an event loop: it checks a part of asyncio that
    is the same whichever loop is used, so it proves nothing about fastloop."""
    return f"stock asyncio only, no event loop involved: {what}"


def not_asyncio_future(what):
    """The test asserts isinstance(x, asyncio.Future) or asyncio.Task of what
    fastloop's loop.create_future() / create_task() made."""
    return (
        f"asserts that {what} is an instance of asyncio.Future / asyncio.Task: fastloop's "
        "are its own C types, fastloop.Future and fastloop.Task, with asyncio's API but not "
        "derived from asyncio's classes (asyncio.isfuture() holds; see README)"
    )


NEEDS_TCP = needs("TCP transports: create_connection, create_server, connect_accepted_socket")
NEEDS_UNIX = needs("Unix socket transports: create_unix_connection, create_unix_server")
NEEDS_SSL = needs("SSL/TLS transports")
NEEDS_UDP = needs("datagram transports: create_datagram_endpoint")
NEEDS_SIGNALS = needs("add_signal_handler / remove_signal_handler")
NEEDS_SOCK = needs("the loop.sock_* socket methods")
