#!/usr/bin/env python3
"""Ports of the local stack, for scripts/common.sh.

  ports.py free NAME=PORT...     fails, naming the port and its variable, when a port given is
                                 taken (something is bound to it) or is given twice
  ports.py wait PORT SECONDS PID waits until a listener on PORT belongs to PID or one of its
                                 descendants; fails at once when PID has exited (or is a zombie)
                                 or when the listener is someone else's, and after SECONDS

The owner of a listener is found through /proc (its socket's inode among the fds of PID's
process tree); without /proc, `wait` settles for a connection on 127.0.0.1:PORT while PID lives.
"""

import errno
import os
import socket
import sys
import time

PROC = "/proc"


def log(message):
    """As common.sh's `log`."""
    print(f"\033[1m==> {message}\033[0m", file=sys.stderr, flush=True)


def bind_error(port):
    """The error binding PORT on every IPv4 and IPv6 address gives, or None when it is free."""
    families = [(socket.AF_INET, "0.0.0.0")]
    if socket.has_ipv6:
        families.append((socket.AF_INET6, "::"))
    for family, address in families:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 on this machine
        try:
            # As servers bind: a port whose old connections linger in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address, port))
        except OSError as error:
            if family == socket.AF_INET6 and error.errno == errno.EADDRNOTAVAIL:
                continue  # IPv6 is off
            return error
        finally:
            sock.close()
    return None


def listening_inodes(port):
    """The inodes of the TCP sockets listening on PORT (any address), or None without /proc."""
    inodes, seen = set(), False
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{PROC}/net/{table}") as lines:
                next(lines)
                seen = True
                for line in lines:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes if seen else None


def processes():
    """{pid: (parent pid, state, command line)} of every process we can see."""
    table = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            with open(f"{PROC}/{entry}/stat") as stat:
                # pid (comm) state ppid ...: comm may hold spaces and parentheses.
                state, ppid = stat.read().rsplit(")", 1)[1].split()[:2]
            with open(f"{PROC}/{entry}/cmdline", "rb") as cmdline:
                args = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        table[int(entry)] = (int(ppid), state, args)
    return table


def socket_holders(inodes, pids):
    """The pids among PIDS that hold one of the sockets INODES."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for pid in pids:
        try:
            fds = os.listdir(f"{PROC}/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{PROC}/{pid}/fd/{fd}") in wanted:
                    holders.append(pid)
                    break
            except OSError:
                continue
    return holders


def descendants(root, table):
    """ROOT and every process under it."""
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def holder_text(port):
    """' (pid N: command)' for a process of ours that listens on PORT, else ''."""
    inodes = listening_inodes(port)
    if not inodes:
        return ""
    table = processes()
    for pid in socket_holders(inodes, table):
        return f" (by pid {pid}: {table[pid][2][:120]})"
    return ""


def free(pairs):
    problems, names = [], {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        port = int(value)
        if port in names:
            problems.append(f"port {port} is both {names[port]} and {name}")
            continue
        names[port] = name
        error = bind_error(port)
        if error is None:
            continue
        if error.errno == errno.EADDRINUSE:
            problems.append(f"port {port} ({name}) is taken{holder_text(port)}")
        else:
            problems.append(f"port {port} ({name}) cannot be bound: {error.strerror}")
    for problem in problems:
        log(problem)
    return 1 if problems else 0


def alive(pid):
    try:
        with open(f"{PROC}/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def wait(port, seconds, pid):
    start = time.monotonic()
    deadline = start + seconds
    while True:
        if not alive(pid):
            log(f"process {pid} exited before it listened on port {port}: it failed to start")
            return 1
        inodes = listening_inodes(port)
        if inodes is None:
            if answers(port):
                return 0
        elif inodes:
            table = processes()
            if socket_holders(inodes, descendants(pid, table)):
                return 0
            others = socket_holders(inodes, table)
            # A listener outside PID's tree: PID cannot have the port (give it a moment, for a
            # socket passed between processes as PID starts).
            if others or time.monotonic() > start + 2:
                who = f"pid {others[0]}: {table[others[0]][2][:120]}" if others else "another user"
                log(f"port {port} is taken by another process ({who}), not by process {pid}")
                return 1
        if time.monotonic() >= deadline:
            log(f"nothing answered on port {port} within {seconds:g} s")
            return 1
        time.sleep(0.2)


def main(argv):
    if len(argv) >= 2 and argv[1] == "free":
        return free(argv[2:])
    if len(argv) == 5 and argv[1] == "wait":
        return wait(int(argv[2]), float(argv[3]), int(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
