"""Our Ocean provider, in both dialects (Provider v2 and ocean-node), embedded or served.

An island: from the rest of specrunner it imports only `errors`, `atomic` (the one state-file
writer) and the wire facts it shares with the client (`ocean.signing`, `ocean.node`,
`ocean.models`), so the client and the server can never disagree about a signed message.
tests/test_layers.py enforces it.
"""

import logging

# A library stays quiet unless its host configures logging (`provider serve` does).
logging.getLogger("specrunner.provider").addHandler(logging.NullHandler())
