"""One stack for the end-to-end and browser tests of a session, started as ``make run`` starts
it (see ``testkit.stack``). ``LIVECAST_TEST_STACK_OFFSET=N`` runs them against a stack already
running on port offset N instead (``make run`` is 0), which is quicker while developing."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testkit.stack import Stack, attach, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    running = os.environ.get("LIVECAST_TEST_STACK_OFFSET")
    if running is not None:
        yield attach(int(running))
        return
    with running_stack() as started:
        yield started
