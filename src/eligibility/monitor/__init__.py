"""Dynamic monitoring with early warning (动态监测预警): events in, alerts out, with the policy's reasons.

`model` is the engine-neutral compiled form of the monitoring rules and the definition of an
alert; `rules` reads and checks them; `events` is the event format; `reference` is the
pure-Python reference engine; `store` keeps state and alerts in SQLite.
"""
