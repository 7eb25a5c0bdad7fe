"""cryptofeed's Coinbase (Advanced Trade) handler fed the same market_trades
frames as exchange/coinbase's BenchmarkTradeFrames: parse, normalize into its
Trade, and serialize it the way its Kafka backend does (JSON of to_dict with
exact numbers as strings). One thread; prints trades/s as JSON.

Usage: python bench_coinbase.py [SECONDS]
"""
import asyncio
import json
import sys
import time

from cryptofeed.defines import TRADES
from cryptofeed.exchanges import Coinbase
from cryptofeed.symbols import Symbols

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
# No network: give cryptofeed the product list it would fetch.
syms, info = Coinbase._parse_symbol_data({"products": [{"product_id": "BTC-USD", "base_currency_id": "BTC", "quote_currency_id": "USD", "quote_increment": "0.01"}]})
Symbols.set(Coinbase.id, syms, info)

frames = [
    '{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":%d,"events":[{"type":"update","trades":[{"trade_id":"%d","product_id":"BTC-USD","price":"9714%d.01","size":"0.0%d1","side":"%s","time":"2023-02-09T20:19:35.%06dZ"}]}]}'
    % (i, 600000000 + i, i % 10, i % 90 + 10, "SELL" if i % 2 == 0 else "BUY", i)
    for i in range(1024)
]
out = []


async def on_trade(trade, receipt_timestamp):
    out.append(json.dumps(trade.to_dict(numeric_type=str)))
    if len(out) > 4096:
        out.clear()


async def main():
    feed = Coinbase(symbols=["BTC-USD"], channels=[TRADES], callbacks={TRADES: on_trade})
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for f in frames:
            await feed.message_handler(f, None, time.time())
        n += len(frames)
    elapsed = time.perf_counter() - start
    print(json.dumps({"trades": n, "seconds": elapsed, "trades_per_s": n / elapsed}))


asyncio.run(main())
