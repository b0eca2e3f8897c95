"""Green-then-blue model rollouts: pure state machine, planner and gates, plus the SQL-backed controller."""
