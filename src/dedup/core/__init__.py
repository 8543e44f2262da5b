"""The pure core: functions over strings and numpy arrays.

Nothing in this package reads files, touches global state, or imports pyarrow,
typer or a distributed engine, so every function here can run inside a map
task of any engine. A test guards that.
"""
