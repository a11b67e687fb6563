"""The reference tables (the Molmo paper's published numbers, the model registry); installed as the data package
`molmo_arena.reference`."""
