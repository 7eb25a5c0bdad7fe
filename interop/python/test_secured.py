"""confluent-kafka (librdkafka 2.16) and its schema-registry serdes against a
secured tickertape: the producer and consumer over SASL_SSL with
SCRAM-SHA-512, the AvroSerializer registering through HTTPS basic auth, and
the registry's 401 for a wrong password.

Usage: test_secured.py BOOTSTRAP REGISTRY_URL CA_FILE USER PASSWORD
"""
import sys
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

boot, reg, ca, user, password = sys.argv[1:6]
SCHEMA = '{"type":"record","name":"Secret","namespace":"sec","fields":[{"name":"n","type":"long"},{"name":"s","type":"string"}]}'
kafka = {"bootstrap.servers": boot, "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
         "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": user, "sasl.password": password}
srconf = {"url": reg, "basic.auth.user.info": f"{user}:{password}", "ssl.ca.location": ca}
topic = "sec.python"

sr = SchemaRegistryClient(srconf)
ser = AvroSerializer(sr, SCHEMA)
p = Producer({**kafka, "acks": "all"})
want = [{"n": i, "s": f"secret-{i}"} for i in range(20)]
for v in want:
    p.produce(topic, ser(v, SerializationContext(topic, MessageField.VALUE)))
left = p.flush(30)
assert left == 0, f"{left} records not delivered"
print("ok   confluent-kafka produced 20 Avro records over SASL_SSL (SCRAM-SHA-512), schema registered with basic auth over HTTPS")

de = AvroDeserializer(SchemaRegistryClient(srconf))
c = Consumer({**kafka, "group.id": "sec-python-" + uuid.uuid4().hex[:6], "auto.offset.reset": "earliest"})
c.subscribe([topic])
got = []
while len(got) < len(want):
    m = c.poll(20)
    assert m is not None, f"timed out after {len(got)} records"
    assert m.error() is None, m.error()
    got.append(de(m.value(), SerializationContext(topic, MessageField.VALUE)))
c.close()
assert got == want, f"{got[:3]} != {want[:3]}"
print("ok   confluent-kafka consumed and AvroDeserializer decoded every record exactly")

try:
    SchemaRegistryClient({**srconf, "basic.auth.user.info": f"{user}:wrong"}).get_subjects()
    raise AssertionError("the registry accepted a wrong password")
except SchemaRegistryError as e:
    assert e.http_status_code == 401 and e.error_code == 401, (e.http_status_code, e.error_code)
print("ok   the registry answers a wrong password with 401 / error_code 401")
