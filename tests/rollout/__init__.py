"""Rollout: state machine, planner, gates, TUF distribution, registry and end-to-end rollouts."""
