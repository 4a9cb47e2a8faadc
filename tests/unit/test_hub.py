from kiosk.hub import Hub


def test_hub_delivers_to_every_subscriber():
    hub = Hub()
    a, b = hub.subscribe(), hub.subscribe()
    hub.publish("lane", {"state": "idle"})
    assert a.get(0) == ("lane", {"state": "idle"})
    assert b.get(0) == ("lane", {"state": "idle"})
    assert a.get(0) is None


def test_hub_slow_subscriber_loses_oldest_and_never_blocks():
    hub = Hub()
    sub = hub.subscribe(maxsize=3)
    for i in range(10):
        hub.publish("n", i)
    assert [sub.get(0)[1] for _ in range(3)] == [7, 8, 9]
    assert sub.dropped == 7


def test_hub_close_ends_streams_and_unsubscribe_stops_delivery():
    hub = Hub()
    sub = hub.subscribe()
    gone = hub.subscribe()
    gone.close()
    assert hub.subscribers == 1
    hub.close()
    assert sub.get(0) == ("bye", None)
    assert gone.get(0) is None


def test_hub_listener_is_told_in_the_publisher_s_thread_and_can_stop():
    hub = Hub()
    heard = []
    stop = hub.listen(lambda kind, payload: heard.append((kind, payload)))
    assert hub.listeners == 1
    hub.publish("lane", {"state": "idle"})
    stop()
    hub.publish("lane", {"state": "granted"})
    assert heard == [("lane", {"state": "idle"})] and hub.listeners == 0


def test_hub_a_failing_listener_never_reaches_the_publisher(caplog):
    hub = Hub()
    sub = hub.subscribe()

    def broken(kind, payload):
        raise RuntimeError("listener broke")

    hub.listen(broken)
    hub.publish("event", 1)  # does not raise
    assert sub.get(0) == ("event", 1)
    assert "live-update listener failed" in caplog.text
