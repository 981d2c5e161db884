"""The embedded Ocean Provider (Provider v2 wire protocol).

An island: it imports only ocean.models, ocean.signing and errors from the rest.
"""
