"""Operator tools: the outbox's jobs and the quarantine, seen and moved by a person.

`jobs` and `quarantine` hold the actions (shared by the command line, `cli`, and the JSON API, `api`);
`scrub` decides what of the stored data they may show; `gauges` feeds the alerts' metrics.
"""
