"""confluent-kafka (Producer, Consumer, SchemaRegistryClient, AvroSerializer,
AvroDeserializer) and kafka-python against tickertape. Prints one line per
check; exits non-zero on any failure.

Usage: python test_interop.py BOOTSTRAP REGISTRY_URL TICKERTAPE_BINARY
"""
import decimal
import json
import re
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

BOOT, REG, TT = sys.argv[1], sys.argv[2], sys.argv[3]
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failed += 1


def consume_all(topic, n, group, extra=None, timeout=60):
    conf = {"bootstrap.servers": BOOT, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    conf.update(extra or {})
    c = Consumer(conf)
    c.subscribe([topic])
    out, deadline = [], time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        out.append(m)
    c.commit(asynchronous=False)
    c.close()
    return out


# confluent-kafka: plain produce and a consumer group.
topic = "py-plain-" + uuid.uuid4().hex[:8]
p = Producer({"bootstrap.servers": BOOT, "acks": "all", "enable.idempotence": True, "compression.type": "lz4"})
delivered = []
for i in range(50):
    p.produce(topic, key=f"k{i % 5}", value=f"v{i}", on_delivery=lambda err, m: delivered.append(err is None))
p.flush(30)
check("confluent-kafka: 50 idempotent acks=all produces delivered", len(delivered) == 50 and all(delivered), delivered[:3])
got = consume_all(topic, 50, "py-group")
check("confluent-kafka: a consumer group reads them all", sorted(m.value().decode() for m in got) == sorted(f"v{i}" for i in range(50)), len(got))
p.produce(topic, key="k", value="after")
p.flush(30)
again = consume_all(topic, 1, "py-group", timeout=30)
check("confluent-kafka: the group resumes from its committed offsets", [m.value() for m in again] == [b"after"], [m.value() for m in again])

# Schema registry: Avro both ways.
src = SchemaRegistryClient({"url": REG})
schema = json.dumps({"type": "record", "name": "PyPrice", "namespace": "interop", "fields": [
    {"name": "symbol", "type": "string"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 18}},
    {"name": "seq", "type": "long"}]})
ser = AvroSerializer(src, schema)
atopic = "py-avro-" + uuid.uuid4().hex[:8]
for i in range(5):
    value = {"symbol": "BTC-USDT", "price": decimal.Decimal("97000.5") + i, "seq": i}
    p.produce(atopic, value=ser(value, SerializationContext(atopic, MessageField.VALUE)))
p.flush(30)
versions = src.get_versions(atopic + "-value")
check("schema registry: AvroSerializer registered its schema", versions == [1], versions)
des = AvroDeserializer(src)
vals = [des(m.value(), SerializationContext(atopic, MessageField.VALUE)) for m in consume_all(atopic, 5, "py-avro-group")]
check("schema registry: AvroDeserializer decodes what AvroSerializer wrote", [v["seq"] for v in vals] == list(range(5)) and vals[0]["price"] == decimal.Decimal("97000.5"), vals[:1])
out = subprocess.run([TT, "consume", "-t", atopic, "--from-beginning", "--max", "5", "--timeout", "20s", "--brokers", BOOT, "--registry", REG],
                     capture_output=True, text=True)
tt_vals = [json.loads(line) for line in out.stdout.splitlines()]
check("tickertape consume decodes records Python wrote", [v.get("price") for v in tt_vals] == [f"{97000.5 + i}" for i in range(5)], out.stdout[:300] + out.stderr[:300])

# What tickertape wrote: market.events, decoded by Confluent's deserializer.
events = consume_all("market.events", 200, "py-events-" + uuid.uuid4().hex[:6])
decoded = [des(m.value(), SerializationContext("market.events", MessageField.VALUE)) for m in events]
trades = [d for d in decoded if "trade_id" in d]
check("AvroDeserializer decodes tickertape's market.events", len(decoded) == 200 and len(trades) > 0, (len(decoded), len(trades)))
check("... with exact decimal prices and UTC timestamps", all(isinstance(t["price"], decimal.Decimal) and t["price"] > 0 and t["exchange_time"].tzinfo is not None for t in trades), trades[:1])
check("... and the key exchange:SYMBOL", all(re.match(r"^(binance|coinbase|poloniex)-synthetic:[A-Z]+-[A-Z]+$", m.key().decode()) for m in events), events[0].key())

# kafka-python.
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

ktopic = "kp-" + uuid.uuid4().hex[:8]
kp = KafkaProducer(bootstrap_servers=BOOT, acks="all")
futs = [kp.send(ktopic, key=b"k", value=f"kp{i}".encode()) for i in range(20)]
metas = [f.get(timeout=30) for f in futs]
kp.close()
check("kafka-python: produce with acks=all", [m.offset for m in metas] == list(range(20)), [m.offset for m in metas][:5])
kc = KafkaConsumer(ktopic, bootstrap_servers=BOOT, group_id="kp-group", auto_offset_reset="earliest", consumer_timeout_ms=15000)
kvals = [m.value for m in kc]
kc.commit()
kc.close()
check("kafka-python: a consumer group reads them", kvals == [f"kp{i}".encode() for i in range(20)], kvals[:3])

print("python: all checks passed" if failed == 0 else f"python: {failed} checks failed")
sys.exit(1 if failed else 0)
