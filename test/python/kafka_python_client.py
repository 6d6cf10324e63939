"""Drives the embedded broker with kafka-python (Debian python3-kafka 2.0.2): produces
COUNT records with acks=all, then consumes them in a consumer group and commits.

usage: kafka_python_client.py BOOTSTRAP TOPIC GROUP COUNT [MECHANISM USER PASSWORD]
With a SASL mechanism (PLAIN, SCRAM-SHA-256) kafka-python authenticates with SaslHandshake v0
followed by bare SASL tokens.
prints one JSON object: {"produced": [...offsets], "consumed": [...values], "committed": n}
"""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def main() -> None:
    bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    auth = {}
    if len(sys.argv) > 5:
        auth = {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": sys.argv[5],
            "sasl_plain_username": sys.argv[6],
            "sasl_plain_password": sys.argv[7],
        }
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **auth)
    futures = [
        producer.send(topic, key=b"k%d" % i, value=b"kafka-python-%d" % i) for i in range(count)
    ]
    producer.flush(timeout=30)
    produced = [future.get(timeout=30).offset for future in futures]
    producer.close(timeout=10)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=30000,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        **auth,
    )
    consumed = []
    deadline = time.time() + 60
    while len(consumed) < count and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            consumed.extend(record.value.decode() for record in records)
    consumer.commit()
    committed = consumer.committed(TopicPartition(topic, 0))
    consumer.close()
    print(json.dumps({"produced": produced, "consumed": consumed, "committed": committed}))


if __name__ == "__main__":
    main()
