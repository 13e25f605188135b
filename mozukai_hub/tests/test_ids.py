import time
import uuid

from mozukai_hub.ids import uuid7
from mozukai_hub.testing.polling import wait_until


def test_uuid7_is_a_valid_version_7_uuid_that_sorts_by_creation_time():
    first = uuid7()
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert abs((first.int >> 80) - time.time_ns() // 1_000_000) < 1000  # its first 48 bits: now, in ms
    wait_until(lambda: time.time_ns() // 1_000_000 > first.int >> 80, 1, interval=0.001)  # the next millisecond
    later = [uuid7() for _ in range(1000)]
    assert all(str(first) < str(u) for u in later)  # text order (what the ledger's key index sees) too
    assert len({u.int & ((1 << 74) - 1) for u in later}) == 1000  # the random part differs
