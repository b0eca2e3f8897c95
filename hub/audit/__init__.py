"""The hub's audit log: an RFC 6962/9162 transparency log of API requests and state changes.

`merkle` is pure (hashes and proofs), `entries` builds canonical entry bytes, `checkpoints` signs and checks
tree heads, `witness` publishes them outside the database, `store` keeps the log in SQL and `verify` checks a
whole log offline.
"""
