#!/usr/bin/env python3
"""Start the local AWS emulator: moto's server with the scaling-guard extensions.

    python scripts/emulator/server.py --port 0 [--port-file PATH] [--verbose]

Binds 127.0.0.1 (port 0 = a free port), writes the port to PATH (atomically),
prints `listening on http://127.0.0.1:PORT`, and serves until SIGTERM or SIGINT;
then it stops, removes PATH and exits 0. It never reaches the network.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

# Run as a script: make the `emulator` package (this folder) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

import emulator  # noqa: E402
from emulator.control import EmulatorApp  # noqa: E402

HOST = "127.0.0.1"


class QuietHandler(MotoRequestHandler):
    """No access log line per request (errors are still logged)."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    emulator.install()
    app = EmulatorApp(DomainDispatcherApplication(create_backend_app))
    handler = MotoRequestHandler if args.verbose else QuietHandler
    server = make_server(HOST, args.port, app, threaded=True, request_handler=handler)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)  # as moto's own server does

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()

    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"listening on http://{HOST}:{port}", flush=True)

    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    if args.port_file:
        args.port_file.unlink(missing_ok=True)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
