"""The apps depend on each other in one direction only: no import cycle between them.

infra  <-  access  <-  audit  <-  teams  <-  apikeys  <-  accounts, tracking  <-  integrations  <-  config (urls)
"""

import ast
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "infra",
    "access",
    "audit",
    "teams",
    "apikeys",
    "accounts",
    "tracking",
    "integrations",
    "dashboard",
    "config",
)


def _parse(text: str):
    """ast.parse on a fresh thread: CPython 3.11.7's AST validator can keep a stale recursion
    count on a thread that unwound a RecursionError earlier (the hostile-input tests do), and
    then fails with "AST constructor recursion depth mismatch" (python/cpython#106905)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(ast.parse, text).result()


def imports_between_packages() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(_parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in PACKAGES and top != package:
                        graph[package].add(top)
    return graph


def test_no_import_cycle_between_apps():
    graph = imports_between_packages()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    cycles = sorted(package for package in PACKAGES if reaches(package, package, {package}))
    assert cycles == [], {package: sorted(graph[package]) for package in cycles}


def test_infra_imports_no_app_and_config_keeps_only_settings_and_urls():
    assert imports_between_packages()["infra"] == set()
    modules = {path.stem for path in (ROOT / "config").glob("*.py")}
    # workers: the ASGI worker class gunicorn serves asgi with (how the app is served, like wsgi/asgi)
    allowed = {"__init__", "settings", "test_settings", "urls", "api_urls", "content_urls", "wsgi", "asgi", "workers"}
    assert modules <= allowed


def test_every_model_has_a_factory_or_a_service_made_helper():
    from django.apps import apps

    from . import factories

    covered = {
        value._meta.model
        for value in vars(factories).values()
        if isinstance(value, type)
        and issubclass(value, factories.factory.django.DjangoModelFactory)
        and value._meta.model is not None
    }
    covered.add(apps.get_model("apikeys", "APIKey"))  # factories.make_key, through the service
    covered.add(apps.get_model("integrations", "Integration"))  # factories.make_integration
    covered.add(apps.get_model("infra", "UsedToken"))  # infra.single_use.use, the only writer
    ours = {model for model in apps.get_models() if model._meta.app_label in PACKAGES}
    assert ours - covered == set()


def test_factories_make_valid_rows(db):
    from . import factories

    for name in dir(factories):
        value = getattr(factories, name)
        if isinstance(value, type) and name.endswith("Factory") and name != "DjangoModelFactory":
            value().full_clean(exclude=["password", "token_hash", "code_hash"])
