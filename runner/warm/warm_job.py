"""The job process of the warm server: a fork that becomes exactly what the job asked for.

In the job's namespaces already (its keeper entered them), it drops every capability, sets
no-new-privileges, starts a session of its own, gets the parent-death signal, takes the job's
descriptors, limits, folder, environment, argv and ``sys.path[0]``, resets signal handlers,
makes new standard streams, reseeds the random generators, and runs the script (``-c``,
``-m``) as ``__main__`` with the interpreter's exit semantics. Part of ``server.py``.
"""

import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24

_libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def die_with_parent() -> None:
    check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def drop_privileges() -> None:
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability this kernel knows
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    check(_libc.syscall(126, header, data), "capset")  # SYS_capset on x86_64
    check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _standard_streams(unbuffered: bool) -> None:
    """New sys.stdin/stdout/stderr over fds 0-2, made as the interpreter makes them at start."""
    import io

    def stream(fd, mode, errors, line):
        raw = io.FileIO(fd, mode, closefd=False)
        if unbuffered and mode == "wb":
            buffer = raw
        else:
            buffer = (io.BufferedReader if mode == "rb" else io.BufferedWriter)(raw)
        tty = raw.isatty()
        return io.TextIOWrapper(buffer, encoding="utf-8", errors=errors,
                                line_buffering=line or tty, write_through=unbuffered)

    sys.stdin = sys.__stdin__ = stream(0, "rb", "strict", False)
    sys.stdout = sys.__stdout__ = stream(1, "wb", "strict", False)
    sys.stderr = sys.__stderr__ = stream(2, "wb", "backslashreplace", True)


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _finish(code: int) -> None:
    """What the interpreter does at exit: join threads, atexit, flush; then leave at once."""
    import atexit
    import threading

    try:
        threading._shutdown()
    except Exception:
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.closed:  # as the interpreter: a closed one is skipped
                stream.flush()
        except Exception:
            code = code or 120
    os._exit(code)


def become_job(plan, cwd, env, fds, limits, keeper: int) -> None:
    """In the job process: never returns."""
    try:
        os.setsid()
        die_with_parent()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, min(os.sysconf("SC_OPEN_MAX"), 1 << 20))  # the server's fds: none is the job's
        for which, value in limits:
            resource.setrlimit(which, value)
        drop_privileges()
        die_with_parent()
        # The keeper died before the signal was armed (0: a parent outside our PID namespace).
        if os.getppid() not in (0, keeper):
            os._exit(70)
        os.chdir(cwd)
        for number in range(1, signal.NSIG):
            if number in (signal.SIGKILL, signal.SIGSTOP):
                continue
            try:
                signal.signal(number, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as the interpreter sets it at start
        os.environ.clear()
        os.environ.update(env)
        kind, target, arguments, unbuffered = plan
        _standard_streams(unbuffered)
        _reseed()
    except BaseException as exc:  # the job never started: say so where its stderr goes
        os.write(2, f"python3 (warm): cannot start the job process: {exc}\n".encode())
        os._exit(70)
    code = _run(kind, target, arguments)
    _finish(code)


def _reseed() -> None:
    """Fresh random state, and what the stdlib cached of the server's environment at import."""
    import random

    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None  # read again from the job's TMPDIR

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _run(kind: str, target: str, arguments: list[str]) -> int:
    import runpy

    try:
        if kind == "script":
            # As the interpreter since 3.9: __file__ (and so sys.argv[0]) absolute.
            sys.argv = [target, *arguments]
            sys.path[0] = os.path.dirname(os.path.realpath(target))
            runpy.run_path(os.path.abspath(target), run_name="__main__")
        elif kind == "command":
            sys.argv = ["-c", *arguments]
            sys.path[0] = ""
            import types

            main = sys.modules["__main__"] = types.ModuleType("__main__")
            main.__builtins__ = __builtins__
            exec(compile(target, "<string>", "exec"), main.__dict__)
        else:
            sys.argv = [target, *arguments]
            sys.path[0] = os.getcwd()
            runpy._run_module_as_main(target, alter_argv=True)
    except SystemExit as exc:
        return _exit_code(exc)
    except KeyboardInterrupt:
        _report_exception()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    except BaseException:
        _report_exception()
        return 1
    return 0


def _report_exception() -> None:
    """The traceback as a fresh interpreter prints it: without this file's and runpy's frames."""
    import runpy

    kind, value, tb = sys.exc_info()
    ours = {os.path.abspath(__file__), os.path.abspath(runpy.__file__), "<frozen runpy>"}
    while tb is not None and (tb.tb_frame.f_code.co_filename in ours
                              or os.path.abspath(tb.tb_frame.f_code.co_filename) in ours):
        tb = tb.tb_next
    sys.excepthook(kind, value.with_traceback(tb), tb)


