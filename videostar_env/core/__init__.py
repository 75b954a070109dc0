"""The task-agnostic environment: config, reset/step, the episode, its info, prompts and rendering."""
