"""One core that runs sync functions, coroutines, generators and async generators in a scope.

A scope is what a decorator opens per call (a span, a session). The core decides *when*: for a
plain or async function the scope is current for the whole call; for a generator it is current
only while the generator body runs (each ``next``/``send``/``throw``, through ``_stepped``), so a suspended generator
never leaves its span as the caller's current span, and ends it when exhausted, closed, or
garbage-collected. Every step of our own work is guarded; the user's exceptions pass unchanged.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Protocol

from traceglass._guard import guard, report
from traceglass._stepped import AsyncStepped, Stepped

_MAX_COLLECTED_ITEMS = 1000


class Scope(Protocol):
    def activate(self) -> Any: ...

    def deactivate(self, token: Any) -> None: ...

    def finish(self, output: Any) -> None: ...

    def fail(self, error: BaseException) -> None: ...

    def close_early(self, collected: list[Any]) -> None: ...


OpenScope = Callable[[tuple[Any, ...], dict[str, Any]], "Scope | None"]


class NullScope:
    """A scope that does nothing: stands in when none could be opened; base for simple scopes."""

    def activate(self) -> Any:
        return None

    def deactivate(self, token: Any) -> None:
        pass

    def finish(self, output: Any) -> None:
        pass

    def fail(self, error: BaseException) -> None:
        pass

    def close_early(self, collected: list[Any]) -> None:
        pass


_NO_SCOPE = NullScope()


def _open(open_scope: OpenScope, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Scope:
    try:
        return open_scope(args, kwargs) or _NO_SCOPE
    except Exception as exc:  # noqa: BLE001
        report("decorator.open", exc)
        return _NO_SCOPE


def _activate(scope: Scope) -> Any:
    try:
        return scope.activate()
    except Exception as exc:  # noqa: BLE001
        report("decorator.activate", exc)
        return None


def _deactivate(scope: Scope, token: Any) -> None:
    if token is not None:
        with guard("decorator.deactivate"):
            scope.deactivate(token)


def _collect(items: list[Any], item: Any) -> None:
    if len(items) < _MAX_COLLECTED_ITEMS:
        items.append(item)


def generator_output(items: list[Any]) -> Any:
    if items and all(isinstance(i, str) for i in items):
        return "".join(items)
    return items


def wrap(func: Callable[..., Any], open_scope: OpenScope) -> Callable[..., Any]:
    """``func`` wrapped so each call runs inside the scope ``open_scope(args, kwargs)`` opens."""
    if inspect.isasyncgenfunction(func):
        return _wrap_async_generator(func, open_scope)
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(func, open_scope)
    if inspect.iscoroutinefunction(func):
        return _wrap_coroutine(func, open_scope)
    return _wrap_function(func, open_scope)


def _wrap_function(func: Callable[..., Any], open_scope: OpenScope) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scope = _open(open_scope, args, kwargs)
        if scope is _NO_SCOPE:
            return func(*args, **kwargs)
        token = _activate(scope)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _deactivate(scope, token)
            with guard("decorator.fail"):
                scope.fail(exc)
            raise
        _deactivate(scope, token)
        with guard("decorator.finish"):
            scope.finish(result)
        return result

    return wrapper


def _wrap_coroutine(func: Callable[..., Any], open_scope: OpenScope) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        scope = _open(open_scope, args, kwargs)
        if scope is _NO_SCOPE:
            return await func(*args, **kwargs)
        token = _activate(scope)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _deactivate(scope, token)
            with guard("decorator.fail"):
                scope.fail(exc)
            raise
        _deactivate(scope, token)
        with guard("decorator.finish"):
            scope.finish(result)
        return result

    return wrapper


def _stepper(scope: Scope) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    """The enter/leave pair that makes ``scope`` current around one step (see ``_stepped``)."""
    return functools.partial(_activate, scope), functools.partial(_deactivate, scope)


def _wrap_generator(func: Callable[..., Any], open_scope: OpenScope) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scope = _open(open_scope, args, kwargs)
        items: list[Any] = []
        token = _activate(scope)
        try:
            generator = func(*args, **kwargs)
        except BaseException as exc:
            _deactivate(scope, token)
            with guard("decorator.fail"):
                scope.fail(exc)
            raise
        _deactivate(scope, token)
        steps = Stepped(generator, *_stepper(scope))
        step, value = steps.send, None
        while True:
            try:
                item = step(value)
            except StopIteration as stop:
                with guard("decorator.finish"):
                    scope.finish(stop.value if stop.value is not None else generator_output(items))
                return stop.value
            except BaseException as exc:
                with guard("decorator.fail"):
                    scope.fail(exc)
                raise
            _collect(items, item)
            try:
                value = yield item
                step = steps.send
            except GeneratorExit:
                try:
                    steps.close()
                finally:
                    with guard("decorator.close"):
                        scope.close_early(items)
                raise
            except BaseException as exc:  # thrown in by the caller: forward it
                step, value = steps.throw, exc

    return wrapper


def _wrap_async_generator(func: Callable[..., Any], open_scope: OpenScope) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        scope = _open(open_scope, args, kwargs)
        items: list[Any] = []
        token = _activate(scope)
        try:
            generator = func(*args, **kwargs)
        except BaseException as exc:
            _deactivate(scope, token)
            with guard("decorator.fail"):
                scope.fail(exc)
            raise
        _deactivate(scope, token)
        steps = AsyncStepped(generator, *_stepper(scope))
        step, value = steps.asend, None
        while True:
            try:
                item = await step(value)
            except StopAsyncIteration:
                with guard("decorator.finish"):
                    scope.finish(generator_output(items))
                return
            except BaseException as exc:
                with guard("decorator.fail"):
                    scope.fail(exc)
                raise
            _collect(items, item)
            try:
                value = yield item
                step = steps.asend
            except GeneratorExit:
                try:
                    await steps.aclose()
                finally:
                    with guard("decorator.close"):
                        scope.close_early(items)
                raise
            except BaseException as exc:
                step, value = steps.athrow, exc

    return wrapper
