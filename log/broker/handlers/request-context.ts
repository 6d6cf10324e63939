/**
 * What every API handler receives: the decoded header, a reader over the request body, a
 * writer already holding the response header, and the broker's shared parts.
 */
import type { BrokerLogger } from '../broker-logger.js';
import type { GroupCoordinator } from '../groups/group-coordinator.js';
import type { Reader } from '../protocol/reader.js';
import type { RequestHeader } from '../protocol/request-header.js';
import type { Writer } from '../protocol/writer.js';
import type { SaslExchange, SaslAuthority } from '../sasl/sasl-authority.js';
import type { BrokerStore, TopicConfig } from '../storage/store.js';
import type { ClientEndpoint } from '../server.js';

export interface BrokerContext {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Host and port clients are told to connect to (Metadata, FindCoordinator). */
  advertised(): { host: string; port: number };
  readonly store: BrokerStore;
  readonly coordinator: GroupCoordinator;
  readonly topicDefaults: TopicConfig;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  /** Present when the broker requires SASL authentication. */
  readonly sasl: SaslAuthority | undefined;
  /** Requests handled, by API name (for metrics). */
  readonly requestsByApi: Record<string, number>;
  /** Aborts long polls when the broker closes. */
  readonly closing: AbortSignal;
  readonly logger: BrokerLogger;
}

export interface ConnectionContext extends ClientEndpoint {
  clientId: string;
  authenticated: boolean;
  sasl: SaslExchange | undefined;
  /** After SaslHandshake v0 the next frames are bare SASL tokens, not Kafka requests. */
  rawSaslTokens: boolean;
}

export interface RequestContext {
  readonly header: RequestHeader;
  readonly version: number;
  readonly reader: Reader;
  readonly writer: Writer;
  readonly broker: BrokerContext;
  readonly connection: ConnectionContext;
}

/** A handler writes its response body to `context.writer`; 'no-response' for acks=0. */
export type ApiHandler = (context: RequestContext) => Promise<void | 'no-response'> | void;
