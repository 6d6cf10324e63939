/**
 * Subjects follow Confluent's TopicNameStrategy, the default of its serializers and of
 * kafka-avro-console-consumer: a topic's values are registered under `<topic>-value`.
 */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}
