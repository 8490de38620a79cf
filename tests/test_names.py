"""Names are validated before any query is built: injection attempts are refused."""

from __future__ import annotations

import pytest

from hopngo_ops import names
from hopngo_ops.errors import InvalidName


@pytest.mark.parametrize("good", ["booking-service", "gateway", "a1"])
def test_service_names_accepted(good):
    assert names.service_name(good) == good


@pytest.mark.parametrize(
    "bad",
    ['booking"} or vector(1) #', "Booking", "booking service", "-x", "x" * 64, "", None, 5],
)
def test_service_names_refused(bad):
    with pytest.raises(InvalidName, match="invalid service"):
        names.service_name(bad)


@pytest.mark.parametrize("bad", ['/api"}', "api/x", "/a b", "/x\\y"])
def test_uri_refused(bad):
    with pytest.raises(InvalidName):
        names.uri_path(bad)


@pytest.mark.parametrize("bad", ["q'; DROP TABLE x", ".hidden", "a b"])
def test_queue_refused(bad):
    with pytest.raises(InvalidName):
        names.queue_name(bad)


def test_durations():
    assert names.duration_seconds("1h30m") == 5400
    assert names.duration_seconds("10m") == 600
    with pytest.raises(InvalidName):
        names.duration("1 hour")
