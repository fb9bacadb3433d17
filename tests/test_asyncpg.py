"""Real software on fastloop: the asyncpg PostgreSQL client against a
PostgreSQL server started for these tests, over TCP and over a Unix socket,
on both loops.

The server comes from the machine's PostgreSQL installation (initdb and
postgres on PATH or under /usr/lib/postgresql); without one, or when it
fails to start, the tests are skipped with the reason.  PostgreSQL refuses to run as root, so under root it runs
as the "postgres" (or "nobody") user.
"""

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from netutil import no_fd_leak, run  # noqa: F401

asyncpg = pytest.importorskip("asyncpg", reason="asyncpg is in the test extra")



def _server_binaries():
    for directory in [None, *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        initdb = shutil.which("initdb", path=directory)
        postgres = shutil.which("postgres", path=directory)
        if initdb and postgres:
            return initdb, postgres
    return None


def _server_user():
    """The user to run the server as: ourselves unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    pytest.skip("running as root and there is no postgres or nobody user to run PostgreSQL as")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server (initdb, postgres) on this machine")
    initdb, postgres_bin = binaries
    user = _server_user()
    top = tempfile.mkdtemp(prefix="fastloop-pg-")
    data, sockets = os.path.join(top, "data"), os.path.join(top, "run")
    os.mkdir(sockets)
    if user is not None:
        for path in (top, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    as_user = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    # The server is not under test: keep a sanitizer runtime preloaded into
    # the test process (see README, "Debug builds") out of it.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    try:
        made = subprocess.run([initdb, "-D", data, "-U", "test", "--auth=trust", "-E", "UTF8",
                               "--no-sync"], capture_output=True, cwd=top, env=env,
                              timeout=120, **as_user)
        failure = made.stderr if made.returncode != 0 else None
    except subprocess.TimeoutExpired:
        failure = b"initdb did not finish in 120 s"
    if failure is not None:
        shutil.rmtree(top, ignore_errors=True)
        pytest.skip("this machine's initdb failed, so there is no PostgreSQL server to test "
                    "against: " + failure.decode(errors="replace").strip()[-300:])
    port = _free_port()
    # The server's log goes to a file: a pipe nobody reads could fill up.
    log_path = os.path.join(top, "server.log")
    log = open(log_path, "wb")
    server = subprocess.Popen(
        [postgres_bin, "-D", data, "-p", str(port), "-k", sockets,
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=log, cwd=top, env=env, **as_user)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(sockets, f".s.PGSQL.{port}")):
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                with open(log_path, "rb") as f:
                    reason = f.read().decode(errors="replace").strip()[-300:]
                pytest.skip("this machine's PostgreSQL server did not start: " + reason)
            time.sleep(0.05)
        yield {"host": "127.0.0.1", "port": port, "user": "test", "database": "postgres",
               "unix_dir": sockets}
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(top, ignore_errors=True)


def tcp(postgres):
    return {k: postgres[k] for k in ("host", "port", "user", "database")}


def test_queries_transactions_and_copy(loop, postgres):
    async def main():
        conn = await asyncpg.connect(**tcp(postgres))
        try:
            assert await conn.fetchval("SELECT 1 + 1") == 2
            await conn.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, name text, data bytea)")
            rows = [(i, f"item {i}", bytes([i % 256]) * i) for i in range(1000)]
            await conn.executemany("INSERT INTO items VALUES ($1, $2, $3)", rows)
            # A result bigger than one read: 1000 rows, about 500 KiB.
            fetched = await conn.fetch("SELECT id, name, data FROM items ORDER BY id")
            assert [tuple(r) for r in fetched] == rows
            statement = await conn.prepare("SELECT name FROM items WHERE id = $1")
            assert [await statement.fetchval(i) for i in (3, 500, 999)] == [
                "item 3", "item 500", "item 999"]
            # A transaction that fails leaves nothing behind.
            with pytest.raises(asyncpg.UniqueViolationError):
                async with conn.transaction():
                    await conn.execute("INSERT INTO items VALUES (5000, 'new', NULL)")
                    await conn.execute("INSERT INTO items VALUES (1, 'duplicate', NULL)")
            assert await conn.fetchval("SELECT count(*) FROM items") == 1000
            async with conn.transaction():
                ids = [r["id"] async for r in conn.cursor(
                    "SELECT id FROM items WHERE id % 100 = 0 ORDER BY id", prefetch=3)]
            assert ids == list(range(0, 1000, 100))
            # COPY in both directions.
            await conn.copy_records_to_table(
                "items", records=[(i, "copied", None) for i in range(1000, 3000)])
            assert await conn.fetchval("SELECT count(*) FROM items WHERE name = 'copied'") == 2000
        finally:
            await conn.close()

    run(loop, main(), timeout=60)


def test_pool_concurrency_and_unix_socket(loop, postgres):
    async def main():
        async with asyncpg.create_pool(**tcp(postgres), min_size=2, max_size=4) as pool:
            results = await asyncio.gather(
                *[pool.fetchval("SELECT $1::int * 2, pg_sleep(0.01)", i) for i in range(40)])
            assert results == [i * 2 for i in range(40)]
        conn = await asyncpg.connect(host=postgres["unix_dir"], port=postgres["port"],
                                     user="test", database="postgres")
        try:
            assert await conn.fetchval("SELECT current_user") == "test"
        finally:
            await conn.close()

    run(loop, main(), timeout=60)


def test_timeout_cancels_the_query_and_listen_notify(loop, postgres):
    async def main():
        conn = await asyncpg.connect(**tcp(postgres))
        try:
            # asyncpg cancels a timed-out query over a second connection;
            # the first one stays usable.
            with pytest.raises(asyncio.TimeoutError):
                await conn.execute("SELECT pg_sleep(30)", timeout=0.2)
            assert await conn.fetchval("SELECT 42") == 42
            received = asyncio.Queue()
            await conn.add_listener("events", lambda *args: received.put_nowait(args[3]))
            other = await asyncpg.connect(**tcp(postgres))
            try:
                for i in range(3):
                    await other.execute(f"NOTIFY events, 'message {i}'")
            finally:
                await other.close()
            assert [await received.get() for _ in range(3)] == [
                "message 0", "message 1", "message 2"]
        finally:
            await conn.close()

    run(loop, main(), timeout=60)
