/** The embedded broker's storage engine: `openBrokerStore` and the contract it implements. */
export { openBrokerStore } from './broker-store.js';
export type * from './store.js';
export { KAFKA_ERROR_CODES, StoreError } from './store.js';
export {
  KAFKA_DEFAULT_TOPIC_CONFIG,
  parseTopicConfigEntries,
  topicConfigEntries,
  TOPIC_CONFIG_NAMES,
} from './topic-config.js';
export { MAX_TOPIC_NAME_LENGTH, validateTopicName } from './topic-name.js';
