"""Sub-commands of the poselift CLI, one module each."""
