"""The isolation sweep and the route × scope matrix (the same as `make test` runs), with their figures in the
reliability table."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from tests.conftest import MakeKey, MakeTenant
from tests.reliability.report import record
from tests.test_hostile_isolation import isolation_sweep
from tests.test_scope_matrix import DOCUMENTED, scope_matrix
from tgo.auth.scopes import ALL_SCOPES
from tgo.runtime import Runtime


@pytest.mark.reliability
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_isolation_and_scope_checks(
    app: Litestar, client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey, runtime: Runtime
) -> None:
    isolation = await isolation_sweep(app, client, make_tenant, make_key, runtime)
    cells = await scope_matrix(app, client, make_tenant, make_key)
    record(
        "isolation_and_scopes",
        isolation_routes_404=isolation["routes_checked"],
        isolation_lists_checked=isolation["lists_checked"],
        scope_matrix_routes=len(DOCUMENTED),
        scope_matrix_scopes=len(ALL_SCOPES),
        scope_matrix_cells=cells,
        failures=0,
    )
    assert cells == len(DOCUMENTED) * len(ALL_SCOPES)
