"""Stage 1: manifest files → validated `Spec`s, every problem reported at FILE:LINE:COL.

`loader` runs the pipeline (YAML → schema → models); `marked_yaml` parses YAML keeping each
value's position; `explain` turns JSON Schema errors into plain sentences; `problems` is the
one-line problem users see. Kept empty so that importing a leaf (e.g. `problems`) stays cheap.
"""
