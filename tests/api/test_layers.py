"""The house's floors: nothing the auth package stands on may import it back (issue 11)."""

from __future__ import annotations

import ast
from pathlib import Path

from app.config import ROOT

APP = ROOT / "app"
# The auth core: tokens, principals, permissions, scope, passwords (its router and the users domain sit above).
AUTH_CORE = ["auth/tokens.py", "auth/principal.py", "auth/permissions.py", "auth/scope.py", "auth/passwords.py"]
# Below auth although auth does not import them: the middleware is handed auth's token decoder by the app
# factory, errors.py its 401/403-before-422 ordering; the shared leaves of app/common know no principal.
ALSO_BELOW = [
    "middleware.py",
    "ratelimit.py",
    "errors.py",
    "db.py",
    "config.py",
    "timeutil.py",
    "common/audit.py",
    "common/bulk.py",
    "common/context.py",
    "common/csv_export.py",
    "common/pagination.py",
    "common/responses.py",
    "common/text.py",
    "common/types.py",
]


def _imports(path: Path) -> set[str]:
    """Every `app.` module that `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("app")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _file(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (APP / rel.with_suffix(".py"), APP / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _below_auth() -> set[Path]:
    """What the auth core imports, the modules named above, and everything those import (outside auth)."""
    below = {APP / p for p in ALSO_BELOW}
    todo = [APP / p for p in AUTH_CORE] + list(below)
    while todo:
        for module in _imports(todo.pop()):
            target = _file(module)
            if target is not None and target not in below and target.relative_to(APP).parts[0] != "auth":
                below.add(target)
                todo.append(target)
    return below


def test_nothing_below_auth_imports_auth():
    below = _below_auth()
    assert APP / "errors.py" in below and APP / "models" / "__init__.py" in below
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m == "app.auth" or m.startswith("app.auth."))
        for path in below
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"modules below app/auth that import it: {offenders}"
