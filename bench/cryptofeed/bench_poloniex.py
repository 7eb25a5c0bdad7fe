"""cryptofeed's Poloniex handler fed the same trade frames as
exchange/poloniex's BenchmarkTradeFrames: parse, normalize into its Trade,
and serialize it the way its Kafka backend does (JSON of to_dict with exact
numbers as strings). One thread; prints trades/s as JSON.

Usage: python bench_poloniex.py [SECONDS]
"""
import asyncio
import json
import sys
import time

from cryptofeed.defines import TRADES
from cryptofeed.exchanges import Poloniex
from cryptofeed.symbols import Symbols

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
# No network: give cryptofeed the symbol list it would fetch from GET /markets.
syms, info = Poloniex._parse_symbol_data([{"symbol": "BTC_USDT"}])
Symbols.set(Poloniex.id, syms, info)

frames = [
    '{"channel":"trades","data":[{"symbol":"BTC_USDT","amount":"%d.89973","quantity":"0.0%d7","takerSide":"sell","createTime":16611208%05d,"price":"2146%d.69","id":"%d","ts":1661120814823}]}'
    % (300 + i % 50, i % 90 + 10, i, i % 10, 60183607 + i)
    for i in range(1024)
]
out = []


async def on_trade(trade, receipt_timestamp):
    out.append(json.dumps(trade.to_dict(numeric_type=str)))
    if len(out) > 4096:
        out.clear()


async def main():
    feed = Poloniex(symbols=["BTC-USDT"], channels=[TRADES], callbacks={TRADES: on_trade})
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for f in frames:
            await feed.message_handler(f, None, time.time())
        n += len(frames)
    elapsed = time.perf_counter() - start
    print(json.dumps({"trades": n, "seconds": elapsed, "trades_per_s": n / elapsed}))


asyncio.run(main())
