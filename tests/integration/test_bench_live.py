"""``python -m bench.live`` end to end, two changes of each kind on one worker:
every event arrives, each latency is measured, and the table shows them."""

from __future__ import annotations

from bench.live import LiveOptions, render, run_live


async def test_every_change_reaches_the_subscriber_and_is_timed() -> None:
    report = await run_live(LiveOptions(changes=2, workers=1), lambda _: None)
    kinds = {kind.name: kind for kind in report.kinds}
    assert set(kinds) == {"tag", "Shopify order", "webhook answered"}
    for kind in report.kinds:
        assert kind.missing == 0, kind.name
        assert len(kind.latencies) == 2
        assert all(latency > 0 for latency in kind.latencies)
    # an order's event waits for Shopify's orders, read again (50 ms)
    assert min(kinds["Shopify order"].latencies) > 0.05
    table = render(report)
    assert "| tag | 2 | 0 |" in table
    assert "| Shopify order | 2 | 0 |" in table
