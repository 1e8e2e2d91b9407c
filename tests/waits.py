"""Ceilings for the tests' readiness waits (one place for all of them).

Every wait in the suite polls for the state it needs and returns as soon as it holds, so these
ceilings only bound how long a real hang takes to fail: they are generous on purpose, because a
busy 2-core CI machine may take minutes to start a server that starts in seconds when idle.
pytest-timeout (pyproject.toml) still ends any single test that hangs past its own ceiling.
"""

STARTUP_S = 300  # a process or server to start answering (imports of torch/dagster included)
PAGE_S = 180  # a page of the web UI to render what the test looks for
RUN_S = 900  # a Dagster run launched from the UI to finish
