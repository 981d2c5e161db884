"""The embedded Ocean Provider (Provider v2 wire protocol).

An island: it imports only ocean.models, ocean.signing and errors from the rest.
"""

import logging

# A library stays quiet unless its host configures logging (`provider serve` does).
logging.getLogger("specrunner.provider").addHandler(logging.NullHandler())
