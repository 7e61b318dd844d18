"""The apps' layers are import-linter's contract ([tool.importlinter] in pyproject.toml, run by
`make lint` and CI: an app imports only the apps below it). What the contract cannot say is checked
here: that it covers every app, that config keeps only settings and entry points, that no module
reaches another app's models by name, and that every model has a factory.
"""

import ast
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINTER = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES = tuple(LINTER["root_packages"])


def _parse(text: str):
    """ast.parse on a fresh thread: CPython 3.11.7's AST validator can keep a stale recursion
    count on a thread that unwound a RecursionError earlier (the hostile-input tests do), and
    then fails with "AST constructor recursion depth mismatch" (python/cpython#106905)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(ast.parse, text).result()


def test_the_layers_contract_covers_every_app_and_package():
    from django.conf import settings

    (contract,) = LINTER["contracts"]
    assert contract["type"] == "layers"
    layered = {name for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
    assert {name.strip() for name in layered} == set(PACKAGES)
    ours = {entry.split(".")[0] for entry in settings.INSTALLED_APPS if (ROOT / entry.split(".")[0]).is_dir()}
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench", "clients"}
    assert ours <= set(PACKAGES) and packages <= set(PACKAGES), (ours | packages) - set(PACKAGES)


def test_config_keeps_only_settings_and_entry_points():
    modules = {path.stem for path in (ROOT / "config").glob("*.py")}
    # workers: the ASGI worker class gunicorn serves asgi with (how the app is served, like wsgi/asgi)
    allowed = {"__init__", "settings", "test_settings", "urls", "api_urls", "content_urls", "wsgi", "asgi", "workers"}
    assert modules <= allowed


def test_no_module_reaches_another_apps_models_by_name():
    """`apps.get_model`, `import_string` or a class named by its path would hide an import from the
    layers contract."""
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # migrations use the historical models, by name, as Django means them to
            for node in ast.walk(_parse(path.read_text())):
                name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
                if name in ("get_model", "import_string"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                # drf-spectacular's extensions may name their class by path: ours name it by import.
                if (
                    isinstance(node, ast.Assign)
                    and any(getattr(target, "id", None) == "target_class" for target in node.targets)
                    and isinstance(node.value, ast.Constant)
                    and str(node.value.value).split(".")[0] in PACKAGES
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


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
    covered.add(apps.get_model("accounts", "TOTPFactor"))  # factories.enrol_totp, through the services
    covered.add(apps.get_model("accounts", "RecoveryCode"))  # factories.enrol_totp
    covered.add(apps.get_model("accounts", "Passkey"))  # factories.register_passkey, through the service
    covered.add(apps.get_model("usage", "UsageHour"))  # usage.rollup, the only writer, from real events
    covered.add(apps.get_model("usage", "RollupState"))  # usage.rollup
    ours = {model for model in apps.get_models() if model._meta.app_label in PACKAGES}
    assert ours - covered == set()


def test_factories_make_valid_rows(db):
    from . import factories

    for name in dir(factories):
        value = getattr(factories, name)
        if isinstance(value, type) and name.endswith("Factory") and name != "DjangoModelFactory":
            value().full_clean(exclude=["password", "token_hash", "code_hash"])
