"""Runs INSIDE the sandbox: hands 127.0.0.1:<port> connections to ketch's proxy, then runs the command.

Usage: python3 -I -S forwarder.py CHANNEL_FD PORT -- COMMAND...

The sandbox has its own network namespace with nothing but loopback, so tools that
honour HTTP(S)_PROXY=http://127.0.0.1:PORT reach ketch's allow-list proxy (security.
sandbox.proxy) through this forwarder and nothing else. It listens before the command
starts and passes every accepted connection, as a file descriptor, over CHANNEL_FD (one
end of a socketpair ketch made for this call): the sandbox may create no unix socket,
so there is no socket path to connect to. It runs the command as its child, without
the channel, and exits with the command's status (re-raising the signal that killed
it), so bwrap sees the command's own result. Standard library only: it is run by path
with `-I -S`, outside ketch's package environment.
"""

import os
import signal
import socket
import sys
import threading


def _serve(listener: socket.socket, channel: socket.socket) -> None:
    while True:
        client, _ = listener.accept()
        try:
            socket.send_fds(channel, [b"c"], [client.fileno()])
        except OSError:
            pass
        client.close()


def main() -> None:
    fd, port, sep, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    if sep != "--" or not argv:
        sys.exit("usage: forwarder.py CHANNEL_FD PORT -- COMMAND...")
    channel = socket.socket(fileno=fd)
    channel.set_inheritable(False)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    pid = os.fork()
    if pid == 0:
        listener.close()
        channel.close()
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"{argv[0]}: {exc.strerror}\n".encode())
            os._exit(127)
    threading.Thread(target=_serve, args=(listener, channel), daemon=True).start()
    for forwarded in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(forwarded, lambda signum, frame: os.kill(pid, signum))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP keep their default anyway
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main()
