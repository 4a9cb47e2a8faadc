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
