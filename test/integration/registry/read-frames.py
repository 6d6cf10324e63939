#!/usr/bin/python3
"""Reads Confluent-framed Avro values with independent implementations: the Schema Registry
client of confluent-kafka-python fetches each writer schema, and the Apache Avro reference
library decodes the body. Prints one JSON object per frame; longs are strings (they exceed
2^53), bytes are hex.

usage: read-frames.py REGISTRY_URL FRAMES_FILE   (one hex-encoded frame per line)
"""
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka.schema_registry import SchemaRegistryClient


def plain(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    raise TypeError(f"unexpected decoded value {value!r}")


def main(url, frames_file):
    client = SchemaRegistryClient({"url": url})
    schemas = {}
    for line in open(frames_file, encoding="ascii"):
        frame = bytes.fromhex(line.strip())
        magic, schema_id = struct.unpack(">bI", frame[:5])
        assert magic == 0, f"magic byte {magic}"
        if schema_id not in schemas:
            schemas[schema_id] = avro.schema.parse(client.get_schema(schema_id).schema_str)
        schema = schemas[schema_id]
        decoder = avro.io.BinaryDecoder(io.BytesIO(frame[5:]))
        branch = schema.schemas[decoder.read_long()].fullname
        record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(frame[5:])))
        print(json.dumps({"schemaId": schema_id, "branch": branch, "record": plain(record)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
