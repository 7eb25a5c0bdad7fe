"""cryptofeed's OKX handler fed the same trades-all frames as exchange/okx's
BenchmarkTradeFrames (cryptofeed 2.4.1 subscribes to `trades`; its handler
routes any channel containing "trades" to the same code, and a trades-all
frame has a trades frame's fields): parse, normalize into its Trade, and
serialize it the way its Kafka backend does (JSON of to_dict with exact
numbers as strings). One thread; prints trades/s as JSON.

Usage: python bench_okx.py [SECONDS]
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptofeed.exchanges import OKX  # noqa: E402
from cryptofeed.symbols import Symbols  # noqa: E402

import cfbench  # noqa: E402

# No network: give cryptofeed the instruments answer it would fetch.
syms, info = OKX._parse_symbol_data([{"data": [{"instType": "SPOT", "instId": "BTC-USDT", "baseCcy": "BTC", "quoteCcy": "USDT", "tickSz": "0.1"}]}])
Symbols.set(OKX.id, syms, info)

frames = [
    '{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"%d","px":"9714%d.1","sz":"0.0%d1","side":"%s","source":"0","ts":"1695628116%03d"}]}'
    % (600000000 + i, i % 10, i % 90 + 10, "sell" if i % 2 == 0 else "buy", i % 1000)
    for i in range(1024)
]
cfbench.run(OKX, "BTC-USDT", frames)
