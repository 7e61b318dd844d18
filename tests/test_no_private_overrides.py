"""No class of the project overrides a private method of Django, DRF, simplejwt, psycopg or
drf-spectacular, and no project code replaces a method of one of their classes (a monkeypatch).

Private: a name with a leading underscore (dunders aside), or a public name these frameworks do
not document as something to override (UNDOCUMENTED: the ones this project once overrode). A
framework upgrade may change either without notice, and in a tenancy layer a silent change is a
cross-tenant leak. The walk covers every module of the project's packages.
"""

import importlib
import inspect
import pkgutil
import sys
import tomllib
from pathlib import Path

import pytest

# Every app: the layers contract's packages (pyproject.toml), so a new app is covered.
PROJECT = tuple(
    tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["tool"]["importlinter"][
        "root_packages"
    ]
)
FRAMEWORKS = (
    "django",
    "rest_framework",
    "rest_framework_simplejwt",
    "psycopg",
    "drf_spectacular",
    "django_tasks",
    "django_tasks_db",
)

# Public names that are internals of the framework classes that define them (not documented as
# extension points); overriding one is as fragile as overriding an underscore name.
UNDOCUMENTED = {
    ("django.core.handlers.asgi.ASGIHandler", "handle"),
    ("django.core.handlers.asgi.ASGIHandler", "read_body"),
    ("django.core.handlers.asgi.ASGIHandler", "run_get_response"),
    ("django.core.handlers.asgi.ASGIHandler", "__call__"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "is_usable"),
    ("django.db.backends.postgresql.base.DatabaseWrapper", "is_usable"),
    ("django.db.models.sql.compiler.SQLCompiler", "as_sql"),
    ("django.db.models.sql.compiler.SQLCompiler", "pre_sql_setup"),
    ("django.db.models.sql.compiler.SQLCompiler", "get_select"),
}


def _framework(module_name: str) -> bool:
    return module_name.split(".")[0] in FRAMEWORKS


def _project_modules():
    for package_name in PROJECT:
        package = importlib.import_module(package_name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if ".migrations" in info.name:
                continue
            yield importlib.import_module(info.name)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_in_body(cls, value) -> bool:
    if isinstance(value, property):
        value = value.fget
    function = getattr(value, "__func__", value)
    qualname = getattr(function, "__qualname__", "")
    return inspect.isfunction(function) and qualname.startswith(f"{cls.__qualname__}.")


def find_overrides() -> list[str]:
    found = []
    for module in _project_modules():
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            for name, value in vars(cls).items():
                if not _defined_in_body(cls, value):
                    continue  # set by a metaclass (an enum's members, a model's managers)
                for base in cls.__mro__[1:]:
                    if not _framework(base.__module__) or name not in vars(base):
                        continue
                    where = f"{base.__module__}.{base.__qualname__}"
                    if _private(name) or (where, name) in UNDOCUMENTED:
                        found.append(f"{cls.__module__}.{cls.__qualname__}.{name} overrides {where}.{name}")
    return sorted(set(found))


def find_monkeypatches() -> list[str]:
    """Functions of the project's modules set on a framework class."""
    found = []
    for module_name, module in list(sys.modules.items()):
        if module is None or not _framework(module_name):
            continue
        for cls in list(vars(module).values()):
            if not inspect.isclass(cls) or cls.__module__ != module_name:
                continue
            for name, value in vars(cls).items():
                function = getattr(value, "__func__", value)
                owner = getattr(function, "__module__", None) or ""
                if inspect.isfunction(function) and owner.split(".")[0] in PROJECT:
                    found.append(f"{module_name}.{cls.__qualname__}.{name} is replaced by {owner}")
    return sorted(set(found))


@pytest.mark.django_db
def test_no_project_class_overrides_a_private_method_of_a_framework():
    assert find_overrides() == []


def test_no_project_code_replaces_a_method_of_a_framework_class():
    list(_project_modules())  # every module imported, so every patch it makes is applied
    assert find_monkeypatches() == []


def test_the_walk_finds_an_override_and_a_monkeypatch_planted_in_a_project_module(monkeypatch):
    from django.core.handlers.asgi import ASGIHandler
    from rest_framework import fields

    import infra.asgi

    class Planted(ASGIHandler):
        async def read_body(self, receive):
            return None

    Planted.__module__ = "infra.asgi"
    monkeypatch.setattr(infra.asgi, "Planted", Planted, raising=False)

    def planted(self, data):
        return data

    planted.__module__ = "infra.asgi"
    monkeypatch.setattr(fields.CharField, "to_internal_value", planted)
    assert "rest_framework.fields.CharField.to_internal_value is replaced by infra.asgi" in find_monkeypatches()
    planted_override = "<locals>.Planted.read_body overrides django.core.handlers.asgi.ASGIHandler.read_body"
    assert any(line.endswith(planted_override) for line in find_overrides())
