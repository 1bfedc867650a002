"""The memory-adapter app fixture of test_http, shared by this folder."""

from .test_http import api  # noqa: F401
