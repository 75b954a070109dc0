"""verl integration (agent loop, reward function, data, launch configs) lives here."""
