"""Process settings for many long-lived connections (issue 17).

* Open files: every service holds many sockets (chat-gateway: at least 20,000 idle WebSockets
  per instance), and the default soft limit (often 1,024) refuses connections long before
  memory or CPU run out.
* Garbage collection: with thousands of connections the cyclic collector's full passes scanned
  every object of the process and stopped the event loop for 0.7–0.9 s during a connection
  storm (measured in ``bench/bench_storm.py``), which is chat latency. What exists once the
  service has started (modules, classes, clients) is frozen out of the collector's view, and
  young collections run less often.
"""

from __future__ import annotations

import gc
import logging
import resource

__all__ = [
    "GC_GEN0_THRESHOLD",
    "OPEN_FILES_TARGET",
    "freeze_startup_objects",
    "raise_open_files_limit",
]

log = logging.getLogger(__name__)

#: Open files (sockets included) a service asks for: 20,000 client sockets with room for the
#: database and broker pools, logs and the listening sockets.
OPEN_FILES_TARGET = 65_536


def raise_open_files_limit(target: int = OPEN_FILES_TARGET) -> int:
    """Raise ``RLIMIT_NOFILE`` toward ``target`` and return the soft limit now in force.

    The soft limit goes up to the hard limit; the hard limit itself only where the process may
    (root or ``CAP_SYS_RESOURCE``; in containers set ``ulimits``/the runtime's default). Never
    lowers a limit, never fails: a refused raise is logged."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft >= target:
        return soft
    wanted_hard = hard if hard == resource.RLIM_INFINITY or hard >= target else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, wanted_hard))
    except (ValueError, OSError):
        new_soft = hard if hard != resource.RLIM_INFINITY else target
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, new_soft), hard))
        except (ValueError, OSError) as exc:
            log.warning("open files limit stays at %d: %s", soft, exc)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < target:
        log.warning("open files limit is %d (wanted %d): fewer sockets can be held", soft, target)
    return soft


#: Allocations between young collections (CPython's default is 700).
GC_GEN0_THRESHOLD = 20_000


def freeze_startup_objects() -> None:
    """Call once the service has started: collect, then move every object alive now into the
    permanent generation (``gc.freeze``) so later collections do not scan it, and make young
    collections rarer (every :data:`GC_GEN0_THRESHOLD` allocations instead of 700).

    Cycles among objects created later are still collected; a cycle that runs through an
    object alive at the freeze is not (that object is never scanned), so what is replaced
    after startup while still referring back to startup objects stays in memory. That is
    bounded by what existed at startup (clients are created once per process here)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
