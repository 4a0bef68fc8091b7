"""Pure checks: a Subject's settings (+ policy, + observations) -> Finding, one function per
control, the same for a running container, a swarm task and a declared service. They never
call the engine."""
