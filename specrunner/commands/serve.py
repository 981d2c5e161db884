"""`specrunner provider serve`: run the embedded provider until interrupted."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from specrunner import report
from specrunner.errors import SpecRunnerError
from specrunner.server.datadir import DataDirLock


def run(
    *, host: str, port: int, data_dir: str, config_path: str | None, dialect: str | None = None
) -> int:
    import uvicorn

    from specrunner.server.app import create_app
    from specrunner.server.config import load_config
    from specrunner.server.context import build_context
    from specrunner.server.sandbox.run import check_available

    folder = Path(data_dir)
    lock = DataDirLock(_ready_dir(folder).resolve())
    if not lock.try_acquire():
        raise SpecRunnerError(
            f"{folder} is in use by another provider ({lock.owner_url() or 'address unknown'})"
        )
    config = load_config(Path(config_path) if config_path else None, _ready_dir(folder), dialect)
    ctx = build_context(config, folder)
    problem = check_available()
    if problem and any(env.sandboxed for env in config.environments):
        report.error(f"warning: {problem}; jobs will be refused until it is installed")
    for env in config.environments:
        if not env.sandboxed:
            report.error(f"warning: environment {env.id} runs algorithms UNSANDBOXED")
    ctx.engine.recover()
    sock = _bind(host, port)
    actual_host, actual_port = sock.getsockname()[:2]
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ctx),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
    )
    shown = f"[{actual_host}]" if ":" in actual_host else actual_host
    url = f"http://{shown}:{actual_port}"
    lock.publish_url(url)
    report.line(f"specrunner provider {ctx.signer.address} listening on {url}")
    try:
        server.run(sockets=[sock])
    finally:
        ctx.engine.shutdown()
        ctx.store.close()
        lock.release()
    return 0


def _ready_dir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio then turns Nagle off on accepted sockets, which saves
    # ~44 ms per answer (a delayed ACK) on every request (bench/bench_provider.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SpecRunnerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
