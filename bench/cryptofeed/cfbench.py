"""Shared driver of the bench_<venue>.py scripts: feeds one cryptofeed venue
handler a list of trade frames for SECONDS (argv[1], default 3), serializes
each trade the way cryptofeed's Kafka backend does (JSON of to_dict with exact
numbers as strings), on one thread, and prints trades/s as JSON.

The venue scripts keep what is theirs: the symbol data, the frames and the
feed class. They import this module from their own folder.
"""
import asyncio
import json
import sys
import time

from cryptofeed.defines import TRADES


def seconds():
    return float(sys.argv[1]) if len(sys.argv) > 1 else 3.0


def run(feed_class, symbol, frames, conn=None):
    """Run feed_class(symbols=[symbol]) over frames and print the rate; conn
    is what the handler is given as its connection (None for most venues)."""
    secs = seconds()
    out = []

    async def on_trade(trade, receipt_timestamp):
        out.append(json.dumps(trade.to_dict(numeric_type=str)))
        if len(out) > 4096:
            out.clear()

    async def main():
        feed = feed_class(symbols=[symbol], channels=[TRADES], callbacks={TRADES: on_trade})
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < secs:
            for f in frames:
                await feed.message_handler(f, conn, time.time())
            n += len(frames)
        elapsed = time.perf_counter() - start
        print(json.dumps({"trades": n, "seconds": elapsed, "trades_per_s": n / elapsed}))

    asyncio.run(main())
