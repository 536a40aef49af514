"""The run record: typed journal events, their one writer and one reader, phases, and the list of runs.

Every module that writes or reads a run's journal goes through this package (failover runner, report, demo,
bench, `drctl runs`); nothing else parses journal lines.
"""
