#!/usr/bin/python3
"""Drives a Schema Registry with confluent-kafka-python's client and prints what it saw as
one JSON object, for the registry conformance test.

usage: registry-api.py REGISTRY_URL SUBJECT
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError


def record(fields):
    return Schema(
        json.dumps({"type": "record", "name": "Py", "namespace": "io.example", "fields": fields}),
        "AVRO",
    )


def main(url, subject):
    client = SchemaRegistryClient({"url": url})
    v1 = record([{"name": "a", "type": "string"}])
    v2 = record([{"name": "a", "type": "string"}, {"name": "b", "type": ["null", "int"], "default": None}])
    breaking = record([{"name": "a", "type": "int"}])
    seen = {}
    seen["v1"] = client.register_schema(subject, v1)
    seen["v1Again"] = client.register_schema(subject, v1)
    seen["lookupVersion"] = client.lookup_schema(subject, v1).version
    seen["breakingCompatible"] = client.test_compatibility(subject, breaking)
    try:
        client.register_schema(subject, breaking)
        seen["breaking"] = "accepted"
    except SchemaRegistryError as error:
        seen["breaking"] = {"status": error.http_status_code, "code": error.error_code}
    seen["v2"] = client.register_schema(subject, v2)
    latest = client.get_latest_version(subject)
    seen["latest"] = {"id": latest.schema_id, "version": latest.version}
    seen["versions"] = client.get_versions(subject)
    fresh = SchemaRegistryClient({"url": url})  # the first one caches what it registered
    seen["fetched"] = json.loads(fresh.get_schema(seen["v2"]).schema_str)["name"]
    seen["setLevel"] = client.set_compatibility(subject, "FULL")
    seen["level"] = client.get_compatibility(subject)
    # a soft delete followed by a permanent one
    seen["deleted"] = client.delete_subject(subject, permanent=True)
    try:
        client.get_latest_version(subject)
        seen["afterDelete"] = "found"
    except SchemaRegistryError as error:
        seen["afterDelete"] = {"status": error.http_status_code, "code": error.error_code}
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
