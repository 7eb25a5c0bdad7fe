"""cryptofeed's Poloniex handler fed the same trade frames as
exchange/poloniex's BenchmarkTradeFrames: parse, normalize into its Trade,
and serialize it the way its Kafka backend does (JSON of to_dict with exact
numbers as strings). One thread; prints trades/s as JSON.

Usage: python bench_poloniex.py [SECONDS]
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptofeed.exchanges import Poloniex  # noqa: E402
from cryptofeed.symbols import Symbols  # noqa: E402

import cfbench  # noqa: E402

# No network: give cryptofeed the symbol list it would fetch from GET /markets.
syms, info = Poloniex._parse_symbol_data([{"symbol": "BTC_USDT"}])
Symbols.set(Poloniex.id, syms, info)

frames = [
    '{"channel":"trades","data":[{"symbol":"BTC_USDT","amount":"%d.89973","quantity":"0.0%d7","takerSide":"sell","createTime":16611208%05d,"price":"2146%d.69","id":"%d","ts":1661120814823}]}'
    % (300 + i % 50, i % 90 + 10, i, i % 10, 60183607 + i)
    for i in range(1024)
]
cfbench.run(Poloniex, "BTC-USDT", frames)
