"""cryptofeed's Kraken handler fed trade frames of the same values as
exchange/kraken's BenchmarkTradeFrames. cryptofeed 2.4.1 speaks Kraken's
WebSocket v1 (array frames, decimal strings, no trade id), so it is fed v1
`trade` frames: parse, normalize into its Trade, and serialize it the way
its Kafka backend does (JSON of to_dict with exact numbers as strings). One
thread; prints trades/s as JSON.

Usage: python bench_kraken.py [SECONDS]
"""
import asyncio
import json
import sys
import time

from cryptofeed.defines import TRADES
from cryptofeed.exchanges import Kraken
from cryptofeed.symbols import Symbols

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
# No network: give cryptofeed the AssetPairs answer it would fetch.
syms, info = Kraken._parse_symbol_data({"result": {"XXBTZUSD": {"altname": "XBTUSD", "wsname": "XBT/USD"}}})
Symbols.set(Kraken.id, syms, info)

frames = [
    '[0,[["9714%d.1","0.0%d1","1695628116.%06d","%s","l",""]],"trade","XBT/USD"]'
    % (i % 10, i % 90 + 10, i, "s" if i % 2 == 0 else "b")
    for i in range(1024)
]
out = []


async def on_trade(trade, receipt_timestamp):
    out.append(json.dumps(trade.to_dict(numeric_type=str)))
    if len(out) > 4096:
        out.clear()


async def main():
    feed = Kraken(symbols=["BTC-USD"], channels=[TRADES], callbacks={TRADES: on_trade})
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for f in frames:
            await feed.message_handler(f, None, time.time())
        n += len(frames)
    elapsed = time.perf_counter() - start
    print(json.dumps({"trades": n, "seconds": elapsed, "trades_per_s": n / elapsed}))


asyncio.run(main())
