"""cryptofeed's Bybit handler fed the same spot publicTrade frames as
exchange/bybit's BenchmarkTradeFrames: parse, normalize into its Trade, and
serialize it the way its Kafka backend does (JSON of to_dict with exact
numbers as strings). One thread; prints trades/s as JSON.

Usage: python bench_bybit.py [SECONDS]
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptofeed.exchanges import Bybit  # noqa: E402
from cryptofeed.symbols import Symbols  # noqa: E402

import cfbench  # noqa: E402

# No network: give cryptofeed the instruments-info answer it would fetch.
syms, info = Bybit._parse_symbol_data([{"result": {"list": [
    {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "priceFilter": {"tickSize": "0.01"}}]}}])
Symbols.set(Bybit.id, syms, info)


class SpotConnection:
    """What message_handler reads of its connection: the address, whose
    last path element tells spot from linear."""
    address = "wss://stream.bybit.com/v5/public/spot"


frames = [
    '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1695628116%03d,"data":[{"T":1695628116%03d,"s":"BTCUSDT","S":"%s","v":"0.0%d1","p":"9714%d.10","i":"%d","BT":false,"RPI":false,"seq":%d}]}'
    % (i % 1000, i % 1000, "Sell" if i % 2 == 0 else "Buy", i % 90 + 10, i % 10, 2290000000061666327 + i, 60000000000 + i)
    for i in range(1024)
]
cfbench.run(Bybit, "BTC-USDT", frames, conn=SpotConnection())
