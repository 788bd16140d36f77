"""Ports for local listeners: whether one is open, and a free one to give a process to
listen on."""

from __future__ import annotations

import functools
import random
import socket
from pathlib import Path

#: The lowest port ``free_port`` chooses: above the well-known services' ports.
FREE_PORT_FLOOR = 20000
_given: set[int] = set()  # never given twice: two ports chosen before either is bound differ


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A port nothing is bound to, for a listener that another process opens later."""
    return free_ports(1)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports nothing is bound to, for listeners that other
    processes open later.

    They are drawn at random from below the kernel's ephemeral range, never from it: a port
    from that range can be taken, between this choice and the listener's bind, as the local
    end of any process's outgoing connection (in one CI run a service's connection to the
    broker held the probe port chosen for the next service, which then could not start). No
    port is given twice in a process: ports chosen before any is bound differ."""
    ephemeral_low, _ = ephemeral_port_range()
    ceiling = max(ephemeral_low, FREE_PORT_FLOOR + 1000) - count
    for _ in range(200):
        first = random.randrange(FREE_PORT_FLOOR, ceiling + 1)
        run = range(first, first + count)
        if _given.isdisjoint(run) and all(map(_bindable, run)):
            _given.update(run)
            return first
    raise OSError(f"no {count} free consecutive ports in {FREE_PORT_FLOOR}-{ephemeral_low - 1}")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


@functools.cache
def ephemeral_port_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (Linux's default when unreadable)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999
