"""The recorded prompt templates, one YAML file per benchmark; installed as the data package `molmo_arena.prompts`."""
