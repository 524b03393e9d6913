"""The unix-socket seccomp filter, run through a small classic-BPF interpreter.

The ABIs a live test cannot reach on this machine (i386's socketcall, arm on aarch64,
a foreign architecture) are checked here instruction by instruction.
"""

from __future__ import annotations

import errno
import struct

import pytest

from ketch.security.sandbox.seccomp import unix_socket_filter

ALLOW, KILL = 0x7FFF0000, 0x80000000
EPERM, ENOSYS = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
X86_64, I386, AARCH64, ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028


def run(program: bytes, nr: int, arch: int, *args: int) -> int:
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * (6 - len(args))))
    code = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    acc, pc = 0, 0
    while True:
        op, jt, jf, k = code[pc]
        if op == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
        elif op == 0x15:
            pc += jt if acc == k else jf
        elif op == 0x35:
            pc += jt if acc >= k else jf
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
        pc += 1


@pytest.mark.parametrize("case,expected", [
    ((41, X86_64, 1, 1), EPERM),                    # socket(AF_UNIX, SOCK_STREAM)
    ((41, X86_64, 0x1_0000_0001, 1), EPERM),        # junk in the upper half: the kernel reads an int
    ((41, X86_64, 2, 1), ALLOW),                    # AF_INET
    ((53, X86_64, 1, 1), ALLOW),                    # socketpair(AF_UNIX): connected to itself only
    ((41 | 0x40000000, X86_64, 2, 1), ENOSYS),      # the x32 ABI
    ((425, X86_64), ENOSYS), ((426, X86_64), ENOSYS), ((427, X86_64), ENOSYS),  # io_uring
    ((359, I386, 1, 1), EPERM),                     # i386 socket(AF_UNIX)
    ((102, I386, 1, 0xFFFF0000), EPERM),            # i386 socketcall(SYS_SOCKET, args*): any family
    ((102, I386, 3, 0xFFFF0000), ALLOW),            # socketcall(SYS_CONNECT) on a socket it may have
    ((425, I386), ENOSYS),
    ((41, X86_64, 40, 1), EPERM),                   # AF_VSOCK: the hypervisor host, past any netns
    ((41, X86_64, 31, 1), EPERM),                   # AF_BLUETOOTH and any other unlisted family
    ((41, X86_64, 16, 3), ALLOW),                   # AF_NETLINK
    ((0, 0xDEAD), KILL),                            # an ABI the filter does not know
])
def test_x86_64_filter(case, expected):
    nr, arch, *args = case
    assert run(unix_socket_filter("x86_64"), nr, arch, *args) == expected


@pytest.mark.parametrize("case,expected", [
    ((198, AARCH64, 1, 1), EPERM), ((198, AARCH64, 10, 1), ALLOW), ((199, AARCH64, 1, 1), ALLOW),
    ((281, ARM, 1, 1), EPERM), ((425, AARCH64), ENOSYS), ((41, X86_64, 1, 1), KILL),
])
def test_aarch64_filter(case, expected):
    nr, arch, *args = case
    assert run(unix_socket_filter("aarch64"), nr, arch, *args) == expected


def test_the_opt_in_allows_unix_sockets_but_still_no_vsock():
    program = unix_socket_filter("x86_64", allow_unix=True)
    assert run(program, 41, X86_64, 1, 1) == ALLOW
    assert run(program, 41, X86_64, 40, 1) == EPERM
