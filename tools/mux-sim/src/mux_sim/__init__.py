"""A local simulator of the Mux Video API subset livecast uses, its encoder lifecycle and its
signed, retried webhooks. Tests and the local run talk to it through the real ``mux-python``."""

from mux_sim.config import SimConfig
from mux_sim.signing import sign, signature_header

__all__ = ["SimConfig", "sign", "signature_header"]
