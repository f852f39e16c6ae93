#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal, for the CLI tests where a terminal matters.

usage: terminal.py [--stdout-file PATH] [--columns N] [--input] -- ARGV...

The command's stdin and stderr are the terminal, and its stdout too unless --stdout-file sends
stdout to that file instead (a terminal on stderr only, as with `$(...)`). The terminal is the
command's controlling terminal, 24 rows by N columns (default 80). Everything the terminal shows
is copied to this process's stdout as it comes, byte for byte (with the terminal's own "\\n" to
"\\r\\n"). With --input, what this process reads on its stdin is typed on the terminal as it
comes (keys: "\\x03" is Ctrl-C, "\\x1a" Ctrl-Z, "\\x1c" Ctrl-\\). Exits with the command's exit code, or 128+N when signal N killed it.
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios


def main() -> int:
    args = sys.argv[1:]
    stdout_file = None
    columns = 80
    typed = False
    while args and args[0] != "--":
        if args[0] == "--stdout-file":
            stdout_file = args[1]
            args = args[2:]
        elif args[0] == "--input":
            typed = True
            args = args[1:]
        elif args[0] == "--columns":
            columns = int(args[1])
            args = args[2:]
        else:
            print(f"terminal.py: unknown option {args[0]}", file=sys.stderr)
            return 2
    argv = args[1:]
    if not argv:
        print("terminal.py: missing the command after --", file=sys.stderr)
        return 2

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        out = slave
        if stdout_file is not None:
            out = os.open(stdout_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(slave, 0)
        os.dup2(out, 1)
        os.dup2(slave, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    os.close(slave)
    sources = [master, 0] if typed else [master]
    while True:
        ready, _, _ = select.select(sources, [], [])
        if 0 in ready:
            keys = os.read(0, 4096)
            if keys:
                os.write(master, keys)
            else:
                sources.remove(0)  # nothing more to type
        if master not in ready:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every copy of the terminal's other side is closed
            break
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
