"""Join two CSV inputs, stores (store, region) and sales (store, month, amount): total per region.

Runs inside an Ocean C2D job (standard library only). Each dataset arrives in its own folder
/data/inputs/<did without did:op:>/; the input order is not something to rely on, so each file
is recognised by its header. Custom data (/data/inputs/algoCustomData.json) may set "currency".
"""

import csv
import json
import os
from collections import defaultdict
from pathlib import Path

# DATA_ROOT lets the project's tests run this file outside a job; jobs always use /data.
DATA = Path(os.environ.get("DATA_ROOT", "/data"))
INPUTS = DATA / "inputs"
OUTPUTS = DATA / "outputs"


def read_inputs():
    """{frozenset(header): rows} for every CSV input file."""
    tables = {}
    for name in sorted(os.listdir(INPUTS)):
        folder = INPUTS / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                tables[frozenset(reader.fieldnames or [])] = rows
    return tables


def main():
    options = {}
    custom = INPUTS / "algoCustomData.json"
    if custom.exists():
        options = json.loads(custom.read_text())
    tables = read_inputs()
    stores = next(rows for header, rows in tables.items() if "region" in header)
    sales = next(rows for header, rows in tables.items() if "amount" in header)
    region_of = {row["store"]: row["region"] for row in stores}
    totals = defaultdict(float)
    for row in sales:
        totals[region_of.get(row["store"], "unknown")] += float(row["amount"])
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    with (OUTPUTS / "sales_by_region.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["region", f"total_{options.get('currency', 'eur')}"])
        for region in sorted(totals):
            writer.writerow([region, f"{totals[region]:.2f}"])
    print(f"{len(sales)} sales in {len(totals)} regions")


if __name__ == "__main__":
    main()
