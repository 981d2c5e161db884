"""Stage 2: each `Spec` bound to a provider, an environment, DDOs and digests (`ResolvedJob`).

The only stage before the plan that talks to providers. `resolver` does the work, `models`
holds what it returns, `environments` chooses an environment with its reason, `digests`
computes the fingerprints that decide whether a job must be replaced.
"""
