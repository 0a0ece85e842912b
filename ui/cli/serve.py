"""`metadesk serve DIR`: serve an application's screens and JSON API with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

import uvicorn

from metamodel.diagnostics import language_from_environment
from ui.cli.migrate import add_common_arguments, open_migrated_runtime, say
from ui.web.app import APP_DIRECTORY_VARIABLE, build_app


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the application's screens and JSON API",
        description="Serve the generated screens and the JSON API over HTTP. The database must be migrated first.",
    )
    add_common_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="number of worker processes (default 1)")
    parser.add_argument("--no-jobs", action="store_true",
                        help="do not run background jobs in the server; run `metadesk worker` instead "
                             "(always the case with more than one worker)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    # uvicorn configures only its own loggers; the runtime's and the providers' INFO lines need a handler too.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lang = arguments.lang or language_from_environment()
    runtime = open_migrated_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    runtime.close()

    print(say(lang, f"Serving on http://{arguments.host}:{arguments.port}/ (Ctrl+C stops)",
              f"服务地址 http://{arguments.host}:{arguments.port}/（按 Ctrl+C 停止）"), flush=True)
    if arguments.workers > 1 or arguments.no_jobs:
        print(say(lang, "Background jobs (flow timers) run only in `metadesk worker`; start it beside the server.",
                  "后台任务（流程时限等）只在 `metadesk worker` 中运行，请另外启动它。"), flush=True)
    if arguments.workers > 1:
        os.environ[APP_DIRECTORY_VARIABLE] = str(arguments.directory)
        uvicorn.run("ui.web.app:app_from_environment", factory=True, host=arguments.host, port=arguments.port,
                    workers=arguments.workers, log_level="info", proxy_headers=False)
    else:
        uvicorn.run(build_app(arguments.directory, embedded_jobs=not arguments.no_jobs), host=arguments.host, port=arguments.port,
                    log_level="info", proxy_headers=False)
    return 0
