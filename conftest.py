"""Root pytest configuration (fixtures live in libs/testkit, loaded as a plugin).

Two imports up front, for CPython 3.11.7's "AST constructor recursion depth mismatch"
SystemError (gh-106905, fixed in 3.11.8), which pytest's assertion rewriting trips when a
plugin's module is first imported deep in a call stack:

* hypothesis: its plugin otherwise imports it lazily in pytest_terminal_summary, deep in
  pluggy's call stack, after every test has passed;
* anyio: its plugin gets its modules rewritten, and it imports them lazily (``anyio.open_file``
  on the first file a Starlette app serves, deep in a request's stack). Every lazy name is
  resolved here, at a shallow depth.
"""

import anyio
import hypothesis  # noqa: F401

for _name in dir(anyio):  # the lazy names are listed by the module's __dir__
    getattr(anyio, _name)
