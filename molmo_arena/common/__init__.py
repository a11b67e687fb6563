"""Small helpers every package of the project may import (`molmo/` excepted: the model imports nothing above it).

`files`: writing a file whole or not at all, and file hashes. `arguments`: number types for command-line flags and
options. Nothing here imports beyond the standard library.
"""
