"""Several clients posting overlapping batches at once: every event ends up in the log once."""

from __future__ import annotations

import random
import threading
from collections import Counter

import httpx
import orjson

from api.app import open_ledger
from api.settings import Settings
from tests.events import Event, execution
from tests.servers import RunningServer


def test_overlapping_concurrent_batches_store_each_event_exactly_once(
    server: RunningServer,
) -> None:
    events: list[Event] = [event for _ in range(30) for event in execution(node_count=3)]
    acknowledged: Counter[str] = Counter()
    accepted_total = 0
    lock = threading.Lock()
    failures: list[str] = []

    def client(seed: int) -> None:
        nonlocal accepted_total
        rng = random.Random(seed)
        mine = events[:]
        rng.shuffle(mine)
        # Every client sends every event, in batches of random size, some twice in a batch.
        with httpx.Client(base_url=server.base_url, headers=server.headers(), timeout=60) as http:
            position = 0
            while position < len(mine):
                size = rng.choice([1, 5, 17, 40])
                batch = mine[position : position + size]
                batch += rng.sample(batch, k=min(2, len(batch)))
                position += size
                response = http.post("/monitoring/v1/events", content=orjson.dumps(batch))
                if response.status_code != 200:
                    failures.append(response.text)
                    return
                body = response.json()
                if body["accepted_count"] + body["duplicate_count"] != len(batch):
                    failures.append(f"counts do not add up: {body}")
                with lock:
                    accepted_total += body["accepted_count"]
                    acknowledged.update(e["id"] for e in batch)

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert set(acknowledged) == {e["id"] for e in events}
    assert accepted_total == len(events)
    ledger = open_ledger(Settings.from_env(server.env))
    try:
        logged = Counter(orjson.loads(e.raw)["id"] for e in ledger.read(after=0, limit=100_000))
    finally:
        ledger.close()
    assert logged == Counter(e["id"] for e in events)
