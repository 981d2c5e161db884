"""Count the words of one column in every CSV input; write the top words as JSON.

Runs inside an Ocean C2D job (standard library only): inputs are files under
/data/inputs/<did without did:op:>/<index>, custom data is /data/inputs/algoCustomData.json,
and everything written to /data/outputs is the job's result.
"""

import csv
import json
import os
import re
from collections import Counter
from pathlib import Path

# DATA_ROOT lets the project's tests run this file outside a job; jobs always use /data.
DATA = Path(os.environ.get("DATA_ROOT", "/data"))
INPUTS = DATA / "inputs"
OUTPUTS = DATA / "outputs"


def custom_data():
    path = INPUTS / "algoCustomData.json"
    return json.loads(path.read_text()) if path.exists() else {}


def input_files():
    """Every input file, one folder per dataset (the DID without did:op:), in a stable order."""
    for name in sorted(os.listdir(INPUTS)):
        folder = INPUTS / name
        if folder.is_dir():
            yield from sorted(path for path in folder.iterdir() if path.is_file())


def main():
    options = custom_data()
    column = options.get("column", "text")
    min_length = int(options.get("min_length", 1))
    top = int(options.get("top", 10))
    counts = Counter()
    rows = 0
    for path in input_files():
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows += 1
                words = re.findall(r"[a-z']+", row.get(column, "").lower())
                counts.update(word for word in words if len(word) >= min_length)
    result = {
        "rows": rows,
        "distinct_words": len(counts),
        # ties broken alphabetically, so the same input always gives the same result
        "top": [
            {"word": word, "count": count}
            for word, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        ],
    }
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    (OUTPUTS / "word_counts.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"counted {sum(counts.values())} words in {rows} rows")


if __name__ == "__main__":
    main()
