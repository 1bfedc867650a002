"""The one dependency provider of the HTTP routes (tests swap ``app.state.deps``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stream_svc.deps import Deps


async def get_deps(request: Request) -> Deps:
    """The app's dependencies (``async``: a plain function costs a thread hop a request)."""
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
