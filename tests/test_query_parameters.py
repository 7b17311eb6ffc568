"""searchsvc.query.parameters: one SearchQuery from parameters, with no web request around."""

from __future__ import annotations

import pytest

from searchsvc.exceptions import InvalidParameter
from searchsvc.query.filters import Filters
from searchsvc.query.parameters import search_query


class Params(dict[str, list[str]]):
    """Parameters as a plain mapping of lists (what an MCP tool call would give)."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        values = super().get(key)
        return values[0] if values else default

    def getlist(self, key: str) -> list[str]:
        return list(super().get(key, []))


def test_the_same_parameters_make_the_same_query_without_flask() -> None:
    query = search_query(
        Params(q=["rollback speaker:KIRO"], target=["@LILITH"], per_page=["5"], facets=["all"]),
        max_query_chars=1000,
    )
    assert query.sort == "relevance" and query.per_page == 5
    assert query.filters == Filters(speakers=("KIRO",), targets=("@LILITH",))
    assert query.match is not None and query.match.positive_phrases()[0].tokens == ("rollback",)
    assert set(query.facets) >= {"speaker", "target", "mood", "file", "format"}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        (Params(q=["x" * 11]), "q"),
        (Params(per_page=["1000"]), "per_page"),
        (Params(sort=["sideways"]), "sort"),
        (Params(mood=["banana"]), "mood"),
        (Params(facets=["colour"]), "facets"),
    ],
)
def test_a_bad_parameter_is_named(params: Params, parameter: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        search_query(params, max_query_chars=10)
    assert raised.value.parameter == parameter
