#!/usr/bin/python3
"""Consumer-group lag of extentlog targets, from any Kafka cluster extentlog uses (the
embedded broker included), with librdkafka's Python client (Debian python3-confluent-kafka).

kcat shows topics, offsets and records but not a group's committed offsets; this does:
for every target group (consumer groups named <prefix>.target.<target>) and every
partition of the feeds' topics (<prefix>.<feed>.extents) it prints the committed offset,
the end offset (high watermark) and their difference, the records the target still has to
make durable.

usage: extentlog-group-lag.py --bootstrap HOST:PORT [--prefix extentlog] [--group GROUP]... [--json]
"""
import argparse
import json
import sys

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: the group committed nothing there


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT of a broker")
    parser.add_argument("--prefix", default="extentlog", help="the topicPrefix (default extentlog)")
    parser.add_argument("--group", action="append", help="a group id (default: every target group)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = parser.parse_args()

    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    metadata = admin.list_topics(timeout=args.timeout)
    topics = sorted(
        name
        for name in metadata.topics
        if name.startswith(f"{args.prefix}.") and name.endswith(".extents")
    )
    groups = args.group or sorted(
        group.id
        for group in admin.list_groups(timeout=args.timeout)
        if group.id.startswith(f"{args.prefix}.target.")
    )
    rows = []
    for group in groups:
        # A consumer that never subscribes: it only asks the group coordinator for offsets.
        consumer = Consumer(
            {"bootstrap.servers": args.bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        try:
            partitions = [
                TopicPartition(topic, partition)
                for topic in topics
                for partition in sorted(metadata.topics[topic].partitions)
            ]
            for entry in consumer.committed(partitions, timeout=args.timeout):
                if entry.offset == NO_OFFSET:
                    continue
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(entry.topic, entry.partition), timeout=args.timeout
                )
                committed = max(entry.offset, low)
                rows.append(
                    {
                        "group": group,
                        "topic": entry.topic,
                        "partition": entry.partition,
                        "committed": entry.offset,
                        "end": high,
                        "lag": max(0, high - committed),
                    }
                )
        finally:
            consumer.close()

    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    header = ("GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG")
    table = [header] + [
        (r["group"], r["topic"], str(r["partition"]), str(r["committed"]), str(r["end"]), str(r["lag"]))
        for r in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(widths[column]) for column, cell in enumerate(line)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
