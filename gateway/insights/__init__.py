"""Customer insights: order facts kept locally, traits and RFM computed in SQL,
rule-based segments with membership events, and streaming exports.

Everything here is set-based: a full refresh is a handful of ``INSERT … SELECT``
statements however many customers there are, so it scales with the database
rather than with Python loops, and runs the same on SQLite and PostgreSQL.
"""
