"""The bubblewrap sandbox that runs one algorithm with Ocean's `/data` layout.

`run` is the entry point (`check_available`, `run_sandboxed`); `request` holds the data it
takes and returns; `argv` builds the command chain; `limits` sets cgroups or rlimits; `watch`
ends a running job on a stop, a timeout or a limit.
"""
