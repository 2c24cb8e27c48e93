#!/usr/bin/env python3
"""The `make run` check (`python3 scripts/run-check.py`), part of `make test`.

1. A taken port: for DYNAMODB_PORT and for API_PORT in turn, a listener of this check's (an HTTP
   server, as another DynamoDB Local or a stale run would be) holds the port, and `make run` on
   it must exit non-zero within FAIL_SECONDS, saying `port N (NAME) is taken`, before it starts
   anything.
2. A server that dies at start-up: with a `java` that exits at once first on PATH, DynamoDB
   Local's wrapper exits, and `make run` must exit non-zero within FAIL_SECONDS saying so,
   not wait for the port to answer, with nothing left.
3. Signals: `make run` on free ports (API_PORT, DYNAMODB_PORT, MAIL_PORT, FUNCTIONS_PORT), once
   the API answers, gets SIGTERM, SIGINT or SIGHUP (one round each) sent to make's process
   group, as a supervisor, `timeout`, a terminal or a closed terminal would send it. Within
   STOP_SECONDS make must be gone and nothing it started left.

What a round's `make run` started is found by a marker in the environment the round gives make
(every process under it inherits it), and through the process groups it registers in a
TOKENGATE_GROUPS_FILE of the round's (their processes that run from this checkout or are
DynamoDB Local or cargo lambda, as scripts/test.sh counts them). Whatever is left is printed,
then killed, and the check fails. Logs go to target/run-check/.
"""

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "target", "run-check")
FAIL_SECONDS = 20
START_SECONDS = 900  # the first `make run` of a checkout compiles the functions
STOP_SECONDS = 10
MARKER = "TOKENGATE_RUN_CHECK"


def log(message):
    print(f"\033[1m==> {message}\033[0m", file=sys.stderr, flush=True)


def free_ports(count):
    """COUNT distinct ports nothing listens on now."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def ours(marker, groups):
    """{pid: command line} of the live processes a round started: those with its marker in
    their environment, and those of the process groups its `make run` registered (in GROUPS,
    its TOKENGATE_GROUPS_FILE) that run from this checkout or are DynamoDB Local or cargo
    lambda, as scripts/test.sh's `finish` counts them."""
    try:
        with open(groups) as f:
            registered = {int(line) for line in f if line.strip()}
    except OSError:
        registered = set()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/stat") as f:
                state, _, pgid = f.read().rsplit(")", 1)[1].split()[:3]
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
            except OSError:
                environ = []
        except OSError:
            continue
        if state == "Z" or not args:
            continue
        mine = int(pgid) in registered and any(
            mark in args for mark in (ROOT, "DynamoDBLocal", "cargo-lambda"))
        if mine or marker.encode() in environ:
            found[int(entry)] = args
    return found


class Round:
    """One `make run` in a session of its own, its ports given, its output in a log file."""

    def __init__(self, name, ports, path=None):
        self.name = name
        self.ports = ports
        self.marker = f"{MARKER}={uuid.uuid4()}"
        self.log_path = os.path.join(WORK, f"{name}.log")
        self.groups = os.path.join(WORK, f"{name}.groups")
        open(self.groups, "w").close()
        env = dict(os.environ, **{name: str(port) for name, port in ports.items()})
        env["TOKENGATE_GROUPS_FILE"] = self.groups
        if path:
            env["PATH"] = f"{path}:{env['PATH']}"
        env[MARKER] = self.marker.split("=", 1)[1]
        with open(self.log_path, "wb") as out:
            # make must meet SIGINT as a terminal's make does: not ignored, whatever this
            # check inherited (a background job's SIGINT is ignored).
            self.make = subprocess.Popen(
                ["make", "--no-print-directory", "run"], cwd=ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def tail(self, lines=25):
        return "\n".join(self.output().splitlines()[-lines:])

    def left(self):
        return ours(self.marker, self.groups)

    def clean_up(self):
        """Kills whatever the round left; returns what was left. The round's process groups go
        to the registry of the script that ran this check, if any (make test checks it)."""
        left = self.left()
        parent = os.environ.get("TOKENGATE_GROUPS_FILE")
        if parent:
            with open(self.groups) as mine, open(parent, "a") as theirs:
                theirs.write(mine.read())
        if self.make.poll() is None:
            left[self.make.pid] = "make run"
        for pid in left:
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except OSError:
                pass
        return left


def answers(port):
    """Whether an HTTP server answers on 127.0.0.1:PORT (any status)."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/verify?authToken=probe", timeout=5)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def four_ports():
    api, dynamodb, mail, functions = free_ports(4)
    return {"API_PORT": api, "DYNAMODB_PORT": dynamodb, "MAIL_PORT": mail,
            "FUNCTIONS_PORT": functions}


def expect_failed_start(run, expected):
    """The failures of RUN, a `make run` that must exit non-zero soon, saying EXPECTED."""
    failures = []
    start = time.monotonic()
    try:
        status = run.make.wait(FAIL_SECONDS)
    except subprocess.TimeoutExpired:
        status = None
        failures.append(f"make run still running {FAIL_SECONDS} s after it started")
    took = time.monotonic() - start
    if status == 0:
        failures.append("make run exited 0")
    if status is not None and expected not in run.output():
        failures.append(f"make run did not say {expected!r}")
    time.sleep(1)
    left = run.clean_up()
    if left:
        failures.append("left running: " + "; ".join(f"{p} {a[:150]}" for p, a in left.items()))
    if not failures:
        log(f"{run.name}: make run exited {status} in {took:.1f} s, saying {expected!r}")
    return failures


def check_taken(taken_name):
    ports = four_ports()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", ports[taken_name]), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f"make run with {taken_name}={ports[taken_name]} taken by a listener of this check's")
    run = Round(f"taken-{taken_name.lower()}", ports)
    try:
        failures = expect_failed_start(run, f"port {ports[taken_name]} ({taken_name}) is taken")
    finally:
        server.shutdown()
        server.server_close()
    return report(run, failures)


def check_dead_at_start():
    ports = four_ports()
    fake = os.path.join(WORK, "dead-java")
    os.makedirs(fake, exist_ok=True)
    java = os.path.join(fake, "java")
    with open(java, "w") as f:
        f.write("#!/bin/sh\necho 'a java that exits at once (scripts/run-check.py)' >&2\nexit 1\n")
    os.chmod(java, 0o755)
    log("make run with a java that exits at once (DynamoDB Local dies at start-up)")
    run = Round("dead-dynamodb", ports, path=fake)
    expected = f"exited before it listened on port {ports['DYNAMODB_PORT']}"
    return report(run, expect_failed_start(run, expected))


def check_signal(sig):
    ports = four_ports()
    api = ports["API_PORT"]
    given = " ".join(f"{name}={port}" for name, port in ports.items())
    log(f"make run on free ports ({given}), then {sig.name} to its process group")
    run = Round(f"signal-{sig.name.lower()}", ports)
    failures = []
    deadline = time.monotonic() + START_SECONDS
    ready = False
    while time.monotonic() < deadline and run.make.poll() is None:
        if "==> API on http://" in run.output() and answers(api):
            ready = True
            break
        time.sleep(1)
    if not ready:
        failures.append(f"the API never answered (make run {'exited' if run.make.poll() is not None else 'still starting'})")
    else:
        started = len(run.left())
        os.killpg(run.make.pid, sig)
        stop_by = time.monotonic() + STOP_SECONDS
        while time.monotonic() < stop_by and (run.make.poll() is None or run.left()):
            time.sleep(0.2)
        took = STOP_SECONDS - (stop_by - time.monotonic())
        if run.make.poll() is None:
            failures.append(f"make still running {STOP_SECONDS} s after {sig.name}")
        left = run.left()
        if left:
            failures.append(f"{len(left)} of its {started} processes still running "
                            f"{STOP_SECONDS} s after {sig.name}: "
                            + "; ".join(f"{p} {a[:150]}" for p, a in left.items()))
        else:
            log(f"{sig.name}: make run and the {started} processes it ran stopped in {took:.1f} s")
    if run.clean_up() and not failures:
        failures.append("processes left running")
    return report(run, failures)


def report(run, failures):
    for failure in failures:
        log(f"{run.name}: {failure}")
    if failures:
        log(f"{run.name}: the end of {os.path.relpath(run.log_path, ROOT)}:")
        print(run.tail(), file=sys.stderr)
    return not failures


def main():
    os.makedirs(WORK, exist_ok=True)
    results = [check_taken("DYNAMODB_PORT"), check_taken("API_PORT"), check_dead_at_start()]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        results.append(check_signal(sig))
    if not all(results):
        log(f"make run check: {results.count(False)} of {len(results)} rounds failed")
        return 1
    log(f"make run check: all {len(results)} rounds passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
