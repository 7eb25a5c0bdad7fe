"""confluent-kafka (Producer, Consumer, SchemaRegistryClient, AvroSerializer,
AvroDeserializer, JSONSerializer, JSONDeserializer, ProtobufSerializer,
ProtobufDeserializer) and kafka-python against tickertape. Prints one line per
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
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass
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
check("... and the key exchange:SYMBOL", all(re.match(r"^(binance|bitstamp|coinbase|kraken|okx|poloniex)-synthetic:[A-Z]+-[A-Z]+$", m.key().decode()) for m in events), events[0].key())

# JSON Schema both ways: JSONSerializer registers and writes, tickertape
# consume reads; tickertape produce writes, JSONDeserializer reads (fetching
# the writer schema from the registry).
jschema = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "PyTicker", "type": "object",
           "properties": {"symbol": {"type": "string"}, "bid": {"type": "string"}, "seq": {"type": "integer"}},
           "required": ["symbol", "seq"]}
jtopic = "py-json-" + uuid.uuid4().hex[:8]
jser = JSONSerializer(json.dumps(jschema), src)
for i in range(3):
    p.produce(jtopic, value=jser({"symbol": "BTC-USDT", "bid": f"9700{i}.5", "seq": i}, SerializationContext(jtopic, MessageField.VALUE)))
p.flush(30)
jv = src.get_latest_version(jtopic + "-value")
check("schema registry: JSONSerializer registered its JSON schema", jv.schema.schema_type == "JSON" and jv.version == 1, (jv.schema.schema_type, jv.version))
try:
    JSONSerializer(json.dumps(jschema), src)({"symbol": 1, "seq": "x"}, SerializationContext(jtopic, MessageField.VALUE))
    check("schema registry: JSONSerializer refuses a document its schema rejects", False, "no error")
except Exception as e:  # noqa: BLE001
    check("schema registry: JSONSerializer refuses a document its schema rejects", "not of type" in str(e), repr(e))
out = subprocess.run([TT, "consume", "-t", jtopic, "--from-beginning", "--max", "3", "--timeout", "20s", "--brokers", BOOT, "--registry", REG],
                     capture_output=True, text=True)
tt_vals = [json.loads(line) for line in out.stdout.splitlines()]
check("tickertape consume decodes JSON Schema records: what Python wrote", [v.get("seq") for v in tt_vals] == [0, 1, 2] and tt_vals[0].get("bid") == "97000.5", out.stdout[:300] + out.stderr[:300])
jfile = "/tmp/tt-interop-" + uuid.uuid4().hex[:8] + ".json"
with open(jfile, "w") as f:
    json.dump(jschema, f)
out = subprocess.run([TT, "produce", "-t", jtopic, "--schema", jfile, "--brokers", BOOT, "--registry", REG],
                     input='{"symbol":"ETH-USDT","bid":"3400.5","seq":3}\n', capture_output=True, text=True)
jdes = JSONDeserializer(None, schema_registry_client=src)
jvals = [jdes(m.value(), SerializationContext(jtopic, MessageField.VALUE)) for m in consume_all(jtopic, 4, "py-json-group")]
check("schema registry: JSONDeserializer decodes what Python and tickertape produce wrote", [v["seq"] for v in jvals] == [0, 1, 2, 3] and jvals[3]["symbol"] == "ETH-USDT", (jvals, out.stderr[:300]))

# Protobuf both ways, with a message type built at run time (no protoc):
# ProtobufSerializer registers a serialized FileDescriptorProto and writes
# message indexes; tickertape consume reads; tickertape produce writes from
# the same message as .proto text; ProtobufDeserializer reads both (fetching
# the writer schema with format=serialized).
fdp = descriptor_pb2.FileDescriptorProto(name="interop/quote.proto", package="interop", syntax="proto3")
other = fdp.message_type.add(name="Other")
other.field.add(name="x", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
msg = fdp.message_type.add(name="PyQuote")
for name, num, typ in [("symbol", 1, "TYPE_STRING"), ("price", 2, "TYPE_STRING"), ("seq", 3, "TYPE_INT64")]:
    msg.field.add(name=name, number=num, type=getattr(descriptor_pb2.FieldDescriptorProto, typ), label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
pool = descriptor_pool.DescriptorPool()
pool.Add(fdp)
PyQuote = GetMessageClass(pool.FindMessageTypeByName("interop.PyQuote"))
ptopic = "py-proto-" + uuid.uuid4().hex[:8]
pser = ProtobufSerializer(PyQuote, src, {"use.deprecated.format": False})
for i in range(3):
    p.produce(ptopic, value=pser(PyQuote(symbol="BTC-USDT", price=f"9700{i}.5", seq=i), SerializationContext(ptopic, MessageField.VALUE)))
p.flush(30)
pv = src.get_latest_version(ptopic + "-value")
check("schema registry: ProtobufSerializer registered its descriptor", pv.schema.schema_type == "PROTOBUF" and "message PyQuote" in pv.schema.schema_str, (pv.schema.schema_type, pv.schema.schema_str[:200]))
out = subprocess.run([TT, "consume", "-t", ptopic, "--from-beginning", "--max", "3", "--timeout", "20s", "--brokers", BOOT, "--registry", REG],
                     capture_output=True, text=True)
tt_vals = [json.loads(line) for line in out.stdout.splitlines()]
check("tickertape consume decodes Protobuf records (message index 1): what Python wrote", [v.get("seq") for v in tt_vals] == ["0", "1", "2"] and tt_vals[1].get("price") == "97001.5", out.stdout[:300] + out.stderr[:300])
pfile = "/tmp/tt-interop-" + uuid.uuid4().hex[:8] + ".proto"
with open(pfile, "w") as f:
    f.write('syntax = "proto3";\npackage interop;\nmessage Other { string x = 1; }\nmessage PyQuote { string symbol = 1; string price = 2; int64 seq = 3; }\n')
out = subprocess.run([TT, "produce", "-t", ptopic, "--schema", pfile, "--message", "PyQuote", "--brokers", BOOT, "--registry", REG],
                     input='{"symbol":"ETH-USDT","price":"3400.5","seq":"3"}\n', capture_output=True, text=True)
pdes = ProtobufDeserializer(PyQuote, {"use.deprecated.format": False}, schema_registry_client=src)
pvals = [pdes(m.value(), SerializationContext(ptopic, MessageField.VALUE)) for m in consume_all(ptopic, 4, "py-proto-group")]
check("schema registry: ProtobufDeserializer decodes what Python and tickertape produce wrote", [v.seq for v in pvals] == [0, 1, 2, 3] and pvals[3].symbol == "ETH-USDT" and pvals[3].price == "3400.5", (pvals, out.stdout[:200], out.stderr[:300]))

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
