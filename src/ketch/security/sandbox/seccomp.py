"""A seccomp filter that keeps sandboxed commands away from every host unix socket.

Why a filter and not mounts: connect(2) to a unix socket needs only write permission on
the socket's inode, which a read-only bind mount does not take away, and sockets live
wherever their programs put them (~/.docker/run, ~/.colima/*, ~/.rd, a workspace's
parent, an abstract name when the network is shared). Hiding them means finding them,
at every call, in the whole file system, and missing the one created a second later.
The kernel can instead refuse to *make* the socket: `socket(AF_UNIX, ...)` fails with
EPERM, so no path and no abstract name can be connected to. `socketpair(2)` stays
allowed: its two ends are connected to each other and can never reach another socket,
and pipes between processes (multiprocessing's, libuv's) keep working.

The seams a filter must also close, all handled below:
- the architecture is checked first: a foreign ABI is killed rather than judged by the
  wrong syscall numbers; x86_64 also rejects the x32 ABI (numbers with bit 30 set);
- 32-bit processes (i386 on x86_64, arm on aarch64) get their own numbers, and i386's
  multiplexed `socketcall(SYS_SOCKET, ...)`, whose family hides behind a pointer, is
  refused for every family;
- io_uring can create and connect sockets without passing through these syscalls, so
  `io_uring_setup`, `io_uring_enter` and `io_uring_register` fail with ENOSYS (programs
  fall back to ordinary syscalls, as under Docker's default profile).

The program is classic BPF for bubblewrap's `--seccomp FD`, generated here (no
libseccomp): a few dozen instructions, built once per process.
"""

from __future__ import annotations

import errno
import os
import platform
import struct
from functools import cache

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR, _ARCH, _ARG0_LOW = 0, 4, 16  # args[0]'s low 32 bits on a little-endian machine

_LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35      # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06      # BPF_RET | BPF_K

_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000

AF_UNIX = 1
_ALLOWED_FAMILIES = (2, 10, 16)  # AF_INET, AF_INET6, AF_NETLINK
_SYS_SOCKET = 1           # socketcall's "call" number for socket()
_X32_BIT = 0x40000000
_IO_URING = (425, 426, 427)  # io_uring_setup, _enter, _register: the same on every arch here

# (audit arch, socket() number, socketcall() number or None) per ABI a machine can enter.
_ABIS = {
    "x86_64": ((0xC000003E, 41, None, True), (0x40000003, 359, 102, False)),   # x86_64 (+x32 check), i386
    "aarch64": ((0xC00000B7, 198, None, False), (0x40000028, 281, None, False)),  # aarch64, arm (EABI)
}
_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


class _Program:
    """A tiny assembler: instructions with symbolic forward jumps, resolved at the end."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def load(self, offset: int) -> None:
        self.code.append((_LD_W_ABS, 0, 0, offset))

    def jump_if(self, op: int, value: int, true: str | int = 0, false: str | int = 0) -> None:
        self.code.append((op, true, false, value))

    def ret(self, value: int) -> None:
        self.code.append((_RET_K, 0, 0, value))

    def assemble(self) -> bytes:
        out = b""
        for index, (op, true, false, k) in enumerate(self.code):
            jt = self._offset(index, true)
            jf = self._offset(index, false)
            out += struct.pack("=HBBI", op, jt, jf, k & 0xFFFFFFFF)
        return out

    def _offset(self, index: int, target: object) -> int:
        if isinstance(target, int):
            return target
        distance = self.labels[str(target)] - index - 1
        if not 0 <= distance <= 255:
            raise ValueError(f"seccomp jump to {target} out of range")
        return distance


def machine() -> str | None:
    """This machine's name in _ABIS, or None where no filter is known (big-endian and others)."""
    name = platform.machine().lower()
    name = _MACHINE_ALIASES.get(name, name)
    return name if name in _ABIS else None


@cache
def unix_socket_filter(machine_name: str, allow_unix: bool = False) -> bytes:
    """The compiled filter for `machine_name` (a key of _ABIS).

    socket() families are allowed from a list, not refused from one: AF_INET and AF_INET6
    (the sandbox's own network namespace, or the allow-list proxy), AF_NETLINK (interface
    lookups), and AF_UNIX only when the user opted in. Everything else fails with EPERM:
    AF_VSOCK reaches the hypervisor host whatever the network namespace, and families like
    AF_BLUETOOTH, AF_CAN or AF_XDP are no part of ordinary work."""
    prog = _Program()
    abis = _ABIS[machine_name]
    prog.load(_ARCH)
    for i, (arch, _, _, _) in enumerate(abis):
        prog.jump_if(_JEQ_K, arch, true=f"abi{i}")
    prog.ret(_KILL_PROCESS)
    for i, (_, socket_nr, socketcall_nr, x32) in enumerate(abis):
        prog.label(f"abi{i}")
        prog.load(_NR)
        if x32:
            prog.jump_if(_JGE_K, _X32_BIT, true="enosys")
        prog.jump_if(_JEQ_K, socket_nr, true="family")
        if socketcall_nr is not None:
            prog.jump_if(_JEQ_K, socketcall_nr, true="socketcall")
        for nr in _IO_URING:
            prog.jump_if(_JEQ_K, nr, true="enosys")
        prog.ret(_ALLOW)
    prog.label("socketcall")
    prog.load(_ARG0_LOW)
    prog.jump_if(_JEQ_K, _SYS_SOCKET, true="eperm")
    prog.ret(_ALLOW)
    prog.label("family")
    prog.load(_ARG0_LOW)  # the kernel reads `int family`: the low 32 bits are all that count
    for family in (*_ALLOWED_FAMILIES, *((AF_UNIX,) if allow_unix else ())):
        prog.jump_if(_JEQ_K, family, true="allow")
    prog.ret(_ERRNO | errno.EPERM)
    prog.label("allow")
    prog.ret(_ALLOW)
    prog.label("eperm")
    prog.ret(_ERRNO | errno.EPERM)
    prog.label("enosys")
    prog.ret(_ERRNO | errno.ENOSYS)
    return prog.assemble()


def filter_fd(program: bytes) -> int:
    """A pipe's read end holding `program`, for bubblewrap's `--seccomp FD` (it reads to EOF)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)  # a few hundred bytes: far below a pipe's buffer
    finally:
        os.close(write_end)
    return read_end
