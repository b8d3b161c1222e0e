"""Attaching to an existing Ray cluster: check the address before Ray is started."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from rllib_nsrl.experiments.schema import SpecError


def check_address(address: str, timeout_s: float = 3.0) -> None:
    """Raise SpecError unless `address` (host:port, ray://host:port, or 'auto') accepts connections."""
    if address == "auto":
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if not parsed.hostname or not parsed.port:
        raise SpecError(f"--address: {address!r} is not host:port (e.g. 127.0.0.1:6379)")
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout_s):
            pass
    except OSError as err:
        raise SpecError(
            f"--address: cannot reach a Ray cluster at {address} ({err.strerror or err})"
        ) from None
