"""What drives envs: rollouts, vector envs, the Ray connection, precompute and the bench."""
