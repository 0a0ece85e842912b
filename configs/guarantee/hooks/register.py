"""Load the guarantee app's hooks from the package beside this file.

The runtime imports each `*.py` file of this folder on its own, outside any package, so
files here cannot import one another. The hooks therefore live in the package
`guarantee_hooks/`, which this file imports once per process under that fixed name. A copy
of the app folder in the same process reuses the package already loaded, because the hook
registry rejects a second function under a name it already holds.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

PACKAGE = "guarantee_hooks"
#: The modules of the package that register hooks when imported.
HOOK_MODULES = ("application_hooks", "check_hooks", "scorecard_hooks", "funding_hooks", "overdue_hooks", "document_hooks",
                "review_hooks", "contract_hooks", "collateral_hooks", "advance_hooks", "ledger_hooks", "dealer_hooks", "demo_hooks",
                "consent_hooks")


def import_package() -> None:
    """Import the package and its hook modules, unless this process has imported them already."""
    if PACKAGE not in sys.modules:
        folder = Path(__file__).with_name(PACKAGE)
        spec = importlib.util.spec_from_file_location(PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import the package {PACKAGE} from {folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[PACKAGE]
            raise
    for name in HOOK_MODULES:
        importlib.import_module(f"{PACKAGE}.{name}")


import_package()
