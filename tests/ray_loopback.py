"""Run `ray` or `vigil` with loopback addresses kept as given: python -m tests.ray_loopback ray start ...

Ray replaces a loopback address, whether a node's (`ray start --node-ip-address 127.0.0.1`) or the cluster's a
driver joins (`ray.init(address="127.0.0.1:port")`), with the machine's outward-facing one, so that other machines
could reach it; the nodes would then register, and talk to each other, on that address. The clusters the tests and
benchmarks start have every node on this machine, and their traffic must stay on loopback."""

from __future__ import annotations

import sys

from ray._private import services


def keep_loopback() -> None:
    """From now on, in this process, Ray keeps a loopback address as given."""
    services.resolve_ip_for_localhost = lambda host: host


if __name__ == "__main__":
    keep_loopback()
    program = sys.argv.pop(1)
    if program == "ray":
        from ray.scripts.scripts import main
    elif program == "vigil":
        from cli.main import app as main
    else:
        raise SystemExit(f"usage: python -m tests.ray_loopback ray|vigil ARGS (not {program!r})")
    sys.argv[0] = program
    sys.exit(main())
