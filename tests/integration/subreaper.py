"""Run a command as a child subreaper that reaps every orphan at once, as systemd does for a service.

Patroni starts the postmaster with a double fork, so the postmaster is an orphan. Where PID 1 reaps
late (the sandbox's init leaves a dead postmaster a zombie for up to 1.5 s, measured), Patroni still
sees that zombie as a running PostgreSQL, fails to connect and restarts it even in maintenance mode.
Standard library only: it runs under the system Python, as postgres.

    python3 -I subreaper.py COMMAND [ARG ...]

Exits with the command's status (128 + N when signal N ended it) and passes on
SIGTERM, SIGINT, SIGHUP and SIGQUIT.
"""

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def main(argv):
    if not argv:
        sys.exit("usage: subreaper.py COMMAND [ARG ...]")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(errno)}")
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)  # noqa: S606 - the command line is the caller's, as with exec
        except OSError as exc:  # said before _exit, which would drop the traceback
            print(f"subreaper: cannot run {argv[0]}: {exc}", file=sys.stderr, flush=True)
        os._exit(127)
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, lambda received, _frame: os.kill(child, received))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
