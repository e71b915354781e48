"""A case number read back, or a found case's, comes from a template: the very document
rendering it would give, for any number, repeat, status, level, pending callback, script root
or public URL; and where a template would not give that, each number is rendered."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.core import case_flow, check_digit, twiml
from ivr.core.moment import Moment
from ivr.core.prompts import Prompt
from ivr.store.tables import CASE_STATUSES
from ivr.web import helpers
from tests.conftest import Twiml

AT = Moment(datetime(2026, 12, 1, 15, 0, tzinfo=UTC), (), ())
# Any digits at all (what the store gave is read as it is), and valid numbers of CCO's
# eight digits (which a repeat reads again).
bodies = st.from_regex(r"[1-9][0-9]{6}", fullmatch=True)
numbers = st.one_of(st.text(alphabet="0123456789", min_size=1, max_size=10),
                    bodies.map(lambda body: body + check_digit.damm_digit(body)))
roots = st.sampled_from(["", "/ivr", "/caf%C3%A9"])


def _direct(app: Flask, environ: dict[str, Any], plan: Any) -> str:
    """The document rendered for this plan alone, as without the template."""
    line = app.extensions["ivr.lines"].get("cco")
    return twiml.render(line, plan, lambda hook, **v: helpers.build_link(app, environ, hook, **v))


def _read_backs(app: Flask, number: str, repeats: int) -> list[Any]:
    """The read-back plans of CCO's new-case node for `number`: as opened, and repeated."""
    line = app.extensions["ivr.lines"].get("cco")
    opened = case_flow.opened(line, "nuevo_caso", number, AT)
    plans = [opened]
    for _ in range(repeats if check_digit.is_valid(number, line.spec.case_digits) else 0):
        plans.append(case_flow.after_reading(line, "nuevo_caso", number, "1",
                                             plans[-1].action.repeats, AT))
    return plans


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(first=numbers, second=numbers, root=roots)
def test_a_read_back_is_what_rendering_gives(app: Flask, first: str, second: str,
                                             root: str) -> None:
    """Two numbers in turn (the first makes the template, the second is written into it),
    as opened and repeated, under any script root."""
    _check_read_backs(app, (first, second), {"SCRIPT_NAME": root})


def test_a_read_back_under_a_public_url_is_what_rendering_gives(make_app: Any) -> None:
    """With PUBLIC_BASE_URL the links are absolute: the template writes them the same."""
    app: Flask = make_app(PUBLIC_BASE_URL="https://ivr.example.com/base")
    _check_read_backs(app, ("30300004", "12345674", "7"), {"SCRIPT_NAME": ""})


def _check_read_backs(app: Flask, numbers: tuple[str, ...], environ: dict[str, Any]) -> None:
    """Each number's read-backs, in turn: the template's document is the rendered one."""
    line = app.extensions["ivr.lines"].get("cco")
    for number in numbers:
        for plan in _read_backs(app, number, 2):
            assert isinstance(plan.action, twiml.ReadCase), plan
            document = helpers.rendered_in(app, environ, line, plan)
            assert document == _direct(app, environ, plan)
            Twiml(document.encode())  # valid against the schema


def test_the_template_is_kept_once_per_node_not_per_number(app: Flask) -> None:
    """A thousand new cases leave one document in the worker's cache, not a thousand."""
    line = app.extensions["ivr.lines"].get("cco")
    for i in range(1000):
        plan = case_flow.opened(line, "nuevo_caso", f"{30_000_000 + i}", AT)
        said = Twiml(helpers.rendered_in(app, {}, line, plan).encode()).text
        assert ", ".join(f"{30_000_000 + i}") in said
    assert len(app.extensions["ivr.render_cache"]) == 1


def test_a_node_whose_template_would_differ_is_rendered_number_by_number(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document that holds the number in a form the template does not write (here: whole,
    at the end) is never made from the template: each number is rendered."""
    real = helpers.render

    def with_number_whole(line: Any, plan: Any, urls: Any, stop: Any = None) -> str:
        """The real document, with the number as is in an XML comment."""
        return real(line, plan, urls, stop) + f"<!-- {plan.action.number} -->"

    monkeypatch.setattr(helpers, "render", with_number_whole)
    line = app.extensions["ivr.lines"].get("cco")
    for number in ("30300004", "12345678"):
        plan = case_flow.opened(line, "nuevo_caso", number, AT)
        document = helpers.rendered_in(app, {}, line, plan)
        assert document.endswith(f"<!-- {number} -->")
        assert ", ".join(number) in document


def test_other_plans_are_not_renumbered(app: Flask) -> None:
    """Only a read-back as `opened` makes it has a template."""
    line = app.extensions["ivr.lines"].get("cco")
    assert case_flow.renumbered(line, case_flow.opened(line, "nuevo_caso", None, AT),
                                "1") is None


def _found(app: Flask, number: str, status: str, level: int,
           pending: case_flow.PendingCallback | None) -> Any:
    """The plan of CCO's look-up once the store found this case."""
    line = app.extensions["ivr.lines"].get("cco")
    info = case_flow.CaseInfo(number, status, "centro_soporte", level)
    return case_flow.found(line, "consulta_caso", number, info, 0, AT, pending)


pendings = st.one_of(st.none(), st.builds(case_flow.PendingCallback, st.integers(1, 10**6),
                                          st.one_of(st.none(), st.integers(1, 4))))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(first=numbers, second=numbers, status=st.sampled_from(CASE_STATUSES),
       level=st.integers(1, 4), pending=pendings, root=roots)
def test_a_found_case_is_what_rendering_gives(app: Flask, first: str, second: str, status: str,
                                              level: int,
                                              pending: case_flow.PendingCallback | None,
                                              root: str) -> None:
    """Two cases in turn with the same status, level and callback (the first makes the
    template, the second is written into it), under any script root."""
    line = app.extensions["ivr.lines"].get("cco")
    environ = {"SCRIPT_NAME": root}
    for number in (first, second):
        plan = _found(app, number, status, level, pending)
        assert plan.outcome.startswith("case-found:")
        assert plan.case_number == (number if pending is None else "")
        document = helpers.rendered_in(app, environ, line, plan)
        assert document == _direct(app, environ, plan)
        Twiml(document.encode())


def test_a_found_case_under_a_public_url_is_what_rendering_gives(make_app: Any) -> None:
    """With PUBLIC_BASE_URL the links are absolute: the template writes them the same."""
    app: Flask = make_app(PUBLIC_BASE_URL="https://ivr.example.com/base")
    line = app.extensions["ivr.lines"].get("cco")
    for number in ("30300004", "12345674", "7"):
        plan = _found(app, number, "open", 1, case_flow.PendingCallback(7, 2))
        assert helpers.rendered_in(app, {}, line, plan) == _direct(app, {}, plan)


def test_found_cases_keep_one_template_per_shape_not_one_document_per_case(app: Flask) -> None:
    """A thousand look-ups of cases with the same status and team leave one document in the
    worker's cache (which would otherwise push the menus' documents out every few thousand)."""
    line = app.extensions["ivr.lines"].get("cco")
    for i in range(1000):
        number = f"{30_000_000 + i}"
        said = Twiml(helpers.rendered_in(app, {}, line, _found(app, number, "in_progress", 1,
                                                               None)).encode()).text
        assert ", ".join(number) in said
    assert len(app.extensions["ivr.render_cache"]) == 1


def test_only_a_found_case_is_renumbered_as_one(app: Flask) -> None:
    """A plan that does not open with the found prompt for its own number has no template."""
    line = app.extensions["ivr.lines"].get("cco")
    plan = _found(app, "30300004", "open", 1, None)
    assert case_flow.found_renumbered(line, plan, "1") is not None
    assert case_flow.found_renumbered(line, case_flow.opened(line, "nuevo_caso", "30300004",
                                                             AT), "1") is None
    not_found = case_flow.found(line, "consulta_caso", "30300004", None, 0, AT)
    assert not not_found.case_number
    assert case_flow.found_renumbered(line, not_found, "1") is None
    other = replace(plan, case_number="12345674")  # says another number than it names
    assert case_flow.found_renumbered(line, other, "1") is None


def test_a_case_with_its_own_pending_callback_is_rendered_once(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offer names the case's own callback, so no other case shares its document: it is
    rendered once, as any document, not once more for a template nobody would reuse."""
    line = app.extensions["ivr.lines"].get("cco")
    renders: list[object] = []
    real = helpers.render
    monkeypatch.setattr(helpers, "render",
                        lambda *args, **kwargs: renders.append(args) or real(*args, **kwargs))
    for i in range(50):
        plan = _found(app, f"{30_000_000 + i}", "open", 1, case_flow.PendingCallback(1000 + i, 2))
        assert helpers.rendered_in(app, {}, line, plan) == _direct(app, {}, plan)
    assert len(renders) == 50


def test_a_prompt_around_the_number_never_completes_a_placeholder(app: Flask) -> None:
    """Text next to the number that, with the digits written in, reads like the placeholder
    in a URL (here "%F", a digit, "%9D%9F%98") is left as it is: both forms are replaced in
    one pass over the template."""
    line = app.extensions["ivr.lines"].get("cco")
    line = replace(line, prompts={**line.prompts, "caso_encontrado": Prompt(
        "caso_encontrado", "Caso %F{number}%9D%9F%98.")})

    def direct(plan: Any) -> str:
        """The plan rendered alone, on this line."""
        return twiml.render(line, plan, lambda hook, **v: helpers.build_link(app, {}, hook, **v))

    for number in ("5", "0", "7"):
        plan = case_flow.found(line, "consulta_caso", number,
                               case_flow.CaseInfo(number, "open", "centro_soporte", 1), 0, AT)
        assert helpers.rendered_in(app, {}, line, plan) == direct(plan)
