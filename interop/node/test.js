// node-rdkafka, kafkajs and @kafkajs/confluent-schema-registry against tickertape.
// Prints one line per check; exits non-zero on any failure.
// Usage: node test.js BOOTSTRAP REGISTRY_URL TICKERTAPE_BINARY
'use strict';
const { execFileSync } = require('child_process');
const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = require('kafkajs');
// kafkajs reads only gzip by itself; franz-go (tickertape's ingest) compresses
// with snappy by default, so register the snappy codec as kafkajs users do.
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');
const Kafkaesque = require('node-rdkafka');

const [bootstrap, registryUrl, tt] = process.argv.slice(2);
let failed = 0;
function check(name, ok, detail) {
  console.log((ok ? 'ok   ' : 'FAIL ') + name + (ok ? '' : ': ' + JSON.stringify(detail)));
  if (!ok) failed++;
}
const suffix = () => Math.random().toString(36).slice(2, 8);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function kafkajsSuite() {
  const kafka = new Kafka({ clientId: 'interop', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const topic = 'kafkajs-' + suffix();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  check('kafkajs: admin creates a topic with 2 partitions', md.topics[0].partitions.length === 2, md.topics[0]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const res = await producer.send({ topic, acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ key: 'k' + (i % 3), value: 'v' + i })) });
  check('kafkajs: idempotent producer, acks=all', res.length > 0 && res.every((r) => r.errorCode === 0), res);
  const groupId = 'kafkajs-group-' + suffix();
  const seen = [];
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value.toString()); } });
  for (let i = 0; i < 120 && seen.length < 30; i++) await sleep(250);
  await consumer.disconnect();
  check('kafkajs: a consumer group reads all 30 records', seen.length === 30, seen.length);
  await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'later' }] });
  const resumed = [];
  const c2 = kafka.consumer({ groupId });
  await c2.connect();
  await c2.subscribe({ topic, fromBeginning: true });
  await c2.run({ eachMessage: async ({ message }) => { resumed.push(message.value.toString()); } });
  for (let i = 0; i < 120 && resumed.length < 1; i++) await sleep(250);
  await sleep(500);
  await c2.disconnect();
  check('kafkajs: the group resumes from its committed offsets', resumed.length === 1 && resumed[0] === 'later', resumed);
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
}

async function registrySuite() {
  const registry = new SchemaRegistry({ host: registryUrl });
  const kafka = new Kafka({ clientId: 'interop-sr', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const topic = 'node-avro-' + suffix();
  const schema = { type: 'record', name: 'NodePrice', namespace: 'interop', fields: [{ name: 'symbol', type: 'string' }, { name: 'seq', type: 'long' }] };
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: topic + '-value' });
  check('confluent-schema-registry: register a schema', id > 0, id);
  const encoded = await registry.encode(id, { symbol: 'ETH-USDT', seq: 7 });
  const decoded = await registry.decode(encoded);
  check('confluent-schema-registry: encode and decode', decoded.symbol === 'ETH-USDT' && Number(decoded.seq) === 7, decoded);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ value: encoded }] });
  await producer.disconnect();
  const out = execFileSync(tt, ['consume', '-t', topic, '--from-beginning', '--max', '1', '--timeout', '20s', '--brokers', bootstrap, '--registry', registryUrl]).toString();
  const v = JSON.parse(out.trim());
  check('tickertape consume decodes what Node wrote', v.symbol === 'ETH-USDT' && v.seq === 7, v);

  // What tickertape wrote to market.events.
  const consumer = kafka.consumer({ groupId: 'node-events-' + suffix() });
  await consumer.connect();
  await consumer.subscribe({ topic: 'market.events', fromBeginning: true });
  const events = [];
  await consumer.run({ eachMessage: async ({ message }) => { if (events.length < 100) events.push(message); } });
  for (let i = 0; i < 120 && events.length < 100; i++) await sleep(250);
  await consumer.disconnect();
  const values = [];
  for (const m of events) values.push(await registry.decode(m.value));
  const trades = values.filter((x) => x.trade_id !== undefined);
  check('confluent-schema-registry decodes tickertape\'s market.events', values.length === 100 && trades.length > 0, [values.length, trades.length]);
  check('... trades keyed exchange:SYMBOL with a decimal price', events.every((m) => /^(binance|bitstamp|coinbase|kraken|okx|poloniex)-synthetic:[A-Z]+-[A-Z]+$/.test(m.key.toString())) && trades.every((t) => t.price !== undefined && t.trade_id.length > 0), trades[0]);
}

// JSON Schema and Protobuf with @kafkajs/confluent-schema-registry, both
// ways with tickertape (consume reads what Node wrote; Node decodes what
// tickertape produce wrote).
async function formatsSuite() {
  const registry = new SchemaRegistry({ host: registryUrl });
  const kafka = new Kafka({ clientId: 'interop-formats', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const readAll = async (topic, n) => {
    const consumer = kafka.consumer({ groupId: 'node-formats-' + suffix() });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got = [];
    await consumer.run({ eachMessage: async ({ message }) => { got.push(message); } });
    for (let i = 0; i < 120 && got.length < n; i++) await sleep(250);
    await consumer.disconnect();
    return got;
  };
  const ttConsume = (topic, n) => execFileSync(tt, ['consume', '-t', topic, '--from-beginning', '--max', String(n), '--timeout', '20s', '--brokers', bootstrap, '--registry', registryUrl]).toString().trim().split('\n').map((l) => JSON.parse(l));
  const ttProduce = (topic, file, line, extra) => execFileSync(tt, ['produce', '-t', topic, '--schema', file, ...(extra || []), '--brokers', bootstrap, '--registry', registryUrl], { input: line + '\n' }).toString();
  const fs = require('fs');
  const os = require('os');
  const path = require('path');

  // JSON Schema.
  const jtopic = 'node-json-' + suffix();
  const jschema = { $schema: 'http://json-schema.org/draft-07/schema#', title: 'NodeTicker', type: 'object', properties: { symbol: { type: 'string' }, seq: { type: 'integer' } }, required: ['symbol', 'seq'] };
  const { id: jid } = await registry.register({ type: SchemaType.JSON, schema: JSON.stringify(jschema) }, { subject: jtopic + '-value' });
  check('confluent-schema-registry: register a JSON schema', jid > 0, jid);
  const jenc = await registry.encode(jid, { symbol: 'ETH-USDT', seq: 7 });
  let refused = false;
  try { await registry.encode(jid, { symbol: 5 }); } catch (e) { refused = true; }
  check('confluent-schema-registry: JSON Schema encode validates, decode reads', refused && (await registry.decode(jenc)).seq === 7, refused);
  await producer.send({ topic: jtopic, acks: -1, messages: [{ value: jenc }] });
  const jv = ttConsume(jtopic, 1);
  check('tickertape consume decodes what Node wrote (JSON Schema)', jv[0].symbol === 'ETH-USDT' && jv[0].seq === 7, jv);
  const jfile = path.join(os.tmpdir(), 'tt-node-' + suffix() + '.json');
  fs.writeFileSync(jfile, JSON.stringify(jschema));
  ttProduce(jtopic, jfile, '{"symbol":"BTC-USDT","seq":8}');
  const jmsgs = await readAll(jtopic, 2);
  const jdec = [];
  for (const m of jmsgs) jdec.push(await registry.decode(m.value));
  check('confluent-schema-registry decodes what tickertape produce wrote (JSON Schema)', jdec.length === 2 && jdec[1].symbol === 'BTC-USDT' && jdec[1].seq === 8, jdec);

  // Protobuf.
  const ptopic = 'node-proto-' + suffix();
  const proto = 'syntax = "proto3";\npackage interop;\nmessage NodeQuote {\n  string symbol = 1;\n  string price = 2;\n  int64 seq = 3;\n}\n';
  const { id: pid } = await registry.register({ type: SchemaType.PROTOBUF, schema: proto }, { subject: ptopic + '-value' });
  check('confluent-schema-registry: register a Protobuf schema', pid > 0, pid);
  const penc = await registry.encode(pid, { symbol: 'ETH-USDT', price: '3400.5', seq: 7 });
  const pback = await registry.decode(penc);
  check('confluent-schema-registry: Protobuf encode and decode', pback.symbol === 'ETH-USDT' && Number(pback.seq) === 7, pback);
  await producer.send({ topic: ptopic, acks: -1, messages: [{ value: penc }] });
  const pv = ttConsume(ptopic, 1);
  check('tickertape consume decodes what Node wrote (Protobuf)', pv[0].symbol === 'ETH-USDT' && pv[0].price === '3400.5' && pv[0].seq === '7', pv);
  const pfile = path.join(os.tmpdir(), 'tt-node-' + suffix() + '.proto');
  fs.writeFileSync(pfile, proto);
  ttProduce(ptopic, pfile, '{"symbol":"BTC-USDT","price":"97000.5","seq":"8"}', ['--message', 'NodeQuote']);
  const pmsgs = await readAll(ptopic, 2);
  const pdec = [];
  for (const m of pmsgs) pdec.push(await registry.decode(m.value));
  check('confluent-schema-registry decodes what tickertape produce wrote (Protobuf)', pdec.length === 2 && pdec[1].symbol === 'BTC-USDT' && Number(pdec[1].seq) === 8, pdec);
  await producer.disconnect();
}

function rdkafkaSuite() {
  return new Promise((resolve) => {
    const topic = 'rdkafka-' + suffix();
    const producer = new Kafkaesque.Producer({ 'metadata.broker.list': bootstrap, 'enable.idempotence': true, acks: 'all', dr_cb: true, 'compression.codec': 'snappy' });
    let delivered = 0;
    producer.on('delivery-report', (err) => { if (!err) delivered++; });
    producer.setPollInterval(50);
    producer.connect();
    producer.on('ready', () => {
      for (let i = 0; i < 40; i++) producer.produce(topic, null, Buffer.from('r' + i), 'k' + (i % 4));
      producer.flush(30000, async () => {
        for (let i = 0; i < 100 && delivered < 40; i++) await sleep(100); // reports arrive on the poll interval
        check('node-rdkafka: 40 idempotent acks=all produces delivered', delivered === 40, delivered);
        producer.disconnect();
        const seen = [];
        const consumer = new Kafkaesque.KafkaConsumer({ 'group.id': 'rdkafka-group-' + suffix(), 'metadata.broker.list': bootstrap, 'enable.auto.commit': false },
          { 'auto.offset.reset': 'earliest' });
        consumer.connect();
        consumer.on('ready', () => {
          consumer.subscribe([topic]);
          consumer.consume();
        });
        consumer.on('data', (m) => {
          seen.push(m.value.toString());
          consumer.commitMessage(m);
          if (seen.length === 40) {
            check('node-rdkafka: a KafkaConsumer in a group reads them and commits', new Set(seen).size === 40, seen.length);
            consumer.disconnect();
          }
        });
        consumer.on('disconnected', () => resolve());
        setTimeout(() => {
          if (seen.length < 40) {
            check('node-rdkafka: a KafkaConsumer in a group reads them and commits', false, seen.length);
            consumer.disconnect();
          }
        }, 60000).unref();
      });
    });
  });
}

(async () => {
  for (const [name, suite] of [['kafkajs', kafkajsSuite], ['schema registry', registrySuite], ['confluent-schema-registry formats', formatsSuite], ['node-rdkafka', rdkafkaSuite]]) {
    try { await suite(); } catch (e) { check(name + ' suite', false, String(e && e.stack || e)); }
  }
  console.log(failed === 0 ? 'node: all checks passed' : 'node: ' + failed + ' checks failed');
  process.exit(failed === 0 ? 0 : 1);
})();
