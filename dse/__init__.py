"""Design-space exploration: design spaces, evaluators, agents, job store and backends."""
