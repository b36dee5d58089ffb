"""A replica that takes the projection writer lock and cannot start writing gives it back."""

from __future__ import annotations

import pytest

from api import live as live_module
from api.live import LiveProjections
from api.locks import writer_lock
from api.settings import Settings
from domain.log.ledger import Ledger


def test_a_replica_that_cannot_start_writing_gives_the_lock_back(
    sqlite_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env(sqlite_env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.log_env)
    leader = writer_lock(settings)
    assert leader is not None
    assert leader.try_acquire()  # another replica writes
    live = LiveProjections(settings, ledger, writer_lock(settings))
    try:
        assert not live.leading
        leader.release()  # ... until it dies, while ClickHouse is briefly unreachable

        def unreachable(*_: object, **__: object) -> None:
            raise ConnectionError("ClickHouse is unreachable")

        monkeypatch.setattr(live_module, "connect", unreachable)
        with pytest.raises(ConnectionError):
            live.follow_leadership()
        assert not live.leading
        assert leader.try_acquire(), "the lock was kept with no runner behind it"
        leader.release()

        monkeypatch.undo()  # ClickHouse is back: the watcher's next tick takes over
        live.follow_leadership()
        assert live.leading
        assert live.runner._thread is not None
    finally:
        live.close()
        ledger.close()
