"""python -m fastloop: an unchanged program runs on fastloop and sees what
`python script.py` (or `python -m module`) would give it.

Each test runs the same program both ways in subprocesses and compares
stdout, stderr and the exit status.  The programs print the module of their
running loop's class, so the tests also check that fastloop really ran; that
line is then masked and everything else must match.  In tracebacks the
frames of the event loop itself are masked (see _subproc.LOOP_FRAME); every
other frame must be the same.
"""

import re
import signal
import subprocess
import sys
import textwrap

import pytest
from _subproc import child_env, mask_loop_frames

TIMEOUT = 60

LOOP_LINE = re.compile(r"^loop: (\S+)$", re.M)
SHOW_LOOP = "print('loop:', type(asyncio.get_running_loop()).__module__)"


def python(args, cwd, options=()):
    return subprocess.run(
        [sys.executable, *options, *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def loops_named(stdout):
    return LOOP_LINE.findall(stdout)


def normalized(result):
    stdout = LOOP_LINE.sub("loop: <loop>", result.stdout)
    return stdout, mask_loop_frames(result.stderr), result.returncode


def run_both(args, cwd, options=(), loops=1):
    """Run `python [options] args` and `python [options] -m fastloop args`;
    check that each ran `loops` event loops of its own kind and that
    everything else they did is the same.  Returns both results."""
    plain = python(args, cwd, options)
    fast = python(["-m", "fastloop", *args], cwd, options)
    assert loops_named(plain.stdout) == ["asyncio.unix_events"] * loops, plain
    assert loops_named(fast.stdout) == ["fastloop._loop"] * loops, fast
    assert normalized(fast) == normalized(plain)
    assert "fastloop/__main__.py" not in fast.stderr
    return plain, fast


def write(path, source):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


# ---- the program's view of the interpreter --------------------------------

MAIN_VIEW = """\
    import asyncio
    import sys

    import helper  # next to the script: sys.path[0] is the script's directory

    async def main():
        {show_loop}
        import __main__
        print("argv", sys.argv)
        print("path0", sys.path[0])
        print("name", __name__, __main__.__name__, sys.modules["__main__"] is __main__)
        print("globals", sorted(globals()))
        print("file", __file__, __main__.__file__ == __file__)
        print("spec", __spec__, __package__, __cached__)
        print("loader", type(__loader__).__name__, __loader__.name, __loader__.path)
        print("doc", __doc__)
        print("builtins", __builtins__ is __import__("builtins"))
        print("helper", helper.VALUE)

    if __name__ == "__main__":
        asyncio.run(main())
"""


def test_script_sees_argv_path_and_main_module(tmp_path):
    write(tmp_path / "sub" / "app.py", MAIN_VIEW.format(show_loop=SHOW_LOOP))
    write(tmp_path / "sub" / "helper.py", "VALUE = 42\n")
    plain, _ = run_both(["sub/app.py", "x", "--flag", "two words", ""], tmp_path)
    assert "argv ['sub/app.py', 'x', '--flag', 'two words', '']" in plain.stdout
    assert f"path0 {tmp_path / 'sub'}" in plain.stdout
    assert "helper 42" in plain.stdout


def test_script_run_through_a_symlink_and_dot_path(tmp_path):
    write(tmp_path / "real" / "app.py", MAIN_VIEW.format(show_loop=SHOW_LOOP))
    write(tmp_path / "real" / "helper.py", "VALUE = 'real'\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "real" / "app.py")
    plain, _ = run_both(["./link.py"], tmp_path)
    # sys.path[0] is the directory of the symlink's target.
    assert f"path0 {tmp_path / 'real'}" in plain.stdout


def test_safe_path_adds_no_directory(tmp_path):
    write(
        tmp_path / "sub" / "app.py",
        f"""\
        import asyncio, os, sys
        async def main():
            {SHOW_LOOP}
        asyncio.run(main())
        print("script dir on path:", os.path.dirname(os.path.abspath(__file__)) in sys.path)
        print("cwd on path:", os.getcwd() in sys.path, "" in sys.path)
        """,
    )
    plain, _ = run_both(["sub/app.py"], tmp_path, options=["-P"])
    assert "script dir on path: False" in plain.stdout


PICKLING = """\
    import asyncio
    import concurrent.futures
    import multiprocessing
    import pickle
    from dataclasses import dataclass

    @dataclass
    class Point:
        x: int
        y: int

    def norm2(p):
        return p.x * p.x + p.y * p.y

    print("module level runs in", __name__)

    async def main():
        {show_loop}
        data = pickle.dumps(Point(3, 4))
        print(b"__main__" in data, pickle.loads(data))
        # A spawned worker re-imports this file as __mp_main__ (through
        # __main__.__file__) and looks Point and norm2 up there.
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
            print("worker:", await asyncio.get_running_loop().run_in_executor(pool, norm2, Point(3, 4)))

    if __name__ == "__main__":
        asyncio.run(main())
"""


def test_pickling_and_main_guard_with_spawned_workers(tmp_path):
    write(tmp_path / "app.py", PICKLING.format(show_loop=SHOW_LOOP))
    plain, _ = run_both(["app.py"], tmp_path)
    assert "True Point(x=3, y=4)" in plain.stdout
    assert "worker: 25" in plain.stdout
    # Once in the program, once in the worker (as __mp_main__).
    assert "module level runs in __main__" in plain.stdout
    assert "module level runs in __mp_main__" in plain.stdout


# ---- exit status and tracebacks -------------------------------------------


@pytest.mark.parametrize(
    "ending",
    [
        "pass",
        "sys.exit()",
        "sys.exit(0)",
        "sys.exit(3)",
        "sys.exit(None)",
        "sys.exit('fatal: bad things')",
        "raise SystemExit(7)",
    ],
)
def test_exit_status_from_inside_the_coroutine(tmp_path, ending):
    write(
        tmp_path / "app.py",
        f"""\
        import asyncio, sys

        async def main():
            {SHOW_LOOP}
            await asyncio.sleep(0)
            {ending}

        asyncio.run(main())
        print("after run")
        """,
    )
    run_both(["app.py"], tmp_path)


def test_exit_status_from_module_level(tmp_path):
    write(
        tmp_path / "app.py",
        f"""\
        import asyncio, sys

        async def main():
            {SHOW_LOOP}
            return 4

        sys.exit(asyncio.run(main()))
        """,
    )
    plain, _ = run_both(["app.py"], tmp_path)
    assert plain.returncode == 4


UNCAUGHT = """\
    import asyncio

    class AppError(Exception):
        pass

    def parse(text):
        return int(text)

    async def step():
        await asyncio.sleep(0)
        try:
            parse("not a number")
        except ValueError as exc:
            raise AppError("could not parse") from exc

    async def main():
        {show_loop}
        await step()

    asyncio.run(main())
"""


def test_uncaught_exception_prints_the_same_traceback(tmp_path):
    write(tmp_path / "app.py", UNCAUGHT.format(show_loop=SHOW_LOOP))
    plain, fast = run_both(["app.py"], tmp_path)
    assert plain.returncode == 1
    assert "The above exception was the direct cause" in plain.stderr
    assert "runpy" not in fast.stderr
    # The traceback starts at the script, as the interpreter prints it.
    first_frame = fast.stderr.splitlines()[1]
    assert first_frame.startswith(f'  File "{tmp_path / "app.py"}", line ')


def test_uncaught_exception_at_module_level(tmp_path):
    write(
        tmp_path / "app.py",
        f"""\
        import asyncio

        async def main():
            {SHOW_LOOP}
            return {{}}

        config = asyncio.run(main())
        print(config["missing"])
        """,
    )
    plain, fast = run_both(["app.py"], tmp_path)
    assert plain.returncode == 1
    assert fast.stderr == plain.stderr  # no loop frames in it at all


def test_syntax_error(tmp_path):
    write(tmp_path / "app.py", "import asyncio\nasync def main(:\n    pass\n")
    plain = python(["app.py"], tmp_path)
    fast = python(["-m", "fastloop", "app.py"], tmp_path)
    assert plain.returncode == 1
    assert "SyntaxError" in plain.stderr
    assert (fast.stdout, fast.stderr, fast.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )


def test_missing_script(tmp_path):
    plain = python(["no_such_script.py", "arg"], tmp_path)
    fast = python(["-m", "fastloop", "no_such_script.py", "arg"], tmp_path)
    assert plain.returncode == 2
    assert (fast.stdout, fast.stderr, fast.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )


@pytest.mark.parametrize("where", ["coroutine", "module"])
def test_uncaught_keyboard_interrupt_kills_with_sigint(tmp_path, where):
    raise_in_main = "raise KeyboardInterrupt" if where == "coroutine" else "pass"
    raise_after = "raise KeyboardInterrupt" if where == "module" else ""
    write(
        tmp_path / "app.py",
        f"""\
        import asyncio

        async def main():
            {SHOW_LOOP}
            await asyncio.sleep(0)
            {raise_in_main}

        try:
            asyncio.run(main())
        finally:
            print("finally ran")
        {raise_after}
        """,
    )
    plain, _ = run_both(["app.py"], tmp_path)
    # Like plain python: the traceback, then death by SIGINT.
    assert plain.returncode == -signal.SIGINT
    assert plain.stderr.rstrip().endswith("KeyboardInterrupt")


def test_program_excepthook_sees_the_program_frames_only(tmp_path):
    write(
        tmp_path / "app.py",
        f"""\
        import asyncio, sys, traceback

        def hook(typ, value, tb):
            print("hook:", typ.__name__, [f.name for f in traceback.extract_tb(tb)])

        sys.excepthook = hook

        async def main():
            {SHOW_LOOP}

        def fail():
            asyncio.run(main())
            raise RuntimeError("late")

        fail()
        """,
    )
    plain, _ = run_both(["app.py"], tmp_path)
    assert "hook: RuntimeError ['<module>', 'fail']" in plain.stdout


# ---- the other ways a program makes its loop -----------------------------


def test_new_event_loop_get_event_loop_and_runner(tmp_path):
    write(
        tmp_path / "app.py",
        f"""\
        import asyncio

        async def main():
            {SHOW_LOOP}
            return 1

        # No current loop yet: the policy makes one (3.12+ warns here,
        # exactly as without fastloop).
        loop = asyncio.get_event_loop()
        print(loop.run_until_complete(main()))
        loop.close()

        loop = asyncio.new_event_loop()
        print(loop.run_until_complete(main()))
        loop.close()

        with asyncio.Runner() as runner:
            print(runner.run(main()))
        """,
    )
    run_both(["app.py"], tmp_path, loops=3)


def test_policy_installation_is_silent_under_warnings_as_errors(tmp_path):
    write(
        tmp_path / "app.py",
        f"""\
        import asyncio

        async def main():
            {SHOW_LOOP}

        asyncio.run(main())
        """,
    )
    plain, fast = run_both(["app.py"], tmp_path, options=["-W", "error", "-X", "dev"])
    assert plain.returncode == 0
    assert fast.stderr == ""


# ---- python -m fastloop -m module ----------------------------------------

MODULE = """\
    import asyncio, sys

    async def main():
        {show_loop}
        print("argv", sys.argv)
        print("name", __name__, __spec__.name, __package__)
        print("file", __file__)
        print("path0", sys.path[0])
        if sys.argv[1:] == ["fail"]:
            raise LookupError("asked to fail")

    asyncio.run(main())
"""


def make_package(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "tool.py", MODULE.format(show_loop=SHOW_LOOP))
    write(tmp_path / "pkg" / "__main__.py", MODULE.format(show_loop=SHOW_LOOP))


@pytest.mark.parametrize("module", ["pkg.tool", "pkg"])
def test_module_mode(tmp_path, module):
    make_package(tmp_path)
    plain, _ = run_both(["-m", module, "a", "b"], tmp_path)
    assert "argv [" in plain.stdout and "'a', 'b']" in plain.stdout


@pytest.mark.parametrize("module", ["pkg.tool", "pkg"])
def test_module_mode_traceback(tmp_path, module):
    make_package(tmp_path)
    plain, _ = run_both(["-m", module, "fail"], tmp_path)
    assert plain.returncode == 1
    assert "LookupError: asked to fail" in plain.stderr


def test_module_mode_unknown_module(tmp_path):
    plain = python(["-m", "no_such_module_here"], tmp_path)
    fast = python(["-m", "fastloop", "-m", "no_such_module_here"], tmp_path)
    assert plain.returncode == 1
    assert (fast.stdout, fast.stderr, fast.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )


def test_directory_with_main(tmp_path):
    write(tmp_path / "app" / "__main__.py", MODULE.format(show_loop=SHOW_LOOP))
    run_both(["app", "x"], tmp_path)
    run_both(["app", "fail"], tmp_path)


# ---- usage ----------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"], ["-m"], ["--bogus", "app.py"]])
def test_usage(tmp_path, args):
    result = python(["-m", "fastloop", *args], tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: python -m fastloop script.py" in result.stderr
