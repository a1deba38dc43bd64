"""Spin-waits for the thread pool: a worker sees a new task, the caller sees it finished.

Waking a blocked thread takes tens of microseconds (measured 40 us per wake on
the project's machine), as long as a small training batch; so the pool's
threads spin here, without the GIL, for a short while before they block (as
OpenMP's runtimes do).  The flags are int64 counters read and written with
acquire/release ordering; every turn of a loop gives the CPU its spin-loop
hint (``pause``), so that a spinning thread leaves a hyperthread sibling alone.
"""

from tsrnn._engine.jit import atomic_load, atomic_store, cpu_relax, njit


@njit
def wait_while(flags, index, value, spins):
    """Spin until ``flags[index] != value``, at most ``spins`` times; whether it changed."""
    for _ in range(spins):
        if atomic_load(flags, index) != value:
            return True
        cpu_relax()
    return atomic_load(flags, index) != value


@njit
def idle_until_posted(flags, index, value, idle, spins):
    """Say "idle at ``value``" (``flags[idle] = value``, stored without the GIL), then spin
    until ``flags[index] != value``, at most ``spins`` times; whether it changed."""
    atomic_store(flags, idle, value)
    return wait_while(flags, index, value, spins)


@njit
def wait_until(flags, index, value, spins):
    """Spin until ``flags[index] == value``, at most ``spins`` times; whether it got there."""
    for _ in range(spins):
        if atomic_load(flags, index) == value:
            return True
        cpu_relax()
    return atomic_load(flags, index) == value
