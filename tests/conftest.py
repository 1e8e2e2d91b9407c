"""Fixtures shared by several test modules."""

import pytest

from tests.postgres_server import running_postgres, server_bin_dir


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the whole session; each test creates its own database."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql; .ci/run installs it)")
    with running_postgres(bin_dir) as server:
        yield server
