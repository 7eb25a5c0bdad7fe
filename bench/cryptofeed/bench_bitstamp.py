"""cryptofeed's Bitstamp handler fed the same live_trades frames as
exchange/bitstamp's BenchmarkTradeFrames (WebSocket v2: each number as a
JSON float and as exact text): parse, normalize into its Trade, and
serialize it the way its Kafka backend does (JSON of to_dict with exact
numbers as strings). One thread; prints trades/s as JSON.

Usage: python bench_bitstamp.py [SECONDS]
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptofeed.exchanges import Bitstamp  # noqa: E402
from cryptofeed.symbols import Symbols  # noqa: E402

import cfbench  # noqa: E402

# No network: give cryptofeed the trading-pairs-info answer it would fetch.
syms, info = Bitstamp._parse_symbol_data([{"name": "BTC/USD", "url_symbol": "btcusd", "trading": "Enabled"}])
Symbols.set(Bitstamp.id, syms, info)

frames = [
    '{"data":{"id":%d,"timestamp":"1700000000","amount":0.0%d1,"amount_str":"0.0%d1000000","price":9714%d,"price_str":"9714%d","type":%d,'
    '"microtimestamp":"1700000000%06d","buy_order_id":1700000000000001,"sell_order_id":1700000000000002},"channel":"live_trades_btcusd","event":"trade"}'
    % (300000000 + i, i % 90 + 10, i % 90 + 10, i % 10, i % 10, i % 2, i)
    for i in range(1024)
]
cfbench.run(Bitstamp, "BTC-USD", frames)
