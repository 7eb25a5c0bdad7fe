"""cryptofeed's Kraken handler fed trade frames of the same values as
exchange/kraken's BenchmarkTradeFrames. cryptofeed 2.4.1 speaks Kraken's
WebSocket v1 (array frames, decimal strings, no trade id), so it is fed v1
`trade` frames: parse, normalize into its Trade, and serialize it the way
its Kafka backend does (JSON of to_dict with exact numbers as strings). One
thread; prints trades/s as JSON.

Usage: python bench_kraken.py [SECONDS]
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptofeed.exchanges import Kraken  # noqa: E402
from cryptofeed.symbols import Symbols  # noqa: E402

import cfbench  # noqa: E402

# No network: give cryptofeed the AssetPairs answer it would fetch.
syms, info = Kraken._parse_symbol_data({"result": {"XXBTZUSD": {"altname": "XBTUSD", "wsname": "XBT/USD"}}})
Symbols.set(Kraken.id, syms, info)

frames = [
    '[0,[["9714%d.1","0.0%d1","1695628116.%06d","%s","l",""]],"trade","XBT/USD"]'
    % (i % 10, i % 90 + 10, i, "s" if i % 2 == 0 else "b")
    for i in range(1024)
]
cfbench.run(Kraken, "BTC-USD", frames)
