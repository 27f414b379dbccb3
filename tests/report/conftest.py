import pytest

from tests.report.real_data import Clustered, import_and_cluster


@pytest.fixture
def seattle() -> Clustered:
    return import_and_cluster(slug="seattle")
