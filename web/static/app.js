// The tickertape dashboard: one EventSource per page, candles drawn with
// TradingView's lightweight-charts. Prices arrive as decimal strings; they
// are parsed to numbers only for drawing and shown as received.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const LC = window.LightweightCharts;
  const state = { markets: [], intervals: [], market: null, interval: '1m', es: null, bars: 0 };
  const params = new URLSearchParams(location.search);

  const chart = LC.createChart($('chart'), {
    autoSize: true,
    layout: { background: { color: '#171a21' }, textColor: '#d6dae3' },
    grid: { vertLines: { color: '#222733' }, horzLines: { color: '#222733' } },
    timeScale: { timeVisible: true, secondsVisible: true, borderColor: '#262b36' },
    rightPriceScale: { borderColor: '#262b36' },
  });
  const candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: '#26a69a', downColor: '#ef5350', wickUpColor: '#26a69a', wickDownColor: '#ef5350', borderVisible: false,
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
  const volume = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: '' });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

  const bar = (c) => ({ time: c.time, open: +c.open, high: +c.high, low: +c.low, close: +c.close });
  const vol = (c) => ({ time: c.time, value: +c.volume, color: +c.close >= +c.open ? 'rgba(38,166,154,.5)' : 'rgba(239,83,80,.5)' });

  function countBars() {
    state.bars = candles.data().length;
    $('chart').dataset.bars = String(state.bars);
  }

  function setCandles(list) {
    candles.setData(list.map(bar));
    volume.setData(list.map(vol));
    countBars();
    if (list.length) showLast(list[list.length - 1]);
  }

  function showLast(c) {
    $('last').textContent = `O ${c.open} H ${c.high} L ${c.low} C ${c.close} V ${c.volume} VWAP ${c.vwap} · ${c.trades} trades${c.final ? '' : ' · open'}`;
  }

  function onCandle(c) {
    const data = candles.data();
    if (data.length && c.time < data[data.length - 1].time) return; // older than what is drawn
    candles.update(bar(c));
    volume.update(vol(c));
    countBars();
    showLast(c);
  }

  function fmtTime(us) { return new Date(us / 1000).toISOString().substring(11, 23); }

  const trades = [];
  function renderTrades() {
    const tb = $('trades').tBodies[0];
    tb.innerHTML = '';
    for (const t of trades.slice(-25).reverse()) {
      const tr = tb.insertRow();
      tr.className = t.side === 'BUY' ? 'buy' : t.side === 'SELL' ? 'sell' : '';
      tr.insertCell().textContent = fmtTime(t.exchange_time_us);
      const p = tr.insertCell(); p.className = 'num'; p.textContent = t.price;
      const q = tr.insertCell(); q.className = 'num'; q.textContent = t.quantity;
      tr.insertCell().textContent = t.side.toLowerCase();
    }
  }

  function renderBook(b) {
    const el = $('book');
    if (!b) return;
    $('book-venue').textContent = b.exchange;
    const max = Math.max(1e-18, ...b.bids.map((l) => +l[1]), ...b.asks.map((l) => +l[1]));
    const row = (l, cls) => `<div class="row ${cls}"><div class="bar" style="width:${(100 * +l[1] / max).toFixed(1)}%"></div><span>${l[0]}</span><span>${l[1]}</span></div>`;
    const asks = b.asks.slice(0, 10).reverse().map((l) => row(l, 'ask')).join('');
    const bids = b.bids.slice(0, 10).map((l) => row(l, 'bid')).join('');
    let spread = '';
    if (b.bids.length && b.asks.length) spread = `<div class="spread">spread ${(+b.asks[0][0] - +b.bids[0][0]).toPrecision(4)}</div>`;
    el.innerHTML = asks + spread + bids;
    el.dataset.levels = String(b.bids.length + b.asks.length);
  }

  let bbo = null, consolidated = null;
  function renderBBO() {
    const tb = $('bbo').tBodies[0];
    if (!bbo && !consolidated) return;
    let h = '<tr class="muted"><td></td><td class="num">bid</td><td class="num">ask</td></tr>';
    if (bbo) h += `<tr><td>${bbo.exchange}</td><td class="num buy">${bbo.bid}</td><td class="num sell">${bbo.ask}</td></tr>` +
      `<tr class="muted"><td>size</td><td class="num">${bbo.bid_size}</td><td class="num">${bbo.ask_size}</td></tr>`;
    if (consolidated && consolidated.venues > 0) h += `<tr><td>best of ${consolidated.venues}</td><td class="num buy" title="${consolidated.bid_exchange}">${consolidated.bid}</td><td class="num sell" title="${consolidated.ask_exchange}">${consolidated.ask}</td></tr>`;
    tb.innerHTML = h;
  }

  function tile(label, value, opts) {
    const o = opts || {};
    return `<div class="tile${o.bad ? ' bad' : ''}"${o.rate !== undefined ? ` data-rate="${o.rate}"` : ''}><div class="v">${value}</div><div class="k">${label}</div></div>`;
  }
  const n = (x, d) => (x === undefined ? '–' : (+x).toFixed(d === undefined ? 0 : d));

  function renderHealth(h) {
    let html = '', nonzero = 0;
    for (const v of h.venues) {
      if (v.events_per_sec > 0) nonzero++;
      html += tile(`${v.exchange} events/s`, n(v.events_per_sec, 1), { rate: v.events_per_sec });
      html += tile(`${v.exchange} trades/s`, n(v.trades_per_sec, 1), { rate: v.trades_per_sec });
      html += tile(`${v.exchange} connection`, v.connected ? 'up' : 'down', { bad: !v.connected });
      html += tile(`${v.exchange} reconnects`, n(v.reconnects));
      html += tile(`${v.exchange} gaps`, n(v.gaps), { bad: v.gaps > 0 });
      html += tile(`${v.exchange} frame errors`, n(v.frame_errors), { bad: v.frame_errors > 0 });
    }
    if (h.available.includes('ingest')) {
      if (h.produced_per_sec > 0) nonzero++;
      html += tile('produced/s', n(h.produced_per_sec, 1), { rate: h.produced_per_sec });
      html += tile('produce p99', n(h.produce_p99_ms, 1) + ' ms');
    }
    if (h.available.includes('processor')) {
      if (h.candles_per_sec > 0) nonzero++;
      html += tile('candles/s', n(h.candles_per_sec, 1), { rate: h.candles_per_sec });
      if (h.behind !== null && h.behind !== undefined) html += tile('processor behind (records)', n(h.behind), { bad: h.behind > 10000 });
    }
    if (h.available.includes('broker')) {
      html += tile('broker in', n(h.broker_in_bytes_per_sec / 1024, 1) + ' KiB/s', { rate: h.broker_in_bytes_per_sec });
      html += tile('fsync p99', n(h.fsync_p99_ms, 2) + ' ms');
    }
    for (const [g, lag] of Object.entries(h.lag)) html += tile(`lag ${g} (from its commit)`, n(lag));
    const e = h.errors;
    html += tile('dead letters', n(e.dead_letters), { bad: e.dead_letters > 0 });
    html += tile('late trades', n(e.late_trades));
    html += tile('broker errors', n(e.broker_request_errors));
    html += tile('dashboards', `${h.dashboard.clients}`);
    $('health').innerHTML = html;
    $('health').dataset.nonzeroRates = String(nonzero);
  }

  function status(text, live) {
    const s = $('status');
    s.textContent = text;
    s.className = 'status' + (live ? ' live' : '');
  }

  function connect() {
    if (state.es) state.es.close();
    let url = '/api/stream';
    if (state.market) {
      const q = new URLSearchParams({ exchange: state.market.exchange, symbol: state.market.symbol, interval: state.interval });
      url += '?' + q;
      $('title').textContent = `${state.market.exchange} ${state.market.symbol} · ${state.interval}`;
      history.replaceState(null, '', '?' + q);
    }
    const es = new EventSource(url);
    state.es = es;
    es.addEventListener('snapshot', (ev) => {
      const s = JSON.parse(ev.data);
      setCandles(s.candles || []);
      trades.length = 0;
      trades.push(...(s.trades || []));
      renderTrades();
      renderBook(s.book);
      bbo = s.bbo; consolidated = s.consolidated; renderBBO();
    });
    es.addEventListener('candle', (ev) => { onCandle(JSON.parse(ev.data)); document.body.dataset.live = 'true'; status('live', true); });
    es.addEventListener('trades', (ev) => { trades.push(...JSON.parse(ev.data)); if (trades.length > 200) trades.splice(0, 100); renderTrades(); });
    es.addEventListener('book', (ev) => renderBook(JSON.parse(ev.data)));
    es.addEventListener('bbo', (ev) => { bbo = JSON.parse(ev.data); renderBBO(); });
    es.addEventListener('consolidated', (ev) => { consolidated = JSON.parse(ev.data); renderBBO(); });
    es.addEventListener('health', (ev) => renderHealth(JSON.parse(ev.data)));
    es.onopen = () => status(state.market ? 'connected' : 'waiting for market data…', false);
    es.onerror = () => status('reconnecting…', false);
  }

  function renderIntervals() {
    const box = $('intervals');
    box.innerHTML = '';
    for (const iv of state.intervals) {
      const b = document.createElement('button');
      b.textContent = iv;
      b.className = iv === state.interval ? 'active' : '';
      b.onclick = () => { state.interval = iv; renderIntervals(); connect(); };
      box.appendChild(b);
    }
  }

  async function loadMarkets() {
    const r = await fetch('/api/markets');
    const m = await r.json();
    state.intervals = m.intervals;
    if (!state.intervals.includes(state.interval)) state.interval = state.intervals[0];
    const sel = $('market');
    const before = sel.value;
    state.markets = m.markets;
    sel.innerHTML = '';
    for (const mk of m.markets) {
      const o = document.createElement('option');
      o.value = mk.exchange + '|' + mk.symbol;
      o.textContent = `${mk.exchange} ${mk.symbol}`;
      sel.appendChild(o);
    }
    if (before) sel.value = before;
    renderIntervals();
    return m.markets;
  }

  async function start() {
    const want = params.get('exchange') && params.get('symbol') ? params.get('exchange') + '|' + params.get('symbol') : null;
    if (params.get('interval')) state.interval = params.get('interval');
    connect(); // health first, even before any market data exists
    for (;;) {
      const ms = await loadMarkets().catch(() => []);
      if (ms.length) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const sel = $('market');
    if (want && [...sel.options].some((o) => o.value === want)) sel.value = want;
    const pick = () => {
      const [exchange, symbol] = sel.value.split('|');
      state.market = { exchange, symbol };
      connect();
    };
    sel.onchange = pick;
    sel.onfocus = () => loadMarkets();
    pick();
  }
  start();
})();
