"""Process limits raised at start: every service holds many sockets (chat-gateway: at least
20,000 idle WebSockets per instance, issue 17), and the default soft limit of open files (often
1,024) would refuse connections long before memory or CPU run out."""

from __future__ import annotations

import logging
import resource

__all__ = ["OPEN_FILES_TARGET", "raise_open_files_limit"]

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
