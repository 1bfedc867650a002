"""The stack fixture of test_stream_svc, shared by the integration tests of this folder."""

from .test_stream_svc import stack  # noqa: F401
