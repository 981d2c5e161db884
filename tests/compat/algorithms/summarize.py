"""Compat-test algorithm: writes a summary the test can predict byte for byte.

It runs inside the provider's sandbox with Ocean's layout: inputs under /data/inputs/<did>/<index>,
custom data in /data/inputs/algoCustomData.json, outputs to /data/outputs. What it prints goes to
the algorithm log.
"""

import json
import os
import sys
from pathlib import Path

data = Path(os.environ.get("VOLUME") or "/data")
dids = json.loads(os.environ.get("DIDS") or "[]")
custom_file = data / "inputs" / "algoCustomData.json"
custom = json.loads(custom_file.read_text()) if custom_file.is_file() else None
text = (data / "inputs" / dids[0] / "0").read_text()
summary = {
    "custom": custom or None,
    "dids": dids,
    "input": text,
    "lines": len(text.splitlines()),
}
(data / "outputs" / "summary.json").write_text(json.dumps(summary, sort_keys=True) + "\n")
print(f"compat-algo: read {summary['lines']} lines from {dids[0]}")
print("compat-algo: a line on stderr", file=sys.stderr)
