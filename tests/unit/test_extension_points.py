"""The extension points ``docs/extending.md`` documents still exist, as documented.

Every dotted ``heliograph.…`` name in backticks on that page must import; every
storage role must be documented and implemented by each backend class with the
protocol's parameter names; every AI provider name must have its defaults and
a class that matches the provider protocol. Renaming or removing one of these
fails here until the page (or the listing below) follows.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from heliograph import store
from heliograph.ai import providers, settings
from heliograph.digest import decoders
from heliograph.store import contract
from heliograph.store.clickhouse import ClickHouseStore
from heliograph.store.clickhouse.client import CLIENTS, HttpClient
from heliograph.store.postgresql import PostgresStore
from heliograph.store.queue import PayloadKind
from heliograph.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
EXTENDING = (ROOT / "docs" / "extending.md").read_text()
DOTTED = re.compile(r"`(heliograph(?:\.\w+)+)`")

# Every class that is a whole store; a new backend adds its own.
BACKEND_CLASSES: list[type] = [SQLiteStore, PostgresStore, ClickHouseStore]
# Every AI provider class that make_provider can build; a new provider adds its own.
PROVIDER_CLASSES: list[type] = [providers.OpenAIProvider, providers.AnthropicProvider]

ROLES = sorted(contract.__all__)


def resolve(dotted: str) -> Any:
    """Import the longest module prefix of ``dotted``, then look the rest up as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ModuleNotFoundError(dotted)


def documented_names() -> list[str]:
    return sorted(set(DOTTED.findall(EXTENDING)))


def members(protocol: type) -> dict[str, Any]:
    """The methods a protocol class itself declares (its bases are roles of their own)."""
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") and callable(value)
    }


def parameters(function: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


def test_the_page_documents_the_main_extension_points() -> None:
    names = documented_names()
    for expected in (
        "heliograph.store.BACKENDS",
        "heliograph.store.open_store",
        "heliograph.store.contract.Store",
        "heliograph.store.base.StoreUnavailable",
        "heliograph.ai.providers.Provider",
        "heliograph.ai.providers.make_provider",
        "heliograph.digest.decoders.DECODERS",
        "heliograph.store.queue.PayloadKind",
        "heliograph.ingest.gate.IngestGate",
    ):
        assert expected in names


@pytest.mark.parametrize("dotted", documented_names())
def test_every_documented_name_resolves(dotted: str) -> None:
    try:
        resolve(dotted)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"docs/extending.md names `{dotted}`, which no longer exists: {exc}")


@pytest.mark.parametrize("role", ROLES)
def test_every_store_role_is_documented(role: str) -> None:
    assert f"`heliograph.store.contract.{role}`" in EXTENDING


def test_every_payload_kind_has_a_decoder() -> None:
    assert set(decoders.DECODERS) == set(get_args(PayloadKind))


def test_store_is_every_role() -> None:
    roles = {getattr(contract, role) for role in ROLES if role != "Store"}
    assert roles <= set(inspect.getmro(contract.Store))


def test_sqlite_is_a_registered_backend_and_in_the_contract_suite() -> None:
    from tests.contract import conftest

    assert "sqlite" in store.BACKENDS
    # A registered backend that the contract suite does not run is untested.
    assert set(store.BACKENDS) <= set(conftest.BACKENDS)
    # Events in ClickHouse: through the engine itself, and through the production
    # client (every scheme in CLIENTS is that one HTTP client).
    assert {"clickhouse", "clickhouse-http"} <= set(conftest.BACKENDS)
    assert {factory for scheme, factory in CLIENTS.items() if scheme != "chdb"} == {HttpClient}


@pytest.mark.parametrize("backend", BACKEND_CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("role", ROLES)
def test_backends_implement_every_role(backend: type, role: str) -> None:
    protocol = getattr(contract, role)
    for name, declared in members(protocol).items():
        implemented = getattr(backend, name, None)
        assert callable(implemented), f"{backend.__name__} lacks {role}.{name}"
        assert parameters(implemented) == parameters(declared), f"{role}.{name}"


def test_every_provider_name_has_defaults_and_a_class() -> None:
    names = set(get_args(settings.ProviderName))
    assert names == set(settings.DEFAULT_MODELS) == set(settings.DEFAULT_BASE_URLS)
    assert names == {cls.name for cls in PROVIDER_CLASSES}  # type: ignore[attr-defined]
    for name in names:
        built = providers.make_provider(providers.ProviderSettings(provider=name, api_key="k"))
        assert built is not None and built.name == name


@pytest.mark.parametrize("provider", PROVIDER_CLASSES, ids=lambda cls: cls.__name__)
def test_providers_match_the_protocol(provider: type) -> None:
    for name, declared in members(providers.Provider).items():
        implemented = getattr(provider, name, None)
        assert callable(implemented), f"{provider.__name__} lacks {name}"
        assert parameters(implemented) == parameters(declared), name
    assert inspect.isasyncgenfunction(provider.stream)  # type: ignore[attr-defined]
    assert inspect.iscoroutinefunction(provider.aclose)  # type: ignore[attr-defined]
    constructor = inspect.signature(provider)
    # make_provider's call: every provider takes the same settings.
    assert {"api_key", "base_url", "timeout", "max_retries"} <= set(constructor.parameters)
