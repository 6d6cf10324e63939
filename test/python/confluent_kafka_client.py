"""Drives the embedded broker with confluent-kafka (librdkafka 2.0.2): produces COUNT
records with an idempotent producer, then consumes them in a consumer group and commits.

usage: confluent_kafka_client.py BOOTSTRAP TOPIC GROUP COUNT
prints one JSON object: {"produced": [...offsets], "consumed": [...values], "committed": n}
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition


def main() -> None:
    bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    produced = []
    errors = []

    def delivered(error, message):
        if error is not None:
            errors.append(str(error))
        else:
            produced.append(message.offset())

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(count):
        producer.produce(topic, key=b"k%d" % i, value=b"confluent-%d" % i, on_delivery=delivered)
        producer.poll(0)
    if producer.flush(30) != 0 or errors:
        raise SystemExit("delivery failed: %s" % errors)

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
        }
    )
    consumer.subscribe([topic])
    consumed = []
    deadline = time.time() + 60
    while len(consumed) < count and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            raise SystemExit("consume failed: %s" % message.error())
        consumed.append(message.value().decode())
    consumer.commit(asynchronous=False)
    committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    consumer.close()
    print(json.dumps({"produced": produced, "consumed": consumed, "committed": committed}))


if __name__ == "__main__":
    main()
