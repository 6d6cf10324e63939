#!/usr/bin/python3
"""Reads extentlog records from a topic and decodes them through the schema registry, with
independent implementations: librdkafka's Python client (Debian python3-confluent-kafka)
reads the partition, its Schema Registry client fetches each record's writer schema by the
id in its Confluent frame (magic byte 0, 4-byte schema id, Avro body), and the Apache Avro
reference library (Debian python3-avro) decodes the body.

Prints one JSON object per record: offset, key, schema id, record type (the union branch:
Extent, SyncBegin, SyncCommit, Heartbeat, RestorePoint) and its fields; an Extent's data
is shown as its length and the first bytes of its SHA-256, not as bytes.

usage: extentlog-read-records.py --bootstrap HOST:PORT --registry URL --topic TOPIC
                                 [--partition N] [--offset N] [--count N]
"""
import argparse
import hashlib
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient


def plain(value):
    if isinstance(value, bytes):
        return {"lengthBytes": len(value), "sha256": hashlib.sha256(value).hexdigest()[:16]}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


class Decoder:
    def __init__(self, registry_url):
        self.registry = SchemaRegistryClient({"url": registry_url})
        self.schemas = {}

    def decode(self, frame):
        magic, schema_id = struct.unpack(">bI", frame[:5])
        if magic != 0:
            raise ValueError(f"not a Confluent frame: magic byte {magic}")
        if schema_id not in self.schemas:
            self.schemas[schema_id] = avro.schema.parse(
                self.registry.get_schema(schema_id).schema_str
            )
        schema = self.schemas[schema_id]
        branch = schema.fullname if not isinstance(schema, avro.schema.UnionSchema) else None
        if branch is None:
            index = avro.io.BinaryDecoder(io.BytesIO(frame[5:])).read_long()
            branch = schema.schemas[index].fullname
        record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(frame[5:])))
        return schema_id, branch.split(".")[-1], record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True, help="the schema registry's URL")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partition", type=int, default=0)
    parser.add_argument("--offset", type=int, default=OFFSET_BEGINNING)
    parser.add_argument("--count", type=int, default=0, help="stop after N records (0: at the end)")
    args = parser.parse_args()

    decoder = Decoder(args.registry)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "extentlog-read-records",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(args.topic, args.partition, args.offset)])
    printed = 0
    try:
        while args.count == 0 or printed < args.count:
            message = consumer.poll(10.0)
            if message is None:
                raise TimeoutError(f"no record from {args.topic}[{args.partition}] within 10 s")
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    break
                raise RuntimeError(message.error().str())
            key = message.key().decode("utf-8") if message.key() is not None else None
            if message.value() is None:
                print(json.dumps({"offset": message.offset(), "key": key, "type": None}))
            else:
                schema_id, branch, record = decoder.decode(message.value())
                print(
                    json.dumps(
                        {
                            "offset": message.offset(),
                            "key": key,
                            "schemaId": schema_id,
                            "type": branch,
                            "record": plain(record),
                        }
                    )
                )
            printed += 1
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
