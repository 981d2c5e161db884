"""Stage 4: a `Plan` carried out against providers, the lock written after every step.

`executor` runs the steps within the concurrency bounds; `jobrun` is one job's life (order,
claim, start or adopt, follow, download); `claims` are the write-ahead lock entries and the
adoption rules; `payloads` builds compute inputs; `results` places result files on disk.
"""
