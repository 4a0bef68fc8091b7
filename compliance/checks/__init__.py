"""Pure checks: inventory facts (+ policy) -> Finding. They never call the engine."""
