from __future__ import annotations

import pytest

from tests.uploads import urls


@pytest.fixture
def received():
    """What the test endpoint's handler got, in order."""
    urls.RECEIVED.clear()
    yield urls.RECEIVED
    urls.RECEIVED.clear()
