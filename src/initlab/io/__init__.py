"""Reading configs and writing results: the only part of the engine that touches files."""
