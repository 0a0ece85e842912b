"""The background task of large imports: check a file, or write its rows, as the user who uploaded it.

The web request records the import and enqueues `import_file(run_id, step)`. The task
rebuilds the actor of the user who uploaded the file, so that user's permissions, data
scope and field rules apply as in a request. A task that fails marks the import failed with the reason.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from runtime.imports import Importer
from runtime.imports_runs import ImportRuns
from runtime.records import RecordService

if TYPE_CHECKING:
    from runtime.app import Runtime
    from runtime.jobs import Jobs

logger = logging.getLogger(__name__)

#: The Huey name of the import task.
TASK_NAME = "import_file"
#: Steps of an import that a task runs.
STEPS = ("check", "write")


def import_runs(runtime: Runtime, records: RecordService) -> ImportRuns:
    """Return the imports of an application, with uploads under its data folder."""
    return ImportRuns(runtime.engine, runtime.schema, runtime.settings.data_dir, records.clock)


def register_import_task(jobs: Jobs) -> Any:
    """Register the import task on the queue of `jobs`; return it."""

    def import_file(run_id: int, step: str) -> str:
        runtime = jobs.runtime
        records = jobs.policy_records()
        runs = import_runs(runtime, records)
        run = runs.get(run_id)
        accounts = runtime.accounts()
        user = accounts.user(run.user_id)
        if user is None:
            runs.set_status(run, "failed", message_en=f"the user {run.user_id} who uploaded the file is no longer active",
                            message_zh=f"上传该文件的用户 {run.user_id} 已停用")
            return "failed"
        return Importer(records, runs).run_step(accounts.actor(user), run, step).status

    return jobs.huey.task(name=TASK_NAME)(import_file)
