"""`metadesk worker DIR`: consume the application's background jobs: flow timers, YAML schedules and queued tasks."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from metamodel.diagnostics import language_from_environment
from runtime.jobs import Jobs
from ui.cli.migrate import add_common_arguments, open_migrated_runtime, say


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="consume the application's background jobs",
        description="Run the job consumer of an application: the queue in data_dir/jobs.db, or on Redis when "
                    "METADESK_REDIS_URL is set. Ctrl+C stops it after the jobs under way finish.",
    )
    add_common_arguments(parser)
    parser.add_argument("--threads", type=int, default=2, help="jobs run at the same time (default 2)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    if arguments.threads < 1:
        print(say(lang, "--threads must be at least 1.", "--threads 至少为 1。"))
        return 2
    runtime = open_migrated_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    jobs = Jobs(runtime)
    where = "Redis" if runtime.settings.redis_url else str(runtime.settings.data_dir / "jobs.db")
    print(say(lang, f"Consuming jobs of {runtime.model.app.name} from {where} (Ctrl+C stops)",
              f"正在处理 {runtime.model.app.name} 的后台任务，队列：{where}（按 Ctrl+C 停止）"), flush=True)
    try:
        jobs.consumer(workers=arguments.threads).run()
    finally:
        runtime.close()
    return 0
