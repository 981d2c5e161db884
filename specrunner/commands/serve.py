"""`specrunner provider serve`: run the embedded provider until interrupted."""

from __future__ import annotations

import logging
from pathlib import Path

from specrunner.errors import SpecRunnerError
from specrunner.report import Reporter


def run(
    reporter: Reporter,
    *,
    host: str,
    port: int,
    data_dir: str,
    config_path: str | None,
    dialect: str | None = None,
) -> int:
    from specrunner.server.runner import FolderInUseError, ProviderRunner
    from specrunner.server.sandbox.run import check_available

    folder = Path(data_dir)
    try:
        runner = ProviderRunner.open(folder, Path(config_path) if config_path else None, dialect)
    except FolderInUseError as exc:
        owner = exc.lock.owner_url() or "address unknown"
        raise SpecRunnerError(f"{folder} is in use by another provider ({owner})") from exc
    try:
        problem = check_available()
        if problem and any(env.sandboxed for env in runner.config.environments):
            reporter.warning(f"warning: {problem}; jobs will be refused until it is installed")
        for env in runner.config.environments:
            if not env.sandboxed:
                reporter.warning(f"warning: environment {env.id} runs algorithms UNSANDBOXED")
        url = runner.bind(host, port)
    except BaseException:
        runner.close()
        raise
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    reporter.listening(runner.ctx.signer.address, url)
    runner.serve()
    return 0
