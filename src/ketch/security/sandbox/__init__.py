"""The OS sandbox (bubblewrap): every command a tool or extension starts runs through its runner.

This file imports nothing: tools import the runner contract (base.py) on every run, and the
sandbox itself (bwrap.py, subprocess, seccomp) loads only when a command runs.

    base.py           The runner contract: how a tool asks for a command to be run, and what comes back
    bwrap.py          The one door through which tools start processes: the OS sandbox (DESIGN.md §5.1)
    env.py            The environment a tool's child process gets (DESIGN.md §5.6)
    forwarder.py      Runs INSIDE the sandbox: hands 127.0.0.1:<port> connections to ketch's proxy, then ...
    hints.py          A note on a command's output when it failed because the sandbox has no network
    limits.py         Kernel limits on a sandboxed command's tree: rlimits, and a cgroup where one is usable
    mounts.py         The bubblewrap command line: a fixed part per sandbox, a per-call part read from disk
    policy.py         What a sandboxed command may touch and how much it may use (DESIGN.md §5.1, §5.8)
    probe.py          Is bubblewrap here and able to build a sandbox? Asked once per process, lazily
    process.py        Running one child to completion: output capture, wall-clock limit, cancellation, kill
    proxy.py          The network allow-list: an HTTP proxy in ketch that lets sandboxed tools reach ...
    quarantine.py     Moving a protected path a command created out of the user's tree, into ketch's own ...
    runtime.py        Ketch's private folder for a sandbox, and the record that lets the next ketch finish ...
    seccomp.py        A seccomp filter that keeps sandboxed commands away from every host unix socket
    tripwire.py       Stop a sandboxed command the moment it creates a protected path (inotify on the host ...
"""
