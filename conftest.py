"""Root pytest configuration (fixtures live in libs/testkit, loaded as a plugin)."""

# Import hypothesis up front. Its pytest plugin otherwise imports it lazily in
# pytest_terminal_summary, deep in pluggy's call stack, where pytest's assertion rewriting of it
# trips CPython 3.11.7's "AST constructor recursion depth mismatch" SystemError (gh-106905,
# fixed in 3.11.8) after every test has passed.
import hypothesis  # noqa: F401
