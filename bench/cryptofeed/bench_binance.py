"""cryptofeed's Binance handler fed trade frames with the same content as
exchange/binance's BenchmarkTradeFrames: parse, normalize into its Trade, and
serialize it the way its Kafka backend does (JSON of to_dict with exact
numbers as strings). cryptofeed 2.4.1 subscribes to @aggTrade, not @trade, so
it is given aggTrade frames carrying the same values (a = t, f = l = t).
One thread; prints trades/s as JSON.

Usage: python bench_binance.py [SECONDS]
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptofeed.exchanges import Binance  # noqa: E402
from cryptofeed.symbols import Symbols  # noqa: E402

import cfbench  # noqa: E402

# No network: give cryptofeed the symbol list it would fetch from exchangeInfo.
syms, info = Binance._parse_symbol_data({"symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "status": "TRADING",
                                                      "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.01000000"}]}]})
Symbols.set(Binance.id, syms, info)

frames = [
    '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1672515782136,"s":"BTCUSDT","a":%d,"p":"9714%d.01000000","q":"0.0%d100000","f":%d,"l":%d,"T":16725157%05d,"m":%s,"M":true}}'
    % (3000000000 + i, i % 10, i % 90 + 10, 3000000000 + i, 3000000000 + i, i, "true" if i % 2 == 0 else "false")
    for i in range(1024)
]
cfbench.run(Binance, "BTC-USDT", frames)
