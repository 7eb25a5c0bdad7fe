"""cryptofeed's Coinbase (Advanced Trade) handler fed the same market_trades
frames as exchange/coinbase's BenchmarkTradeFrames: parse, normalize into its
Trade, and serialize it the way its Kafka backend does (JSON of to_dict with
exact numbers as strings). One thread; prints trades/s as JSON.

Usage: python bench_coinbase.py [SECONDS]
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptofeed.exchanges import Coinbase  # noqa: E402
from cryptofeed.symbols import Symbols  # noqa: E402

import cfbench  # noqa: E402

# No network: give cryptofeed the product list it would fetch.
syms, info = Coinbase._parse_symbol_data({"products": [{"product_id": "BTC-USD", "base_currency_id": "BTC", "quote_currency_id": "USD", "quote_increment": "0.01"}]})
Symbols.set(Coinbase.id, syms, info)

frames = [
    '{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":%d,"events":[{"type":"update","trades":[{"trade_id":"%d","product_id":"BTC-USD","price":"9714%d.01","size":"0.0%d1","side":"%s","time":"2023-02-09T20:19:35.%06dZ"}]}]}'
    % (i, 600000000 + i, i % 10, i % 90 + 10, "SELL" if i % 2 == 0 else "BUY", i)
    for i in range(1024)
]
cfbench.run(Coinbase, "BTC-USD", frames)
